package ep4j.spi;

/**
 * How often a region of a backend's fixed memory has been refilled. A view handed out over the
 * region ({@link Results#recycledView}) remembers the generation it was made in; once a later
 * call refills the region ({@link #advance()}), reading the view throws
 * {@link IllegalStateException} instead of returning the newer rows. For backend implementers.
 *
 * <p>Advanced and read by the rank's thread; read by any thread that holds a view.
 */
public final class Generation {
    private final String region;
    private volatile long current;

    /**
     * A region whose contents are at generation 0.
     *
     * @param region how messages name the region, e.g. "normal dispatch slot 0"
     */
    public Generation(String region) {
        this.region = region;
    }

    /**
     * The region is about to be refilled: views of the current contents expire.
     *
     * @return the new generation
     */
    public long advance() {
        return ++current;
    }

    /**
     * The generation the region's current contents belong to.
     *
     * @return the count of refills so far
     */
    public long current() {
        return current;
    }

    /**
     * Whether contents of generation {@code generation} are still in the region.
     *
     * @param generation a value {@link #current()} returned
     * @return true while no later refill happened
     */
    public boolean holds(long generation) {
        return current == generation;
    }

    /**
     * How messages name the region.
     *
     * @return the name given at construction
     */
    public String region() {
        return region;
    }
}
