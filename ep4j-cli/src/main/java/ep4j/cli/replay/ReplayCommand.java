package ep4j.cli.replay;

import ep4j.EpGroup;
import ep4j.GroupSpec;
import ep4j.cli.Main;
import ep4j.cli.json.Mapper;
import ep4j.cli.npy.Npy;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code ep4j replay}: runs a saved case through layout, dispatch and combine and writes the results. */
@Command(name = "replay", mixinStandardHelpOptions = true, sortOptions = false, versionProvider = Main.Version.class,
        header = "Run a saved case (meta.json, rankR/*.npy) through dispatch and combine; write the results as .npy.",
        description = "Replays a saved case: --in holds meta.json (ranks, experts, hidden, topk) and rank0/, rank1/, ... with x.npy (float32 holding bf16 values), topk_idx.npy (int64) and topk_weights.npy (float32). Runs layout, dispatch (bf16, or fp8 quantized on the host) and combine of the received rows as they are (no weights, no bias); with --low-latency also low-latency dispatch and combine (with the weights). Writes OUT/rankR/*.npy and OUT/replay.json, whole or not at all (a failed replay leaves nothing at OUT); OUT may be new, empty, or an earlier replay's output, which is replaced. bf16 results are float32 holding bf16 values; counts are int32; ll_recv_x rows past ll_recv_count are zero-filled.")
public final class ReplayCommand implements Callable<Integer> {
    /** What a replay did: the backend it ran on and each rank's counts. */
    record Outcome(String backend, List<Replay.RankSummary> summaries) {
    }

    /**
     * Runs {@code replay} on a group of the given backend and writes its results and replay.json
     * to {@code out}, whole or not at all ({@link StagedOutput}): on any failure nothing is left
     * there. {@code out} is checked before the group opens.
     */
    static Outcome replayInto(Replay replay, String backend, Path out, Replay.Sink sink) throws IOException {
        try (StagedOutput staged = StagedOutput.create(out);
             EpGroup group = EpGroup.open(GroupSpec.ranks(replay.meta().ranks()).backend(backend))) {
            List<Replay.RankSummary> summaries = replay.run(group, staged.dir(), sink);
            Mapper.write(staged.dir().resolve("replay.json"), replay.describe(summaries));
            staged.commit();
            return new Outcome(group.backend(), summaries);
        }
    }

    @Spec
    CommandSpec spec;

    @Option(names = "--in", required = true, paramLabel = "DIR", description = "The saved case.")
    Path in;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Where to write the results.")
    Path out;

    @Option(names = "--fp8", description = "Quantize x to fp8 e4m3 (per 128 channels) and dispatch that.")
    boolean fp8;

    @Option(names = "--low-latency", description = "Also run low-latency dispatch and combine.")
    boolean lowLatency;

    @Option(names = "--max-tokens", paramLabel = "N",
            description = "Low-latency capacity per rank (>= every rank's T). Default: the largest T.")
    Integer maxTokens;

    @Option(names = "--backend", defaultValue = "auto", description = "auto, cpu or cuda. Default: ${DEFAULT-VALUE}.")
    String backend;

    @Override
    public Integer call() throws Exception {
        if (!Arrays.asList("auto", "cpu", "cuda").contains(backend)) {
            throw new ParameterException(spec.commandLine(), "--backend must be auto, cpu or cuda, not '" + backend + "'");
        }
        if (maxTokens != null && maxTokens <= 0) {
            throw new ParameterException(spec.commandLine(), "--max-tokens must be > 0, not " + maxTokens);
        }
        if (maxTokens != null && !lowLatency) {
            throw new ParameterException(spec.commandLine(), "--max-tokens is for --low-latency");
        }
        if (!Files.isDirectory(in)) {
            throw new ReplayException("--in " + in + ": " + (Files.exists(in) ? "not a folder" : "no such folder")
                    + " (expected a saved case: meta.json and rank0/, rank1/, ...)");
        }
        StagedOutput.checkTarget(out);
        Replay replay = Replay.load(in, new Replay.Options(fp8, lowLatency, maxTokens == null ? 0 : maxTokens));
        Outcome done = replayInto(replay, backend, out, Npy::write);
        PrintWriter stdout = spec.commandLine().getOut();
        for (Replay.RankSummary s : done.summaries()) {
            stdout.println("rank " + s.rank() + ": " + s.tokens() + " tokens, received " + s.recvRows() + " rows"
                    + (lowLatency ? ", low-latency " + s.llRecvRows() + " rows" : ""));
        }
        stdout.println("replayed on " + done.backend() + " (" + replay.meta().ranks() + " ranks"
                + (fp8 ? ", fp8" : "") + (lowLatency ? ", low-latency N=" + replay.lowLatencyMaxTokens() : "")
                + "); wrote " + out + "/rank*/ and " + out.resolve("replay.json"));
        return Main.EXIT_OK;
    }
}
