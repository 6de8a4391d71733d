package ep4j.rendezvous;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ep4j.EpException;
import ep4j.EpTimeoutException;
import ep4j.InvalidArgumentException;
import ep4j.rendezvous.Wire.Payload;
import ep4j.rendezvous.Wire.Type;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The store and its clients over real TCP in one JVM: LocalRendezvous's semantics, bounded
 * waits, and connections that break the rules dropped while the real ranks go on.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class TcpRendezvousTest {
    static final String TOKEN = "the-job-token";
    static final Duration SHORT = Duration.ofMillis(300);
    static final Duration FRAME = Duration.ofMillis(500);

    final List<AutoCloseable> open = new ArrayList<>();
    final ExecutorService threads = Executors.newCachedThreadPool();

    @AfterEach
    void closeAll() throws Exception {
        threads.shutdownNow();
        for (AutoCloseable c : open.reversed()) {
            c.close();
        }
    }

    TcpStore store(int size) throws IOException {
        return store(size, new TcpStore.Limits(FRAME, 1000, 8, 1 << 20));
    }

    TcpStore store(int size, TcpStore.Limits limits) throws IOException {
        TcpStore s = TcpStore.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), size, TOKEN, limits);
        open.add(s);
        return s;
    }

    TcpRendezvous client(TcpStore store, int rank, int size) {
        return client(store, rank, size, TOKEN);
    }

    TcpRendezvous client(TcpStore store, int rank, int size, String token) {
        TcpRendezvous r = TcpRendezvous.connect("127.0.0.1", store.address().getPort(), rank, size, token,
                Duration.ofSeconds(5), FRAME, null, SHORT);
        open.add(r);
        return r;
    }

    /** Rank 0 as a process runs it: the client that owns the store. */
    TcpRendezvous rankZero(TcpStore store, int size, Duration closeTimeout) {
        TcpRendezvous r = TcpRendezvous.connect("127.0.0.1", store.address().getPort(), 0, size, TOKEN,
                Duration.ofSeconds(5), FRAME, store, closeTimeout);
        open.add(r);
        return r;
    }

    static Socket raw(TcpStore store) throws IOException {
        Socket s = new Socket(InetAddress.getLoopbackAddress(), store.address().getPort());
        s.setSoTimeout(5_000);
        return s;
    }

    /**
     * Sends a frame in one write. The store may drop the connection before it is all sent (a
     * broken pipe here): that is what these tests look for, so a failed write is not a failure.
     */
    static void send(Socket s, byte[] digest, Type type, byte[] payload) {
        sendBytes(s, frame(digest, type, payload));
    }

    static byte[] frame(byte[] digest, Type type, byte[] payload) {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        try {
            Wire.write(bytes, digest, type, payload);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return bytes.toByteArray();
    }

    static void sendBytes(Socket s, byte[] bytes) {
        try {
            s.getOutputStream().write(bytes);
            s.getOutputStream().flush();
        } catch (IOException e) {
            // dropped already
        }
    }

    /** True when the store closed {@code s}: its next read ends (EOF or reset) instead of timing out. */
    static boolean droppedByStore(Socket s) throws IOException {
        InputStream in = s.getInputStream();
        try {
            while (true) {
                if (in.read() < 0) {
                    return true;
                }
            }
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true; // connection reset
        }
    }

    static void eventually(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail(what);
            }
            Thread.sleep(10);
        }
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** The real ranks still work: a put and a get on each. */
    static void stillServes(TcpRendezvous a, TcpRendezvous b, String key) {
        a.put(key, utf8("v-" + key));
        assertArrayEquals(utf8("v-" + key), b.get(key, Duration.ofSeconds(2)));
    }

    @Test
    void ranksPutGetAndMeetAtBarriersOverTcp() throws Exception {
        int size = 4;
        TcpStore store = store(size);
        List<Future<String>> results = new ArrayList<>();
        for (int r = 0; r < size; r++) {
            int rank = r;
            results.add(threads.submit(() -> {
                TcpRendezvous rv = rank == 0 ? rankZero(store, size, Duration.ofSeconds(5)) : client(store, rank, size);
                assertEquals(rank, rv.rank());
                assertEquals(size, rv.size());
                rv.put("addr/" + rank, utf8("rank " + rank));
                rv.barrier("published", Duration.ofSeconds(5));
                for (int p = 0; p < size; p++) {
                    assertArrayEquals(utf8("rank " + p), rv.get("addr/" + p, Duration.ZERO), "after the barrier");
                }
                rv.barrier("read", Duration.ofSeconds(5));
                String id = rv.jobId();
                if (rank != 0) {
                    rv.close();
                }
                return id;
            }));
        }
        String id = results.get(0).get();
        assertTrue(id.matches("ep4j-[0-9a-f]{16}"), id);
        for (Future<String> f : results) {
            assertEquals(id, f.get());
        }
        TcpStore other = store(1);
        assertNotEquals(id, client(other, 0, 1).jobId(), "another store is another job");
        assertEquals(0, store.dropped());
    }

    @Test
    void aGetWaitsForALaterPut() throws Exception {
        TcpStore store = store(2);
        TcpRendezvous a = client(store, 0, 2);
        TcpRendezvous b = client(store, 1, 2);
        Future<byte[]> got = threads.submit(() -> b.get("late", Duration.ofSeconds(10)));
        Thread.sleep(200);
        assertTrue(!got.isDone(), "the get waits");
        a.put("late", utf8("here"));
        assertArrayEquals(utf8("here"), got.get(5, TimeUnit.SECONDS));
    }

    @Test
    void aKeyIsWrittenOnce() throws Exception {
        TcpStore store = store(2);
        TcpRendezvous a = client(store, 0, 2);
        TcpRendezvous b = client(store, 1, 2);
        a.put("k", utf8("first"));
        EpException e = assertThrows(EpException.class, () -> b.put("k", utf8("second")));
        assertTrue(e.getMessage().contains("rendezvous key 'k' was already written (rank 1"), e.getMessage());
        assertArrayEquals(utf8("first"), b.get("k", SHORT));
        stillServes(b, a, "after");
    }

    @Test
    void getsAndBarriersTimeOutNamingTheRankAndWhoIsMissing() throws Exception {
        TcpStore store = store(3);
        TcpRendezvous r0 = client(store, 0, 3);
        TcpRendezvous r1 = client(store, 1, 3);
        long t0 = System.nanoTime();
        EpTimeoutException get = assertThrows(EpTimeoutException.class, () -> r1.get("never", SHORT));
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(3), "bounded");
        assertTrue(get.getMessage().contains("rendezvous get 'never'"), get.getMessage());
        assertEquals(1, get.rank());

        Future<EpTimeoutException> other = threads.submit(
                () -> assertThrows(EpTimeoutException.class, () -> r0.barrier("b", SHORT)));
        t0 = System.nanoTime();
        EpTimeoutException barrier = assertThrows(EpTimeoutException.class, () -> r1.barrier("b", SHORT));
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(3), "bounded");
        assertTrue(barrier.getMessage().contains("rendezvous barrier 'b'"), barrier.getMessage());
        assertTrue(barrier.getMessage().contains("ranks [2] did not arrive"), barrier.getMessage());
        assertEquals(2, barrier.peer());
        assertEquals(1, barrier.rank());
        assertTrue(other.get().getMessage().contains("ranks [2] did not arrive"), other.get().getMessage());
        stillServes(r0, r1, "after timeouts");
    }

    @Test
    void aConnectionWithAnotherJobsTokenIsDroppedAndTheRanksGoOn() throws Exception {
        TcpStore store = store(2);
        TcpRendezvous a = client(store, 0, 2);
        EpException e = assertThrows(EpException.class, () -> client(store, 1, 2, "another-token"));
        assertTrue(e.getMessage().contains("job token differs"), e.getMessage());
        eventually(() -> store.dropped() == 1, "the stranger was dropped");

        // A joined-looking stranger: a frame with the wrong token after a rank's HELLO.
        TcpRendezvous b = client(store, 1, 2);
        try (Socket s = raw(store)) {
            send(s, Wire.digest("wrong"), Type.PUT, new Payload().str("k").bytes(new byte[1]).build());
            assertTrue(droppedByStore(s));
        }
        eventually(() -> store.dropped() == 2, "dropped");
        stillServes(a, b, "k");
    }

    @Test
    void garbageAndOversizedFramesAreDroppedAndTheRanksGoOn() throws Exception {
        TcpStore store = store(3);
        TcpRendezvous a = client(store, 0, 3);
        TcpRendezvous b = client(store, 1, 3);
        byte[] digest = Wire.digest(TOKEN);

        byte[] noise = new byte[4096];
        new Random(7).nextBytes(noise);
        try (Socket s = raw(store)) {
            sendBytes(s, noise);
            assertTrue(droppedByStore(s), "random bytes");
        }
        eventually(() -> store.dropped() == 1, "random bytes dropped");

        try (Socket s = raw(store)) {
            java.io.ByteArrayOutputStream header = new java.io.ByteArrayOutputStream();
            DataOutputStream out = new DataOutputStream(header);
            out.writeInt(Wire.MAGIC);
            out.writeByte(Wire.VERSION);
            out.writeByte(Type.HELLO.ordinal());
            out.write(digest);
            out.writeInt(10 << 20); // announces a 10 MiB payload, which the store never reads
            sendBytes(s, header.toByteArray());
            assertTrue(droppedByStore(s), "oversized frame");
        }
        eventually(() -> store.dropped() == 2, "oversized frame dropped");

        try (Socket s = raw(store)) {
            send(s, digest, Type.PUT, new Payload().str("k").bytes(new byte[1]).build());
            assertTrue(droppedByStore(s), "PUT before HELLO");
        }
        eventually(() -> store.dropped() == 3, "PUT before HELLO dropped");

        try (Socket s = raw(store)) {
            send(s, digest, Type.HELLO, new Payload().i32(5).i32(3).build());
            assertTrue(droppedByStore(s), "rank 5 of 3");
        }
        eventually(() -> store.dropped() == 4, "rank 5 of 3 refused");

        try (Socket s = raw(store)) {
            send(s, digest, Type.HELLO, new Payload().i32(2).i32(3).build());
            assertEquals(Type.WELCOME, Wire.read(s.getInputStream(), digest, () -> { }).type());
            // A value one byte past the cap, in a frame that itself fits.
            byte[] p = new Payload().str("big").i32(Wire.MAX_VALUE_BYTES + 1).build();
            send(s, digest, Type.PUT, java.util.Arrays.copyOf(p, p.length + Wire.MAX_VALUE_BYTES + 1));
            assertTrue(droppedByStore(s), "oversized value");
        }
        eventually(() -> store.dropped() == 5, "oversized value dropped");
        stillServes(a, b, "k");
        stillServes(b, a, "k2");
    }

    @Test
    void aJoinedRankThatSendsAMalformedFrameIsDroppedAlone() throws Exception {
        TcpStore store = store(3);
        TcpRendezvous a = client(store, 0, 3);
        TcpRendezvous b = client(store, 1, 3);
        try (Socket s = raw(store)) {
            send(s, Wire.digest(TOKEN), Type.HELLO, new Payload().i32(2).i32(3).build());
            assertEquals(Type.WELCOME, Wire.read(s.getInputStream(), Wire.digest(TOKEN), () -> { }).type());
            // A GET whose payload carries a byte past its fields.
            byte[] p = new Payload().str("k").i64(10).i32(0).build();
            send(s, Wire.digest(TOKEN), Type.GET, java.util.Arrays.copyOf(p, p.length - 3));
            assertTrue(droppedByStore(s));
        }
        eventually(() -> store.dropped() == 1, "dropped");
        stillServes(a, b, "k");
    }

    @Test
    void aFrameThatStallsIsDroppedAfterTheFrameTimeout() throws Exception {
        TcpStore store = store(2);
        TcpRendezvous a = client(store, 0, 2);
        TcpRendezvous b = client(store, 1, 2);
        try (Socket s = raw(store)) {
            sendBytes(s, new byte[] {0x45, 0x50, 0x34}); // three bytes of a header, then nothing
            long t0 = System.nanoTime();
            assertTrue(droppedByStore(s));
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertTrue(ms < 3_000, "dropped after the 500 ms frame timeout, not " + ms + " ms");
        }
        try (Socket idle = raw(store)) {
            assertTrue(droppedByStore(idle), "a connection that never says HELLO is dropped too");
        }
        stillServes(a, b, "k");
    }

    @Test
    void aConnectionPastTheMessageCapIsDropped() throws Exception {
        TcpStore store = store(2, new TcpStore.Limits(FRAME, 5, 8, 1 << 20));
        TcpRendezvous a = client(store, 0, 2);
        TcpRendezvous b = client(store, 1, 2);
        for (int i = 0; i < 4; i++) {
            a.put("k" + i, new byte[] {(byte) i}); // HELLO + 4 puts: 5 messages
        }
        EpException e = assertThrows(EpException.class, () -> a.put("k4", new byte[1]));
        assertTrue(e.getMessage().contains("rank 0"), e.getMessage());
        eventually(() -> store.dropped() == 1, "dropped");
        assertArrayEquals(new byte[] {3}, b.get("k3", SHORT), "the other rank goes on");
        EpException again = assertThrows(EpException.class, () -> a.get("k3", SHORT));
        assertTrue(again.getMessage().contains("broke earlier"), again.getMessage());
    }

    @Test
    void connectionsThatDoNotJoinAreCapped() throws Exception {
        TcpStore store = store(2, new TcpStore.Limits(Duration.ofSeconds(5), 1000, 2, 1 << 20));
        try (Socket idle1 = raw(store); Socket idle2 = raw(store)) {
            Thread.sleep(100);
            try (Socket third = raw(store)) {
                third.setSoTimeout(2_000);
                assertTrue(droppedByStore(third), "past the cap of 2 waiting connections");
            }
        }
        // Once those went away, ranks join.
        eventually(() -> store.dropped() >= 3, "the idle ones ended"); // counted once their slots are free
        stillServes(client(store, 0, 2), client(store, 1, 2), "k");
    }

    @Test
    void aRankOfAnotherSizeOrTwiceTheSameRankIsRefusedSayingWhy() throws Exception {
        TcpStore store = store(2);
        EpException size = assertThrows(EpException.class, () -> client(store, 1, 3));
        assertTrue(size.getMessage().contains("serves a job of 2 ranks, but rank 1 says WORLD_SIZE=3"),
                size.getMessage());
        client(store, 1, 2);
        EpException twice = assertThrows(EpException.class, () -> client(store, 1, 2));
        assertTrue(twice.getMessage().contains("rank 1 has already joined"), twice.getMessage());
    }

    @Test
    void reachingNoStoreTimesOutBounded() throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = free.getLocalPort();
        }
        long t0 = System.nanoTime();
        EpTimeoutException e = assertThrows(EpTimeoutException.class, () -> TcpRendezvous.connect("127.0.0.1", port,
                3, 4, TOKEN, Duration.ofMillis(600), FRAME, null, SHORT));
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertTrue(ms >= 500 && ms < 3_000, ms + " ms");
        assertTrue(e.getMessage().contains("rendezvous connect to 127.0.0.1:" + port), e.getMessage());
        assertTrue(e.getMessage().contains("on rank 3"), e.getMessage());
        assertTrue(e.getMessage().contains("EP4J_BIND_ADDRESS"), e.getMessage());
    }

    @Test
    void aStoreThatDoesNotAnswerTimesOutBounded() throws Exception {
        try (ServerSocket silent = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            CompletableFuture<Socket> accepted = CompletableFuture.supplyAsync(() -> {
                try {
                    return silent.accept();
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            }, threads);
            long t0 = System.nanoTime();
            EpTimeoutException e = assertThrows(EpTimeoutException.class, () -> TcpRendezvous.connect("127.0.0.1",
                    silent.getLocalPort(), 1, 2, TOKEN, Duration.ofSeconds(5), FRAME, null, SHORT));
            assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(3), "bounded by the frame timeout");
            assertTrue(e.getMessage().contains("did not answer HELLO"), e.getMessage());
            accepted.get().close();
        }
    }

    @Test
    void aStoreThatGoesAwayFailsAWaitingGetAtOnce() throws Exception {
        TcpStore store = store(2);
        TcpRendezvous b = client(store, 1, 2);
        Future<Throwable> get = threads.submit(() -> assertThrows(EpException.class,
                () -> b.get("never", Duration.ofSeconds(20))));
        Thread.sleep(200);
        long t0 = System.nanoTime();
        store.close();
        Throwable e = get.get(5, TimeUnit.SECONDS);
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(3), "not the 20 s of the get");
        assertTrue(e.getMessage().contains("rendezvous get 'never'") && e.getMessage().contains("rank 1"),
                e.getMessage());
    }

    @Test
    void rankZeroServesLateRanksUntilTheyCloseThenReleasesThePort() throws Exception {
        TcpStore store = store(2);
        int port = store.address().getPort();
        TcpRendezvous zero = rankZero(store, 2, Duration.ofSeconds(10));
        TcpRendezvous one = client(store, 1, 2);
        zero.put("k", utf8("v"));
        long t0 = System.nanoTime();
        Future<?> closing = threads.submit(zero::close);
        Thread.sleep(300);
        assertTrue(!closing.isDone(), "rank 0 waits for rank 1");
        assertArrayEquals(utf8("v"), one.get("k", SHORT), "a late get succeeds");
        one.close();
        closing.get(5, TimeUnit.SECONDS);
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(5), "not the 10 s close timeout");
        try (ServerSocket again = new ServerSocket()) {
            again.setReuseAddress(true);
            again.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
        }
        assertThrows(IllegalStateException.class, () -> one.get("k", SHORT), "closed");
    }

    @Test
    void rankZerosCloseIsBoundedWhenARankNeverCloses() throws Exception {
        TcpStore store = store(3);
        int port = store.address().getPort();
        TcpRendezvous zero = rankZero(store, 3, Duration.ofMillis(400));
        client(store, 1, 3); // never closed until the end of the test; rank 2 never comes
        long t0 = System.nanoTime();
        zero.close();
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertTrue(ms >= 300 && ms < 3_000, ms + " ms");
        try (ServerSocket again = new ServerSocket()) {
            again.setReuseAddress(true);
            again.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
        }
    }

    @Test
    void badKeysAndValuesAreRejectedBeforeSending() throws Exception {
        TcpStore store = store(1);
        TcpRendezvous r = client(store, 0, 1);
        InvalidArgumentException empty = assertThrows(InvalidArgumentException.class, () -> r.put("", new byte[0]));
        assertEquals("key", empty.argument());
        InvalidArgumentException control = assertThrows(InvalidArgumentException.class, () -> r.get("a\nb", SHORT));
        assertTrue(control.getMessage().contains("control"), control.getMessage());
        InvalidArgumentException longKey = assertThrows(InvalidArgumentException.class,
                () -> r.barrier("x".repeat(Wire.MAX_KEY_BYTES + 1), SHORT));
        assertEquals("name", longKey.argument());
        InvalidArgumentException big = assertThrows(InvalidArgumentException.class,
                () -> r.put("k", new byte[Wire.MAX_VALUE_BYTES + 1]));
        assertEquals("value", big.argument());
        r.put("k", new byte[Wire.MAX_VALUE_BYTES]);
        assertEquals(Wire.MAX_VALUE_BYTES, r.get("k", SHORT).length);
        assertEquals(0, store.dropped());
    }

    @Test
    void ranksMeetThroughTheirEnvironment() throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = free.getLocalPort();
        }
        List<Future<String>> ids = new ArrayList<>();
        for (int r = 1; r >= 0; r--) { // rank 1 first: it retries until rank 0 serves
            Map<String, String> env = new HashMap<>(JobEnvironmentTest.torchrun(r, 2));
            env.put("MASTER_PORT", "" + port);
            env.put("EP4J_RENDEZVOUS_TIMEOUT", "10");
            JobEnvironment job = JobEnvironment.parse(env);
            ids.add(threads.submit(() -> {
                try (TcpRendezvous rv = TcpRendezvous.connect(job)) {
                    rv.put("r" + job.rank(), new byte[] {(byte) job.rank()});
                    assertArrayEquals(new byte[] {(byte) (1 - job.rank())}, rv.get("r" + (1 - job.rank()),
                            Duration.ofSeconds(5)));
                    return rv.jobId();
                }
            }));
            Thread.sleep(200);
        }
        assertEquals(ids.get(0).get(10, TimeUnit.SECONDS), ids.get(1).get(10, TimeUnit.SECONDS));
    }

    @Test
    void rankZeroRefusesToHideItsStoreOnLoopbackWhenMasterAddrIsNot() {
        Map<String, String> env = new HashMap<>(JobEnvironmentTest.torchrun(0, 2));
        // A documentation address (TEST-NET-1): rank 0 refuses before binding or sending anything.
        env.put("MASTER_ADDR", "192.0.2.1");
        env.put("LOCAL_WORLD_SIZE", "1"); // a job over two hosts
        env.put("EP4J_JOB_TOKEN", "t");
        EpException e = assertThrows(EpException.class, () -> TcpRendezvous.connect(JobEnvironment.parse(env)));
        assertTrue(e.getMessage().contains("MASTER_ADDR=192.0.2.1") && e.getMessage().contains("EP4J_BIND_ADDRESS"),
                e.getMessage());
    }

    @Test
    void rankZeroSaysWhenItsPortIsTaken() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Map<String, String> env = new HashMap<>(JobEnvironmentTest.torchrun(0, 2));
            env.put("MASTER_PORT", "" + taken.getLocalPort());
            EpException e = assertThrows(EpException.class, () -> TcpRendezvous.connect(JobEnvironment.parse(env)));
            assertTrue(e.getMessage().contains("rank 0 cannot serve") && e.getMessage().contains(":"
                    + taken.getLocalPort()) && e.getMessage().contains("EP4J_MASTER_PORT"), e.getMessage());
        }
    }
}
