/** Host memory of the CPU backend's results. */
package ep4j.cpu.memory;
