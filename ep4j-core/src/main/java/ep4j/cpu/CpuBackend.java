package ep4j.cpu;

import ep4j.EpGroup;
import ep4j.GroupSpec;
import ep4j.spi.Backend;

/** The CPU backend: ranks are threads of this JVM sharing host memory. Always available; lowest priority under "auto". */
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
        if (spec.isMultiProcess()) {
            return "a group spread over processes is not supported by the CPU backend yet (ranks are threads of one JVM)";
        }
        return unavailableReason(spec.size());
    }

    @Override
    public EpGroup open(GroupSpec spec) {
        return new CpuGroup(spec.conclude().size());
    }

    @Override
    public int priority() {
        return 0;
    }
}
