package ep4j.cuda.driver;

/**
 * A context resource that is a range of the unified address space: device memory, a reserved
 * address range, a mapping. Its first address (a CUdeviceptr) and size are fixed at creation.
 */
abstract class DeviceRange extends ContextResource {
    final long address;
    final long byteSize;

    DeviceRange(CudaContext context, long address, long byteSize) {
        super(context);
        this.address = address;
        this.byteSize = byteSize;
    }

    /**
     * The first address of the range (a CUdeviceptr).
     *
     * @return the address
     * @throws IllegalStateException when the resource was closed
     */
    public long address() {
        ensureOpen();
        return address;
    }

    /**
     * The size of the range.
     *
     * @return its bytes
     */
    public long byteSize() {
        return byteSize;
    }

    @Override
    String describe() {
        return Native.hex(address) + ", " + byteSize + " bytes";
    }
}
