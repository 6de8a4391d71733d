package ep4j.fuzz;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;

/**
 * Bad input through the API, fuzzed: each property draws cases of one class from jqwik's seeds
 * (group size, hidden, tokens, top-k, experts and where the damage goes all random) and checks
 * what the class promises: rejected with an exception naming the argument, the value and what
 * was expected, in one line, in bounded time, changing nothing; or, for the legal oddities,
 * accepted and handled as DESIGN 2 says. The replay side is in ep4j-cli (ReplayFuzzTest).
 */
class ApiFuzzTest {
    private static final int TRIES = 12;

    @Property(tries = TRIES)
    void wrongDtypeOfX(@ForAll long seed) {
        BadArguments.wrongDtypeOfX(seed);
    }

    @Property(tries = TRIES)
    void wrongShapeOfX(@ForAll long seed) {
        BadArguments.wrongShapeOfX(seed);
    }

    @Property(tries = TRIES)
    void tokenCountsThatDisagreeBetweenTensors(@ForAll long seed) {
        BadArguments.tokenCountsThatDisagree(seed);
    }

    @Property(tries = TRIES)
    void wrongDtypeOfRoutingOrScales(@ForAll long seed) {
        BadArguments.wrongDtypeOfRoutingOrScales(seed);
    }

    @Property(tries = TRIES)
    void expertIndexAtOrPastE(@ForAll long seed) {
        BadArguments.expertIndexOutOfRange(seed, false);
    }

    @Property(tries = TRIES)
    void expertIndexNegativeOtherThanMinusOne(@ForAll long seed) {
        BadArguments.expertIndexOutOfRange(seed, true);
    }

    @Property(tries = TRIES)
    void topkAboveTheBuffersMaxTopk(@ForAll long seed) {
        BadArguments.topkAboveTheBuffer(seed);
    }

    @Property(tries = TRIES)
    void fp8WithHiddenNotAMultipleOf128(@ForAll long seed) {
        BadArguments.fp8WithHiddenNotAMultipleOf128(seed);
    }

    @Property(tries = TRIES)
    void expertCountTheGroupCannotSplit(@ForAll long seed) {
        BadArguments.expertCountTheGroupCannotSplit(seed);
    }

    @Property(tries = TRIES)
    void hugeSizes(@ForAll long seed) {
        BadArguments.hugeSizes(seed);
    }

    @Property(tries = TRIES)
    void lowLatencyCapacityPastAnInt(@ForAll long seed) {
        BadArguments.hugeLowLatencyCapacity(seed);
    }

    @Property(tries = TRIES)
    void bufferSpecOutOfRange(@ForAll long seed) {
        BadArguments.bufferSpecOutOfRange(seed);
    }

    @Property(tries = TRIES)
    void handleOfAnotherBuffer(@ForAll long seed) {
        ForeignAndClosed.handleOfAnotherBuffer(seed);
    }

    @Property(tries = TRIES)
    void closedResultsAndStaleHandles(@ForAll long seed) {
        ForeignAndClosed.closedOrStale(seed);
    }

    @Property(tries = TRIES)
    void ranksThatDisagreeOnACollectiveEachFailInBoundedTime(@ForAll long seed) {
        Disagreement.ranksDisagree(seed);
    }

    /** Legal per DESIGN 2.2/2.4: accepted, and a duplicated expert counts once. */
    @Property(tries = TRIES)
    void duplicatedExpertsAreAcceptedAndCountedOnce(@ForAll long seed) {
        LegalOddities.duplicatesCountOnce(seed, false);
    }

    /** Legal too: K > E needs duplicates or -1 slots; accepted, each expert counted once per token. */
    @Property(tries = TRIES)
    void moreSlotsThanExpertsAreAcceptedAndCountedOnce(@ForAll long seed) {
        LegalOddities.duplicatesCountOnce(seed, true);
    }

    /** Legal bf16 data: moved bit for bit, quantized to fp8 as DESIGN 2.6 says. */
    @Property(tries = TRIES)
    void nanAndInfinityPassThroughAndQuantizeAsDesigned(@ForAll long seed) {
        LegalOddities.nanAndInfinity(seed);
    }
}
