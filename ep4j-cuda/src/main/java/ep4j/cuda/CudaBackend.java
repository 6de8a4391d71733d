package ep4j.cuda;

import ep4j.EpGroup;
import ep4j.GroupSpec;
import ep4j.cuda.driver.CudaDevice;
import ep4j.cuda.driver.Driver;
import ep4j.cuda.kernel.Contract;
import ep4j.cuda.kernel.KernelConstants;
import ep4j.cuda.kernel.Kernels;
import ep4j.spi.Backend;

/**
 * The GPU backend: one rank per local GPU (Hopper or newer), or several per GPU for tests of
 * larger groups; kernels from the build's fatbin.
 */
public final class CudaBackend implements Backend {
    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public int priority() {
        return 10;
    }

    @Override
    public boolean isAvailable(int ranks) {
        return unavailableReason(ranks) == null;
    }

    /** Null when available. */
    @Override
    public String unavailableReason(int ranks) {
        return unavailableReason(GroupSpec.ranks(ranks).conclude());
    }

    @Override
    public String unavailableReason(GroupSpec spec) {
        int ranks = spec.size();
        int gpus = spec.gpuCount();
        if (spec.isMultiProcess()) {
            gpus = spec.localRank() + 1; // this process drives one rank, on the GPU of its local rank
        }
        if (!Kernels.built()) {
            return "the CUDA kernels were not built (nvcc was absent when ep4j-cuda was compiled)";
        }
        String contract = Contract.verdict();
        if (contract != null) {
            return contract;
        }
        if (!Driver.isAvailable()) {
            return Driver.unavailableReason();
        }
        int count = Driver.deviceCount();
        if (spec.isMultiProcess() && count < gpus) {
            return "local rank " + spec.localRank() + " uses GPU " + spec.localRank() + "; this machine has " + count
                    + " GPUs";
        }
        if (count < gpus) {
            return ranks + " ranks on " + gpus + " GPUs need " + gpus + " GPUs; this machine has " + count;
        }
        if (ranks > KernelConstants.MAX_RANKS) {
            return "the intranode kernels take at most " + KernelConstants.MAX_RANKS + " GPUs";
        }
        for (int i = 0; i < gpus; i++) {
            CudaDevice d = CudaDevice.get(i);
            if (d.computeCapability() < 90) {
                return "GPU " + i + " (" + d.name() + ") has compute capability " + d.computeCapability() / 10 + "."
                        + d.computeCapability() % 10 + "; the kernels need 9.0 (Hopper) or newer";
            }
        }
        return null;
    }

    @Override
    public EpGroup open(GroupSpec spec) {
        return new CudaGroup(spec);
    }
}
