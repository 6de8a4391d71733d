package ep4j.cli.plot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.jfree.data.xy.XYSeriesCollection;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ChartTest {
    @TempDir
    Path dir;

    static BufferedImage png(Path p) throws IOException {
        byte[] head = Files.readAllBytes(p);
        assertEquals((byte) 0x89, head[0]);
        assertEquals("PNG", new String(head, 1, 3, java.nio.charset.StandardCharsets.US_ASCII));
        BufferedImage img = ImageIO.read(p.toFile());
        assertNotNull(img);
        return img;
    }

    /** Pixels of exactly this colour. */
    static int count(BufferedImage img, int rgb) {
        int n = 0;
        for (int y = 0; y < img.getHeight(); y++) {
            for (int x = 0; x < img.getWidth(); x++) {
                n += (img.getRGB(x, y) & 0xFFFFFF) == rgb ? 1 : 0;
            }
        }
        return n;
    }

    @Test
    void thisJdkCanDraw() {
        assertTrue(Chart.canDraw(), "the JDK the tests run on has java.desktop");
    }

    @Test
    void writesAPngOfTheRequestedSizeWithEachSeriesInItsColour() throws IOException {
        Path p = dir.resolve("sub/plot.png");
        new Chart(640, 400).title("t").xLabel("tokens").yLabel("us").logX(true).logY(true)
                .add("a", new double[] {512, 1024, 2048}, new double[] {10, 20, 40})
                .add("b", new double[] {16, 32, 0}, new double[] {1, 2, 3}) // x = 0 is left out on a log axis
                .writePng(p);
        BufferedImage img = png(p);
        assertEquals(640, img.getWidth());
        assertEquals(400, img.getHeight());
        assertTrue(count(img, 0x1f77b4) > 100, "the first series' line");
        assertTrue(count(img, 0xd62728) > 20, "the second series' line");
        assertTrue(count(img, 0xFFFFFF) < 640 * 400, "not blank");
    }

    @Test
    void pointsALogAxisCannotShowAreLeftOut() {
        Chart c = new Chart(300, 200).logX(true).logY(true)
                .add("s", new double[] {0, 1, 2, 4, Double.NaN}, new double[] {1, -1, 5, 6, 7});
        XYSeriesCollection data = (XYSeriesCollection) ChartPng.toJFreeChart(c).getXYPlot().getDataset();
        assertEquals(2, data.getSeries(0).getItemCount());
        Chart lin = new Chart(300, 200).add("s", new double[] {0, 1, 2}, new double[] {-1, 0, 1});
        assertEquals(3, ((XYSeriesCollection) ChartPng.toJFreeChart(lin).getXYPlot().getDataset()).getSeries(0)
                .getItemCount());
    }

    @Test
    void emptyAndLinearChartsRender() throws IOException {
        new Chart(300, 200).logX(true).logY(true).writePng(dir.resolve("empty.png"));
        assertEquals(300, png(dir.resolve("empty.png")).getWidth());
        new Chart(300, 200).add("c", new double[] {1, 2, 3}, new double[] {5, 5, 5}).writePng(dir.resolve("flat.png"));
        assertEquals(200, png(dir.resolve("flat.png")).getHeight());
    }

    @Test
    void seriesMayShareAColourAndBeDashed() throws IOException {
        Path p = dir.resolve("pair.png");
        Chart c = new Chart(640, 400).logX(true)
                .add("gpu", new double[] {1, 2, 4}, new double[] {10, 12, 20}, 2, false)
                .add("wall", new double[] {1, 2, 4}, new double[] {30, 35, 50}, 2, true)
                .add("next", new double[] {1, 4}, new double[] {5, 5});
        assertEquals(2, c.series().get(2).colour(), "a plain add takes the next index: the series count");
        c.writePng(p);
        BufferedImage img = png(p);
        assertTrue(count(img, 0x2ca02c) > 200, "both lines of colour 2");
        assertEquals(0, count(img, 0x1f77b4), "colour 0 is not used");
        assertEquals(0, count(img, 0xd62728), "colour 1 is not used");
        // A dashed line leaves gaps: fewer pixels than the same line solid.
        Chart solid = new Chart(640, 400).add("s", new double[] {1, 100}, new double[] {1, 100}, 0, false);
        Chart dashed = new Chart(640, 400).add("s", new double[] {1, 100}, new double[] {1, 100}, 0, true);
        solid.writePng(dir.resolve("solid.png"));
        dashed.writePng(dir.resolve("dashed.png"));
        int solidPixels = count(png(dir.resolve("solid.png")), 0x1f77b4);
        int dashedPixels = count(png(dir.resolve("dashed.png")), 0x1f77b4);
        assertTrue(dashedPixels < solidPixels * 0.8, dashedPixels + " dashed vs " + solidPixels + " solid");
    }

    @Test
    void badArgumentsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new Chart(100, 100));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Chart(300, 200).add("s", new double[] {1, 2}, new double[] {1}));
        assertEquals("series s: 2 x values, 1 y values", e.getMessage());
        IllegalArgumentException colour = assertThrows(IllegalArgumentException.class,
                () -> new Chart(300, 200).add("s", new double[] {1}, new double[] {1}, -1, false));
        assertEquals("series s: colour -1, expected an index >= 0", colour.getMessage());
    }
}
