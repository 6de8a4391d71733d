package ep4j.cli.bench;

import ep4j.EpGroup;
import ep4j.GroupSpec;
import ep4j.cli.Main;
import ep4j.cli.json.Mapper;
import ep4j.cli.plot.Chart;
import ep4j.cli.term.ProgressBar;
import ep4j.cli.term.Terminals;
import ep4j.spi.Backend;
import ep4j.spi.Backends;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.IntStream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code ep4j bench}: dispatch and combine timings, a table, bench.json and bench.png. */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false, versionProvider = Main.Version.class,
        header = "Time dispatch and combine against a plain-copy baseline; write a table, bench.json and bench.png.",
        description = "Times normal dispatch (bf16, fp8) and combine, and low-latency dispatch (bf16, fp8) and combine, all ranks calling together; reports the median time per call, the logical bandwidth (bytes a rank receives, its own tokens included, per second, as DeepEP reports) and its ratio to a baseline measured in the same run (CPU: a plain copy of the same bytes on the same threads). Writes bench.json and bench.png (time against tokens, from the token sweep) into --out.")
public final class BenchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--backend", defaultValue = "auto", description = "auto (GPU when present, else CPU), cpu or cuda. Default: ${DEFAULT-VALUE}.")
    String backend;

    @Option(names = "--ranks", description = "Ranks. Default: the number of GPUs on cuda, else 4.")
    Integer ranks;

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

    /** Warm-up calls per case on the GPU backend: enough for the JIT's first tiers to compile the call path. */
    static final int GPU_WARMUP = 50;

    @Option(names = "--warmup", description = "Untimed calls before them. Default: 2 on the CPU backend, "
            + GPU_WARMUP + " on the GPU (its host path is short, so the calls should time JIT-compiled code) (--quick: 1).")
    Integer warmup;

    @Option(names = "--ll-tokens", description = "Tokens per rank of the low-latency cases. Default: 128 (--quick: 16); on the CPU"
            + " backend halved until the run fits the memory budget.")
    Integer llTokens;

    @Option(names = "--sweep-tokens", split = ",", paramLabel = "T",
            description = "Token counts of the normal cases for the plot. Default: tokens/8, /4, /2, /1 (512,1024,2048,4096).")
    int[] sweepTokens;

    @Option(names = "--ll-sweep-tokens", split = ",", paramLabel = "T",
            description = "Token counts of the low-latency cases for the plot. Default: ll-tokens/8, /4, /2, /1.")
    int[] llSweepTokens;

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
        int[] sweep = sweepTokens != null ? sweepTokens : fractions(t);
        int[] llSweep = llSweepTokens != null ? llSweepTokens : fractions(ll);
        if (!Arrays.asList("auto", "cpu", "cuda").contains(backend)) {
            throw usage("--backend must be auto, cpu or cuda, not '" + backend + "'");
        }
        int r = ranks != null ? ranks : defaultRanks(backend);
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
        for (int v : sweep) {
            positive("--sweep-tokens", v);
        }
        for (int v : llSweep) {
            positive("--ll-sweep-tokens", v);
        }
        if (h % 128 != 0) {
            throw usage("--hidden must be a multiple of 128 (fp8 scales are per 128 channels), not " + h);
        }
        if (e % r != 0) {
            throw usage("--experts (" + e + ") must be a multiple of --ranks (" + r + ")");
        }
        if (k > e) {
            throw usage("--topk (" + k + ") must not exceed --experts (" + e + ")");
        }

        PrintWriter stdout = spec.commandLine().getOut();
        PrintWriter stderr = spec.commandLine().getErr();
        boolean showProgress = progress != null ? progress : Terminals.stderrIsTerminal();
        try (EpGroup group = EpGroup.open(GroupSpec.ranks(r).backend(backend));
             ProgressBar bar = new ProgressBar(stderr, showProgress)) {
            if (warmup == null && !quick && "cuda".equals(group.backend())) {
                wu = GPU_WARMUP;
            }
            List<String> notes = new ArrayList<>();
            if ("cpu".equals(group.backend()) && !quick) {
                // Host memory is the limit on the CPU: size the defaults to the machine, say so.
                long physical = CpuSizing.physicalBytes();
                CpuSizing.Choice c = CpuSizing.choose(tokens, llTokens, r, h, k, e, physical);
                t = c.tokens();
                ll = c.llTokens();
                sweep = sweepTokens != null ? sweepTokens : fractions(t);
                llSweep = llSweepTokens != null ? llSweepTokens : fractions(ll);
                if (tokens == null || llTokens == null) {
                    String line = c.describe(r, h, k, e);
                    stdout.println("ep4j bench: " + line);
                    stdout.flush();
                    notes.add(line);
                }
                if (physical > 0 && c.peakBytes() > physical * 0.9) {
                    String warn = "this run may need about " + CpuSizing.gb(c.peakBytes()) + " GB of memory, and this"
                            + " machine has " + CpuSizing.gb(physical) + " GB; smaller --tokens or --ll-tokens need less";
                    stdout.println("note: " + warn);
                    stdout.flush();
                    notes.add(warn);
                }
            }
            Bench.Settings settings = new Bench.Settings(t, h, k, e, sms, it, wu, ll, sweep, llSweep, seed);
            Baseline baseline = Baselines.forGroup(group);
            Bench bench = new Bench(settings, group, baseline, bar);
            bar.start(bench.totalSteps());
            Bench.Outcome outcome = bench.run();
            bar.finish();

            String what = "backend " + group.backend() + ", " + r + " ranks, " + t + " tokens (low-latency " + ll
                    + ") x " + h + " hidden, top-" + k + " of " + e + " experts";
            stdout.println("ep4j bench: " + what + "; median of " + it + " calls after " + wu + " warm-up");
            stdout.print(BenchReport.table(outcome.table()).render());
            stdout.println("time: median wall clock of the collective call; p50, p99: percentiles of the calls"
                    + " (HdrHistogram, " + Latency.DIGITS + " significant digits); max: the slowest call; gpu: CUDA-event"
                    + " span of its kernels; logical GB/s: bytes a rank receives (own tokens included) / time;"
                    + " cross GB/s: bytes that crossed to another rank (NVLink) / time;");
            stdout.println("baseline: " + baseline.name() + " (" + baseline.description() + ") of "
                    + (baseline.crossOnly() ? "the cross bytes" : "the same bytes") + "; ratio = baseline time / time");
            outcome.notes().forEach(n -> stdout.println("note: " + n));

            SmSweep.Result sweepResult = null;
            if (group.backend().equals("cuda")) {
                int[] smsList = sweepSms != null ? sweepSms : new int[] {8, 16, 24, 32};
                smsList = Arrays.stream(smsList).filter(v -> v > 0).sorted().distinct().toArray();
                if (smsList.length > 0) {
                    bar.start(smsList.length);
                    sweepResult = SmSweep.run(group, t, h, k, e, smsList, it, seed, bar);
                    bar.finish();
                    stdout.println("SM sweep (GPU time, " + t + " tokens):");
                    stdout.print(sweepResult.table().render());
                }
            }
            BenchFile file = new BenchFile(Main.Version.version(), System.getProperty("java.version"),
                    Runtime.getRuntime().availableProcessors(), System.getProperty("os.name") + " " + System.getProperty("os.arch"),
                    group.backend(), r, t, h, k, e, sms, it, wu, ll, settings.normalPoints(), settings.llPoints(), seed,
                    "median over iters of the time from a barrier all ranks pass to the moment all ranks are done",
                    "bytes a rank receives (dispatch) or sends back (combine), own tokens included,"
                            + " mean over ranks; bf16 rows 2*hidden, fp8 rows hidden + 4*hidden/128;"
                            + " low-latency rows per (token, expert)",
                    baseline.name(), baseline.description(),
                    "interleaved: at the table's sizes every call of a case is preceded by one"
                            + " baseline repetition on the same rank threads; both medians come from the same iterations",
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
            Path png = out.resolve("bench.png");
            BenchReport.plot(file).writePng(png);
            stdout.println("wrote " + png);
            Chart sms = BenchReport.smsPlot(file);
            if (sms != null) {
                Path smsPng = out.resolve("bench-sms.png");
                sms.writePng(smsPng);
                stdout.println("wrote " + smsPng);
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
