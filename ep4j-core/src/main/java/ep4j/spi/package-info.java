/**
 * The service interface for backends: {@link ep4j.spi.Backend} (found with
 * {@link java.util.ServiceLoader}), {@link ep4j.spi.Results} (how a backend makes the API's
 * results), and helpers every backend uses ({@link ep4j.spi.RankThreads},
 * {@link ep4j.spi.HostMemory}). Applications use the API in {@link ep4j}; nothing here is
 * needed to use ep4j, only to add a backend.
 */
@NullMarked
package ep4j.spi;

import org.jspecify.annotations.NullMarked;
