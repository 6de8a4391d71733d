package ep4j.rendezvous;

import ep4j.InvalidArgumentException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Where this process stands in a job of one process per GPU, read from the variables its
 * launcher set: torchrun ({@code RANK}, {@code WORLD_SIZE}, {@code LOCAL_RANK},
 * {@code LOCAL_WORLD_SIZE}, {@code MASTER_ADDR}, {@code MASTER_PORT}), Open MPI
 * ({@code OMPI_COMM_WORLD_RANK}, {@code _SIZE}, {@code _LOCAL_RANK}, {@code _LOCAL_SIZE}) or
 * Slurm ({@code SLURM_PROCID}, {@code SLURM_NTASKS}, {@code SLURM_LOCALID},
 * {@code SLURM_NTASKS_PER_NODE}), with {@code EP4J_*} variables on top.
 *
 * <p><b>Which launcher.</b> Slurm's variables are inherited by whatever runs inside an allocation
 * ({@code srun torchrun ...}, {@code mpirun} in a batch script), so they count only when neither
 * torchrun's nor Open MPI's are set. When both of those are set they must agree. Each
 * {@code EP4J_RANK}, {@code EP4J_WORLD_SIZE}, {@code EP4J_LOCAL_RANK},
 * {@code EP4J_LOCAL_WORLD_SIZE}, {@code EP4J_MASTER_ADDR}, {@code EP4J_MASTER_PORT} replaces the
 * launcher's value. Neither Slurm nor Open MPI set a master address: {@code MASTER_ADDR} and
 * {@code MASTER_PORT} (or the {@code EP4J_} ones) must be given. Where torchrun's agent serves
 * its own store on {@code MASTER_PORT} ({@code TORCHELASTIC_USE_AGENT_STORE=True}), ep4j's store
 * goes on {@code MASTER_PORT + 1}, unless {@code EP4J_MASTER_PORT} says otherwise.
 *
 * <p><b>One host.</b> When every rank runs on this host (the local world size is the world size)
 * and {@code EP4J_BIND_ADDRESS} is not set, the store is reached on 127.0.0.1 whatever
 * {@code MASTER_ADDR} says (torchrun passes its host name even to a single-host job).
 *
 * <p><b>The job token</b> ({@code EP4J_JOB_TOKEN}) is required unless the store stays on
 * loopback ({@code MASTER_ADDR} a loopback address or "localhost", no non-loopback
 * {@code EP4J_BIND_ADDRESS}): then a weak token is derived from what every rank sees alike (the
 * port, the size, torchrun's run id, Slurm's job and step). It keeps out stray and stale
 * processes of other jobs, not another user of the host.
 *
 * @param launcher       which variables were read ("torchrun", "Open MPI", "Slurm", or "EP4J_*")
 * @param rank           this process's rank
 * @param worldSize      the ranks of the job
 * @param localRank      this process's rank among those of its host (its GPU)
 * @param localWorldSize the processes of this host, or -1 when not known
 * @param masterAddr     where rank 0's store is reached: MASTER_ADDR, or 127.0.0.1 when every rank runs on
 *                       this host ({@code localWorldSize == worldSize}) and no {@code EP4J_BIND_ADDRESS} is set
 * @param masterPort     its port (MASTER_PORT + 1 where torchrun's agent serves MASTER_PORT)
 * @param token          the job token (never printed)
 * @param derivedToken   whether the token was derived (no {@code EP4J_JOB_TOKEN})
 * @param bindAddress    where rank 0's store listens ({@code EP4J_BIND_ADDRESS}), or null for loopback
 * @param backend        {@code EP4J_BACKEND}, "auto" by default
 * @param timeout        {@code EP4J_RENDEZVOUS_TIMEOUT}: how long a rank tries to reach the store, and
 *                       how long rank 0 keeps serving at close for ranks that have not left
 */
public record JobEnvironment(String launcher, int rank, int worldSize, int localRank, int localWorldSize,
        String masterAddr, int masterPort, String token, boolean derivedToken, @Nullable String bindAddress,
        String backend, Duration timeout) {
    /** {@code EP4J_RENDEZVOUS_TIMEOUT}'s default. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(5);
    /** Set by torchrun when its agent serves a store on MASTER_PORT itself (the workers are its clients). */
    static final String AGENT_STORE = "TORCHELASTIC_USE_AGENT_STORE";
    /** The largest group ({@link ep4j.GroupSpec}). */
    static final int MAX_RANKS = 1024;

    /** One launcher's names for rank, size, local rank and local size (null: it sets none). */
    private record Launcher(String name, String rank, String size, String localRank, @Nullable String localSize) {
        boolean present(Map<String, String> env) {
            return set(env, rank) || set(env, size);
        }
    }

    private static final Launcher TORCHRUN = new Launcher("torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK",
            "LOCAL_WORLD_SIZE");
    private static final Launcher OPEN_MPI = new Launcher("Open MPI", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE",
            "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE");
    private static final Launcher SLURM = new Launcher("Slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID",
            "SLURM_NTASKS_PER_NODE");
    private static final Launcher OVERRIDES = new Launcher("EP4J_*", "EP4J_RANK", "EP4J_WORLD_SIZE",
            "EP4J_LOCAL_RANK", "EP4J_LOCAL_WORLD_SIZE");

    private static final String KNOWN = "torchrun's RANK, WORLD_SIZE, LOCAL_RANK; Slurm's SLURM_PROCID, SLURM_NTASKS,"
            + " SLURM_LOCALID; Open MPI's OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE, OMPI_COMM_WORLD_LOCAL_RANK;"
            + " or EP4J_RANK, EP4J_WORLD_SIZE, EP4J_LOCAL_RANK";

    /**
     * Reads the job from {@code env}.
     *
     * @param env the environment ({@link System#getenv()} or a test's map)
     * @return the job as this process sees it
     * @throws InvalidArgumentException naming the variable that is missing, malformed or
     *                                  contradicts another, its value and what was expected
     */
    public static JobEnvironment parse(Map<String, String> env) {
        Launcher inner = innerLauncher(env);
        String launcher = inner != null ? inner.name() : set(env, OVERRIDES.rank()) ? OVERRIDES.name() : null;
        if (launcher == null) {
            throw new InvalidArgumentException("RANK", "(unset)", "the variables of a launcher, " + KNOWN
                    + " (none is set: was this process started by torchrun, srun, mpirun or ep4j launch?)");
        }
        String sizeVar = pick(env, OVERRIDES.size(), inner == null ? null : inner.size());
        int worldSize = integer(env, sizeVar, OVERRIDES.size(), 1, MAX_RANKS, "the number of ranks", launcher);
        String rankVar = pick(env, OVERRIDES.rank(), inner == null ? null : inner.rank());
        int rank = integer(env, rankVar, OVERRIDES.rank(), 0, Integer.MAX_VALUE, "this process's rank", launcher);
        if (rank >= worldSize) {
            throw new InvalidArgumentException(rankVar, rank, "a rank below " + sizeVar + "=" + worldSize + " (0 to "
                    + (worldSize - 1) + ")");
        }
        String localVar = pick(env, OVERRIDES.localRank(), inner == null ? null : inner.localRank());
        int localRank = integer(env, localVar, OVERRIDES.localRank(), 0, Integer.MAX_VALUE,
                "this process's index among the processes of its host (the GPU it uses)", launcher);
        if (localRank >= worldSize) {
            throw new InvalidArgumentException(localVar, localRank, "a local rank below " + sizeVar + "=" + worldSize);
        }
        String localSizeVar = pick(env, OVERRIDES.localSize(), inner == null ? null : inner.localSize());
        int localWorldSize = -1;
        // Slurm's tasks per node may read "2(x3),1" (not this host's count): only a plain count is used.
        boolean slurmList = "SLURM_NTASKS_PER_NODE".equals(localSizeVar) && set(env, localSizeVar)
                && !env.get(localSizeVar).strip().matches("\\d+");
        if (set(env, localSizeVar) && !slurmList) {
            localWorldSize = integer(env, localSizeVar, OVERRIDES.localSize(), 1, worldSize,
                    "the processes of this host, at most " + sizeVar + "=" + worldSize, launcher);
            if (localRank >= localWorldSize) {
                throw new InvalidArgumentException(localVar, localRank, "a local rank below " + localSizeVar + "="
                        + localWorldSize + " (0 to " + (localWorldSize - 1) + ")");
            }
        }
        String addrVar = pick(env, "EP4J_MASTER_ADDR", "MASTER_ADDR");
        String masterAddr = address(env, addrVar, "the host of rank 0, where its rendezvous store listens"
                + masterHint(inner));
        String portVar = pick(env, "EP4J_MASTER_PORT", "MASTER_PORT");
        if (!set(env, portVar)) {
            throw new InvalidArgumentException(portVar, "(unset)", "the TCP port of rank 0's rendezvous store, 1 to"
                    + " 65535" + masterHint(inner));
        }
        int masterPort = integer(env, portVar, "EP4J_MASTER_PORT", 1, 65535, "the TCP port of rank 0's rendezvous"
                + " store", launcher);
        if (portVar.equals("MASTER_PORT") && "True".equals(env.get(AGENT_STORE))) {
            // torchrun's agent already serves its own store on MASTER_PORT: ep4j's goes on the next port.
            if (masterPort == 65535) {
                throw new InvalidArgumentException("MASTER_PORT", masterPort, "a port below 65535: torchrun's agent"
                        + " serves its store there (" + AGENT_STORE + "=True), so ep4j's goes on MASTER_PORT + 1;"
                        + " or set EP4J_MASTER_PORT");
            }
            masterPort++;
        }
        String bindAddress = set(env, "EP4J_BIND_ADDRESS")
                ? address(env, "EP4J_BIND_ADDRESS", "the address rank 0's store listens on (an interface's address,"
                        + " or 0.0.0.0 for all)")
                : null;
        if (localWorldSize == worldSize && bindAddress == null && !isLoopback(masterAddr)) {
            // Every rank runs on this host (torchrun passes its fully qualified host name even then):
            // the store stays on loopback, where all of them reach it.
            masterAddr = "127.0.0.1";
        }
        String backend = set(env, "EP4J_BACKEND") ? env.get("EP4J_BACKEND").strip() : "auto";
        Duration timeout = set(env, "EP4J_RENDEZVOUS_TIMEOUT") ? seconds(env, "EP4J_RENDEZVOUS_TIMEOUT")
                : DEFAULT_TIMEOUT;

        String token;
        boolean derived = !set(env, "EP4J_JOB_TOKEN");
        if (!derived) {
            token = env.get("EP4J_JOB_TOKEN").strip();
            if (token.length() > 1024 || token.chars().anyMatch(Character::isISOControl)) {
                throw new InvalidArgumentException("EP4J_JOB_TOKEN", "(" + token.length() + " characters, not shown)",
                        "at most 1024 characters, none of them control characters");
            }
        } else if (isLoopback(masterAddr) && (bindAddress == null || isLoopback(bindAddress))) {
            token = "derived:" + masterPort + ":" + worldSize + ":" + env.getOrDefault("TORCHELASTIC_RUN_ID", "") + ":"
                    + env.getOrDefault("SLURM_JOB_ID", "") + "." + env.getOrDefault("SLURM_STEP_ID", "");
        } else {
            throw new InvalidArgumentException("EP4J_JOB_TOKEN", "(unset)", "a secret shared by every rank of the"
                    + " job, e.g. export EP4J_JOB_TOKEN=$(openssl rand -hex 16) before starting it: only a job whose"
                    + " rendezvous stays on loopback may go without one, and this one does not (" + addrVar + "="
                    + masterAddr + (bindAddress == null ? "" : ", EP4J_BIND_ADDRESS=" + bindAddress) + ")");
        }
        return new JobEnvironment(launcher, rank, worldSize, localRank, localWorldSize, masterAddr, masterPort, token,
                derived, bindAddress, backend, timeout);
    }

    /** torchrun or Open MPI when either is set (both must then agree), else Slurm, else null. */
    private static @Nullable Launcher innerLauncher(Map<String, String> env) {
        boolean torchrun = TORCHRUN.present(env);
        boolean openMpi = OPEN_MPI.present(env);
        if (torchrun && openMpi) {
            List<String[]> pairs = new ArrayList<>();
            pairs.add(new String[] {TORCHRUN.rank(), OPEN_MPI.rank(), OVERRIDES.rank()});
            pairs.add(new String[] {TORCHRUN.size(), OPEN_MPI.size(), OVERRIDES.size()});
            pairs.add(new String[] {TORCHRUN.localRank(), OPEN_MPI.localRank(), OVERRIDES.localRank()});
            pairs.add(new String[] {TORCHRUN.localSize(), OPEN_MPI.localSize(), OVERRIDES.localSize()});
            for (String[] p : pairs) {
                if (set(env, p[0]) && set(env, p[1]) && !set(env, p[2])
                        && !env.get(p[0]).strip().equals(env.get(p[1]).strip())) {
                    throw new InvalidArgumentException(p[0], env.get(p[0]).strip(), "the same value as "
                            + p[1] + ": torchrun's " + p[0] + " and Open MPI's " + p[1] + " disagree ("
                            + env.get(p[0]).strip() + " vs " + env.get(p[1]).strip() + "), so which launcher started"
                            + " this process is unclear; unset one set, or set " + p[2]);
                }
            }
        }
        return torchrun ? TORCHRUN : openMpi ? OPEN_MPI : SLURM.present(env) ? SLURM : null;
    }

    private static String masterHint(@Nullable Launcher inner) {
        if (inner == TORCHRUN) {
            return " (torchrun sets MASTER_ADDR and MASTER_PORT; or set EP4J_MASTER_ADDR and EP4J_MASTER_PORT)";
        }
        String who = inner == null ? "this launcher" : inner.name();
        return " (" + who + " does not set it: export MASTER_ADDR (e.g. the first host of the job: $(scontrol show"
                + " hostnames \"$SLURM_JOB_NODELIST\" | head -n 1) under Slurm, 127.0.0.1 on one host) and MASTER_PORT"
                + " (e.g. 29500), or EP4J_MASTER_ADDR and EP4J_MASTER_PORT, on every rank)";
    }

    /** The override when it is set, else the launcher's variable (which may be unset or null). */
    private static @Nullable String pick(Map<String, String> env, String override, @Nullable String variable) {
        return set(env, override) || variable == null ? override : variable;
    }

    static boolean set(Map<String, String> env, @Nullable String variable) {
        String v = variable == null ? null : env.get(variable);
        return v != null && !v.isBlank();
    }

    /** An integer variable in [min, max]; {@code override} is the EP4J_ variable that can stand in for it. */
    private static int integer(Map<String, String> env, @Nullable String variable, String override, int min, int max,
            String expected, String launcher) {
        String range = max == Integer.MAX_VALUE ? min + " or more" : min + " to " + max;
        if (variable == null || !set(env, variable)) {
            String name = variable == null ? override : variable;
            String who = launcher.equals(OVERRIDES.name()) ? "EP4J_RANK is set, so " + name + " must be too"
                    : launcher + " sets " + name + " with its other variables; set it, or " + override;
            throw new InvalidArgumentException(name, "(unset)", expected + ", " + range + " (" + who + ")");
        }
        String v = env.get(variable).strip();
        long n = v.matches("\\d{1,10}") ? Long.parseLong(v) : -1;
        if (n < min || n > max) {
            throw new InvalidArgumentException(variable, v, "an integer, " + range + ": " + expected);
        }
        return (int) n;
    }

    private static String address(Map<String, String> env, String variable, String expected) {
        String v = env.get(variable);
        if (v == null || v.isBlank()) {
            throw new InvalidArgumentException(variable, "(unset)", expected);
        }
        v = v.strip();
        if (v.length() > 255 || !v.matches("[A-Za-z0-9._:\\-\\[\\]%]+")) {
            throw new InvalidArgumentException(variable, v, "a host name or IP address: " + expected);
        }
        return v.startsWith("[") && v.endsWith("]") ? v.substring(1, v.length() - 1) : v;
    }

    private static Duration seconds(Map<String, String> env, String variable) {
        String v = env.get(variable).strip();
        try {
            double s = Double.parseDouble(v);
            if (s > 0 && s <= 86_400) {
                return Duration.ofNanos(Math.round(s * 1e9));
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new InvalidArgumentException(variable, v, "seconds, more than 0 and at most 86400");
    }

    /** Whether {@code host} is "localhost" or a loopback literal (127.0.0.0/8, ::1); no name lookup. */
    static boolean isLoopback(String host) {
        if (host.toLowerCase(Locale.ROOT).equals("localhost")) {
            return true;
        }
        try {
            return java.net.InetAddress.ofLiteral(host).isLoopbackAddress();
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /** Every field but the token. */
    @Override
    public String toString() {
        return "JobEnvironment[" + launcher + ", rank " + rank + " of " + worldSize + " (local " + localRank
                + (localWorldSize < 0 ? "" : " of " + localWorldSize) + "), store " + masterAddr + ":" + masterPort
                + (bindAddress == null ? "" : " bound to " + bindAddress) + ", token "
                + (derivedToken ? "derived (loopback only)" : "from EP4J_JOB_TOKEN") + ", backend " + backend
                + ", timeout " + timeout.toMillis() + " ms]";
    }
}
