// Fakes.java: stand-ins for the seams of the patterns, for the unit tests: a stream facade whose reads,
// writes and close the test decides, and a transport that records what a service does to it.

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;

final class Fakes {
    private Fakes() { }

    /** Bytes as text, one character per byte (ISO-8859-1): exact for any bytes, readable for ASCII. */
    static String text(ByteBuffer bytes) {
        byte[] copy = new byte[bytes.remaining()];
        bytes.duplicate().get(copy); // the caller's buffer is left as it was
        return new String(copy, StandardCharsets.ISO_8859_1);
    }

    /**
     * The stream facade, with read, write and close decided by the test. It stands on a real loopback socket
     * only so that register gives a real selection key, whose interest the tests read; no byte goes through
     * the kernel.
     */
    static final class Stream extends EchoServer.SocketStream {
        private static final byte[] END = new byte[0]; // in the input: the peer has half-closed

        private final Deque<byte[]> input = new ArrayDeque<>();
        /** The most one write takes: a socket with little room takes a few bytes, a full one 0. */
        int takes = Integer.MAX_VALUE;
        /** What each write took, in order, one entry per call (an empty one when the socket was full). */
        final List<String> writes = new ArrayList<>();
        int closes;
        private EchoServer.SelectorReactor reactor;
        private EchoServer.SelectorReactor.Registration registration;

        Stream() throws IOException { super(new EchoServer.SocketStream(acceptedSocket())); }

        /** Bytes that arrive: the next reads hand them out, as much as fits each time. */
        void give(String bytes) { input.add(bytes.getBytes(StandardCharsets.ISO_8859_1)); }

        /** The peer shuts down its output: once the bytes given are read, read returns -1. */
        void end() { input.add(END); }

        /** Everything the writes took, in order. */
        String taken() { return String.join("", writes); }

        boolean readInterest() { return reactor.interest(registration).read(); }
        boolean writeInterest() { return reactor.interest(registration).write(); }
        /** Closing throws this, if set: a failure inside the connection's close. */
        Error closeFails;

        @Override int read(ByteBuffer into) {
            byte[] piece = input.poll();
            if (piece == null) return 0; // nothing has arrived
            if (piece == END) return -1;
            int n = Math.min(piece.length, into.remaining());
            into.put(piece, 0, n);
            if (n < piece.length) input.push(Arrays.copyOfRange(piece, n, piece.length)); // the rest, next read
            return n;
        }

        @Override int write(ByteBuffer bytes) {
            ByteBuffer took = bytes.slice(bytes.position(), Math.min(takes, bytes.remaining()));
            writes.add(text(took));
            bytes.position(bytes.position() + took.remaining());
            return took.remaining();
        }

        @Override void close() {
            closes++;
            super.close();
            if (closeFails != null) throw closeFails;
        }

        @Override EchoServer.SelectorReactor.Registration register(EchoServer.SelectorReactor reactor,
                EchoServer.Events interest, EchoServer.EventHandler handler) throws IOException {
            this.reactor = reactor;
            this.registration = super.register(reactor, interest, handler);
            return registration;
        }

        /** The server's end of a new loopback connection; both ends are closed after the test (Harness). */
        private static SocketChannel acceptedSocket() throws IOException {
            try (ServerSocketChannel listener = ServerSocketChannel.open()) {
                listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
                SocketChannel client = SocketChannel.open(listener.getLocalAddress());
                Harness.resources.add(client);
                SocketChannel accepted = listener.accept();
                Harness.resources.add(accepted);
                return accepted;
            }
        }
    }

    /** A service's transport that records what the service did: each write's bytes, and the closes. */
    static final class Transport implements EchoServer.Transport {
        static final String LOSE = "(loseConnection)", ABORT = "(abortConnection)";
        /** Each write's bytes as text, and LOSE or ABORT where the service closed, in order. */
        final List<String> calls = new ArrayList<>();

        /** What was written, all writes joined. */
        String written() {
            return String.join("", calls.stream().filter(c -> !c.equals(LOSE) && !c.equals(ABORT)).toList());
        }

        EchoServer.Producer producer;
        boolean paused;

        @Override public void write(ByteBuffer bytes) { calls.add(text(bytes)); }
        @Override public void writeShared(ByteBuffer message) { calls.add(text(message)); }
        @Override public int unsent() { return 0; }
        @Override public void registerProducer(EchoServer.Producer producer) { this.producer = producer; }
        @Override public void pauseProducing() { paused = true; }
        @Override public void resumeProducing() {
            if (resumeFails != null) throw resumeFails;
            paused = false;
        }
        /** Resuming throws this, if set: a failure inside another member's call. */
        Error resumeFails;
        @Override public void loseConnection() { calls.add(LOSE); }
        @Override public void abortConnection() { calls.add(ABORT); }
    }
}
