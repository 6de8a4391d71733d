package ep4j.cli.job;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import ep4j.cli.json.Mapper;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** Rank 0's choice for all, and settings that must be alike, checked through a job's rendezvous. */
class AgreementTest {
    static final Duration TIMEOUT = Duration.ofSeconds(20);

    record Sizes(int tokens, int[] sweep, String backend) {
    }

    @Test
    void everyRankTakesRankZerosValueAndADifferenceIsNamedWithBothValues() throws Exception {
        List<Future<String>> results = TwoRanks.run((job, group) -> {
            Sizes mine = new Sizes(job.rank() == 0 ? 128 : 64, new int[] {16, 32}, "cpu");
            Sizes agreed = Agreement.rankZeros(job, "test.sizes", mine, Sizes.class, TIMEOUT);
            assertEquals(128, agreed.tokens(), "rank " + job.rank());
            assertArrayEquals(new int[] {16, 32}, agreed.sweep());
            Agreement.same(job, "test settings", agreed, TIMEOUT); // alike now: passes
            Agreement.same(job, "test settings", mine, TIMEOUT);   // not alike: fails on every rank
            return "passed";
        });
        for (Future<String> f : results) {
            ExecutionException e = assertThrows(ExecutionException.class, f::get);
            assertTrue(e.getCause() instanceof IllegalArgumentException, e.toString());
            assertEquals("rank 1's test settings differ from rank 0's: tokens = 128 on rank 0, 64 on rank 1; expected"
                    + " every rank of the job to be given the same options", e.getCause().getMessage());
        }
    }

    @Test
    void theFirstDifferenceIsFoundInNestedValues() throws Exception {
        JsonNode a = Mapper.get().readTree("{\"s\": {\"t\": 1, \"sweep\": [1, 2]}, \"b\": \"cpu\"}");
        JsonNode b = Mapper.get().readTree("{\"s\": {\"t\": 1, \"sweep\": [1, 4]}, \"b\": \"cpu\"}");
        assertArrayEquals(new String[] {"s.sweep", "[1,2]", "[1,4]"}, Agreement.difference("", a, b));
        assertNull(Agreement.difference("", a, a.deepCopy()));
        JsonNode c = Mapper.get().readTree("{\"s\": {\"t\": 1, \"sweep\": [1, 2]}, \"b\": \"cpu\", \"x\": 3}");
        assertArrayEquals(new String[] {"x", "(none)", "3"}, Agreement.difference("", a, c));
    }
}
