package ep4j.rendezvous;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.concurrent.TimeUnit;

/**
 * A socket's input whose reads fail with a {@link SocketTimeoutException} once an armed deadline
 * has passed: the store arms it when a frame starts, so that a frame trickling in byte by byte is
 * bounded as a whole, not per read; disarmed, reads wait as long as the peer stays silent.
 */
final class FrameDeadline extends FilterInputStream {
    private final Socket socket;
    private long deadline;
    private boolean armed;

    FrameDeadline(InputStream in, Socket socket) {
        super(in);
        this.socket = socket;
    }

    void arm(long deadlineNanos) {
        deadline = deadlineNanos;
        armed = true;
    }

    void disarm() {
        armed = false;
    }

    private void bound() throws IOException {
        if (!armed) {
            socket.setSoTimeout(0);
            return;
        }
        long ms = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
        if (ms <= 0) {
            throw new SocketTimeoutException("frame deadline passed");
        }
        socket.setSoTimeout((int) Math.min(ms, Integer.MAX_VALUE));
    }

    @Override
    public int read() throws IOException {
        bound();
        return super.read();
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        bound();
        return super.read(b, off, len);
    }
}
