package ep4j.cli.launch;

import java.io.PrintWriter;
import java.time.Duration;

/** A launch of two sleeping {@link FakeRank}s, as its own process, for the test that kills the launcher. */
public final class FakeLauncher {
    private FakeLauncher() {
    }

    public static void main(String[] args) throws Exception {
        PrintWriter out = new PrintWriter(System.out, true);
        new Launcher(2, LaunchCommandTest.fakeRank("sleep"), r -> LaunchCommand.environment(r, 2, 1, "t"),
                Duration.ofSeconds(5), out, out).run();
    }
}
