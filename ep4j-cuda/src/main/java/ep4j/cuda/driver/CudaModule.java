package ep4j.cuda.driver;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import ep4j.InvalidArgumentException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/** Device code loaded into one context ({@code cuModuleLoadData}); unloaded on {@link #close()}. */
public final class CudaModule extends ContextResource implements AutoCloseable {
    /** Where the build puts the kernels of src/main/cuda. */
    public static final String KERNELS_RESOURCE = "ep4j/cuda/ep4j.fatbin";

    private final MemorySegment handle;
    private final String origin;
    private final ConcurrentMap<String, CudaFunction> functions = new ConcurrentHashMap<>();

    private CudaModule(CudaContext context, MemorySegment handle, String origin) {
        super(context);
        this.handle = handle;
        this.origin = origin;
    }

    /** Loads a fatbin, cubin or PTX image (PTX is JIT-compiled for the device here). */
    public static CudaModule load(CudaContext context, byte[] image) {
        return load(context, image, image.length + "-byte image");
    }

    /** Loads a classpath resource, by default {@link #KERNELS_RESOURCE}. */
    public static CudaModule loadResource(CudaContext context, String path) {
        return load(context, resource(path), path);
    }

    private static CudaModule load(CudaContext context, byte[] image, String origin) {
        if (image.length == 0) {
            throw new InvalidArgumentException("image", "0 bytes", "a fatbin, cubin or PTX image");
        }
        context.acquire();
        try (Arena arena = Arena.ofConfined()) {
            context.activate();
            // The driver reads the image during the call only; the extra zero ends a PTX text.
            MemorySegment native_ = arena.allocate(image.length + 1L, 16);
            MemorySegment.copy(image, 0, native_, JAVA_BYTE, 0, image.length);
            MemorySegment out = Scratch.get();
            int r;
            try {
                r = (int) Cu.cuModuleLoadData.invokeExact(out, native_);
            } catch (Throwable t) {
                throw Native.rethrow(t);
            }
            if (r != CudaConstants.CUDA_SUCCESS) {
                throw Driver.failure(r, "cuModuleLoadData(" + origin + ") on device "
                        + context.device().ordinal());
            }
            return new CudaModule(context, out.get(ADDRESS, 0), origin);
        } catch (RuntimeException | Error e) {
            context.release();
            throw e;
        }
    }

    /**
     * The bytes of a classpath resource. A missing one means the kernels were not built:
     * {@link CudaUnavailableException} says so.
     */
    public static byte[] resource(String path) {
        String p = path.startsWith("/") ? path.substring(1) : path;
        InputStream in = open(p);
        if (in == null) {
            throw new CudaUnavailableException("the classpath resource " + p + " is missing: the CUDA kernels "
                    + "were not built because nvcc was absent when ep4j-cuda was built (install the CUDA "
                    + "toolkit and rebuild ep4j-cuda)");
        }
        try (in) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("reading the classpath resource " + p, e);
        }
    }

    /** Whether the resource {@code path} (e.g. {@link #KERNELS_RESOURCE}) is there. */
    public static boolean hasResource(String path) {
        try (InputStream in = open(path.startsWith("/") ? path.substring(1) : path)) {
            return in != null;
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * A resource of this module, or null. Through the module, not the class loader: in a named
     * module (ep4j.cuda on the module path) a class loader does not find a resource in a package
     * the module does not open.
     */
    private static InputStream open(String path) {
        try {
            return CudaModule.class.getModule().getResourceAsStream(path);
        } catch (IOException e) {
            throw new UncheckedIOException("reading the resource " + path, e);
        }
    }

    /** The kernel {@code extern "C" __global__} {@code name}; one object per name. */
    public CudaFunction function(String name) {
        ensureOpen();
        CudaFunction f = functions.get(name);
        return f != null ? f : functions.computeIfAbsent(name, this::lookup);
    }

    private CudaFunction lookup(String name) {
        context.activate();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cName = arena.allocateFrom(name);
            MemorySegment out = arena.allocate(ADDRESS);
            int r;
            try {
                r = (int) Cu.cuModuleGetFunction.invokeExact(out, handle, cName);
            } catch (Throwable t) {
                throw Native.rethrow(t);
            }
            if (r != CudaConstants.CUDA_SUCCESS) {
                throw Driver.failure(r, "cuModuleGetFunction(\"" + name + "\") in " + origin);
            }
            return new CudaFunction(this, name, out.get(ADDRESS, 0));
        }
    }

    @Override
    int destroy() throws Throwable {
        return (int) Cu.cuModuleUnload.invokeExact(handle);
    }

    @Override
    String destroyCall() {
        return "cuModuleUnload(" + origin + ")";
    }

    @Override
    String describe() {
        return origin + ", " + device();
    }
}
