package ep4j.cli.plot;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.DecimalFormat;
import java.text.DecimalFormatSymbols;
import java.util.List;
import java.util.Locale;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.axis.TickUnits;
import org.jfree.chart.axis.ValueAxis;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * Draws a {@link Chart} with JFreeChart, headless, into a PNG. The only class that touches
 * java.awt: load it only where {@link Chart#canDraw} is true.
 */
final class ChartPng {
    /** Series colours, in order. */
    static final Color[] PALETTE = {
        new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0xff7f0e),
        new Color(0x9467bd), new Color(0x8c564b), new Color(0xe377c2), new Color(0x17becf),
    };
    private static final Color GRID = new Color(0xD0D0D0);
    private static final BasicStroke SOLID = new BasicStroke(2f);
    private static final BasicStroke DASHED = new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f,
            new float[] {8f, 5f}, 0f);

    static {
        System.setProperty("java.awt.headless", "true");
    }

    private ChartPng() {
    }

    static void write(Chart chart, Path file) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        JFreeChart jf = toJFreeChart(chart);
        try (OutputStream out = Files.newOutputStream(file)) {
            ChartUtils.writeChartAsPNG(out, jf, chart.width(), chart.height());
        }
    }

    static JFreeChart toJFreeChart(Chart chart) {
        XYSeriesCollection data = new XYSeriesCollection();
        for (Chart.Series s : chart.series()) {
            XYSeries xy = new XYSeries(s.name(), false, true);
            for (int i = 0; i < s.x().length; i++) {
                if (chart.visible(s.x()[i], s.y()[i])) {
                    xy.add(s.x()[i], s.y()[i]);
                }
            }
            data.addSeries(xy);
        }
        JFreeChart jf = ChartFactory.createXYLineChart(chart.title(), chart.xLabel(), chart.yLabel(), data,
                PlotOrientation.VERTICAL, true, false, false);
        jf.setBackgroundPaint(Color.WHITE);
        jf.getTitle().setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        jf.setAntiAlias(true);
        XYPlot plot = jf.getXYPlot();
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(GRID);
        plot.setRangeGridlinePaint(GRID);
        plot.setNoDataMessage("no data");
        plot.setDomainAxis(axis(chart.xLabel(), chart.logX(), chart.integerX(), hasData(data)));
        plot.setRangeAxis(axis(chart.yLabel(), chart.logY(), false, hasData(data)));
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, true);
        List<Chart.Series> series = chart.series();
        for (int i = 0; i < series.size(); i++) {
            Chart.Series s = series.get(i);
            renderer.setSeriesPaint(i, PALETTE[s.colour() % PALETTE.length]);
            renderer.setSeriesStroke(i, s.dashed() ? DASHED : SOLID);
        }
        plot.setRenderer(renderer);
        return jf;
    }

    private static boolean hasData(XYSeriesCollection data) {
        List<?> all = data.getSeries();
        return all.stream().anyMatch(s -> ((XYSeries) s).getItemCount() > 0);
    }

    /**
     * A log axis, base 2, with ticks at whole powers of two labelled as plain numbers (512, 1024;
     * 0.25), or a linear one, with whole-number ticks when asked.
     */
    private static ValueAxis axis(String label, boolean log, boolean integers, boolean hasData) {
        if (!log || !hasData) {
            NumberAxis a = new NumberAxis(label);
            a.setAutoRangeIncludesZero(false);
            if (integers) {
                a.setStandardTickUnits(NumberAxis.createIntegerTickUnits(Locale.ROOT));
            }
            return a;
        }
        LogAxis a = new LogAxis(label);
        a.setBase(2);
        DecimalFormat plain = new DecimalFormat("0.###", DecimalFormatSymbols.getInstance(Locale.ROOT));
        TickUnits wholePowers = new TickUnits();
        for (int step : new int[] {1, 2, 3, 4, 5, 10, 20}) {
            wholePowers.add(new NumberTickUnit(step, plain));
        }
        a.setStandardTickUnits(wholePowers);
        a.setNumberFormatOverride(plain);
        a.setAutoRange(true);
        return a;
    }
}
