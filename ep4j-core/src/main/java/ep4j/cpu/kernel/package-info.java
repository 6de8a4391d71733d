/** The CPU backend's arithmetic: routing on host arrays, and the float loops over rows that combine runs. */
package ep4j.cpu.kernel;
