package ep4j;

/**
 * Memory could not be allocated: host memory (the operating system refused it) or device memory
 * (the GPU has too little free). Names what was being allocated, how many bytes, and where.
 * Nothing was changed by the call that failed.
 */
public final class AllocationException extends EpException {
    private static final long serialVersionUID = 1L;

    /** The size asked for, in bytes. */
    private final long bytes;
    /** {@link Tensor#HOST}, or the GPU index. */
    private final int device;

    /**
     * An allocation failed.
     *
     * @param what   what was being allocated, e.g. "the dispatch output x [8192, 7168] BF16"
     * @param bytes  the size asked for, in bytes
     * @param device {@link Tensor#HOST}, or the GPU index
     * @param cause  the failure underneath (an {@link OutOfMemoryError}, a driver error), or null
     */
    public AllocationException(String what, long bytes, int device, Throwable cause) {
        super("cannot allocate " + bytes + " bytes (" + human(bytes) + ") of "
                + (device == Tensor.HOST ? "host memory" : "memory on GPU " + device) + " for " + what
                + (cause != null && cause.getMessage() != null ? ": " + cause.getMessage() : ""), cause);
        this.bytes = bytes;
        this.device = device;
    }

    /**
     * The size that could not be allocated.
     *
     * @return bytes
     */
    public long bytes() {
        return bytes;
    }

    /**
     * Where the memory was asked for.
     *
     * @return {@link Tensor#HOST}, or the GPU index
     */
    public int device() {
        return device;
    }

    private static String human(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(java.util.Locale.ROOT, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
    }
}
