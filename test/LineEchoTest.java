// LineEchoTest.java: The line echo: each line back as soon as its newline arrives, byte for byte; end of input; long lines.

import java.net.Socket;
import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class LineEchoTest extends Harness {

    @Test
    @DisplayName("echoes a message shorter than one buffer")
    void shortMessage() throws Exception {
        assertBytes(bytes("hello\n"), roundTrip(server().port, bytes("hello\n")), "echo");
    }

    @Test
    @DisplayName("echoes a message longer than several buffers")
    void longMessage() throws Exception {
        byte[] message = lines(new Random(1), 5 * READ_BUFFER, 1, 300);
        assertBytes(message, roundTrip(server().port, message), "echo of " + message.length + " bytes");
    }

    @Test
    @DisplayName("echoes messages of exact multiples of the buffer size")
    void bufferMultiples() throws Exception {
        for (int multiple : new int[] {1, 2, 3}) {
            byte[] message = lines(new Random(multiple), multiple * READ_BUFFER, 1, 1000);
            assertBytes(message, roundTrip(server().port, message), multiple + " x " + READ_BUFFER + " bytes");
        }
        byte[] oneLine = new byte[2 * READ_BUFFER]; // one line of exactly two buffers, newline last
        Arrays.fill(oneLine, (byte) 'm');
        oneLine[oneLine.length - 1] = '\n';
        assertBytes(oneLine, roundTrip(server().port, oneLine), "one line of " + oneLine.length + " bytes");
    }

    @Test
    @DisplayName("echoes non-ASCII text split inside a character")
    void splitUtf8() throws Exception {
        byte[] line = bytes("héllo wörld ✓ 日本語\n");
        int split = indexOf(line, bytes("✓")) + 1; // inside the three bytes of ✓
        try (Socket s = connect(server().port)) {
            s.getOutputStream().write(line, 0, split);
            expectNothing(s, 200);
            s.getOutputStream().write(line, split, line.length - split);
            assertBytes(line, readExactly(s, line.length), "echo");
        }
    }

    @Test
    @DisplayName("holds a line sent byte by byte until its newline")
    void byteByByte() throws Exception {
        byte[] line = bytes("one byte at a time\n");
        try (Socket s = connect(server().port)) {
            for (int i = 0; i < line.length - 1; i++) {
                s.getOutputStream().write(line[i]);
                Thread.sleep(5);
            }
            expectNothing(s, 300);
            s.getOutputStream().write('\n');
            assertBytes(line, readExactly(s, line.length), "echo");
        }
    }

    @Test
    @DisplayName("echoes each line as soon as its newline arrives")
    void lineByLine() throws Exception {
        try (Socket s = connect(server().port)) {
            s.getOutputStream().write(bytes("first\nsec"));
            assertBytes(bytes("first\n"), readExactly(s, 6), "the complete line");
            expectNothing(s, 300);
            s.getOutputStream().write(bytes("ond\nthird"));
            assertBytes(bytes("second\n"), readExactly(s, 7), "the next line");
            expectNothing(s, 200);
        }
    }

    @Test
    @DisplayName("keeps \\r\\n line endings")
    void crlf() throws Exception {
        byte[] message = bytes("GET / HTTP/1.0\r\nHost: x\r\n\r\nlast\r\n");
        assertBytes(message, roundTrip(server().port, message), "echo");
    }

    @Test
    @DisplayName("echoes many lines sent in one write")
    void manyLinesOneWrite() throws Exception {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 1000; i++) {
            text.append("line ").append(i).append('\n');
        }
        byte[] message = bytes(text.toString());
        try (Socket s = connect(server().port)) {
            s.getOutputStream().write(message); // one write; not half-closed: each line must come back
            assertBytes(message, readExactly(s, message.length), "1000 lines");
        }
    }

    @Test
    @DisplayName("echoes 10000 pipelined lines")
    void pipelined() throws Exception {
        byte[] message = lines(new Random(7), 10000 * 64, 64, 64);
        assertBytes(message, roundTrip(server().port, message), "10000 lines of 64 bytes");
    }

    @Test
    @DisplayName("echoes every byte value, NUL included")
    void binary() throws Exception {
        byte[] message = new byte[256 * 64];
        for (int i = 0; i < message.length; i++) {
            message[i] = (byte) (i * 7 + i / 256);
        }
        Random random = new Random(3);
        for (int i = message.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            byte b = message[i];
            message[i] = message[j];
            message[j] = b;
        }
        assertBytes(message, roundTrip(server().port, message), "every byte value");
    }

    @Test
    @DisplayName("half-close after a partial line echoes it, then closes")
    void halfClosePartial() throws Exception {
        assertBytes(bytes("abc\ndef"), roundTrip(server().port, bytes("abc\ndef")), "echo");
    }

    @Test
    @DisplayName("half-close with nothing sent closes at once")
    void halfCloseEmpty() throws Exception {
        assertBytes(new byte[0], roundTrip(server().port, new byte[0]), "echo of nothing");
    }

    @Test
    @DisplayName("half-close after a message without newline returns it")
    void halfCloseNoNewline() throws Exception {
        byte[] message = bytes("no newline at all, ünïcödé");
        assertBytes(message, roundTrip(server().port, message), "echo");
    }

    @Test
    @DisplayName("echoes a 1 MiB line")
    void oneMebibyteLine() throws Exception {
        byte[] line = new byte[1 << 20];
        Arrays.fill(line, (byte) 'L');
        line[line.length - 1] = '\n';
        assertBytes(line, roundTrip(server().port, line), "1 MiB line");
    }

    @Test
    @DisplayName("echoes a line longer than --max-line in pieces of --max-line")
    void pieces() throws Exception {
        try (Server server = Server.start("--max-line", "1024"); Socket s = connect(server.port)) {
            byte[] part = new byte[2500];
            Arrays.fill(part, (byte) 'y');
            s.getOutputStream().write(part);
            assertBytes(Arrays.copyOf(part, 2048), readExactly(s, 2048), "two pieces of 1024 bytes");
            expectNothing(s, 300); // the last 452 bytes wait for their newline
            s.getOutputStream().write('\n');
            byte[] rest = Arrays.copyOf(part, 453);
            rest[452] = '\n';
            assertBytes(rest, readExactly(s, 453), "the rest of the line");
        }
    }

    @Test
    @DisplayName("with a --max-line above the read buffer, long lines are held whole")
    void largeMaxLine() throws Exception {
        try (Server server = Server.start("--max-line", "300000")) {
            byte[] message = lines(new Random(11), 3_000_000, 1, 290_000);
            assertBytes(message, roundTrip(server.port, message), "lines of up to 290000 bytes");
            try (Socket s = connect(server.port)) {
                byte[] part = new byte[250_000];
                Arrays.fill(part, (byte) 'w');
                s.getOutputStream().write(part);
                expectNothing(s, 300); // 250000 bytes held, not echoed yet: the line is not over
                s.getOutputStream().write(part); // 500000: one piece of 300000 comes back
                byte[] piece = new byte[300_000];
                Arrays.fill(piece, (byte) 'w');
                assertBytes(piece, readExactly(s, piece.length), "one piece of --max-line");
                expectNothing(s, 300); // the other 200000 wait for the rest of their line
            }
        }
    }

    @Test
    @DisplayName("echoes 16 MiB without newline as it arrives, memory bounded")
    void sixteenMebibytes() throws Exception {
        try (Server server = Server.start(); Socket s = connect(server.port)) {
            long rssBefore = server.rssKiB();
            int size = 16 << 20;
            byte[] data = new byte[size];
            Arrays.fill(data, (byte) 'z');
            Thread writer = daemon(() -> s.getOutputStream().write(data));
            // The line never ends, yet all but the last max-line bytes must come back while
            // the connection is still open: the server is not holding the line.
            byte[] echoed = readExactly(s, size - MAX_LINE);
            writer.join(10_000);
            assertTrue(!writer.isAlive(), "the writer did not finish");
            long rssGrowth = server.rssKiB() - rssBefore;
            s.shutdownOutput();
            byte[] rest = readToEnd(s);
            assertTrue(echoed.length + rest.length == size, "got back " + (echoed.length + rest.length) + " of " + size + " bytes");
            assertTrue(allEqual(echoed, (byte) 'z') && allEqual(rest, (byte) 'z'), "echoed bytes differ");
            assertTrue(rssGrowth < 128 * 1024, "server RSS grew by " + rssGrowth + " KiB for one 16 MiB line");
        }
    }

    static boolean allEqual(byte[] data, byte value) {
        for (byte b : data) {
            if (b != value) {
                return false;
            }
        }
        return true;
    }
}
