/** The CPU backend's control plane: the exchange between the ranks of a buffer set, and what a rank's paths share. */
package ep4j.cpu.control;
