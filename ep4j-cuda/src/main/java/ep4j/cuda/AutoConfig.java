package ep4j.cuda;

/**
 * The SM count the normal kernels use when {@link ep4j.Config#auto()} leaves it open. NVLink
 * writes saturate with few blocks (the device notes measure ~350 GB/s from 8 blocks of 512
 * threads), so the count grows with the bytes to move and stops at 16, leaving the rest of the
 * GPU to compute. {@code ep4j tune} measures the curve on a machine.
 */
final class AutoConfig {
    static final int MAX_SMS = 16;
    private static final long BYTES_PER_SM = 4L << 20;

    private AutoConfig() {
    }

    static int sms(long bytes, int ranks) {
        long n = (bytes + BYTES_PER_SM - 1) / BYTES_PER_SM;
        return (int) Math.max(2, Math.min(MAX_SMS, Math.max(n, ranks)));
    }
}
