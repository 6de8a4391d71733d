package ep4j;

/**
 * Performance knobs of the normal kernels. None of them changes a result: outputs are
 * bit-identical whatever the values (DESIGN 2.7). {@link #auto()} lets the backend choose from
 * the problem size and the machine.
 */
public record Config(int numSms) {
    /** A value of 0 means "the backend chooses". */
    public static final int AUTO = 0;

    public Config {
        if (numSms < 0 || numSms > 1024) {
            throw new InvalidArgumentException("numSms", numSms, "0 (auto) or 1 to 1024");
        }
    }

    public static Config auto() {
        return new Config(AUTO);
    }

    public static Config sms(int numSms) {
        if (numSms <= 0) {
            throw new InvalidArgumentException("numSms", numSms, "a positive SM count");
        }
        return new Config(numSms);
    }

    public boolean isAuto() {
        return numSms == AUTO;
    }
}
