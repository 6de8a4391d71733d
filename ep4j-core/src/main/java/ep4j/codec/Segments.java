package ep4j.codec;

import ep4j.InvalidArgumentException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Argument checks shared by the bulk codecs, done up front so that a rejected call writes nothing. */
final class Segments {

    /** Explicitly little-endian: the GPU's byte order, whatever the host's. */
    static final ValueLayout.OfShort BF16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Segments() {
    }

    /** The slice of {@code count} elements of {@code elementBytes} at {@code offset}, or an exception naming what is wrong. */
    static MemorySegment slice(String name, MemorySegment segment, long offset, long count, int elementBytes) {
        if (segment == null) {
            throw new InvalidArgumentException(name, null, "a memory segment");
        }
        if (count < 0) {
            throw new InvalidArgumentException("count", count, ">= 0");
        }
        if (offset < 0) {
            throw new InvalidArgumentException(name + " offset", offset, ">= 0");
        }
        if (count > (Long.MAX_VALUE - offset) / elementBytes
                || offset + count * elementBytes > segment.byteSize()) {
            throw new InvalidArgumentException(name, segment.byteSize() + " bytes",
                    "at least " + offset + " + " + count + " * " + elementBytes + " bytes");
        }
        return segment.asSlice(offset, count * elementBytes);
    }

    static void checkWritableDisjoint(String outName, MemorySegment out, String inName, MemorySegment in) {
        if (out.isReadOnly()) {
            throw new InvalidArgumentException(outName, "a read-only segment", "a writable segment");
        }
        if (out.byteSize() > 0 && in.byteSize() > 0 && out.asOverlappingSlice(in).isPresent()) {
            throw new InvalidArgumentException(outName, "a range overlapping " + inName, "a range disjoint from " + inName);
        }
    }
}
