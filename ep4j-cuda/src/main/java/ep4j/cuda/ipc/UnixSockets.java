package ep4j.cuda.ipc;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import ep4j.EpException;
import ep4j.InvalidArgumentException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** Unix-domain stream sockets and SCM_RIGHTS messages over {@link Posix}: what FdServer and FdClient share. */
final class UnixSockets {
    private UnixSockets() {
    }

    /** A {@code sockaddr_un} for {@code path}, in {@code arena}. */
    static MemorySegment address(Arena arena, Path path) {
        byte[] bytes = path.toString().getBytes(StandardCharsets.UTF_8);
        if (bytes.length >= 108) {
            throw new InvalidArgumentException("socket path", path, "at most 107 bytes (sockaddr_un)");
        }
        MemorySegment a = arena.allocate(Posix.SOCKADDR_UN).fill((byte) 0);
        a.set(JAVA_SHORT, 0, (short) Posix.AF_UNIX);
        MemorySegment.copy(bytes, 0, a, JAVA_BYTE, Posix.SUN_PATH, bytes.length);
        return a;
    }

    static int socket(MemorySegment state) {
        try {
            return (int) Posix.check((int) Posix.socket.invokeExact(state, Posix.AF_UNIX, Posix.SOCK_STREAM, 0),
                    "socket(AF_UNIX, SOCK_STREAM)", state);
        } catch (Throwable t) {
            throw Posix.rethrow(t);
        }
    }

    static void close(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            int ignored = (int) Posix.close.invokeExact(arena.allocate(Posix.CAPTURE), fd);
        } catch (Throwable t) {
            throw Posix.rethrow(t);
        }
    }

    /** Writes all of {@code data}. */
    static void writeFully(int fd, byte[] data, MemorySegment state, Arena arena) {
        MemorySegment buf = arena.allocate(Math.max(1, data.length));
        MemorySegment.copy(data, 0, buf, JAVA_BYTE, 0, data.length);
        long done = 0;
        while (done < data.length) {
            try {
                done += Posix.check((long) Posix.write.invokeExact(state, fd, buf.asSlice(done), data.length - done),
                        "write(unix socket)", state);
            } catch (Throwable t) {
                throw Posix.rethrow(t);
            }
        }
    }

    /** Reads exactly {@code n} bytes, or fewer when the peer closes first. */
    static byte[] readFully(int fd, int n, MemorySegment state, Arena arena) {
        MemorySegment buf = arena.allocate(Math.max(1, n));
        long done = 0;
        while (done < n) {
            long r;
            try {
                r = Posix.check((long) Posix.read.invokeExact(state, fd, buf.asSlice(done), n - done),
                        "read(unix socket)", state);
            } catch (Throwable t) {
                throw Posix.rethrow(t);
            }
            if (r == 0) {
                break;
            }
            done += r;
        }
        return buf.asSlice(0, done).toArray(JAVA_BYTE);
    }

    /** Sends one byte with {@code fdToSend} attached (SCM_RIGHTS). */
    static void sendFd(int socket, int fdToSend, MemorySegment state, Arena arena) {
        MemorySegment data = arena.allocate(1).fill((byte) 1);
        MemorySegment iov = arena.allocate(Posix.IOVEC);
        iov.set(ValueLayout.ADDRESS, Posix.IOV_BASE, data);
        iov.set(JAVA_LONG, Posix.IOV_LEN, 1L);
        MemorySegment control = arena.allocate(Posix.CMSG_SPACE_INT, 8).fill((byte) 0);
        control.set(JAVA_LONG, Posix.CMSG_LEN, Posix.CMSG_LEN_INT);
        control.set(JAVA_INT, Posix.CMSG_LEVEL, Posix.SOL_SOCKET);
        control.set(JAVA_INT, Posix.CMSG_TYPE, Posix.SCM_RIGHTS);
        control.set(JAVA_INT, Posix.CMSG_DATA, fdToSend);
        MemorySegment msg = message(arena, iov, control);
        try {
            Posix.check((long) Posix.sendmsg.invokeExact(state, socket, msg, 0), "sendmsg(SCM_RIGHTS)", state);
        } catch (Throwable t) {
            throw Posix.rethrow(t);
        }
    }

    /** Receives one byte and the descriptor attached to it; the caller owns the descriptor. */
    static int receiveFd(int socket, MemorySegment state, Arena arena) {
        MemorySegment data = arena.allocate(1);
        MemorySegment iov = arena.allocate(Posix.IOVEC);
        iov.set(ValueLayout.ADDRESS, Posix.IOV_BASE, data);
        iov.set(JAVA_LONG, Posix.IOV_LEN, 1L);
        MemorySegment control = arena.allocate(Posix.CMSG_SPACE_INT, 8).fill((byte) 0);
        MemorySegment msg = message(arena, iov, control);
        long got;
        try {
            got = Posix.check((long) Posix.recvmsg.invokeExact(state, socket, msg, 0), "recvmsg(SCM_RIGHTS)", state);
        } catch (Throwable t) {
            throw Posix.rethrow(t);
        }
        long controlLen = msg.get(JAVA_LONG, Posix.MSG_CONTROLLEN);
        if (got != 1 || controlLen < Posix.CMSG_LEN_INT || control.get(JAVA_INT, Posix.CMSG_LEVEL) != Posix.SOL_SOCKET
                || control.get(JAVA_INT, Posix.CMSG_TYPE) != Posix.SCM_RIGHTS) {
            throw new EpException("the file-descriptor server sent no descriptor (" + got + " bytes, "
                    + controlLen + " bytes of control data): a wrong token?");
        }
        return control.get(JAVA_INT, Posix.CMSG_DATA);
    }

    private static MemorySegment message(Arena arena, MemorySegment iov, MemorySegment control) {
        MemorySegment msg = arena.allocate(Posix.MSGHDR).fill((byte) 0);
        msg.set(ValueLayout.ADDRESS, Posix.MSG_IOV, iov);
        msg.set(JAVA_LONG, Posix.MSG_IOVLEN, 1L);
        msg.set(ValueLayout.ADDRESS, Posix.MSG_CONTROL, control);
        msg.set(JAVA_LONG, Posix.MSG_CONTROLLEN, control.byteSize());
        return msg;
    }
}
