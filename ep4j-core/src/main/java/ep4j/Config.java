package ep4j;

/**
 * Performance knobs of the normal kernels. None of them changes a result: outputs are
 * bit-identical whatever the values (DESIGN 2.7). {@link #auto()} lets the backend choose from
 * the problem size and the machine; the CPU backend ignores every knob.
 *
 * @param numSms the streaming multiprocessors a call's kernels use: {@link #AUTO} (0) or 1 to
 *               1024; more than the GPU has means all of them
 */
public record Config(int numSms) {
    /** A value of 0 means "the backend chooses". */
    public static final int AUTO = 0;

    /**
     * Checks the knobs.
     *
     * @param numSms {@link #AUTO} or 1 to 1024
     * @throws InvalidArgumentException when a knob is out of range
     */
    public Config {
        if (numSms < 0 || numSms > 1024) {
            throw new InvalidArgumentException("numSms", numSms, "0 (auto) or 1 to 1024");
        }
    }

    /**
     * The backend chooses every knob.
     *
     * @return the automatic config
     */
    public static Config auto() {
        return new Config(AUTO);
    }

    /**
     * A fixed SM count.
     *
     * @param numSms 1 to 1024
     * @return the config
     * @throws InvalidArgumentException when {@code numSms} is not positive or above 1024
     */
    public static Config sms(int numSms) {
        if (numSms <= 0) {
            throw new InvalidArgumentException("numSms", numSms, "a positive SM count");
        }
        return new Config(numSms);
    }

    /**
     * Whether the backend chooses the SM count.
     *
     * @return true for {@link #AUTO}
     */
    public boolean isAuto() {
        return numSms == AUTO;
    }
}
