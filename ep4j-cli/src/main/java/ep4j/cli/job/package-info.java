/**
 * A command run as one rank of a job of one process per rank ({@code ep4j launch}, torchrun,
 * srun, mpirun): detecting the launcher, forming the group from its variables, and the small
 * collectives the commands need around the group's own calls (barriers, gathers of their
 * results) over the job's rendezvous store.
 */
package ep4j.cli.job;
