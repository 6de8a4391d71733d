/**
 * The processes of a job, as one rank sees its peers: whether a peer's process still runs. Shared
 * by the backends that span processes (the CPU backend over /dev/shm, the GPU backend with one
 * process per GPU), so both tell a dead peer from a slow one the same way.
 */
package ep4j.process;
