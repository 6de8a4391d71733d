package ep4j.cuda.kernel;

import ep4j.EpException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;

/**
 * Checks the Java side of the kernel contract against the C side. The build prints the C
 * declarations of contract.cuh as a table (contract_table.cu, shipped as {@value #RESOURCE}
 * next to the fatbin); this class compares every Java struct ({@link CStruct}), constant
 * ({@link KernelConstants}) and enum ({@link ContractEnum}) with it. {@link Kernels#load} refuses
 * kernels whose contract disagrees, and a CI test runs the same check on every build.
 */
public final class Contract {
    /** Where the build puts the table, on the class path. */
    public static final String RESOURCE = "ep4j/cuda/contract.txt";

    /** Every struct the Java side declares. */
    public static final List<CStruct> STRUCTS = List.of(CallRecordLayout.STRUCT, HostSummaryLayout.STRUCT,
            ControlLayout.STRUCT, LayoutParams.STRUCT, NotifyParams.STRUCT, DispatchParams.STRUCT, CombineParams.STRUCT,
            LlParams.STRUCT);

    /** Every enum the Java side mirrors, by its C name. */
    public static final Map<String, Class<? extends ContractEnum>> ENUMS = Map.of(
            "ErrorCode", DeviceError.class,
            "Operation", DeviceOperation.class,
            "WaitKind", WaitKind.class,
            "LlMode", LlMode.class,
            "LlPhase", LlPhase.class);

    private static volatile String verdict;

    private Contract() {
    }

    /**
     * The C side as the build printed it: the kernel contract (structs, constants, enums) and the
     * cuda.h structs and constants the driver bindings declare ({@link DriverContract}).
     */
    public record Table(Map<String, CStruct> structs, Map<String, Integer> constants,
            Map<String, Map<String, Integer>> enums, Map<String, DriverContract.Struct> driverStructs,
            Map<String, Long> driverConstants) {
    }

    /** Parses the table format of contract_table.cu. */
    public static Table parse(String text) {
        Map<String, long[]> sizes = new LinkedHashMap<>();
        Map<String, List<CStruct.Field>> fields = new LinkedHashMap<>();
        Map<String, Integer> constants = new LinkedHashMap<>();
        Map<String, Map<String, Integer>> enums = new LinkedHashMap<>();
        Map<String, long[]> driverSizes = new LinkedHashMap<>();
        Map<String, List<DriverContract.Field>> driverFields = new LinkedHashMap<>();
        Map<String, Long> driverConstants = new LinkedHashMap<>();
        int lineNo = 0;
        for (String line : text.split("\n")) {
            lineNo++;
            line = line.strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String[] w = line.split("\\s+");
            try {
                switch (w[0]) {
                    case "struct" -> {
                        sizes.put(w[1], new long[] {Long.parseLong(w[2]), Long.parseLong(w[3])});
                        fields.put(w[1], new ArrayList<>());
                    }
                    case "field" -> fields.get(w[1]).add(new CStruct.Field(w[2], CStruct.Kind.ofTableName(w[3]),
                            Long.parseLong(w[4]), Integer.parseInt(w[5])));
                    case "constant" -> constants.put(w[1], Integer.parseInt(w[2]));
                    case "enum" -> enums.computeIfAbsent(w[1], k -> new LinkedHashMap<>()).put(w[2], Integer.parseInt(w[3]));
                    case "driver_struct" -> {
                        driverSizes.put(w[1], new long[] {Long.parseLong(w[2]), Long.parseLong(w[3])});
                        driverFields.put(w[1], new ArrayList<>());
                    }
                    case "driver_field" -> driverFields.get(w[1]).add(
                            new DriverContract.Field(w[2], Long.parseLong(w[3]), Long.parseLong(w[4])));
                    case "driver_constant" -> driverConstants.put(w[1], Long.parseLong(w[2]));
                    default -> throw new IllegalArgumentException("unknown item '" + w[0] + "'");
                }
            } catch (RuntimeException e) {
                throw new EpException("kernel contract table, line " + lineNo + " ('" + line + "'): " + e.getMessage(), e);
            }
        }
        Map<String, CStruct> structs = new LinkedHashMap<>();
        sizes.forEach((name, s) -> structs.put(name, CStruct.fromTable(name, fields.get(name), s[0], s[1])));
        Map<String, DriverContract.Struct> driverStructs = new LinkedHashMap<>();
        driverSizes.forEach((name, s) -> driverStructs.put(name,
                new DriverContract.Struct(name, s[0], s[1], List.copyOf(driverFields.get(name)))));
        return new Table(structs, constants, enums, driverStructs, driverConstants);
    }

    /** The table shipped with the kernels, or null when the build had no nvcc. */
    public static Table bundled() {
        // Through the module: as a named module, ep4j.cuda's resources are not on the class loader.
        try (InputStream in = Contract.class.getModule().getResourceAsStream(RESOURCE)) {
            return in == null ? null : parse(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new EpException("cannot read " + RESOURCE + ": " + e.getMessage(), e);
        }
    }

    /** Every disagreement between {@code table} and the Java declarations given, in words; empty when none. */
    public static List<String> mismatches(Table table, List<CStruct> structs, Map<String, Integer> constants,
            Map<String, Class<? extends ContractEnum>> enums) {
        List<String> out = new ArrayList<>();
        for (CStruct java : structs) {
            CStruct c = table.structs().get(java.name());
            if (c == null) {
                out.add("struct " + java.name() + " is declared in Java but not in contract.cuh");
                continue;
            }
            compare(java, c, out);
        }
        for (String name : table.structs().keySet()) {
            if (structs.stream().noneMatch(s -> s.name().equals(name))) {
                out.add("struct " + name + " of contract.cuh has no Java declaration");
            }
        }
        for (String name : new TreeSet<>(union(constants.keySet(), table.constants().keySet()))) {
            Integer j = constants.get(name);
            Integer c = table.constants().get(name);
            if (!Objects.equals(j, c)) {
                out.add("constant " + name + ": Java " + (j == null ? "has none" : "says " + j) + ", contract.cuh "
                        + (c == null ? "has none" : "says " + c));
            }
        }
        for (String name : new TreeSet<>(union(enums.keySet(), table.enums().keySet()))) {
            Class<? extends ContractEnum> type = enums.get(name);
            Map<String, Integer> c = table.enums().getOrDefault(name, Map.of());
            Map<String, Integer> j = new LinkedHashMap<>();
            if (type != null) {
                for (ContractEnum e : type.getEnumConstants()) {
                    j.put(e.cName(), e.value());
                }
            }
            for (String v : new TreeSet<>(union(j.keySet(), c.keySet()))) {
                if (!Objects.equals(j.get(v), c.get(v))) {
                    out.add("enum " + name + "::" + v + ": Java " + (j.get(v) == null ? "has none" : "says " + j.get(v))
                            + ", contract.cuh " + (c.get(v) == null ? "has none" : "says " + c.get(v)));
                }
            }
        }
        return out;
    }

    private static void compare(CStruct java, CStruct c, List<String> out) {
        String s = "struct " + java.name();
        if (java.size() != c.size() || java.alignment() != c.alignment()) {
            out.add(s + ": Java lays it out in " + java.size() + " bytes (align " + java.alignment()
                    + "), the kernels in " + c.size() + " (align " + c.alignment() + ")");
        }
        int n = Math.max(java.fields().size(), c.fields().size());
        for (int i = 0; i < n; i++) {
            CStruct.Field jf = i < java.fields().size() ? java.fields().get(i) : null;
            CStruct.Field cf = i < c.fields().size() ? c.fields().get(i) : null;
            if (!Objects.equals(jf, cf)) {
                out.add(s + ", field " + (i + 1) + ": Java has " + (jf == null ? "nothing" : jf) + ", the kernels "
                        + (cf == null ? "nothing" : cf));
            }
        }
    }

    private static <T> List<T> union(java.util.Collection<T> a, java.util.Collection<T> b) {
        List<T> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    /**
     * Why the bundled contract disagrees with the Java side (every mismatch, one per line), or
     * null when it agrees. Computed once.
     */
    public static String verdict() {
        String v = verdict;
        if (v == null) {
            Table t = bundled();
            if (t == null) {
                v = "no kernel contract table (" + RESOURCE + ") on the class path: the kernels were not built";
            } else {
                List<String> m = mismatches(t, STRUCTS, KernelConstants.BY_C_NAME, ENUMS);
                v = m.isEmpty() ? "" : "the kernels and the Java side disagree on the kernel contract (contract.cuh):\n  "
                        + String.join("\n  ", m);
            }
            verdict = v;
        }
        return v.isEmpty() ? null : v;
    }

    /** Throws when the bundled contract disagrees with the Java side. */
    public static void verify() {
        String v = verdict();
        if (v != null) {
            throw new EpException(v);
        }
    }
}
