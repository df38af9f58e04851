// ServicesTest.java: The quote and the chat beside the echo, on the one reactor.

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class ServicesTest extends Harness {

    @Test
    @DisplayName("quote: sends the quote and \\r\\n, then closes")
    void quote() throws Exception {
        try (Server server = Server.start("--qotd", "0")) {
            int quotePort = server.port("quote"); // waits for its line
            assertTrue(server.stdout().matches("(?s)echo server listening on 127\\.0\\.0\\.1:\\d+\n"
                    + "quote server listening on 127\\.0\\.0\\.1:\\d+\n"), "stdout was: " + server.stdout());
            try (Socket s = connect(quotePort)) {
                expectQuoteThenEnd(s, "An apple a day keeps the doctor away\r\n");
                server.awaitLog("quote connection from 127.0.0.1:" + s.getLocalPort() + " closed (0 open)",
                        scaled(5000));
            }
            assertBytes(bytes("echo\n"), roundTrip(server.port, bytes("echo\n")), "the echo beside it");
        }
        try (Server server = Server.start("--qotd", "0", "--quote", "Carpe diem ✓");
                Socket s = connect(server.port("quote"))) {
            expectQuoteThenEnd(s, "Carpe diem ✓\r\n");
            server.awaitLog("quote connection from 127.0.0.1:" + s.getLocalPort() + " closed (0 open)", scaled(5000));
        }
    }

    /** Exactly the quote's bytes, then an orderly close: end of stream, not a reset, not more bytes. */
    static void expectQuoteThenEnd(Socket s, String quote) throws IOException {
        expect(s, quote);
        int next;
        try {
            next = s.getInputStream().read();
        } catch (SocketTimeoutException e) {
            throw new AssertionError("after the quote the connection stayed open; expected end of stream");
        } catch (IOException e) {
            throw new AssertionError("after the quote: " + e.getMessage() + "; expected end of stream");
        }
        assertTrue(next == -1, "after the quote came byte " + next + "; expected end of stream");
    }

    @Test
    @DisplayName("chat: the telnet transcript of the notes, with four members")
    void chatTranscript() throws Exception {
        try (Server server = Server.start("--chat", "0")) {
            int port = server.port("chat");
            Socket test = chatMember(port, "test");
            Socket alice = chatMember(port, "alice");
            Socket carrol = chatMember(port, "carrol");
            Socket bob = connect(port);
            ByteArrayOutputStream seen = new ByteArrayOutputStream(); // what bob's telnet shows, typed lines included
            String[][] session = {
                {null, "What's your name?"}, {"bob", "test"}, {null, "Name taken, please choose another."},
                {"bob", "bob"}, {null, "Welcome, bob!"}, {"bob", "hello"}, {"alice", "hi bob"},
                {"bob", "twisted makes writing servers so easy!"}, {"alice", "I couldn't agree more"},
                {"carrol", "yeah, it's great"}};
            Map<String, Socket> members = new LinkedHashMap<>(Map.of("test", test, "alice", alice, "carrol", carrol));
            for (String[] step : session) {
                String who = step[0];
                String text = step[1];
                if (who == null) { // the server speaks to bob
                    expect(bob, text + "\r\n");
                    seen.write(bytes(text + "\n"));
                    if (text.startsWith("Welcome")) {
                        members.put("bob", bob);
                    }
                    continue;
                }
                if (who.equals("bob")) {
                    send(bob, text + "\r\n"); // telnet sends \r\n
                    seen.write(bytes(text + "\n"));
                } else {
                    send(members.get(who), text + "\n"); // \n alone works as well
                    seen.write(bytes("<" + who + "> " + text + "\n"));
                }
                if (members.containsKey(who)) { // a chat line: every other member hears it, before anyone speaks again
                    for (Map.Entry<String, Socket> member : members.entrySet()) {
                        if (!member.getKey().equals(who)) {
                            expect(member.getValue(), "<" + who + "> " + text + "\r\n");
                        }
                    }
                }
            }
            String transcript = String.join("\n", "What's your name?", "test", "Name taken, please choose another.",
                    "bob", "Welcome, bob!", "hello", "<alice> hi bob", "twisted makes writing servers so easy!",
                    "<alice> I couldn't agree more", "<carrol> yeah, it's great", "");
            assertTrue(seen.toString(StandardCharsets.UTF_8).equals(transcript), "bob's session:\n" + seen);
            for (Socket s : List.of(test, alice, carrol, bob)) {
                expectNothing(s, 100); // nobody hears their own lines
            }
        }
    }

    @Test
    @DisplayName("chat: a name taken or empty is asked again; a leaver's name is free")
    void chatNames() throws Exception {
        try (Server server = Server.start("--chat", "0")) {
            int port = server.port("chat");
            Socket alice = chatMember(port, "Alice");
            Socket other = connect(port);
            expect(other, "What's your name?\r\n");
            send(other, "\r\n");
            expect(other, "What's your name?\r\n"); // an empty name is no name
            send(other, "alice\n");
            expect(other, "Name taken, please choose another.\r\n"); // names are compared case-folded
            send(other, "Zoë\n");
            expect(other, "Welcome, Zoë!\r\n");
            send(other, "grüße\n");
            expect(alice, "<Zoë> grüße\r\n");
            alice.close();
            server.awaitLog("closed (1 open)", scaled(5000));
            Socket again = chatMember(port, "alice"); // the leaver's name is free again, in any case
            send(other, "welcome back\n");
            expect(again, "<Zoë> welcome back\r\n");
        }
    }

    @Test
    @DisplayName("chat: a line longer than --max-line goes out in pieces, nothing lost")
    void chatLongLine() throws Exception {
        try (Server server = Server.start("--chat", "0", "--max-line", "1024")) {
            int port = server.port("chat");
            Socket a = chatMember(port, "a");
            Socket b = chatMember(port, "b");
            String line = "x".repeat(2500);
            send(a, line + "\n");
            expect(b, "<a> " + line.substring(0, 1024) + "\r\n<a> " + line.substring(1024, 2048) + "\r\n<a> "
                    + line.substring(2048) + "\r\n");
        }
    }

    @Test
    @DisplayName("chat: a member who resets mid-broadcast is forgotten; the room goes on")
    void chatResetMidBroadcast() throws Exception {
        try (Server server = Server.start("--chat", "0")) {
            int port = server.port("chat");
            Socket a = chatMember(port, "a");
            Socket b = chatMember(port, "b");
            Socket c = chatMember(port, "c");
            StringBuilder lines = new StringBuilder();
            StringBuilder heard = new StringBuilder();
            for (int i = 0; i < 2000; i++) {
                lines.append("message ").append(i).append('\n');
                heard.append("<a> message ").append(i).append("\r\n");
            }
            int cPort = c.getLocalPort();
            c.setSoLinger(true, 0);
            c.close(); // a reset, racing with the broadcast below
            send(a, lines.toString());
            expect(b, heard.toString());
            server.awaitLog("chat connection from 127.0.0.1:" + cPort + " closed", scaled(5000)); // c's own close
            Socket c2 = chatMember(port, "c");
            send(b, "still here\n");
            expect(a, "<b> still here\r\n");
            expect(c2, "<b> still here\r\n");
        }
    }

    @Test
    @DisplayName("chat: a member who never reads is closed once 1 MiB behind; the others get everything")
    void chatNonReader() throws Exception {
        try (Server server = Server.start("--chat", "0")) {
            int port = server.port("chat");
            Socket idle = chatMember(port, "idle"); // never reads again: nobody waits for it long, then it goes
            int idlePort = idle.getLocalPort();
            Socket a = chatMember(port, "a");
            Socket b = chatMember(port, "b");
            String text = "y".repeat(200);
            int count = 40_000; // 8 MiB to each other member: more than the kernel's buffers take
            Thread writer = daemon(() -> {
                for (int i = 0; i < count; i++) {
                    send(a, text + "\n");
                }
            });
            byte[] line = bytes("<a> " + text + "\r\n");
            InputStream in = b.getInputStream();
            for (int i = 0; i < count; i++) {
                assertBytes(line, readExactly(b, line.length), "line " + i + " at b");
            }
            writer.join(10_000);
            server.awaitLog("chat connection from 127.0.0.1:" + idlePort
                    + " closed: more than 1048576 bytes unsent: the peer is not reading", scaled(5000));
            assertTrue(in.available() == 0, "b received more than was sent");
            send(b, "after\n");
            expect(a, "<b> after\r\n");
            // Closed in order: the idle member finds a's lines as far as they got, then the end of the stream.
            byte[] got = readToEnd(idle);
            byte[] prefix = new byte[got.length];
            for (int i = 0; i < prefix.length; i++) {
                prefix[i] = line[i % line.length];
            }
            assertBytes(prefix, got, "what the dropped member had been sent");
            assertTrue(got.length < (long) count * line.length, "the dropped member got all " + got.length + " bytes");
        }
    }

    @Test
    @DisplayName("echo, quote and chat on one reactor: the echo unaffected while the chat is busy")
    void threeServices() throws Exception {
        try (Server server = Server.start("--qotd", "0", "--chat", "0", "--quiet")) {
            int chat = server.port("chat");
            Socket a = chatMember(chat, "a");
            Socket b = chatMember(chat, "b");
            String text = "z".repeat(100);
            byte[] heard = bytes("<a> " + text + "\r\n");
            long span = scaled(3000); // 3 s on an idle machine, longer on a loaded one: as many rounds
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(span);
            AtomicLong received = new AtomicLong();
            Thread talker = daemon(() -> {
                while (System.nanoTime() < deadline) {
                    send(a, (text + "\n").repeat(50));
                }
            });
            AtomicLong wrong = new AtomicLong();
            daemon(() -> {
                byte[] got;
                while ((got = b.getInputStream().readNBytes(heard.length)).length == heard.length) {
                    (Arrays.equals(got, heard) ? received : wrong).incrementAndGet();
                }
            });
            int pings = 0;
            while (System.nanoTime() < deadline) {
                long start = System.nanoTime();
                byte[] message = lines(new Random(pings), 100_000, 1, 200);
                assertBytes(message, roundTrip(server.port, message), "echo while the chat is busy");
                try (Socket q = connect(server.port("quote"))) {
                    assertBytes(bytes("An apple a day keeps the doctor away\r\n"), readToEnd(q),
                            "quote while the chat is busy");
                }
                long took = (System.nanoTime() - start) / 1_000_000;
                assertTrue(took < scaled(1000), "an echo and a quote took " + took + " ms while the chat was busy");
                pings++;
            }
            talker.join(5000);
            assertTrue(received.get() > 1000, "the chat carried only " + received.get() + " lines meanwhile");
            assertTrue(pings > 3, "only " + pings + " echoes in " + span + " ms");
            assertTrue(wrong.get() == 0, wrong.get() + " chat lines differed from what was sent");
        }
    }
}
