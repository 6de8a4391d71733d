package ep4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class GroupSpecTest {
    @Test
    void eachRankHasItsOwnGpuUnlessTheSpecSharesThem() {
        assertEquals(4, GroupSpec.ranks(4).conclude().gpuCount());
        assertEquals(2, GroupSpec.ranks(8).gpus(2).conclude().gpuCount());
    }

    @Test
    void moreGpusThanRanksIsRejectedNamingTheArgument() {
        InvalidArgumentException e =
                assertThrows(InvalidArgumentException.class, () -> GroupSpec.ranks(2).gpus(3).conclude());
        assertTrue(e.getMessage().contains("gpus"), e.getMessage());
        assertThrows(InvalidArgumentException.class, () -> GroupSpec.ranks(2).gpus(-1).conclude());
    }

    @Test
    void theCpuBackendIgnoresGpus() {
        try (EpGroup g = EpGroup.open(GroupSpec.ranks(4).gpus(1).backend("cpu"))) {
            assertEquals(4, g.size());
        }
    }

    @Test
    void aConcludedSpecNoLongerChanges() {
        GroupSpec spec = GroupSpec.ranks(2).conclude();
        assertThrows(IllegalStateException.class, () -> spec.gpus(1));
    }
}
