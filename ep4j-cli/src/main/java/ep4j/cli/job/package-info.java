/**
 * A command run as one rank of a job of one process per rank ({@code ep4j launch}, torchrun,
 * srun, mpirun): detecting the launcher, forming the group from its variables, and the small
 * collectives the commands need around the group's own calls (barriers, gathers of their
 * results, values every rank must agree on: {@link ep4j.cli.job.Agreement}) over the job's
 * rendezvous store; and, for ranks on one host, files in shared memory
 * ({@link ep4j.cli.job.SharedFile}) and a barrier that spins on one of them
 * ({@link ep4j.cli.job.ShmBarrier}) where a network round trip would be too slow.
 */
package ep4j.cli.job;
