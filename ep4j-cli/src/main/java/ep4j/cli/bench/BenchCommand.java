package ep4j.cli.bench;

import ep4j.EpGroup;
import ep4j.GroupSpec;
import ep4j.cli.Main;
import ep4j.cli.job.Agreement;
import ep4j.cli.job.Job;
import ep4j.cli.job.JobOption;
import ep4j.cli.json.Mapper;
import ep4j.cli.plot.Chart;
import ep4j.cli.term.ProgressBar;
import ep4j.cli.term.Table;
import ep4j.cli.term.Terminals;
import ep4j.spi.Backend;
import ep4j.spi.Backends;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.stream.IntStream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code ep4j bench}: dispatch and combine timings, a table, bench.json and bench.png. */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false, versionProvider = Main.Version.class,
        header = "Time dispatch and combine against a plain-copy baseline; write a table, bench.json and plots.",
        description = "Times normal dispatch (bf16, fp8) and combine, and low-latency dispatch (bf16, fp8) and combine, all ranks calling together; reports the wall clock of a synchronous call (median, p50, p99, max), on GPUs the pipelined GPU time per call (CUDA events around back-to-back async calls, as DeepEP reports it) and the host cost (wall - GPU), the logical bandwidth (bytes a rank receives, its own tokens included, per second, as DeepEP reports) and its ratio to a baseline measured in the same run (CPU: a plain copy of the same bytes on the same threads; GPUs: peer writes of the NVLink bytes), and the low-latency hook mode (send and receive apart). Writes bench.json, bench.png (time against tokens), bench-ll.png (the low-latency sweep) and on GPUs bench-sms.png into --out. Under a launcher (ep4j launch, torchrun, srun, mpirun; see --job) each process drives one rank of the job: no --ranks, every rank must be given the same options (checked), the CPU sizes are rank 0's, ranks on one host meet at a spinning barrier in shared memory, and rank 0 prints the table and writes the files. Example: ep4j launch -n 2 -- bench --backend cpu")
public final class BenchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--backend", defaultValue = "auto", description = "auto (GPU when present, else CPU), cpu or cuda. Default: ${DEFAULT-VALUE}.")
    String backend;

    @Option(names = "--ranks", description = "Ranks. Default: the number of GPUs on cuda, else 4. Not in a job"
            + " (--job): its size is the job's.")
    Integer ranks;

    @Mixin
    JobOption jobOption;

    @Option(names = "--tokens", description = "Tokens per rank of the normal cases. Default: 4096 (--quick: 128); on the CPU"
            + " backend halved until the run fits the memory budget (3.5 GiB or half the machine's memory).")
    Integer tokens;

    @Option(names = "--hidden", description = "Hidden size. Default: 7168 (--quick: 256).")
    Integer hidden;

    @Option(names = "--topk", description = "Experts per token. Default: 8 (--quick: 4).")
    Integer topk;

    @Option(names = "--experts", description = "Experts in all. Default: 256 (--quick: 16).")
    Integer experts;

    @Option(names = "--sms", defaultValue = "0", description = "SMs for the normal kernels (GPU; 0: backend's choice). Default: ${DEFAULT-VALUE}.")
    int sms;

    @Option(names = "--iters", description = "Timed calls per case. Default: 10 (--quick: 3).")
    Integer iters;

    /**
     * Warm-up calls per case on the GPU backend: enough for HotSpot's optimizing compiler (C2) to
     * take over the call path, as in a serving process that has run for a while. Measured on two
     * H200 (one JVM): after 50 warm-up calls a normal dispatch still cost 58-114 us of host time
     * (interpreted and C1 code), after 2000 it cost 17-31 us.
     */
    static final int GPU_WARMUP = 2000;

    @Option(names = "--warmup", description = "Untimed calls before them. Default: 2 on the CPU backend, "
            + GPU_WARMUP + " on the GPU (its host path is short, so the calls should time code the JIT's optimizing "
            + "compiler made, as in a long-running server) (--quick: 1).")
    Integer warmup;

    @Option(names = "--ll-tokens", description = "Tokens per rank of the low-latency cases. Default: 128 (--quick: 16); on the CPU"
            + " backend halved until the run fits the memory budget.")
    Integer llTokens;

    @Option(names = "--sweep-tokens", split = ",", paramLabel = "T",
            description = "Token counts of the normal cases for the plot. Default: tokens/8, /4, /2, /1 (512,1024,2048,4096).")
    int[] sweepTokens;

    @Option(names = "--ll-sweep-tokens", split = ",", paramLabel = "T",
            description = "Token counts of the low-latency cases for the plots. Default: see --ll-sweep.")
    int[] llSweepTokens;

    /** Largest size of the low-latency sweep on GPUs. */
    static final int LL_SWEEP_MAX = 256;

    @Option(names = "--ll-sweep", negatable = true,
            description = "Low-latency cases at 1, 2, 4, ..., " + LL_SWEEP_MAX + " tokens per rank (on the CPU backend up"
                    + " to --ll-tokens, which is sized to its memory), plotted in bench-ll.png (GPU time and wall clock"
                    + " against tokens); off: at ll-tokens/8, /4, /2, /1. Default: on for GPUs (not with --quick), off"
                    + " on the CPU backend (its default run stays short).")
    Boolean llSweep;

    /** Asynchronous calls per span of the pipelined GPU time on GPUs, as many as DeepEP's tests time. */
    static final int GPU_PIPELINED_CALLS = 50;

    /** Spans of the pipelined run per case on GPUs (the slowest rank's median of them is reported). */
    static final int GPU_PIPELINED_SPANS = 5;

    @Option(names = "--pipelined-calls", paramLabel = "N",
            description = "Asynchronous calls per CUDA-event span for the pipelined GPU time (" + GPU_PIPELINED_SPANS
                    + " spans per case); 0: none. Default: " + GPU_PIPELINED_CALLS + " on GPUs (--quick: 10); 0 on"
                    + " the CPU backend, which has no device clock (N > 0 there runs one span of N calls to exercise"
                    + " the asynchronous path; no GPU time comes of it).")
    Integer pipelinedCalls;

    @Option(names = "--sweep-sms", split = ",", paramLabel = "N",
            description = "GPU only: SM counts for the GB/s-against-SMs sweep at the main size (bench-sms.png). Default: 8,16,24,32; 0 for none.")
    int[] sweepSms;

    @Option(names = "--out", defaultValue = "out/bench", description = "Output folder. Default: ${DEFAULT-VALUE}.")
    Path out;

    @Option(names = "--quick", description = "Small sizes and few iterations (a smoke test).")
    boolean quick;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of the generated routing and tokens. Default: ${DEFAULT-VALUE}.")
    long seed;

    @Option(names = "--progress", negatable = true,
            description = "Show a progress bar on stderr. Default: only when stderr is a terminal.")
    Boolean progress;

    @Override
    public Integer call() throws Exception {
        int h = pick(hidden, 7168, 256);
        int k = pick(topk, 8, 4);
        int e = pick(experts, 256, 16);
        int t = pick(tokens, 4096, 128);
        int ll = pick(llTokens, 128, 16);
        int it = pick(iters, 10, 3);
        int wu = pick(warmup, 2, 1);
        if (!Arrays.asList("auto", "cpu", "cuda").contains(backend)) {
            throw usage("--backend must be auto, cpu or cuda, not '" + backend + "'");
        }
        boolean inJob = jobOption.inJob(System.getenv());
        if (inJob && ranks != null) {
            throw usage("--ranks is not given in a job (--job): its size comes from the launcher's variables"
                    + " (WORLD_SIZE, OMPI_COMM_WORLD_SIZE, SLURM_NTASKS or EP4J_WORLD_SIZE)");
        }
        Job job = inJob ? Job.fromEnvironment(System.getenv(), backend) : null;
        int r = job != null ? job.size() : ranks != null ? ranks : defaultRanks(backend);
        positive("--ranks", r);
        positive("--tokens", t);
        positive("--hidden", h);
        positive("--topk", k);
        positive("--experts", e);
        positive("--iters", it);
        positive("--ll-tokens", ll);
        if (wu < 0) {
            throw usage("--warmup must be >= 0, not " + wu);
        }
        if (sms < 0) {
            throw usage("--sms must be >= 0, not " + sms);
        }
        for (int v : sweepTokens != null ? sweepTokens : new int[0]) {
            positive("--sweep-tokens", v);
        }
        for (int v : llSweepTokens != null ? llSweepTokens : new int[0]) {
            positive("--ll-sweep-tokens", v);
        }
        if (pipelinedCalls != null && pipelinedCalls < 0) {
            throw usage("--pipelined-calls must be >= 0, not " + pipelinedCalls);
        }
        if (Boolean.TRUE.equals(llSweep) && llSweepTokens != null) {
            throw usage("--ll-sweep and --ll-sweep-tokens both given: --ll-sweep picks the sizes 1, 2, 4, ...; give one");
        }
        if (h % 128 != 0) {
            throw usage("--hidden must be a multiple of 128 (fp8 scales are per 128 channels), not " + h);
        }
        if (e % r != 0) {
            throw usage("--experts (" + e + ") must be a multiple of " + (job != null ? "the job's ranks" : "--ranks")
                    + " (" + r + ")");
        }
        if (k > e) {
            throw usage("--topk (" + k + ") must not exceed --experts (" + e + ")");
        }

        // In a job only rank 0 reports; the others measure their rank and say one line at the end.
        boolean reports = job == null || job.rank() == 0;
        PrintWriter stdout = reports ? spec.commandLine().getOut() : new PrintWriter(Writer.nullWriter());
        PrintWriter stderr = spec.commandLine().getErr();
        boolean showProgress = reports && (progress != null ? progress : Terminals.stderrIsTerminal());
        try (EpGroup group = EpGroup.open(job != null ? job.spec() : GroupSpec.ranks(r).backend(backend));
             BenchRanks meet = job != null ? ProcessRanks.open(job, BenchRanks.TIMEOUT) : BenchRanks.threads(r);
             ProgressBar bar = new ProgressBar(stderr, showProgress)) {
            if (warmup == null && !quick && "cuda".equals(group.backend())) {
                wu = GPU_WARMUP;
            }
            boolean gpu = "cuda".equals(group.backend());
            List<String> notes = new ArrayList<>();
            long physical = "cpu".equals(group.backend()) ? CpuSizing.physicalBytes() : -1;
            if ("cpu".equals(group.backend()) && !quick) {
                // Host memory is the limit on the CPU: size the defaults to the machine, say so. In a
                // job every rank takes rank 0's choice (another machine may have had another).
                CpuSizing.Choice c = CpuSizing.choose(tokens, llTokens, r, h, k, e, physical);
                if (job != null) {
                    c = Agreement.rankZeros(job, "bench.sizing", c, CpuSizing.Choice.class, BenchRanks.TIMEOUT);
                    physical = c.physicalBytes();
                }
                t = c.tokens();
                ll = c.llTokens();
                if (tokens == null || llTokens == null) {
                    String line = c.describe(r, h, k, e);
                    stdout.println("ep4j bench: " + line);
                    stdout.flush();
                    notes.add(line);
                }
            }
            boolean sweepLl = llSweep != null ? llSweep : gpu && !quick;
            int[] sweep = sweepTokens != null ? sweepTokens : fractions(t);
            int[] llSweepSizes = llSweepTokens != null ? llSweepTokens
                    : sweepLl ? powersOfTwo(gpu ? Math.max(LL_SWEEP_MAX, ll) : ll) : fractions(ll);
            if (physical > 0) {
                long peak = CpuSizing.peakBytes(r, Math.max(t, IntStream.of(sweep).max().orElse(t)),
                        Math.max(ll, IntStream.of(llSweepSizes).max().orElse(ll)), h, k, e);
                if (peak > physical * 0.9) {
                    String warn = "this run may need about " + CpuSizing.gb(peak) + " GB of memory, and this"
                            + " machine has " + CpuSizing.gb(physical) + " GB; smaller --tokens or --ll-tokens (or"
                            + " sweep sizes) need less";
                    stdout.println("note: " + warn);
                    stdout.flush();
                    notes.add(warn);
                }
            }
            int calls = pipelinedCalls != null ? pipelinedCalls : gpu ? (quick ? 10 : GPU_PIPELINED_CALLS) : 0;
            int spans = calls == 0 ? 0 : gpu ? GPU_PIPELINED_SPANS : 1;
            Bench.Settings settings = new Bench.Settings(t, h, k, e, sms, it, wu, ll, sweep, llSweepSizes, seed, calls,
                    spans);
            int[] smsList = gpu ? smSweep() : new int[0];
            if (job != null) {
                // Every rank must make the same calls in the same order: one option apart would hang them.
                Agreement.same(job, "bench settings", new Agreed(group.backend(), settings, smsList),
                        BenchRanks.TIMEOUT);
            }
            Baseline baseline = meet instanceof ProcessRanks p ? Baselines.forJob(group, job, p.oneHost())
                    : Baselines.forGroup(group);
            // How the ranks met and what was not measured: printed after the table, kept in bench.json.
            List<String> runNotes = new ArrayList<>(meet.notes());
            if (!baseline.measured()) {
                runNotes.add(baseline.description());
            }
            notes.addAll(runNotes);
            Bench.Outcome outcome;
            SmSweep.Result sweepResult = null;
            try {
                Bench bench = new Bench(settings, group, meet, baseline, bar);
                bar.start(bench.totalSteps());
                outcome = bench.run();
                bar.finish();
                String what = "backend " + group.backend() + ", " + r + " ranks"
                        + (job != null ? " (" + meet.describe() + ")" : "") + ", " + t + " tokens (low-latency " + ll
                        + ") x " + h + " hidden, top-" + k + " of " + e + " experts";
                stdout.println("ep4j bench: " + what + "; median of " + it + " calls after " + wu + " warm-up");
                printTables(stdout, outcome, baseline, calls, spans, gpu);
                runNotes.forEach(n -> stdout.println("note: " + n));
                if (smsList.length > 0) {
                    bar.start(smsList.length);
                    sweepResult = SmSweep.run(group, meet, t, h, k, e, smsList, it, seed, bar);
                    bar.finish();
                    stdout.println("SM sweep (GPU time, " + t + " tokens):");
                    stdout.print(sweepResult.table().render());
                }
            } catch (RuntimeException | Error ex) {
                meet.breakAll(); // the other processes of a job stop waiting for this one
                throw ex;
            }
            if (!reports) {
                stdout.flush();
                spec.commandLine().getOut().println("ep4j bench: rank " + job.rank() + " of " + r + " measured (one"
                        + " process per rank); rank 0 prints the table and writes " + out.resolve("bench.json"));
                spec.commandLine().getOut().flush();
                return Main.EXIT_OK;
            }
            BenchFile file = new BenchFile(Main.Version.version(), System.getProperty("java.version"),
                    Runtime.getRuntime().availableProcessors(), System.getProperty("os.name") + " " + System.getProperty("os.arch"),
                    group.backend(), r, t, h, k, e, sms, it, wu, ll, settings.normalPoints(), settings.llPoints(), seed,
                    job != null ? r : 1, meet.describe(),
                    "median over iters of the time from a barrier all ranks pass to the moment all ranks are done",
                    "bytes a rank receives (dispatch) or sends back (combine), own tokens included,"
                            + " mean over ranks; bf16 rows 2*hidden, fp8 rows hidden + 4*hidden/128;"
                            + " low-latency rows per (token, expert)",
                    baseline.name(), baseline.description(),
                    "interleaved: at the table's sizes every call of a case is preceded by one"
                            + " baseline repetition on the same rank threads; both medians come from the same iterations",
                    calls, spans, PIPELINED,
                    HOOK_MODE, sweepLl,
                    BenchReport.rows(outcome.table(), true), BenchReport.rows(outcome.sweep(), false),
                    concat(notes, outcome.notes()),
                    sweepResult == null ? null : sweepResult.json());
            Path json = out.resolve("bench.json");
            Mapper.write(json, file);
            stdout.println("wrote " + json);
            writePlots(stdout, out, file);
            stdout.flush();
        }
        return Main.EXIT_OK;
    }

    /** What every rank of a job must run alike (checked through the rendezvous before the first case). */
    record Agreed(String backend, Bench.Settings settings, int[] smSweep) {
    }

    /** The SM counts of the GPU sweep, ascending, without zeros. */
    private int[] smSweep() {
        int[] smsList = sweepSms != null ? sweepSms : new int[] {8, 16, 24, 32};
        return Arrays.stream(smsList).filter(v -> v > 0).sorted().distinct().toArray();
    }

    /** The table, its legend, the hook-mode table and the notes of the run. */
    private static void printTables(PrintWriter stdout, Bench.Outcome outcome, Baseline baseline, int calls, int spans,
            boolean gpu) {
        stdout.print(BenchReport.table(outcome.table()).render());
        BenchReport.legend(baseline, calls, spans, gpu).forEach(stdout::println);
        Table hooks = BenchReport.hookTable(outcome.table());
        if (hooks != null) {
            stdout.println("low-latency hook mode (returnRecvHook: the call sends, hook().receive() receives):");
            stdout.print(hooks.render());
            BenchReport.hookLegend().forEach(stdout::println);
        }
        String hostBound = BenchReport.hostBoundNote(outcome.table());
        if (hostBound != null) {
            stdout.println("note: " + hostBound);
        }
        outcome.notes().forEach(n -> stdout.println("note: " + n));
    }

    /** How the pipelined GPU time is measured, for bench.json. */
    static final String PIPELINED = "spans of pipelined_calls back-to-back async calls on every rank at once, no host"
            + " wait between; pipelined_us: CUDA-event span / calls, pipelined_wall_us: wall clock from a barrier to"
            + " every rank's span done / calls, pipelined_issue_us: host time from the span's start to its last call's"
            + " return / calls (at 90% of pipelined_us or more, the GPU waited for the host: pipelined_us is then the"
            + " host's pace, an upper bound of the GPU time); the slowest rank, median over pipelined_spans; normal"
            + " dispatch with"
            + " numWorstTokens = the largest receive count of the routing (an exact-size async dispatch waits on the"
            + " host for the counts); host_us = time_us - pipelined_us";

    /** How the hook mode is measured, for bench.json. */
    static final String HOOK_MODE = "low-latency cases at the table's size with returnRecvHook(true): send_us, wall"
            + " clock of the call (it only sends); receive_us, wall clock of hook().receive() (GPU: issuing the"
            + " receive; CPU: the whole receive); send_gpu_us, receive_gpu_us: CUDA-event span of each half alone, the"
            + " send span from just before the call, the receive half issued once every rank's send completed";

    /**
     * The PNGs. A Java runtime without java.desktop (a trimmed one, as on the GPU machines) gets a
     * note instead, and so does a failure to draw or write them: bench.json is written already and
     * {@code ep4j plot} draws them from it elsewhere.
     */
    static void writePlots(PrintWriter stdout, Path out, BenchFile file) {
        String redraw = "`ep4j plot --in " + out + "` draws them from bench.json";
        if (!Chart.canDraw()) {
            stdout.println("note: no PNG written: " + Chart.cannotDrawReason() + "; " + redraw);
            return;
        }
        try {
            for (Path png : BenchReport.writePlots(out, file)) {
                stdout.println("wrote " + png);
            }
        } catch (java.io.IOException | RuntimeException | LinkageError | InternalError ex) {
            stdout.println("note: no PNG written (" + Main.oneLine(ex) + "); " + redraw);
        }
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    private int pick(Integer given, int full, int small) {
        return given != null ? given : quick ? small : full;
    }

    /** 1, 2, 4, ... up to {@code max} (and {@code max} itself). */
    static int[] powersOfTwo(int max) {
        TreeSet<Integer> v = new TreeSet<>();
        for (int p = 1; p <= max && p > 0; p *= 2) {
            v.add(p);
        }
        v.add(max);
        return v.stream().mapToInt(Integer::intValue).toArray();
    }

    private static int[] fractions(int t) {
        return IntStream.of(t / 8, t / 4, t / 2, t).filter(v -> v > 0).distinct().toArray();
    }

    private void positive(String name, int v) {
        if (v <= 0) {
            throw usage(name + " must be > 0, not " + v);
        }
    }

    private ParameterException usage(String message) {
        return new ParameterException(spec.commandLine(), message);
    }

    /** GPUs the cuda backend can use here (largest group it accepts, up to 8), else 4 CPU ranks. */
    public static int defaultRanks(String backend) {
        if (!backend.equals("cpu")) {
            for (Backend b : Backends.all()) {
                if (b.name().equals("cuda")) {
                    for (int n = 8; n >= 1; n--) {
                        try {
                            if (b.isAvailable(n)) {
                                return n;
                            }
                        } catch (RuntimeException | LinkageError ex) {
                            break;
                        }
                    }
                }
            }
        }
        return 4;
    }
}
