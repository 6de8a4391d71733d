package ep4j.cuda.tune;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

/**
 * What {@code ep4j tune} measured on this machine: for each normal kernel, the fewest SMs that
 * reach (within a few percent) its best time on the headline problem, and the bytes one SM moves
 * in that time. {@link AutoConfig} scales from these; without a profile it uses defaults from
 * the H200 measurements in the device notes. Stored as a properties file at
 * {@code $EP4J_TUNE_FILE}, else {@code ~/.cache/ep4j/tune.properties}.
 */
public record TuneProfile(String device, int dispatchSms, int combineSms, long bytesPerSm) {
    static final TuneProfile DEFAULT = new TuneProfile("default", 16, 16, 4L << 20);

    public static Path location() {
        String env = System.getenv("EP4J_TUNE_FILE");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        return Path.of(System.getProperty("user.home"), ".cache", "ep4j", "tune.properties");
    }

    /** The saved profile, or {@link #DEFAULT} when there is none (or it cannot be read). */
    public static TuneProfile load() {
        Path p = location();
        if (!Files.isRegularFile(p)) {
            return DEFAULT;
        }
        Properties props = new Properties();
        try (InputStream in = Files.newInputStream(p)) {
            props.load(in);
            return new TuneProfile(props.getProperty("device", "unknown"),
                    Integer.parseInt(props.getProperty("dispatch.sms")), Integer.parseInt(props.getProperty("combine.sms")),
                    Long.parseLong(props.getProperty("bytes.per.sm")));
        } catch (IOException | RuntimeException e) {
            return DEFAULT;
        }
    }

    public void save() throws IOException {
        Path p = location();
        Files.createDirectories(p.toAbsolutePath().getParent());
        Properties props = new Properties();
        props.setProperty("device", device);
        props.setProperty("dispatch.sms", Integer.toString(dispatchSms));
        props.setProperty("combine.sms", Integer.toString(combineSms));
        props.setProperty("bytes.per.sm", Long.toString(bytesPerSm));
        try (OutputStream out = Files.newOutputStream(p)) {
            props.store(out, "ep4j tune: SM counts for the normal kernels on this machine");
        }
    }
}
