package ep4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import java.util.ServiceLoader;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The module ep4j.core as built (an exploded module in a reactor build, or its jar): what it
 * exports, and that it runs as a named module. The tests themselves run on the class path.
 */
class ModuleGraphTest {
    static ModuleReference module(String name, Class<?> anchor) {
        return ModuleFinder.of(location(anchor)).find(name).orElseThrow(
                () -> new AssertionError(name + " is not a module at " + location(anchor)));
    }

    static Path location(Class<?> anchor) {
        try {
            return Path.of(anchor.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException e) {
            throw new AssertionError(e);
        }
    }

    /** A layer of the modules where {@code anchors} were loaded from, over the JDK only. */
    static ModuleLayer layer(String root, Class<?>... anchors) {
        ModuleFinder finder = ModuleFinder.of(java.util.Arrays.stream(anchors).map(ModuleGraphTest::location)
                .toArray(Path[]::new));
        Configuration cf = ModuleLayer.boot().configuration().resolveAndBind(finder, ModuleFinder.of(), Set.of(root));
        return ModuleLayer.boot().defineModulesWithOneLoader(cf, ClassLoader.getPlatformClassLoader());
    }

    static Map<String, Set<String>> qualifiedExports(ModuleDescriptor d) {
        return d.exports().stream().filter(ModuleDescriptor.Exports::isQualified)
                .collect(Collectors.toMap(ModuleDescriptor.Exports::source, ModuleDescriptor.Exports::targets));
    }

    static Set<String> unqualifiedExports(ModuleDescriptor d) {
        return d.exports().stream().filter(e -> !e.isQualified()).map(ModuleDescriptor.Exports::source)
                .collect(Collectors.toSet());
    }

    /** Maven may run on JDK 17, which reads module descriptors up to class-file version 61. */
    static int classFileMajorVersion(ModuleReference ref) throws Exception {
        try (ModuleReader reader = ref.open(); InputStream in = reader.open("module-info.class").orElseThrow()) {
            DataInputStream data = new DataInputStream(in);
            assertEquals(0xCAFEBABE, data.readInt());
            data.readUnsignedShort();
            return data.readUnsignedShort();
        }
    }

    @Test
    void onlyTheApiIsExported() throws Exception {
        ModuleReference ref = module("ep4j.core", EpGroup.class);
        ModuleDescriptor d = ref.descriptor();
        assertEquals(Set.of("ep4j", "ep4j.codec", "ep4j.spi"), unqualifiedExports(d));
        assertEquals(Map.of("ep4j.check", Set.of("ep4j.cuda"), "ep4j.process", Set.of("ep4j.cuda")), qualifiedExports(d));
        assertTrue(d.opens().isEmpty(), d.opens().toString());
        assertEquals(Set.of("ep4j.spi.Backend"), d.uses());
        assertEquals(List.of("ep4j.cpu.CpuBackend"), d.provides().iterator().next().providers());
        ModuleDescriptor.Requires jspecify = d.requires().stream().filter(r -> r.name().equals("org.jspecify"))
                .findFirst().orElseThrow();
        assertTrue(jspecify.modifiers().contains(ModuleDescriptor.Requires.Modifier.STATIC),
                "JSpecify is needed to compile, not to run");
        assertTrue(d.packages().containsAll(Set.of("ep4j.cpu", "ep4j.access", "ep4j.check")), d.packages().toString());
        assertTrue(classFileMajorVersion(ref) <= 61, "module-info.class must be readable by JDK 17");
    }

    /** What javac's "exports" lint would say (it is off for the JSpecify annotations): no API signature leaks an internal type. */
    @Test
    void theApiUsesNoTypeOfAPackageItDoesNotExport() throws Exception {
        ModuleReference ref = module("ep4j.core", EpGroup.class);
        Set<String> exported = unqualifiedExports(ref.descriptor());
        List<String> leaks = new java.util.ArrayList<>();
        try (ModuleReader reader = ref.open()) {
            for (String name : reader.list().filter(n -> n.endsWith(".class") && !n.contains("-info")).toList()) {
                Class<?> c = Class.forName(name.substring(0, name.length() - 6).replace('/', '.'), false,
                        getClass().getClassLoader());
                if (!exported.contains(c.getPackageName()) || !isApi(c.getModifiers())) {
                    continue;
                }
                List<java.lang.reflect.Type> used = new java.util.ArrayList<>();
                used.add(c.getGenericSuperclass());
                used.addAll(List.of(c.getGenericInterfaces()));
                for (var m : c.getDeclaredMethods()) {
                    if (isApi(m.getModifiers()) && !m.isSynthetic()) {
                        used.add(m.getGenericReturnType());
                        used.addAll(List.of(m.getGenericParameterTypes()));
                        used.addAll(List.of(m.getGenericExceptionTypes()));
                    }
                }
                for (var k : c.getDeclaredConstructors()) {
                    if (isApi(k.getModifiers())) {
                        used.addAll(List.of(k.getGenericParameterTypes()));
                    }
                }
                for (var f : c.getDeclaredFields()) {
                    if (isApi(f.getModifiers())) {
                        used.add(f.getGenericType());
                    }
                }
                for (java.lang.reflect.Type t : used) {
                    for (Class<?> u : classesIn(t)) {
                        if (u.getPackageName().startsWith("ep4j") && !exported.contains(u.getPackageName())) {
                            leaks.add(c.getName() + " uses " + u.getName());
                        }
                    }
                }
            }
        }
        assertEquals(List.of(), leaks);
    }

    private static boolean isApi(int modifiers) {
        return java.lang.reflect.Modifier.isPublic(modifiers) || java.lang.reflect.Modifier.isProtected(modifiers);
    }

    private static List<Class<?>> classesIn(java.lang.reflect.Type t) {
        if (t instanceof Class<?> c) {
            return c.isArray() ? classesIn(c.getComponentType()) : List.of(c);
        }
        List<Class<?>> out = new java.util.ArrayList<>();
        if (t instanceof java.lang.reflect.ParameterizedType p) {
            out.addAll(classesIn(p.getRawType()));
            for (java.lang.reflect.Type a : p.getActualTypeArguments()) {
                out.addAll(classesIn(a));
            }
        } else if (t instanceof java.lang.reflect.GenericArrayType g) {
            out.addAll(classesIn(g.getGenericComponentType()));
        } else if (t instanceof java.lang.reflect.WildcardType w) {
            for (java.lang.reflect.Type b : w.getUpperBounds()) {
                out.addAll(classesIn(b));
            }
        }
        return out;
    }

    @Test
    void theCpuBackendRunsAsANamedModuleWithoutJSpecify() throws Exception {
        ModuleLayer layer = layer("ep4j.core", EpGroup.class);
        Module core = layer.findModule("ep4j.core").orElseThrow();
        ClassLoader loader = core.getClassLoader();
        Class<?> backend = loader.loadClass("ep4j.spi.Backend");
        List<String> names = ServiceLoader.load(layer, backend).stream()
                .map(p -> p.type().getName()).toList();
        assertEquals(List.of("ep4j.cpu.CpuBackend"), names);

        // A layout through the public API: results are made through the SPI's bridge, inside the module.
        Class<?> group = loader.loadClass("ep4j.EpGroup");
        Class<?> spec = loader.loadClass("ep4j.BufferSpec");
        Class<?> tensor = loader.loadClass("ep4j.Tensor");
        Object g = group.getMethod("cpu", int.class).invoke(null, 1);
        try {
            Object buffers = group.getMethod("allocate", spec)
                    .invoke(g, spec.getMethod("normal", int.class, int.class).invoke(null, 8, 4));
            Object buffer = loader.loadClass("ep4j.EpBuffers").getMethod("rank", int.class).invoke(buffers, 0);
            Object idx = tensor.getMethod("ofLongs", long[].class, long[].class)
                    .invoke(null, new long[] {0, 1, 1, -1}, new long[] {2, 2});
            Object layout = loader.loadClass("ep4j.EpBuffer").getMethod("layout", tensor, int.class)
                    .invoke(buffer, idx, 2);
            assertEquals(core, layout.getClass().getModule());
            Object perExpert = layout.getClass().getMethod("tokensPerExpert").invoke(layout);
            assertArrayEquals(new int[] {1, 2}, (int[]) tensor.getMethod("toIntArray").invoke(perExpert));
        } finally {
            group.getMethod("close").invoke(g);
        }
    }
}
