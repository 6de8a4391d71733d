package ep4j.cuda;

import ep4j.EpEvent;
import ep4j.EpGraph;
import ep4j.cuda.control.CallRecords;
import ep4j.cuda.control.RankRuntime;
import ep4j.cuda.driver.CudaConstants;
import ep4j.cuda.driver.CudaGraph;
import java.util.ArrayList;
import java.util.List;

/**
 * A rank's calls captured into a CUDA graph ({@link ep4j.EpBuffer#captureGraph}). The kernels
 * number their ops and calls on the device, so a replay runs them with the parameters they were
 * captured with; the host begins the same ops in its mirror of the counters at every replay, so
 * that it knows which call records the replay fills.
 */
final class CapturedGraph implements EpGraph {
    private final RankRuntime rt;
    private final CudaGraph graph;
    private final CallRecords.Captured captured;
    private volatile boolean closed;

    private CapturedGraph(RankRuntime rt, CudaGraph graph, CallRecords.Captured captured) {
        this.rt = rt;
        this.graph = graph;
        this.captured = captured;
    }

    /** Captures what {@code calls} issues on the rank's stream (relaxed mode: calls may allocate). */
    static CapturedGraph capture(RankRuntime rt, Runnable calls) {
        rt.ensureUsable();
        rt.context.makeCurrent();
        rt.records.startCapture();
        rt.capturing(true);
        CudaGraph graph;
        CallRecords.Captured captured;
        try {
            graph = CudaGraph.capture(rt.stream, CudaConstants.CU_STREAM_CAPTURE_MODE_RELAXED, calls);
        } finally {
            rt.capturing(false);
            captured = rt.records.endCapture();
        }
        return new CapturedGraph(rt, graph, captured);
    }

    @Override
    public EpEvent replay() {
        if (closed) {
            throw new IllegalStateException("EpGraph of rank " + rt.rank + " was closed");
        }
        rt.ensureUsable();
        rt.context.makeCurrent();
        List<CallRecords.Op> ops = new ArrayList<>(captured.ops());
        for (int i = 0; i < captured.ops(); i++) {
            ops.add(rt.records.begin(captured.names().get(i), captured.topks().get(i)));
        }
        graph.launch(rt.stream);
        if (ops.isEmpty()) {
            return EpEvent.completed();
        }
        EpEvent last = rt.finish(ops.get(ops.size() - 1), true);
        return new EpEvent() {
            @Override
            public void await() {
                for (CallRecords.Op op : ops) {
                    rt.await(op); // in stream order: the first failure is the one raised
                }
            }

            @Override
            public boolean isComplete() {
                return last.isComplete();
            }
        };
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            graph.close();
        }
    }
}
