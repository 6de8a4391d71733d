/** The CPU backend's normal path (DESIGN 2.1-2.3): layout, dispatch (fresh and cached) and combine. */
package ep4j.cpu.normal;
