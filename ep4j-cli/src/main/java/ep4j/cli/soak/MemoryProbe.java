package ep4j.cli.soak;

import ep4j.cuda.driver.CudaContext;
import ep4j.cuda.driver.Driver;
import ep4j.cuda.driver.MemoryInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What the process holds, for the soak's start and end lines: the native memory Java's
 * allocators hold for ep4j (every host {@code MemorySegment}: the JVM's Native Memory Tracking
 * category "Other", which counts {@code Unsafe} allocations; exact to the KiB, so a leak shows;
 * only when the JVM runs with {@code -XX:NativeMemoryTracking=summary}, as {@code bin/ep4j soak}
 * starts it), the resident set ({@code VmRSS} of {@code /proc/self/status}: everything, the heap
 * and the JIT included, so it only hints; the Java heap's committed size is given
 * beside it), and on the cuda backend each GPU's used memory
 * ({@code cuMemGetInfo}). Every part is optional: a part that cannot be read here is -1 (or
 * absent) and is left out of the line.
 */
record MemoryProbe(long nativeBytes, long residentBytes, long heapBytes, List<Device> devices) {
    /** One GPU's memory in use and in all, in bytes. */
    record Device(int ordinal, long usedBytes, long totalBytes) {
    }

    /** Reads the host parts, and the GPU parts for {@code gpus} (empty: none). */
    static MemoryProbe read(int gpus) {
        return new MemoryProbe(readNative(), readResident(), Runtime.getRuntime().totalMemory(), deviceMemory(gpus));
    }

    /** The NMT category of {@code Unsafe.allocateMemory}, which host memory segments come from. */
    private static final java.util.regex.Pattern OTHER = java.util.regex.Pattern.compile(
            "-\\s+Other \\(reserved=\\d+KB, committed=(\\d+)KB\\)");

    /**
     * Committed bytes of NMT's "Other" category, through the DiagnosticCommand MBean; -1 when the
     * JVM runs without native memory tracking, or without jdk.management.
     */
    static long readNative() {
        try {
            Object text = java.lang.management.ManagementFactory.getPlatformMBeanServer().invoke(
                    new javax.management.ObjectName("com.sun.management:type=DiagnosticCommand"), "vmNativeMemory",
                    new Object[] {new String[] {"summary"}}, new String[] {String[].class.getName()});
            java.util.regex.Matcher m = OTHER.matcher(String.valueOf(text));
            return m.find() ? Long.parseLong(m.group(1)) * 1024 : -1;
        } catch (Exception | LinkageError e) {
            return -1;
        }
    }

    /** Whether the JVM was started with native memory tracking. */
    private static boolean nmtRequested() {
        try {
            return java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
                    .anyMatch(a -> a.startsWith("-XX:NativeMemoryTracking=") && !a.endsWith("=off"));
        } catch (RuntimeException | LinkageError e) {
            return false;
        }
    }

    /** Whether the native part can be read (the JVM tracks native memory). */
    boolean tracksNative() {
        return nativeBytes >= 0;
    }

    /** VmRSS in bytes, or -1 where /proc is not there. */
    static long readResident() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    String[] parts = line.substring(6).trim().split("\\s+");
                    return Long.parseLong(parts[0]) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux
        }
        return -1;
    }

    private static List<Device> deviceMemory(int gpus) {
        List<Device> list = new ArrayList<>();
        if (gpus <= 0 || !Driver.isAvailable()) {
            return list;
        }
        for (int i = 0; i < Math.min(gpus, Driver.deviceCount()); i++) {
            try (CudaContext c = CudaContext.open(i)) {
                MemoryInfo m = c.memoryInfo();
                list.add(new Device(i, m.usedBytes(), m.totalBytes()));
            } catch (RuntimeException e) {
                // leave this GPU out of the line
            }
        }
        return list;
    }

    /** e.g. {@code native 1.2 MiB, resident 95.0 MiB, GPU 0 1.10 GiB used of 139.8 GiB}. */
    String describe() {
        List<String> parts = new ArrayList<>();
        if (nativeBytes >= 0) {
            parts.add("native " + bytes(nativeBytes) + " (NMT Other: host memory segments)");
        } else {
            parts.add(nmtRequested()
                    ? "native not readable (the JVM tracks it, but this Java runtime's diagnostic commands lack"
                            + " VM.native_memory: a jlinked runtime needs the modules jdk.management and jdk.jfr)"
                    : "native not tracked (run Java with -XX:NativeMemoryTracking=summary, as bin/ep4j soak does)");
        }
        if (residentBytes >= 0) {
            parts.add("resident " + bytes(residentBytes) + " (VmRSS)");
        }
        parts.add("Java heap " + bytes(heapBytes) + " committed");
        for (Device d : devices) {
            parts.add("GPU " + d.ordinal() + " " + bytes(d.usedBytes()) + " used of " + bytes(d.totalBytes()));
        }
        return parts.isEmpty() ? "not readable here" : String.join(", ", parts);
    }

    /** What changed since {@code start}, e.g. {@code native +0 B, resident +12.0 MiB, GPU 0 +0 B}. */
    String change(MemoryProbe start) {
        List<String> parts = new ArrayList<>();
        if (nativeBytes >= 0 && start.nativeBytes >= 0) {
            parts.add("native " + signed(nativeBytes - start.nativeBytes));
        }
        if (residentBytes >= 0 && start.residentBytes >= 0) {
            parts.add("resident " + signed(residentBytes - start.residentBytes));
        }
        parts.add("Java heap " + signed(heapBytes - start.heapBytes));
        for (Device d : devices) {
            for (Device s : start.devices) {
                if (s.ordinal() == d.ordinal()) {
                    parts.add("GPU " + d.ordinal() + " " + signed(d.usedBytes() - s.usedBytes()));
                }
            }
        }
        return String.join(", ", parts);
    }

    static String signed(long bytes) {
        return (bytes < 0 ? "-" : "+") + bytes(Math.abs(bytes));
    }

    static String bytes(long b) {
        if (b < 1024) {
            return b + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = b;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }
}
