package ep4j.rendezvous;

import ep4j.EpException;
import ep4j.EpTimeoutException;
import ep4j.InvalidArgumentException;
import ep4j.rendezvous.Wire.BadFrameException;
import ep4j.rendezvous.Wire.Fields;
import ep4j.rendezvous.Wire.Frame;
import ep4j.rendezvous.Wire.Payload;
import ep4j.rendezvous.Wire.Type;
import ep4j.spi.Rendezvous;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * A rank's connection to the job's store ({@link TcpStore}), which rank 0 serves at
 * {@code MASTER_ADDR:MASTER_PORT}: the {@link Rendezvous} of a job of one process per GPU, with
 * {@link LocalRendezvous}'s semantics. One connection per rank, kept until {@link #close}; calls
 * are serialized. Every wait is bounded: reaching the store (retried while rank 0 starts), each
 * reply (the request's own timeout plus the frame timeout), and rank 0's close, which serves on
 * until every rank has left (or the close timeout) so that late gets still succeed.
 */
public final class TcpRendezvous implements Rendezvous {
    private static final System.Logger LOG = System.getLogger("ep4j.rendezvous");
    /** How long one frame may take once the store answers (replies to HELLO, PUT and BYE come at once). */
    static final Duration FRAME_TIMEOUT = Duration.ofSeconds(30);

    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    private final String where;
    private final int rank;
    private final int size;
    private final byte[] digest;
    private final String jobId;
    private final Duration frameTimeout;
    private final @Nullable TcpStore store;
    private final Duration closeTimeout;
    private @Nullable String broken;
    private boolean closed;

    private TcpRendezvous(Socket socket, String where, int rank, int size, byte[] digest, String jobId,
            Duration frameTimeout, @Nullable TcpStore store, Duration closeTimeout) throws IOException {
        this.socket = socket;
        this.in = new BufferedInputStream(socket.getInputStream());
        this.out = new BufferedOutputStream(socket.getOutputStream());
        this.where = where;
        this.rank = rank;
        this.size = size;
        this.digest = digest;
        this.jobId = jobId;
        this.frameTimeout = frameTimeout;
        this.store = store;
        this.closeTimeout = closeTimeout;
    }

    /**
     * Joins the job {@code env} describes: rank 0 starts the store first (on
     * {@code EP4J_BIND_ADDRESS}, else on loopback), then every rank connects to it.
     *
     * @param env the job, as this process's launcher set it
     * @return this rank's rendezvous; closing it leaves the job (rank 0: and stops the store, once
     *         every rank has left or the timeout passed)
     * @throws EpException        when rank 0 cannot serve, or the store refuses this rank (saying why)
     * @throws EpTimeoutException when the store cannot be reached within {@code env.timeout()}
     */
    public static TcpRendezvous connect(JobEnvironment env) {
        if (env.rank() != 0) {
            return connect(env.masterAddr(), env.masterPort(), env.rank(), env.worldSize(), env.token(), env.timeout(),
                    FRAME_TIMEOUT, null, env.timeout());
        }
        InetAddress bind = bindAddress(env);
        TcpStore store;
        try {
            store = TcpStore.start(new InetSocketAddress(bind, env.masterPort()), env.worldSize(), env.token(),
                    TcpStore.Limits.defaults(FRAME_TIMEOUT));
        } catch (BindException e) {
            throw new EpException("rank 0 cannot serve the job's rendezvous on " + bind.getHostAddress() + ":"
                    + env.masterPort() + ": " + e.getMessage() + "; is another job or program using that port?"
                    + " Choose another MASTER_PORT, or set EP4J_MASTER_PORT (the store's port for ep4j alone)", e);
        } catch (IOException e) {
            throw new EpException("rank 0 cannot serve the job's rendezvous on " + bind.getHostAddress() + ":"
                    + env.masterPort() + ": " + e.getMessage(), e);
        }
        InetSocketAddress local = store.address();
        try {
            return connect(local.getAddress().getHostAddress(), local.getPort(), 0, env.worldSize(), env.token(),
                    env.timeout(), FRAME_TIMEOUT, store, env.timeout());
        } catch (RuntimeException e) {
            store.close();
            throw e;
        }
    }

    /** EP4J_BIND_ADDRESS, else the loopback address MASTER_ADDR names (other hosts cannot reach loopback). */
    private static InetAddress bindAddress(JobEnvironment env) {
        String name = env.bindAddress() != null ? env.bindAddress() : env.masterAddr();
        InetAddress[] all;
        try {
            all = InetAddress.getAllByName(name);
        } catch (UnknownHostException e) {
            throw new EpException((env.bindAddress() != null ? "EP4J_BIND_ADDRESS=" : "MASTER_ADDR=") + name
                    + " is not a known host on rank 0: " + e.getMessage(), e);
        }
        if (env.bindAddress() != null) {
            return all[0];
        }
        for (InetAddress a : all) {
            if (a.isLoopbackAddress()) {
                return a;
            }
        }
        throw new EpException("MASTER_ADDR=" + env.masterAddr() + " is " + Arrays.stream(all)
                .map(InetAddress::getHostAddress).toList() + ", not a loopback address, but rank 0's rendezvous store"
                + " listens on loopback unless EP4J_BIND_ADDRESS is set: set EP4J_BIND_ADDRESS to the address the other"
                + " ranks reach rank 0 at (or 0.0.0.0 for every interface), with EP4J_JOB_TOKEN, or use"
                + " MASTER_ADDR=127.0.0.1 for a job on one host");
    }

    /**
     * Connects rank {@code rank} to the store at {@code host:port}, retrying while nothing
     * listens there yet, and joins (HELLO).
     *
     * @param store the store this rank serves (rank 0), closed with it; or null
     */
    static TcpRendezvous connect(String host, int port, int rank, int size, String token, Duration connectTimeout,
            Duration frameTimeout, @Nullable TcpStore store, Duration closeTimeout) {
        String where = host + ":" + port;
        String operation = "rendezvous connect to " + where;
        byte[] digest = Wire.digest(token);
        long deadline = System.nanoTime() + connectTimeout.toNanos();
        long backoffMs = 20;
        int attempts = 0;
        IOException last = null;
        while (true) {
            InetAddress[] addresses;
            try {
                addresses = InetAddress.getAllByName(host);
            } catch (UnknownHostException e) {
                throw new EpException(operation + " failed on rank " + rank + ": MASTER_ADDR=" + host
                        + " is not a known host (" + e.getMessage() + ")", e);
            }
            for (InetAddress a : addresses) {
                long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                if (left <= 0) {
                    break;
                }
                attempts++;
                Socket s = new Socket();
                try {
                    s.connect(new InetSocketAddress(a, port), (int) Math.min(left, 2_000));
                } catch (IOException e) {
                    last = e;
                    closeQuietly(s);
                    continue;
                }
                return join(s, where, rank, size, token, digest, frameTimeout, store, closeTimeout);
            }
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (left <= 0) {
                throw new EpTimeoutException(operation, rank, 0, "rank 0's store did not accept a connection ("
                        + attempts + " attempts, last: " + last + "); is rank 0 running, and listening where MASTER_ADDR"
                        + " points? It listens on loopback unless EP4J_BIND_ADDRESS is set", connectTimeout.toMillis());
            }
            try {
                Thread.sleep(Math.min(left, backoffMs));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new EpException(operation + " interrupted on rank " + rank, e);
            }
            backoffMs = Math.min(backoffMs * 2, 500);
        }
    }

    private static TcpRendezvous join(Socket s, String where, int rank, int size, String token, byte[] digest,
            Duration frameTimeout, @Nullable TcpStore store, Duration closeTimeout) {
        String operation = "rendezvous join at " + where;
        try {
            s.setTcpNoDelay(true);
            s.setSoTimeout((int) frameTimeout.toMillis());
            OutputStream o = new BufferedOutputStream(s.getOutputStream());
            Wire.write(o, digest, Type.HELLO, new Payload().i32(rank).i32(size).build());
            Frame f;
            try {
                f = Wire.read(new BufferedInputStream(s.getInputStream()), digest, () -> { });
            } catch (SocketTimeoutException | BadFrameException e) {
                throw e;
            } catch (IOException e) {
                f = null; // reset rather than closed: the same answer
            }
            if (f == null) {
                throw new EpException(operation + " failed on rank " + rank + ": the store closed the connection"
                        + " without an answer: its job token differs (EP4J_JOB_TOKEN must be the same on every rank),"
                        + " or it is another job's store, or it is overloaded");
            }
            if (f.type() == Type.ERROR) {
                throw new EpException(operation + " refused rank " + rank + ": " + f.fields().str("message"));
            }
            if (f.type() != Type.WELCOME || f.payload().length != 16) {
                throw new BadFrameException("expected WELCOME, got " + f.type());
            }
            byte[] id = Wire.sha256("ep4j job id\0" + token + "\0" + s.getPort() + "\0" + Wire.hex(f.payload()));
            String jobId = "ep4j-" + Wire.hex(id).substring(0, 16);
            return new TcpRendezvous(s, where, rank, size, digest, jobId, frameTimeout, store, closeTimeout);
        } catch (SocketTimeoutException e) {
            closeQuietly(s);
            throw new EpTimeoutException(operation, rank, 0, "the store did not answer HELLO",
                    frameTimeout.toMillis());
        } catch (BadFrameException e) {
            closeQuietly(s);
            throw new EpException(operation + " failed on rank " + rank + ": what listens there is not this job's"
                    + " store (" + e.getMessage() + ")", e);
        } catch (IOException e) {
            closeQuietly(s);
            throw new EpException(operation + " failed on rank " + rank + ": " + e, e);
        } catch (RuntimeException e) {
            closeQuietly(s);
            throw e;
        }
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public String jobId() {
        return jobId;
    }

    @Override
    public synchronized void put(String key, byte[] value) {
        checkKey("key", key);
        if (value.length > Wire.MAX_VALUE_BYTES) {
            throw new InvalidArgumentException("value", value.length + " bytes", "at most " + Wire.MAX_VALUE_BYTES);
        }
        String operation = "rendezvous put '" + key + "'";
        Frame f = request(operation, Type.PUT, new Payload().str(key).bytes(value), Duration.ZERO);
        if (f.type() != Type.OK) {
            throw unexpected(operation, f);
        }
    }

    @Override
    public synchronized byte[] get(String key, Duration timeout) {
        checkKey("key", key);
        String operation = "rendezvous get '" + key + "'";
        long ms = millis(timeout);
        Frame f = request(operation, Type.GET, new Payload().str(key).i64(ms), Duration.ofMillis(ms));
        if (f.type() == Type.VALUE) {
            return field(operation, f, fields -> fields.bytes("value"));
        }
        if (f.type() == Type.TIMEOUT) {
            throw new EpTimeoutException(operation, rank, -1, "no rank published it", ms);
        }
        throw unexpected(operation, f);
    }

    @Override
    public synchronized void barrier(String name, Duration timeout) {
        checkKey("name", name);
        String operation = "rendezvous barrier '" + name + "'";
        long ms = millis(timeout);
        Frame f = request(operation, Type.BARRIER, new Payload().str(name).i64(ms), Duration.ofMillis(ms));
        if (f.type() == Type.OK) {
            return;
        }
        if (f.type() == Type.TIMEOUT) {
            List<Integer> missing = field(operation, f, fields -> {
                int n = fields.i32("count");
                if (n < 1 || n > size) {
                    throw new BadFrameException("TIMEOUT names " + n + " ranks");
                }
                List<Integer> ranks = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    ranks.add(fields.i32("rank"));
                }
                return ranks;
            });
            throw new EpTimeoutException(operation, rank, missing.get(0), "ranks " + missing + " did not arrive", ms);
        }
        throw unexpected(operation, f);
    }

    /**
     * Leaves the job. Rank 0 then keeps its store serving until every rank has left (at most the
     * close timeout; ranks still missing are logged), and stops it, releasing the port. Twice is
     * harmless.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (broken == null) {
                request("rendezvous close", Type.BYE, new Payload(), Duration.ZERO);
            }
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "rank " + rank + " could not say BYE to the rendezvous store: " + e);
        } finally {
            closeQuietly(socket);
            if (store != null) {
                List<Integer> missing = store.awaitAllLeft(closeTimeout);
                if (!missing.isEmpty()) {
                    LOG.log(System.Logger.Level.WARNING, "rank 0 stops the job's rendezvous store after "
                            + closeTimeout.toMillis() + " ms: ranks " + missing + " had not closed theirs");
                }
                store.close();
            }
        }
    }

    @Override
    public String toString() {
        return "TcpRendezvous[rank " + rank + " of " + size + ", store " + where + ", job " + jobId + "]";
    }

    /** Sends a request and reads its reply, waiting {@code wait} plus the frame timeout. */
    private Frame request(String operation, Type type, Payload payload, Duration wait) {
        if (closed && type != Type.BYE) {
            throw new IllegalStateException(operation + " on rank " + rank + ": the rendezvous was closed");
        }
        if (broken != null) {
            throw new EpException(operation + " failed on rank " + rank + ": the connection to rank 0's store at "
                    + where + " broke earlier (" + broken + ")");
        }
        long readMs = wait.toMillis() + frameTimeout.toMillis();
        try {
            socket.setSoTimeout((int) Math.min(readMs, Integer.MAX_VALUE));
            Wire.write(out, digest, type, payload.build());
            Frame f = Wire.read(in, digest, () -> { });
            if (f == null) {
                throw new IOException("the store closed the connection");
            }
            return f;
        } catch (SocketTimeoutException e) {
            broken = "no answer within " + readMs + " ms";
            throw new EpTimeoutException(operation, rank, 0, "rank 0's store at " + where + " did not answer", readMs);
        } catch (IOException e) {
            broken = e.toString();
            throw new EpException(operation + " failed on rank " + rank + ": the connection to rank 0's store at "
                    + where + " broke (" + e.getMessage() + ")", e);
        }
    }

    @FunctionalInterface
    private interface FieldReader<T> {
        T read(Fields fields) throws BadFrameException;
    }

    private <T> T field(String operation, Frame f, FieldReader<T> reader) {
        try {
            Fields fields = f.fields();
            T value = reader.read(fields);
            fields.end();
            return value;
        } catch (BadFrameException e) {
            broken = e.getMessage();
            throw new EpException(operation + " failed on rank " + rank + ": a malformed reply (" + e.getMessage()
                    + ")", e);
        }
    }

    private EpException unexpected(String operation, Frame f) {
        if (f.type() == Type.ERROR) {
            String message = field(operation, f, fields -> fields.str("message"));
            return new EpException(message + " (rank " + rank + ", " + operation + ")");
        }
        broken = "unexpected " + f.type();
        return new EpException(operation + " failed on rank " + rank + ": the store answered " + f.type());
    }

    private static void checkKey(String argument, String key) {
        String problem = Wire.keyProblem(key);
        if (problem != null) {
            throw new InvalidArgumentException(argument, key.length() > 80 ? key.substring(0, 80) + "..." : key,
                    "1 to " + Wire.MAX_KEY_BYTES + " UTF-8 bytes without control characters (it " + problem + ")");
        }
    }

    private static long millis(Duration timeout) {
        if (timeout.isNegative()) {
            return 0;
        }
        return Math.min(timeout.toMillis(), TcpStore.MAX_WAIT_MS);
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException e) {
            // closing anyway
        }
    }
}
