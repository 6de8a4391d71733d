package ep4j.cli.soak;

import ep4j.EpBuffer;
import ep4j.EpGroup;
import ep4j.Tensor;
import java.util.List;

/**
 * One rank's part of one soak step: what it runs on (group, buffer, rank), the case and its
 * inputs, and the outputs it records. {@link NormalStep} and {@link LowLatencyStep} say what runs.
 */
abstract class RankStep {
    final EpGroup group;
    final EpBuffer buf;
    final int rank;
    final SoakCase c;
    final SoakInputs in;
    final StepOutputs.Rank out;

    RankStep(EpGroup group, EpBuffer buf, int rank, SoakCase c, SoakInputs in) {
        this.group = group;
        this.buf = buf;
        this.rank = rank;
        this.c = c;
        this.in = in;
        this.out = new StepOutputs.Rank(group);
    }

    /** Runs the rank's part and returns what it recorded, every tensor it made closed. */
    abstract List<StepOutputs.Output> run();

    /** {@code host} on this rank's device (a copy the caller closes). */
    final Tensor up(Tensor host) {
        return group.upload(rank, host);
    }
}
