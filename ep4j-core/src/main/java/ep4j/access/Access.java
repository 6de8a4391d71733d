package ep4j.access;

/**
 * Where {@code ep4j} registers its {@link ResultAccess} (the JDK's "shared secrets" pattern):
 * the result types keep their constructors package-private, and {@link ep4j.spi.Results} reaches
 * them through this. Not API: this package is not exported.
 */
public final class Access {
    /** The package-private class of {@code ep4j} that registers itself when initialized. */
    private static final String FACTORY = "ep4j.ResultFactory";

    private static volatile ResultAccess results;

    private Access() {
    }

    /** Called once, by {@code ep4j.ResultFactory}'s static initializer. */
    public static synchronized void register(ResultAccess access) {
        Class<?> c = access.getClass();
        if (results != null || !c.getName().equals(FACTORY) || c.getModule() != Access.class.getModule()) {
            throw new IllegalStateException("ep4j result access is registered once, by " + FACTORY + ", not by " + c);
        }
        results = access;
    }

    /** The constructors of the result types. */
    public static ResultAccess results() {
        ResultAccess r = results;
        if (r == null) {
            try {
                Class.forName(FACTORY, true, Access.class.getClassLoader());
            } catch (ClassNotFoundException e) {
                throw new IllegalStateException(FACTORY + " is missing from ep4j-core", e);
            }
            r = results;
        }
        return r;
    }
}
