package ep4j.cli.plot;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A line chart to be written as a PNG: title, axis labels, optional log axes (base 2, ticks at
 * whole powers of two), one line with markers per series. This class holds the data only
 * and needs no java.awt; {@link #writePng} draws it with JFreeChart ({@link ChartPng}) where the
 * Java runtime has the java.desktop module, which a trimmed runtime (jlink) may leave out:
 * {@link #canDraw} says which. Points a log axis cannot show (zero, negative) and NaN are left out.
 */
public final class Chart {
    /**
     * One line: points (x[i], y[i]), drawn in colour {@code colour} of the palette (an index,
     * taken modulo its size), solid or dashed.
     */
    public record Series(String name, double[] x, double[] y, int colour, boolean dashed) {
        public Series {
            if (x.length != y.length) {
                throw new IllegalArgumentException("series " + name + ": " + x.length + " x values, " + y.length + " y values");
            }
            if (colour < 0) {
                throw new IllegalArgumentException("series " + name + ": colour " + colour + ", expected an index >= 0");
            }
            x = x.clone();
            y = y.clone();
        }
    }

    private final int width;
    private final int height;
    private String title = "";
    private String xLabel = "";
    private String yLabel = "";
    private boolean logX;
    private boolean logY;
    private boolean integerX;
    private final List<Series> series = new ArrayList<>();

    public Chart(int width, int height) {
        if (width < 200 || height < 150) {
            throw new IllegalArgumentException("chart size " + width + "x" + height + " is below 200x150");
        }
        this.width = width;
        this.height = height;
    }

    /** True when this Java runtime can draw PNGs (it has java.desktop). */
    public static boolean canDraw() {
        return ModuleLayer.boot().findModule("java.desktop").isPresent();
    }

    /** Why {@link #canDraw} is false, for a note or an error message. */
    public static String cannotDrawReason() {
        return "the Java runtime at " + System.getProperty("java.home") + " has no java.desktop module, which drawing"
                + " PNGs needs";
    }

    public Chart title(String title) {
        this.title = title;
        return this;
    }

    public Chart xLabel(String label) {
        this.xLabel = label;
        return this;
    }

    public Chart yLabel(String label) {
        this.yLabel = label;
        return this;
    }

    /** Logarithmic x axis, base 2 (token counts). */
    public Chart logX(boolean log) {
        this.logX = log;
        return this;
    }

    /** Logarithmic y axis, base 2. */
    public Chart logY(boolean log) {
        this.logY = log;
        return this;
    }

    /** Ticks of a linear x axis at whole numbers only (counts such as SMs). */
    public Chart integerX(boolean integers) {
        this.integerX = integers;
        return this;
    }

    /** Adds a solid line in the next colour (the n-th series gets colour n). */
    public Chart add(String name, double[] x, double[] y) {
        return add(name, x, y, series.size(), false);
    }

    /** Adds a line in a chosen colour, e.g. two views of one quantity in one colour, one dashed. */
    public Chart add(String name, double[] x, double[] y, int colour, boolean dashed) {
        series.add(new Series(name, x, y, colour, dashed));
        return this;
    }

    public int width() {
        return width;
    }

    public int height() {
        return height;
    }

    public String title() {
        return title;
    }

    public String xLabel() {
        return xLabel;
    }

    public String yLabel() {
        return yLabel;
    }

    public boolean logX() {
        return logX;
    }

    public boolean logY() {
        return logY;
    }

    public boolean integerX() {
        return integerX;
    }

    public List<Series> series() {
        return List.copyOf(series);
    }

    /** Whether point i of a series can be drawn on these axes. */
    boolean visible(double x, double y) {
        return Double.isFinite(x) && Double.isFinite(y) && (!logX || x > 0) && (!logY || y > 0);
    }

    /**
     * Writes the PNG, creating its folder. Without java.desktop this is an
     * {@link UnsupportedOperationException} saying so (check {@link #canDraw} first).
     */
    public void writePng(Path file) throws IOException {
        if (!canDraw()) {
            throw new UnsupportedOperationException(cannotDrawReason());
        }
        ChartPng.write(this, file);
    }
}
