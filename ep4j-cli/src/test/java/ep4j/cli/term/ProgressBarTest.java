package ep4j.cli.term;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ProgressBarTest {
    @Test
    void rendersAFrame() {
        String frame = ProgressBar.render("dispatch bf16", 12, 40, 67_000_000_000L, 10);
        assertEquals("dispatch bf16                [###-------] 12/40  30% 1:07", frame);
        assertEquals("x                            [##########] 5/5 100% 0:00", ProgressBar.render("x", 5, 5, 0, 10));
        assertEquals("a-very-long-label-that-goes~ [----] 0/0 100% 0:00".replace("[----] 0/0 100%", "[####] 0/0 100%"),
                ProgressBar.render("a-very-long-label-that-goes-on-and-on", 0, 0, 0, 4));
    }

    @Test
    void writesNothingWhenNotATerminal() {
        StringWriter sw = new StringWriter();
        try (ProgressBar bar = new ProgressBar(new PrintWriter(sw), false)) {
            bar.start(10);
            bar.label("work");
            for (int i = 0; i < 10; i++) {
                bar.step(1);
            }
            assertEquals(10, bar.done());
        }
        assertEquals("", sw.toString());
    }

    @Test
    void redrawsInPlaceThrottledAndClearsWhenForced() {
        StringWriter sw = new StringWriter();
        AtomicLong now = new AtomicLong();
        ProgressBar bar = new ProgressBar(new PrintWriter(sw), true, 10, now::get);
        bar.start(4);
        bar.label("a");
        bar.step(1); // within 100 ms of the start frame: not drawn
        now.addAndGet(200_000_000L);
        bar.step(1);
        bar.step(2); // the last step is always drawn
        bar.finish();
        String s = sw.toString();
        assertEquals(3, s.chars().filter(c -> c == '\r').count() - 2, s); // 3 frames + 2 from clearing
        assertTrue(s.contains("[#####-----] 2/4  50%"), s);
        assertTrue(s.contains("[##########] 4/4 100%"), s);
        assertTrue(!s.contains("1/4"), s);
        assertTrue(s.endsWith("\r"), s);
        assertTrue(!s.contains("\n"), s);
    }
}
