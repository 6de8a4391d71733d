package ep4j.cuda.memory;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.io.PrintWriter;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

/**
 * The child JVM of {@link FakeDriverTest}: runs the memory classes' GPU tests and
 * {@link FakeDriverChecks} with the fake libcuda as the driver; exits 0 only when every test
 * ran and passed (none skipped).
 */
public final class FakeDriverRun {
    static final String PASSED = "fake libcuda: every memory test passed";

    private FakeDriverRun() {}

    public static void main(String[] args) {
        if (!System.getProperty("ep4j.cuda.library", "").contains("fake")) {
            System.out.println("run with -Dep4j.cuda.library=<the fake libcuda>");
            System.exit(2);
        }
        LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request()
                .selectors(selectClass(SymmetricMemoryGpuTest.class), selectClass(StreamPoolGpuTest.class),
                        selectClass(FakeDriverChecks.class))
                .build();
        Launcher launcher = LauncherFactory.create();
        SummaryGeneratingListener listener = new SummaryGeneratingListener();
        launcher.execute(request, listener);
        TestExecutionSummary s = listener.getSummary();
        PrintWriter out = new PrintWriter(System.out, true);
        s.printTo(out);
        s.printFailuresTo(out, 40);
        boolean ok = s.getTotalFailureCount() == 0 && s.getTestsSkippedCount() == 0 && s.getTestsAbortedCount() == 0
                && s.getContainersFailedCount() == 0 && s.getTestsSucceededCount() == s.getTestsFoundCount()
                && s.getTestsFoundCount() > 0;
        out.println(ok ? PASSED : "fake libcuda: FAILED (" + s.getTestsSucceededCount() + " of " + s.getTestsFoundCount()
                + " tests passed, " + s.getTestsSkippedCount() + " skipped, " + s.getTestsAbortedCount() + " aborted)");
        out.flush();
        System.exit(ok ? 0 : 1);
    }
}
