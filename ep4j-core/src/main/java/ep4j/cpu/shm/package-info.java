/** The CPU backend across processes: memory-mapped files under /dev/shm, whether a process lives, and their clean-up. */
package ep4j.cpu.shm;
