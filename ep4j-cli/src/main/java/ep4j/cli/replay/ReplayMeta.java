package ep4j.cli.replay;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import ep4j.cli.json.Mapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * {@code meta.json} of a saved case: {@code ranks}, {@code experts}, {@code hidden}, {@code topk},
 * positive JSON integers (other names are ignored). They must fit what ep4j runs: 1 to
 * {@value #MAX_RANKS} ranks, experts a multiple of ranks, topk at most experts (and at most
 * {@value #MAX_TOPK}), hidden a multiple of 8.
 */
public record ReplayMeta(int ranks, int experts, int hidden, int topk) {
    /** The largest group ep4j forms (GroupSpec) and the largest topk a buffer takes (BufferSpec). */
    static final int MAX_RANKS = 1024;
    static final int MAX_TOPK = 1024;
    private static final String KEYS = "\"ranks\", \"experts\", \"hidden\" and \"topk\"";

    public static ReplayMeta read(Path file) throws IOException {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new ReplayException(file + ": not found (a replay folder holds meta.json and rank0/, rank1/, ...)");
        } catch (java.nio.charset.MalformedInputException e) {
            throw new ReplayException(file + ": not UTF-8 text (expected a JSON object with " + KEYS + ")");
        }
        JsonNode root;
        try {
            root = Mapper.get().readTree(text);
        } catch (JsonProcessingException e) {
            throw new ReplayException(file + ": " + Mapper.describe(e));
        }
        if (root == null || root.isMissingNode()) {
            throw new ReplayException(file + ": empty, expected a JSON object with " + KEYS);
        }
        if (!root.isObject()) {
            throw new ReplayException(file + ": the document is " + kind(root) + ", expected a JSON object with " + KEYS);
        }
        ReplayMeta meta = new ReplayMeta(count(file, root, "ranks"), count(file, root, "experts"),
                count(file, root, "hidden"), count(file, root, "topk"));
        if (meta.ranks > MAX_RANKS) {
            throw new ReplayException(file + ": \"ranks\" = " + meta.ranks + ", expected 1 to " + MAX_RANKS);
        }
        if (meta.experts % meta.ranks != 0) {
            throw new ReplayException(file + ": \"experts\" = " + meta.experts + ", expected a multiple of \"ranks\" = "
                    + meta.ranks);
        }
        if (meta.topk > Math.min(meta.experts, MAX_TOPK)) {
            throw new ReplayException(file + ": \"topk\" = " + meta.topk + ", expected 1 to " + Math.min(meta.experts, MAX_TOPK)
                    + (meta.experts <= MAX_TOPK ? " (\"experts\" = " + meta.experts + ")" : ""));
        }
        if (meta.hidden % 8 != 0) {
            throw new ReplayException(file + ": \"hidden\" = " + meta.hidden + ", expected a multiple of 8");
        }
        return meta;
    }

    private static int count(Path file, JsonNode root, String key) {
        JsonNode v = root.get(key);
        if (v == null) {
            throw new ReplayException(file + ": no \"" + key + "\", expected a JSON object with " + KEYS
                    + " (positive integers)");
        }
        if (v.isIntegralNumber() && v.canConvertToInt() && v.intValue() > 0) {
            return v.intValue();
        }
        String hint = "";
        if (v.isTextual() && v.asText().strip().matches("\\d{1,9}")) {
            hint = ": write \"" + key + "\": " + v.asText().strip() + ", without quotes";
        }
        if (v.isIntegralNumber()) {
            throw new ReplayException(file + ": \"" + key + "\" = " + v + ", expected a positive integer"
                    + (v.canConvertToInt() ? "" : " up to " + Integer.MAX_VALUE));
        }
        throw new ReplayException(file + ": \"" + key + "\" = " + v + " (" + kind(v) + "), expected a positive integer"
                + hint);
    }

    /** What a JSON value is, in words. */
    private static String kind(JsonNode v) {
        if (v.isTextual()) {
            return "a string";
        }
        if (v.isIntegralNumber()) {
            return "an integer";
        }
        if (v.isNumber()) {
            return "a number with a fraction or exponent";
        }
        if (v.isBoolean()) {
            return "a boolean";
        }
        if (v.isNull()) {
            return "null";
        }
        if (v.isArray()) {
            return "an array";
        }
        return v.isObject() ? "an object" : v.getNodeType().toString().toLowerCase(java.util.Locale.ROOT);
    }

    public int localExperts() {
        return experts / ranks;
    }
}
