package ep4j.cli.job;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import ep4j.cli.json.Mapper;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * What every rank of a job must hold alike, agreed through the job's rendezvous (values as JSON,
 * {@link Mapper}'s): {@link #rankZeros} for a choice each rank would make from its own machine (a
 * size fitted to its memory), {@link #same} for what every rank must have been given alike (the
 * launcher passes every rank the same arguments, but nothing else makes sure of it).
 */
public final class Agreement {
    private Agreement() {
    }

    /**
     * Rank 0's value; every rank calls it (a collective).
     *
     * @param name what is agreed, a key of the rendezvous (letters, digits, dots, dashes)
     */
    public static <T> T rankZeros(Job job, String name, T mine, Class<T> type, Duration timeout) {
        byte[] zero = job.allGather(name, json(mine), timeout).get(0);
        try {
            return Mapper.get().readValue(zero, type);
        } catch (java.io.IOException e) {
            throw new IllegalStateException("rank 0's " + name + " could not be read: " + e.getMessage(), e);
        }
    }

    /**
     * Checks that every rank holds the same value (a collective).
     *
     * @param what what the value is, for the message (e.g. "bench settings")
     * @throws IllegalArgumentException naming the first rank and field that differ from rank 0's,
     *                                  with both values
     */
    public static void same(Job job, String what, Object mine, Duration timeout) {
        List<byte[]> all = job.allGather("same." + what.replaceAll("[^A-Za-z0-9]+", "-"), json(mine), timeout);
        JsonNode zero = tree(all.get(0));
        for (int r = 1; r < all.size(); r++) {
            String[] diff = difference("", zero, tree(all.get(r)));
            if (diff != null) {
                throw new IllegalArgumentException("rank " + r + "'s " + what + " differ from rank 0's: " + diff[0]
                        + " = " + diff[1] + " on rank 0, " + diff[2] + " on rank " + r
                        + "; expected every rank of the job to be given the same options");
            }
        }
    }

    /** Where {@code a} and {@code b} first differ: {path, a's value, b's value}; null when they are equal. */
    static String[] difference(String path, JsonNode a, JsonNode b) {
        if (a.equals(b)) {
            return null;
        }
        if (a.isObject() && b.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = a.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String at = path.isEmpty() ? e.getKey() : path + "." + e.getKey();
                JsonNode other = b.get(e.getKey());
                String[] d = other == null ? new String[] {at, e.getValue().toString(), "(none)"}
                        : difference(at, e.getValue(), other);
                if (d != null) {
                    return d;
                }
            }
            for (Iterator<String> it = b.fieldNames(); it.hasNext(); ) {
                String k = it.next();
                if (!a.has(k)) {
                    return new String[] {path.isEmpty() ? k : path + "." + k, "(none)", b.get(k).toString()};
                }
            }
        }
        return new String[] {path.isEmpty() ? "value" : path, a.toString(), b.toString()};
    }

    private static byte[] json(Object value) {
        return Mapper.write(value).getBytes(StandardCharsets.UTF_8);
    }

    private static JsonNode tree(byte[] json) {
        try {
            return Mapper.get().readTree(json);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a rank's value is not JSON: " + e.getOriginalMessage(), e);
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
