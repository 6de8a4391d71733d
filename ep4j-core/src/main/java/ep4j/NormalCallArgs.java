package ep4j;

import org.jspecify.annotations.Nullable;

/**
 * What every normal call ({@link DispatchArgs}, {@link CombineArgs}) takes beside its tensors:
 * the performance knobs, an event to start after, and whether to return once the work is queued.
 * The setters return the subclass, so a chain of them keeps its type.
 *
 * @param <A> the arguments' own class
 */
public abstract sealed class NormalCallArgs<A extends NormalCallArgs<A>> permits DispatchArgs, CombineArgs {
    private Config config = Config.auto();
    private @Nullable EpEvent previous;
    private boolean async;

    NormalCallArgs() {
    }

    @SuppressWarnings("unchecked")
    private A self() {
        return (A) this;
    }

    /**
     * Performance knobs; they never change the result.
     *
     * @param config the knobs ({@link Config#auto()} by default)
     * @return these arguments
     */
    public A config(Config config) {
        this.config = config;
        return self();
    }

    /**
     * An event the call waits for before it starts (on a GPU: the communication stream waits
     * for it, the host does not).
     *
     * @param event the event, or null for none
     * @return these arguments
     */
    public A previous(@Nullable EpEvent event) {
        this.previous = event;
        return self();
    }

    /**
     * Return as soon as the work is queued; the result's {@code event()} tells when it is ready.
     *
     * @param async true for an asynchronous call (false by default)
     * @return these arguments
     */
    public A async(boolean async) {
        this.async = async;
        return self();
    }

    /**
     * The performance knobs.
     *
     * @return the config
     */
    public Config config() {
        return config;
    }

    /**
     * The event to wait for.
     *
     * @return the event, or null
     */
    public @Nullable EpEvent previous() {
        return previous;
    }

    /**
     * Whether the call returns once queued.
     *
     * @return true for an asynchronous call
     */
    public boolean async() {
        return async;
    }
}
