/** Host memory of the CPU backend: the result pool, and the shared segments of ranks that are threads of one JVM. */
package ep4j.cpu.memory;
