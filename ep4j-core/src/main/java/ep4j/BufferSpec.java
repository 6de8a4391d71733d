package ep4j;

import java.time.Duration;

/**
 * What a communication buffer must hold: the size hint from which each backend sizes its
 * memory. Fluent setters, then {@link #conclude()} validates once; a concluded spec is
 * immutable in practice (setters throw).
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

    /** A buffer for normal dispatch/combine of up to {@code maxTokensPerRank} tokens of {@code hidden} channels. */
    public static BufferSpec normal(int hidden, int maxTokensPerRank) {
        BufferSpec spec = new BufferSpec();
        spec.hidden = hidden;
        spec.maxTokensPerRank = maxTokensPerRank;
        return spec;
    }

    /** Adds the two low-latency buffers: up to {@code maxTokensPerRank} tokens per rank, {@code numExperts} experts. */
    public BufferSpec lowLatency(int maxTokensPerRank, int numExperts) {
        mutable();
        this.lowLatencyMaxTokensPerRank = maxTokensPerRank;
        this.lowLatencyExperts = numExperts;
        return this;
    }

    /** The largest top-k any call will use (sizes per-token metadata). Default 16. */
    public BufferSpec maxTopk(int maxTopk) {
        mutable();
        this.maxTopk = maxTopk;
        return this;
    }

    public BufferSpec timeout(Duration timeout) {
        mutable();
        this.timeout = timeout;
        return this;
    }

    /** Validates every field; a spec is used only once concluded. Returns {@code this}. */
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

    public int hidden() {
        return hidden;
    }

    public int maxTokensPerRank() {
        return maxTokensPerRank;
    }

    public int maxTopk() {
        return maxTopk;
    }

    public boolean hasLowLatency() {
        return lowLatencyMaxTokensPerRank > 0;
    }

    public int lowLatencyMaxTokensPerRank() {
        return lowLatencyMaxTokensPerRank;
    }

    public int lowLatencyExperts() {
        return lowLatencyExperts;
    }

    public Duration timeout() {
        return timeout;
    }

    @Override
    public String toString() {
        return "BufferSpec[hidden=" + hidden + ", maxTokensPerRank=" + maxTokensPerRank + ", maxTopk=" + maxTopk
                + ", lowLatency=" + lowLatencyMaxTokensPerRank + "x" + lowLatencyExperts + " experts, timeout="
                + timeout + "]";
    }
}
