package ep4j;

import java.time.Duration;

/**
 * What a communication buffer must hold, from which each backend sizes its memory once, at
 * {@link EpGroup#allocate(BufferSpec)}. Fluent setters, then {@link #conclude()} validates every
 * field once; a concluded spec no longer changes (its setters throw {@link IllegalStateException}).
 * {@code allocate} concludes the spec it is given. Sizes are in elements (tokens, channels), not
 * bytes.
 *
 * <pre>{@code BufferSpec.normal(7168, 4096).lowLatency(128, 256).timeout(Duration.ofSeconds(10))}</pre>
 */
public final class BufferSpec {
    /** The default time a rank waits for a peer before it raises {@link EpTimeoutException}. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

    private int hidden;
    private int maxTokensPerRank;
    private int maxTopk = 16;
    private int lowLatencyMaxTokensPerRank;
    private int lowLatencyExperts;
    private Duration timeout = DEFAULT_TIMEOUT;
    private boolean concluded;

    private BufferSpec() {
    }

    /**
     * A buffer for normal dispatch and combine.
     *
     * @param hidden           {@code H}, channels per token: a positive multiple of 8 (and of 128
     *                         for fp8)
     * @param maxTokensPerRank the most tokens {@code T} any rank dispatches in one call, {@code >= 0}
     * @return a new spec (checked by {@link #conclude()})
     */
    public static BufferSpec normal(int hidden, int maxTokensPerRank) {
        BufferSpec spec = new BufferSpec();
        spec.hidden = hidden;
        spec.maxTokensPerRank = maxTokensPerRank;
        return spec;
    }

    /**
     * Adds the two low-latency buffers (double buffering, DESIGN 2.4).
     *
     * @param maxTokensPerRank {@code N}, the most tokens a rank sends in one low-latency call (the
     *                         same on every rank); 0 for no low-latency buffers
     * @param numExperts       {@code E}, the experts every low-latency call routes to
     * @return this spec
     * @throws IllegalStateException when the spec was concluded
     */
    public BufferSpec lowLatency(int maxTokensPerRank, int numExperts) {
        mutable();
        this.lowLatencyMaxTokensPerRank = maxTokensPerRank;
        this.lowLatencyExperts = numExperts;
        return this;
    }

    /**
     * The largest top-k {@code K} any call will use (it sizes per-token metadata).
     *
     * @param maxTopk 1 to 1024; 16 by default
     * @return this spec
     * @throws IllegalStateException when the spec was concluded
     */
    public BufferSpec maxTopk(int maxTopk) {
        mutable();
        this.maxTopk = maxTopk;
        return this;
    }

    /**
     * How long a rank waits for a peer before its call fails with {@link EpTimeoutException}.
     *
     * @param timeout a positive duration; {@link #DEFAULT_TIMEOUT} by default
     * @return this spec
     * @throws IllegalStateException when the spec was concluded
     */
    public BufferSpec timeout(Duration timeout) {
        mutable();
        this.timeout = timeout;
        return this;
    }

    /**
     * Validates every field and freezes the spec; twice is harmless.
     *
     * @return this spec
     * @throws InvalidArgumentException naming the first field that is out of range
     */
    public BufferSpec conclude() {
        if (concluded) {
            return this;
        }
        if (hidden <= 0 || hidden % 8 != 0) {
            throw new InvalidArgumentException("hidden", hidden, "a positive multiple of 8 (16-byte bf16 rows)");
        }
        if (maxTokensPerRank < 0) {
            throw new InvalidArgumentException("maxTokensPerRank", maxTokensPerRank, "a count >= 0");
        }
        if (maxTopk <= 0 || maxTopk > 1024) {
            throw new InvalidArgumentException("maxTopk", maxTopk, "1 to 1024");
        }
        if (lowLatencyMaxTokensPerRank < 0) {
            throw new InvalidArgumentException("lowLatency.maxTokensPerRank", lowLatencyMaxTokensPerRank, "a count >= 0");
        }
        if (lowLatencyMaxTokensPerRank > 0 && lowLatencyExperts <= 0) {
            throw new InvalidArgumentException("lowLatency.numExperts", lowLatencyExperts, "a count > 0");
        }
        if (timeout == null || timeout.isNegative() || timeout.isZero()) {
            throw new InvalidArgumentException("timeout", timeout, "a positive duration");
        }
        concluded = true;
        return this;
    }

    private void mutable() {
        if (concluded) {
            throw new IllegalStateException("BufferSpec was concluded and can no longer change");
        }
    }

    /**
     * The hidden size.
     *
     * @return {@code H}, channels per token
     */
    public int hidden() {
        return hidden;
    }

    /**
     * The most tokens a rank dispatches in one normal call.
     *
     * @return tokens
     */
    public int maxTokensPerRank() {
        return maxTokensPerRank;
    }

    /**
     * The largest top-k of any call.
     *
     * @return {@code K} at most
     */
    public int maxTopk() {
        return maxTopk;
    }

    /**
     * Whether the buffer has low-latency buffers.
     *
     * @return true when {@link #lowLatency} set a token count above 0
     */
    public boolean hasLowLatency() {
        return lowLatencyMaxTokensPerRank > 0;
    }

    /**
     * The most tokens a rank sends in one low-latency call.
     *
     * @return {@code N}, 0 without low-latency buffers
     */
    public int lowLatencyMaxTokensPerRank() {
        return lowLatencyMaxTokensPerRank;
    }

    /**
     * The number of experts of the low-latency calls.
     *
     * @return {@code E}, 0 without low-latency buffers
     */
    public int lowLatencyExperts() {
        return lowLatencyExperts;
    }

    /**
     * How long a rank waits for a peer.
     *
     * @return the timeout
     */
    public Duration timeout() {
        return timeout;
    }

    /**
     * Every field, for messages and logs.
     *
     * @return a one-line description
     */
    @Override
    public String toString() {
        return "BufferSpec[hidden=" + hidden + ", maxTokensPerRank=" + maxTokensPerRank + ", maxTopk=" + maxTopk
                + ", lowLatency=" + lowLatencyMaxTokensPerRank + "x" + lowLatencyExperts + " experts, timeout="
                + timeout + "]";
    }
}
