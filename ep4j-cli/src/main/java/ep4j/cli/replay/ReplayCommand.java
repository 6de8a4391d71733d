package ep4j.cli.replay;

import ep4j.EpGroup;
import ep4j.GroupSpec;
import ep4j.cli.Main;
import ep4j.cli.job.Job;
import ep4j.cli.job.JobOption;
import ep4j.cli.json.Mapper;
import ep4j.cli.npy.Npy;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code ep4j replay}: runs a saved case through layout, dispatch and combine and writes the results. */
@Command(name = "replay", mixinStandardHelpOptions = true, sortOptions = false, versionProvider = Main.Version.class,
        header = "Run a saved case (meta.json, rankR/*.npy) through dispatch and combine; write the results as .npy.",
        description = "Replays a saved case: --in holds meta.json (ranks, experts, hidden, topk) and rank0/, rank1/, ... with x.npy (float32 holding bf16 values), topk_idx.npy (int64) and topk_weights.npy (float32). Runs layout, dispatch (bf16, or fp8 quantized on the host) and combine of the received rows as they are (no weights, no bias); with --low-latency also low-latency dispatch and combine (with the weights). Under a launcher (ep4j launch -n R, torchrun, srun, mpirun; see --job) each process replays its own rank, and together they write the same OUT. Writes OUT/rankR/*.npy and OUT/replay.json, whole or not at all (a failed replay leaves nothing at OUT); OUT may be new, empty, or an earlier replay's output, which is replaced. bf16 results are float32 holding bf16 values; counts are int32; ll_recv_x rows past ll_recv_count are zero-filled.")
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

    /**
     * As one rank of a job: runs this process's rank and writes its {@code rankR/} into a folder
     * of its own next to {@code out}. Once every rank has written (a gather of their summaries,
     * which a failed rank answers with its failure), rank 0 writes replay.json and puts its folder
     * in place of {@code out}, then every other rank moves its {@code rankR/} in. A rank that fails
     * before that leaves nothing at {@code out}, on any rank; the moves after it are per rank.
     */
    static Outcome replayAsRank(Replay replay, Job job, Path out, Replay.Sink sink) throws IOException {
        if (job.size() != replay.meta().ranks()) {
            throw new ReplayException("meta.json: \"ranks\" = " + replay.meta().ranks() + ", but this job has "
                    + job.size() + " processes: run it with ep4j launch -n " + replay.meta().ranks()
                    + " (one process per rank)");
        }
        try (StagedOutput staged = StagedOutput.create(out);
             EpGroup group = EpGroup.open(job.spec())) {
            String mine;
            RuntimeException failure = null;
            try {
                Replay.RankSummary s = replay.run(group, staged.dir(), sink).get(0);
                mine = "ok " + s.rank() + " " + s.tokens() + " " + s.recvRows() + " " + s.llRecvRows();
            } catch (RuntimeException e) {
                failure = e;
                mine = "failed " + Main.oneLine(e);
            }
            List<byte[]> all = job.allGather("replay.staged", mine.getBytes(StandardCharsets.UTF_8), RANK_WAIT);
            if (failure != null) {
                throw failure;
            }
            List<Replay.RankSummary> summaries = new ArrayList<>();
            for (int r = 0; r < all.size(); r++) {
                String[] f = new String(all.get(r), StandardCharsets.UTF_8).split(" ", 2);
                if (!f[0].equals("ok")) {
                    throw new ReplayException("rank " + r + " failed its replay (" + f[1] + "); nothing was written to "
                            + out);
                }
                String[] n = f[1].split(" ");
                summaries.add(new Replay.RankSummary(Integer.parseInt(n[0]), Integer.parseInt(n[1]),
                        Long.parseLong(n[2]), Long.parseLong(n[3])));
            }
            if (job.rank() == 0) {
                Mapper.write(staged.dir().resolve("replay.json"), replay.describe(summaries));
                staged.commit();
            }
            job.barrier("replay.committed", RANK_WAIT);
            if (job.rank() != 0) {
                staged.commitRanksInto();
            }
            job.barrier("replay.done", RANK_WAIT);
            return new Outcome(group.backend(), summaries);
        }
    }

    /** How long a rank of a job waits for the others between its replay and the output's commit. */
    static final Duration RANK_WAIT = Duration.ofMinutes(2);

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

    @Mixin
    JobOption jobOption;

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
        Job job = jobOption.inJob(System.getenv()) ? Job.fromEnvironment(System.getenv(), backend) : null;
        Replay replay = Replay.load(in, new Replay.Options(fp8, lowLatency, maxTokens == null ? 0 : maxTokens));
        Outcome done = job == null ? replayInto(replay, backend, out, Npy::write)
                : replayAsRank(replay, job, out, Npy::write);
        PrintWriter stdout = spec.commandLine().getOut();
        if (job != null && job.rank() != 0) {
            stdout.println("rank " + job.rank() + ": replayed; wrote " + out.resolve("rank" + job.rank()));
            return Main.EXIT_OK;
        }
        for (Replay.RankSummary s : done.summaries()) {
            stdout.println("rank " + s.rank() + ": " + s.tokens() + " tokens, received " + s.recvRows() + " rows"
                    + (lowLatency ? ", low-latency " + s.llRecvRows() + " rows" : ""));
        }
        stdout.println("replayed on " + done.backend() + " (" + replay.meta().ranks() + " ranks"
                + (job != null ? ", one process per rank" : "") + (fp8 ? ", fp8" : "") + (lowLatency ? ", low-latency N=" + replay.lowLatencyMaxTokens() : "")
                + "); wrote " + out + "/rank*/ and " + out.resolve("replay.json"));
        return Main.EXIT_OK;
    }
}
