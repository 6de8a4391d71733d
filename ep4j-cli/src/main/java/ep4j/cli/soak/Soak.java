package ep4j.cli.soak;

import ep4j.EpBuffers;
import ep4j.EpGroup;
import ep4j.cli.Main;
import ep4j.cli.term.ProgressBar;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * The soak loop: step after step until the time or the step count is up, each step drawn from
 * its own seed ({@code seed + step}, see {@link SoakCase}), run on the group under test, then on
 * the reference group (the CPU backend) with the same inputs, and compared bit for bit. Buffers
 * are allocated for a block of steps and closed after it, on both groups. A mismatch is reported
 * and the run goes on; a failure (an exception) ends it, since a failed group stays aborted.
 * After the last step every buffer and result is closed, and the native memory in use must be
 * back where it started (nothing leaked).
 *
 * <p>In a job of one process per rank the group under test drives this process's rank only,
 * while the reference, in this JVM, runs every rank (the inputs come from the seed, so every
 * process makes the same ones); each process compares its own rank.
 */
final class Soak {
    /**
     * What to run. Test hooks: {@code injectMismatchAt}, the step whose outputs are corrupted on the
     * group under test, and {@code injectLeakAt}, the step that leaves a tensor open there; -1 for none.
     */
    record Settings(int ranks, long seed, long maxSteps, Duration duration, Duration timeout, long injectMismatchAt,
            long injectLeakAt) {
    }

    /** The bytes the leak test hook leaves allocated. */
    static final long INJECTED_LEAK_BYTES = 4L << 20;

    /** What happened: steps run, mismatches (the first few described), steps per mode, and a failure, if any. */
    record Report(long steps, long mismatches, List<String> firstMismatches, Map<String, Integer> modes,
            String failure) {
    }

    /** Mismatch lines kept for the summary (every one is printed as it happens). */
    static final int KEPT = 5;

    private final EpGroup subject;
    private final EpGroup reference;
    private final Settings settings;
    private final ProgressBar bar;
    private final PrintWriter out;
    private final String reproduce;

    private SoakCase.Shape shape;
    private EpBuffers subjectBuffers;
    private EpBuffers referenceBuffers;

    /** {@code reproduce}: the command line without {@code --seed}/{@code --steps}, for the reproduction hint. */
    Soak(EpGroup subject, EpGroup reference, Settings settings, ProgressBar bar, PrintWriter out, String reproduce) {
        this.subject = subject;
        this.reference = reference;
        this.settings = settings;
        this.bar = bar;
        this.out = out;
        this.reproduce = reproduce;
    }

    Report run() {
        long startNanos = System.nanoTime();
        long budget = settings.duration().toNanos();
        long seconds = Math.max(1, TimeUnit.NANOSECONDS.toSeconds(budget + 999_999_999L));
        bar.start(settings.maxSteps() > 0 && budget == Long.MAX_VALUE ? settings.maxSteps() : seconds);
        Map<String, Integer> modes = new TreeMap<>();
        List<String> kept = new ArrayList<>();
        long steps = 0;
        long mismatches = 0;
        String failure = null;
        try {
            for (long step = 0; settings.maxSteps() <= 0 || step < settings.maxSteps(); step++) {
                long elapsed = System.nanoTime() - startNanos;
                if (step > 0 && elapsed >= budget) {
                    break;
                }
                SoakCase c = SoakCase.draw(settings.seed() + step, settings.ranks());
                Optional<String> diff;
                try {
                    diff = runStep(c, step == settings.injectMismatchAt());
                    if (step == settings.injectLeakAt()) {
                        subject.allocate(subject.localRanks()[0], ep4j.DType.UINT8, INJECTED_LEAK_BYTES); // never closed: the test hook's leak
                    }
                } catch (RuntimeException | Error e) {
                    failure = "step " + step + " failed (case " + c.describe() + "): " + Main.oneLine(e) + "; "
                            + hint(step, c);
                    break;
                }
                steps++;
                modes.merge(c.mode(), 1, Integer::sum);
                if (diff.isPresent()) {
                    mismatches++;
                    String line = "mismatch at step " + step + " (case " + c.describe() + "): " + diff.get() + "; "
                            + hint(step, c);
                    if (kept.size() < KEPT) {
                        kept.add(line);
                    }
                    bar.finish();
                    out.println(line);
                    out.flush();
                }
                bar.label("step " + steps + ", mismatches: " + mismatches);
                if (budget == Long.MAX_VALUE) {
                    bar.step(1);
                } else {
                    long done = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - startNanos);
                    bar.step(Math.max(0, done - bar.done()));
                }
            }
        } finally {
            try {
                closeBuffers();
            } catch (RuntimeException e) {
                if (failure == null) {
                    failure = "closing the buffers failed: " + Main.oneLine(e);
                }
            }
            bar.finish();
        }
        return new Report(steps, mismatches, kept, modes, failure);
    }

    private String hint(long step, SoakCase c) {
        return "reproduce with: " + reproduce + " --seed " + c.seed() + " --steps 1 (the run up to it: --seed "
                + settings.seed() + " --steps " + (step + 1) + ")";
    }

    /** Runs the step on both groups; the first difference, if any. */
    private Optional<String> runStep(SoakCase c, boolean corrupt) {
        if (!c.shape().equals(shape)) {
            closeBuffers();
            shape = c.shape();
            subjectBuffers = subject.allocate(shape.spec(settings.timeout()));
            referenceBuffers = reference.allocate(shape.spec(settings.timeout()));
        }
        try (SoakInputs in = new SoakInputs(c)) {
            StepOutputs got = run(subject, subjectBuffers, c, in);
            StepOutputs want = run(reference, referenceBuffers, c, in);
            if (corrupt && got.corrupt() == null) {
                throw new IllegalStateException("the mismatch test hook found no output to change at seed " + c.seed());
            }
            return got.firstDifference(subject.backend(), want, "the cpu reference");
        }
    }

    private static StepOutputs run(EpGroup group, EpBuffers buffers, SoakCase c, SoakInputs in) {
        return new StepOutputs(group.localRanks(), group.onEachRank(r -> c.kind() == SoakCase.Kind.LOW_LATENCY
                ? new LowLatencyStep(group, buffers.rank(r), r, c, in).run()
                : new NormalStep(group, buffers.rank(r), r, c, in).run()));
    }

    private void closeBuffers() {
        EpBuffers a = subjectBuffers;
        EpBuffers b = referenceBuffers;
        subjectBuffers = null;
        referenceBuffers = null;
        shape = null;
        try (a; b) {
            // both closed, the first failure thrown
        }
    }
}
