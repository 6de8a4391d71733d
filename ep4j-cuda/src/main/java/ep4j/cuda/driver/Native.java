package ep4j.cuda.driver;

/** Small helpers shared by the wrappers. */
final class Native {
    private Native() {}

    /**
     * For the {@code catch (Throwable)} that {@code invokeExact} forces on every call site: a
     * downcall only throws unchecked exceptions (a stub for a missing symbol, a closed segment)
     * or errors, so pass those on as they are.
     */
    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException e) {
            return e;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException("unexpected checked exception from a CUDA downcall", t);
    }

    /**
     * For destroy/free calls: after the driver has shut down (a close from a shutdown hook) the
     * resource is gone with it, which is what closing wanted.
     */
    static boolean releasedOk(int result) {
        return result == CudaConstants.CUDA_SUCCESS || result == CudaConstants.CUDA_ERROR_DEINITIALIZED;
    }

    static String hex(long address) {
        return "0x" + Long.toHexString(address);
    }
}
