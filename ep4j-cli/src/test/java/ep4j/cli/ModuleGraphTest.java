package ep4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.EpGroup;
import ep4j.cuda.PeerCopy;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.module.Configuration;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * The module ep4j.cli as built: it resolves against ep4j.core, ep4j.cuda and picocli, exports
 * nothing, and picocli can read its commands (the packages are opened to it).
 */
class ModuleGraphTest {
    private static Path location(Class<?> anchor) {
        try {
            return Path.of(anchor.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void theCommandRunsAsANamedModule() throws Exception {
        // Every entry of the test class path but the tests themselves: ep4j's modules and their
        // dependencies, whatever they are.
        Path tests = location(ModuleGraphTest.class);
        ModuleFinder finder = ModuleFinder.of(java.util.Arrays.stream(
                System.getProperty("java.class.path").split(java.io.File.pathSeparator))
                .map(Path::of).filter(p -> !p.equals(tests)).toArray(Path[]::new));
        assertEquals(location(EpGroup.class), Path.of(finder.find("ep4j.core").orElseThrow().location().orElseThrow()));
        assertEquals(location(PeerCopy.class), Path.of(finder.find("ep4j.cuda").orElseThrow().location().orElseThrow()));
        assertEquals(location(CommandLine.class),
                Path.of(finder.find("info.picocli").orElseThrow().location().orElseThrow()));
        ModuleDescriptor cli = finder.find("ep4j.cli").orElseThrow().descriptor();
        assertTrue(cli.exports().isEmpty(), cli.exports().toString());
        Configuration cf = ModuleLayer.boot().configuration().resolveAndBind(finder, ModuleFinder.of(),
                Set.of("ep4j.cli"));
        ModuleLayer.Controller controller = ModuleLayer.defineModulesWithOneLoader(cf, java.util.List.of(
                ModuleLayer.boot()), ClassLoader.getPlatformClassLoader());
        Module module = controller.layer().findModule("ep4j.cli").orElseThrow();
        // Only this test may call in: the package is not exported.
        controller.addExports(module, "ep4j.cli", ModuleGraphTest.class.getModule());
        Class<?> main = module.getClassLoader().loadClass("ep4j.cli.Main");
        assertEquals(module, main.getModule());

        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        var run = main.getMethod("run", PrintStream.class, PrintStream.class, String[].class);
        int code = (int) run.invoke(null, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), new String[] {"bench", "--help"});
        String text = out.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, text + err.toString(StandardCharsets.UTF_8));
        assertTrue(text.contains("Usage: ep4j bench"), text);
        code = (int) run.invoke(null, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), new String[] {"--version"});
        assertEquals(0, code, err.toString(StandardCharsets.UTF_8));
    }
}
