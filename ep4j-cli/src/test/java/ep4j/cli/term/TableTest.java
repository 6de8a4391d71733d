package ep4j.cli.term;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class TableTest {
    @Test
    void alignsTextLeftAndNumbersRight() {
        Table t = new Table("case", "ranks", "time us", "ratio");
        t.row("dispatch bf16", 4, "1234.5", "0.81");
        t.row("ll combine bf16", 16, "12.0", null);
        String expected = """
                case             ranks  time us  ratio
                ---------------  -----  -------  -----
                dispatch bf16        4   1234.5   0.81
                ll combine bf16     16     12.0      -
                """;
        assertEquals(expected, t.render());
        assertEquals(2, t.rowCount());
    }

    @Test
    void headerOnlyAndWrongRowWidth() {
        assertEquals("a  bb\n-  --\n", new Table("a", "bb").render());
        assertThrows(IllegalArgumentException.class, () -> new Table("a", "b").row("x"));
    }
}
