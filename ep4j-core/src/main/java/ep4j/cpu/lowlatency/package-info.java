/** The CPU backend's low-latency path (DESIGN 2.4, 2.5): dispatch and combine over two alternating slots. */
package ep4j.cpu.lowlatency;
