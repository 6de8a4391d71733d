package ep4j.cuda.kernel;

import ep4j.InvalidArgumentException;
import java.util.ArrayList;
import java.util.List;

/**
 * The Java declaration of a struct of the kernel contract (src/main/cuda/contract.cuh): its
 * fields in declaration order, laid out as the CUDA compiler lays out a C struct (each field at
 * its natural alignment, the size rounded up to the largest alignment). {@link Contract} checks
 * it against the table the build prints from the C declaration, so the two cannot drift apart.
 *
 * <p>A struct is declared by a class of static fields, one per C field, in the C order; each
 * typed field knows its offset, and {@link Params} writes values through them:
 *
 * <pre>{@code
 * static final CStruct.Builder B = CStruct.builder("LayoutParams");
 * static final CStruct.Ptr TOPK_IDX = B.ptr("topk_idx");
 * static final CStruct.I32 IDX_IS_64 = B.i32("idx_is_64");
 * ...
 * static final CStruct STRUCT = B.build();
 * }</pre>
 */
public final class CStruct {
    /** The C types a contract field may have (the table's kind column). */
    public enum Kind {
        I32("i32", 4), U32("u32", 4), I64("i64", 8), U64("u64", 8), F32("f32", 4), PTR("ptr", 8);

        final String tableName;
        final int size;

        Kind(String tableName, int size) {
            this.tableName = tableName;
            this.size = size;
        }

        static Kind ofTableName(String name) {
            for (Kind k : values()) {
                if (k.tableName.equals(name)) {
                    return k;
                }
            }
            throw new IllegalArgumentException("unknown field kind '" + name + "'");
        }
    }

    /** One field: its C name, type, byte offset, and array length (0 for a scalar). */
    public record Field(String name, Kind kind, long offset, int count) {
        long byteSize() {
            return (long) kind.size * Math.max(count, 1);
        }

        @Override
        public String toString() {
            return kind.tableName + " " + name + (count > 0 ? "[" + count + "]" : "") + " @" + offset;
        }
    }

    private final String name;
    private final List<Field> fields;
    private final long size;
    private final long alignment;

    private CStruct(String name, List<Field> fields, long size, long alignment) {
        this.name = name;
        this.fields = List.copyOf(fields);
        this.size = size;
        this.alignment = alignment;
    }

    public static Builder builder(String cName) {
        return new Builder(cName);
    }

    /** A struct as the contract table gives it (for comparison only: it has no field handles). */
    static CStruct fromTable(String name, List<Field> fields, long size, long alignment) {
        return new CStruct(name, fields, size, alignment);
    }

    /** The C name. */
    public String name() {
        return name;
    }

    public List<Field> fields() {
        return fields;
    }

    /** {@code sizeof} the C struct. */
    public long size() {
        return size;
    }

    /** {@code alignof} the C struct. */
    public long alignment() {
        return alignment;
    }

    @Override
    public String toString() {
        return "struct " + name + " (" + size + " bytes)";
    }

    /** Collects fields in declaration order; {@link #build()} ends the struct. */
    public static final class Builder {
        private final String name;
        private final List<Field> fields = new ArrayList<>();
        private long offset;
        private long alignment = 1;
        private CStruct built;

        private Builder(String name) {
            this.name = name;
        }

        private Field add(String field, Kind kind, int count) {
            if (built != null) {
                throw new IllegalStateException("struct " + name + " was already built; field " + field + " comes too late");
            }
            if (count < 0) {
                throw new InvalidArgumentException("count", count, "0 (scalar) or an array length >= 1");
            }
            for (Field f : fields) {
                if (f.name().equals(field)) {
                    throw new IllegalArgumentException("struct " + name + " declares field " + field + " twice");
                }
            }
            offset = (offset + kind.size - 1) / kind.size * kind.size;
            Field f = new Field(field, kind, offset, count);
            fields.add(f);
            offset += f.byteSize();
            alignment = Math.max(alignment, kind.size);
            return f;
        }

        public I32 i32(String field) {
            return new I32(this, add(field, Kind.I32, 0));
        }

        public I32 u32(String field) {
            return new I32(this, add(field, Kind.U32, 0));
        }

        public I64 i64(String field) {
            return new I64(this, add(field, Kind.I64, 0));
        }

        public I64 u64(String field) {
            return new I64(this, add(field, Kind.U64, 0));
        }

        public F32 f32(String field) {
            return new F32(this, add(field, Kind.F32, 0));
        }

        /** A pointer (device, or host-mapped), written as its 64-bit address. */
        public Ptr ptr(String field) {
            return new Ptr(this, add(field, Kind.PTR, 0));
        }

        /** A fixed array of {@code count} pointers. */
        public Ptrs ptrs(String field, int count) {
            return new Ptrs(this, add(field, Kind.PTR, count), count);
        }

        public I32s i32s(String field, int count) {
            return new I32s(this, add(field, Kind.I32, count), count);
        }

        public I32s u32s(String field, int count) {
            return new I32s(this, add(field, Kind.U32, count), count);
        }

        public I64s i64s(String field, int count) {
            return new I64s(this, add(field, Kind.I64, count), count);
        }

        public I64s u64s(String field, int count) {
            return new I64s(this, add(field, Kind.U64, count), count);
        }

        public CStruct build() {
            if (built == null) {
                built = new CStruct(name, fields, (offset + alignment - 1) / alignment * alignment, alignment);
            }
            return built;
        }
    }

    /** A field handle: which struct it belongs to and where it sits. */
    public abstract static sealed class Member permits I32, I64, F32, Ptr, Ptrs, I32s, I64s {
        private final Builder owner;
        final Field field;

        Member(Builder owner, Field field) {
            this.owner = owner;
            this.field = field;
        }

        final void checkOwner(CStruct struct) {
            if (owner.built != struct) {
                throw new IllegalArgumentException("field " + field.name() + " of struct " + owner.name
                        + " written into a " + struct.name());
            }
        }

        public final long offset() {
            return field.offset();
        }

        public final String name() {
            return field.name();
        }
    }

    /** {@code int} or {@code unsigned int}. */
    public static final class I32 extends Member {
        I32(Builder owner, Field field) {
            super(owner, field);
        }
    }

    /** {@code long long} or {@code unsigned long long}. */
    public static final class I64 extends Member {
        I64(Builder owner, Field field) {
            super(owner, field);
        }
    }

    public static final class F32 extends Member {
        F32(Builder owner, Field field) {
            super(owner, field);
        }
    }

    public static final class Ptr extends Member {
        Ptr(Builder owner, Field field) {
            super(owner, field);
        }
    }

    public static final class Ptrs extends Member {
        final int count;

        Ptrs(Builder owner, Field field, int count) {
            super(owner, field);
            this.count = count;
        }

        public int count() {
            return count;
        }
    }

    /** A fixed array of 32-bit integers. */
    public static final class I32s extends Member {
        final int count;

        I32s(Builder owner, Field field, int count) {
            super(owner, field);
            this.count = count;
        }

        public int count() {
            return count;
        }

        /** Byte offset of element {@code i}. */
        public long offset(int i) {
            return field.offset() + 4L * i;
        }
    }

    /** A fixed array of 64-bit integers. */
    public static final class I64s extends Member {
        final int count;

        I64s(Builder owner, Field field, int count) {
            super(owner, field);
            this.count = count;
        }

        public int count() {
            return count;
        }

        /** Byte offset of element {@code i}. */
        public long offset(int i) {
            return field.offset() + 8L * i;
        }
    }
}
