package ep4j.cli.json;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {
    @Test
    void writesAndReadsBack() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", "a \"q\"\n\\");
        m.put("n", 3);
        m.put("x", 1.5);
        m.put("nan", Double.NaN);
        m.put("ok", true);
        m.put("none", null);
        m.put("list", List.of(1, 2, 3));
        m.put("ints", new int[] {4, 5});
        m.put("objs", List.of(Map.of("k", "v")));
        String text = Json.write(m);
        assertTrue(text.contains("\"list\": [1, 2, 3]"), text);
        assertTrue(text.contains("\"nan\": null"), text);
        @SuppressWarnings("unchecked")
        Map<String, Object> back = (Map<String, Object>) Json.parse(text);
        assertEquals("a \"q\"\n\\", back.get("name"));
        assertEquals(3L, back.get("n"));
        assertEquals(1.5, back.get("x"));
        assertEquals(null, back.get("nan"));
        assertEquals(true, back.get("ok"));
        assertEquals(List.of(1L, 2L, 3L), back.get("list"));
        assertEquals(List.of(4L, 5L), back.get("ints"));
        assertEquals(List.of(Map.of("k", "v")), back.get("objs"));
        assertEquals(List.of("k"), List.copyOf(((Map<?, ?>) ((List<?>) back.get("objs")).get(0)).keySet()));
    }

    @Test
    void parsesWhatPythonWrites() {
        Object v = Json.parse("{\"ranks\": 2, \"experts\": 8, \"scale\": 1e-3, \"u\": \"\\u00e9\", \"a\": [] , \"o\": {}}");
        Map<?, ?> m = (Map<?, ?>) v;
        assertEquals(2L, m.get("ranks"));
        assertEquals(1e-3, m.get("scale"));
        assertEquals("\u00e9", m.get("u"));
    }

    @Test
    void syntaxErrorsNameThePosition() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Json.parse("{\"a\": 1,\n \"b\" 2}"));
        assertTrue(e.getMessage().contains("line 2"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Json.parse("[1, 2"));
        assertThrows(IllegalArgumentException.class, () -> Json.parse("{} x"));
    }
}
