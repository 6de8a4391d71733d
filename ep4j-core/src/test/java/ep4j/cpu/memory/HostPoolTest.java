package ep4j.cpu.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.AllocationException;
import ep4j.DType;
import ep4j.Tensor;
import org.junit.jupiter.api.Test;

class HostPoolTest {
    @Test
    void memoryGivenBackIsTakenAgainAndFreedWithThePool() {
        HostPool pool = new HostPool();
        Tensor a = pool.tensor(DType.BF16, 16, 128);
        long address = a.address();
        a.close();
        a.close();
        Tensor b = pool.tensor(DType.INT32, 8, 128);
        assertEquals(address, b.address(), "same byte size: the block is reused");
        Tensor c = pool.tensor(DType.BF16, 16, 128);
        assertNotEquals(address, c.address(), "a block is lent to one tensor at a time");
        Tensor empty = pool.tensor(DType.FLOAT32, 0, 4);
        assertEquals(0, empty.byteSize());
        pool.close();
        b.close();
        c.close();
        assertThrows(IllegalStateException.class, () -> pool.tensor(DType.BF16, 1));
    }

    @Test
    void aBlockNoMachineHasIsAnAllocationExceptionNamingIt() {
        try (HostPool pool = new HostPool()) {
            long rows = 1L << 59; // 2^62 bytes
            AllocationException e = assertThrows(AllocationException.class, () -> pool.tensor(DType.INT64, rows));
            assertEquals(rows * 8, e.bytes());
            assertTrue(e.getMessage().contains("result tensor INT64[" + rows + "]"), e.getMessage());
            assertEquals(16, pool.tensor(DType.INT64, 2).byteSize(), "the pool still serves");
        }
    }
}
