package ep4j.cuda.kernel;

import ep4j.cuda.driver.CudaConstants;
import ep4j.cuda.driver.DriverStructs;
import ep4j.cuda.ipc.Posix;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.PaddingLayout;
import java.lang.foreign.StructLayout;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;

/**
 * Checks the driver bindings' copies of cuda.h against cuda.h itself: the FFM layouts of
 * {@link DriverStructs} and the values of {@link CudaConstants}, against the
 * {@code driver_struct}/{@code driver_field}/{@code driver_constant} rows that the build's
 * table program (contract_table.cu, compiled against the toolkit's cuda.h) prints into the
 * contract table. Unlike the kernel contract these are not ours to change; a mismatch means a
 * Java declaration is wrong (or cuda.h changed an ABI), and CI fails on it.
 */
public final class DriverContract {
    private DriverContract() {}

    /** One scalar or array field: its path from the struct (names joined by '.'), byte offset and size. */
    public record Field(String path, long offset, long size) {
        @Override
        public String toString() {
            return path + " @" + offset + " (" + size + " bytes)";
        }
    }

    /** A struct as the table gives it, or as a Java layout reads in the table's terms. */
    public record Struct(String name, long size, long alignment, List<Field> fields) {
    }

    /**
     * {@code layout} in the table's terms: its name, size and alignment, and its leaves (value and
     * sequence layouts, nested structs flattened into dotted paths), padding left out.
     */
    public static Struct of(StructLayout layout) {
        String name = layout.name().orElseThrow(() -> new IllegalArgumentException("an unnamed driver struct: " + layout));
        List<Field> fields = new ArrayList<>();
        flatten(layout, "", 0, fields);
        return new Struct(name, layout.byteSize(), layout.byteAlignment(), List.copyOf(fields));
    }

    private static void flatten(GroupLayout group, String prefix, long base, List<Field> out) {
        long offset = base;
        for (MemoryLayout m : group.memberLayouts()) {
            if (!(m instanceof PaddingLayout)) {
                String path = prefix + m.name().orElseThrow(() -> new IllegalArgumentException(
                        "an unnamed member of driver struct " + group.name().orElse("?") + ": " + m));
                if (m instanceof StructLayout nested) {
                    flatten(nested, path + ".", offset, out);
                } else if (m instanceof GroupLayout) {
                    throw new IllegalArgumentException("unions are not compared: " + path);
                } else {
                    out.add(new Field(path, offset, m.byteSize()));
                }
            }
            offset += m.byteSize();
        }
    }

    /** Every {@code public static final int} of {@code constants}, by name. */
    public static Map<String, Long> constantsOf(Class<?> constants) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (java.lang.reflect.Field f : constants.getFields()) {
            int mod = f.getModifiers();
            if (f.getType() == int.class && Modifier.isStatic(mod) && Modifier.isFinal(mod)) {
                try {
                    out.put(f.getName(), (long) f.getInt(null));
                } catch (IllegalAccessException e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        return out;
    }

    /** Every disagreement between the table's driver rows and the Java declarations given, in words; empty when none. */
    public static List<String> mismatches(Contract.Table table, List<StructLayout> layouts, Map<String, Long> constants) {
        List<String> out = new ArrayList<>();
        List<String> javaNames = new ArrayList<>();
        for (StructLayout layout : layouts) {
            Struct java = of(layout);
            javaNames.add(java.name());
            Struct c = table.driverStructs().get(java.name());
            if (c == null) {
                out.add("driver struct " + java.name() + " is declared in Java but has no driver_struct row"
                        + " (add it to src/build/contract_table.cu)");
                continue;
            }
            compare(java, c, out);
        }
        for (String name : table.driverStructs().keySet()) {
            if (!javaNames.contains(name)) {
                out.add("driver struct " + name + " of the table is not in DriverStructs.ALL");
            }
        }
        TreeSet<String> names = new TreeSet<>(constants.keySet());
        names.addAll(table.driverConstants().keySet());
        for (String name : names) {
            Long j = constants.get(name);
            Long c = table.driverConstants().get(name);
            if (!Objects.equals(j, c)) {
                out.add("constant " + name + ": Java " + (j == null ? "has none" : "says " + j) + ", cuda.h "
                        + (c == null ? "has no driver_constant row (add it to src/build/contract_table.cu)" : "says " + c));
            }
        }
        return out;
    }

    /**
     * {@link #mismatches} of the platform structs and constants ep4j declares: the driver's
     * ({@link DriverStructs#ALL}, {@link CudaConstants}) and libc's ({@link Posix}).
     */
    public static List<String> mismatches(Contract.Table table) {
        List<StructLayout> layouts = new ArrayList<>(DriverStructs.ALL);
        layouts.addAll(Posix.ALL);
        Map<String, Long> constants = new java.util.TreeMap<>(constantsOf(CudaConstants.class));
        constants.putAll(constantsOf(Posix.class));
        return mismatches(table, layouts, constants);
    }

    private static void compare(Struct java, Struct c, List<String> out) {
        String s = "driver struct " + java.name();
        if (java.size() != c.size() || java.alignment() != c.alignment()) {
            out.add(s + ": Java lays it out in " + java.size() + " bytes (align " + java.alignment() + "), cuda.h in "
                    + c.size() + " (align " + c.alignment() + ")");
        }
        int n = Math.max(java.fields().size(), c.fields().size());
        for (int i = 0; i < n; i++) {
            Field jf = i < java.fields().size() ? java.fields().get(i) : null;
            Field cf = i < c.fields().size() ? c.fields().get(i) : null;
            if (!Objects.equals(jf, cf)) {
                out.add(s + ", field " + (i + 1) + ": Java has " + (jf == null ? "nothing" : jf) + ", cuda.h "
                        + (cf == null ? "nothing" : cf));
            }
        }
    }
}
