/** The CPU backend across processes: memory-mapped files under /dev/shm, and their clean-up (whether a process lives: ep4j.process). */
package ep4j.cpu.shm;
