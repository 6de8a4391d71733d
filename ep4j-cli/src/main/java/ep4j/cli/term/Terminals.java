package ep4j.cli.term;

import java.io.Console;

/** Whether standard error is an interactive terminal, so that a redrawn progress line is welcome there. */
public final class Terminals {
    /** Set by bin/ep4j to "1" or "0" from {@code [ -t 2 ]}; the JVM alone cannot test stderr. */
    public static final String STDERR_TTY_ENV = "EP4J_STDERR_TTY";

    private Terminals() {
    }

    public static boolean stderrIsTerminal() {
        String env = System.getenv(STDERR_TTY_ENV);
        if (env != null) {
            return env.equals("1");
        }
        // Without the launcher's answer, a console that is a terminal (stdin and stdout both
        // attached) is the best evidence; redirected output means a log, so no bar.
        Console c = System.console();
        return c != null && c.isTerminal();
    }
}
