package ep4j.cli.plot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LinePlotTest {
    @TempDir
    Path dir;

    @Test
    void writesAValidPngOfTheRequestedSizeWithTheLines() throws IOException {
        Path png = dir.resolve("sub/plot.png");
        LinePlot plot = new LinePlot(640, 400).title("t").xLabel("tokens").yLabel("us").logX(true).logY(true)
                .add("a", new double[] {512, 1024, 2048}, new double[] {10, 20, 40})
                .add("b", new double[] {16, 32, 0}, new double[] {1, 2, 3}); // x = 0 is skipped on a log axis
        plot.writePng(png);
        byte[] head = Files.readAllBytes(png);
        assertEquals((byte) 0x89, head[0]);
        assertEquals('P', head[1]);
        assertEquals('N', head[2]);
        assertEquals('G', head[3]);
        BufferedImage img = ImageIO.read(png.toFile());
        assertNotNull(img);
        assertEquals(640, img.getWidth());
        assertEquals(400, img.getHeight());
        // The first series colour (0x1f77b4) is somewhere in the picture, and the picture is not blank.
        boolean blue = false;
        int white = 0;
        for (int y = 0; y < img.getHeight(); y++) {
            for (int x = 0; x < img.getWidth(); x++) {
                int rgb = img.getRGB(x, y) & 0xFFFFFF;
                blue |= rgb == 0x1f77b4;
                white += rgb == 0xFFFFFF ? 1 : 0;
            }
        }
        assertTrue(blue, "no pixel of the first series");
        assertNotEquals(640 * 400, white);
    }

    @Test
    void emptyAndLinearPlotsRender() {
        BufferedImage empty = new LinePlot(300, 200).render();
        assertEquals(300, empty.getWidth());
        BufferedImage lin = new LinePlot(300, 200).add("c", new double[] {1, 2, 3}, new double[] {5, 5, 5}).render();
        assertEquals(200, lin.getHeight());
    }

    @Test
    void tickLabels() {
        assertEquals("1024", LinePlot.Axis.label(1024));
        assertEquals("0.25", LinePlot.Axis.label(0.25));
        assertEquals("1e6", LinePlot.Axis.label(1e6));
        assertEquals("2.5e7", LinePlot.Axis.label(2.5e7));
        assertEquals("1e-4", LinePlot.Axis.label(1e-4));
    }
}
