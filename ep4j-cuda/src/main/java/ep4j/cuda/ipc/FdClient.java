package ep4j.cuda.ipc;

import ep4j.EpException;
import ep4j.EpTimeoutException;
import ep4j.InvalidArgumentException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;

/** Fetches the descriptor an {@link FdServer} hands out. */
public final class FdClient {
    private FdClient() {
    }

    /**
     * Connects to the server at {@code path} (retrying while it starts), presents {@code token}
     * and returns the descriptor it sends. The caller owns the descriptor (close it, or hand it to
     * an API that takes ownership).
     *
     * @param path    the server's socket file
     * @param token   the job's {@link FdServer#TOKEN_BYTES}-byte secret
     * @param timeout how long to try
     * @param what    how messages name the descriptor (e.g. "rank 1's heap")
     * @return the descriptor, valid in this process
     * @throws EpTimeoutException when the server did not answer in time
     */
    public static int fetch(Path path, byte[] token, Duration timeout, String what) {
        if (token.length != FdServer.TOKEN_BYTES) {
            throw new InvalidArgumentException("token.length", token.length, FdServer.TOKEN_BYTES + " bytes");
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(Posix.CAPTURE);
            MemorySegment address = UnixSockets.address(arena, path);
            while (true) {
                int s = UnixSockets.socket(state);
                try {
                    int r = (int) Posix.connect.invokeExact(state, s, address, (int) address.byteSize());
                    if (r == 0) {
                        UnixSockets.writeFully(s, token, state, arena);
                        return UnixSockets.receiveFd(s, state, arena);
                    }
                } catch (EpException e) {
                    throw new EpException("fetching " + what + " from " + path + ": " + e.getMessage(), e);
                } catch (Throwable t) {
                    throw Posix.rethrow(t);
                } finally {
                    UnixSockets.close(s);
                }
                if (System.nanoTime() - deadline > 0) {
                    throw new EpTimeoutException("fetch " + what, -1, -1, "no server at " + path,
                            timeout.toMillis());
                }
                try {
                    Thread.sleep(2);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new EpException("interrupted while fetching " + what, e);
                }
            }
        }
    }
}
