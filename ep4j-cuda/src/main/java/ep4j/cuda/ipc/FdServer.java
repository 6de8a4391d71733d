package ep4j.cuda.ipc;

import ep4j.EpException;
import ep4j.InvalidArgumentException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;

/**
 * Hands one file descriptor to the processes of a job (one process per GPU: a rank's exported
 * symmetric heap is a POSIX file descriptor that its peers must map). It listens on a
 * Unix-domain socket at a path the peers learn through the rendezvous; a peer that connects and
 * presents the job's token receives a duplicate of the descriptor (SCM_RIGHTS); any other
 * connection is closed. A daemon thread serves until {@link #close()}, which also removes the
 * socket file.
 */
public final class FdServer implements AutoCloseable {
    /** Bytes of the token a client presents. */
    public static final int TOKEN_BYTES = 32;

    private final Path path;
    private final byte[] token;
    private final int fd;
    private final int listener;
    private final Thread thread;
    private volatile boolean closed;
    private final java.util.concurrent.atomic.AtomicInteger served = new java.util.concurrent.atomic.AtomicInteger();

    private FdServer(Path path, byte[] token, int fd, int listener) {
        this.path = path;
        this.token = token.clone();
        this.fd = fd;
        this.listener = listener;
        this.thread = Thread.ofPlatform().daemon().name("ep4j-fd-server " + path.getFileName()).unstarted(this::serve);
    }

    /**
     * Serves {@code fd} at {@code path} to clients that present {@code token}. The caller keeps
     * owning {@code fd} (clients receive duplicates) and must keep it open while serving.
     *
     * @param path  the socket file to create (at most 107 bytes; removed first if stale)
     * @param token {@link #TOKEN_BYTES} bytes, the job's secret
     * @param fd    the descriptor to hand out
     * @return the running server
     */
    public static FdServer serve(Path path, byte[] token, int fd) {
        if (token.length != TOKEN_BYTES) {
            throw new InvalidArgumentException("token.length", token.length, TOKEN_BYTES + " bytes");
        }
        try {
            Files.deleteIfExists(path);
        } catch (java.io.IOException e) {
            throw new EpException("cannot remove the stale socket " + path + ": " + e.getMessage(), e);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(Posix.CAPTURE);
            int s = UnixSockets.socket(state);
            try {
                MemorySegment address = UnixSockets.address(arena, path);
                Posix.check((int) Posix.bind.invokeExact(state, s, address, (int) address.byteSize()),
                        "bind(" + path + ")", state);
                Posix.check((int) Posix.listen.invokeExact(state, s, 64), "listen(" + path + ")", state);
            } catch (Throwable t) {
                UnixSockets.close(s);
                throw Posix.rethrow(t);
            }
            FdServer server = new FdServer(path, token, fd, s);
            server.thread.start();
            return server;
        }
    }

    /** Connections that received the descriptor so far. */
    public int served() {
        return served.get();
    }

    public Path path() {
        return path;
    }

    private void serve() {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment state = arena.allocate(Posix.CAPTURE);
            while (!closed) {
                int client;
                try {
                    client = (int) Posix.accept.invokeExact(state, listener, MemorySegment.NULL, MemorySegment.NULL);
                } catch (Throwable t) {
                    return;
                }
                if (client < 0) {
                    if (closed) {
                        return;
                    }
                    continue;
                }
                // One short-lived thread per client: a client that never sends its token cannot
                // hold up the others.
                Thread.ofVirtual().start(() -> answer(client));
            }
        }
    }

    private void answer(int client) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(Posix.CAPTURE);
            byte[] presented = UnixSockets.readFully(client, TOKEN_BYTES, state, arena);
            if (MessageDigest.isEqual(presented, token)) {
                UnixSockets.sendFd(client, fd, state, arena);
                served.incrementAndGet();
            } else {
                System.getLogger("ep4j.ipc").log(System.Logger.Level.WARNING,
                        "fd server " + path + ": a connection without the job's token was refused");
            }
        } catch (RuntimeException e) {
            System.getLogger("ep4j.ipc").log(System.Logger.Level.WARNING, "fd server " + path + ": " + e.getMessage());
        } finally {
            UnixSockets.close(client);
        }
    }

    /** Stops serving, closes the socket and removes its file. Twice is harmless. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try (Arena arena = Arena.ofConfined()) {
            int ignored = (int) Posix.shutdown.invokeExact(arena.allocate(Posix.CAPTURE), listener, Posix.SHUT_RDWR);
        } catch (Throwable t) {
            throw Posix.rethrow(t);
        } finally {
            UnixSockets.close(listener);
            try {
                thread.join(1000);
                Files.deleteIfExists(path);
            } catch (java.io.IOException e) {
                throw new EpException("cannot remove the socket " + path + ": " + e.getMessage(), e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
