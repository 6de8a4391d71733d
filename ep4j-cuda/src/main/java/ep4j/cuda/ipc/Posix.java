package ep4j.cuda.ipc;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import ep4j.EpException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.List;

/**
 * The libc calls that pass a file descriptor from one process to another over a Unix-domain
 * socket (SCM_RIGHTS), bound once through FFM. Linux x86_64/aarch64 (LP64) layouts, checked in
 * CI against the system headers (contract_table.cu prints them; DriverContractTest compares).
 * Every call captures errno, and a failure becomes an exception that names the call and errno.
 */
public final class Posix {
    private Posix() {
    }

    public static final int AF_UNIX = 1;
    public static final int SOCK_STREAM = 1;
    public static final int SOL_SOCKET = 1;
    public static final int SCM_RIGHTS = 1;
    public static final int SHUT_RDWR = 2;

    /** {@code struct sockaddr_un}: family and a 108-byte path. */
    static final StructLayout SOCKADDR_UN = MemoryLayout.structLayout(
            JAVA_SHORT.withName("sun_family"),
            MemoryLayout.sequenceLayout(108, JAVA_BYTE).withName("sun_path")).withName("sockaddr_un");

    /** {@code struct iovec}. */
    static final StructLayout IOVEC = MemoryLayout.structLayout(
            ADDRESS.withName("iov_base"),
            JAVA_LONG.withName("iov_len")).withName("iovec");

    /** {@code struct msghdr}. */
    static final StructLayout MSGHDR = MemoryLayout.structLayout(
            ADDRESS.withName("msg_name"),
            JAVA_INT.withName("msg_namelen"),
            MemoryLayout.paddingLayout(4),
            ADDRESS.withName("msg_iov"),
            JAVA_LONG.withName("msg_iovlen"),
            ADDRESS.withName("msg_control"),
            JAVA_LONG.withName("msg_controllen"),
            JAVA_INT.withName("msg_flags"),
            MemoryLayout.paddingLayout(4)).withName("msghdr");

    /** {@code struct cmsghdr}; its data (one int, the fd) follows at {@link #CMSG_DATA}. */
    static final StructLayout CMSGHDR = MemoryLayout.structLayout(
            JAVA_LONG.withName("cmsg_len"),
            JAVA_INT.withName("cmsg_level"),
            JAVA_INT.withName("cmsg_type")).withName("cmsghdr");

    /** Every layout the CI check compares with the headers. */
    public static final List<StructLayout> ALL = List.of(SOCKADDR_UN, IOVEC, MSGHDR, CMSGHDR);

    static final long IOV_BASE = IOVEC.byteOffset(PathElement.groupElement("iov_base"));
    static final long IOV_LEN = IOVEC.byteOffset(PathElement.groupElement("iov_len"));
    static final long MSG_IOV = MSGHDR.byteOffset(PathElement.groupElement("msg_iov"));
    static final long MSG_IOVLEN = MSGHDR.byteOffset(PathElement.groupElement("msg_iovlen"));
    static final long MSG_CONTROL = MSGHDR.byteOffset(PathElement.groupElement("msg_control"));
    static final long MSG_CONTROLLEN = MSGHDR.byteOffset(PathElement.groupElement("msg_controllen"));
    static final long CMSG_LEN = CMSGHDR.byteOffset(PathElement.groupElement("cmsg_len"));
    static final long CMSG_LEVEL = CMSGHDR.byteOffset(PathElement.groupElement("cmsg_level"));
    static final long CMSG_TYPE = CMSGHDR.byteOffset(PathElement.groupElement("cmsg_type"));
    static final long SUN_PATH = SOCKADDR_UN.byteOffset(PathElement.groupElement("sun_path"));
    static final long CMSG_DATA = CMSGHDR.byteSize();
    /** CMSG_LEN(sizeof(int)) and CMSG_SPACE(sizeof(int)). */
    static final long CMSG_LEN_INT = CMSG_DATA + 4;
    static final long CMSG_SPACE_INT = (CMSG_LEN_INT + 7) & ~7L;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final Linker.Option ERRNO = Linker.Option.captureCallState("errno");
    static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO_HANDLE = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    @SuppressWarnings("restricted")
    private static MethodHandle bind(String name, FunctionDescriptor fd) {
        return LINKER.downcallHandle(LIBC.find(name).orElseThrow(() -> new EpException("libc has no " + name)), fd,
                ERRNO);
    }

    static final MethodHandle socket = bind("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    static final MethodHandle bind = bind("bind", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    static final MethodHandle listen = bind("listen", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    static final MethodHandle accept = bind("accept", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    static final MethodHandle connect = bind("connect", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    static final MethodHandle sendmsg = bind("sendmsg", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    static final MethodHandle recvmsg = bind("recvmsg", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    static final MethodHandle read = bind("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    static final MethodHandle write = bind("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    static final MethodHandle shutdown = bind("shutdown", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    static final MethodHandle close = bind("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));

    /** Closes a file descriptor this process owns (one {@link FdClient#fetch} returned, or an exported one). */
    public static void closeFd(int fd) {
        UnixSockets.close(fd);
    }

    /** errno of the last call made with {@code state}. */
    static int errno(MemorySegment state) {
        return (int) ERRNO_HANDLE.get(state, 0L);
    }

    /** Throws, naming the call and errno, when {@code result} is negative. */
    static long check(long result, String call, MemorySegment state) {
        if (result < 0) {
            throw new EpException(call + " failed: errno " + errno(state));
        }
        return result;
    }

    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new EpException("libc call failed", t);
    }
}
