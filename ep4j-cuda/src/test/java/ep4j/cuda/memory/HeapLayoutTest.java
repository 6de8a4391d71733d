package ep4j.cuda.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.BufferSpec;
import ep4j.InvalidArgumentException;
import ep4j.cuda.kernel.KernelConstants;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * The heap and local layouts against what the kernels index (contract.cuh, ll_common.cuh): every
 * region 256-byte aligned, inside its memory, apart from every other, and at least as large as
 * the largest index the kernels compute in it.
 */
class HeapLayoutTest {
    private record Region(String name, long offset, long bytes) {
    }

    @ParameterizedTest(name = "R={0} H={1} T={2} K={3} llN={4} llE={5}")
    @CsvSource({
        "1, 128, 4, 1, 0, 0",
        "2, 7168, 4096, 8, 128, 256",
        "4, 2048, 1100, 16, 1100, 64",
        "8, 7168, 512, 8, 256, 256",
        "3, 1160, 5, 9, 20, 12",
    })
    void regionsAreAlignedDisjointAndLargeEnough(int ranks, int hidden, int tokens, int topk, int llTokens,
            int llExperts) {
        BufferSpec spec = BufferSpec.normal(hidden, tokens).maxTopk(topk);
        if (llTokens > 0) {
            spec.lowLatency(llTokens, llExperts);
        }
        HeapLayout l = new HeapLayout(ranks, spec);
        long capacity = (long) ranks * tokens;
        long scaleCols = Math.max(1, hidden / 128);

        List<Region> heap = new ArrayList<>();
        heap.add(new Region("control", 0, KernelConstants.CONTROL_BYTES));
        heap.add(new Region("mailbox", l.mailbox,
                KernelConstants.MAX_RANKS * (KernelConstants.MAX_RANKS + KernelConstants.MAX_EXPERTS) * 8L));
        for (int s = 0; s < 2; s++) {
            HeapLayout.NormalSlot n = l.normal(s);
            heap.add(new Region("normal x " + s, n.x(), capacity * 2L * hidden));
            heap.add(new Region("normal scales " + s, n.scales(), capacity * 4L * scaleCols));
            heap.add(new Region("normal topkIdx " + s, n.topkIdx(), capacity * 8L * topk));
            heap.add(new Region("normal topkWeights " + s, n.topkWeights(), capacity * 4L * topk));
            heap.add(new Region("normal sourceToken " + s, n.sourceToken(), capacity * 4L));
        }
        heap.add(new Region("stageX", l.stageX, capacity * 2L * hidden));
        heap.add(new Region("stageWeights", l.stageWeights, capacity * 4L * topk));

        List<Region> local = new ArrayList<>();
        local.add(new Region("layoutPartials", l.layoutPartials,
                4L * KernelConstants.LAYOUT_MAX_BLOCKS * (KernelConstants.MAX_EXPERTS + KernelConstants.MAX_RANKS)));
        if (llTokens > 0) {
            int localExperts = llExperts / ranks;
            long llCapacity = (long) ranks * llTokens;
            long rows = localExperts * llCapacity;
            assertEquals(localExperts, l.llLocalExperts);
            assertEquals(llCapacity, l.llCapacity);
            for (int s = 0; s < 2; s++) {
                // ll_common.cuh: data [R][N] rows, hdr [R][N][Kmax] int2, cnt [L][R] + [R] int32,
                // creg [N][Kmax] rows of 2H.
                HeapLayout.LlSlot h = l.lowLatency(s);
                heap.add(new Region("ll data " + s, h.data(), llCapacity * 2L * hidden));
                heap.add(new Region("ll headers " + s, h.headers(), llCapacity * 8L * topk));
                heap.add(new Region("ll count " + s, h.count(), 4L * (localExperts + 1) * ranks));
                heap.add(new Region("ll combineRows " + s, h.combineRows(), (long) llTokens * topk * 2L * hidden));
                // contract.cuh LlParams: recv_x [L, R*N, H], scales [L, R*N, H/128] floats,
                // recv_count [L], source_token and first_k [L, R*N], ranges [L, R, 2], dtopk [N, Kmax].
                HeapLayout.LlLocal c = l.lowLatencyLocal(s);
                local.add(new Region("ll recvX " + s, c.recvX(), rows * 2L * hidden));
                local.add(new Region("ll recvScales " + s, c.recvScales(), rows * 4L * scaleCols));
                local.add(new Region("ll recvCount " + s, c.recvCount(), 4L * localExperts));
                local.add(new Region("ll sourceToken " + s, c.sourceToken(), 4L * rows));
                local.add(new Region("ll firstK " + s, c.firstK(), 4L * rows));
                local.add(new Region("ll ranges " + s, c.ranges(), 8L * localExperts * ranks));
                local.add(new Region("ll dispatchTopk " + s, c.dispatchTopk(), 4L * llTokens * topk));
            }
        }
        check("heap", heap, l.heapBytes);
        check("local", local, l.localBytes);
    }

    private static void check(String memory, List<Region> regions, long size) {
        regions.sort(Comparator.comparingLong(Region::offset));
        for (int i = 0; i < regions.size(); i++) {
            Region r = regions.get(i);
            assertEquals(0, r.offset() % 256, memory + " " + r + " is not 256-byte aligned");
            long end = i + 1 < regions.size() ? regions.get(i + 1).offset() : size;
            assertTrue(r.offset() + r.bytes() <= end,
                    memory + " " + r + " runs into " + (i + 1 < regions.size() ? regions.get(i + 1) : "the end, " + size));
        }
    }

    @Test
    void shapesTheKernelsCannotTakeAreRefusedWithTheArgument() {
        InvalidArgumentException tokens = assertThrows(InvalidArgumentException.class, () -> new HeapLayout(2,
                BufferSpec.normal(128, 4).lowLatency(1 << KernelConstants.LL_TOKEN_BITS, 4)));
        assertTrue(tokens.getMessage().contains("lowLatency.maxTokensPerRank"), tokens.getMessage());
        InvalidArgumentException uneven = assertThrows(InvalidArgumentException.class,
                () -> new HeapLayout(3, BufferSpec.normal(128, 4).lowLatency(8, 4)));
        assertTrue(uneven.getMessage().contains("lowLatency.numExperts"), uneven.getMessage());
        InvalidArgumentException many = assertThrows(InvalidArgumentException.class, () -> new HeapLayout(2,
                BufferSpec.normal(128, 4).lowLatency(8, KernelConstants.LL_MAX_EXPERTS + 2)));
        assertTrue(many.getMessage().contains("at most " + KernelConstants.LL_MAX_EXPERTS), many.getMessage());
    }
}
