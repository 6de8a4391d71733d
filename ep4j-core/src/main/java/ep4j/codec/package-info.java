/**
 * Bit-exact number codecs shared by every backend and the reference for the GPU kernels:
 * {@link ep4j.codec.BFloat16}, {@link ep4j.codec.E4M3} and the per-block FP8 quantization of
 * DESIGN 2.6 ({@link ep4j.codec.Fp8Quantizer}, {@link ep4j.codec.Fp8Mode}). Bulk methods read and
 * write little-endian values in {@link java.lang.foreign.MemorySegment}s and check every range
 * before they write anything.
 */
@NullMarked
package ep4j.codec;

import org.jspecify.annotations.NullMarked;
