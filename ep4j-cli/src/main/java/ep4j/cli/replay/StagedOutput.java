package ep4j.cli.replay;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * The {@code --out} folder of a replay, written whole or not at all. Results go into a hidden
 * temporary folder next to it (same file system), which {@link #commit} renames into place
 * (atomically where the file system can); {@link #close} without a commit deletes it, and the
 * parent folders it had to create, so a failed replay leaves nothing at {@code --out}. An
 * interrupted JVM deletes it from a shutdown hook.
 *
 * <p>{@code --out} may be new, an empty folder, or the output of an earlier replay (replay.json
 * and rankN/ folders only), which the new one replaces; anything else is refused before the
 * replay runs, so no user file is overwritten.
 */
final class StagedOutput implements AutoCloseable {
    private final Path target;
    private final Path staging;
    private final List<Path> createdParents;
    private final Thread cleanup;
    private boolean committed;

    private StagedOutput(Path target, Path staging, List<Path> createdParents) {
        this.target = target;
        this.staging = staging;
        this.createdParents = createdParents;
        this.cleanup = new Thread(() -> deleteQuietly(staging), "ep4j-replay-cleanup");
        Runtime.getRuntime().addShutdownHook(cleanup);
    }

    /** Checks {@code out} and creates the temporary folder next to it. */
    static StagedOutput create(Path out) throws IOException {
        Path target = out.toAbsolutePath().normalize();
        Path parent = target.getParent();
        if (parent == null) {
            throw new ReplayException("--out " + out + ": expected a folder below the root");
        }
        checkReplaceable(out, target);
        List<Path> created = new ArrayList<>();
        for (Path p = parent; p != null && !Files.exists(p, LinkOption.NOFOLLOW_LINKS); p = p.getParent()) {
            created.add(p);
        }
        try {
            Files.createDirectories(parent);
            Path staging = Files.createTempDirectory(parent, "." + target.getFileName() + ".partial-");
            return new StagedOutput(target, staging, created);
        } catch (IOException e) {
            removeEmpty(created);
            throw new ReplayException("--out " + out + ": cannot create a folder next to it (" + e + ")");
        }
    }

    /** Refuses {@code out} now, before a replay runs, when it is neither new, empty, nor an earlier replay's output. */
    static void checkTarget(Path out) throws IOException {
        checkReplaceable(out, out.toAbsolutePath().normalize());
    }

    /** A new path, an empty folder, or an earlier replay's output; anything else is refused. */
    private static void checkReplaceable(Path out, Path target) throws IOException {
        if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (!Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
            throw new ReplayException("--out " + out + " exists and is not a folder: expected a new path, an empty"
                    + " folder or the output of an earlier replay");
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(target)) {
            boolean empty = true;
            boolean hasReplayJson = false;
            for (Path e : entries) {
                empty = false;
                String name = e.getFileName().toString();
                boolean rankDir = name.matches("rank\\d+") && Files.isDirectory(e, LinkOption.NOFOLLOW_LINKS);
                hasReplayJson |= name.equals("replay.json");
                if (!rankDir && !name.equals("replay.json")) {
                    throw new ReplayException("--out " + out + " holds '" + name + "', which a replay does not"
                            + " write: expected a new path, an empty folder or the output of an earlier replay"
                            + " (replay.json and rankN/), which is replaced");
                }
            }
            if (!empty && !hasReplayJson) {
                throw new ReplayException("--out " + out + " holds rankN/ folders but no replay.json: expected a new"
                        + " path, an empty folder or the output of an earlier replay, which is replaced");
            }
        }
    }

    /** The folder to write into. */
    Path dir() {
        return staging;
    }

    /** Moves the written folder to {@code --out}, replacing an earlier replay's output there. */
    void commit() throws IOException {
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            checkReplaceable(target, target);
            Path old = Files.createTempDirectory(target.getParent(), "." + target.getFileName() + ".old-");
            Files.delete(old);
            move(target, old);
            try {
                move(staging, target);
            } catch (IOException e) {
                move(old, target);
                throw e;
            }
            deleteQuietly(old);
        } else {
            move(staging, target);
        }
        committed = true;
    }

    /**
     * For a rank of a job other than 0: moves each {@code rankN/} written here into {@code --out},
     * which rank 0 has committed (replacing any {@code rankN/} an earlier replay left there).
     */
    void commitRanksInto() throws IOException {
        if (!Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
            throw new ReplayException("--out " + target + ": rank 0 did not put the output in place");
        }
        try (DirectoryStream<Path> written = Files.newDirectoryStream(staging)) {
            for (Path p : written) {
                Path to = target.resolve(p.getFileName().toString());
                deleteQuietly(to);
                move(p, to);
            }
        }
        deleteQuietly(staging);
        committed = true;
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to);
        }
    }

    /** Without a commit: deletes what was written and the parent folders created for it. */
    @Override
    public void close() {
        try {
            if (!committed) {
                deleteQuietly(staging);
                removeEmpty(createdParents);
            }
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(cleanup);
            } catch (IllegalStateException shuttingDown) {
                // The hook runs or has run.
            }
        }
    }

    private static void removeEmpty(List<Path> dirs) {
        for (Path d : dirs) {
            try {
                Files.deleteIfExists(d);
            } catch (IOException notEmptyOrGone) {
                return;
            }
        }
    }

    static void deleteQuietly(Path dir) {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException | RuntimeException e) {
            // Best effort: a hidden .partial- folder may remain.
        }
    }
}
