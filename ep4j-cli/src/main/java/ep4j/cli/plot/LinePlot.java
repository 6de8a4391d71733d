package ep4j.cli.plot;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.AffineTransform;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import javax.imageio.ImageIO;

/**
 * A line chart rendered headless with java.awt into a PNG: one line with markers per series,
 * optional log axes, grid, tick labels, a legend. Points that a log axis cannot show
 * (zero, negative, NaN) are skipped. Works without a display; if the JDK finds no font, the
 * chart is drawn without text rather than failing.
 */
public final class LinePlot {
    static {
        System.setProperty("java.awt.headless", "true");
    }

    /** One line: points (x[i], y[i]). */
    public record Series(String name, double[] x, double[] y) {
        public Series {
            if (x.length != y.length) {
                throw new IllegalArgumentException("series " + name + ": " + x.length + " x values, " + y.length + " y values");
            }
            x = x.clone();
            y = y.clone();
        }
    }

    private static final Color[] PALETTE = {
        new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0xff7f0e),
        new Color(0x9467bd), new Color(0x8c564b), new Color(0xe377c2), new Color(0x17becf),
    };

    private final int width;
    private final int height;
    private String title = "";
    private String xLabel = "";
    private String yLabel = "";
    private boolean logX;
    private boolean logY;
    private final List<Series> series = new ArrayList<>();
    private boolean textWorks = true;

    public LinePlot(int width, int height) {
        if (width < 200 || height < 150) {
            throw new IllegalArgumentException("plot size " + width + "x" + height + " is below 200x150");
        }
        this.width = width;
        this.height = height;
    }

    public LinePlot title(String title) {
        this.title = title;
        return this;
    }

    public LinePlot xLabel(String label) {
        this.xLabel = label;
        return this;
    }

    public LinePlot yLabel(String label) {
        this.yLabel = label;
        return this;
    }

    /** Logarithmic x axis, base 2 (token counts). */
    public LinePlot logX(boolean log) {
        this.logX = log;
        return this;
    }

    /** Logarithmic y axis, base 10. */
    public LinePlot logY(boolean log) {
        this.logY = log;
        return this;
    }

    public LinePlot add(Series s) {
        series.add(s);
        return this;
    }

    public LinePlot add(String name, double[] x, double[] y) {
        return add(new Series(name, x, y));
    }

    public void writePng(Path file) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        BufferedImage img = render();
        if (!ImageIO.write(img, "png", file.toFile())) {
            throw new IOException("no PNG writer in this JDK (javax.imageio)");
        }
    }

    public BufferedImage render() {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        try {
            draw(g);
        } finally {
            g.dispose();
        }
        return img;
    }

    private boolean visible(double x, double y) {
        return Double.isFinite(x) && Double.isFinite(y) && (!logX || x > 0) && (!logY || y > 0);
    }

    private void draw(Graphics2D g) {
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, width, height);
        try {
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        } catch (RuntimeException | Error e) {
            textWorks = false;
        }

        double xmin = Double.POSITIVE_INFINITY;
        double xmax = Double.NEGATIVE_INFINITY;
        double ymin = Double.POSITIVE_INFINITY;
        double ymax = Double.NEGATIVE_INFINITY;
        TreeSet<Double> xs = new TreeSet<>();
        for (Series s : series) {
            for (int i = 0; i < s.x().length; i++) {
                if (visible(s.x()[i], s.y()[i])) {
                    xmin = Math.min(xmin, s.x()[i]);
                    xmax = Math.max(xmax, s.x()[i]);
                    ymin = Math.min(ymin, s.y()[i]);
                    ymax = Math.max(ymax, s.y()[i]);
                    xs.add(s.x()[i]);
                }
            }
        }
        boolean empty = xs.isEmpty();
        if (empty) {
            xmin = logX ? 1 : 0;
            xmax = logX ? 2 : 1;
            ymin = logY ? 1 : 0;
            ymax = logY ? 10 : 1;
        }
        Axis xAxis = new Axis(xmin, xmax, logX, 2, true);
        Axis yAxis = new Axis(ymin, ymax, logY, 10, false);

        int left = 78;
        int right = 24;
        int top = title.isEmpty() ? 24 : 44;
        int bottom = 58;
        int pw = width - left - right;
        int ph = height - top - bottom;

        // Grid and ticks.
        List<Double> xTicks = xAxis.ticks(logX && xs.size() <= 12 && !empty ? new ArrayList<>(xs) : null);
        List<Double> yTicks = yAxis.ticks(null);
        g.setStroke(new BasicStroke(1f));
        for (double t : xTicks) {
            int px = left + (int) Math.round(xAxis.frac(t) * pw);
            g.setColor(new Color(0xE6E6E6));
            g.drawLine(px, top, px, top + ph);
            g.setColor(Color.DARK_GRAY);
            g.drawLine(px, top + ph, px, top + ph + 4);
            text(g, Axis.label(t), px, top + ph + 18, 0.5);
        }
        for (double t : yTicks) {
            int py = top + ph - (int) Math.round(yAxis.frac(t) * ph);
            g.setColor(new Color(0xE6E6E6));
            g.drawLine(left, py, left + pw, py);
            g.setColor(Color.DARK_GRAY);
            g.drawLine(left - 4, py, left, py);
            text(g, Axis.label(t), left - 7, py + 4, 1.0);
        }
        g.setColor(Color.DARK_GRAY);
        g.drawRect(left, top, pw, ph);

        // Labels.
        if (!title.isEmpty()) {
            withFont(g, Font.BOLD, 14, () -> text(g, title, width / 2, 26, 0.5));
        }
        text(g, xLabel, left + pw / 2, height - 16, 0.5);
        if (!yLabel.isEmpty() && textWorks) {
            AffineTransform saved = g.getTransform();
            g.rotate(-Math.PI / 2);
            text(g, yLabel, -(top + ph / 2), 18, 0.5);
            g.setTransform(saved);
        }
        if (empty) {
            text(g, "no data", left + pw / 2, top + ph / 2, 0.5);
            return;
        }

        // Lines.
        g.setClip(left - 5, top - 5, pw + 10, ph + 10);
        for (int si = 0; si < series.size(); si++) {
            Series s = series.get(si);
            Color color = PALETTE[si % PALETTE.length];
            g.setColor(color);
            g.setStroke(new BasicStroke(2f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND,
                    10f, si >= PALETTE.length ? new float[] {6f, 4f} : null, 0f));
            Path2D.Double path = new Path2D.Double();
            boolean started = false;
            for (int i = 0; i < s.x().length; i++) {
                if (!visible(s.x()[i], s.y()[i])) {
                    continue;
                }
                double px = left + xAxis.frac(s.x()[i]) * pw;
                double py = top + ph - yAxis.frac(s.y()[i]) * ph;
                if (started) {
                    path.lineTo(px, py);
                } else {
                    path.moveTo(px, py);
                    started = true;
                }
                g.fillOval((int) Math.round(px) - 3, (int) Math.round(py) - 3, 7, 7);
            }
            g.draw(path);
        }
        g.setClip(null);

        // Legend, top left inside the plot.
        if (textWorks && !series.isEmpty()) {
            FontMetrics fm = g.getFontMetrics();
            int lw = 0;
            for (Series s : series) {
                lw = Math.max(lw, fm.stringWidth(s.name()));
            }
            int boxW = lw + 40;
            int boxH = series.size() * 17 + 8;
            int bx = left + 10;
            int by = top + 10;
            g.setColor(new Color(255, 255, 255, 230));
            g.fillRect(bx, by, boxW, boxH);
            g.setColor(Color.GRAY);
            g.setStroke(new BasicStroke(1f));
            g.drawRect(bx, by, boxW, boxH);
            for (int si = 0; si < series.size(); si++) {
                int ly = by + 14 + si * 17;
                g.setColor(PALETTE[si % PALETTE.length]);
                g.setStroke(new BasicStroke(2f));
                g.drawLine(bx + 6, ly - 4, bx + 26, ly - 4);
                g.setColor(Color.BLACK);
                text(g, series.get(si).name(), bx + 32, ly, 0.0);
            }
        }
    }

    private void withFont(Graphics2D g, int style, int size, Runnable r) {
        if (!textWorks) {
            return;
        }
        Font saved = g.getFont();
        g.setFont(new Font(Font.SANS_SERIF, style, size));
        r.run();
        g.setFont(saved);
    }

    /** Draws text anchored at {@code x} by {@code align} (0 left, 0.5 centre, 1 right); does nothing once fonts failed. */
    private void text(Graphics2D g, String s, int x, int y, double align) {
        if (!textWorks || s == null || s.isEmpty()) {
            return;
        }
        try {
            Color saved = g.getColor();
            if (saved.equals(Color.WHITE)) {
                g.setColor(Color.BLACK);
            }
            int w = g.getFontMetrics().stringWidth(s);
            g.drawString(s, x - (int) Math.round(w * align), y);
            g.setColor(saved);
        } catch (RuntimeException | InternalError | LinkageError e) {
            textWorks = false;
        }
    }

    /** Maps data values to [0, 1] along an axis, with padding, and picks ticks. */
    static final class Axis {
        final boolean log;
        final double base;
        final double lo;
        final double hi;

        Axis(double min, double max, boolean log, double base, boolean isX) {
            this.log = log;
            this.base = base;
            double a = log ? Math.log(min) / Math.log(base) : min;
            double b = log ? Math.log(max) / Math.log(base) : max;
            if (b - a < 1e-12) {
                double pad = log ? 0.5 : Math.max(Math.abs(a) * 0.1, 1);
                a -= pad;
                b += pad;
            } else {
                double pad = (b - a) * (isX ? 0.04 : 0.08);
                a -= pad;
                b += pad;
            }
            if (!log && !isX && min >= 0 && a < 0) {
                a = 0;
            }
            lo = a;
            hi = b;
        }

        double frac(double v) {
            double t = log ? Math.log(v) / Math.log(base) : v;
            return (t - lo) / (hi - lo);
        }

        List<Double> ticks(List<Double> preferred) {
            List<Double> out = new ArrayList<>();
            if (preferred != null) {
                out.addAll(preferred);
                return out;
            }
            if (log) {
                for (double e = Math.ceil(lo); e <= Math.floor(hi); e++) {
                    out.add(Math.pow(base, e));
                }
                if (out.size() < 3 && base == 10) {
                    // Two decades or less: add 2x and 5x marks.
                    out.clear();
                    for (double e = Math.floor(lo); e <= Math.ceil(hi); e++) {
                        for (double m : new double[] {1, 2, 5}) {
                            double v = m * Math.pow(10, e);
                            double t = Math.log10(v);
                            if (t >= lo && t <= hi) {
                                out.add(v);
                            }
                        }
                    }
                }
                return out;
            }
            double span = hi - lo;
            double raw = span / 6;
            double mag = Math.pow(10, Math.floor(Math.log10(raw)));
            double step = mag;
            for (double m : new double[] {1, 2, 2.5, 5, 10}) {
                if (m * mag >= raw) {
                    step = m * mag;
                    break;
                }
            }
            for (double v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
                out.add(Math.abs(v) < step * 1e-9 ? 0 : v);
            }
            return out;
        }

        static String label(double v) {
            double a = Math.abs(v);
            if (a == 0) {
                return "0";
            }
            if (a >= 1e6 || a < 1e-3) {
                int exp = (int) Math.floor(Math.log10(a));
                double m = v / Math.pow(10, exp);
                String mant = Math.abs(m - Math.rint(m)) < 1e-9 ? Long.toString(Math.round(m))
                        : String.format(java.util.Locale.ROOT, "%.1f", m);
                return mant + "e" + exp;
            }
            if (v == Math.rint(v)) {
                return Long.toString((long) v);
            }
            String s = String.format("%.3f", v);
            return s.replaceAll("0+$", "").replaceAll("\\.$", "");
        }
    }
}
