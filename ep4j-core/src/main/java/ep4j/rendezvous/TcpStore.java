package ep4j.rendezvous;

import ep4j.rendezvous.Wire.BadFrameException;
import ep4j.rendezvous.Wire.Fields;
import ep4j.rendezvous.Wire.Frame;
import ep4j.rendezvous.Wire.Payload;
import ep4j.rendezvous.Wire.Type;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.BitSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * The job's key-value store ({@link StoreState}), served by rank 0 over TCP ({@link Wire}). One
 * virtual thread per connection; a connection's first frame must be HELLO, within the frame
 * timeout of accept. A connection is dropped, and
 * logged, when a frame breaks the format, carries another job's token, is too large, does not
 * arrive whole within the frame timeout, or past the message cap; the others are not affected.
 * A waiting request is bounded by the timeout its rank sent (at most a day).
 */
final class TcpStore implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("ep4j.rendezvous");
    static final long MAX_WAIT_MS = TimeUnit.DAYS.toMillis(1);

    /**
     * What the store allows.
     *
     * @param frameTimeout       a frame, once started (and a connection's first frame, from accept), must arrive
     *                           whole within this
     * @param maxMessages        requests one connection may make
     * @param maxUnjoined        connections that have not said HELLO, at once
     * @param maxStoredBytes     keys and values held, in all
     */
    record Limits(Duration frameTimeout, long maxMessages, int maxUnjoined, long maxStoredBytes) {
        static Limits defaults(Duration frameTimeout) {
            return new Limits(frameTimeout, 1_000_000, 64, 256L << 20);
        }
    }

    private final ServerSocket server;
    private final byte[] digest;
    private final byte[] storeId = new byte[16];
    private final Limits limits;
    private final StoreState state;
    private final AtomicInteger unjoined = new AtomicInteger();
    private final Set<Socket> connections = ConcurrentHashMap.newKeySet();
    private final AtomicInteger dropped = new AtomicInteger();
    private volatile boolean closed;
    private Thread acceptor;

    private TcpStore(ServerSocket server, int size, String token, Limits limits) {
        this.server = server;
        this.digest = Wire.digest(token);
        this.limits = limits;
        this.state = new StoreState(size, limits.maxStoredBytes());
        new SecureRandom().nextBytes(storeId);
    }

    /**
     * Listens on {@code bind} and serves a job of {@code size} ranks.
     *
     * @throws IOException when the address cannot be bound (in use, not this host's)
     */
    static TcpStore start(InetSocketAddress bind, int size, String token, Limits limits) throws IOException {
        ServerSocket server = new ServerSocket();
        try {
            server.setReuseAddress(true);
            server.bind(bind, 128);
        } catch (IOException e) {
            server.close();
            throw e;
        }
        TcpStore store = new TcpStore(server, size, token, limits);
        store.acceptor = Thread.ofVirtual().name("ep4j-rendezvous-accept").start(store::acceptLoop);
        return store;
    }

    /** Where a client of this host reaches the store (loopback when it listens on every address). */
    InetSocketAddress address() {
        InetAddress a = server.getInetAddress();
        return new InetSocketAddress(a.isAnyLocalAddress() ? InetAddress.getLoopbackAddress() : a,
                server.getLocalPort());
    }

    /** The random id of this store (a part of the job id). */
    byte[] storeId() {
        return storeId.clone();
    }

    /** Connections dropped so far (bad frames, wrong tokens, timeouts, caps). */
    int dropped() {
        return dropped.get();
    }

    /**
     * Waits until every rank has left (said BYE, or lost its connection after joining), at most
     * {@code timeout}.
     *
     * @return the ranks that had not left (empty when all did)
     */
    List<Integer> awaitAllLeft(Duration timeout) {
        return state.awaitAllLeft(timeout);
    }

    /**
     * Stops serving: every connection is closed, waiting requests end, and the port is released
     * when this returns (the listening socket is closed for good only once the thread blocked in
     * accept has left it, so that thread is awaited, briefly). Twice is harmless.
     */
    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "closing the rendezvous store's socket", e);
        }
        for (Socket s : connections) {
            closeQuietly(s);
        }
        state.close();
        if (Thread.currentThread() != acceptor) {
            try {
                if (!acceptor.join(Duration.ofSeconds(5))) {
                    LOG.log(System.Logger.Level.WARNING, "the rendezvous store's accept thread did not end in 5 s");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void acceptLoop() {
        while (!closed) {
            Socket s;
            try {
                s = server.accept();
            } catch (IOException e) {
                if (!closed) {
                    LOG.log(System.Logger.Level.WARNING, "rendezvous store on " + address() + " stops accepting", e);
                }
                return;
            }
            if (unjoined.incrementAndGet() > limits.maxUnjoined() || closed) {
                unjoined.decrementAndGet();
                drop(s.getRemoteSocketAddress(), -1, limits.maxUnjoined() + " connections are already waiting to join");
                closeQuietly(s);
                continue;
            }
            connections.add(s);
            Thread.ofVirtual().name("ep4j-rendezvous-conn").start(() -> serve(s));
        }
    }

    /**
     * One connection: HELLO, then requests until BYE, end of stream, or a bad frame. A dropped
     * connection is counted ({@link #dropped()}) only once its slot is free again.
     */
    private void serve(Socket socket) {
        Object peer = socket.getRemoteSocketAddress();
        int rank = -1;
        boolean gone = false;
        try (socket) {
            socket.setTcpNoDelay(true);
            FrameDeadline in = new FrameDeadline(new BufferedInputStream(socket.getInputStream()), socket);
            OutputStream out = new BufferedOutputStream(socket.getOutputStream());
            long frameNanos = limits.frameTimeout().toNanos();
            in.arm(System.nanoTime() + frameNanos); // the first frame, from accept
            long messages = 0;
            while (!closed) {
                Frame f = Wire.read(in, digest, () -> in.arm(System.nanoTime() + frameNanos));
                in.disarm();
                if (f == null) {
                    if (rank < 0) {
                        gone = warnDropped(peer, rank, "closed before saying HELLO");
                    }
                    return;
                }
                if (++messages > limits.maxMessages()) {
                    throw new BadFrameException("more than " + limits.maxMessages() + " messages on one connection");
                }
                if (rank < 0) {
                    rank = hello(f, out, peer);
                    if (rank < 0) {
                        gone = true;
                        return;
                    }
                } else if (!answer(rank, f, out)) {
                    return;
                }
            }
        } catch (BadFrameException e) {
            gone = warnDropped(peer, rank, e.getMessage());
        } catch (SocketTimeoutException e) {
            gone = warnDropped(peer, rank, "a frame did not arrive whole within " + limits.frameTimeout().toMillis() + " ms");
        } catch (EOFException e) {
            gone = warnDropped(peer, rank, "the connection ended inside a frame");
        } catch (IOException e) {
            if (!closed) {
                LOG.log(System.Logger.Level.DEBUG, "rendezvous connection of rank " + rank + " ended: " + e);
            }
        } finally {
            connections.remove(socket);
            if (rank >= 0) {
                state.leave(rank);
            } else {
                unjoined.decrementAndGet();
            }
            if (gone) {
                dropped.incrementAndGet();
            }
        }
    }

    /** The rank that joined, or -1 after an ERROR reply (the connection is then dropped). */
    private int hello(Frame f, OutputStream out, Object peer) throws IOException {
        if (f.type() != Type.HELLO) {
            throw new BadFrameException("expected HELLO first, got " + f.type());
        }
        Fields in = f.fields();
        int rank = in.i32("rank");
        int theirSize = in.i32("size");
        in.end();
        String refused = state.join(rank, theirSize);
        if (refused != null) {
            warnDropped(peer, -1, refused);
            Wire.write(out, digest, Type.ERROR, new Payload().str(refused).build());
            return -1;
        }
        unjoined.decrementAndGet();
        Wire.write(out, digest, Type.WELCOME, storeId.clone());
        return rank;
    }

    /** Answers one request; false after BYE. */
    private boolean answer(int rank, Frame f, OutputStream out) throws IOException {
        Fields in = f.fields();
        switch (f.type()) {
            case PUT -> {
                String key = in.str("key");
                byte[] value = in.bytes("value");
                in.end();
                reply(out, state.put(key, value));
            }
            case GET -> {
                String key = in.str("key");
                long ms = waitMillis(in);
                byte[] value = state.get(key, ms);
                reply(out, value != null ? Type.VALUE : Type.TIMEOUT,
                        value != null ? new Payload().bytes(value) : new Payload().i32(0));
            }
            case BARRIER -> {
                String name = in.str("name");
                long ms = waitMillis(in);
                BitSet missing = state.barrier(name, rank, ms);
                Payload p = new Payload();
                if (missing.isEmpty()) {
                    reply(out, Type.OK, p);
                } else {
                    p.i32(missing.cardinality());
                    missing.stream().forEach(p::i32);
                    reply(out, Type.TIMEOUT, p);
                }
            }
            case BYE -> {
                in.end();
                state.leave(rank);
                reply(out, Type.OK, new Payload());
                return false;
            }
            default -> throw new BadFrameException("a client sent " + f.type() + ", which only the store sends");
        }
        return true;
    }

    private static long waitMillis(Fields in) throws BadFrameException {
        long ms = in.i64("timeout");
        in.end();
        if (ms < 0 || ms > MAX_WAIT_MS) {
            throw new BadFrameException("timeout of " + ms + " ms, expected 0 to " + MAX_WAIT_MS);
        }
        return ms;
    }

    private void reply(OutputStream out, Type type, Payload payload) throws IOException {
        Wire.write(out, digest, type, payload.build());
    }

    private void reply(OutputStream out, @Nullable String error) throws IOException {
        if (error == null) {
            reply(out, Type.OK, new Payload());
        } else {
            reply(out, Type.ERROR, new Payload().str(error));
        }
    }

    private void drop(Object peer, int rank, String why) {
        dropped.incrementAndGet();
        warnDropped(peer, rank, why);
    }

    /** Logs a drop (serve counts it once the connection's slot is free); true. */
    private boolean warnDropped(Object peer, int rank, String why) {
        LOG.log(System.Logger.Level.WARNING, "rendezvous store on port " + server.getLocalPort()
                + " dropped the connection from " + peer + (rank >= 0 ? " (rank " + rank + ")" : "") + ": " + why);
        return true;
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException e) {
            // closing anyway
        }
    }
}
