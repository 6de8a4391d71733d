package ep4j.cuda.kernel;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.cuda.driver.DriverStructs;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The driver structs and constants the bindings declare against cuda.h, as the build's table
 * program printed them (no GPU needed), and the checker against tables that disagree on purpose.
 */
class DriverContractTest {
    @Test
    void driverStructsAndConstantsAgreeWithCudaH() {
        Contract.Table t = ContractTest.bundled();
        assertEquals(List.of(), DriverContract.mismatches(t), "driver struct/constant mismatches against cuda.h");
        // Not trivially empty: every struct and every constant of the bindings has a row.
        for (StructLayout s : DriverStructs.ALL) {
            DriverContract.Struct c = t.driverStructs().get(s.name().orElseThrow());
            assertNotNull(c, s.toString());
            assertEquals(s.byteSize(), c.size(), s.toString());
            assertTrue(c.fields().size() >= 2, c.toString());
        }
        assertEquals(32, t.driverStructs().get("CUmemAllocationProp").size());
        assertEquals(12, t.driverStructs().get("CUmemAccessDesc").size());
        assertEquals(3L, t.driverConstants().get("CU_MEM_ACCESS_FLAGS_PROT_READWRITE"));
    }

    @Test
    void javaLayoutsFlattenToDottedPaths() {
        DriverContract.Struct p = DriverContract.of(DriverStructs.CU_MEM_ALLOCATION_PROP);
        assertEquals("CUmemAllocationProp", p.name());
        assertEquals(32, p.size());
        assertEquals(8, p.alignment());
        assertEquals(List.of(
                new DriverContract.Field("type", 0, 4),
                new DriverContract.Field("requestedHandleTypes", 4, 4),
                new DriverContract.Field("location.type", 8, 4),
                new DriverContract.Field("location.id", 12, 4),
                new DriverContract.Field("win32HandleMetaData", 16, 8),
                new DriverContract.Field("allocFlags.compressionType", 24, 1),
                new DriverContract.Field("allocFlags.gpuDirectRDMACapable", 25, 1),
                new DriverContract.Field("allocFlags.usage", 26, 2),
                new DriverContract.Field("allocFlags.reserved", 28, 4)), p.fields());
    }

    private static final String TABLE = """
            # driver rows only
            driver_struct Pair 16 8
            driver_field Pair a 0 4
            driver_field Pair b 8 8
            driver_constant CU_X 3
            """;

    private static final StructLayout PAIR = MemoryLayout.structLayout(
            JAVA_INT.withName("a"), MemoryLayout.paddingLayout(4), JAVA_LONG.withName("b")).withName("Pair");

    private static List<String> check(String table, StructLayout layout, Map<String, Long> constants) {
        return DriverContract.mismatches(Contract.parse(table), List.of(layout), constants);
    }

    @Test
    void agreeingDeclarationsPass() {
        assertEquals(List.of(), check(TABLE, PAIR, Map.of("CU_X", 3L)));
    }

    @Test
    void aMovedFieldAndAWrongSizeAreReportedByName() {
        StructLayout moved = MemoryLayout.structLayout(
                JAVA_INT.withName("a"), JAVA_INT.withName("b"), JAVA_LONG.withName("c")).withName("Pair");
        List<String> m = check(TABLE, moved, Map.of("CU_X", 3L));
        assertTrue(m.stream().anyMatch(s -> s.contains("Pair, field 2") && s.contains("b @4 (4 bytes)")
                && s.contains("b @8 (8 bytes)")), m.toString());
        assertTrue(m.stream().anyMatch(s -> s.contains("Java has c @8")), m.toString());
        StructLayout packed = MemoryLayout.structLayout(JAVA_INT.withName("a"), MemoryLayout.paddingLayout(4),
                JAVA_LONG.withName("b"), MemoryLayout.sequenceLayout(8, JAVA_BYTE).withName("tail")).withName("Pair");
        List<String> m2 = check(TABLE, packed, Map.of("CU_X", 3L));
        assertTrue(m2.stream().anyMatch(s -> s.contains("24 bytes (align 8), cuda.h in 16")), m2.toString());
    }

    @Test
    void structsAndConstantsOnOneSideOnlyAreReported() {
        List<String> m = check(TABLE + "driver_struct Other 4 4\ndriver_field Other x 0 4\n",
                PAIR.withName("Renamed"), Map.of("CU_X", 4L, "CU_Y", 1L));
        assertTrue(m.stream().anyMatch(s -> s.contains("Renamed is declared in Java but has no driver_struct row")),
                m.toString());
        assertTrue(m.stream().anyMatch(s -> s.contains("Pair of the table is not in DriverStructs.ALL")), m.toString());
        assertTrue(m.stream().anyMatch(s -> s.contains("constant CU_X: Java says 4, cuda.h says 3")), m.toString());
        assertTrue(m.stream().anyMatch(s -> s.contains("constant CU_Y: Java says 1, cuda.h has no driver_constant row")),
                m.toString());
    }

    @Test
    void kernelRowsAndDriverRowsShareOneTable() {
        Contract.Table t = Contract.parse("constant kA 8\n" + TABLE);
        assertEquals(Map.of("kA", 8), t.constants());
        assertEquals(Map.of("CU_X", 3L), t.driverConstants());
        assertEquals(List.of("Pair"), List.copyOf(t.driverStructs().keySet()));
        assertTrue(t.structs().isEmpty());
    }
}
