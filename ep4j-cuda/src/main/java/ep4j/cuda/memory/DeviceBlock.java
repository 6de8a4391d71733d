package ep4j.cuda.memory;

import ep4j.cuda.driver.DeviceMemory;

/**
 * A block of device memory a call hands out: a stream-ordered block ({@link StreamPool.Block}),
 * or, while a CUDA graph is being captured (where a stream-ordered allocation would become part
 * of the graph), a plain allocation. Closing it frees it; twice is harmless.
 */
public interface DeviceBlock extends AutoCloseable {
    /** The device pointer. */
    long address();

    @Override
    void close();

    /** A plain allocation as a block. */
    static DeviceBlock of(DeviceMemory memory) {
        return new DeviceBlock() {
            @Override
            public long address() {
                return memory.address();
            }

            @Override
            public void close() {
                memory.close();
            }
        };
    }
}
