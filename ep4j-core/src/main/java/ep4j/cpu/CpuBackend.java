package ep4j.cpu;

import ep4j.EpGroup;
import ep4j.GroupSpec;
import ep4j.spi.Backend;

/**
 * The CPU backend: ranks are threads of this JVM sharing host memory, or processes of one host
 * sharing memory-mapped files under /dev/shm (a multi-process {@link GroupSpec}). Always
 * available; lowest priority under "auto".
 */
public final class CpuBackend implements Backend {
    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public boolean isAvailable(int ranks) {
        return ranks >= 1;
    }

    @Override
    public String unavailableReason(int ranks) {
        return ranks >= 1 ? null : "a group needs at least one rank, not " + ranks;
    }

    @Override
    public String unavailableReason(GroupSpec spec) {
        return unavailableReason(spec.size());
    }

    @Override
    public EpGroup open(GroupSpec spec) {
        spec.conclude();
        return spec.isMultiProcess() ? CpuGroup.overProcesses(spec) : CpuGroup.inOneJvm(spec.size());
    }

    @Override
    public int priority() {
        return 0;
    }
}
