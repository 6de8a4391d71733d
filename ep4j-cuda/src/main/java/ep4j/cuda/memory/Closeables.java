package ep4j.cuda.memory;

/** Closing several owned parts in order, going on after a failure. */
final class Closeables {
    private Closeables() {}

    /**
     * Closes each non-null part in order, going on after failures. With a {@code pending}
     * exception (cleanup after a failed creation) every failure is added to it as suppressed and
     * null is returned; otherwise the first failure is returned, with the later ones suppressed
     * in it, or null when all closed.
     */
    static RuntimeException closeAll(Throwable pending, AutoCloseable... parts) {
        RuntimeException first = null;
        for (AutoCloseable part : parts) {
            if (part == null) {
                continue;
            }
            try {
                part.close();
            } catch (Exception e) {
                RuntimeException re = e instanceof RuntimeException r ? r : new IllegalStateException(e);
                if (pending != null) {
                    pending.addSuppressed(re);
                } else if (first == null) {
                    first = re;
                } else {
                    first.addSuppressed(re);
                }
            }
        }
        return first;
    }
}
