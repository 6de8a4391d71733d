package ep4j;

/**
 * Completion of an asynchronous call. On a GPU it wraps a CUDA event recorded on the
 * communication stream; device-side errors of the call (an out-of-range expert index found by
 * a kernel) are raised by {@link #await()}.
 */
public interface EpEvent {
    /** Blocks until the call's results are ready; raises what the call found on the device. */
    void await();

    boolean isComplete();

    /** An event that is already complete. */
    static EpEvent completed() {
        return Completed.INSTANCE;
    }

    enum Completed implements EpEvent {
        INSTANCE;

        @Override
        public void await() {
        }

        @Override
        public boolean isComplete() {
            return true;
        }
    }
}
