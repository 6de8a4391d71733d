package ep4j.cli.term;

import java.io.PrintWriter;
import java.util.function.LongSupplier;

/**
 * A one-line progress bar redrawn in place with a carriage return, for a terminal. When disabled
 * (output is a file or pipe, unless forced) it writes nothing at all, so logs stay clean.
 * Redraws are limited to ten a second; {@link #finish()} clears the line. Thread-safe.
 */
public final class ProgressBar implements AutoCloseable {
    private static final long REDRAW_NANOS = 100_000_000L;

    private final PrintWriter out;
    private final boolean enabled;
    private final int barWidth;
    private final LongSupplier nanoClock;
    private long total;
    private long done;
    private String label = "";
    private long startNanos;
    private long lastDraw = Long.MIN_VALUE;
    private int lastLength;

    public ProgressBar(PrintWriter out, boolean enabled) {
        this(out, enabled, 30, System::nanoTime);
    }

    public ProgressBar(PrintWriter out, boolean enabled, int barWidth, LongSupplier nanoClock) {
        this.out = out;
        this.enabled = enabled;
        this.barWidth = barWidth;
        this.nanoClock = nanoClock;
        this.startNanos = nanoClock.getAsLong();
    }

    public boolean enabled() {
        return enabled;
    }

    public synchronized void start(long totalSteps) {
        this.total = Math.max(totalSteps, 0);
        this.done = 0;
        this.startNanos = nanoClock.getAsLong();
        this.lastDraw = Long.MIN_VALUE;
        draw(true);
    }

    public synchronized void label(String text) {
        this.label = text == null ? "" : text;
        draw(false);
    }

    public synchronized void step(long steps) {
        done = Math.min(total, done + steps);
        draw(done == total);
    }

    public synchronized long done() {
        return done;
    }

    /** Clears the bar's line. */
    public synchronized void finish() {
        if (enabled && lastLength > 0) {
            out.print("\r" + " ".repeat(lastLength) + "\r");
            out.flush();
            lastLength = 0;
        }
    }

    @Override
    public void close() {
        finish();
    }

    private void draw(boolean force) {
        if (!enabled) {
            return;
        }
        long now = nanoClock.getAsLong();
        if (!force && lastDraw != Long.MIN_VALUE && now - lastDraw < REDRAW_NANOS) {
            return;
        }
        lastDraw = now;
        String line = render(label, done, total, now - startNanos, barWidth);
        String pad = line.length() < lastLength ? " ".repeat(lastLength - line.length()) : "";
        out.print("\r" + line + pad);
        out.flush();
        lastLength = line.length();
    }

    /**
     * One frame: {@code label [#########---------]  12/40  30%  0:07}. The label is cut to 28
     * characters so that the line fits an 80-column terminal.
     */
    public static String render(String label, long done, long total, long elapsedNanos, int barWidth) {
        double fraction = total <= 0 ? 1.0 : Math.min(1.0, (double) done / total);
        int filled = (int) Math.floor(fraction * barWidth);
        String name = label.length() > 28 ? label.substring(0, 27) + "~" : label;
        long secs = Math.max(0, elapsedNanos / 1_000_000_000L);
        return String.format("%-28s [%s%s] %d/%d %3d%% %d:%02d", name, "#".repeat(filled), "-".repeat(barWidth - filled),
                done, total, (int) Math.floor(fraction * 100), secs / 60, secs % 60);
    }
}
