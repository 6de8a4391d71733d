package ep4j;

import java.util.List;

/**
 * The buffers of the ranks this process drives, made together by
 * {@link EpGroup#allocate(BufferSpec)}. Closing it closes each of them; closing each of them is
 * the same. Closing the group closes every buffer it made.
 */
public interface EpBuffers extends AutoCloseable {
    /**
     * The buffer of one rank.
     *
     * @param rank a group rank this process drives
     * @return its buffer
     * @throws InvalidArgumentException when the rank is not one of them
     */
    EpBuffer rank(int rank);

    /**
     * Every buffer, in rank order.
     *
     * @return an unmodifiable list
     */
    List<EpBuffer> all();

    /**
     * Closes every buffer, even after one fails; twice is harmless.
     *
     * @throws EpException the first failure, the others attached as suppressed
     */
    @Override
    void close();
}
