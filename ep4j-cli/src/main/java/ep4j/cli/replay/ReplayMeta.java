package ep4j.cli.replay;

import ep4j.cli.json.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;

/** {@code meta.json} of a saved case: {@code ranks}, {@code experts}, {@code hidden}, {@code topk}. */
public record ReplayMeta(int ranks, int experts, int hidden, int topk) {

    public static ReplayMeta read(Path file) throws IOException {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new ReplayException(file + ": not found (a replay folder holds meta.json and rank0/, rank1/, ...)");
        }
        Object parsed;
        try {
            parsed = Json.parse(text);
        } catch (IllegalArgumentException e) {
            throw new ReplayException(file + ": " + e.getMessage());
        }
        if (!(parsed instanceof Map<?, ?> m)) {
            throw new ReplayException(file + ": expected a JSON object with ranks, experts, hidden, topk");
        }
        ReplayMeta meta = new ReplayMeta(count(file, m, "ranks"), count(file, m, "experts"), count(file, m, "hidden"),
                count(file, m, "topk"));
        if (meta.experts % meta.ranks != 0) {
            throw new ReplayException(file + ": experts = " + meta.experts + " is not a multiple of ranks = " + meta.ranks);
        }
        if (meta.hidden % 8 != 0) {
            throw new ReplayException(file + ": hidden = " + meta.hidden + " is not a multiple of 8");
        }
        return meta;
    }

    private static int count(Path file, Map<?, ?> m, String key) {
        Object v = m.get(key);
        if (v == null) {
            throw new ReplayException(file + ": no \"" + key + "\" (expected ranks, experts, hidden, topk)");
        }
        if (!(v instanceof Long l) || l <= 0 || l > Integer.MAX_VALUE) {
            throw new ReplayException(file + ": \"" + key + "\" = " + v + ", expected a positive integer");
        }
        return (int) (long) l;
    }

    public int localExperts() {
        return experts / ranks;
    }
}
