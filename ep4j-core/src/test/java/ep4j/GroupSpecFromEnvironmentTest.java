package ep4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.spi.Rendezvous;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The spec a launcher's environment describes (the group itself forms only once a backend
 * supports one process per rank; what the backends say then is theirs to test).
 */
class GroupSpecFromEnvironmentTest {
    static Map<String, String> torchrun(int rank, int size, int port) {
        Map<String, String> env = new HashMap<>();
        env.put("RANK", "" + rank);
        env.put("WORLD_SIZE", "" + size);
        env.put("LOCAL_RANK", "" + rank);
        env.put("LOCAL_WORLD_SIZE", "" + size);
        env.put("MASTER_ADDR", "127.0.0.1");
        env.put("MASTER_PORT", "" + port);
        return env;
    }

    @Test
    void aTorchrunEnvironmentIsAMultiProcessSpec() {
        Map<String, String> env = torchrun(2, 4, 29500);
        env.put("EP4J_BACKEND", "cpu");
        env.put("EP4J_LOCAL_RANK", "1");
        GroupSpec spec = GroupSpec.fromEnvironment(env).conclude();
        assertTrue(spec.isMultiProcess());
        assertEquals(4, spec.size());
        assertEquals(2, spec.processRank());
        assertEquals(1, spec.localRank());
        assertEquals("cpu", spec.backend());
        assertNotNull(spec.rendezvous());
        assertEquals("auto", GroupSpec.fromEnvironment(torchrun(0, 1, 1)).backend());
    }

    @Test
    void aBadEnvironmentIsRejectedNamingTheVariable() {
        InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
                () -> GroupSpec.fromEnvironment(torchrun(3, 2, 29500)));
        assertEquals("RANK", e.argument());
        assertTrue(e.getMessage().contains("RANK = 3: expected a rank below WORLD_SIZE=2"), e.getMessage());
    }

    @Test
    void theSpecsRendezvousReachesTheJobsStore() throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = free.getLocalPort();
        }
        Map<String, String> env = torchrun(0, 1, port);
        env.put("EP4J_RENDEZVOUS_TIMEOUT", "5");
        try (Rendezvous r = GroupSpec.fromEnvironment(env).rendezvous().get()) {
            assertEquals(0, r.rank());
            assertEquals(1, r.size());
            assertTrue(r.jobId().matches("ep4j-[0-9a-f]{16}"), r.jobId());
            r.put("k", new byte[] {1, 2});
            r.barrier("b", Duration.ofSeconds(2));
            assertArrayEquals(new byte[] {1, 2}, r.get("k", Duration.ZERO));
        }
    }
}
