package ep4j.cuda.kernel;

import ep4j.cuda.driver.CudaContext;
import ep4j.cuda.driver.CudaFunction;
import ep4j.cuda.driver.CudaModule;

/** The ep4j kernels of one device, loaded once from the fatbin the build put in the jar. */
public final class Kernels implements AutoCloseable {
    public static final String FATBIN = "ep4j/cuda/ep4j.fatbin";

    private final CudaModule module;
    public final CudaFunction layout;
    public final CudaFunction notify;
    public final CudaFunction dispatch;
    public final CudaFunction dispatchBulk;
    private final CudaFunction[] combineByRanks = new CudaFunction[KernelConstants.MAX_RANKS + 1];
    public final CudaFunction copy;
    public final CudaFunction llDispatch;
    /** A stand-in for an expert kernel, for tests (probe.cuh). */
    public final CudaFunction stubExpert;
    public final CudaFunction llCombine;

    private Kernels(CudaModule module) {
        this.module = module;
        this.layout = module.function("ep4j_layout");
        this.notify = module.function("ep4j_notify");
        this.dispatch = module.function("ep4j_dispatch");
        this.dispatchBulk = module.function("ep4j_dispatch_bulk");
        dispatchBulk.setMaxDynamicSharedMemory(BulkDispatchShape.SHARED_BUDGET);
        for (int r = 1; r <= KernelConstants.MAX_RANKS; r++) {
            combineByRanks[r] = module.function("ep4j_combine_r" + r);
        }
        this.copy = module.function("ep4j_copy");
        this.llDispatch = module.function("ep4j_ll_dispatch");
        this.stubExpert = module.function("ep4j_stub_expert");
        this.llCombine = module.function("ep4j_ll_combine");
    }

    /** The combine kernel compiled for a group of {@code ranks} ranks. */
    public CudaFunction combine(int ranks) {
        return combineByRanks[ranks];
    }

    /** Loads the kernels into {@code context}, after checking that they and this code agree on the contract. */
    public static Kernels load(CudaContext context) {
        Contract.verify();
        return new Kernels(CudaModule.loadResource(context, FATBIN));
    }

    /** Whether the build compiled the kernels into this jar (it does not without nvcc). */
    public static boolean built() {
        return CudaModule.hasResource(FATBIN) && CudaModule.hasResource(Contract.RESOURCE);
    }

    @Override
    public void close() {
        module.close();
    }
}
