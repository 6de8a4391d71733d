package ep4j.cuda.tune;

/**
 * The SM count the normal kernels use when {@link ep4j.Config#auto()} leaves it open: enough
 * SMs for the bytes to move (one per {@link TuneProfile#bytesPerSm()}), at least one per rank,
 * and never more than the count {@code ep4j tune} found to reach the best time on this machine
 * (16 without a profile: NVLink writes saturate with few blocks, the rest of the GPU computes).
 */
public final class AutoConfig {
    private static volatile TuneProfile profile;

    private AutoConfig() {
    }

    static TuneProfile profile() {
        TuneProfile p = profile;
        if (p == null) {
            p = TuneProfile.load();
            profile = p;
        }
        return p;
    }


    public static int sms(long bytes, int ranks, boolean combine) {
        TuneProfile p = profile();
        int cap = combine ? p.combineSms() : p.dispatchSms();
        long n = (bytes + p.bytesPerSm() - 1) / p.bytesPerSm();
        return (int) Math.max(Math.min(2, cap), Math.min(cap, Math.max(n, ranks)));
    }
}
