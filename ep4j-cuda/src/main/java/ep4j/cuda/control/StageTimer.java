package ep4j.cuda.control;

/**
 * Where a path marks the kernels of a call for {@link ep4j.KernelTiming}: events before and after
 * each launch when timing is on, nothing when it is off ({@link #OFF}).
 */
public interface StageTimer {
    /** The kernels a call can run, as KernelTiming names them. */
    enum Stage { LAYOUT, NOTIFY, DISPATCH, COMBINE, LL_DISPATCH, LL_COMBINE }

    /** A new call begins: the stages of the last one are forgotten. */
    void call();

    /** Before the launch of {@code stage}'s kernel. */
    void start(Stage stage);

    /** After it. */
    void stop(Stage stage);

    /** Timing off: records nothing. */
    StageTimer OFF = new StageTimer() {
        @Override
        public void call() {
        }

        @Override
        public void start(Stage stage) {
        }

        @Override
        public void stop(Stage stage) {
        }
    };
}
