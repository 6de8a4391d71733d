package ep4j;

/** The event of a synchronous call: already complete. */
enum CompletedEvent implements EpEvent {
    INSTANCE;

    @Override
    public void await() {
    }

    @Override
    public boolean isComplete() {
        return true;
    }
}
