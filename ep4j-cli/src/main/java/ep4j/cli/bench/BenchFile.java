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
 * then the table's rows ({@code results}), every size of the token sweep ({@code sweep}), notes,
 * and on GPUs the SM sweep. Times are microseconds, bandwidths GB/s (10^9 bytes per second);
 * a figure that was not measured (GPU time on the CPU) is {@code null}.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record BenchFile(String ep4jVersion, String java, Integer cores, String os,
        @JsonProperty(required = true) String backend, @JsonProperty(required = true) int ranks,
        @JsonProperty(required = true) int tokens, @JsonProperty(required = true) int hidden,
        @JsonProperty(required = true) int topk, @JsonProperty(required = true) int experts, Integer sms,
        Integer iters, Integer warmup, Integer llTokens, int[] sweepTokens, int[] llSweepTokens, Long seed,
        String time, String logicalBytes, String baseline, String baselineDescription, String baselineSchedule,
        List<Row> results, @JsonProperty(required = true) List<Row> sweep, List<String> notes,
        List<SmPoint> smsSweep) {

    /**
     * One case at one size: {@code time_us} is the median call, {@code p50_us} and {@code p99_us}
     * percentiles from an HdrHistogram (see {@link Latency}; absent from files of older versions).
     * The baseline figures are in the table's rows only.
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Row(@JsonProperty(value = "case", required = true) String benchCase, int ranks,
            @JsonProperty(required = true) int tokens, int hidden, @JsonProperty(required = true) double timeUs,
            Double p50Us, Double p99Us, Double maxUs, Double minUs, Double meanUs, Integer samples, Double bytesPerRank, Double gpuUs,
            Double logicalGbps, Double crossBytesPerRank, Double crossGbps, String baseline, Double baselineUs,
            Double baselineGbps, Double ratio) {

        static Row of(BenchResult r, boolean withBaseline) {
            Latency l = r.latency();
            return new Row(r.benchCase().label(), r.ranks(), r.tokens(), r.hidden(), l.median() / 1e3, l.p50() / 1e3,
                    l.p99() / 1e3, l.max() / 1e3, l.min() / 1e3, l.mean() / 1e3, l.samples(), r.bytesPerRank(),
                    r.gpuMicros(), r.logicalGBps(), r.crossBytesPerRank(), r.crossGBps(),
                    withBaseline ? r.baselineName() : null, withBaseline ? r.baselineSeconds() * 1e6 : null,
                    withBaseline ? r.baselineGBps() : null, withBaseline ? r.ratio() : null);
        }
    }

    /** One SM count of the GPU sweep: GPU microseconds of each kernel and the GB/s they give. */
    public record SmPoint(int sms, double layoutUs, double dispatchBf16Us, double dispatchFp8Us, double combineUs,
            double dispatchBf16Gbps, double dispatchFp8Gbps, double combineGbps, double dispatchBf16CrossGbps,
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
