package ep4j.cuda.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The memory classes against a fake libcuda, on a machine with no GPU (CI): builds
 * src/test/native/fake_libcuda.cpp with nvcc (it includes cuda.h, so its functions have the
 * real prototypes) and runs, in a child JVM that loads it as the driver
 * ({@code -Dep4j.cuda.library}), the GPU tests {@link SymmetricMemoryGpuTest} and
 * {@link StreamPoolGpuTest} and the failure checks of {@link FakeDriverChecks}. The fake checks
 * every argument after cuda.h, so this catches marshalling mistakes (a struct field in the wrong
 * place, a pointer passed for a value, a teardown out of order) and test mistakes before a GPU
 * run; what it cannot check is the real driver's behaviour.
 */
class FakeDriverTest {
    private static final String SOURCE = "src/test/native/fake_libcuda.cpp";

    private static String nvcc() {
        String env = System.getenv("NVCC");
        if (env != null && !env.isBlank()) {
            return env;
        }
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, "nvcc"))) {
                return Path.of(dir, "nvcc").toString();
            }
        }
        for (String c : List.of("/usr/local/cuda/bin/nvcc", "/usr/local/bin/nvcc")) {
            if (Files.isExecutable(Path.of(c))) {
                return c;
            }
        }
        Assumptions.assumeTrue("1".equals(System.getenv("EP4J_REQUIRE_NVCC")), "no nvcc to build the fake libcuda");
        throw new AssertionError("EP4J_REQUIRE_NVCC=1 but nvcc is not on the PATH");
    }

    private static String run(List<String> command, Path dir, long timeoutSeconds, List<String> env) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true);
        for (String kv : env) {
            int eq = kv.indexOf('=');
            pb.environment().put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        Path out = Files.createTempFile("fake-libcuda", ".log");
        pb.redirectOutput(out.toFile());
        Process p = pb.start();
        boolean done = p.waitFor(timeoutSeconds, TimeUnit.SECONDS);
        if (!done) {
            p.destroyForcibly();
        }
        String log = Files.readString(out, StandardCharsets.UTF_8);
        Files.deleteIfExists(out);
        assertTrue(done, String.join(" ", command) + " ran past " + timeoutSeconds + " s:\n" + log);
        assertEquals(0, p.exitValue(), String.join(" ", command) + " failed:\n" + log);
        return log;
    }

    @Test
    void gpuTestsOfTheMemoryClassesPassAgainstAFakeDriver(@TempDir Path tmp) throws Exception {
        String nvcc = nvcc();
        Path basedir = Path.of(System.getProperty("basedir", System.getProperty("user.dir")));
        Path source = basedir.resolve(SOURCE);
        assertTrue(Files.exists(source), source + " is missing");
        Path library = tmp.resolve("libcuda-fake.so");
        run(List.of(nvcc, "-std=c++17", "-shared", "-Xcompiler", "-fPIC", "--cudart", "none", "-o", library.toString(),
                source.toString()), basedir, 300, List.of());

        List<String> java = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Dep4j.cuda.library=" + library,
                "-cp", System.getProperty("java.class.path"), FakeDriverRun.class.getName()));
        String log;
        try {
            log = run(java, basedir, 300, List.of("EP4J_REQUIRE_GPU=1"));
        } catch (IOException e) {
            throw new AssertionError("could not start a child JVM: " + e, e);
        }
        assertTrue(log.contains(FakeDriverRun.PASSED), log);
    }
}
