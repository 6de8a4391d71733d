package ep4j.cpu.shm;

import ep4j.process.Liveness;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Names of the multi-process files, and the sweep that removes what dead processes left (only that). */
class ShmFilesTest {
    private static long deadPid() throws Exception {
        Process p = new ProcessBuilder("true").start();
        p.waitFor();
        return p.pid();
    }

    @Test
    void theSweepRemovesTheFilesOfDeadProcessesAndNothingElse(@TempDir Path dir) throws Exception {
        long self = ProcessHandle.current().pid();
        long start = Liveness.selfStart();
        long dead = deadPid();
        String alive = "ep4j." + self + "." + start + ".job-a.g1.b0.r0.ctl";
        String gone = "ep4j." + dead + "." + 0 + ".job-b.g1.b0.r1.ctl";
        String reused = "ep4j." + self + "." + (start - 3_600_000) + ".job-c.g1.b0.r0.n1"; // this pid, an hour earlier
        String notOurs = "ep4j-notes.txt";
        for (String f : List.of(alive, gone, reused, notOurs)) {
            Files.write(dir.resolve(f), new byte[16]);
        }
        List<Path> removed = ShmFiles.sweep(dir);
        assertEquals(Set.of(gone, reused), removed.stream().map(p -> p.getFileName().toString()).collect(Collectors.toSet()));
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(Set.of(alive, notOurs), s.map(p -> p.getFileName().toString()).collect(Collectors.toSet()));
        }
    }

    @Test
    void aNameNamesItsCreatingProcess() {
        String stem = ShmFiles.groupStem("job/with spaces");
        assertTrue(stem.startsWith("ep4j." + ProcessHandle.current().pid() + "."), stem);
        assertTrue(stem.contains(".job-with-spaces.g"), stem);
        ShmFiles.Creator c = ShmFiles.creator(stem + ".b0.r0.ctl");
        assertEquals(ProcessHandle.current().pid(), c.pid());
        assertEquals(Liveness.selfStart(), c.start());
        assertNull(ShmFiles.creator("ep4j.x.y.z"));
        assertNull(ShmFiles.creator("other.1.2.3"));
    }

    @Test
    void aProcessIsAliveUntilItEndsAndAnotherStartTimeIsAnotherProcess() throws Exception {
        long self = ProcessHandle.current().pid();
        assertTrue(Liveness.isAlive(self, Liveness.selfStart()));
        Process p = new ProcessBuilder("sleep", "30").start();
        try {
            long start = p.toHandle().info().startInstant().orElseThrow().toEpochMilli();
            assertTrue(Liveness.isAlive(p.pid(), start));
            assertTrue(Liveness.isAlive(p.pid(), 0));
            assertFalse(Liveness.isAlive(p.pid(), start - 3_600_000), "same pid, started an hour earlier");
        } finally {
            p.destroyForcibly();
            p.waitFor();
        }
        assertFalse(Liveness.isAlive(p.pid(), 0));
    }
}
