/**
 * ep4j: expert-parallel communication (Mixture-of-Experts dispatch and combine) for the JVM.
 * This module holds the API ({@link ep4j}), the bit-exact number codecs ({@link ep4j.codec}),
 * the service interface backends implement ({@link ep4j.spi}), and the CPU backend (service
 * name "cpu"). The GPU backend is the module {@code ep4j.cuda}, found at run time through
 * {@link java.util.ServiceLoader}.
 *
 * <p>Only those three packages are exported. The request validator is shared with the GPU
 * backend only; the CPU backend and the bridge the SPI uses to build results stay inside.
 * JSpecify's annotations are needed to compile against this module's nullness annotations, not
 * to run it.
 *
 * @uses ep4j.spi.Backend the backends {@link ep4j.EpGroup} chooses from
 * @provides ep4j.spi.Backend the CPU backend, "cpu"
 */
module ep4j.core {
    requires static org.jspecify;

    exports ep4j;
    exports ep4j.codec;
    exports ep4j.spi;
    exports ep4j.check to ep4j.cuda;
    exports ep4j.process to ep4j.cuda;

    uses ep4j.spi.Backend;

    provides ep4j.spi.Backend with ep4j.cpu.CpuBackend;
}
