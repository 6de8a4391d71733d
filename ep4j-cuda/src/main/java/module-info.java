/**
 * The GPU backend of ep4j (service name "cuda"): FFM bindings to the CUDA driver, the kernels
 * (a fatbin in this module), and the backend that {@link java.util.ServiceLoader} finds for
 * {@code ep4j.core}. Applications use it only through the API of {@code ep4j.core}; nothing is
 * exported to them. The command-line tool reaches the driver bindings and the benchmark
 * baselines through qualified exports.
 *
 * <p>The driver is called through {@link java.lang.foreign}: run with
 * {@code --enable-native-access=ep4j.cuda} on the module path (or {@code ALL-UNNAMED} on the
 * class path) to keep the JDK from warning.
 *
 * @provides ep4j.spi.Backend the GPU backend, "cuda"
 */
module ep4j.cuda {
    requires ep4j.core;

    exports ep4j.cuda to ep4j.cli;
    exports ep4j.cuda.driver to ep4j.cli;
    exports ep4j.cuda.tune to ep4j.cli;

    provides ep4j.spi.Backend with ep4j.cuda.CudaBackend;
}
