// EchoTests.java: the test suite for EchoServer.java and EchoClient.java.
//
//   java test/EchoTests.java [NAME ...]     (from the repository's root; ./run.sh test does this)
//
// Every test starts or reuses a real server on a free loopback port (--port 0) and talks
// to it over real sockets. Every test is bounded in time. JDK only. Ends with the line
// "N passed, N failed" and exits 1 if anything failed.

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.annotation.Annotation;
import java.lang.reflect.Method;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URL;
import java.net.URLClassLoader;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

public final class EchoTests {
    static final String LOOPBACK = "127.0.0.1";
    static final long TEST_TIMEOUT_MILLIS = 60_000;
    static final int MAX_LINE = 16 * 1024;      // the server's default --max-line
    static final int READ_BUFFER = 64 * 1024;   // the server's shared read buffer

    static Path root;
    static Path classes;
    static String java;
    static Server shared; // one default server for the tests that need nothing special
    static final List<AutoCloseable> resources = Collections.synchronizedList(new ArrayList<>());

    interface Body {
        void run() throws Exception;
    }

    record Test(String name, Body body) { }

    static final class Skip extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Skip(String why) {
            super(why);
        }
    }

    public static void main(String[] args) throws Exception {
        root = Path.of("").toAbsolutePath();
        if (!Files.exists(root.resolve("EchoServer.java"))) {
            System.err.println("run the tests from the repository's root: ./run.sh test");
            System.exit(2);
        }
        java = ProcessHandle.current().info().command().orElse("java");
        if (args.length == 3 && args[0].equals("--attack")) { // a test's helper, inside a network namespace
            classes = Path.of(args[2]);
            System.exit(attack(args[1]));
        }
        List<Test> tests = selected(tests(), args);
        classes = Files.createTempDirectory("echo-tests");
        compile(root.resolve("EchoServer.java"), root.resolve("EchoClient.java"), root.resolve("test/EchoTests.java"));
        System.out.println("testing with " + java + " (Java " + Runtime.version() + ")");

        int passed = 0;
        int failed = 0;
        int skipped = 0;
        long suiteStart = System.nanoTime();
        try {
            for (Test test : tests) {
                long start = System.nanoTime();
                String failure = runBounded(test);
                String took = String.format("%.1f s", (System.nanoTime() - start) / 1e9);
                if (failure == null) {
                    passed++;
                    System.out.println("PASS " + test.name() + " (" + took + ")");
                } else if (failure.startsWith("SKIP ")) {
                    skipped++;
                    System.out.println("SKIP " + test.name() + ": " + failure.substring(5));
                } else {
                    failed++;
                    System.out.println("FAIL " + test.name() + " (" + took + "): " + failure);
                    if (shared != null) {
                        System.out.println("     shared server's log, last lines:\n" + shared.tail(5));
                    }
                }
            }
        } finally {
            if (shared != null) {
                shared.close();
            }
        }
        System.out.printf("suite time %.1f s%n", (System.nanoTime() - suiteStart) / 1e9);
        System.out.println(passed + " passed, " + failed + " failed" + (skipped > 0 ? ", " + skipped + " skipped" : ""));
        System.exit(failed > 0 ? 1 : 0);
    }

    /**
     * The tests whose names contain one of the words, ignoring case (all of them without words).
     * --list prints the names; a word that matches nothing is a usage error (exit 2), so that a
     * typo never passes as "0 passed, 0 failed".
     */
    static List<Test> selected(List<Test> all, String[] args) {
        List<String> words = new ArrayList<>();
        for (String arg : args) {
            if (arg.equals("--list")) {
                all.forEach(test -> System.out.println(test.name()));
                System.exit(0);
            } else if (arg.equals("--help") || arg.equals("-h")) {
                System.out.println("usage: ./run.sh test [--list] [WORD ...]   (the tests whose names contain a WORD, any case)");
                System.exit(0);
            } else if (arg.startsWith("-")) {
                System.err.println("unknown option '" + arg + "'\nusage: ./run.sh test [--list] [WORD ...]");
                System.exit(2);
            }
            words.add(arg.toLowerCase(Locale.ROOT));
        }
        List<Test> chosen = new ArrayList<>();
        for (Test test : all) {
            String name = test.name().toLowerCase(Locale.ROOT);
            if (words.isEmpty() || words.stream().anyMatch(name::contains)) {
                chosen.add(test);
            }
        }
        for (String word : words) {
            if (all.stream().noneMatch(test -> test.name().toLowerCase(Locale.ROOT).contains(word))) {
                System.err.println("no test name contains '" + word + "'; the tests are:");
                all.forEach(test -> System.err.println("  " + test.name()));
                System.exit(2);
            }
        }
        return chosen;
    }

    static List<Test> tests() {
        List<Test> t = new ArrayList<>();
        // the line echo rule
        t.add(new Test("echoes a message shorter than one buffer", EchoTests::shortMessage));
        t.add(new Test("echoes a message longer than several buffers", EchoTests::longMessage));
        t.add(new Test("echoes messages of exact multiples of the buffer size", EchoTests::bufferMultiples));
        t.add(new Test("echoes non-ASCII text split inside a character", EchoTests::splitUtf8));
        t.add(new Test("holds a line sent byte by byte until its newline", EchoTests::byteByByte));
        t.add(new Test("echoes each line as soon as its newline arrives", EchoTests::lineByLine));
        t.add(new Test("keeps \\r\\n line endings", EchoTests::crlf));
        t.add(new Test("echoes many lines sent in one write", EchoTests::manyLinesOneWrite));
        t.add(new Test("echoes 10000 pipelined lines", EchoTests::pipelined));
        t.add(new Test("echoes every byte value, NUL included", EchoTests::binary));
        // end of input
        t.add(new Test("half-close after a partial line echoes it, then closes", EchoTests::halfClosePartial));
        t.add(new Test("half-close with nothing sent closes at once", EchoTests::halfCloseEmpty));
        t.add(new Test("half-close after a message without newline returns it", EchoTests::halfCloseNoNewline));
        // long lines
        t.add(new Test("echoes a 1 MiB line", EchoTests::oneMebibyteLine));
        t.add(new Test("echoes a line longer than --max-line in pieces of --max-line", EchoTests::pieces));
        t.add(new Test("with a --max-line above the read buffer, long lines are held whole", EchoTests::largeMaxLine));
        t.add(new Test("echoes 16 MiB without newline as it arrives, memory bounded", EchoTests::sixteenMebibytes));
        // load and backpressure
        t.add(new Test("a client that never reads is paused; others are served; nothing lost", EchoTests::slowReader));
        t.add(new Test("serves 1000 clients at once", EchoTests::thousandClients));
        t.add(new Test("holds 2000 idle connections cheaply", EchoTests::idleConnections));
        t.add(new Test("does not use the CPU while idle", EchoTests::idleCpu));
        // disconnects and exhaustion
        t.add(new Test("a client reset mid-line is cleaned up and logged", EchoTests::resetMidLine));
        t.add(new Test("a client that vanishes with echoes unsent is cleaned up", EchoTests::vanishWithUnsent));
        t.add(new Test("3000 connect/close cycles leak no descriptors", EchoTests::connectCloseCycles));
        t.add(new Test("under a 64-descriptor limit: no spin, serves its clients, recovers", EchoTests::descriptorLimit));
        // staying up: small heaps, descriptors, a stalled log, idle connections
        t.add(new Test("-Xmx48m, 3000 clients each holding 16383 bytes of a line: up, served, nothing lost", EchoTests::smallHeapHeldLines));
        t.add(new Test("-Xmx48m, 2000 clients that send and never read: up, served, nothing lost", () -> inSmallBuffers("non-readers")));
        t.add(new Test("-Xmx48m, 40 non-readers sending one-byte lines: up, served, nothing lost", () -> inSmallBuffers("one-byte-lines")));
        t.add(new Test("-Xmx48m, --max-line 64 MiB, 8 clients sending 64 MiB without newline", EchoTests::smallHeapHugeLines));
        t.add(new Test("memory budget spent by 70 held lines: a client that reads is slowed, never kept waiting", EchoTests::budgetSpentByOthers));
        t.add(new Test("out of descriptors before the first echo, from classes and from source", EchoTests::descriptorsBeforeFirstEcho));
        t.add(new Test("a stalled standard error never freezes the clients; SIGTERM exits within 2 s", EchoTests::stalledLog));
        t.add(new Test("--idle-timeout closes idle connections; a locked-out client is served", EchoTests::idleTimeout));
        t.add(new Test("out of descriptors: no connection is closed to make room; the new client waits for a free one", EchoTests::noEviction));
        t.add(new Test("a select() that keeps failing neither spins the loop nor floods the log", EchoTests::selectKeepsFailing));
        // shutdown
        t.add(new Test("SIGINT closes everything, exits within 2 s, port free at once", () -> shutdown("INT", 130)));
        t.add(new Test("SIGTERM closes everything, exits within 2 s, port free at once", () -> shutdown("TERM", 143)));
        // command line and logging
        t.add(new Test("prints 'listening on ADDRESS:PORT' with the real port", EchoTests::listeningLine));
        t.add(new Test("listens on the IPv6 loopback with --host ::1", EchoTests::ipv6));
        t.add(new Test("bad command lines: one line, usage, exit 2", EchoTests::badCommandLines));
        t.add(new Test("--help prints usage and exits 0", EchoTests::help));
        t.add(new Test("a port in use: one clear line, exit 1", EchoTests::portInUse));
        t.add(new Test("logs connections with peer and count, timestamped, no lines by default", EchoTests::logging));
        t.add(new Test("--verbose logs each line, --quiet logs nothing per connection", EchoTests::verboseAndQuiet));
        t.add(new Test("--verbose escapes controls, line separators, bidi overrides and bytes that are not UTF-8", EchoTests::verboseEscapes));
        t.add(new Test("--trace narrates each participant's step, in order", EchoTests::trace));
        // more services on the same reactor
        t.add(new Test("quote: sends the quote and \\r\\n, then closes", EchoTests::quote));
        t.add(new Test("chat: the telnet transcript of the notes, with four members", EchoTests::chatTranscript));
        t.add(new Test("chat: a name taken or empty is asked again; a leaver's name is free", EchoTests::chatNames));
        t.add(new Test("chat: a line longer than --max-line goes out in pieces, nothing lost", EchoTests::chatLongLine));
        t.add(new Test("chat: a member who resets mid-broadcast is forgotten; the room goes on", EchoTests::chatResetMidBroadcast));
        t.add(new Test("chat: a member who never reads is dropped once others waited 2 s for it; the others get everything", EchoTests::chatNonReader));
        t.add(new Test("echo, quote and chat on one reactor: the echo unaffected while the chat is busy", EchoTests::threeServices));
        // the chat under attack
        t.add(new Test("chat: -Xmx64m, 1000 members that never read, one sends 200 KB: up, the reader gets it all", () -> inSmallBuffers("chat-fan-out")));
        t.add(new Test("chat: names are trimmed, at most 32 characters of one script, unique after NFC and case folding", EchoTests::chatNameRules));
        t.add(new Test("chat: controls, escapes and bidi overrides are replaced; an empty line goes nowhere", EchoTests::chatMessagesSanitized));
        t.add(new Test("chat: a member closed while its lines are handled takes no name with it", EchoTests::chatClosedMemberTakesNoName));
        t.add(new Test("chat: 98304 lines to 100 members: the echo and the quote answer within a second", EchoTests::chatFloodLoopFree));
        t.add(new Test("chat: a sender whose lines grow on the way out goes at 50 readers' pace, none cut off", () -> inSmallBuffers("chat-amplification")));
        t.add(new Test("chat: --trace into a stalled standard error, -Xmx64m, a flood of lines: the heap holds", EchoTests::chatStalledTrace));
        t.add(new Test("chat: look-alike names (fullwidth, mathematical, marks, invisible joiners) are taken names", EchoTests::chatLookAlikes));
        t.add(new Test("chat: invisible format characters are replaced too", EchoTests::chatInvisibles));
        t.add(new Test("chat: six new members paste at once, names of 4-byte letters: no reader cut off", () -> inSmallBuffers("chat-many-pastes")));
        t.add(new Test("chat: a reader on a slow, steady link (100 KB/s) gets a paste whole", () -> inSmallBuffers("chat-slow-link")));
        // the client
        t.add(new Test("client: message mode prints the reply and exits 0", EchoTests::clientMessage));
        t.add(new Test("client: non-ASCII arguments round-trip exactly", EchoTests::clientUtf8));
        t.add(new Test("client: interactive mode echoes each line until end of input", EchoTests::clientInteractive));
        t.add(new Test("client: no server is one clear line and exit 1", EchoTests::clientNoServer));
        t.add(new Test("client: bad command line exits 2", EchoTests::clientBadArgs));
        t.add(new Test("client: localhost reaches a server on ::1 only and one on 127.0.0.1 only", EchoTests::clientEachAddress));
        t.add(new Test("client: a server that never answers is waited for without spinning", EchoTests::clientSilentServer));
        t.add(new Test("client: 10 MiB piped through interactive mode come back byte-exact", EchoTests::clientPipe));
        t.add(new Test("client: a connect that gets no answer times out after 5 s, one line, exit 1", EchoTests::clientConnectTimeout));
        t.add(new Test("client: --trace narrates the connector's steps", EchoTests::clientTrace));
        t.add(new Test("client: the server closing first is a normal end: one line, exit 0, every time", EchoTests::clientServerClosesFirst));
        t.add(new Test("client: out of descriptors at any point is one line, never a stack trace", EchoTests::clientOutOfDescriptors));
        t.add(new Test("client: its standard output gone, it stops at once, one line, exit 1", EchoTests::clientOutputGone));
        t.add(new Test("client: --timeout gives up on a server that never answers, one line, exit 1", EchoTests::clientTimeout));
        t.add(new Test("client: --port=N forms, -h, bad values exit 2", EchoTests::clientOptionForms));
        t.add(new Test("one address form everywhere; --host localhost listens on both loopbacks; the log names the service", EchoTests::addressForm));
        // the exercises' solutions, each a patch against EchoServer.java
        t.add(new Test("exercise 1, the counting echo: greets with the number of open connections", EchoTests::exerciseCounting));
        t.add(new Test("exercise 2, Answer: 'How are you?' gets 'Fine'", EchoTests::exerciseAnswer));
        t.add(new Test("exercise 3, the logfile: startFactory opens it, every line appended, stopFactory closes it", EchoTests::exerciseLogfile));
        t.add(new Test("exercise 4, /who in the chat", EchoTests::exerciseWho));
        t.add(new Test("exercise 5, one reactor accepts, one per core serves; SIGTERM still closes all within 2 s", EchoTests::exerciseReactors));
        t.add(new Test("ServiceNames lists the services of a port range; bad bounds exit 2", EchoTests::serviceNames));
        // the lesson
        t.add(new Test("both programs run with the source launcher", EchoTests::sourceLauncher));
        t.add(new Test("role annotations, --roles and PATTERNS.md agree; each role is said once", EchoTests::roles));
        t.add(new Test("every line range in PATTERNS.md holds what it names", EchoTests::lineRanges));
        t.add(new Test("PATTERNS.md's diagrams name only classes that exist, and every role class", EchoTests::diagrams));
        t.add(new Test("the lesson's shape: Part I first and short, small classes, no channel outside a facade", EchoTests::lessonShape));
        return t;
    }

    // ================================================================= line echo

    static void shortMessage() throws Exception {
        assertBytes(bytes("hello\n"), roundTrip(server().port, bytes("hello\n")), "echo");
    }

    static void longMessage() throws Exception {
        byte[] message = lines(new Random(1), 5 * READ_BUFFER, 1, 300);
        assertBytes(message, roundTrip(server().port, message), "echo of " + message.length + " bytes");
    }

    static void bufferMultiples() throws Exception {
        for (int multiple : new int[] {1, 2, 3}) {
            byte[] message = lines(new Random(multiple), multiple * READ_BUFFER, 1, 1000);
            check(message.length == multiple * READ_BUFFER, "message is " + message.length + " bytes");
            assertBytes(message, roundTrip(server().port, message), multiple + " x " + READ_BUFFER + " bytes");
        }
        byte[] oneLine = new byte[2 * READ_BUFFER]; // one line of exactly two buffers, newline last
        Arrays.fill(oneLine, (byte) 'm');
        oneLine[oneLine.length - 1] = '\n';
        assertBytes(oneLine, roundTrip(server().port, oneLine), "one line of " + oneLine.length + " bytes");
    }

    static void splitUtf8() throws Exception {
        byte[] line = bytes("héllo wörld ✓ 日本語\n");
        int split = indexOf(line, bytes("✓")) + 1; // inside the three bytes of ✓
        try (Socket s = connect(server().port)) {
            s.getOutputStream().write(line, 0, split);
            expectNothing(s, 200);
            s.getOutputStream().write(line, split, line.length - split);
            assertBytes(line, readExactly(s, line.length), "echo");
        }
    }

    static void byteByByte() throws Exception {
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

    static void lineByLine() throws Exception {
        try (Socket s = connect(server().port)) {
            s.getOutputStream().write(bytes("first\nsec"));
            assertBytes(bytes("first\n"), readExactly(s, 6), "the complete line");
            expectNothing(s, 300);
            s.getOutputStream().write(bytes("ond\nthird"));
            assertBytes(bytes("second\n"), readExactly(s, 7), "the next line");
            expectNothing(s, 200);
        }
    }

    static void crlf() throws Exception {
        byte[] message = bytes("GET / HTTP/1.0\r\nHost: x\r\n\r\nlast\r\n");
        assertBytes(message, roundTrip(server().port, message), "echo");
    }

    static void manyLinesOneWrite() throws Exception {
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

    static void pipelined() throws Exception {
        byte[] message = lines(new Random(7), 10000 * 64, 64, 64);
        assertBytes(message, roundTrip(server().port, message), "10000 lines of 64 bytes");
    }

    static void binary() throws Exception {
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

    // ============================================================= end of input

    static void halfClosePartial() throws Exception {
        assertBytes(bytes("abc\ndef"), roundTrip(server().port, bytes("abc\ndef")), "echo");
    }

    static void halfCloseEmpty() throws Exception {
        assertBytes(new byte[0], roundTrip(server().port, new byte[0]), "echo of nothing");
    }

    static void halfCloseNoNewline() throws Exception {
        byte[] message = bytes("no newline at all, ünïcödé");
        assertBytes(message, roundTrip(server().port, message), "echo");
    }

    // ================================================================ long lines

    static void oneMebibyteLine() throws Exception {
        byte[] line = new byte[1 << 20];
        Arrays.fill(line, (byte) 'L');
        line[line.length - 1] = '\n';
        assertBytes(line, roundTrip(server().port, line), "1 MiB line");
    }

    static void pieces() throws Exception {
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

    static void largeMaxLine() throws Exception {
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

    static void sixteenMebibytes() throws Exception {
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
            check(!writer.isAlive(), "the writer did not finish");
            long rssGrowth = server.rssKiB() - rssBefore;
            s.shutdownOutput();
            byte[] rest = readToEnd(s);
            check(echoed.length + rest.length == size, "got back " + (echoed.length + rest.length) + " of " + size + " bytes");
            check(allEqual(echoed, (byte) 'z') && allEqual(rest, (byte) 'z'), "echoed bytes differ");
            check(rssGrowth < 128 * 1024, "server RSS grew by " + rssGrowth + " KiB for one 16 MiB line");
        }
    }

    // ===================================================== load and backpressure

    static void slowReader() throws Exception {
        try (Server server = Server.start(); Socket slow = connect(server.port)) {
            byte[] data = lines(new Random(5), 50 << 20, 100, 2000);
            AtomicLong sent = new AtomicLong();
            OutputStream out = slow.getOutputStream();
            Thread writer = daemon(() -> {
                for (int off = 0; off < data.length; off += 8192) {
                    int n = Math.min(8192, data.length - off);
                    out.write(data, off, n);
                    sent.addAndGet(n);
                }
                slow.shutdownOutput();
            });
            // Wait until the writer is stuck: the server has stopped reading from it.
            long last = -1;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (sent.get() != last && System.nanoTime() < deadline) {
                last = sent.get();
                Thread.sleep(500);
            }
            check(sent.get() == last, "the writer never stalled");
            check(sent.get() < data.length, "the server read all " + data.length + " bytes from a client that never reads");
            // No OP_WRITE spin while the slow client's echoes wait.
            long cpu = server.cpuMillis();
            for (int i = 0; i < 3; i++) { // other clients still get their echo at once
                long start = System.nanoTime();
                assertBytes(bytes("ping " + i + "\n"), roundTrip(server.port, bytes("ping " + i + "\n")), "other client's echo");
                check(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(2), "another client waited over 2 s");
            }
            Thread.sleep(1000);
            long used = server.cpuMillis() - cpu;
            check(used < 400, "server used " + used + " ms of CPU in ~1 s while a reader was stalled");
            // Now read: everything comes back, byte for byte, and the stream ends.
            slow.setSoTimeout(20_000);
            InputStream in = slow.getInputStream();
            byte[] buffer = new byte[65536];
            int got = 0;
            int n;
            while ((n = in.read(buffer)) > 0) {
                check(got + n <= data.length, "more bytes came back than were sent");
                if (!Arrays.equals(buffer, 0, n, data, got, got + n)) {
                    throw new AssertionError("echo differs from what was sent near byte " + got);
                }
                got += n;
            }
            check(got == data.length, "got back " + got + " of " + data.length + " bytes");
        }
    }

    static void thousandClients() throws Exception {
        int port = server().port;
        List<Socket> clients = new ArrayList<>();
        try {
            for (int i = 0; i < 1000; i++) {
                clients.add(connect(port));
            }
            for (int i = 0; i < clients.size(); i++) {
                clients.get(i).getOutputStream().write(bytes("client " + i + "\n"));
            }
            for (int i = 0; i < clients.size(); i++) {
                byte[] expected = bytes("client " + i + "\n");
                assertBytes(expected, readExactly(clients.get(i), expected.length), "client " + i);
            }
        } finally {
            closeAll(clients);
        }
    }

    static void idleConnections() throws Exception {
        try (Server server = Server.start("--quiet")) {
            roundTrip(server.port, bytes("warm up\n"));
            long rssBefore = server.rssKiB();
            List<Socket> clients = new ArrayList<>();
            try {
                for (int i = 0; i < 2000; i++) {
                    Socket s = connect(server.port);
                    clients.add(s);
                    s.getOutputStream().write(bytes("x\n"));
                    assertBytes(bytes("x\n"), readExactly(s, 2), "first echo on connection " + i);
                }
                Thread.sleep(500);
                long perConnection = (server.rssKiB() - rssBefore) * 1024 / clients.size();
                // Generous: catches a buffer held per idle connection (64 KiB would be 131 072 B).
                check(perConnection < 16 * 1024, "server RSS grew by " + perConnection + " bytes per idle connection");
                for (int i = 0; i < clients.size(); i++) {
                    clients.get(i).getOutputStream().write(bytes("again\n"));
                }
                for (int i = 0; i < clients.size(); i++) {
                    assertBytes(bytes("again\n"), readExactly(clients.get(i), 6), "second echo on connection " + i);
                }
            } finally {
                closeAll(clients);
            }
        }
    }

    static void idleCpu() throws Exception {
        try (Socket a = connect(server().port); Socket idle = connect(server().port)) {
            check(idle.isConnected(), "an idle connection did not connect");
            a.getOutputStream().write(bytes("unfinished"));
            roundTrip(server().port, bytes("x\n"));
            Thread.sleep(200);
            long cpu = server().cpuMillis();
            Thread.sleep(1500);
            long used = server().cpuMillis() - cpu;
            check(used < 100, "idle server used " + used + " ms of CPU in 1.5 s");
        }
    }

    // ================================================= disconnects and exhaustion

    static void resetMidLine() throws Exception {
        Server server = server();
        int port;
        try (Socket s = connect(server.port)) {
            port = s.getLocalPort();
            s.getOutputStream().write(bytes("half a li"));
            Thread.sleep(100);
            s.setSoLinger(true, 0); // close sends RST
        }
        server.awaitLog("connection from 127.0.0.1:" + port + " closed", 5000);
        assertBytes(bytes("still here\n"), roundTrip(server.port, bytes("still here\n")), "next client's echo");
    }

    static void vanishWithUnsent() throws Exception {
        try (Server server = Server.start()) {
            roundTrip(server.port, bytes("warm up\n")); // the JDK opens a few descriptors on first use
            int before = server.openDescriptors();
            int port;
            try (Socket s = connect(server.port)) {
                port = s.getLocalPort();
                byte[] data = lines(new Random(9), 4 << 20, 10, 100);
                Thread writer = daemon(() -> s.getOutputStream().write(data));
                writer.join(1000); // stuck or done: the server holds unsent echoes for us
                s.setSoLinger(true, 0);
            }
            server.awaitLog("connection from 127.0.0.1:" + port + " closed", 5000);
            check(server.log().contains("(0 open)"), "open count did not return to 0:\n" + server.tail(3));
            awaitDescriptors(server, before);
            assertBytes(bytes("ok\n"), roundTrip(server.port, bytes("ok\n")), "echo after");
        }
    }

    static void connectCloseCycles() throws Exception {
        try (Server server = Server.start("--quiet")) {
            roundTrip(server.port, bytes("warm up\n"));
            int before = server.openDescriptors();
            for (int i = 0; i < 3000; i++) {
                try (Socket s = connect(server.port)) {
                    if (i % 3 == 0) {
                        s.getOutputStream().write(bytes("x\n"));
                        assertBytes(bytes("x\n"), readExactly(s, 2), "echo " + i);
                    } else if (i % 3 == 1) {
                        s.setSoLinger(true, 0);
                    }
                }
            }
            awaitDescriptors(server, before);
        }
    }

    static void descriptorLimit() throws Exception {
        try (Server server = Server.startWithLimit(64)) {
            Socket early = connect(server.port);
            resources.add(early);
            assertBytes(bytes("early\n"), roundTrip(early, bytes("early\n")), "early client's echo");
            List<Socket> flood = new ArrayList<>();
            try {
                for (int i = 0; i < 100; i++) { // the kernel completes these; accept runs out of descriptors
                    flood.add(connect(server.port));
                }
                server.awaitLog("accept failed", 5000);
                long cpu = server.cpuMillis();
                Thread.sleep(2000);
                long used = server.cpuMillis() - cpu;
                check(used < 500, "server used " + used + " ms of CPU in 2 s while out of descriptors");
                int complaints = count(server.log(), "accept failed");
                check(complaints <= 6, complaints + " 'accept failed' lines: the log is being flooded");
                assertBytes(bytes("still served\n"), roundTrip(early, bytes("still served\n")), "early client during exhaustion");
            } finally {
                closeAll(flood);
            }
            // Descriptors free again: the server accepts again by itself.
            try (Socket late = connect(server.port)) {
                late.setSoTimeout(10_000);
                assertBytes(bytes("late\n"), roundTrip(late, bytes("late\n")), "a new client after recovery");
            }
        }
    }

    // ============================================================ staying up

    /** A well-behaved client's round trip, which must stay under a second whatever the others do. */
    static void promptEcho(Server server, String what) throws Exception {
        for (int i = 0; i < 3; i++) {
            long start = System.nanoTime();
            byte[] ping = bytes("ping " + i + "\n");
            assertBytes(ping, roundTrip(server.port, ping), what + ": a well-behaved client's echo");
            long millis = (System.nanoTime() - start) / 1_000_000;
            check(millis < 1000, what + ": a well-behaved client's round trip took " + millis + " ms");
        }
        check(server.process.isAlive(), what + ": the server died:\n" + server.tail(5));
    }

    /** Closes all but the kept sockets (with a reset, as an attacker that gives up would). */
    static void closeAllBut(List<Socket> sockets, List<Socket> kept) throws IOException {
        for (Socket s : sockets) {
            if (!kept.contains(s)) {
                s.setSoLinger(true, 0);
                s.close();
            }
        }
    }

    static void smallHeapHeldLines() throws Exception {
        try (Server server = Server.startJvm(List.of("-Xmx48m"), "--quiet")) {
            byte[] part = new byte[16383];
            Arrays.fill(part, (byte) 'h');
            List<Socket> attackers = new ArrayList<>();
            try {
                for (int i = 0; i < 3000; i++) {
                    Socket s = connect(server.port);
                    attackers.add(s);
                    s.getOutputStream().write(part); // an unfinished line, just under max-line
                }
                Thread.sleep(1000);
                promptEcho(server, "3000 unfinished lines held");
                // The pressure goes: the other attackers leave; a few finish their line and get it all back.
                List<Socket> kept = List.of(attackers.get(0), attackers.get(1500), attackers.get(2999));
                closeAllBut(attackers, kept);
                byte[] line = Arrays.copyOf(part, part.length + 1);
                line[part.length] = '\n';
                for (Socket s : kept) {
                    s.getOutputStream().write('\n');
                    s.shutdownOutput();
                    assertBytes(line, readToEnd(s), "an attacker's whole line, once the pressure is gone");
                }
                promptEcho(server, "after the attack");
            } finally {
                closeAll(attackers);
            }
        }
    }

    /** Lines of attacker i: what it sends is known, so what comes back can be checked. */
    static byte[] attackerData(int i, int size) {
        return lines(new Random(1000 + i), size, 20, 200);
    }

    /**
     * Runs one attack in a network namespace of its own whose TCP buffers hold at most 64 KiB
     * (on the host, loopback sockets grow to 4 MiB each, so the server's own queues would fill
     * only after gigabytes of traffic). Loopback only. Needs root for unshare; skipped without.
     */
    static void inSmallBuffers(String attack) throws Exception {
        String setup = "ip link set lo up && echo '4096 16384 65536' > /proc/sys/net/ipv4/tcp_wmem"
                + " && echo '4096 16384 65536' > /proc/sys/net/ipv4/tcp_rmem && exec \"$@\"";
        List<String> namespace = List.of("unshare", "--net", "bash", "-c", setup, "bash");
        Result probe;
        try {
            probe = run(concat(namespace, List.of("true")), 10_000);
        } catch (IOException e) {
            throw new Skip("no unshare here, so no network namespace with small TCP buffers");
        }
        if (probe.status != 0) {
            throw new Skip("cannot make a network namespace with small TCP buffers (needs root): " + probe.stderr.trim());
        }
        Result r = run(concat(namespace, List.of(java, "-cp", classes.toString(), "EchoTests", "--attack", attack, classes.toString())), 55_000);
        check(r.status == 0, attack + ", with small TCP buffers: " + r.stdout + r.stderr);
    }

    static List<String> concat(List<String> a, List<String> b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    /** The helper's side of inSmallBuffers: 0 if the server came through, else 1 and why. */
    static int attack(String name) {
        try {
            switch (name) {
                case "non-readers" -> smallHeapNonReaders();
                case "one-byte-lines" -> smallHeapOneByteLines();
                case "chat-fan-out" -> chatFanOut();
                case "chat-amplification" -> chatAmplification();
                case "chat-many-pastes" -> chatManyPastes();
                case "chat-slow-link" -> chatSlowLink();
                default -> throw new AssertionError("no attack named " + name);
            }
            return 0;
        } catch (Throwable e) {
            System.out.println(e instanceof AssertionError ? e.getMessage() : e.toString());
            return 1;
        } finally {
            for (AutoCloseable r : resources) {
                try {
                    r.close();
                } catch (Exception e) {
                    // cleaning up
                }
            }
        }
    }

    static void smallHeapNonReaders() throws Exception {
        try (Server server = Server.startJvm(List.of("-Xmx48m"), "--quiet")) {
            int count = 2000;
            byte[] data = attackerData(0, 256 * 1024); // the same lines from each attacker
            List<SocketChannel> attackers = new ArrayList<>();
            List<ByteBuffer> toSend = new ArrayList<>();
            try {
                for (int i = 0; i < count; i++) {
                    SocketChannel c = SocketChannel.open();
                    resources.add(c);
                    c.setOption(StandardSocketOptions.SO_RCVBUF, 4096); // never read: keep the kernel's share small
                    c.connect(new InetSocketAddress(LOOPBACK, server.port));
                    c.configureBlocking(false);
                    attackers.add(c);
                    toSend.add(ByteBuffer.wrap(data));
                }
                // Send until nothing moves for a second: the server has stopped reading from them.
                long lastProgress = System.nanoTime();
                long deadline = lastProgress + TimeUnit.SECONDS.toNanos(30);
                while (System.nanoTime() - lastProgress < TimeUnit.SECONDS.toNanos(1) && System.nanoTime() < deadline) {
                    boolean moved = false;
                    for (int i = 0; i < count; i++) {
                        if (toSend.get(i).hasRemaining() && attackers.get(i).write(toSend.get(i)) > 0) {
                            moved = true;
                        }
                    }
                    if (moved) {
                        lastProgress = System.nanoTime();
                    } else {
                        Thread.sleep(10);
                    }
                }
                promptEcho(server, count + " clients that never read");
                List<Integer> kept = List.of(0, count / 2, count - 1);
                for (int i = 0; i < count; i++) {
                    if (!kept.contains(i)) {
                        attackers.get(i).socket().setSoLinger(true, 0);
                        attackers.get(i).close();
                    }
                }
                for (int i : kept) { // read everything back while sending the rest
                    SocketChannel c = attackers.get(i);
                    c.configureBlocking(true);
                    c.socket().setSoTimeout(20_000);
                    ByteBuffer rest = toSend.get(i);
                    Thread writer = daemon(() -> {
                        while (rest.hasRemaining()) {
                            c.write(rest);
                        }
                        c.shutdownOutput();
                    });
                    byte[] back = c.socket().getInputStream().readAllBytes();
                    writer.join(5000);
                    assertBytes(data, back, "attacker " + i + "'s echo, once the pressure is gone");
                }
                promptEcho(server, "after the attack");
            } finally {
                for (SocketChannel c : attackers) {
                    c.close();
                }
            }
        }
    }

    /**
     * Each read of one byte queues one echo once the socket is full: without coalescing, a
     * buffer object per byte, about 80 times the payload in heap.
     */
    static void smallHeapOneByteLines() throws Exception {
        try (Server server = Server.startJvm(List.of("-Xmx48m"), "--quiet")) {
            int count = 40;
            int fill = 64 * 1024;   // fills the kernel's buffers, leaves the server below its high-water mark
            int newlines = 20_000;  // and the server's own queue under 64 KiB: it keeps reading
            byte[] data = attackerData(0, fill);
            List<Socket> attackers = new ArrayList<>();
            List<Thread> writers = new ArrayList<>();
            try {
                for (int i = 0; i < count; i++) {
                    Socket s = new Socket();
                    resources.add(s);
                    s.setReceiveBufferSize(4096);
                    s.setTcpNoDelay(true);
                    s.connect(new InetSocketAddress(LOOPBACK, server.port), 5000);
                    s.setSoTimeout(20_000);
                    attackers.add(s);
                    writers.add(daemon(() -> {
                        OutputStream out = s.getOutputStream();
                        out.write(data);
                        Thread.sleep(500);
                        for (int j = 0; j < newlines; j++) {
                            out.write('\n'); // a one-byte line, paced so that most are a read of their own
                            LockSupport.parkNanos(400_000);
                        }
                    }));
                }
                for (Thread w : writers) {
                    w.join(30_000);
                }
                promptEcho(server, count + " clients sending one-byte lines");
                List<Socket> kept = List.of(attackers.get(0), attackers.get(count - 1));
                closeAllBut(attackers, kept);
                byte[] expected = Arrays.copyOf(data, fill + newlines);
                Arrays.fill(expected, fill, expected.length, (byte) '\n');
                for (Socket s : kept) {
                    s.shutdownOutput();
                    assertBytes(expected, readToEnd(s), "attacker " + attackers.indexOf(s) + "'s echo, once the pressure is gone");
                }
                promptEcho(server, "after the attack");
            } finally {
                closeAll(attackers);
            }
        }
    }

    static void smallHeapHugeLines() throws Exception {
        try (Server server = Server.startJvm(List.of("-Xmx48m"), "--quiet", "--max-line", "67108864")) {
            int count = 8;
            int size = 64 << 20;
            byte[] chunk = new byte[1 << 20];
            Arrays.fill(chunk, (byte) 'z');
            List<Socket> clients = new ArrayList<>();
            List<Thread> readers = new ArrayList<>();
            long[] got = new long[count];
            boolean[] wrong = new boolean[count];
            for (int i = 0; i < count; i++) {
                Socket s = connect(server.port);
                clients.add(s);
                int n = i;
                readers.add(daemon(() -> {
                    byte[] buffer = new byte[65536];
                    int r;
                    while ((r = s.getInputStream().read(buffer)) > 0) {
                        for (int j = 0; j < r; j++) {
                            wrong[n] |= buffer[j] != 'z';
                        }
                        got[n] += r;
                    }
                }));
                daemon(() -> {
                    for (int sent = 0; sent < size; sent += chunk.length) {
                        s.getOutputStream().write(chunk);
                    }
                    s.shutdownOutput();
                });
            }
            for (Thread r : readers) {
                r.join(50_000);
            }
            promptEcho(server, "8 lines of 64 MiB");
            for (int i = 0; i < count; i++) {
                check(got[i] == size && !wrong[i], "client " + i + " got back " + got[i] + " of " + size + " bytes"
                        + (wrong[i] ? ", some of them wrong" : "") + "; the server's log:\n" + server.tail(40));
            }
        }
    }

    /**
     * Silent clients hold the memory budget with unfinished lines, so it stays spent. A client that
     * sends and reads everything back may be slowed (its reads shrink, its reading waits while its
     * output is queued), but once its output has drained it reads again: it is never kept waiting
     * until the holders leave.
     */
    static void budgetSpentByOthers() throws Exception {
        try (Server server = Server.start("--memory-budget", "1048576", "--quiet")) {
            byte[] part = new byte[16000];
            Arrays.fill(part, (byte) 'h');
            List<Socket> holders = new ArrayList<>();
            try {
                for (int i = 0; i < 70; i++) { // 70 x 16000 bytes held: more than the budget
                    Socket s = connect(server.port);
                    s.getOutputStream().write(part);
                    holders.add(s);
                }
                Thread.sleep(1000);
                Socket active = new Socket();
                resources.add(active);
                active.setReceiveBufferSize(16 * 1024);
                active.connect(new InetSocketAddress(LOOPBACK, server.port), 5000);
                active.setSoTimeout(10_000);
                byte[] data = lines(new Random(17), 20 << 20, 100, 100);
                daemon(() -> active.getOutputStream().write(data));
                byte[] back = new byte[data.length];
                InputStream in = active.getInputStream();
                for (int got = 0; got < back.length; LockSupport.parkNanos(1_000_000)) { // a reader a little slower
                    int n;
                    try {
                        n = in.read(back, got, Math.min(65536, back.length - got));
                    } catch (SocketTimeoutException e) {
                        throw new AssertionError("the reading client was kept waiting after " + got + " of "
                                + back.length + " bytes while the others held the budget");
                    }
                    check(n > 0, "connection closed after " + got + " bytes");
                    got += n;
                }
                assertBytes(data, back, "the reading client's echo");
            } finally {
                closeAll(holders);
            }
        }
    }

    static void descriptorsBeforeFirstEcho() throws Exception {
        for (boolean fromSource : new boolean[] {false, true}) {
            String mode = fromSource ? "from source" : "from classes";
            try (Server server = Server.startWithLimit(64, fromSource)) {
                List<Socket> silent = new ArrayList<>();
                try {
                    for (int i = 0; i < 74; i++) { // more than the server has descriptors for
                        silent.add(connect(server.port));
                    }
                    server.awaitLog("accept failed", 10_000);
                    Socket first = silent.get(0); // accepted before the descriptors ran out
                    assertBytes(bytes("hello\n"), roundTrip(first, bytes("hello\n")), mode + ": the first echo");
                    check(server.process.isAlive(), mode + ": the server died:\n" + server.tail(5));
                } finally {
                    closeAll(silent);
                }
                try (Socket late = connect(server.port)) {
                    assertBytes(bytes("late\n"), roundTrip(late, bytes("late\n")), mode + ": a client after recovery");
                }
            }
        }
    }

    static void stalledLog() throws Exception {
        for (boolean unstall : new boolean[] {true, false}) {
            Server server = Server.startWithStalledLog("--verbose");
            try {
                byte[] lines = bytes("a line to log\n".repeat(20_000)); // a log line each: far more than a pipe holds
                assertBytes(lines, roundTrip(server.port, lines), "20000 lines, each logged");
                for (int i = 0; i < 100; i++) {
                    try (Socket s = connect(server.port)) {
                        s.getOutputStream().write(bytes("x\n"));
                        readExactly(s, 2);
                    }
                }
                promptEcho(server, "standard error stalled");
                if (unstall) { // someone reads again: the log goes on, and says what it had to drop
                    server.readLog();
                    server.awaitLog(" log lines dropped", 5000);
                }
                long start = System.nanoTime();
                run(List.of("kill", "-TERM", String.valueOf(server.pid())), 5000);
                boolean exited = server.process.waitFor(2, TimeUnit.SECONDS);
                String state = unstall ? "after standard error was read again" : "with standard error stalled";
                check(exited, "still running 2 s after SIGTERM " + state);
                System.out.printf("     (exited %.2f s after SIGTERM %s)%n", (System.nanoTime() - start) / 1e9, state);
                if (unstall) {
                    server.drain();
                    check(server.log().contains("stopped: closed 0 connections"), "no stop line:\n" + server.tail(3));
                }
            } finally {
                server.close();
            }
        }
    }

    static void idleTimeout() throws Exception {
        try (Server server = Server.startWithLimit(64, false, "--idle-timeout", "2")) {
            List<Socket> silent = new ArrayList<>();
            try {
                for (int i = 0; i < 70; i++) { // holds every descriptor the server has
                    silent.add(connect(server.port));
                }
                server.awaitLog("accept failed", 10_000);
                long start = System.nanoTime();
                try (Socket late = connect(server.port)) { // waits in the listen queue
                    late.setSoTimeout(10_000);
                    assertBytes(bytes("let me in\n"), roundTrip(late, bytes("let me in\n")), "a locked-out client");
                }
                double took = (System.nanoTime() - start) / 1e9;
                check(took < 4.0, "the locked-out client waited " + took + " s, more than the idle timeout + 2 s");
                check(server.log().contains("closed: idle for 2 s"), "no idle close logged:\n" + server.tail(3));
                check(readToEndOrReset(silent.get(0)), "an idle connection was not closed");
            } finally {
                closeAll(silent);
            }
        }
    }

    /**
     * Out of descriptors, nothing is closed to make room (as Redis at maxclients, nginx at its
     * limit): accepting pauses, the silent clients stay connected, and a new client is served as
     * soon as one of them leaves. With --idle-timeout 0 nobody times out either.
     */
    static void noEviction() throws Exception {
        try (Server server = Server.startWithLimit(64, false, "--idle-timeout", "0")) {
            List<Socket> silent = new ArrayList<>();
            try {
                for (int i = 0; i < 70; i++) {
                    silent.add(connect(server.port));
                }
                server.awaitLog("accept failed", 10_000);
                Socket late = connect(server.port); // waits in the listen queue
                late.getOutputStream().write(bytes("let me in\n"));
                Thread.sleep(7000); // longer than any "idle 5 s" rule
                check(!server.log().contains("to make room"), "a connection was closed to make room:\n" + server.tail(3));
                assertBytes(bytes("still here\n"), roundTrip(silent.get(0), bytes("still here\n")),
                        "the connection idle longest, still open");
                long start = System.nanoTime();
                closeAll(silent.subList(1, silent.size())); // the others leave, those queued behind them too
                assertBytes(bytes("let me in\n"), readExactly(late, 10), "the new client, once descriptors are free");
                double took = (System.nanoTime() - start) / 1e9;
                check(took < 3.0, "the new client waited " + took + " s after descriptors were freed");
            } finally {
                closeAll(silent);
            }
        }
    }

    /** A Selector whose select() always fails, as one out of memory would: counts the tries. */
    public static final class FailingSelector extends java.nio.channels.Selector {
        final AtomicLong selects = new AtomicLong();

        @Override public boolean isOpen() { return true; }
        @Override public java.nio.channels.spi.SelectorProvider provider() { return null; }
        @Override public Set<java.nio.channels.SelectionKey> keys() { return Set.of(); }
        @Override public Set<java.nio.channels.SelectionKey> selectedKeys() { return new java.util.HashSet<>(); }
        @Override public int selectNow() { return select(0); }
        @Override public int select() { return select(0); }
        @Override public java.nio.channels.Selector wakeup() { return this; }
        @Override public void close() { }

        @Override
        public int select(long timeout) {
            selects.incrementAndGet();
            throw new IllegalStateException("select failed (a test's failing selector)");
        }
    }

    /**
     * The reactor's loop on a selector that fails every time. The loop must wait before it tries
     * again: without that it spins a core and writes a log line per try. In this process, on the
     * compiled server classes; what the server logs is caught from standard error.
     */
    static void selectKeepsFailing() throws Exception {
        java.io.PrintStream err = System.err;
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        FailingSelector selector = new FailingSelector();
        try (URLClassLoader loader = new URLClassLoader(new URL[] {classes.toUri().toURL()}, EchoTests.class.getClassLoader())) {
            Class<?> type = loader.loadClass("EchoServer$SelectorReactor");
            java.lang.reflect.Constructor<?> make = type.getDeclaredConstructor(java.nio.channels.Selector.class);
            make.setAccessible(true);
            Object reactor = make.newInstance(selector);
            Method run = type.getDeclaredMethod("run");
            run.setAccessible(true);
            System.setErr(new java.io.PrintStream(log, true, StandardCharsets.UTF_8));
            Thread loop = new Thread(() -> {
                try {
                    run.invoke(reactor);
                } catch (ReflectiveOperationException e) {
                    // reported below through the counts
                }
            });
            loop.setDaemon(true);
            loop.start();
            Thread.sleep(2000);
            java.lang.reflect.Field running = type.getDeclaredField("running");
            running.setAccessible(true);
            running.setBoolean(reactor, false);
            loop.join(3000);
            Thread.sleep(200); // the log thread writes what was queued
        } finally {
            System.setErr(err);
        }
        long tries = selector.selects.get();
        int lines = count(log.toString(StandardCharsets.UTF_8), "select failed");
        check(tries <= 5, "select() was tried " + tries + " times in 2 s: the loop spins");
        check(lines >= 1 && lines <= 5, lines + " log lines about the failing select in 2 s");
    }

    // ================================================================== shutdown

    static void shutdown(String signal, int expectedStatus) throws Exception {
        if (signalIgnored(signal.equals("INT") ? 2 : 15)) {
            throw new Skip("SIG" + signal + " is ignored in this process (started in the background?), so the server would inherit that");
        }
        Server server = Server.start();
        int port = server.port;
        try (Socket idle = connect(port); Socket midLine = connect(port)) {
            midLine.getOutputStream().write(bytes("unfinished"));
            roundTrip(idle, bytes("ready\n"));
            server.awaitLog("(2 open)", 5000);
            long start = System.nanoTime();
            run(List.of("kill", "-" + signal, String.valueOf(server.pid())), 5000);
            boolean exited = server.process.waitFor(2, TimeUnit.SECONDS);
            double took = (System.nanoTime() - start) / 1e9;
            check(exited, "still running 2 s after SIG" + signal);
            check(server.process.exitValue() == expectedStatus, "exit status " + server.process.exitValue() + ", expected " + expectedStatus);
            server.drain();
            check(server.log().contains("stopped: closed 2 connections and the listening socket"),
                    "no shutdown log line:\n" + server.tail(3));
            check(!server.log().contains("Exception"), "stack trace on shutdown:\n" + server.log());
            idle.setSoTimeout(2000);
            check(readToEndOrReset(idle), "an open connection was not closed");
            System.out.printf("     (exited %.2f s after SIG%s)%n", took, signal);
        } finally {
            server.close();
        }
        try (Server again = Server.start("--port", String.valueOf(port))) {
            check(again.port == port, "restarted on " + again.port);
            assertBytes(bytes("again\n"), roundTrip(port, bytes("again\n")), "echo after restart");
        }
    }

    // ===================================================== command line, logging

    static void listeningLine() throws Exception {
        Server server = server();
        check(server.stdout().matches("(?s)echo server listening on \\*:" + server.port + " \\(all interfaces\\)\n"),
                "stdout was: " + server.stdout());
        check(server.port != 0 && server.port != 8000, "port " + server.port);
        try (Server local = Server.start("--host", LOOPBACK)) {
            check(local.stdout().startsWith("echo server listening on 127.0.0.1:" + local.port + "\n"), "stdout was: " + local.stdout());
            assertBytes(bytes("local\n"), roundTrip(local.port, bytes("local\n")), "echo");
        }
        try (Server ipv4 = Server.start("--host", "0.0.0.0")) {
            check(ipv4.stdout().equals("echo server listening on 0.0.0.0:" + ipv4.port + "\n"), "stdout was: " + ipv4.stdout());
            assertBytes(bytes("v4\n"), roundTrip(ipv4.port, bytes("v4\n")), "echo over IPv4");
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("::1", ipv4.port), 2000);
                throw new AssertionError("--host 0.0.0.0 accepted a connection over IPv6");
            } catch (IOException expected) {
                // refused: IPv4 only, as asked (or no IPv6 at all)
            }
        }
    }

    static void ipv6() throws Exception {
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getByName("::1"))) {
            check(probe.getLocalPort() > 0, "no port on ::1");
        } catch (IOException e) {
            throw new Skip("no IPv6 loopback on this machine");
        }
        try (Server server = Server.start("--host", "::1")) {
            check(server.stdout().equals("echo server listening on [::1]:" + server.port + "\n"), "stdout was: " + server.stdout());
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("::1", server.port), 5000);
                s.setSoTimeout(10_000);
                assertBytes(bytes("six\n"), roundTrip(s, bytes("six\n")), "echo over ::1");
            }
        }
    }

    static void badCommandLines() throws Exception {
        Map<List<String>, String> cases = new LinkedHashMap<>();
        cases.put(List.of("--port", "abc"), "invalid value 'abc' for --port: expected a whole number from 0 to 65535");
        cases.put(List.of("--port", "70000"), "invalid value '70000' for --port: expected a whole number from 0 to 65535");
        cases.put(List.of("--port", "-1"), "invalid value '-1' for --port: expected a whole number from 0 to 65535");
        cases.put(List.of("--port"), "--port needs a value");
        cases.put(List.of("--max-line", "0"), "invalid value '0' for --max-line: expected a whole number from 1 to 67108864");
        cases.put(List.of("--bogus"), "unknown option '--bogus'");
        cases.put(List.of("stray"), "unexpected argument 'stray'");
        cases.put(List.of("--quiet=yes"), "--quiet takes no value");
        cases.put(List.of("--port", "+80"), "invalid value '+80' for --port: expected a whole number from 0 to 65535");
        cases.put(List.of("--port", "٨٠"), "invalid value '٨٠' for --port: expected a whole number from 0 to 65535");
        cases.put(List.of("--host", ""), "invalid value '' for --host: expected an address or a host name");
        cases.put(List.of("--quiet", "--verbose"), "--quiet and --verbose contradict each other: choose one");
        cases.put(List.of("--trace", "--quiet"), "--trace and --quiet contradict each other: choose one");
        cases.put(List.of("--idle-timeout", "-1"), "invalid value '-1' for --idle-timeout: expected a whole number from 0 to 86400");
        cases.put(List.of("--memory-budget", "10"), "invalid value '10' for --memory-budget: expected a whole number from 1048576 to 1099511627776");
        cases.put(List.of("--port", "8000", "--qotd", "8000"), "--qotd and --port both name port 8000: give each service a port of its own");
        cases.put(List.of("--chat", "8000"), "--chat and --port both name port 8000: give each service a port of its own");
        cases.put(List.of("--qotd", "9000", "--chat=9000"), "--chat and --qotd both name port 9000: give each service a port of its own");
        for (Map.Entry<List<String>, String> c : cases.entrySet()) {
            List<String> command = new ArrayList<>(List.of(java, "-cp", classes.toString(), "EchoServer"));
            command.addAll(c.getKey());
            Result r = run(command, 20_000);
            check(r.status == 2, c.getKey() + ": exit status " + r.status + ", expected 2");
            String[] lines = r.stderr.split("\n");
            check(lines[0].equals("echo-server: " + c.getValue()), c.getKey() + ": first line was '" + lines[0] + "'");
            check(lines.length > 1 && lines[1].startsWith("usage: "), c.getKey() + ": no usage after the reason");
            check(!r.stderr.contains("Exception") && !r.stderr.contains("\tat "), c.getKey() + ": stack trace:\n" + r.stderr);
            check(r.stdout.isEmpty(), c.getKey() + ": printed to stdout: " + r.stdout);
        }
    }

    static void help() throws Exception {
        Result r = run(List.of(java, "-cp", classes.toString(), "EchoServer", "--help"), 20_000);
        check(r.status == 0, "exit status " + r.status);
        check(r.stdout.startsWith("usage: java EchoServer.java"), "stdout was: " + r.stdout);
        check(r.stdout.contains("--max-line") && r.stderr.isEmpty(), "help incomplete or on stderr");
    }

    static void portInUse() throws Exception {
        int port = server().port;
        Result r = run(List.of(java, "-cp", classes.toString(), "EchoServer", "--port", String.valueOf(port)), 20_000);
        check(r.status == 1, "exit status " + r.status + ", expected 1");
        check(r.stderr.equals("echo-server: port " + port + " is already in use\n"), "stderr was: " + r.stderr);
    }

    static final Pattern TIMESTAMP = Pattern.compile("^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} ");

    static void logging() throws Exception {
        try (Server server = Server.start()) {
            int port;
            try (Socket s = connect(server.port)) {
                port = s.getLocalPort();
                roundTrip(s, bytes("secret line\n"));
            }
            server.awaitLog("connection from 127.0.0.1:" + port + " closed (0 open)", 5000);
            String log = server.log();
            check(log.contains("connection from 127.0.0.1:" + port + " opened (1 open)"), "no open line:\n" + log);
            for (String line : log.split("\n")) {
                check(TIMESTAMP.matcher(line).find(), "log line without a timestamp: " + line);
            }
            check(!log.contains("secret line"), "a line was logged by default");
        }
    }

    static void verboseAndQuiet() throws Exception {
        try (Server verbose = Server.start("--verbose")) {
            roundTrip(verbose.port, bytes("tell me\n"));
            verbose.awaitLog("sent a line: tell me\\n (8 bytes)", 5000);
        }
        try (Server quiet = Server.start("--quiet")) {
            roundTrip(quiet.port, bytes("hush\n"));
            Thread.sleep(300);
            check(quiet.log().isEmpty(), "--quiet logged:\n" + quiet.log());
        }
    }

    // ============================================ more services on the same reactor

    static void quote() throws Exception {
        try (Server server = Server.start("--qotd", "0")) {
            int quotePort = server.port("quote"); // waits for its line
            check(server.stdout().matches("(?s)echo server listening on \\*:\\d+ \\(all interfaces\\)\n"
                    + "quote server listening on \\*:\\d+ \\(all interfaces\\)\n"), "stdout was: " + server.stdout());
            try (Socket s = connect(quotePort)) {
                assertBytes(bytes("An apple a day keeps the doctor away\r\n"), readToEnd(s), "the default quote");
            }
            assertBytes(bytes("echo\n"), roundTrip(server.port, bytes("echo\n")), "the echo beside it");
        }
        try (Server server = Server.start("--qotd", "0", "--quote", "Carpe diem ✓"); Socket s = connect(server.port("quote"))) {
            assertBytes(bytes("Carpe diem ✓\r\n"), readToEnd(s), "--quote");
            server.awaitLog("closed (0 open)", 5000);
        }
    }

    /** Connects to the chat and takes a name; returns the member's socket. */
    static Socket chatMember(int port, String name) throws Exception {
        Socket s = connect(port);
        expect(s, "What's your name?\r\n");
        send(s, name + "\r\n");
        expect(s, "Welcome, " + name + "!\r\n");
        return s;
    }

    static void send(Socket s, String text) throws IOException {
        s.getOutputStream().write(bytes(text));
    }

    static void expect(Socket s, String text) throws IOException {
        byte[] expected = bytes(text);
        assertBytes(expected, readExactly(s, expected.length), "what " + s.getLocalPort() + " received");
    }

    static void chatTranscript() throws Exception {
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
            check(seen.toString(StandardCharsets.UTF_8).equals(transcript), "bob's session:\n" + seen);
            for (Socket s : List.of(test, alice, carrol, bob)) {
                expectNothing(s, 100); // nobody hears their own lines
            }
        }
    }

    static void chatNames() throws Exception {
        try (Server server = Server.start("--chat", "0")) {
            int port = server.port("chat");
            Socket ann = chatMember(port, "ann");
            Socket other = connect(port);
            expect(other, "What's your name?\r\n");
            send(other, "\r\n");
            expect(other, "What's your name?\r\n"); // an empty name is no name
            send(other, "ann\n");
            expect(other, "Name taken, please choose another.\r\n");
            send(other, "Zoë\n");
            expect(other, "Welcome, Zoë!\r\n");
            send(other, "grüße\n");
            expect(ann, "<Zoë> grüße\r\n");
            ann.close();
            server.awaitLog("closed (1 open)", 5000);
            Socket again = chatMember(port, "ann"); // the leaver's name is free again
            send(other, "welcome back\n");
            expect(again, "<Zoë> welcome back\r\n");
        }
    }

    static void chatLongLine() throws Exception {
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

    static void chatResetMidBroadcast() throws Exception {
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
            c.setSoLinger(true, 0);
            c.close(); // a reset, racing with the broadcast below
            send(a, lines.toString());
            expect(b, heard.toString());
            server.awaitLog("(2 open)", 5000);
            Socket c2 = chatMember(port, "c");
            send(b, "still here\n");
            expect(a, "<b> still here\r\n");
            expect(c2, "<b> still here\r\n");
        }
    }

    static void chatNonReader() throws Exception {
        try (Server server = Server.start("--chat", "0")) {
            int port = server.port("chat");
            Socket idle = chatMember(port, "idle"); // never reads again: the sender waits for it, then it goes
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
            server.awaitLog("closed: not reading: others waited 2000 ms", 5000);
            check(in.available() == 0, "b received more than was sent");
            send(b, "after\n");
            expect(a, "<b> after\r\n");
            check(idle.isConnected(), "idle socket");
        }
    }

    // ============================================================ the chat under attack

    /** A member whose socket keeps little in the kernel (a small receive buffer): it reads its prompts, then never. */
    static Socket silentMember(int port, String name) throws Exception {
        Socket s = new Socket();
        resources.add(s);
        s.setReceiveBufferSize(4096);
        s.connect(new InetSocketAddress(LOOPBACK, port), 5000);
        s.setSoTimeout(10_000);
        expect(s, "What's your name?\r\n");
        send(s, name + "\n");
        expect(s, "Welcome, " + name + "!\r\n");
        return s;
    }

    /** Attack 1: one member's lines fanned out to 1000 members that never read, in a 64 MiB heap. */
    static void chatFanOut() throws Exception {
        try (Server server = Server.startJvm(List.of("-Xmx64m"), "--chat", "0", "--quiet")) {
            int port = server.port("chat");
            Socket reader = chatMember(port, "reader");
            Socket sender = chatMember(port, "sender");
            List<Socket> silent = new ArrayList<>();
            for (int i = 0; i < 1000; i++) {
                silent.add(silentMember(port, "m" + i));
            }
            StringBuilder said = new StringBuilder();
            StringBuilder heard = new StringBuilder();
            for (int i = 0; i < 25; i++) {
                String text = String.valueOf((char) ('a' + i)).repeat(8000);
                said.append(text).append('\n');
                heard.append("<sender> ").append(text).append("\r\n");
            }
            daemon(() -> send(sender, said.toString()));
            reader.setSoTimeout(30_000);
            expect(reader, heard.toString());
            check(server.process.isAlive(), "the server died:\n" + server.tail(5));
            check(!server.log().contains("OutOfMemoryError"), "out of memory:\n" + server.tail(5));
            long start = System.nanoTime();
            Socket late = chatMember(port, "late");
            send(reader, "welcome\n");
            expect(late, "<reader> welcome\r\n");
            long millis = (System.nanoTime() - start) / 1_000_000;
            check(millis < 1000, "a new member waited " + millis + " ms");
            promptEcho(server, "after the fan-out");
            closeAll(silent);
        }
    }

    /** Attack 2 and 9: long, look-alike and hidden names are refused with a reason, and asked again. */
    static void chatNameRules() throws Exception {
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
        }
    }

    /** A name of 32 Gothic letters, 4 bytes each in UTF-8: the longest prefix a message line can get. */
    static String gothicName(int i) {
        StringBuilder name = new StringBuilder();
        for (int k = 0; k < 32; k++) {
            name.appendCodePoint(0x10330 + (k + i) % 17); // Gothic letters; U+10341 is a number
        }
        return name.toString();
    }

    /** Six fresh members, each its name and 1980 lines of one byte in one packet: six big messages at once. */
    static void chatManyPastes() throws Exception {
        try (Server server = Server.start("--chat", "0", "--quiet")) {
            int port = server.port("chat");
            int readers = 3, pasters = 6, lines = 1980;
            List<Socket> honest = new ArrayList<>();
            for (int i = 0; i < readers; i++) {
                Socket r = chatMember(port, "honest" + i);
                r.setSoTimeout(30_000);
                honest.add(r);
            }
            long expected = 0;
            List<Socket> attackers = new ArrayList<>();
            List<byte[]> packets = new ArrayList<>();
            for (int i = 0; i < pasters; i++) {
                Socket a = connect(port);
                expect(a, "What's your name?\r\n");
                attackers.add(a);
                ByteArrayOutputStream packet = new ByteArrayOutputStream();
                packet.write(bytes(gothicName(i) + "\n"));
                for (int k = 0; k < lines; k++) {
                    packet.write(new byte[] {(byte) 0xff, '\n'});
                }
                packets.add(packet.toByteArray());
                expected += (long) lines * bytes("<" + gothicName(i) + "> \ufffd\r\n").length;
            }
            List<Thread> reading = new ArrayList<>();
            List<String> outcome = Collections.synchronizedList(new ArrayList<>());
            for (Socket r : honest) {
                long want = expected;
                reading.add(daemon(() -> {
                    long got = 0;
                    byte[] buffer = new byte[65536];
                    try {
                        for (int n; got < want && (n = r.getInputStream().read(buffer)) > 0; ) {
                            got += n;
                        }
                    } catch (IOException e) {
                        // reported below with what arrived
                    }
                    outcome.add(got == want ? "whole" : "cut off after " + got + " of " + want + " bytes");
                }));
            }
            for (int i = 0; i < pasters; i++) {
                Socket a = attackers.get(i);
                daemon(() -> a.getInputStream().transferTo(OutputStream.nullOutputStream())); // they read too
                a.getOutputStream().write(packets.get(i));
            }
            for (Thread t : reading) {
                t.join(35_000);
            }
            check(outcome.equals(List.of("whole", "whole", "whole")), "the readers: " + outcome);
        }
    }

    /** A member reading 10 KB every 100 ms, steadily, while a member with the longest prefix pastes 4 KiB of lines. */
    static void chatSlowLink() throws Exception {
        try (Server server = Server.start("--chat", "0", "--quiet")) {
            int port = server.port("chat");
            Socket slow = new Socket();
            resources.add(slow);
            slow.setReceiveBufferSize(16 * 1024);
            slow.connect(new InetSocketAddress(LOOPBACK, port), 5000);
            slow.setSoTimeout(30_000);
            expect(slow, "What's your name?\r\n");
            send(slow, "slow\n");
            expect(slow, "Welcome, slow!\r\n");
            Socket paster = chatMember(port, gothicName(0));
            int lines = 2048;
            byte[] paste = new byte[2 * lines];
            for (int k = 0; k < paste.length; k += 2) {
                paste[k] = (byte) 0xff;
                paste[k + 1] = '\n';
            }
            long want = (long) lines * bytes("<" + gothicName(0) + "> \ufffd\r\n").length;
            paster.getOutputStream().write(paste);
            long got = 0;
            byte[] buffer = new byte[10_000];
            try {
                for (int n; got < want && (n = slow.getInputStream().read(buffer)) > 0; Thread.sleep(100)) {
                    got += n;
                }
            } catch (IOException e) {
                // reported below
            }
            check(got == want, "the slow reader got " + got + " of " + want + " bytes");
        }
    }

    /** Attack 3: the trace, with nobody reading it, cannot pin the heap: the log queue is bounded in characters. */
    static void chatStalledTrace() throws Exception {
        List<String> command = List.of(java, "-Xmx64m", "-cp", classes.toString(), "EchoServer", "--port", "0",
                "--trace", "--chat", "0");
        try (Server server = new Server(command, false)) {
            int port = server.port("chat");
            Socket a = chatMember(port, "n".repeat(32));
            Socket b = chatMember(port, "b");
            AtomicLong heard = new AtomicLong();
            daemon(() -> {
                byte[] buffer = new byte[65536];
                for (int n; (n = b.getInputStream().read(buffer)) > 0; ) {
                    heard.addAndGet(n);
                }
            });
            int lines = 200_000, small = 20_000; // then lines one by one: a read, and its trace lines, each
            send(a, "\n".repeat(10_000) + "x\n".repeat(lines));
            for (int i = 0; i < small; i++) {
                send(a, "x\n");
            }
            long expected = (long) (lines + small) * ("<" + "n".repeat(32) + "> x\r\n").length();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(40);
            while (heard.get() < expected && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            check(heard.get() == expected, "b heard " + heard.get() + " of " + expected + " bytes");
            promptEcho(server, "a flood traced into a stalled standard error");
            long start = System.nanoTime();
            chatMember(port, "late").close();
            long millis = (System.nanoTime() - start) / 1_000_000;
            check(millis < 1000, "a new member waited " + millis + " ms");
            server.readLog();
            server.awaitLog("closed (2 open)", 10_000); // the late member's close: the log has caught up
            check(!server.log().contains("OutOfMemoryError"), "out of memory:\n" + server.tail(5));
        }
    }

    /** Names that look like "alice" or "bob1" on a screen are the same names. */
    static void chatLookAlikes() throws Exception {
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
                {"bob\uff11", taken}, {"a\u0301\u0301\u0301lice", taken}, {"x\u0301\u0301\u0301yz", chars},
                {"\ufdfa", chars}};
            for (String[] attempt : tries) {
                send(s, attempt[0] + "\n");
                expect(s, attempt[1]);
            }
        }
    }

    /** Characters that show nothing, or join or hide text, do not reach another member as they are. */
    static void chatInvisibles() throws Exception {
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
    static void chatMessagesSanitized() throws Exception {
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
    static void chatClosedMemberTakesNoName() throws Exception {
        try (Server server = Server.start("--chat", "0")) {
            int port = server.port("chat");
            for (int i = 0; i < 3; i++) {
                Socket s = connect(port);
                expect(s, "What's your name?\r\n");
                send(s, "\n\n\n\nmallory" + i + "\n"); // each empty line is asked again: the second write fails
                s.close();
                server.awaitLog("(0 open)", 5000);
                Socket again = chatMember(port, "mallory" + i);
                again.close();
                server.awaitLog("(0 open)", 5000);
            }
        }
    }

    /** A chat flood: empty lines, then lines of one byte, "x". */
    static byte[] flood(int emptyLines, int lines) {
        byte[] flood = new byte[emptyLines + 2 * lines];
        Arrays.fill(flood, 0, emptyLines, (byte) '\n');
        for (int i = emptyLines; i < flood.length; i += 2) {
            flood[i] = 'x';
            flood[i + 1] = '\n';
        }
        return flood;
    }

    /** Attack 4: a member's flood of lines never holds the loop: the echo and the quote answer within a second. */
    static void chatFloodLoopFree() throws Exception {
        try (Server server = Server.start("--qotd", "0", "--chat", "0", "--quiet")) {
            int chat = server.port("chat");
            Socket flooder = chatMember(chat, "flood");
            int members = 100, lines = 32768;
            byte[] heard = bytes("<flood> x\r\n".repeat(lines));
            List<Socket> readers = new ArrayList<>();
            List<Thread> reading = new ArrayList<>();
            AtomicLong complete = new AtomicLong();
            for (int i = 0; i < members; i++) {
                Socket r = chatMember(chat, "r" + i);
                r.setSoTimeout(60_000);
                readers.add(r);
            }
            for (Socket r : readers) {
                reading.add(daemon(() -> {
                    if (Arrays.equals(heard, readExactly(r, heard.length))) {
                        complete.incrementAndGet();
                    }
                }));
            }
            byte[] flood = flood(65536, lines);
            daemon(() -> flooder.getOutputStream().write(flood));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(40);
            int pings = 0;
            while (complete.get() < members && System.nanoTime() < deadline) {
                long start = System.nanoTime();
                assertBytes(bytes("ping\n"), roundTrip(server.port, bytes("ping\n")), "echo during the flood");
                try (Socket q = connect(server.port("quote"))) {
                    assertBytes(bytes("An apple a day keeps the doctor away\r\n"), readToEnd(q), "quote during the flood");
                }
                long millis = (System.nanoTime() - start) / 1_000_000;
                check(millis < 1000, "an echo and a quote took " + millis + " ms during the chat's flood");
                pings++;
            }
            for (Thread t : reading) {
                t.join(1000);
            }
            check(complete.get() == members, complete.get() + " of " + members + " members got the flood whole");
            check(pings > 0, "no echo during the flood");
        }
    }

    /** Attack 5: a sender whose lines grow on the way out is slowed to the readers' pace; no reader is cut off. */
    static void chatAmplification() throws Exception {
        try (Server server = Server.start("--chat", "0", "--quiet")) {
            int port = server.port("chat");
            Socket sender = connect(port);
            expect(sender, "What's your name?\r\n");
            byte[] ff = new byte[16382];
            Arrays.fill(ff, (byte) 0xff);
            sender.getOutputStream().write(ff);
            send(sender, "\n");
            String name = "n".repeat(32);
            byte[] reply = readExactly(sender, "Names are at most 32 characters, please choose another.\r\n".length());
            check(new String(reply, StandardCharsets.UTF_8).startsWith("Names are"), "a long name was taken");
            int members = 50, lines = 200_000;
            byte[] heard = bytes(("<" + name + "> x\r\n").repeat(lines));
            List<Thread> reading = new ArrayList<>();
            AtomicLong complete = new AtomicLong();
            List<String> failures = Collections.synchronizedList(new ArrayList<>());
            for (int i = 0; i < members; i++) {
                Socket r = chatMember(port, "r" + i);
                r.setSoTimeout(40_000);
                reading.add(daemon(() -> {
                    try {
                        assertBytes(heard, readExactly(r, heard.length), "a reader");
                        complete.incrementAndGet();
                    } catch (AssertionError e) {
                        failures.add(e.getMessage());
                    }
                }));
            }
            send(sender, name + "\n");
            expect(sender, "Welcome, " + name + "!\r\n");
            byte[] flood = flood(2000, lines);
            daemon(() -> sender.getOutputStream().write(flood));
            for (Thread t : reading) {
                t.join(45_000);
            }
            check(complete.get() == members, complete.get() + " of " + members + " readers got everything; "
                    + (failures.isEmpty() ? "" : failures.get(0)));
        }
    }

    static void threeServices() throws Exception {
        try (Server server = Server.start("--qotd", "0", "--chat", "0", "--quiet")) {
            int chat = server.port("chat");
            Socket a = chatMember(chat, "a");
            Socket b = chatMember(chat, "b");
            String text = "z".repeat(100);
            byte[] heard = bytes("<a> " + text + "\r\n");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
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
                    assertBytes(bytes("An apple a day keeps the doctor away\r\n"), readToEnd(q), "quote while the chat is busy");
                }
                long took = (System.nanoTime() - start) / 1_000_000;
                check(took < 1000, "an echo and a quote took " + took + " ms while the chat was busy");
                pings++;
            }
            talker.join(5000);
            check(received.get() > 1000, "the chat carried only " + received.get() + " lines meanwhile");
            check(pings > 3, "only " + pings + " echoes in 3 s");
            check(wrong.get() == 0, wrong.get() + " chat lines differed from what was sent");
        }
    }

    static void verboseEscapes() throws Exception {
        try (Server verbose = Server.start("--verbose")) {
            String line = "a\u0085b\u009bc\u2028d\u2029e\u202ef\u2066g\u0007h\u007f\n";
            roundTrip(verbose.port, bytes(line));
            verbose.awaitLog("sent a line: a\\u0085b\\u009bc\\u2028d\\u2029e\\u202ef\\u2066g\\x07h\\x7f\\n ("
                    + bytes(line).length + " bytes)", 5000);
            byte[] notUtf8 = {(byte) 0xff, (byte) 0xfe, '\\', (byte) 0xef, (byte) 0xbf, (byte) 0xbd, (byte) 0xe2, '\n'};
            roundTrip(verbose.port, notUtf8); // two bytes that are not UTF-8, a backslash, a real U+FFFD, a lone lead
            verbose.awaitLog("sent a line: \\xff\\xfe\\\\\ufffd\\xe2\\n (8 bytes)", 5000);
        }
    }

    /** Checks that the log holds lines matching each pattern, in this order (other lines between them). */
    static void inOrder(String log, List<String> patterns) {
        String[] lines = log.split("\n");
        int at = 0;
        for (String pattern : patterns) {
            Pattern p = Pattern.compile(pattern);
            while (at < lines.length && !p.matcher(lines[at]).find()) {
                at++;
            }
            check(at < lines.length, "the trace has no line matching '" + pattern + "' where expected; the trace:\n" + log);
            at++;
        }
    }

    static void trace() throws Exception {
        try (Server server = Server.start("--trace")) {
            try (Socket a = connect(server.port)) {
                assertBytes(bytes("hello\n"), roundTrip(a, bytes("hello\n")), "echo");
                a.getOutputStream().write(bytes("partial"));
                server.awaitLog("holds 7 bytes of an unfinished line", 5000);
                // A client that does not read: its echoes outgrow the kernel's buffers, a write is short.
                try (Socket b = new Socket()) {
                    b.setReceiveBufferSize(4096);
                    b.connect(new InetSocketAddress(LOOPBACK, server.port), 5000);
                    b.setSoTimeout(20_000);
                    byte[] data = lines(new Random(13), 16 << 20, 50, 500);
                    Thread writer = daemon(() -> b.getOutputStream().write(data));
                    server.awaitLog("connection #2  unsent", 20_000);
                    byte[] back = readExactly(b, data.length);
                    writer.join(5000);
                    assertBytes(data, back, "the slow reader's echo");
                }
                a.shutdownOutput();
                assertBytes(bytes("partial"), readToEnd(a), "the held line at half-close");
            }
            server.awaitLog("connection #1  -> EchoService.connectionLost", 5000);
            String log = server.log();
            inOrder(log, List.of(
                    "reactor +select: 1 ready",
                    "reactor +dispatch accept -> acceptor \\(echo\\)",
                    "acceptor +accept 127\\.0\\.0\\.1:\\d+",
                    "acceptor +make service handler: EchoService",
                    "acceptor +activate connection #1",
                    "connection #1 +-> EchoService\\.connectionMade",
                    "reactor +dispatch read -> connection #1",
                    "facade #1 +read 6 bytes",
                    "connection #1 +1 whole line \\(6 bytes\\) -> EchoService\\.linesReceived",
                    "facade #1 +write 6 of 6 bytes",
                    "facade #1 +read 7 bytes",
                    "connection #1 +holds 7 bytes of an unfinished line",
                    "acceptor +activate connection #2",
                    "connection #2 +queues \\d+ bytes",
                    "reactor +interest of connection #2: read\\+write",
                    "connection #2 +unsent \\d+ >= high-water 65536: stop reading",
                    "reactor +interest of connection #2: write",
                    "reactor +dispatch write -> connection #2",
                    "connection #2 +unsent \\d+ <= low-water 32768: read again",
                    "facade #1 +read: end of input",
                    "connection #1 +half-close: 7 bytes held",
                    "connection #1 +a piece \\(7 bytes\\) -> EchoService\\.linesReceived",
                    "facade #1 +write 7 of 7 bytes",
                    "connection #1 +close",
                    "reactor +remove connection #1 -> handleClose",
                    "facade #1 +close",
                    "connection #1 +-> EchoService\\.connectionLost"));
            Matcher shortWrite = Pattern.compile("facade #2 +write (\\d+) of (\\d+) bytes").matcher(log);
            boolean partial = false;
            while (shortWrite.find()) {
                partial |= Long.parseLong(shortWrite.group(1)) < Long.parseLong(shortWrite.group(2));
            }
            check(partial, "no short write traced for the client that did not read");
        }
        try (Server plain = Server.start()) {
            roundTrip(plain.port, bytes("quiet please\n"));
            Thread.sleep(200);
            check(!plain.log().contains("dispatch") && !plain.log().contains("facade"), "tracing without --trace:\n" + plain.tail(5));
        }
    }

    // ================================================================ the client

    static List<String> client(String... args) {
        List<String> command = new ArrayList<>(List.of(java, "-cp", classes.toString(), "EchoClient"));
        command.addAll(List.of(args));
        return command;
    }

    static void clientMessage() throws Exception {
        String port = String.valueOf(server().port);
        Result r = run(client("--port", port, "hello"), 20_000);
        check(r.status == 0, "exit status " + r.status + ": " + r.stderr);
        check(r.stdout.equals("hello\n"), "stdout was: '" + r.stdout + "'");
        Result words = run(client("--host", LOOPBACK, "--port", port, "two", "words"), 20_000);
        check(words.stdout.equals("two words\n") && words.status == 0, "stdout was: '" + words.stdout + "'");
    }

    static void clientUtf8() throws Exception {
        String text = "hello wörld ✓ 日本語";
        Result r = run(client("--port", String.valueOf(server().port), text), 20_000);
        check(r.status == 0, "exit status " + r.status + ": " + r.stderr);
        assertBytes(bytes(text + "\n"), r.stdoutBytes, "client output");
    }

    static void clientInteractive() throws Exception {
        byte[] typed = bytes("one\ntwo ✓\nno newline at the end");
        Result r = run(client("--port", String.valueOf(server().port)), typed, 20_000);
        check(r.status == 0, "exit status " + r.status + ": " + r.stderr);
        assertBytes(typed, r.stdoutBytes, "client output");
    }

    static void clientNoServer() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort(); // free now, and nothing listens on it once closed
        }
        Result r = run(client("--port", String.valueOf(port), "hello"), 20_000);
        check(r.status == 1, "exit status " + r.status);
        check(r.stderr.equals("echo-client: cannot connect to localhost:" + port + ": connection refused\n"), "stderr was: " + r.stderr);
        check(r.stdout.isEmpty(), "stdout was: " + r.stdout);
    }

    static void clientBadArgs() throws Exception {
        Result r = run(client("--port", "abc", "hello"), 20_000);
        check(r.status == 2, "exit status " + r.status);
        check(r.stderr.startsWith("echo-client: invalid value 'abc' for --port"), "stderr was: " + r.stderr);
        check(!r.stderr.contains("Exception"), "stack trace: " + r.stderr);
    }

    static void clientEachAddress() throws Exception {
        boolean ipv6;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getByName("::1"))) {
            ipv6 = probe.getLocalPort() > 0;
        } catch (IOException e) {
            ipv6 = false;
        }
        List<String> hosts = ipv6 ? List.of("::1", LOOPBACK) : List.of(LOOPBACK);
        for (String host : hosts) {
            try (Server server = Server.start("--host", host)) {
                Result r = run(client("--host", "localhost", "--port", String.valueOf(server.port), "via " + host), 20_000);
                check(r.status == 0, "server on " + host + ": exit status " + r.status + ": " + r.stderr);
                check(r.stdout.equals("via " + host + "\n"), "server on " + host + ": stdout was: " + r.stdout);
            }
        }
        if (!ipv6) {
            throw new Skip("no IPv6 loopback: only the server on 127.0.0.1 was tried");
        }
    }

    /** The client's CPU time so far, from /proc (Linux). */
    static long cpuMillis(Process p) throws IOException {
        String stat = Files.readString(proc(p.pid() + "/stat"));
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return (Long.parseLong(fields[11]) + Long.parseLong(fields[12])) * 10;
    }

    static void clientSilentServer() throws Exception {
        try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getByName(LOOPBACK))) {
            Process p = new ProcessBuilder(client("--host", LOOPBACK, "--port", String.valueOf(silent.getLocalPort()), "anyone there?"))
                    .directory(root.toFile()).start();
            try {
                silent.setSoTimeout(20_000);
                try (Socket s = silent.accept()) {
                    s.setSoTimeout(10_000);
                    assertBytes(bytes("anyone there?\n"), readToEnd(s), "what the client sent before half-closing");
                    Thread.sleep(300);
                    long cpu = cpuMillis(p);
                    Thread.sleep(2000);
                    long used = cpuMillis(p) - cpu;
                    check(p.isAlive(), "the client did not wait for the reply");
                    check(used < 200, "the waiting client used " + used + " ms of CPU in 2 s");
                }
            } finally {
                p.destroyForcibly();
                p.waitFor(5, TimeUnit.SECONDS);
            }
        }
    }

    static void clientPipe() throws Exception {
        byte[] input = lines(new Random(21), 10 << 20, 1, 300);
        Result r = run(client("--port", String.valueOf(server().port)), input, 60_000);
        check(r.status == 0, "exit status " + r.status + ": " + r.stderr);
        assertBytes(input, r.stdoutBytes, "10 MiB through interactive mode");
    }

    static void clientConnectTimeout() throws Exception {
        // A listener whose accept queue is full: the kernel drops new handshakes, so a
        // connect gets no answer at all. Loopback only.
        try (ServerSocket full = new ServerSocket(0, 1, InetAddress.getByName(LOOPBACK))) {
            List<SocketChannel> fillers = new ArrayList<>();
            try {
                for (int i = 0; i < 4; i++) {
                    SocketChannel c = SocketChannel.open();
                    resources.add(c);
                    c.configureBlocking(false);
                    c.connect(new InetSocketAddress(LOOPBACK, full.getLocalPort()));
                    fillers.add(c);
                }
                Thread.sleep(300);
                long start = System.nanoTime();
                Result r = run(client("--host", LOOPBACK, "--port", String.valueOf(full.getLocalPort()), "hello"), 20_000);
                double took = (System.nanoTime() - start) / 1e9;
                check(r.status == 1, "exit status " + r.status + ": " + r.stderr);
                check(r.stderr.equals("echo-client: cannot connect to " + LOOPBACK + ":" + full.getLocalPort() + ": timed out\n"),
                        "stderr was: " + r.stderr);
                check(took > 4.5 && took < 10, "gave up after " + took + " s");
            } finally {
                for (SocketChannel c : fillers) {
                    c.close();
                }
            }
        }
    }

    static void clientServerClosesFirst() throws Exception {
        try (Server server = Server.start("--idle-timeout", "1")) {
            Process p = new ProcessBuilder(client("--host", LOOPBACK, "--port", String.valueOf(server.port)))
                    .directory(root.toFile()).start();
            try {
                p.getOutputStream().write(bytes("typed\n"));
                p.getOutputStream().flush(); // standard input stays open: the user could still type
                check(p.waitFor(10, TimeUnit.SECONDS), "the client did not notice that the server closed");
                String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                check(p.exitValue() == 0, "exit status " + p.exitValue());
                check(err.equals("echo-client: connected to " + LOOPBACK + ":" + server.port + " (Ctrl-D ends)\n"
                        + "echo-client: the server closed the connection\n"), "stderr was: " + err);
                check(out.equals("typed\n"), "stdout was: " + out);
            } finally {
                p.destroyForcibly();
            }
        }
        try (Server server = Server.start("--qotd", "0")) { // the quote closes at once: five runs, the same end
            String quotePort = String.valueOf(server.port("quote"));
            for (int i = 0; i < 5; i++) {
                Result r = run(client("--host", LOOPBACK, "--port", quotePort), 20_000);
                check(r.status == 0, "run " + i + ": exit status " + r.status + ": " + r.stderr);
                check(r.stdout.equals("An apple a day keeps the doctor away\r\n"), "stdout was: " + r.stdout);
                check(r.stderr.endsWith("echo-client: the server closed the connection\n")
                        || r.stderr.endsWith("(Ctrl-D ends)\n"), "stderr was: " + r.stderr);
            }
        }
    }

    /** Its standard output gone, the client stops at once, non-zero, in one line; as cat does. */
    static void clientOutputGone() throws Exception {
        String port = String.valueOf(server().port);
        String client = String.join(" ", client("--host", LOOPBACK, "--port", port).stream().map(a -> "'" + a + "'")
                .toList());
        Result piped = run(List.of("bash", "-c", "yes | " + client + " | head -1; echo \"client ${PIPESTATUS[1]}\" >&2"),
                20_000);
        check(piped.stdout.equals("y\n"), "stdout was: " + piped.stdout);
        check(piped.stderr.equals("echo-client: connected to " + LOOPBACK + ":" + port + " (Ctrl-D ends)\n"
                + "echo-client: cannot write to standard output\nclient 1\n"), "stderr was: " + piped.stderr);
        Result closed = run(List.of("bash", "-c", client + " hello >&-; echo \"client $?\" >&2"), 20_000);
        check(closed.stderr.equals("echo-client: cannot write to standard output\nclient 1\n"),
                "with standard output closed, stderr was: " + closed.stderr);
    }

    /** --timeout: a server that accepts and never answers is given up on, in one line, exit 1. */
    static void clientTimeout() throws Exception {
        try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getByName(LOOPBACK))) { // never accepts
            long start = System.nanoTime();
            Result r = run(client("--host", LOOPBACK, "--port=" + silent.getLocalPort(), "--timeout=1", "hello"),
                    20_000);
            long millis = (System.nanoTime() - start) / 1_000_000;
            check(r.status == 1, "exit status " + r.status + ": " + r.stderr);
            check(r.stderr.equals("echo-client: connection lost: nothing from the server for 1 s: giving up\n"),
                    "stderr was: " + r.stderr);
            check(millis < 8000, "gave up after " + millis + " ms");
        }
    }

    /** One form for an address everywhere: [::1]:8000, in the client's errors and trace and in the server's log. */
    static void addressForm() throws Exception {
        int port;
        try (ServerSocket probe = new ServerSocket(0, 50, InetAddress.getByName("::1"))) {
            port = probe.getLocalPort();
        }
        Result refused = run(client("--host", "::1", "--port", String.valueOf(port), "hi"), 20_000);
        check(refused.stderr.equals("echo-client: cannot connect to [::1]:" + port + ": connection refused\n"),
                "stderr was: " + refused.stderr);
        try (Server server = Server.start("--host", "localhost", "--chat", "0")) {
            String both = "echo server listening on (\\[::1\\]:(\\d+) and 127\\.0\\.0\\.1|127\\.0\\.0\\.1:(\\d+) and \\[::1\\]):"
                    + server.port + "\n";
            check(server.stdout().matches("(?s)" + both + ".*"),
                    "--host localhost: stdout was " + server.stdout());
            for (String host : List.of("::1", LOOPBACK)) {
                Result r = run(client("--host", host, "--port", String.valueOf(server.port), "--trace", "hi"), 20_000);
                check(r.status == 0 && r.stdout.equals("hi\n"), "via " + host + ": " + r.status + " " + r.stderr);
                String shown = host.equals("::1") ? "[::1]:" + server.port : host + ":" + server.port;
                check(r.stderr.contains("connector   connected to " + shown + "\n"), "the trace: " + r.stderr);
                for (String line : r.stderr.split("\n")) {
                    check(TIMESTAMP.matcher(line).find(), "a trace line without its time: " + line);
                }
            }
            server.awaitLog("echo connection from [::1]:", 5000);
            server.awaitLog("echo connection from 127.0.0.1:", 5000);
            try (Socket chat = connect(server.port("chat"))) {
                expect(chat, "What's your name?\r\n");
            }
            server.awaitLog("chat connection from 127.0.0.1:", 5000);
        }
    }

    /** The same option forms as the server's; -h is --help. */
    static void clientOptionForms() throws Exception {
        String port = String.valueOf(server().port);
        Result r = run(client("--port=" + port, "--host=" + LOOPBACK, "same"), 20_000);
        check(r.status == 0 && r.stdout.equals("same\n") && r.stderr.isEmpty(), r.status + " " + r.stdout + r.stderr);
        Result help = run(client("-h"), 20_000);
        check(help.status == 0 && help.stdout.startsWith("usage: java EchoClient.java"), "-h: " + help.stdout);
        for (String bad : List.of("--timeout=0", "--timeout=abc", "--trace=yes", "--port=", "--host=")) {
            Result b = run(client(bad, "x"), 20_000);
            check(b.status == 2 && b.stderr.startsWith("echo-client: ") && !b.stderr.contains("Exception"),
                    bad + ": exit status " + b.status + ", " + b.stderr);
        }
    }

    /**
     * The client under every descriptor limit from "too few to start Java" upwards: wherever its
     * descriptors run out (the selector, the socket, closing one that failed) it says so in one
     * line and exits 1, never with a stack trace.
     */
    static void clientOutOfDescriptors() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort(); // nothing listens there once closed: each address refuses
        }
        List<String> outcomes = new ArrayList<>();
        int refusedInARow = 0;
        for (int limit = 5; limit <= 40 && refusedInARow < 3; limit++) {
            List<String> command = new ArrayList<>(List.of("bash", "-c", "ulimit -n " + limit + " && exec \"$@\"", "bash"));
            command.addAll(client("--port", String.valueOf(port), "hello"));
            Result r = run(command, 20_000);
            if (r.stderr.contains("NoClassDefFoundError") || r.stderr.contains("initialization of VM")) {
                continue; // too few for the JVM to load the client at all: not the client's to handle
            }
            String where = "with ulimit -n " + limit + ": ";
            check(!r.stderr.contains("Exception") && !r.stderr.contains("\tat ") && !r.stderr.contains("Error"),
                    where + "a stack trace:\n" + r.stderr);
            check(r.status == 1, where + "exit status " + r.status + ": " + r.stderr);
            check(r.stderr.startsWith("echo-client: ")
                    && r.stderr.indexOf('\n') == r.stderr.length() - 1, where + "stderr was: " + r.stderr);
            refusedInARow = r.stderr.endsWith(": connection refused\n") ? refusedInARow + 1 : 0;
            outcomes.add(limit + ": " + r.stderr.trim());
        }
        check(outcomes.stream().anyMatch(o -> !o.endsWith("connection refused")),
                "no limit ran the client out of descriptors once Java had started: " + outcomes);
        check(refusedInARow == 3, "the client never got as far as a refused connect: " + outcomes);
    }

    static void clientTrace() throws Exception {
        Result r = run(client("--port", String.valueOf(server().port), "--trace", "traced"), 20_000);
        check(r.status == 0 && r.stdout.equals("traced\n"), "exit status " + r.status + ", stdout " + r.stdout + r.stderr);
        inOrder(r.stderr, List.of(
                "connector +connect ",
                "connector +connected to ",
                "connector +make service handler: MessageService",
                "connector +activate connection",
                "connection +-> MessageService\\.connectionMade",
                "facade +write 7 of 7 bytes",
                "facade +shutdown output",
                "reactor +dispatch read -> connection",
                "facade +read 7 bytes",
                "connection +-> MessageService\\.dataReceived \\(7 bytes\\)",
                "facade +read: end of input",
                "connection +-> MessageService\\.connectionLost",
                "reactor +stop \\(exit status 0\\)"));
    }

    // ================================================================ the exercises

    /**
     * Applies exercises/NAME.patch to a copy of EchoServer.java in a directory of its own, checks that every line it
     * adds or removes (blank ones aside) lies inside the members the exercise names (classes, with their comments and
     * annotations, or methods written "name()"), compiles the copy, and returns the directory (classes in "classes").
     */
    static Path exercise(String name, List<String> touches) throws Exception {
        Path dir = Files.createTempDirectory("exercise-" + name);
        Files.copy(root.resolve("EchoServer.java"), dir.resolve("EchoServer.java"));
        Path patch = root.resolve("exercises/" + name + ".patch");
        ProcessBuilder apply = new ProcessBuilder("git", "apply", patch.toString()).directory(dir.toFile())
                .redirectErrorStream(true);
        Process p = apply.start();
        String said = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        check(p.waitFor(20, TimeUnit.SECONDS) && p.exitValue() == 0, name + ".patch no longer applies to EchoServer.java"
                + " (refresh it): " + said);
        List<String> patched = Files.readAllLines(dir.resolve("EchoServer.java"));
        List<int[]> ranges = new ArrayList<>();
        for (String member : touches) {
            int[] range = locate(patched, member);
            check(range != null, name + ": no " + member + " in the patched file");
            int first = range[0];
            while (first > 1 && patched.get(first - 2).trim().matches("(/\\*\\*|\\*|//).*")) {
                first--; // the comment above a member belongs to it
            }
            ranges.add(new int[] {first, range[1]});
        }
        // Each hunk is found where it landed in the patched file (git apply allows an offset), by its new side.
        List<List<String>> hunks = new ArrayList<>();
        for (String line : Files.readAllLines(patch)) {
            if (line.startsWith("@@")) {
                hunks.add(new ArrayList<>());
            } else if (!hunks.isEmpty() && !line.startsWith("+++") && !line.startsWith("---")) {
                hunks.get(hunks.size() - 1).add(line);
            }
        }
        for (List<String> hunk : hunks) {
            List<String> newSide = hunk.stream().filter(l -> !l.startsWith("-")).map(l -> l.isEmpty() ? "" : l.substring(1))
                    .toList();
            int at = Collections.indexOfSubList(patched, newSide);
            check(at >= 0, name + ".patch: a hunk is not in the patched file");
            int newLine = at + 1;
            for (String line : hunk) {
                if (line.startsWith("+") || line.startsWith("-")) {
                    int where = newLine;
                    boolean inside = line.substring(1).isBlank() || ranges.stream().anyMatch(r -> where >= r[0] && where <= r[1]);
                    check(inside, name + ".patch changes line " + where + " of the patched file, outside " + touches + ": "
                            + line);
                }
                newLine += line.startsWith("-") ? 0 : 1;
            }
        }
        JavaCompiler compiler = ToolProvider.getSystemJavaCompiler();
        int status = compiler.run(null, null, null, "-d", dir.resolve("classes").toString(), "-Xlint:all", "-Werror",
                dir.resolve("EchoServer.java").toString());
        check(status == 0, name + ": the patched EchoServer.java does not compile");
        return dir;
    }

    static void exerciseCounting() throws Exception {
        Path dir = exercise("01-counting-echo", List.of("CountingFactory", "CountingEchoService", "main()"));
        try (Server server = Server.startIn(dir)) {
            Socket a = connect(server.port);
            expect(a, "Welcome! There are currently 1 open connections.\n");
            Socket b = connect(server.port);
            expect(b, "Welcome! There are currently 2 open connections.\n");
            assertBytes(bytes("hello\n"), roundTrip(a, bytes("hello\n")), "the counting echo's echo");
            a.close();
            server.awaitLog("closed (1 open)", 5000);
            Socket c = connect(server.port);
            expect(c, "Welcome! There are currently 2 open connections.\n");
        }
        Result roles = run(List.of(java, "-cp", dir.resolve("classes").toString(), "EchoServer", "--roles"), 20_000);
        check(roles.stdout.contains("\nCountingEchoService: @ServiceHandler: Plays the service handler role"),
                "--roles does not show the exercise's new service handler:\n" + roles.stdout);
    }

    static void exerciseAnswer() throws Exception {
        Path dir = exercise("02-answer", List.of("AnswerService", "main()"));
        try (Server server = Server.startIn(dir); Socket s = connect(server.port)) {
            send(s, "How are you?\r\nWhat's up?\nHow are you?\n");
            expect(s, "Fine\r\nI don't know what you mean\r\nFine\r\n");
        }
    }

    static void exerciseLogfile() throws Exception {
        Path dir = exercise("03-logfile", List.of("LogfileFactory", "LoggingService", "main()"));
        Path log = dir.resolve("lines.log");
        String[][] runs = {{"one\ntwo\n", "three\r\n"}, {"four\n", ""}};
        StringBuilder expected = new StringBuilder();
        for (String[] sent : runs) {
            try (Server server = Server.startIn(dir)) {
                check(Files.exists(log), "the file is not open once the server listens (startFactory)");
                for (String lines : sent) {
                    try (Socket s = connect(server.port)) {
                        send(s, lines);
                        s.shutdownOutput();
                        readToEnd(s);
                    }
                    expected.append(lines.replace("\r", ""));
                }
                run(List.of("kill", "-TERM", String.valueOf(server.pid())), 5000);
                check(server.process.waitFor(2, TimeUnit.SECONDS), "still running 2 s after SIGTERM");
            }
            check(Files.readString(log).equals(expected.toString()), "lines.log holds:\n" + Files.readString(log));
        }
        Path blocked = Files.createTempDirectory("blocked"); // where lines.log cannot be opened: one line, exit 1
        Files.createDirectory(blocked.resolve("lines.log"));
        Process p = new ProcessBuilder(java, "-cp", dir.resolve("classes").toString(), "EchoServer", "--port", "0")
                .directory(blocked.toFile()).redirectErrorStream(true).start();
        check(p.waitFor(20, TimeUnit.SECONDS), "a server whose log file cannot be opened did not end");
        String said = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        check(p.exitValue() == 1 && said.contains("echo-server: cannot start the echo service: ")
                && !said.contains("\tat "), "exit status " + p.exitValue() + ":\n" + said);
    }

    static void exerciseWho() throws Exception {
        Path dir = exercise("04-who", List.of("ChatRoom", "ChatService"));
        try (Server server = Server.startIn(dir, "--chat", "0")) {
            int port = server.port("chat");
            Socket alice = chatMember(port, "alice");
            Socket bob = chatMember(port, "bob");
            send(bob, "/who\n");
            expect(bob, "In the room: alice, bob\r\n");
            send(bob, "hi\n");
            expect(alice, "<bob> hi\r\n"); // and not the /who before it
        }
    }

    static void exerciseReactors() throws Exception {
        Path dir = exercise("05-reactors", List.of("main()", "SelectorReactor", "SocketAcceptor", "listen()"));
        int cores = Runtime.getRuntime().availableProcessors();
        try (Server server = Server.startIn(dir, "--chat", "0")) {
            Set<String> threads = new LinkedHashSet<>();
            try (var tasks = Files.list(proc(server.pid() + "/task"))) {
                for (Path task : tasks.toList()) {
                    threads.add(Files.readString(task.resolve("comm")).trim());
                }
            }
            for (int i = 1; i <= cores; i++) {
                check(threads.contains("reactor-" + i), "no thread reactor-" + i + " among " + threads);
            }
            List<Thread> clients = new ArrayList<>();
            AtomicLong right = new AtomicLong();
            for (int i = 0; i < 40; i++) {
                byte[] message = lines(new Random(i), 200_000, 1, 100);
                clients.add(daemon(() -> {
                    if (Arrays.equals(message, roundTrip(server.port, message))) {
                        right.incrementAndGet();
                    }
                }));
            }
            for (Thread t : clients) {
                t.join(20_000);
            }
            check(right.get() == 40, right.get() + " of 40 clients got their echo whole");
            Socket member = chatMember(server.port("chat"), "alice"); // the chat still on the accepting reactor
            List<Socket> open = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                open.add(connect(server.port));
            }
            assertBytes(bytes("last\n"), roundTrip(open.get(49), bytes("last\n")), "the 50th open connection");
            long start = System.nanoTime();
            run(List.of("kill", "-TERM", String.valueOf(server.pid())), 5000);
            check(server.process.waitFor(2, TimeUnit.SECONDS), "still running 2 s after SIGTERM");
            server.drain();
            int closed = 0;
            for (Matcher m = Pattern.compile("stopped: closed (\\d+) connection").matcher(server.log()); m.find(); ) {
                closed += Integer.parseInt(m.group(1));
            }
            check(closed == 51, "the reactors closed " + closed + " connections, not 51:\n" + server.tail(cores + 2));
            System.out.printf("     (%d reactors serve; exited %.2f s after SIGTERM)%n", cores,
                    (System.nanoTime() - start) / 1e9);
            closeAll(open);
            member.close();
        }
    }

    static void serviceNames() throws Exception {
        Path database = Files.createTempFile("services", "");
        Files.writeString(database, String.join("\n", "# a services database", "echo\t\t7/tcp",
                "echo\t\t7/udp", "qotd\t\t17/tcp\t\tquote\t# the quote of the day", "ssh\t\t22/tcp",
                "http\t\t80/tcp\t\twww", "bogus\t\t99999/tcp", "alt\t\t8000/tcp", ""));
        List<String> command = List.of(java, "-Dservices.database=" + database, "exercises/ServiceNames.java");
        Result some = run(concat(command, List.of("5", "80")), 30_000);
        check(some.status == 0 && some.stdout.equals("7/tcp echo\n7/udp echo\n17/tcp qotd quote\n22/tcp ssh\n"
                + "80/tcp http www\n"), "5 to 80: " + some.status + "\n" + some.stdout + some.stderr);
        Result defaults = run(command, 30_000);
        check(defaults.stdout.equals("7/tcp echo\n7/udp echo\n17/tcp qotd quote\n22/tcp ssh\n80/tcp http www\n"),
                "the default range, 1 to 1023: " + defaults.stdout);
        Result high = run(concat(command, List.of("1024")), 30_000);
        check(high.status == 0 && high.stdout.isEmpty(), "1024 alone: " + high.stdout + high.stderr);
        for (List<String> bad : List.of(List.of("-1"), List.of("65536"), List.of("80", "7"), List.of("x"),
                List.of("1", "2", "3"), List.of("٣"))) {
            Result r = run(concat(command, bad), 30_000);
            check(r.status == 2 && r.stderr.startsWith("service-names: ") && !r.stderr.contains("Exception"),
                    bad + ": exit status " + r.status + ", " + r.stderr);
        }
        Result none = run(List.of(java, "-Dservices.database=/nonexistent/services", "exercises/ServiceNames.java"),
                30_000);
        check(none.status == 1 && none.stderr.equals("service-names: no services database here"
                + " (/nonexistent/services does not exist)\n"), "no database: " + none.status + " " + none.stderr);
        Files.delete(database);
    }

    // ================================================================ the lesson

    static void sourceLauncher() throws Exception {
        try (Server server = Server.startFromSource()) {
            Result r = run(List.of(java, root.resolve("EchoClient.java").toString(), "--port", String.valueOf(server.port), "from source"), 60_000);
            check(r.status == 0, "client exit status " + r.status + ": " + r.stderr);
            check(r.stdout.equals("from source\n"), "stdout was: " + r.stdout);
        }
    }

    /** Which classes carry which role annotation: the structure PATTERNS.md describes. */
    static final Map<String, List<String>> ROLES = Map.of(
            "Reactor", List.of("SelectorReactor"),
            "Acceptor", List.of("SocketAcceptor"),
            "ConcreteEventHandler", List.of("Connection", "SocketAcceptor"),
            "ServiceHandler", List.of("EchoService", "QuoteService", "ChatService"),
            "WrapperFacade", List.of("ListeningSocket", "SocketStream"));

    /** The same for the client, whose connector is the other half of Acceptor-Connector. */
    static final Map<String, List<String>> CLIENT_ROLES = Map.of(
            "Reactor", List.of("SelectorReactor"),
            "Connector", List.of("SocketConnector"),
            "ConcreteEventHandler", List.of("Connection", "SocketConnector"),
            "ServiceHandler", List.of("InteractiveService", "MessageService"),
            "WrapperFacade", List.of("ConnectingSocket", "SocketStream"));

    /** The role annotations, their values, --roles and PATTERNS.md agree; each sentence is said once in the code. */
    static void roles() throws Exception {
        String rolesOutput = annotatedRoles("EchoServer", ROLES);
        annotatedRoles("EchoClient", CLIENT_ROLES);
        Result r = run(List.of(java, "-cp", classes.toString(), "EchoServer", "--roles"), 20_000);
        check(r.status == 0, "--roles exit status " + r.status);
        List<String> printed = new ArrayList<>(List.of(r.stdout.split("\n")));
        List<String> wanted = new ArrayList<>(List.of(rolesOutput.split("\n")));
        Collections.sort(printed);
        Collections.sort(wanted);
        check(printed.equals(wanted), "--roles printed:\n" + r.stdout + "expected:\n" + rolesOutput);
        for (String service : List.of("EchoService", "QuoteService", "ChatService")) {
            check(r.stdout.contains(service + ": @ServiceHandler: "), "--roles does not list the service " + service);
        }
    }

    /** Checks one program's role annotations against the expected classes and PATTERNS.md; returns "Class: @Role: sentence" lines. */
    static String annotatedRoles(String program, Map<String, List<String>> roles) throws Exception {
        // a sentence may be written as "…" + "…" over several lines: read it as one string
        String source = Files.readString(root.resolve(program + ".java")).replaceAll("\"\\s*\\+\\s*\"", "");
        String patterns = Files.readString(root.resolve("PATTERNS.md"));
        StringBuilder output = new StringBuilder();
        Map<String, List<String>> found = new LinkedHashMap<>();
        try (URLClassLoader loader = new URLClassLoader(new URL[] {classes.toUri().toURL()}, null)) {
            for (Class<?> type : loader.loadClass(program).getDeclaredClasses()) {
                for (Annotation a : type.getAnnotations()) {
                    String role = a.annotationType().getSimpleName();
                    if (!roles.containsKey(role)) {
                        continue;
                    }
                    String name = program + "." + type.getSimpleName();
                    check(a.annotationType().getAnnotation(java.lang.annotation.Retention.class) != null, role + " not kept at run time");
                    Method value = a.annotationType().getDeclaredMethod("value");
                    value.setAccessible(true); // the annotation types are package-private, as nested types
                    String sentence = (String) value.invoke(a);
                    found.computeIfAbsent(role, r -> new ArrayList<>()).add(type.getSimpleName());
                    output.append(type.getSimpleName()).append(": @").append(role).append(": ").append(sentence).append('\n');
                    check(sentence.startsWith("Plays the "), name + "'s role sentence should say which role it plays");
                    check(count(source, sentence) == 1, name + "'s role sentence should stand once in " + program + ".java, in its annotation");
                    check(oneLine(patterns).contains(sentence), "PATTERNS.md does not say, for " + name + ": " + sentence);
                }
            }
        }
        for (List<String> types : found.values()) {
            Collections.sort(types);
        }
        Map<String, List<String>> expected = new LinkedHashMap<>();
        roles.forEach((role, types) -> expected.put(role, types.stream().sorted().toList()));
        check(found.equals(expected), program + ": role annotations found: " + found + ", expected " + expected);
        return output.toString();
    }

    static final Pattern MEMBER = Pattern.compile("^    (?:[a-z]+ )*(class|interface|record|@interface) (\\w+)");
    static final Pattern CHANNEL_TYPE = Pattern.compile("\\b(SocketChannel|ServerSocketChannel|SelectableChannel|SelectionKey|Selector)\\b");

    /**
     * The measures the lesson is held to: both files short, no line over 120 characters; in the
     * server, Part I (the patterns) within the first 690 lines, its classes each a role class, a
     * role's interface or a small value, none over 220 lines, at most 12 of its code lines about
     * the trace; in both files, the JDK's channel types only inside a wrapper facade or the reactor.
     */
    static void lessonShape() throws Exception {
        List<String> problems = new ArrayList<>();
        List<String> server = Files.readAllLines(root.resolve("EchoServer.java"));
        List<String> client = Files.readAllLines(root.resolve("EchoClient.java"));
        expect(problems, server.size() <= 1500, "EchoServer.java has " + server.size() + " lines, more than 1500");
        expect(problems, client.size() <= 720, "EchoClient.java has " + client.size() + " lines, more than 720");
        int partTwo = -1;
        for (int i = 0; i < server.size(); i++) {
            partTwo = partTwo < 0 && server.get(i).matches("    // =+ PART II.*") ? i : partTwo;
        }
        int partOneEnd = partTwo; // the last line of Part I: the one before the blank lines above "PART II"
        while (partOneEnd > 0 && server.get(partOneEnd - 1).isBlank()) {
            partOneEnd--;
        }
        expect(problems, partTwo >= 0 && partOneEnd <= 690, "Part I ends at line " + partOneEnd + ", after line 690");
        int traced = 0;
        boolean inComment = false;
        for (int i = 0; i < partTwo; i++) {
            String code = server.get(i).replaceAll("//.*", "").trim();
            inComment |= code.startsWith("/*");
            traced += !inComment && code.toLowerCase(Locale.ROOT).contains("trace") ? 1 : 0;
            inComment &= !code.contains("*/");
        }
        expect(problems, traced <= 12, traced + " code lines of Part I mention the trace, more than 12");
        for (Map.Entry<String, List<String>> file : Map.of("EchoServer", server, "EchoClient", client).entrySet()) {
            List<String> source = file.getValue();
            boolean[] facadeOrReactor = new boolean[source.size()];
            for (int i = 0; i < source.size(); i++) {
                expect(problems, source.get(i).length() <= 120, file.getKey() + ".java:" + (i + 1) + " is over 120 characters");
                Matcher m = MEMBER.matcher(source.get(i));
                if (!m.find()) {
                    continue;
                }
                int end = closingBrace(source, i);
                String roles = "";
                for (int a = i - 1; a > 0 && source.get(a).matches("    @.*|            .*"); a--) {
                    roles += source.get(a);
                }
                boolean allowed = roles.contains("@WrapperFacade(") || roles.contains("@Reactor(");
                for (int j = i; j <= end; j++) {
                    facadeOrReactor[j] = allowed;
                }
                if (file.getKey().equals("EchoServer") && i < partTwo) {
                    String name = m.group(2) + " (line " + (i + 1) + ")";
                    int size = end - i + 1;
                    expect(problems, size <= 220, name + " is " + size + " lines long, more than 220");
                    expect(problems, !roles.isEmpty() || !m.group(1).equals("class") || size <= 40,
                            name + " is in Part I, but is neither a role class, nor a role's interface, nor a small value");
                }
            }
            boolean inBlock = false;
            for (int i = 0; i < source.size(); i++) {
                String code = source.get(i).replaceAll("\"(\\\\.|[^\"\\\\])*\"", "\"\"").replaceAll("//.*", "").trim();
                inBlock |= code.startsWith("/*");
                boolean comment = inBlock || code.startsWith("*") || code.startsWith("import ");
                inBlock &= !code.contains("*/");
                Matcher channel = CHANNEL_TYPE.matcher(code);
                expect(problems, comment || facadeOrReactor[i] || !channel.find(), file.getKey() + ".java:" + (i + 1)
                        + " uses " + (channel.find(0) ? channel.group() : "") + " outside a wrapper facade and the reactor");
            }
        }
        check(problems.isEmpty(), String.join("; ", problems));
    }

    static void expect(List<String> problems, boolean condition, String problem) {
        if (!condition) {
            problems.add(problem);
        }
    }

    static final Pattern LINK = Pattern.compile("\\[`([^`]+)`\\]\\((Echo(?:Server|Client))\\.java#L(\\d+)(?:-L(\\d+))?\\)");

    /**
     * Each link [`Name`](EchoServer.java#La-Lb) in PATTERNS.md (or into EchoClient.java) must start
     * at Name's declaration (or the annotation just above it) and end at its closing brace. Name is a
     * nested type, a method of one (`Type.method()`), or a top-level member. The message says where it really is.
     */
    static void lineRanges() throws Exception {
        Map<String, List<String>> sources = Map.of(
                "EchoServer", Files.readAllLines(root.resolve("EchoServer.java")),
                "EchoClient", Files.readAllLines(root.resolve("EchoClient.java")));
        String patterns = Files.readString(root.resolve("PATTERNS.md"));
        Matcher m = LINK.matcher(patterns);
        int links = 0;
        Set<String> wrong = new LinkedHashSet<>();
        while (m.find()) {
            links++;
            String name = m.group(1);
            String file = m.group(2) + ".java";
            int from = Integer.parseInt(m.group(3));
            int to = m.group(4) == null ? from : Integer.parseInt(m.group(4));
            int[] actual = locate(sources.get(m.group(2)), name);
            if (actual == null) {
                wrong.add("`" + name + "` is not declared in " + file);
            } else if (from != actual[0] || to != actual[1]) {
                wrong.add("`" + name + "` is at " + file + "#L" + actual[0] + "-L" + actual[1] + ", PATTERNS.md says #L" + from + (m.group(4) == null ? "" : "-L" + to));
            }
        }
        check(links >= 20, "only " + links + " line links in PATTERNS.md");
        check(wrong.isEmpty(), String.join("; ", wrong));
        for (String type : List.of("Events", "EventHandler", "SelectorReactor", "ServiceFactory", "SocketAcceptor",
                "Transport", "Connection", "Service", "EchoService", "QuoteService", "ChatRoom", "ChatService",
                "ListeningSocket", "SocketStream", "Limits", "OutputQueue", "Trace")) {
            check(patterns.contains("[`" + type + "`](EchoServer.java#L"), "PATTERNS.md has no line link for " + type);
        }
        for (String type : List.of("SocketConnector", "SelectorReactor", "Connection", "MessageService", "InteractiveService",
                "ConnectingSocket", "SocketStream")) {
            check(patterns.contains("[`" + type + "`](EchoClient.java#L"), "PATTERNS.md has no line link into EchoClient.java for " + type);
        }
    }

    /**
     * The Mermaid diagrams in PATTERNS.md: every class they name is a type in one of the two programs or a JDK channel
     * type; every class with a role annotation in either program is in a diagram; one diagram is a sequence diagram.
     */
    static void diagrams() throws Exception {
        String patterns = Files.readString(root.resolve("PATTERNS.md"));
        String code = Files.readString(root.resolve("EchoServer.java")) + Files.readString(root.resolve("EchoClient.java"));
        Set<String> named = new LinkedHashSet<>();
        int blocks = 0;
        boolean sequence = false;
        for (Matcher block = Pattern.compile("(?s)```mermaid\n(.*?)```").matcher(patterns); block.find(); ) {
            blocks++;
            sequence |= block.group(1).startsWith("sequenceDiagram");
            for (String line : block.group(1).split("\n")) {
                Matcher m = Pattern.compile("^\\s*(?:class (\\w+)|participant (\\w+)"
                        + "|(\\w+) (?:<\\|\\.\\.|-->|\\.\\.>|o--) (\\w+)"
                        + "|(\\w+)-[->]+(\\w+):)").matcher(line);
                if (m.find()) {
                    for (int g = 1; g <= m.groupCount(); g++) {
                        if (m.group(g) != null) {
                            named.add(m.group(g));
                        }
                    }
                }
            }
        }
        check(blocks >= 4 && sequence, "PATTERNS.md has " + blocks + " Mermaid diagrams" + (sequence ? "" : ", no sequence"));
        List<String> missing = new ArrayList<>();
        for (String name : named) {
            boolean ours = Pattern.compile("\\b(class|interface|record) " + name + "\\b").matcher(code).find();
            boolean jdk;
            try {
                Class.forName("java.nio.channels." + name);
                jdk = true;
            } catch (ClassNotFoundException e) {
                jdk = false;
            }
            if (!ours && !jdk) {
                missing.add(name);
            }
        }
        check(missing.isEmpty(), "the diagrams name classes that do not exist: " + missing);
        Set<String> roleClasses = new LinkedHashSet<>();
        ROLES.values().forEach(roleClasses::addAll);
        CLIENT_ROLES.values().forEach(roleClasses::addAll);
        List<String> undrawn = roleClasses.stream().filter(c -> !named.contains(c)).toList();
        check(undrawn.isEmpty(), "role classes in no diagram: " + undrawn);
    }

    /** The lines [first, last] of a declaration: its annotation (if directly above) to its closing brace. */
    static int[] locate(List<String> source, String name) {
        String type = null;
        String member = name;
        if (name.contains(".")) {
            type = name.substring(0, name.indexOf('.'));
            member = name.substring(name.indexOf('.') + 1);
        }
        int searchFrom = 0;
        int searchTo = source.size();
        if (type != null) {
            int[] range = locate(source, type);
            if (range == null) {
                return null;
            }
            searchFrom = range[0] - 1;
            searchTo = range[1];
        }
        // a method: its name and "(" on a line that opens its body, or on a declaration that goes on to the next line
        Pattern declaration = member.endsWith("()")
                ? Pattern.compile("^\\s+(?:(?:[\\w<>\\[\\],@]+\\s+)*" + Pattern.quote(member.substring(0, member.length() - 2))
                        + "\\(.*\\{.*|(?:[\\w<>\\[\\],@]+\\s+)+" + Pattern.quote(member.substring(0, member.length() - 2))
                        + "\\([^;{]*,)$")
                : Pattern.compile("^\\s+(?:\\w+\\s+)*(?:class|interface|record|@interface)\\s+" + Pattern.quote(member) + "\\b.*\\{.*$");
        for (int i = searchFrom; i < searchTo; i++) {
            if (declaration.matcher(source.get(i)).find()) {
                int first = i + 1; // 1-based
                for (int a = i - 1; !member.endsWith("()") && a >= 0 && source.get(a).matches("    @.*|            \\+ \".*"); a--) {
                    first = a + 1; // a class's role annotations, one or several lines each, belong to it
                }
                return new int[] {first, closingBrace(source, i) + 1};
            }
        }
        return null;
    }

    /** Index of the line whose '}' closes the block opened on line `open` (strings and comments skipped). */
    static int closingBrace(List<String> source, int open) {
        int depth = 0;
        for (int i = open; i < source.size(); i++) {
            String line = source.get(i).replaceAll("\"(\\\\.|[^\"\\\\])*\"", "\"\"").replaceAll("'(\\\\.|[^'\\\\])'", "''");
            int comment = line.indexOf("//");
            if (comment >= 0) {
                line = line.substring(0, comment);
            }
            for (char c : line.toCharArray()) {
                if (c == '{') {
                    depth++;
                } else if (c == '}' && --depth == 0) {
                    return i;
                }
            }
        }
        return source.size() - 1;
    }

    static String oneLine(String text) {
        return text.replaceAll("\\s+", " ");
    }

    // ================================================================= helpers

    /** The shared default server, started on first use. */
    static Server server() throws Exception {
        if (shared == null || !shared.process.isAlive()) {
            shared = Server.start();
        }
        return shared;
    }

    static final class Server implements AutoCloseable {
        final Process process;
        final int port;
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();
        private final ByteArrayOutputStream err = new ByteArrayOutputStream();
        private final Thread outReader;
        private Thread errReader;

        private Server(List<String> command) throws Exception {
            this(command, true);
        }

        /** With readLog false nobody reads the server's standard error: a stalled log. */
        private Server(List<String> command, boolean readLog) throws Exception {
            this(command, readLog, root);
        }

        private Server(List<String> command, boolean readLog, Path directory) throws Exception {
            ProcessBuilder builder = new ProcessBuilder(command).directory(directory.toFile());
            builder.environment().put("LC_ALL", "C.UTF-8");
            process = builder.start();
            resources.add(this);
            outReader = pump(process.getInputStream(), out);
            errReader = readLog ? pump(process.getErrorStream(), err) : null;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            Matcher m;
            while (!(m = Pattern.compile("listening on \\S*:(\\d+)[ \\n]").matcher(stdout())).find()) {
                if (!process.isAlive() || System.nanoTime() > deadline) {
                    process.destroyForcibly();
                    throw new AssertionError("server did not start: " + command + "\n" + stdout() + log());
                }
                Thread.sleep(10);
            }
            port = Integer.parseInt(m.group(1));
        }

        static Server start(String... args) throws Exception {
            List<String> command = new ArrayList<>(List.of(java, "-cp", classes.toString(), "EchoServer", "--port", "0"));
            command.addAll(List.of(args)); // a later --port wins
            return new Server(command);
        }

        /** A server compiled from an exercise's patched copy, run in that copy's directory. */
        static Server startIn(Path dir, String... args) throws Exception {
            List<String> command = new ArrayList<>(List.of(java, "-cp", dir.resolve("classes").toString(), "EchoServer",
                    "--port", "0"));
            command.addAll(List.of(args));
            return new Server(command, true, dir);
        }

        static Server startFromSource() throws Exception {
            return new Server(List.of(java, root.resolve("EchoServer.java").toString(), "--port", "0"));
        }

        /** The server from classes, with JVM options first (for example a small heap). */
        static Server startJvm(List<String> jvmOptions, String... args) throws Exception {
            List<String> command = new ArrayList<>(List.of(java));
            command.addAll(jvmOptions);
            command.addAll(List.of("-cp", classes.toString(), "EchoServer", "--port", "0"));
            command.addAll(List.of(args));
            return new Server(command);
        }

        static Server startWithLimit(int descriptors, String... args) throws Exception {
            return startWithLimit(descriptors, false, args);
        }

        /** Under a descriptor limit, from classes or (fromSource) with the source launcher. */
        static Server startWithLimit(int descriptors, boolean fromSource, String... args) throws Exception {
            List<String> command = new ArrayList<>(List.of("bash", "-c", "ulimit -n " + descriptors + " && exec \"$@\"", "bash", java));
            command.addAll(fromSource ? List.of(root.resolve("EchoServer.java").toString())
                    : List.of("-cp", classes.toString(), "EchoServer"));
            command.add("--port");
            command.add("0");
            command.addAll(List.of(args));
            return new Server(command);
        }

        /** From classes, with standard error a pipe that nobody reads. */
        static Server startWithStalledLog(String... args) throws Exception {
            List<String> command = new ArrayList<>(List.of(java, "-cp", classes.toString(), "EchoServer", "--port", "0"));
            command.addAll(List.of(args));
            return new Server(command, false);
        }

        long pid() {
            return process.pid();
        }

        /** The port of a service, from its "NAME server listening on ADDRESS:PORT" line. */
        int port(String service) throws InterruptedException {
            Pattern line = Pattern.compile(service + " server listening on \\S*:(\\d+)[ \\n]");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            Matcher m;
            while (!(m = line.matcher(stdout())).find()) {
                check(System.nanoTime() < deadline, "no " + service + " listening line in:\n" + stdout());
                Thread.sleep(10);
            }
            return Integer.parseInt(m.group(1));
        }

        synchronized String stdout() {
            return out.toString(StandardCharsets.UTF_8);
        }

        String log() {
            synchronized (err) {
                return err.toString(StandardCharsets.UTF_8);
            }
        }

        String tail(int n) {
            List<String> lines = List.of(log().split("\n"));
            return "     | " + String.join("\n     | ", lines.subList(Math.max(0, lines.size() - n), lines.size()));
        }

        void awaitLog(String text, long millis) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
            while (!log().contains(text)) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("the server did not log '" + text + "' within " + millis + " ms:\n" + tail(5));
                }
                Thread.sleep(10);
            }
        }

        /** For a server started with its log stalled: from now on its standard error is read. */
        void readLog() {
            errReader = pump(process.getErrorStream(), err);
        }

        /** Waits for the output pumps after the process has ended. */
        void drain() throws InterruptedException {
            outReader.join(2000);
            if (errReader != null) {
                errReader.join(2000);
            }
        }

        long cpuMillis() throws IOException {
            String stat = Files.readString(proc(pid() + "/stat"));
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return (Long.parseLong(fields[11]) + Long.parseLong(fields[12])) * 10; // utime + stime, 100 ticks/s
        }

        long rssKiB() throws IOException {
            for (String line : Files.readAllLines(proc(pid() + "/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("\\D", ""));
                }
            }
            throw new AssertionError("no VmRSS for " + pid());
        }

        int openDescriptors() throws IOException {
            try (var files = Files.list(proc(pid() + "/fd"))) {
                return (int) files.count();
            }
        }

        @Override
        public void close() {
            process.destroyForcibly();
            try {
                process.waitFor(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    static Thread pump(InputStream from, ByteArrayOutputStream to) {
        Thread t = new Thread(() -> {
            byte[] buffer = new byte[8192];
            int n;
            try {
                while ((n = from.read(buffer)) > 0) {
                    synchronized (to) {
                        to.write(buffer, 0, n);
                    }
                }
            } catch (IOException e) {
                // the process ended
            }
        });
        t.setDaemon(true);
        t.start();
        return t;
    }

    record Result(int status, String stdout, byte[] stdoutBytes, String stderr) { }

    static Result run(List<String> command, long millis) throws Exception {
        return run(command, new byte[0], millis);
    }

    /** Runs a program to its end (bounded), with the given standard input. */
    static Result run(List<String> command, byte[] input, long millis) throws Exception {
        ProcessBuilder builder = new ProcessBuilder(command).directory(root.toFile());
        builder.environment().put("LC_ALL", "C.UTF-8");
        Process p = builder.start();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Thread o = pump(p.getInputStream(), out);
        Thread e = pump(p.getErrorStream(), err);
        try (OutputStream in = p.getOutputStream()) {
            in.write(input);
        }
        if (!p.waitFor(millis, TimeUnit.MILLISECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("did not finish within " + millis + " ms: " + command);
        }
        o.join(2000);
        e.join(2000);
        byte[] stdout;
        synchronized (out) {
            stdout = out.toByteArray();
        }
        synchronized (err) {
            return new Result(p.exitValue(), new String(stdout, StandardCharsets.UTF_8), stdout, err.toString(StandardCharsets.UTF_8));
        }
    }

    static Socket connect(int port) throws IOException {
        Socket s = new Socket();
        resources.add(s);
        s.connect(new InetSocketAddress(LOOPBACK, port), 5000);
        s.setSoTimeout(10_000);
        s.setTcpNoDelay(true);
        return s;
    }

    /** Connect, send everything (from another thread, so echoes can flow back), half-close, read to the end. */
    static byte[] roundTrip(int port, byte[] message) throws Exception {
        try (Socket s = connect(port)) {
            Thread writer = daemon(() -> {
                s.getOutputStream().write(message);
                s.shutdownOutput();
            });
            byte[] reply = readToEnd(s);
            writer.join(5000);
            return reply;
        }
    }

    /** On an open connection: send a message and read exactly its length back. */
    static byte[] roundTrip(Socket s, byte[] message) throws IOException {
        s.getOutputStream().write(message);
        return readExactly(s, message.length);
    }

    static byte[] readExactly(Socket s, int n) throws IOException {
        byte[] data = new byte[n];
        InputStream in = s.getInputStream();
        int got = 0;
        while (got < n) {
            int r;
            try {
                r = in.read(data, got, n - got);
            } catch (SocketTimeoutException e) {
                throw new AssertionError("timed out after " + got + " of " + n + " bytes");
            }
            if (r < 0) {
                throw new AssertionError("connection closed after " + got + " of " + n + " bytes");
            }
            got += r;
        }
        return data;
    }

    static byte[] readToEnd(Socket s) throws IOException {
        try {
            return s.getInputStream().readAllBytes();
        } catch (SocketTimeoutException e) {
            throw new AssertionError("the server did not close the connection in time");
        }
    }

    /** True if the server closed the connection (end of stream or reset) rather than leaving it open. */
    static boolean readToEndOrReset(Socket s) {
        try {
            s.getInputStream().readAllBytes();
            return true;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true;
        }
    }

    /** Asserts that no byte arrives within the given time. */
    static void expectNothing(Socket s, int millis) throws IOException {
        int old = s.getSoTimeout();
        s.setSoTimeout(millis);
        try {
            int b = s.getInputStream().read();
            throw new AssertionError(b < 0 ? "connection closed early" : "got a byte too early: " + b);
        } catch (SocketTimeoutException e) {
            // right: nothing came
        } finally {
            s.setSoTimeout(old);
        }
    }

    static void awaitDescriptors(Server server, int atMost) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        int now;
        while ((now = server.openDescriptors()) > atMost) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("server holds " + now + " descriptors, " + atMost + " before: a leak");
            }
            Thread.sleep(50);
        }
    }

    static Thread daemon(Body body) {
        Thread t = new Thread(() -> {
            try {
                body.run();
            } catch (Exception e) {
                // the reading side reports what went wrong
            }
        });
        t.setDaemon(true);
        t.start();
        return t;
    }

    static void closeAll(List<Socket> sockets) {
        for (Socket s : sockets) {
            try {
                s.close();
            } catch (IOException e) {
                // closing anyway
            }
        }
    }

    /** Runs one test on its own thread with a deadline; returns null, "SKIP why" or the failure. */
    static String runBounded(Test test) throws InterruptedException {
        String[] failure = {null};
        Thread t = new Thread(() -> {
            try {
                test.body().run();
            } catch (Skip e) {
                failure[0] = "SKIP " + e.getMessage();
            } catch (AssertionError e) {
                failure[0] = e.getMessage();
            } catch (Throwable e) {
                failure[0] = e.toString();
            }
        }, test.name());
        t.setDaemon(true);
        t.start();
        t.join(TEST_TIMEOUT_MILLIS);
        List<AutoCloseable> open;
        synchronized (resources) {
            open = new ArrayList<>(resources);
            resources.clear();
        }
        for (AutoCloseable r : open) {
            if (r != shared) {
                try {
                    r.close();
                } catch (Exception e) {
                    // cleaning up
                }
            }
        }
        if (t.isAlive()) {
            t.join(5000);
            return "did not finish within " + TEST_TIMEOUT_MILLIS / 1000 + " s";
        }
        return failure[0];
    }

    static boolean signalIgnored(int signal) throws IOException {
        for (String line : Files.readAllLines(proc("self/status"))) {
            if (line.startsWith("SigIgn:")) {
                long mask = Long.parseUnsignedLong(line.substring(7).trim(), 16);
                return (mask & (1L << (signal - 1))) != 0;
            }
        }
        return false;
    }

    /** A file under Linux's /proc; elsewhere the test that needs it is skipped, with this reason. */
    static Path proc(String file) {
        if (!Files.isDirectory(Path.of("/proc/self"))) {
            throw new Skip("needs Linux's /proc to measure the server");
        }
        return Path.of("/proc", file);
    }

    static void compile(Path... sources) {
        JavaCompiler compiler = ToolProvider.getSystemJavaCompiler();
        if (compiler == null) {
            System.err.println("no Java compiler: the tests need a JDK, not a JRE");
            System.exit(2);
        }
        List<String> args = new ArrayList<>(List.of("-d", classes.toString(), "-Xlint:all", "-Werror"));
        for (Path source : sources) {
            args.add(source.toString());
        }
        if (compiler.run(null, null, null, args.toArray(new String[0])) != 0) {
            System.err.println("compiling " + Arrays.toString(sources) + " failed");
            System.exit(1);
        }
    }

    static void check(boolean condition, String message) {
        if (!condition) {
            throw new AssertionError(message);
        }
    }

    static void assertBytes(byte[] expected, byte[] actual, String what) {
        if (Arrays.equals(expected, actual)) {
            return;
        }
        int i = Arrays.mismatch(expected, actual);
        throw new AssertionError(what + ": expected " + expected.length + " bytes, got " + actual.length
                + "; first difference at byte " + i + ": expected " + show(expected, i) + ", got " + show(actual, i));
    }

    static String show(byte[] b, int at) {
        int from = Math.max(0, at - 8);
        int to = Math.min(b.length, at + 8);
        return "\"" + new String(b, from, to - from, StandardCharsets.UTF_8).replace("\n", "\\n") + "\"";
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Printable lines of random lengths in [min, max] (newline included), exactly total bytes long. */
    static byte[] lines(Random random, int total, int min, int max) {
        byte[] data = new byte[total];
        int lineStart = 0;
        int lineLength = min + random.nextInt(max - min + 1);
        for (int i = 0; i < total; i++) {
            if (i - lineStart == lineLength - 1 || i == total - 1) {
                data[i] = '\n';
                lineStart = i + 1;
                lineLength = min + random.nextInt(max - min + 1);
            } else {
                data[i] = (byte) ('!' + random.nextInt(94));
            }
        }
        return data;
    }

    static int indexOf(byte[] haystack, byte[] needle) {
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            if (Arrays.equals(haystack, i, i + needle.length, needle, 0, needle.length)) {
                return i;
            }
        }
        throw new AssertionError("not found");
    }

    static boolean allEqual(byte[] data, byte value) {
        for (byte b : data) {
            if (b != value) {
                return false;
            }
        }
        return true;
    }

    static int count(String text, String needle) {
        int n = 0;
        for (int i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1)) {
            n++;
        }
        return n;
    }
}
