package ep4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.EpGroup;
import java.io.DataInputStream;
import java.io.InputStream;
import java.lang.module.Configuration;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.lang.module.ModuleReader;
import java.lang.module.ModuleReference;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The module ep4j.cuda as built: it exports nothing to applications, provides the "cuda"
 * backend, and finds its kernels as a named module as it does on the class path.
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
    void nothingIsExportedToApplications() throws Exception {
        ModuleReference ref = ModuleFinder.of(location(CudaBackend.class)).find("ep4j.cuda").orElseThrow();
        ModuleDescriptor d = ref.descriptor();
        assertTrue(d.exports().stream().allMatch(ModuleDescriptor.Exports::isQualified), d.exports().toString());
        Map<String, Set<String>> qualified = d.exports().stream()
                .collect(Collectors.toMap(ModuleDescriptor.Exports::source, ModuleDescriptor.Exports::targets));
        assertEquals(Map.of("ep4j.cuda", Set.of("ep4j.cli"), "ep4j.cuda.driver", Set.of("ep4j.cli"), "ep4j.cuda.tune",
                Set.of("ep4j.cli")), qualified);
        assertTrue(d.opens().isEmpty());
        assertEquals(List.of("ep4j.cuda.CudaBackend"), d.provides().iterator().next().providers());
        assertTrue(d.requires().stream().anyMatch(r -> r.name().equals("ep4j.core")));
        try (ModuleReader reader = ref.open(); InputStream in = reader.open("module-info.class").orElseThrow()) {
            DataInputStream data = new DataInputStream(in);
            data.readInt();
            data.readUnsignedShort();
            assertTrue(data.readUnsignedShort() <= 61, "module-info.class must be readable by JDK 17");
        }
    }

    @Test
    @SuppressWarnings("restricted") // enableNativeAccess: the layer's ep4j.cuda calls the driver through FFM
    void asANamedModuleTheBackendIsFoundAndSeesItsKernels() throws Exception {
        ModuleFinder finder = ModuleFinder.of(location(EpGroup.class), location(CudaBackend.class));
        Configuration cf = ModuleLayer.boot().configuration().resolveAndBind(finder, ModuleFinder.of(),
                Set.of("ep4j.core"));
        ModuleLayer.Controller controller = ModuleLayer.defineModulesWithOneLoader(cf, List.of(ModuleLayer.boot()),
                ClassLoader.getPlatformClassLoader());
        ModuleLayer layer = controller.layer();
        controller.enableNativeAccess(layer.findModule("ep4j.cuda").orElseThrow());
        ClassLoader loader = layer.findModule("ep4j.core").orElseThrow().getClassLoader();
        Class<?> backendType = loader.loadClass("ep4j.spi.Backend");
        List<?> backends = (List<?>) loader.loadClass("ep4j.spi.Backends").getMethod("all").invoke(null);
        List<Object> names = backends.stream().map(b -> call(backendType, b, "name")).toList();
        assertEquals(List.of("cuda", "cpu"), names, "service binding finds both backends, by priority");
        // The fatbin is a resource of the module: a named module must find it as the class path does.
        Object cuda = backends.get(0);
        String named = (String) backendType.getMethod("unavailableReason", int.class).invoke(cuda, 1);
        String classPath = new CudaBackend().unavailableReason(1);
        assertEquals(classPath, named);
    }

    private static Object call(Class<?> type, Object target, String method) {
        try {
            return type.getMethod(method).invoke(target);
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }
}
