package ep4j.cuda.ipc;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.EpException;
import ep4j.EpTimeoutException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Passing a file descriptor between processes over a Unix socket (SCM_RIGHTS), as a rank hands
 * its exported GPU heap to its peers: here with an ordinary file's descriptor, in this JVM and to
 * a child JVM, so CI (no GPU) checks the protocol.
 */
class FdPassingTest {
    private static final Linker LINKER = Linker.nativeLinker();
    @SuppressWarnings("restricted")
    private static final MethodHandle OPEN = LINKER.downcallHandle(LINKER.defaultLookup().find("open").orElseThrow(),
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(2));
    @SuppressWarnings("restricted")
    private static final MethodHandle PREAD = LINKER.downcallHandle(LINKER.defaultLookup().find("pread").orElseThrow(),
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));

    static int open(Path file) throws Throwable {
        try (Arena a = Arena.ofConfined()) {
            int fd = (int) OPEN.invokeExact(a.allocateFrom(file.toString()), 0, 0);
            assertTrue(fd >= 0, "open " + file);
            return fd;
        }
    }

    static String readAll(int fd, int n) throws Throwable {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(n);
            long got = (long) PREAD.invokeExact(fd, buf, (long) n, 0L);
            return new String(buf.asSlice(0, got).toArray(JAVA_BYTE), StandardCharsets.UTF_8);
        }
    }

    private static byte[] token() {
        byte[] t = new byte[FdServer.TOKEN_BYTES];
        new SecureRandom().nextBytes(t);
        return t;
    }

    @Test
    void aClientWithTheTokenGetsTheDescriptorAndOthersDoNot(@TempDir Path dir) throws Throwable {
        Path file = Files.writeString(dir.resolve("heap"), "the bytes of rank 0's heap");
        int fd = open(file);
        byte[] token = token();
        Path socket = dir.resolve("fd.sock");
        try (FdServer server = FdServer.serve(socket, token, fd)) {
            int got = FdClient.fetch(socket, token, Duration.ofSeconds(5), "rank 0's heap");
            assertTrue(got != fd, "a duplicate, not the same number");
            assertEquals("the bytes of rank 0's heap", readAll(got, 64));
            UnixSockets.close(got);
            byte[] wrong = token();
            EpException e = assertThrows(EpException.class,
                    () -> FdClient.fetch(socket, wrong, Duration.ofSeconds(5), "rank 0's heap"));
            assertTrue(e.getMessage().contains("rank 0's heap") && e.getMessage().contains("no descriptor"), e.getMessage());
            assertEquals(1, server.served());
        } finally {
            UnixSockets.close(fd);
        }
        assertFalse(Files.exists(socket), "close() removes the socket file");
    }

    @Test
    void noServerIsABoundedWait(@TempDir Path dir) {
        long t0 = System.nanoTime();
        EpTimeoutException e = assertThrows(EpTimeoutException.class,
                () -> FdClient.fetch(dir.resolve("nobody.sock"), token(), Duration.ofMillis(200), "rank 1's heap"));
        assertTrue((System.nanoTime() - t0) / 1_000_000 < 3000);
        assertTrue(e.getMessage().contains("rank 1's heap"), e.getMessage());
    }

    /** The child side: fetches the descriptor and prints what it reads through it. */
    public static void main(String[] args) throws Throwable {
        byte[] token = java.util.HexFormat.of().parseHex(args[1]);
        int fd = FdClient.fetch(Path.of(args[0]), token, Duration.ofSeconds(20), "the parent's file");
        System.out.println("read: " + readAll(fd, 64));
    }

    @Test
    void anotherProcessReceivesAWorkingDescriptor(@TempDir Path dir) throws Throwable {
        Path file = Files.writeString(dir.resolve("heap"), "shared across processes");
        int fd = open(file);
        byte[] token = token();
        Path socket = dir.resolve("fd.sock");
        try (FdServer server = FdServer.serve(socket, token, fd)) {
            String javaBin = ProcessHandle.current().info().command().orElse("java");
            Process child = new ProcessBuilder(javaBin, "--enable-native-access=ALL-UNNAMED", "-cp",
                    System.getProperty("java.class.path"), FdPassingTest.class.getName(), socket.toString(),
                    java.util.HexFormat.of().formatHex(token)).redirectErrorStream(true).start();
            assertTrue(child.waitFor(60, TimeUnit.SECONDS), "the child finished");
            String out = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, child.exitValue(), out);
            assertTrue(out.contains("read: shared across processes"), out);
            assertEquals(1, server.served());
        } finally {
            UnixSockets.close(fd);
        }
    }
}
