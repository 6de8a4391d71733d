package ep4j;

import java.util.List;

/** The buffers of the ranks this process drives, made together by {@link EpGroup#allocate}. */
public interface EpBuffers extends AutoCloseable {
    /** The buffer of group rank {@code rank}; it must be a rank this process drives. */
    EpBuffer rank(int rank);

    List<EpBuffer> all();

    /** Closes every buffer. */
    @Override
    void close();
}
