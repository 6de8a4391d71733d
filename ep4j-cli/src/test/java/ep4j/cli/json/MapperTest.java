package ep4j.cli.json;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MapperTest {
    @TempDir
    Path dir;

    record Point(String caseName, int tokens, double timeUs, Double gpuUs, double[] values) {
    }

    @Test
    void writesSnakeCaseIndentedWithNullForNonFiniteNumbers() throws Exception {
        String text = Mapper.write(new Point("a \"q\"\n", 3, 1.5, Double.NaN, new double[] {1, Double.POSITIVE_INFINITY}));
        assertTrue(text.endsWith("}\n"), text);
        assertTrue(text.contains("\n  \"case_name\": \"a \\\"q\\\"\\n\",\n"), text);
        assertTrue(text.contains("\"time_us\": 1.5"), text);
        assertTrue(text.contains("\"gpu_us\": null"), text);
        JsonNode back = Mapper.get().readTree(text);
        assertEquals("a \"q\"\n", back.get("case_name").asText());
        assertEquals(3, back.get("tokens").intValue());
        assertTrue(back.get("values").get(1).isNull(), text);
        Point p = Mapper.get().readValue(text, Point.class);
        assertEquals(1.5, p.timeUs());
        assertEquals(null, p.gpuUs());

        Map<String, Object> m = new LinkedHashMap<>();
        m.put("nan", Double.NaN);
        m.put("list", List.of(1, 2));
        Path file = dir.resolve("sub/m.json");
        Mapper.write(file, m);
        JsonNode mm = Mapper.get().readTree(Files.readString(file));
        assertTrue(mm.get("nan").isNull());
        assertEquals(List.of("nan", "list"), List.copyOf(iterable(mm)));
    }

    private static List<String> iterable(JsonNode n) {
        List<String> out = new java.util.ArrayList<>();
        n.fieldNames().forEachRemaining(out::add);
        return out;
    }

    @Test
    void readsWhatPythonWritesAndIgnoresUnknownNames() throws Exception {
        Point p = Mapper.get().readValue("{\"case_name\": \"\\u00e9\", \"tokens\": 2, \"time_us\": 1e-3, \"extra\": [1]}",
                Point.class);
        assertEquals("\u00e9", p.caseName());
        assertEquals(2, p.tokens());
        assertEquals(1e-3, p.timeUs());
    }

    @Test
    void describesErrorsOnOneLineWithTheirPlace() {
        JsonProcessingException syntax = assertThrows(JsonProcessingException.class,
                () -> Mapper.get().readTree("{\"a\": 1,\n \"b\" 2}"));
        String s = Mapper.describe(syntax);
        assertTrue(s.startsWith("invalid JSON at line 2, column "), s);
        assertEquals(1, s.lines().count(), s);

        JsonProcessingException twice = assertThrows(JsonProcessingException.class,
                () -> Mapper.get().readTree("{\"a\": 1, \"a\": 2}"));
        assertTrue(Mapper.describe(twice).contains("Duplicate field 'a'"), Mapper.describe(twice));

        JsonProcessingException kind = assertThrows(JsonProcessingException.class,
                () -> Mapper.get().readValue("{\"tokens\": \"many\"}", Point.class));
        String k = Mapper.describe(kind);
        assertTrue(k.startsWith("\"tokens\" at line 1, column "), k);
        assertTrue(k.contains("\"many\""), k);
        assertEquals(1, k.lines().count(), k);
    }
}
