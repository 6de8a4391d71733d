package ep4j.cli.soak;

import ep4j.EpGroup;
import ep4j.GroupSpec;
import ep4j.cli.Main;
import ep4j.cli.bench.BenchCommand;
import ep4j.cli.job.Job;
import ep4j.cli.job.JobOption;
import ep4j.cli.term.ProgressBar;
import ep4j.cli.term.Terminals;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code ep4j soak}: random steps for a while, each compared bit for bit with the CPU backend; memory must stay flat. */
@Command(name = "soak", mixinStandardHelpOptions = true, sortOptions = false, versionProvider = Main.Version.class,
        header = "Run random dispatch and combine steps for a while, each compared bit for bit with the CPU backend.",
        description = {
            "Step after step, draws a random case (buffer shape, tokens per rank, routing with empty slots and duplicated experts, mode: normal bf16 or fp8 with float32, power-of-two or UE8M0 scales, cached, worst-sized, low latency with and without receive hooks, synchronous or async, combine with weights and biases), runs it on the backend under test, runs it again on a second, independent group of the CPU backend with the same inputs, and compares every defined output bit for bit. Buffers are allocated per block of 8 steps and closed after it.",
            "With --backend cpu the CPU backend is compared with a second, independently run CPU group: no backend differences to find, but still useful: it catches nondeterminism, races and leaks.",
            "Prints the native (and, on cuda, GPU) memory at the start and at the end; with every buffer and result closed, the native memory in use (tracked by the JVM: bin/ep4j starts soak with -XX:NativeMemoryTracking=summary) must be back where it started (GPU memory is printed, not judged: the driver's pools keep freed blocks). Exit code 1 on any mismatch, failure or leak, naming the step, its case (seed, shape, mode) and the first differing output; every step is reproducible from its seed (--seed SEED --steps 1).",
            "Under a launcher (ep4j launch, torchrun, srun, mpirun) this process is one rank of a job of one process per rank (see --job): the group's size is the job's (no --ranks), every rank runs rank 0's seed, and the run is counted in steps (--steps, default " + SoakCommand.JOB_STEPS + "; --minutes would end the ranks at different steps). Each process compares its own rank with a CPU reference of every rank, in its own JVM. Example: ep4j launch -n 2 -- soak --backend cpu"
        })
public final class SoakCommand implements Callable<Integer> {
    /** Native bytes the end may hold above the start without being called a leak (allocator and JDK noise). */
    static final long LEAK_TOLERANCE_BYTES = 1 << 20;

    /** Steps of a run in a job when --steps is not given. */
    static final long JOB_STEPS = 200;

    @Spec
    CommandSpec spec;

    @Option(names = "--minutes", paramLabel = "M", description = "How long to run, fractions allowed (0.05 = 3 s). Default: 1, or no limit when only --steps is given.")
    Double minutes;

    @Option(names = "--steps", paramLabel = "N", description = "Stop after this many steps (whichever of --minutes and --steps comes first).")
    Long steps;

    @Option(names = "--backend", defaultValue = "auto", description = "The backend under test: auto (GPU when present, else CPU), cpu or cuda. Default: ${DEFAULT-VALUE}.")
    String backend;

    @Option(names = "--ranks", description = "Ranks. Default: the number of GPUs on cuda, else 4.")
    Integer ranks;

    @Mixin
    JobOption jobOption;

    @Option(names = "--seed", paramLabel = "SEED", description = "Step i runs the case of seed SEED + i. Default: drawn at random, and printed.")
    Long seed;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "30", description = "How long a rank waits for a peer before the step fails (BufferSpec timeout). Default: ${DEFAULT-VALUE}.")
    double timeoutSeconds;

    @Option(names = "--progress", negatable = true, description = "Show a progress bar on stderr. Default: only when stderr is a terminal.")
    Boolean progress;

    /** Test hook: corrupts one output of this step on the backend under test, to show that a mismatch fails the run. */
    @Option(names = "--inject-mismatch-at", hidden = true, defaultValue = "-1")
    long injectMismatchAt;

    /** Test hook: leaves a tensor of the backend under test open at this step, to show that a leak fails the run. */
    @Option(names = "--inject-leak-at", hidden = true, defaultValue = "-1")
    long injectLeakAt;

    @Override
    public Integer call() {
        if (!Arrays.asList("auto", "cpu", "cuda").contains(backend)) {
            throw usage("--backend must be auto, cpu or cuda, not '" + backend + "'");
        }
        if (minutes != null && !(minutes > 0 && minutes <= 1e6)) {
            throw usage("--minutes must be > 0 (and at most 1000000), not " + minutes);
        }
        if (steps != null && steps <= 0) {
            throw usage("--steps must be > 0, not " + steps);
        }
        if (!(timeoutSeconds > 0 && timeoutSeconds <= 86_400)) {
            throw usage("--timeout must be > 0 seconds (and at most 86400), not " + timeoutSeconds);
        }
        boolean job = jobOption.inJob(System.getenv());
        if (job) {
            if (ranks != null) {
                throw usage("--ranks is not given in a job (--job): its size comes from the launcher's variables"
                        + " (WORLD_SIZE, OMPI_COMM_WORLD_SIZE, SLURM_NTASKS or EP4J_WORLD_SIZE)");
            }
            if (minutes != null) {
                throw usage("--minutes is not for a job (--job): give --steps N (default " + JOB_STEPS + "): every"
                        + " rank must run the same steps, and a time limit would end them at different ones");
            }
        }
        Job jobSpec = job ? Job.fromEnvironment(System.getenv(), backend) : null;
        int r = job ? jobSpec.size() : ranks != null ? ranks : BenchCommand.defaultRanks(backend);
        if (r < 1 || r > 1024) {
            throw usage("--ranks must be 1 to 1024, not " + r);
        }
        long drawn = seed != null ? seed : Math.floorMod(System.nanoTime() ^ System.currentTimeMillis() * 31, 1_000_000_000L);
        long maxSteps = steps != null ? steps : job ? JOB_STEPS : 0;
        Duration duration = minutes != null ? Duration.ofMillis(Math.round(minutes * 60_000))
                : maxSteps > 0 ? Duration.ofNanos(Long.MAX_VALUE) : Duration.ofMinutes(1);
        Duration timeout = Duration.ofMillis(Math.round(timeoutSeconds * 1000));

        PrintWriter stdout = spec.commandLine().getOut();
        PrintWriter stderr = spec.commandLine().getErr();
        boolean showProgress = progress != null ? progress : Terminals.stderrIsTerminal();
        try (EpGroup subject = EpGroup.open(job ? jobSpec.spec() : GroupSpec.ranks(r).backend(backend));
             EpGroup reference = EpGroup.cpu(r);
             ProgressBar bar = new ProgressBar(stderr, showProgress)) {
            // Every rank of a job runs rank 0's seed (given or drawn), so all draw the same cases.
            long s = job ? Long.parseLong(new String(jobSpec.allGather("soak.seed",
                    Long.toString(drawn).getBytes(StandardCharsets.UTF_8), timeout).get(0), StandardCharsets.UTF_8))
                    : drawn;
            Soak.Settings settings = new Soak.Settings(r, s, maxSteps, duration, timeout, injectMismatchAt, injectLeakAt);
            // In a job the GPUs of the other ranks belong to other processes: only this host's memory is read.
            int gpus = subject.backend().equals("cuda") && !job ? r : 0;
            stdout.println("ep4j soak: backend " + subject.backend() + " against a second group of the cpu backend (the"
                    + " reference), " + r + " ranks" + (job ? " (this process: rank " + subject.localRanks()[0]
                    + ", one process per rank)" : "") + ", seed " + s + ", " + limits(settings));
            if (subject.backend().equals("cpu")) {
                stdout.println("note: the cpu backend against itself finds nondeterminism, races and leaks, not backend"
                        + " differences");
            }
            MemoryProbe start = MemoryProbe.read(gpus);
            stdout.println("memory at start: " + start.describe());
            stdout.flush();
            long t0 = System.nanoTime();
            Soak.Report report = new Soak(subject, reference, settings, bar, stdout, reproduce(r, job)).run();
            double took = (System.nanoTime() - t0) / 60e9;
            MemoryProbe end = settle(gpus, start);
            stdout.println(String.format(Locale.ROOT, "steps: %d in %.2f min, mismatches: %d%s", report.steps(), took,
                    report.mismatches(), report.failure() == null ? "" : ", failed"));
            stdout.println("modes: " + modes(report.modes()));
            stdout.println("memory at end: " + end.describe() + " (change: " + end.change(start) + ")");
            stdout.flush();
            List<String> problems = new ArrayList<>();
            if (report.failure() != null) {
                problems.add(report.failure());
            }
            if (report.mismatches() > 0) {
                problems.add(report.mismatches() + " mismatch" + (report.mismatches() > 1 ? "es" : "") + " in "
                        + report.steps() + " steps; the first: " + report.firstMismatches().get(0));
            }
            String leak = leak(start, end);
            if (leak != null) {
                problems.add(leak);
            }
            if (!problems.isEmpty()) {
                throw new SoakException(String.join("; and ", problems));
            }
            stdout.println("ep4j soak: passed (" + report.steps() + " steps bit-identical to the cpu reference, "
                    + (start.tracksNative() ? "native memory flat" : "native memory not judged: not tracked") + ")");
        }
        return Main.EXIT_OK;
    }

    /**
     * Native memory once every buffer and result is closed. Memory the JDK frees only when the
     * collector finds it unreachable gets a few collections to go.
     */
    private static MemoryProbe settle(int gpus, MemoryProbe start) {
        MemoryProbe end = MemoryProbe.read(gpus);
        for (int i = 0; i < 5 && end.nativeBytes() > start.nativeBytes() + LEAK_TOLERANCE_BYTES; i++) {
            System.gc();
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            end = MemoryProbe.read(gpus);
        }
        return end;
    }

    /** A description of the leak, or null when the native memory in use is back at its start. */
    static String leak(MemoryProbe start, MemoryProbe end) {
        if (start.nativeBytes() < 0 || end.nativeBytes() < 0) {
            return null;
        }
        long grown = end.nativeBytes() - start.nativeBytes();
        if (grown <= LEAK_TOLERANCE_BYTES) {
            return null;
        }
        return "native memory leak: " + MemoryProbe.bytes(grown) + " more in use after the run than before it ("
                + MemoryProbe.bytes(start.nativeBytes()) + " -> " + MemoryProbe.bytes(end.nativeBytes())
                + ") with every buffer, result and tensor closed; expected at most " + MemoryProbe.bytes(LEAK_TOLERANCE_BYTES)
                + " more";
    }

    private static String limits(Soak.Settings s) {
        String time = s.duration().toNanos() == Long.MAX_VALUE ? null
                : String.format(Locale.ROOT, "for %s min", trim(s.duration().toMillis() / 60_000.0));
        String count = s.maxSteps() > 0 ? "at most " + s.maxSteps() + " steps" : null;
        return time == null ? count : count == null ? time : time + " or " + count;
    }

    private static String trim(double v) {
        String t = String.format(Locale.ROOT, "%.3f", v);
        return t.replaceAll("0+$", "").replaceAll("\\.$", "");
    }

    private static String modes(Map<String, Integer> modes) {
        return modes.isEmpty() ? "none" : modes.entrySet().stream().map(e -> e.getKey() + " " + e.getValue())
                .collect(Collectors.joining(", "));
    }

    private String reproduce(int r, boolean job) {
        if (job) {
            return "ep4j launch -n " + r + " -- soak --backend " + backend;
        }
        return "ep4j soak --backend " + backend + " --ranks " + r;
    }

    private ParameterException usage(String message) {
        return new ParameterException(spec.commandLine(), message);
    }

    /** A soak that found a mismatch, a failure or a leak; Main prints its message as one line. */
    static final class SoakException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        SoakException(String message) {
            super(message);
        }
    }
}
