package ep4j.rendezvous;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.InvalidArgumentException;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The launchers' variables, read into a job; every error names the variables, the value and what was expected. */
class JobEnvironmentTest {
    static Map<String, String> env(String... pairs) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            m.put(pairs[i], pairs[i + 1]);
        }
        return m;
    }

    static Map<String, String> torchrun(int rank, int size) {
        return env("RANK", "" + rank, "WORLD_SIZE", "" + size, "LOCAL_RANK", "" + rank, "LOCAL_WORLD_SIZE", "" + size,
                "MASTER_ADDR", "127.0.0.1", "MASTER_PORT", "29500", "TORCHELASTIC_RUN_ID", "none");
    }

    static InvalidArgumentException rejected(Map<String, String> env) {
        return assertThrows(InvalidArgumentException.class, () -> JobEnvironment.parse(env));
    }

    static void assertMentions(Exception e, String... parts) {
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), "'" + p + "' missing from: " + e.getMessage());
        }
    }

    @Test
    void torchrun() {
        JobEnvironment j = JobEnvironment.parse(torchrun(1, 4));
        assertEquals("torchrun", j.launcher());
        assertEquals(1, j.rank());
        assertEquals(4, j.worldSize());
        assertEquals(1, j.localRank());
        assertEquals(4, j.localWorldSize());
        assertEquals("127.0.0.1", j.masterAddr());
        assertEquals(29500, j.masterPort());
        assertEquals("auto", j.backend());
        assertNull(j.bindAddress());
        assertEquals(JobEnvironment.DEFAULT_TIMEOUT, j.timeout());
        assertTrue(j.derivedToken());
        assertFalse(j.toString().contains(j.token()), "the token is not printed: " + j);
    }

    @Test
    void whereTorchrunsAgentServesMasterPortEp4jsStoreTakesTheNextPort() {
        Map<String, String> e = torchrun(1, 2);
        e.put("TORCHELASTIC_USE_AGENT_STORE", "True");
        assertEquals(29501, JobEnvironment.parse(e).masterPort());
        e.put("EP4J_MASTER_PORT", "40000");
        assertEquals(40000, JobEnvironment.parse(e).masterPort(), "an explicit port is taken as it is");
        e.remove("EP4J_MASTER_PORT");
        e.put("TORCHELASTIC_USE_AGENT_STORE", "False");
        assertEquals(29500, JobEnvironment.parse(e).masterPort());
        e.put("TORCHELASTIC_USE_AGENT_STORE", "True");
        e.put("MASTER_PORT", "65535");
        assertMentions(rejected(e), "MASTER_PORT = 65535", "TORCHELASTIC_USE_AGENT_STORE=True", "EP4J_MASTER_PORT");
    }

    @Test
    void openMpiNeedsAMasterAddressAndSaysSo() {
        Map<String, String> e = env("OMPI_COMM_WORLD_RANK", "2", "OMPI_COMM_WORLD_SIZE", "3",
                "OMPI_COMM_WORLD_LOCAL_RANK", "0", "OMPI_COMM_WORLD_LOCAL_SIZE", "1");
        InvalidArgumentException missing = rejected(e);
        assertEquals("MASTER_ADDR", missing.argument());
        assertMentions(missing, "Open MPI does not set it", "EP4J_MASTER_ADDR");
        e.put("MASTER_ADDR", "localhost");
        e.put("MASTER_PORT", "1234");
        JobEnvironment j = JobEnvironment.parse(e);
        assertEquals("Open MPI", j.launcher());
        assertEquals(2, j.rank());
        assertEquals(3, j.worldSize());
        assertEquals(0, j.localRank());
        assertEquals(1, j.localWorldSize());
        assertEquals(1234, j.masterPort());
    }

    @Test
    void slurmNeedsAMasterAddressAndSaysHowToSetIt() {
        Map<String, String> e = env("SLURM_PROCID", "5", "SLURM_NTASKS", "8", "SLURM_LOCALID", "1",
                "SLURM_NTASKS_PER_NODE", "4", "SLURM_JOB_ID", "77", "SLURM_STEP_ID", "0");
        InvalidArgumentException missing = rejected(e);
        assertEquals("MASTER_ADDR", missing.argument());
        assertMentions(missing, "Slurm does not set it", "scontrol show hostnames", "MASTER_PORT");
        e.put("EP4J_MASTER_ADDR", "127.0.0.1");
        InvalidArgumentException noPort = rejected(e);
        assertEquals("MASTER_PORT", noPort.argument());
        assertMentions(noPort, "Slurm does not set it", "EP4J_MASTER_PORT");
        e.put("MASTER_PORT", "29400");
        JobEnvironment j = JobEnvironment.parse(e);
        assertEquals("Slurm", j.launcher());
        assertEquals(5, j.rank());
        assertEquals(8, j.worldSize());
        assertEquals(1, j.localRank());
        assertEquals(4, j.localWorldSize());
        // Tasks per node as a list ("2(x3),1") is not this host's count: not used, not an error.
        e.put("SLURM_NTASKS_PER_NODE", "2(x3),2");
        assertEquals(-1, JobEnvironment.parse(e).localWorldSize());
    }

    @Test
    void slurmOutsideTorchrunIsTheOuterLauncherAndDoesNotCount() {
        // srun torchrun: one Slurm task per node, torchrun's processes inherit its variables.
        Map<String, String> e = torchrun(3, 8);
        e.putAll(env("SLURM_PROCID", "0", "SLURM_NTASKS", "2", "SLURM_LOCALID", "0"));
        JobEnvironment j = JobEnvironment.parse(e);
        assertEquals("torchrun", j.launcher());
        assertEquals(3, j.rank());
        assertEquals(8, j.worldSize());
    }

    @Test
    void torchrunAndOpenMpiMustAgree() {
        Map<String, String> e = torchrun(1, 2);
        e.putAll(env("OMPI_COMM_WORLD_RANK", "0", "OMPI_COMM_WORLD_SIZE", "2"));
        InvalidArgumentException x = rejected(e);
        assertMentions(x, "torchrun's RANK and Open MPI's OMPI_COMM_WORLD_RANK disagree (1 vs 0)", "EP4J_RANK");
        e.put("OMPI_COMM_WORLD_RANK", "1");
        assertEquals(1, JobEnvironment.parse(e).rank());
        e.put("OMPI_COMM_WORLD_SIZE", "3");
        assertMentions(rejected(e), "WORLD_SIZE and Open MPI's OMPI_COMM_WORLD_SIZE disagree (2 vs 3)");
        // An override settles it.
        e.put("EP4J_WORLD_SIZE", "2");
        assertEquals(2, JobEnvironment.parse(e).worldSize());
    }

    @Test
    void ep4jVariablesOverrideTheLaunchers() {
        Map<String, String> e = torchrun(1, 4);
        e.putAll(env("EP4J_RANK", "3", "EP4J_WORLD_SIZE", "6", "EP4J_LOCAL_RANK", "2", "EP4J_LOCAL_WORLD_SIZE", "3",
                "EP4J_MASTER_ADDR", "::1", "EP4J_MASTER_PORT", "4000", "EP4J_BACKEND", "cpu", "EP4J_JOB_TOKEN", "s3cret",
                "EP4J_BIND_ADDRESS", "0.0.0.0", "EP4J_RENDEZVOUS_TIMEOUT", "2.5"));
        JobEnvironment j = JobEnvironment.parse(e);
        assertEquals(3, j.rank());
        assertEquals(6, j.worldSize());
        assertEquals(2, j.localRank());
        assertEquals(3, j.localWorldSize());
        assertEquals("::1", j.masterAddr());
        assertEquals(4000, j.masterPort());
        assertEquals("cpu", j.backend());
        assertEquals("s3cret", j.token());
        assertFalse(j.derivedToken());
        assertEquals("0.0.0.0", j.bindAddress());
        assertEquals(Duration.ofMillis(2500), j.timeout());
        assertFalse(j.toString().contains("s3cret"), j.toString());
    }

    @Test
    void ep4jVariablesAloneFormAJob() {
        JobEnvironment j = JobEnvironment.parse(env("EP4J_RANK", "0", "EP4J_WORLD_SIZE", "1", "EP4J_LOCAL_RANK", "0",
                "EP4J_MASTER_ADDR", "localhost", "EP4J_MASTER_PORT", "1"));
        assertEquals("EP4J_*", j.launcher());
        assertEquals(-1, j.localWorldSize());
        InvalidArgumentException x = rejected(env("EP4J_RANK", "0", "EP4J_LOCAL_RANK", "0"));
        assertEquals("EP4J_WORLD_SIZE", x.argument());
        assertMentions(x, "EP4J_RANK is set, so EP4J_WORLD_SIZE must be too");
    }

    @Test
    void noLauncherAtAllNamesWhatWasExpected() {
        InvalidArgumentException x = rejected(env("PATH", "/bin"));
        assertMentions(x, "RANK", "WORLD_SIZE", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "EP4J_RANK", "torchrun",
                "srun", "mpirun", "ep4j launch");
    }

    @Test
    void rankAndLocalRankMustFitTheSizes() {
        Map<String, String> e = torchrun(3, 2);
        e.put("LOCAL_RANK", "0");
        InvalidArgumentException x = rejected(e);
        assertEquals("RANK", x.argument());
        assertMentions(x, "RANK = 3", "below WORLD_SIZE=2");

        e = torchrun(1, 2);
        e.put("LOCAL_WORLD_SIZE", "1");
        x = rejected(e);
        assertEquals("LOCAL_RANK", x.argument());
        assertMentions(x, "LOCAL_RANK = 1", "below LOCAL_WORLD_SIZE=1");

        e = torchrun(1, 2);
        e.put("LOCAL_WORLD_SIZE", "3");
        x = rejected(e);
        assertEquals("LOCAL_WORLD_SIZE", x.argument());
        assertMentions(x, "LOCAL_WORLD_SIZE = 3", "at most WORLD_SIZE=2");

        e = torchrun(0, 2);
        e.put("EP4J_RANK", "2");
        x = rejected(e);
        assertEquals("EP4J_RANK", x.argument());
        assertMentions(x, "EP4J_RANK = 2", "below WORLD_SIZE=2");
    }

    @Test
    void missingAndMalformedNumbersAreNamed() {
        Map<String, String> e = torchrun(0, 2);
        e.remove("WORLD_SIZE");
        InvalidArgumentException x = rejected(e);
        assertEquals("WORLD_SIZE", x.argument());
        assertMentions(x, "(unset)", "torchrun sets WORLD_SIZE", "EP4J_WORLD_SIZE");

        e = torchrun(0, 2);
        e.remove("LOCAL_RANK");
        x = rejected(e);
        assertEquals("LOCAL_RANK", x.argument());
        assertMentions(x, "the GPU it uses", "EP4J_LOCAL_RANK");

        for (String bad : new String[] {"two", "-1", "1.0", "99999999999", "0x2"}) {
            e = torchrun(0, 2);
            e.put("RANK", bad);
            x = rejected(e);
            assertEquals("RANK", x.argument(), bad);
            assertMentions(x, "RANK = " + bad, "an integer");
        }

        e = torchrun(0, 2);
        e.put("WORLD_SIZE", "2000");
        assertMentions(rejected(e), "WORLD_SIZE = 2000", "1 to 1024");
        e = torchrun(0, 2);
        e.put("WORLD_SIZE", "0");
        assertMentions(rejected(e), "WORLD_SIZE = 0", "1 to 1024");
        e = torchrun(0, 2);
        e.put("MASTER_PORT", "70000");
        assertMentions(rejected(e), "MASTER_PORT = 70000", "1 to 65535");
        e = torchrun(0, 2);
        e.put("MASTER_ADDR", "a host");
        assertMentions(rejected(e), "MASTER_ADDR = a host", "a host name or IP address");
        e = torchrun(0, 2);
        e.put("EP4J_RENDEZVOUS_TIMEOUT", "-3");
        assertMentions(rejected(e), "EP4J_RENDEZVOUS_TIMEOUT = -3", "seconds");
    }

    @Test
    void aJobOnOneHostMeetsOnLoopbackWhateverMasterAddrSays() {
        Map<String, String> e = torchrun(1, 2);
        e.put("MASTER_ADDR", "gpu-node-7.example.org"); // torchrun's fully qualified host name
        JobEnvironment j = JobEnvironment.parse(e);
        assertEquals("127.0.0.1", j.masterAddr());
        assertTrue(j.derivedToken());
        e.put("EP4J_BIND_ADDRESS", "0.0.0.0");
        e.put("EP4J_JOB_TOKEN", "t");
        assertEquals("gpu-node-7.example.org", JobEnvironment.parse(e).masterAddr(), "told otherwise");
    }

    @Test
    void aStoreBeyondLoopbackNeedsAJobToken() {
        Map<String, String> e = torchrun(1, 2);
        e.put("LOCAL_WORLD_SIZE", "1"); // two hosts
        e.put("LOCAL_RANK", "0");
        e.put("MASTER_ADDR", "node-0");
        InvalidArgumentException x = rejected(e);
        assertEquals("EP4J_JOB_TOKEN", x.argument());
        assertMentions(x, "openssl rand", "MASTER_ADDR=node-0");
        e.put("EP4J_JOB_TOKEN", "abc");
        assertEquals("abc", JobEnvironment.parse(e).token());

        Map<String, String> bound = torchrun(0, 2);
        bound.put("EP4J_BIND_ADDRESS", "0.0.0.0");
        assertMentions(rejected(bound), "EP4J_JOB_TOKEN", "EP4J_BIND_ADDRESS=0.0.0.0");

        Map<String, String> controls = torchrun(0, 2);
        controls.put("EP4J_JOB_TOKEN", "a\u0001b");
        x = rejected(controls);
        assertEquals("EP4J_JOB_TOKEN", x.argument());
        assertFalse(x.getMessage().contains("a\u0001b"), "the token is not shown: " + x.getMessage());
    }

    @Test
    void aDerivedTokenIsTheSameOnEveryRankAndDiffersBetweenJobs() {
        String rank0 = JobEnvironment.parse(torchrun(0, 4)).token();
        String rank3 = JobEnvironment.parse(torchrun(3, 4)).token();
        assertEquals(rank0, rank3);
        Map<String, String> otherPort = torchrun(0, 4);
        otherPort.put("MASTER_PORT", "29501");
        assertNotEquals(rank0, JobEnvironment.parse(otherPort).token());
        Map<String, String> otherRun = torchrun(0, 4);
        otherRun.put("TORCHELASTIC_RUN_ID", "b7e2");
        assertNotEquals(rank0, JobEnvironment.parse(otherRun).token());
    }

    @Test
    void loopbackIsDecidedWithoutNameLookup() {
        assertTrue(JobEnvironment.isLoopback("127.0.0.1"));
        assertTrue(JobEnvironment.isLoopback("127.3.2.1"));
        assertTrue(JobEnvironment.isLoopback("::1"));
        assertTrue(JobEnvironment.isLoopback("LocalHost"));
        assertFalse(JobEnvironment.isLoopback("10.0.0.1"));
        assertFalse(JobEnvironment.isLoopback("0.0.0.0"));
        assertFalse(JobEnvironment.isLoopback("node-0"));
    }
}
