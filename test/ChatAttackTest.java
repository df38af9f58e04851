// ChatAttackTest.java: The chat under attack: names, text, floods, non-readers.

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

@Tag("attack")
class ChatAttackTest extends Harness {

    /** Attack 2 and 9: long, look-alike and hidden names are refused with a reason, and asked again. */
    @Test
    @DisplayName("chat: names are trimmed, at most 32 characters of one script, unique after NFC and case folding")
    void chatNameRules() throws Exception {
        try (Server server = Server.start("--chat", "0")) {
            int port = server.port("chat");
            Socket alice = chatMember(port, "alice");
            Socket s = connect(port);
            expect(s, "What's your name?\r\n");
            String tooLong = "Names are at most 32 characters, please choose another.\r\n";
            String chars = "Names are letters and digits, with - _ . ' between them, please choose another.\r\n";
            String script = "A name's letters are all of one script, please choose another.\r\n";
            String taken = "Name taken, please choose another.\r\n";
            byte[] ff = new byte[16382];
            Arrays.fill(ff, (byte) 0xff);
            s.getOutputStream().write(ff);
            send(s, "\n");
            expect(s, tooLong);
            String[][] tries = {
                {"alice ", taken}, {"  Alice", taken}, {"alice\u200b", chars},
                {"\u0430lice", script}, {"<alice>", chars}, {"a\u0000b", chars}, {"al\u202eice", chars},
                {"a".repeat(33), tooLong}, {"-alice", chars}, {"Bjørn", null}};
            for (String[] attempt : tries) {
                send(s, attempt[0] + "\n");
                expect(s, attempt[1] == null ? "Welcome, Bjørn!\r\n" : attempt[1]);
            }
            send(alice, "hi\n");
            expect(s, "<alice> hi\r\n");
            Socket t = connect(port);
            expect(t, "What's your name?\r\n");
            send(t, "   \n");
            expect(t, "What's your name?\r\n"); // only spaces: no name at all
            send(t, "A\u030alice\n");             // Å, as A and a combining ring: alice, compared without marks
            expect(t, taken);
            send(t, "Zoë-O'Brien_2.0\n");
            expect(t, "Welcome, Zoë-O'Brien_2.0!\r\n");
            send(t, "Straße\n");
            expect(alice, "<Zoë-O'Brien_2.0> Straße\r\n");
            Socket u = connect(port); // the limit: 32 characters are a name, 33 are not (characters: é is 2 bytes)
            expect(u, "What's your name?\r\n");
            send(u, "é".repeat(33) + "\n");
            expectLine(u, tooLong);
            send(u, "é".repeat(32) + "\n");
            expectLine(u, "Welcome, " + "é".repeat(32) + "!\r\n");
        }
    }

    /** Attack 3: the trace, with nobody reading it, cannot pin the heap: the log queue is bounded in characters. */
    @Test
    @DisplayName("chat: --trace into a stalled standard error, -Xmx64m, a flood of lines: the heap holds")
    void chatStalledTrace() throws Exception {
        List<String> command = List.of(java, "-Xmx64m", "-cp", classes.toString(), "EchoServer", "--port", "0",
                "--host", LOOPBACK, "--trace", "--chat", "0");
        try (Server server = new Server(command, false)) {
            int port = server.port("chat");
            Socket a = chatMember(port, "n".repeat(32));
            Socket b = chatMember(port, "b");
            ByteArrayOutputStream heard = new ByteArrayOutputStream();
            daemon(() -> {
                byte[] buffer = new byte[65536];
                for (int n; (n = b.getInputStream().read(buffer)) > 0; ) {
                    synchronized (heard) {
                        heard.write(buffer, 0, n);
                    }
                }
            });
            int lines = 200_000, small = 20_000; // then lines one by one: a read, and its trace lines, each
            send(a, "\n".repeat(10_000) + "x\n".repeat(lines));
            for (int i = 0; i < small; i++) {
                send(a, "x\n");
            }
            byte[] expected = bytes(("<" + "n".repeat(32) + "> x\r\n").repeat(lines + small)); // no empty line
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(scaled(40_000));
            while (size(heard) < expected.length && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            synchronized (heard) {
                assertBytes(expected, heard.toByteArray(), "what b heard");
            }
            promptEcho(server, "a flood traced into a stalled standard error");
            long start = System.nanoTime();
            Socket late = chatMember(port, "late");
            late.close();
            long millis = (System.nanoTime() - start) / 1_000_000;
            assertTrue(millis < scaled(1000), "a new member waited " + millis + " ms");
            server.readLog();
            server.awaitLog("chat connection from 127.0.0.1:" + late.getLocalPort() + " closed (2 open)", scaled(10_000));
            assertTrue(!server.log().contains("OutOfMemoryError"), "out of memory:\n" + server.tail(5));
        }
    }

    /** Names that look like "alice" or "bob1" on a screen are the same names. */
    @Test
    @DisplayName("chat: look-alike names (fullwidth, mathematical, marks, invisible joiners) are taken names")
    void chatLookAlikes() throws Exception {
        try (Server server = Server.start("--chat", "0")) {
            int port = server.port("chat");
            chatMember(port, "alice");
            chatMember(port, "bob1");
            Socket s = connect(port);
            expect(s, "What's your name?\r\n");
            String taken = "Name taken, please choose another.\r\n";
            String chars = "Names are letters and digits, with - _ . ' between them, please choose another.\r\n";
            String[][] tries = {
                {"\uff41lice", taken}, {"\ud835\udc1a\ud835\udc25\ud835\udc22\ud835\udc1c\ud835\udc1e", taken},
                {"ali\u0307ce", taken}, {"ali\u034fce", taken}, {"alic\ufe0fe", taken}, {"bob\ud835\udff7", taken},
                {"bob\uff11", taken}, {"a\u0301\u0301\u0301lice", chars}, {"x\u0301\u0301\u0301yz", chars},
                {"\ufdfa", chars}};
            for (String[] attempt : tries) {
                send(s, attempt[0] + "\n");
                expect(s, attempt[1]);
            }
        }
    }

    /** Characters that show nothing, or join or hide text, do not reach another member as they are. */
    @Test
    @DisplayName("chat: invisible format characters are replaced too")
    void chatInvisibles() throws Exception {
        try (Server server = Server.start("--chat", "0")) {
            int port = server.port("chat");
            Socket a = chatMember(port, "a");
            Socket b = chatMember(port, "b");
            send(a, "x\u200by\u2060z\ufeffw\u00adv\ufff9u\udb40\udc01t\u206as\n");
            String r = "\ufffd";
            expect(b, "<a> x" + r + "y" + r + "z" + r + "w" + r + "v" + r + "u" + r + "t" + r + "s\r\n");
        }
    }

    /** Attack 9: what reaches other members is printable text; an empty line goes nowhere. */
    @Test
    @DisplayName("chat: controls, escapes and bidi overrides are replaced; an empty line goes nowhere")
    void chatMessagesSanitized() throws Exception {
        try (Server server = Server.start("--chat", "0")) {
            int port = server.port("chat");
            Socket a = chatMember(port, "a");
            Socket b = chatMember(port, "b");
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            line.write(bytes("hi\u001b[2J\rfake\u000b<alice> x\u0085\u202eevil\u2066\u0007\tTab ÿ"));
            line.write(new byte[] {(byte) 0xff, (byte) 0xfe, 'z', '\r', '\n'});
            send(a, "\n\r\n");
            a.getOutputStream().write(line.toByteArray());
            send(a, "end\n");
            String r = "\ufffd";
            expect(b, "<a> hi" + r + "[2J" + r + "fake" + r + "<alice> x" + r + r + "evil" + r + r + "\tTab ÿ" + r + r
                    + "z\r\n<a> end\r\n");
            expectNothing(b, 100);
        }
    }

    /** Attack 6: a member closed while its lines are handled takes no name with it. */
    @Test
    @DisplayName("chat: a member closed while its lines are handled takes no name with it")
    void chatClosedMemberTakesNoName() throws Exception {
        try (Server server = Server.start("--chat", "0")) {
            int port = server.port("chat");
            for (int i = 0; i < 3; i++) {
                Socket s = connect(port);
                expect(s, "What's your name?\r\n");
                send(s, "\n\n\n\nmallory" + i + "\n"); // each empty line is asked again: the second write fails
                s.close();
                awaitCount(server, "(0 open)", 2 * i + 1); // this round's close line, not an earlier one
                Socket again = chatMember(port, "mallory" + i);
                again.close();
                awaitCount(server, "(0 open)", 2 * i + 2);
            }
        }
    }

    /** Attack 4: a member's flood of lines never holds the loop: the echo and the quote answer within a second. */
    @Test
    @DisplayName("chat: 98304 lines to 100 members: the echo and the quote answer within a second")
    void chatFloodLoopFree() throws Exception {
        try (Server server = Server.start("--qotd", "0", "--chat", "0", "--quiet")) {
            int chat = server.port("chat");
            Socket flooder = chatMember(chat, "flood");
            int members = 100, lines = 32768;
            byte[] heard = bytes("<flood> x\r\n".repeat(lines));
            List<Socket> readers = new ArrayList<>();
            List<Thread> reading = new ArrayList<>();
            AtomicLong complete = new AtomicLong();
            List<String> failures = Collections.synchronizedList(new ArrayList<>());
            for (int i = 0; i < members; i++) {
                Socket r = chatMember(chat, "r" + i);
                r.setSoTimeout(60_000);
                readers.add(r);
            }
            for (Socket r : readers) {
                reading.add(daemon(() -> {
                    try {
                        assertBytes(heard, readExactly(r, heard.length), "a member");
                        complete.incrementAndGet();
                    } catch (AssertionError e) {
                        failures.add(e.getMessage());
                    }
                }));
            }
            byte[] flood = flood(65536, lines);
            daemon(() -> flooder.getOutputStream().write(flood));
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(scaled(40_000));
            int pings = 0;
            while (complete.get() < members && System.nanoTime() < deadline) {
                long start = System.nanoTime();
                assertBytes(bytes("ping\n"), roundTrip(server.port, bytes("ping\n")), "echo during the flood");
                try (Socket q = connect(server.port("quote"))) {
                    assertBytes(bytes("An apple a day keeps the doctor away\r\n"), readToEnd(q),
                            "quote during the flood");
                }
                long millis = (System.nanoTime() - start) / 1_000_000;
                assertTrue(millis < scaled(1000), "an echo and a quote took " + millis + " ms during the chat's flood");
                pings++;
            }
            for (Thread t : reading) {
                t.join(1000);
            }
            assertTrue(complete.get() == members, complete.get() + " of " + members + " members got the flood whole"
                    + (failures.isEmpty() ? "" : "; " + failures.get(0)));
            assertTrue(pings > 0, "no echo during the flood");
        }
    }

    /** Reads one line (to its '\n') and compares it whole: a wrong reply shows as such, not as a time-out. */
    static void expectLine(Socket s, String line) throws IOException {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        InputStream in = s.getInputStream();
        for (int b = 0; b != '\n' && got.size() < 4096 && (b = in.read()) >= 0; ) {
            got.write(b);
        }
        assertBytes(bytes(line), got.toByteArray(), "the line " + s.getLocalPort() + " received");
    }

    static int size(ByteArrayOutputStream bytes) {
        synchronized (bytes) {
            return bytes.size();
        }
    }

    /** Waits until the log holds text n times: a line that came earlier does not count for a later event. */
    static void awaitCount(Server server, String text, int n) throws InterruptedException {
        long limit = scaled(5000);
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(limit);
        int now;
        while ((now = count(server.log(), text)) < n) {
            assertTrue(System.nanoTime() < deadline, "the log holds '" + text + "' " + now + " times after " + limit
                    + " ms; expected " + n + ":\n" + server.tail(5));
            Thread.sleep(10);
        }
    }

    @Test
    @DisplayName("chat: -Xmx64m, 1000 members that never read, one sends 200 KB: up, the reader gets it all")
    void chatFanOutNamespace() throws Exception {
        inSmallBuffers("chat-fan-out");
    }

    @Test
    @DisplayName("chat: a sender whose lines grow on the way out goes at 50 readers' pace, none cut off")
    void chatAmplificationNamespace() throws Exception {
        inSmallBuffers("chat-amplification");
    }

    @Test
    @DisplayName("chat: six new members paste at once, names of 4-byte letters: no reader cut off")
    void chatManyPastesNamespace() throws Exception {
        inSmallBuffers("chat-many-pastes");
    }

    @Test
    @DisplayName("chat: a reader on a slow, steady link (100 KB/s) gets a paste whole")
    void chatSlowLinkNamespace() throws Exception {
        inSmallBuffers("chat-slow-link");
    }
}
