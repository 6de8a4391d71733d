package ep4j.cli.bench;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import ep4j.cli.json.Mapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

/**
 * bench.json, as {@code ep4j bench} writes it and {@code ep4j plot} reads it (through
 * {@link ep4j.cli.json.Mapper}: components are snake_case in the file, {@code timeUs} is
 * {@code "time_us"}). The run's settings and the descriptions of what is measured come first,
 * then the table's rows ({@code results}), every size of the token sweeps ({@code sweep}), notes,
 * and on GPUs the SM sweep. Times are microseconds, bandwidths GB/s (10^9 bytes per second);
 * a figure that was not measured (GPU time on the CPU) is {@code null}. {@code processes} is 1
 * when one JVM drove every rank, the number of ranks in a job of one process per rank;
 * {@code barrier} says how the ranks met. Fields added later ({@code pipelined*},
 * {@code hook_mode}, {@code ll_sweep}, {@code processes}, {@code barrier}, and in rows
 * {@code pipelined_*}, {@code host_us}, {@code hook}) are absent from files of older versions;
 * readers must allow that.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record BenchFile(String ep4jVersion, String java, Integer cores, String os,
        @JsonProperty(required = true) String backend, @JsonProperty(required = true) int ranks,
        @JsonProperty(required = true) int tokens, @JsonProperty(required = true) int hidden,
        @JsonProperty(required = true) int topk, @JsonProperty(required = true) int experts, Integer sms,
        Integer iters, Integer warmup, Integer llTokens, int[] sweepTokens, int[] llSweepTokens, Long seed,
        Integer processes, String barrier, String time, String logicalBytes, String baseline,
        String baselineDescription, String baselineSchedule,
        Integer pipelinedCalls, Integer pipelinedSpans, String pipelined, String hookMode, Boolean llSweep,
        List<Row> results, @JsonProperty(required = true) List<Row> sweep, List<String> notes,
        List<SmPoint> smsSweep) {

    /**
     * One case at one size. {@code time_us} is the median wall clock of a synchronous call,
     * {@code p50_us} and {@code p99_us} percentiles from an HdrHistogram (see {@link Latency}),
     * {@code gpu_us} the device time of a synchronous call's kernels (events around each kernel).
     * {@code pipelined_us} is the GPU time per call of back-to-back asynchronous calls (see
     * {@link PipelinedTimes}; {@code pipelined_wall_us} their wall clock per call,
     * {@code pipelined_issue_us} the host's time to issue one, and the GB/s figures on that GPU
     * time), {@code host_us} = {@code time_us} - {@code pipelined_us}. The
     * baseline figures and {@code hook} (low-latency cases) are in the table's rows only.
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Row(@JsonProperty(value = "case", required = true) String benchCase, int ranks,
            @JsonProperty(required = true) int tokens, int hidden, @JsonProperty(required = true) double timeUs,
            Double p50Us, Double p99Us, Double maxUs, Double minUs, Double meanUs, Integer samples, Double bytesPerRank, Double gpuUs,
            Double logicalGbps, Double crossBytesPerRank, Double crossGbps, String baseline, Double baselineUs,
            Double baselineGbps, Double ratio, Double pipelinedUs, Double pipelinedWallUs, Double pipelinedIssueUs,
            Double pipelinedLogicalGbps,
            Double pipelinedCrossGbps, Double hostUs, Hook hook) {

        /** A row of the table ({@code withBaseline}: with the baseline and the hook mode) or of the sweep. */
        static Row of(BenchResult r, boolean withBaseline) {
            Latency l = r.latency();
            PipelinedTimes p = r.pipelined();
            return new Row(r.benchCase().label(), r.ranks(), r.tokens(), r.hidden(), l.median() / 1e3, l.p50() / 1e3,
                    l.p99() / 1e3, l.max() / 1e3, l.min() / 1e3, l.mean() / 1e3, l.samples(), r.bytesPerRank(),
                    r.gpuMicros(), r.logicalGBps(), r.crossBytesPerRank(), r.crossGBps(),
                    withBaseline ? r.baselineName() : null, withBaseline ? r.baselineSeconds() * 1e6 : null,
                    withBaseline ? r.baselineGBps() : null, withBaseline ? r.ratio() : null,
                    r.pipelinedGpuMicros(), p == null ? Double.NaN : p.wallMicros(),
                    p == null ? Double.NaN : p.issueMicros(), r.pipelinedLogicalGBps(),
                    r.pipelinedCrossGBps(), r.hostMicros(), withBaseline && r.hook() != null ? Hook.of(r.hook()) : null);
        }
    }

    /**
     * A low-latency case in hook mode (see {@link HookTimes}): wall clocks of the sending call and
     * of {@code receive()} (median, p99, max), device spans of each half (null without a device
     * clock), in microseconds.
     */
    public record Hook(Double sendUs, Double sendP99Us, Double sendMaxUs, Double sendGpuUs, Double receiveUs,
            Double receiveP99Us, Double receiveMaxUs, Double receiveGpuUs, Integer samples) {

        static Hook of(HookTimes h) {
            Latency s = h.sendWall();
            Latency r = h.receiveWall();
            return new Hook(s.median() / 1e3, s.p99() / 1e3, s.max() / 1e3, h.sendGpuMicros(), r.median() / 1e3,
                    r.p99() / 1e3, r.max() / 1e3, h.receiveGpuMicros(), s.samples());
        }
    }

    /**
     * One SM count of the GPU sweep: GPU microseconds of each kernel and the GB/s they give
     * (exchangeUs: the FP8 dispatch's count exchange alone, where it is a launch of its own).
     */
    public record SmPoint(int sms, double layoutUs, double exchangeUs, double dispatchBf16Us, double dispatchFp8Us,
            double combineUs, double dispatchBf16Gbps, double dispatchFp8Gbps, double combineGbps, double dispatchBf16CrossGbps,
            double dispatchFp8CrossGbps, double combineCrossGbps) {
    }

    /**
     * Reads a bench.json; what cannot be used is an {@link IllegalArgumentException} naming the
     * file, the value and what was expected.
     */
    public static BenchFile read(Path file) throws IOException {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(file + ": not found (expected the bench.json that ep4j bench writes)");
        }
        BenchFile f;
        try {
            f = Mapper.get().readValue(text, BenchFile.class);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(file + ": " + Mapper.describe(e));
        }
        if (f == null) {
            throw new IllegalArgumentException(file + ": empty (expected the bench.json that ep4j bench writes)");
        }
        for (int i = 0; i < f.sweep.size(); i++) {
            Row r = f.sweep.get(i);
            if (r == null || r.tokens() <= 0 || !Double.isFinite(r.timeUs())) {
                throw new IllegalArgumentException(file + ": \"sweep[" + i + "]\" = " + r
                        + ": expected a row with \"case\", \"tokens\" > 0 and \"time_us\"");
            }
        }
        return f;
    }

    /** The line that names the run, on top of the plots. */
    public String title() {
        return "ep4j bench: backend " + backend + ", " + ranks + " ranks, " + tokens + " tokens"
                + (llTokens != null ? " (low-latency " + llTokens + ")" : "") + " x " + hidden + " hidden, top-" + topk
                + " of " + experts + " experts";
    }

    /** The rows of the sweep of one case, in file order. */
    public List<Row> sweepOf(BenchCase c) {
        return sweep == null ? List.of() : sweep.stream().filter(r -> c.label().equals(r.benchCase())).toList();
    }
}
