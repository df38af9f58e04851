// ChatFlowTest.java: the chat's flow under attack: who waits for whom, who is closed, what a turn of the loop costs.

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.opentest4j.TestAbortedException;

import static org.junit.jupiter.api.Assertions.*;

@Tag("attack")
class ChatFlowTest extends Harness {

    /** Reads a member's lines of "<s> N T" (N a number, T the nanoTime it was sent): the latest lateness seen. */
    static Thread lineReader(Socket s, int lines, AtomicLong worstLateness, AtomicLong got) {
        return daemon(() -> {
            InputStream in = new BufferedInputStream(s.getInputStream(), 64 * 1024);
            StringBuilder line = new StringBuilder();
            for (int n = 0; n < lines; ) {
                int c = in.read();
                if (c < 0) return;
                if (c != '\n') {
                    line.append((char) c);
                    continue;
                }
                String[] words = line.toString().trim().split(" ");
                line.setLength(0);
                assertEquals("<s>", words[0], "a line from the sender");
                assertEquals(n, Integer.parseInt(words[1]), "lines in order, none lost");
                worstLateness.accumulateAndGet(System.nanoTime() - Long.parseLong(words[2]), Math::max);
                got.set(++n);
            }
        });
    }

    @Test
    @DisplayName("chat: a member that never reads stalls nobody: every line reaches the readers within a second")
    void nonReaderStallsNobody() throws Exception {
        try (Server server = Server.start("--chat", "0")) {
            int port = server.port("chat");
            Socket silent = silentMember(port, "silent");
            Socket r1 = chatMember(port, "r1");
            Socket r2 = chatMember(port, "r2");
            Socket sender = chatMember(port, "s");
            String pad = "p".repeat(900);
            int lines = 12_000; // about 11 MB to each member: more than the silent one's kernel buffers take
            AtomicLong late1 = new AtomicLong(), late2 = new AtomicLong();
            AtomicLong got1 = new AtomicLong(), got2 = new AtomicLong();
            Thread reader1 = lineReader(r1, lines, late1, got1);
            Thread reader2 = lineReader(r2, lines, late2, got2);
            for (int i = 0; i < lines; i++) { // never more than 512 KiB ahead of the slower reader: its pace
                while (i - Math.min(got1.get(), got2.get()) > 512 * 1024 / pad.length()) Thread.sleep(1);
                send(sender, i + " " + System.nanoTime() + " " + pad + "\n");
            }
            reader1.join(scaled(60_000));
            reader2.join(scaled(60_000));
            assertEquals(lines, got1.get(), "lines at r1");
            assertEquals(lines, got2.get(), "lines at r2");
            long worst = Math.max(late1.get(), late2.get()) / 1_000_000;
            assertTrue(worst < scaled(1000), "a line took " + worst + " ms to reach a reader");
            server.awaitLog("closed: more than ", 10_000); // the silent member, past what it may leave unsent
            assertTrue(readToEndOrReset(silent), "the silent member was closed");
        }
    }

    /** A member that reads `rate` bytes a second, steadily, until it has `total`; returns what it read. */
    static Thread steadyReader(Socket s, int rate, int total, ByteArrayOutputStream into) {
        return daemon(() -> {
            InputStream in = s.getInputStream();
            byte[] buffer = new byte[rate / 20];
            long start = System.nanoTime();
            for (long read = 0; read < total; ) {
                int n = in.read(buffer, 0, (int) Math.min(buffer.length, total - read));
                if (n < 0) return;
                into.write(buffer, 0, n);
                read += n;
                long due = start + read * 1_000_000_000L / rate; // not ahead of its rate
                LockSupport.parkNanos(due - System.nanoTime());
            }
        });
    }

    /** Sender i's name: 30 Gothic letters of 4 bytes each and two digits, as long a prefix as there is. */
    static String longName(int i) {
        return gothicName(0).substring(0, 60) + String.format("%02d", i);
    }

    /** Members with the longest prefixes each send one read of short lines: their messages reach a slow reader. */
    static void sendersToSlowReader(int senders, int rate) throws Exception {
        try (Server server = Server.start("--chat", "0")) {
            int port = server.port("chat");
            Socket reader = new Socket();
            resources.add(reader);
            reader.setReceiveBufferSize(4096); // a slow link: the kernel keeps little for it
            reader.connect(new InetSocketAddress(LOOPBACK, port));
            reader.setSoTimeout((int) scaled(30_000));
            expect(reader, "What's your name?\r\n");
            send(reader, "reader\n");
            expect(reader, "Welcome, reader!\r\n");
            List<Socket> members = new ArrayList<>();
            for (int i = 0; i < senders; i++) {
                Socket member = chatMember(port, longName(i));
                members.add(member);
                daemon(() -> member.getInputStream().transferTo(OutputStream.nullOutputStream())); // reads
            }
            byte[] read = new byte[1024];
            for (int i = 0; i < read.length; i += 2) {
                read[i] = (byte) 0xff;
                read[i + 1] = '\n';
            }
            String each = ("<" + longName(0) + "> \ufffd\r\n").repeat(read.length / 2);
            int total = 0;
            List<byte[]> expected = new ArrayList<>();
            for (int i = 0; i < senders; i++) {
                byte[] message = bytes(("<" + longName(i) + "> \ufffd\r\n").repeat(read.length / 2));
                expected.add(message);
                total += message.length;
            }
            assertTrue(bytes(each).length > 60_000, "each message is long: " + bytes(each).length);
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            Thread slow = steadyReader(reader, rate, total, got);
            for (Socket m : members) m.getOutputStream().write(read);
            slow.join(scaled(60_000));
            byte[] all = got.toByteArray();
            assertEquals(total, all.length, "bytes at the " + rate + " B/s reader (closed? " + server.tail(2) + ")");
            // each sender's message whole, in some order: messages are never mixed
            int at = 0;
            while (at < all.length) {
                boolean found = false;
                for (byte[] m : expected) {
                    if (m != null && Arrays.equals(all, at, at + m.length, m, 0, m.length)) {
                        at += m.length;
                        expected.set(expected.indexOf(m), null);
                        found = true;
                        break;
                    }
                }
                assertTrue(found, "a whole message at byte " + at);
            }
            assertFalse(server.log().contains("reader") && server.log().contains("closed:"), server.tail(3));
        }
    }

    /**
     * In a network namespace of our own whose TCP buffers hold 64 KiB where root allows: there the kernel cannot
     * hide the server's queues. Without root, the same test on the host's loopback, where it bites less.
     */
    static void smallBuffersOrHere(String method) throws Exception {
        try {
            inSmallBuffers("ChatFlowTest#" + method);
        } catch (TestAbortedException noNamespace) {
            ChatFlowTest.class.getDeclaredMethod(method).invoke(null);
        }
    }

    @Test
    @DisplayName("chat: ten senders' 70 KB messages: a reader at 256 KiB/s gets them all, never closed")
    void tenSendersSlowReader() throws Exception {
        smallBuffersOrHere("tenSenders");
    }

    static void tenSenders() throws Exception {
        sendersToSlowReader(10, 256 * 1024);
    }

    @Test
    @DisplayName("chat: forty senders' 70 KB messages: a reader at 1 MiB/s gets them all, never closed")
    void fortySendersReader() throws Exception {
        smallBuffersOrHere("fortySenders");
    }

    static void fortySenders() throws Exception {
        sendersToSlowReader(40, 1024 * 1024);
    }

    @Test
    @DisplayName("chat: memory pressure from echo connections holding lines closes no honest member")
    void pressureFromElsewhere() throws Exception {
        smallBuffersOrHere("pressure");
    }

    static void pressure() throws Exception {
        try (Server server = Server.startJvm(List.of("-Xmx64m"), "--chat", "0")) { // a budget of 16 MiB
            int port = server.port("chat");
            List<Socket> holders = new ArrayList<>();
            byte[] held = new byte[MAX_LINE - 1];
            Arrays.fill(held, (byte) 'h');
            for (int i = 0; i < 1100; i++) { // 1100 unfinished lines of 16383 bytes: over the budget
                Socket h = connect(server.port);
                h.getOutputStream().write(held);
                holders.add(h);
            }
            server.awaitLog("memory budget of ", 10_000);
            Socket fast = chatMember(port, "fast");
            Socket slow = new Socket();
            resources.add(slow);
            slow.setReceiveBufferSize(4096);
            slow.connect(new InetSocketAddress(LOOPBACK, port));
            slow.setSoTimeout((int) scaled(30_000));
            expect(slow, "What's your name?\r\n");
            send(slow, "slow\n");
            expect(slow, "Welcome, slow!\r\n");
            Socket sender = chatMember(port, gothicName(1));
            byte[] read = new byte[1024];
            for (int i = 0; i < read.length; i += 2) {
                read[i] = (byte) 0xff;
                read[i + 1] = '\n';
            }
            byte[] message = bytes(("<" + gothicName(1) + "> \ufffd\r\n").repeat(read.length / 2));
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            int messages = 6;
            Thread slowReader = steadyReader(slow, 2 * 1024 * 1024, messages * message.length, got);
            byte[] reads = new byte[messages * read.length]; // sent at once: the server reads 1 KiB a turn
            for (int i = 0; i < messages; i++) System.arraycopy(read, 0, reads, i * read.length, read.length);
            sender.getOutputStream().write(reads);
            byte[] all = new byte[messages * message.length];
            for (int i = 0; i < messages; i++) System.arraycopy(message, 0, all, i * message.length, message.length);
            assertBytes(all, readExactly(fast, all.length), "what the full-speed reader got");
            slowReader.join(scaled(30_000));
            assertBytes(all, got.toByteArray(), "what the 2 MiB/s reader got");
            assertFalse(server.log().contains("closed: "), "an honest member was closed:\n" + server.tail(4));
            closeAll(holders);
        }
    }

    /** A round trip on a fresh echo connection and one quote, in milliseconds. */
    static long echoAndQuote(Server server) throws Exception {
        long start = System.nanoTime();
        assertBytes(bytes("ping\n"), roundTrip(server.port, bytes("ping\n")), "the echo");
        try (Socket q = connect(server.port("quote"))) {
            assertBytes(bytes(EchoServer.DEFAULT_QUOTE + "\r\n"), readToEnd(q), "the quote");
        }
        return (System.nanoTime() - start) / 1_000_000;
    }

    @Test
    @DisplayName("chat: 200 members sending short lines as fast as they can: the echo and the quote within a second")
    void shortLinesLoopFree() throws Exception {
        try (Server server = Server.start("--chat", "0", "--qotd", "0", "--quiet")) {
            int port = server.port("chat");
            AtomicBoolean stop = new AtomicBoolean();
            Thread flood = daemon(() -> floodShortLines(port, 200, stop));
            try {
                Thread.sleep(1000); // the flood under way
                long worst = 0;
                for (int i = 0; i < 20; i++) {
                    worst = Math.max(worst, echoAndQuote(server));
                    Thread.sleep(100);
                }
                assertTrue(worst < scaled(1000), "an echo and a quote took " + worst + " ms during the flood");
            } finally {
                stop.set(true);
                flood.join(scaled(10_000));
            }
        }
    }

    /** Members on channels of one selector: each writes "x\n" as fast as the server takes it, and reads all it gets. */
    static void floodShortLines(int port, int count, AtomicBoolean stop) throws IOException {
        try (Selector selector = Selector.open()) {
            ByteBuffer in = ByteBuffer.allocate(64 * 1024);
            ByteBuffer name = ByteBuffer.allocate(64);
            for (int i = 0; i < count; i++) {
                SocketChannel c = SocketChannel.open(new InetSocketAddress(LOOPBACK, port));
                resources.add(c);
                c.write(ByteBuffer.wrap(bytes("f" + i + "\n")));
                c.configureBlocking(false);
                c.setOption(StandardSocketOptions.TCP_NODELAY, true);
                c.register(selector, SelectionKey.OP_READ | SelectionKey.OP_WRITE);
            }
            ByteBuffer lines = ByteBuffer.wrap(bytes("x\n".repeat(64)));
            name.clear();
            while (!stop.get()) {
                selector.select(100);
                for (SelectionKey key : selector.selectedKeys()) {
                    SocketChannel c = (SocketChannel) key.channel();
                    if (key.isReadable()) {
                        in.clear();
                        if (c.read(in) < 0) key.cancel();
                    }
                    if (key.isValid() && key.isWritable()) c.write(lines.clear());
                }
                selector.selectedKeys().clear();
            }
        }
    }

    /** The next line the server sent, without its "\r\n". */
    static String replyLine(Socket s) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        for (int c; (c = s.getInputStream().read()) >= 0 && c != '\n'; ) line.write(c);
        return line.toString(StandardCharsets.UTF_8).replaceFirst("\r$", "");
    }

    @Test
    @DisplayName("chat: names are measured before they are normalized: a long attempt costs the server little")
    void longNameAttemptsCheap() throws Exception {
        try (Server server = Server.start("--chat", "0", "--quiet")) {
            int port = server.port("chat");
            StringBuilder marks = new StringBuilder();
            marks.append("a");
            for (int i = 0; i < 4000; i++) marks.append('\u0345'); // two bytes each: 16 KB in all,
            for (int i = 0; i < 4000; i++) marks.append('\u0327'); // in reverse canonical order
            byte[] attempt = bytes(marks + "\n");
            assertTrue(attempt.length < MAX_LINE, "one line: " + attempt.length);
            roundTrip(server.port, bytes("warm up\n"));
            long before = server.cpuMillis();
            List<Socket> tries = new ArrayList<>();
            for (int i = 0; i < 30; i++) {
                Socket s = connect(port);
                tries.add(s);
                expect(s, "What's your name?\r\n");
                s.getOutputStream().write(attempt);
            }
            List<String> replies = new ArrayList<>();
            for (Socket s : tries) replies.add(replyLine(s));
            long perConnection = (server.cpuMillis() - before) / tries.size();
            assertTrue(perConnection <= scaled(50), "a name attempt cost " + perConnection + " ms of CPU");
            for (String reply : replies) { // over-stacked marks are replaced first: what is left is not a name
                assertEquals("Names are letters and digits, with - _ . ' between them, please choose another.", reply);
            }
        }
    }

    @Test
    @DisplayName("chat: names of Hangul fillers are refused; unassigned, private and over-stacked text is replaced")
    void invisibleText() throws Exception {
        try (Server server = Server.start("--chat", "0")) {
            int port = server.port("chat");
            Socket a = chatMember(port, "a");
            Socket s = connect(port);
            expect(s, "What's your name?\r\n");
            String chars = "Names are letters and digits, with - _ . ' between them, please choose another.\r\n";
            for (String filler : List.of("\u3164", "\u115f\u115f", "\uffa0x", "x\u3164y")) {
                send(s, filler + "\n");
                expect(s, chars);
            }
            send(s, "b\n");
            expect(s, "Welcome, b!\r\n");
            send(s, "1\u0378 2\udb40\udc80 3\ue000 4x" + "\u0301".repeat(300) + " 5\u3164\n");
            expect(a, "<b> 1\ufffd 2\ufffd 3\ufffd 4x\u0301\u0301\ufffd 5\ufffd\r\n");
        }
    }

    @Test
    @DisplayName("chat: a 16383-byte line ending in CRLF arrives without a stray character")
    void crlfAcrossPieces() throws Exception {
        try (Server server = Server.start("--chat", "0")) {
            int port = server.port("chat");
            Socket a = chatMember(port, "a");
            Socket b = chatMember(port, "b");
            String text = "y".repeat(MAX_LINE - 1);
            send(b, text + "\r\n"); // the CR is the last byte of a max-line piece, the LF the next piece
            expect(a, "<b> " + text + "\r\n");
            send(b, "next\n");
            expect(a, "<b> next\r\n");
        }
    }

    @Test
    @DisplayName("chat: -Xmx64m, --max-line 8 MiB: an 8 MiB chat line goes out in pieces, no OutOfMemoryError")
    void hugeMaxLine() throws Exception {
        try (Server server = Server.startJvm(List.of("-Xmx64m"), "--chat", "0", "--max-line", "8388608")) {
            int port = server.port("chat");
            Socket a = chatMember(port, "a");
            Socket b = chatMember(port, "b");
            byte[] line = new byte[8 << 20];
            Arrays.fill(line, (byte) 'z');
            line[line.length - 1] = '\n';
            Thread writer = daemon(() -> b.getOutputStream().write(line));
            int piece = 16 * 1024;
            long want = 0;
            for (int left = line.length - 1; left > 0; left -= piece) {
                want += "<b> ".length() + Math.min(piece, left) + 2;
            }
            byte[] got = readExactly(a, (int) want);
            writer.join(scaled(10_000));
            assertEquals('<', got[0]);
            assertFalse(server.log().contains("OutOfMemoryError"), server.tail(3));
            send(b, "after\n");
            expect(a, "<b> after\r\n");
        }
    }

    @Test
    @DisplayName("chat: 5000 idle members, members joining and leaving, connects closed at once: new users accepted")
    void acceptUnderChatLoad() throws Exception {
        try (Server server = Server.start("--chat", "0", "--quiet")) {
            int port = server.port("chat");
            List<SocketChannel> idle = new ArrayList<>();
            ByteBuffer reply = ByteBuffer.allocate(64);
            for (int i = 0; i < 5000; i++) {
                SocketChannel c = SocketChannel.open(new InetSocketAddress(LOOPBACK, port));
                resources.add(c);
                c.write(ByteBuffer.wrap(bytes("i" + i + "\n")));
                idle.add(c);
            }
            for (int i = 0; i < idle.size(); i++) { // each has its welcome: all 5000 are members
                int want = "What's your name?\r\n".length() + ("Welcome, i" + i + "!\r\n").length();
                for (int got = 0; got < want; ) {
                    reply.clear().limit(want - got);
                    got += idle.get(i).read(reply);
                }
            }
            AtomicBoolean stop = new AtomicBoolean();
            Thread churn = daemon(() -> {
                for (int i = 0; !stop.get(); i++) {
                    try (Socket s = chatMember(port, "c" + i)) {
                        send(s, "hello from c" + i + "\n");
                    }
                }
            });
            Thread knock = daemon(() -> {
                while (!stop.get()) {
                    try (Socket s = new Socket(LOOPBACK, server.port)) {
                        s.setSoLinger(true, 0);
                    }
                }
            });
            try {
                Thread.sleep(1000);
                long[] took = new long[10];
                for (int i = 0; i < took.length; i++) {
                    long start = System.nanoTime();
                    assertBytes(bytes("new\n"), roundTrip(server.port, bytes("new\n")), "a new user's echo");
                    took[i] = (System.nanoTime() - start) / 1_000_000;
                    Thread.sleep(200);
                }
                Arrays.sort(took); // a connect loop as fast as the kernel allows may still overflow the listen queue
                assertTrue(took[took.length / 2] < scaled(1000), "new users' first echo, median: " + took[took.length / 2]
                        + " ms, all: " + Arrays.toString(took));
                assertTrue(took[took.length - 1] < scaled(2500), "a new user's first echo took " + took[took.length - 1]
                        + " ms: more than one SYN retry");
            } finally {
                stop.set(true);
                churn.join(scaled(10_000));
                knock.join(scaled(10_000));
            }
        }
    }

    @Test
    @DisplayName("out of descriptors with --quiet, from classes and from source: the listener and the chat come back")
    void outOfDescriptorsQuiet() throws Exception {
        for (boolean fromSource : new boolean[] {false, true}) {
            String mode = fromSource ? "from source" : "from classes";
            try (Server server = Server.startWithLimit(64, fromSource, "--quiet", "--chat", "0")) {
                int chat = server.port("chat");
                List<Socket> silent = new ArrayList<>();
                try {
                    for (int i = 0; i < 74; i++) silent.add(connect(server.port)); // more than it has descriptors for
                    long deadline = System.nanoTime() + scaled(10_000) * 1_000_000;
                    while (server.openDescriptors() < 63 && System.nanoTime() < deadline) Thread.sleep(20);
                    Thread.sleep(200); // accepting has failed by now, and paused
                } finally {
                    closeAll(silent);
                }
                Thread.sleep(scaled(1500)); // accepting again, a second after the failure
                try (Socket late = connect(server.port)) {
                    assertBytes(bytes("late\n"), roundTrip(late, bytes("late\n")), mode + ": a client after recovery");
                }
                Socket member = chatMember(chat, "after");
                send(member, "still here\n");
                assertTrue(server.process.isAlive(), mode + ": the server died:\n" + server.tail(5));
                assertFalse(server.log().contains("Error"), mode + ": " + server.tail(5));
            }
        }
    }
}
