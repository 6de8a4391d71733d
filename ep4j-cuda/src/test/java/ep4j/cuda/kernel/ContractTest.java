package ep4j.cuda.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The Java declarations of the kernel contract against the table the build printed from
 * contract.cuh (no GPU needed), and the checker against tables that disagree on purpose.
 */
class ContractTest {
    /** The table the build printed; skipped (assumption) only where the kernels could not be built. */
    static Contract.Table bundled() {
        Contract.Table t = Contract.bundled();
        if (t == null) {
            // Only a build without nvcc has no table; CI sets EP4J_REQUIRE_NVCC=1 and must have one.
            Assumptions.assumeTrue("1".equals(System.getenv("EP4J_REQUIRE_NVCC")),
                    "no " + Contract.RESOURCE + ": the kernels were not built (no nvcc)");
        }
        assertNotNull(t, Contract.RESOURCE + " is missing although EP4J_REQUIRE_NVCC=1");
        return t;
    }

    @Test
    void javaAndKernelsAgreeOnEveryStructConstantAndEnum() {
        Contract.Table t = bundled();
        List<String> m = Contract.mismatches(t, Contract.STRUCTS, KernelConstants.BY_C_NAME, Contract.ENUMS);
        assertEquals(List.of(), m, "contract mismatches");
        assertEquals(null, Contract.verdict());
        // The table is not trivially empty: it holds every struct the kernels take.
        for (CStruct s : Contract.STRUCTS) {
            assertTrue(t.structs().containsKey(s.name()), s.name());
            assertEquals(s.size(), t.structs().get(s.name()).size(), s.name());
        }
    }

    private static final String TABLE = """
            # a small contract
            constant kA 8
            enum LlMode kLlBf16 0
            enum LlMode kLlFp8 1
            enum LlMode kLlFp8RoundScale 2
            enum LlMode kLlFp8Ue8m0 3
            struct Small 24 8
            field Small a i32 0 0
            field Small p ptr 8 0
            field Small b i32 16 0
            """;

    private static final CStruct.Builder SMALL = CStruct.builder("Small");
    private static final CStruct.I32 A = SMALL.i32("a");
    private static final CStruct.Ptr P = SMALL.ptr("p");
    private static final CStruct.I32 B = SMALL.i32("b");
    private static final CStruct SMALL_STRUCT = SMALL.build();

    private static final CStruct.Builder PACKED = CStruct.builder("Packed");
    private static final CStruct.I32 X = PACKED.i32("x");
    private static final CStruct.F32 Y = PACKED.f32("y");
    private static final CStruct.Ptrs Q = PACKED.ptrs("q", 3);
    private static final CStruct.I32 Z = PACKED.i32("z");
    private static final CStruct PACKED_STRUCT = PACKED.build();

    private static List<String> check(String table, CStruct struct, Map<String, Integer> constants) {
        return Contract.mismatches(Contract.parse(table), List.of(struct), constants, Map.of("LlMode", LlMode.class));
    }

    @Test
    void javaLayoutFollowsTheCompilersNaturalAlignment() {
        assertEquals(0, A.offset());
        assertEquals(8, P.offset());
        assertEquals(16, B.offset());
        assertEquals(24, SMALL_STRUCT.size());
        assertEquals(List.of(), check(TABLE, SMALL_STRUCT, Map.of("kA", 8)));
    }

    @Test
    void aMovedFieldIsReportedByName() {
        List<String> m = check(TABLE.replace("field Small b i32 16 0", "field Small b i32 20 0"), SMALL_STRUCT,
                Map.of("kA", 8));
        assertEquals(1, m.size(), m.toString());
        assertTrue(m.get(0).contains("Small") && m.get(0).contains(" b @16") && m.get(0).contains(" b @20"), m.get(0));
    }

    @Test
    void aFieldOnOneSideOnlyIsReported() {
        String extra = TABLE.replace("struct Small 24 8", "struct Small 32 8") + "field Small c i64 24 0\n";
        List<String> m = check(extra, SMALL_STRUCT, Map.of("kA", 8));
        assertTrue(m.stream().anyMatch(s -> s.contains("32 (align 8)")), m.toString());
        assertTrue(m.stream().anyMatch(s -> s.contains("Java has nothing") && s.contains("i64 c @24")), m.toString());
    }

    @Test
    void swappedJavaFieldsAreReported() {
        CStruct.Builder b = CStruct.builder("Small");
        b.ptr("p");
        b.i32("a");
        b.i32("b");
        List<String> m = check(TABLE, b.build(), Map.of("kA", 8));
        assertTrue(m.size() >= 2, m.toString());
    }

    @Test
    void constantsAndEnumsAreComparedBothWays() {
        List<String> m = check(TABLE.replace("constant kA 8", "constant kA 16").replace("kLlFp8Ue8m0 3", "kLlFp8Ue8m0 7"),
                SMALL_STRUCT, Map.of("kA", 8, "kB", 1));
        assertTrue(m.stream().anyMatch(s -> s.contains("constant kA: Java says 8, contract.cuh says 16")), m.toString());
        assertTrue(m.stream().anyMatch(s -> s.contains("constant kB: Java says 1, contract.cuh has none")), m.toString());
        assertTrue(m.stream().anyMatch(s -> s.contains("kLlFp8Ue8m0: Java says 3, contract.cuh says 7")), m.toString());
    }

    @Test
    void aStructOfTheKernelsWithoutJavaDeclarationIsReported() {
        String table = TABLE + "struct Other 8 8\nfield Other q ptr 0 0\n";
        List<String> m = check(table, SMALL_STRUCT, Map.of("kA", 8));
        assertTrue(m.stream().anyMatch(s -> s.contains("struct Other of contract.cuh has no Java declaration")), m.toString());
    }

    @Test
    void paramsRejectAFieldOfAnotherStruct() {
        try (Params p = new Params(SMALL_STRUCT)) {
            p.set(A, 5).set(P, 0x1234L).set(B, -1);
            assertEquals(5, p.segment().get(java.lang.foreign.ValueLayout.JAVA_INT, 0));
            assertEquals(0x1234L, p.segment().get(java.lang.foreign.ValueLayout.JAVA_LONG, 8));
            var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> p.set(LayoutParams.NUM_TOKENS, 1));
            assertTrue(e.getMessage().contains("num_tokens") && e.getMessage().contains("LayoutParams"), e.getMessage());
        }
    }

    @Test
    void paramsLayIntsFloatsAndPointersOutAsTheGpuReadsThem() {
        try (Params p = new Params(PACKED_STRUCT)) {
            assertEquals(40, PACKED_STRUCT.size()); // x@0 y@4 q@8..32 z@32, padded to 8
            p.set(X, -2).set(Y, 1.5f).set(Q, new long[] {0x1111_2222_3333_4444L, -1L}).set(Z, 0x7abc_def0);
            p.set(X, 7); // a second write replaces the first, and leaves its neighbour alone
            var seg = p.segment();
            assertEquals(40, seg.byteSize());
            assertEquals(7, seg.get(java.lang.foreign.ValueLayout.JAVA_INT, 0));
            assertEquals(1.5f, seg.get(java.lang.foreign.ValueLayout.JAVA_FLOAT, 4));
            assertEquals(0x1111_2222_3333_4444L, seg.get(java.lang.foreign.ValueLayout.JAVA_LONG, 8));
            assertEquals(-1L, seg.get(java.lang.foreign.ValueLayout.JAVA_LONG, 16));
            assertEquals(0L, seg.get(java.lang.foreign.ValueLayout.JAVA_LONG, 24));
            assertEquals(0x7abc_def0, seg.get(java.lang.foreign.ValueLayout.JAVA_INT, 32));
            p.clear().set(Y, -0.0f);
            seg = p.segment();
            assertEquals(0, seg.get(java.lang.foreign.ValueLayout.JAVA_INT, 0));
            assertEquals(0x8000_0000, seg.get(java.lang.foreign.ValueLayout.JAVA_INT, 4));
            assertEquals(0L, seg.get(java.lang.foreign.ValueLayout.JAVA_LONG, 8));
            assertEquals(0, seg.get(java.lang.foreign.ValueLayout.JAVA_INT, 32));
        }
    }
}
