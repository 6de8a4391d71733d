package ep4j.cuda.driver;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.Optional;

/**
 * Opens libcuda once. Kept apart from {@link Cu} so that a machine without the driver gets a
 * reason string instead of a class-initialisation error: every symbol then binds to a stub that
 * throws {@link CudaUnavailableException}, and nothing here ever throws.
 */
final class Lib {
    /** System property naming another library file (e.g. a full path) to open instead. */
    static final String LIBRARY_PROPERTY = "ep4j.cuda.library";
    static final String DEFAULT_LIBRARY = "libcuda.so.1";

    static final String LIBRARY = System.getProperty(LIBRARY_PROPERTY, DEFAULT_LIBRARY);
    /** Null when the library was opened. */
    static final String LOAD_ERROR;
    private static final SymbolLookup LOOKUP;

    static {
        String[] error = new String[1];
        SymbolLookup lookup = open(error);
        LOOKUP = lookup != null ? lookup : name -> Optional.empty();
        LOAD_ERROR = error[0];
    }

    @SuppressWarnings("restricted") // dlopen of the driver; callers run with --enable-native-access
    private static SymbolLookup open(String[] error) {
        if (Boolean.getBoolean("ep4j.cuda.disabled")) {
            error[0] = LIBRARY + " was not loaded: the system property ep4j.cuda.disabled is set";
            return null;
        }
        try {
            return SymbolLookup.libraryLookup(LIBRARY, Arena.global());
        } catch (IllegalArgumentException | IllegalCallerException e) {
            error[0] = LIBRARY + " could not be loaded (" + e.getMessage()
                    + "): no NVIDIA driver on this machine, or it is not on the library path";
        } catch (RuntimeException | LinkageError e) {
            error[0] = LIBRARY + " could not be loaded: " + e;
        }
        return null;
    }

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle MISSING;

    static {
        try {
            MISSING = MethodHandles.lookup().findStatic(Lib.class, "missing",
                    MethodType.methodType(int.class, String.class));
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    private Lib() {}

    static Optional<MemorySegment> find(String symbol) {
        return LOOKUP.find(symbol);
    }

    /**
     * Binds {@code symbol}; if absent, a handle of the same type that throws when called. Either
     * way its calls are counted under {@code symbol} ({@link DriverCalls}).
     */
    static MethodHandle bind(String symbol, FunctionDescriptor fd, Linker.Option... options) {
        return DriverCalls.counting(symbol, bindUncounted(symbol, fd, options));
    }

    @SuppressWarnings("restricted")
    private static MethodHandle bindUncounted(String symbol, FunctionDescriptor fd, Linker.Option... options) {
        Optional<MemorySegment> address = LOOKUP.find(symbol);
        if (address.isPresent()) {
            return LINKER.downcallHandle(address.get(), fd, options);
        }
        MethodType type = fd.toMethodType();
        MethodHandle stub = MethodHandles.insertArguments(MISSING, 0, symbol);
        return MethodHandles.dropArguments(stub, 0, type.parameterList());
    }

    /** Binds the first of {@code symbols} that the library has. */
    static MethodHandle bindFirst(FunctionDescriptor fd, String... symbols) {
        for (String s : symbols) {
            if (LOOKUP.find(s).isPresent()) {
                return bind(s, fd);
            }
        }
        return bind(symbols[0], fd);
    }

    static boolean has(String symbol) {
        return LOOKUP.find(symbol).isPresent();
    }

    @SuppressWarnings("unused") // called through MISSING
    private static int missing(String symbol) {
        if (LOAD_ERROR != null) {
            throw new CudaUnavailableException(LOAD_ERROR);
        }
        throw new CudaUnavailableException(LIBRARY + " has no symbol " + symbol
                + ": the NVIDIA driver is too old for ep4j");
    }
}
