package ep4j.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ep4j.Config;
import ep4j.EpGroup;
import ep4j.cuda.driver.Driver;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The GPU backend's normal kernels against the CPU backend, bit for bit: layout, dispatch
 * (bf16 and fp8, fresh, cached and worst-case sized; rows for the bulk kernel, which runs the
 * count exchange itself, and rows too large for it) and combine (weights, two biases), on one
 * GPU, two, every GPU of the machine, and in groups of 4 and 8 ranks even where the machine has
 * fewer GPUs (ranks then share GPUs, which checks the kernels at those group sizes, not their speed),
 * and in groups of 3 and 6, whose sizes do not divide 16.
 */
@Tag("gpu")
class NormalKernelsGpuTest {
    private static final List<EpGroup> GPU = new ArrayList<>();
    private static final List<EpGroup> CPU = new ArrayList<>();

    @BeforeAll
    static void groups() {
        GpuRequired.backend(1, 1);
        int gpus = Math.min(Driver.deviceCount(), 8);
        for (int r : rankChoices(gpus)) {
            GPU.add(EpGroup.localGpus(r, Math.min(r, gpus)));
            CPU.add(EpGroup.cpu(r));
        }
        for (int r : ODD_GROUPS) {
            GPU.add(EpGroup.localGpus(r, Math.min(r, gpus)));
            CPU.add(EpGroup.cpu(r));
        }
    }

    /**
     * Group sizes that do not divide 16: the bulk dispatch's count exchange reads a 16-token
     * grain's is_token_in_rank in bytes instead of 16-byte pieces there (exchange.cuh).
     */
    private static final int[] ODD_GROUPS = {3, 6};

    /** One GPU, two and every GPU of the machine; 4 and 8 ranks, on shared GPUs where there are fewer. */
    static int[] rankChoices(int gpus) {
        return java.util.stream.IntStream.of(1, 2, gpus, 4, 8).distinct().sorted().toArray();
    }

    @AfterAll
    static void close() {
        GPU.forEach(EpGroup::close);
        CPU.forEach(EpGroup::close);
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        int gpus = Driver.isAvailable() ? Math.min(Driver.deviceCount(), 8) : 1;
        int[] rankChoices = rankChoices(gpus);
        long seed = 1;
        for (int ranks : rankChoices) {
            // The grid: tokens 0, 1, 17, 4096, 8192; hidden 2048..7680; top-k 1, 4, 8, 9.
            out.add(Arguments.of(RoutingCase.of(ranks, 256, 7168, 8, 4096, seed++), false, 1, 0, Config.sms(16)));
            out.add(Arguments.of(RoutingCase.of(ranks, 256, 7168, 8, 4096, seed++), true, 1, 0, Config.sms(16)));
            out.add(Arguments.of(RoutingCase.of(ranks, 64, 2048, 1, 17, seed++), false, 1, 0, Config.sms(2)));
            out.add(Arguments.of(RoutingCase.of(ranks, 512, 4096, 9, 8192, seed++), false, 128, 0, Config.sms(32)));
            out.add(Arguments.of(RoutingCase.of(ranks, 32, 7680, 4, 1, seed++), true, 1, 0, Config.sms(3)));
            out.add(Arguments.of(RoutingCase.of(ranks, 8, 2048, 4, 0, seed++), false, 1, 0, Config.auto()));
            out.add(Arguments.of(RoutingCase.of(ranks, 2 * ranks, 4096, 1, 300, seed++), false, 1, 0, Config.sms(5)));
            out.add(Arguments.of(RoutingCase.of(ranks, 256, 7168, 8, 1000, seed++).withEmptySlots(0.3), true, 4, 0,
                    Config.sms(7)));
            out.add(Arguments.of(RoutingCase.of(ranks, 256, 4096, 8, 700, seed++).unbalancedToRank0(), false, 1, 0,
                    Config.sms(9)));
            int[] uneven = new int[ranks];
            for (int r = 0; r < ranks; r++) {
                uneven[r] = r == 0 ? 0 : 50 * r + 3;
            }
            out.add(Arguments.of(RoutingCase.of(ranks, 16 * ranks, 2048, 4, 0, seed++).withTokens(uneven), false, 1,
                    0, Config.sms(4)));
            out.add(Arguments.of(RoutingCase.of(ranks, 128, 2048, 8, 500, seed++), false, 1, 500 * ranks, Config.sms(6)));
            out.add(Arguments.of(RoutingCase.of(ranks, 128, 2048, 8, 500, seed++), true, 8, 500 * ranks + 64, Config.sms(11)));
            // Top-k around and past one warp's lanes (the kernels once dropped slots from 32 on).
            for (int k : new int[] {31, 32, 33, 64}) {
                out.add(Arguments.of(RoutingCase.of(ranks, 128 * ranks, 1024, k, 97, seed++).withEmptySlots(0.1), k == 33,
                        1, 0, Config.sms(4)));
            }
            // Worst-sized fp8 whose scale rows are no multiple of 16 bytes (hidden 768: 24, 640: 20): the
            // unused rows' zeroing once stored 16-byte pieces at unaligned addresses (found by the soak).
            out.add(Arguments.of(RoutingCase.of(ranks, 4 * ranks, 768, 4, 51, seed++).withEmptySlots(0.2), true, 1,
                    51 * ranks, Config.sms(3)));
            out.add(Arguments.of(RoutingCase.of(ranks, 4 * ranks, 640, 3, 33, seed++), true, 1, 33 * ranks,
                    Config.auto()));
            // Rows too large for the bulk kernel's ring: bf16 rows of 128 KiB take ep4j_notify and the
            // plain kernel (two launches); fp8 rows of 64 KiB the bulk kernel with one warp per block,
            // which then runs the count exchange itself.
            out.add(Arguments.of(RoutingCase.of(ranks, 8 * ranks, 65536, 2, 40, seed++), false, 1, 0, Config.sms(4)));
            out.add(Arguments.of(RoutingCase.of(ranks, 8 * ranks, 65536, 2, 40, seed++), true, 1, 40 * ranks,
                    Config.sms(4)));
            // The case that found it: 46 experts, K = 40, 14 tokens (on groups whose size divides 46).
            if (46 % ranks == 0) {
                out.add(Arguments.of(RoutingCase.of(ranks, 46, 2048, 40, 14, seed++), false, 1, 0, Config.auto()));
            }
        }
        for (int ranks : ODD_GROUPS) {
            int[] uneven = new int[ranks];
            for (int r = 0; r < ranks; r++) {
                uneven[r] = r == 1 ? 0 : 37 * r + 5;
            }
            out.add(Arguments.of(RoutingCase.of(ranks, 48 * ranks, 7168, 8, 4096, seed++), false, 1, 0, Config.sms(16)));
            out.add(Arguments.of(RoutingCase.of(ranks, 48 * ranks, 7168, 8, 4096, seed++), true, 1, 0, Config.sms(16)));
            out.add(Arguments.of(RoutingCase.of(ranks, 16 * ranks, 2048, 1, 17, seed++), false, 1, 0, Config.sms(2)));
            out.add(Arguments.of(RoutingCase.of(ranks, 16 * ranks, 2048, 4, 0, seed++).withTokens(uneven), true, 1, 0,
                    Config.sms(5)));
            out.add(Arguments.of(RoutingCase.of(ranks, 32 * ranks, 4096, 8, 1000, seed++).withEmptySlots(0.3), true, 4,
                    1000 * ranks, Config.sms(7)));
            out.add(Arguments.of(RoutingCase.of(ranks, 128 * ranks, 1024, 33, 97, seed++).withEmptySlots(0.1), false, 1,
                    0, Config.sms(4)));
            out.add(Arguments.of(RoutingCase.of(ranks, 8 * ranks, 65536, 2, 40, seed++), true, 1, 40 * ranks,
                    Config.sms(4)));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} fp8={1} align={2} worst={3} {4}")
    @MethodSource("cases")
    void normalKernelsMatchTheCpuBackendBitForBit(RoutingCase c, boolean fp8, int alignment, int worst, Config config) {
        EpGroup gpu = GPU.stream().filter(g -> g.size() == c.ranks()).findFirst().orElseThrow();
        EpGroup cpu = CPU.stream().filter(g -> g.size() == c.ranks()).findFirst().orElseThrow();
        Scenario.Options o = new Scenario.Options(fp8, alignment, worst, config);
        List<Map<String, byte[]>> expected = Scenario.run(cpu, c, o);
        List<Map<String, byte[]>> actual = Scenario.run(gpu, c, o);
        for (int r = 0; r < c.ranks(); r++) {
            assertEquals(expected.get(r).keySet(), actual.get(r).keySet(), "outputs of rank " + r);
            for (String name : expected.get(r).keySet()) {
                assertArrayEquals(expected.get(r).get(name), actual.get(r).get(name), name + " of rank " + r + " for " + c);
            }
        }
    }
}
