package ep4j.spi;

import ep4j.EpException;
import ep4j.EpGroup;
import ep4j.GroupSpec;
import ep4j.InvalidArgumentException;
import java.util.Comparator;
import java.util.List;
import java.util.ServiceLoader;

/** Finds the backends (on the class path, or in ep4j.core's module layer) and picks one for a {@link GroupSpec}. */
public final class Backends {
    private Backends() {
    }

    /**
     * Every backend found, highest priority first.
     *
     * @return the backends (new instances)
     */
    public static List<Backend> all() {
        // As a named module: the backends of ep4j.core's layer (and its parents). On the class
        // path: the backends the thread's context class loader sees.
        Module core = Backend.class.getModule();
        ServiceLoader<Backend> loader = core.isNamed() && core.getLayer() != null
                ? ServiceLoader.load(core.getLayer(), Backend.class)
                : ServiceLoader.load(Backend.class);
        return loader.stream().map(ServiceLoader.Provider::get)
                .sorted(Comparator.comparingInt(Backend::priority).reversed()).toList();
    }

    /**
     * Forms a group on the backend {@code spec} names, or on the highest-priority available one
     * for {@link GroupSpec#AUTO}.
     *
     * @param spec a concluded spec
     * @return the group
     * @throws InvalidArgumentException when no backend has that name
     * @throws EpException              when the backend cannot form the group here (saying why)
     */
    public static EpGroup open(GroupSpec spec) {
        List<Backend> backends = all();
        if (GroupSpec.AUTO.equals(spec.backend())) {
            for (Backend b : backends) {
                if (b.unavailableReason(spec) == null) {
                    return b.open(spec);
                }
            }
            throw new EpException("no backend can run " + spec.size() + " ranks here");
        }
        for (Backend b : backends) {
            if (b.name().equals(spec.backend())) {
                String reason = b.unavailableReason(spec);
                if (reason != null) {
                    throw new EpException("backend " + b.name() + " cannot run " + spec.size() + " ranks here: " + reason);
                }
                return b.open(spec);
            }
        }
        throw new InvalidArgumentException("backend", spec.backend(),
                "one of " + backends.stream().map(Backend::name).toList() + " or \"auto\"");
    }
}
