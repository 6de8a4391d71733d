package ep4j.cli.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Which environments make a command one rank of a job, and the spec a job opens. */
class JobTest {
    @Test
    void launchersAreDetectedBySizeVariables() {
        assertTrue(Job.detected(Map.of("WORLD_SIZE", "2", "RANK", "0")), "torchrun, ep4j launch");
        assertTrue(Job.detected(Map.of("OMPI_COMM_WORLD_SIZE", "4")), "mpirun");
        assertTrue(Job.detected(Map.of("EP4J_WORLD_SIZE", "1")), "EP4J_* overrides");
        assertTrue(Job.detected(Map.of("SLURM_STEP_ID", "0", "SLURM_NTASKS", "8", "SLURM_PROCID", "3")), "srun -n 8");
        assertFalse(Job.detected(Map.of()), "a plain shell");
        assertFalse(Job.detected(Map.of("SLURM_PROCID", "0", "SLURM_NTASKS", "1", "SLURM_JOB_ID", "7")),
                "a batch script: Slurm gives it a rank, but it is one process");
        assertFalse(Job.detected(Map.of("SLURM_STEP_ID", "0", "SLURM_NTASKS", "1")), "srun of one task");
        assertFalse(Job.detected(Map.of("WORLD_SIZE", " ")), "blank is unset");
    }

    @Test
    void theSpecIsTheEnvironmentsWithTheBackendAsked() {
        Map<String, String> env = Map.of("RANK", "1", "WORLD_SIZE", "3", "LOCAL_RANK", "1", "LOCAL_WORLD_SIZE", "3",
                "MASTER_ADDR", "127.0.0.1", "MASTER_PORT", "29511", "EP4J_BACKEND", "cpu");
        Job job = Job.fromEnvironment(env, "auto");
        assertEquals(1, job.rank());
        assertEquals(3, job.size());
        assertTrue(job.spec().isMultiProcess());
        assertEquals(1, job.spec().localRank());
        assertEquals("cpu", job.spec().backend(), "auto keeps EP4J_BACKEND");
        assertEquals("cuda", Job.fromEnvironment(env, "cuda").spec().backend(), "an explicit backend wins");
        IllegalStateException early = assertThrows(IllegalStateException.class,
                () -> job.barrier("x", Duration.ofSeconds(1)));
        assertTrue(early.getMessage().contains("not open yet"), early.getMessage());
    }
}
