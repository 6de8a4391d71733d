/**
 * The {@code ep4j} command (bench, replay, tune, plot, soak, launch). It runs on the class path
 * ({@code bin/ep4j}); as a module it reads the API of {@code ep4j.core}, the driver bindings of
 * {@code ep4j.cuda} (qualified exports), and picocli, which reads the command classes
 * reflectively. It exports nothing.
 */
module ep4j.cli {
    requires ep4j.core;
    requires ep4j.cuda;
    requires info.picocli;
    requires com.fasterxml.jackson.databind;
    requires HdrHistogram;
    requires static java.desktop;
    requires static java.management;
    requires static jdk.management;
    requires static org.jfree.jfreechart;

    opens ep4j.cli to info.picocli;
    opens ep4j.cli.bench to info.picocli, com.fasterxml.jackson.databind;
    opens ep4j.cli.replay to info.picocli, com.fasterxml.jackson.databind;
    opens ep4j.cli.tune to info.picocli;
    opens ep4j.cli.soak to info.picocli;
    opens ep4j.cli.launch to info.picocli;
    opens ep4j.cli.job to info.picocli;
}
