package ep4j.cuda;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ep4j.EpGroup;
import ep4j.GroupSpec;
import ep4j.cuda.driver.Driver;

/**
 * The guard of every GPU test. On a machine that cannot run it the test is skipped (and says
 * why), except when {@code EP4J_REQUIRE_GPU=1} ({@code mvn -Pgpu test} sets it, and the device
 * runs do): there a missing GPU backend is a failure, so a GPU run cannot pass by skipping.
 */
public final class GpuRequired {
    private GpuRequired() {
    }

    public static boolean required() {
        return "1".equals(System.getenv("EP4J_REQUIRE_GPU"));
    }

    private static void need(boolean ok, String why) {
        if (!ok && required()) {
            fail("EP4J_REQUIRE_GPU=1 but " + why);
        }
        assumeTrue(ok, why);
    }

    /** The CUDA driver and at least one GPU. */
    public static void driver() {
        need(Driver.isAvailable(), "no CUDA: " + Driver.unavailableReason());
    }

    /** At least {@code gpus} GPUs. */
    public static void gpus(int gpus) {
        driver();
        need(Driver.deviceCount() >= gpus, "needs " + gpus + " GPUs; this machine has " + Driver.deviceCount());
    }

    /** The GPU backend, able to run {@code ranks} ranks on {@code gpus} GPUs. */
    public static void backend(int ranks, int gpus) {
        String why = new CudaBackend().unavailableReason(GroupSpec.ranks(ranks).gpus(gpus).conclude());
        need(why == null, "no GPU backend for " + ranks + " ranks on " + gpus + " GPUs: " + why);
    }

    /**
     * A group of {@code ranks} ranks on as many GPUs as the machine has, up to one per rank
     * (ranks share GPUs where there are fewer).
     */
    public static EpGroup group(int ranks) {
        driver();
        int gpus = Math.min(ranks, Driver.deviceCount());
        backend(ranks, gpus);
        return EpGroup.localGpus(ranks, gpus);
    }
}
