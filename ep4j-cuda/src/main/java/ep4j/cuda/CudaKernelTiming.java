package ep4j.cuda;

import ep4j.KernelTiming;

/** {@link KernelTiming} of a {@link CudaBuffer}: its {@link KernelTimer}, made on {@link #enable()}. */
final class CudaKernelTiming implements KernelTiming {
    private final CudaBuffer buffer;

    CudaKernelTiming(CudaBuffer buffer) {
        this.buffer = buffer;
    }

    @Override
    public void enable() {
        buffer.enableTimer();
    }

    @Override
    public boolean isEnabled() {
        return buffer.timer() != null;
    }

    @Override
    public double lastMicros(Stage stage) {
        KernelTimer t = buffer.timer();
        return t == null ? Double.NaN : t.micros(switch (stage) {
            case LAYOUT -> KernelTimer.Stage.LAYOUT;
            case NOTIFY -> KernelTimer.Stage.NOTIFY;
            case DISPATCH -> KernelTimer.Stage.DISPATCH;
            case COMBINE -> KernelTimer.Stage.COMBINE;
        });
    }

    @Override
    public void startSpan() {
        buffer.spanTimer().start();
    }

    @Override
    public double endSpanMicros() {
        return buffer.spanTimer().endMicros();
    }

    @Override
    public double lastCallMicros() {
        KernelTimer t = buffer.timer();
        return t == null ? Double.NaN : t.callSpan();
    }
}
