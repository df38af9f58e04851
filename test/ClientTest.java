// ClientTest.java: EchoClient.java: message and interactive modes, its errors and endings.

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.opentest4j.TestAbortedException;

import static org.junit.jupiter.api.Assertions.*;

class ClientTest extends Harness {

    @Test
    @DisplayName("client: message mode prints the reply and exits 0")
    void clientMessage() throws Exception {
        String port = String.valueOf(server().port);
        Result r = run(client("--port", port, "hello"), 20_000);
        assertTrue(r.status == 0, "exit status " + r.status + ": " + r.stderr);
        assertTrue(r.stdout.equals("hello\n"), "stdout was: '" + r.stdout + "'");
        Result words = run(client("--host", LOOPBACK, "--port", port, "two", "words"), 20_000);
        assertTrue(words.stdout.equals("two words\n") && words.status == 0, "stdout was: '" + words.stdout + "'");
    }

    @Test
    @DisplayName("client: non-ASCII arguments round-trip exactly")
    void clientUtf8() throws Exception {
        String text = "hello wörld ✓ 日本語";
        Result r = run(client("--port", String.valueOf(server().port), text), 20_000);
        assertTrue(r.status == 0, "exit status " + r.status + ": " + r.stderr);
        assertBytes(bytes(text + "\n"), r.stdoutBytes, "client output");
    }

    @Test
    @DisplayName("client: interactive mode echoes each line until end of input")
    void clientInteractive() throws Exception {
        byte[] typed = bytes("one\ntwo ✓\nno newline at the end");
        Result r = run(client("--port", String.valueOf(server().port)), typed, 20_000);
        assertTrue(r.status == 0, "exit status " + r.status + ": " + r.stderr);
        assertBytes(typed, r.stdoutBytes, "client output");
    }

    @Test
    @DisplayName("client: no server is one clear line and exit 1")
    void clientNoServer() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort(); // free now, and nothing listens on it once closed
        }
        Result r = run(client("--port", String.valueOf(port), "hello"), 20_000);
        assertTrue(r.status == 1, "exit status " + r.status);
        assertTrue(r.stderr.equals("echo-client: cannot connect to localhost:" + port + ": connection refused\n"),
                "stderr was: " + r.stderr);
        assertTrue(r.stdout.isEmpty(), "stdout was: " + r.stdout);
    }

    @Test
    @DisplayName("client: bad command line exits 2")
    void clientBadArgs() throws Exception {
        Result r = run(client("--port", "abc", "hello"), 20_000);
        assertTrue(r.status == 2, "exit status " + r.status);
        assertTrue(r.stderr.startsWith("echo-client: invalid value 'abc' for --port"), "stderr was: " + r.stderr);
        assertTrue(!r.stderr.contains("Exception"), "stack trace: " + r.stderr);
    }

    @Test
    @DisplayName("client: localhost reaches a server on ::1 only and one on 127.0.0.1 only")
    void clientEachAddress() throws Exception {
        boolean ipv6;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getByName("::1"))) {
            ipv6 = probe.getLocalPort() > 0;
        } catch (IOException e) {
            ipv6 = false;
        }
        List<String> hosts = ipv6 ? List.of("::1", LOOPBACK) : List.of(LOOPBACK);
        for (String host : hosts) {
            try (Server server = Server.start("--host", host)) {
                Result r = run(client("--host", "localhost", "--port", String.valueOf(server.port), "via " + host),
                        20_000);
                assertTrue(r.status == 0, "server on " + host + ": exit status " + r.status + ": " + r.stderr);
                assertTrue(r.stdout.equals("via " + host + "\n"), "server on " + host + ": stdout was: " + r.stdout);
            }
        }
        if (!ipv6) {
            throw new TestAbortedException("no IPv6 loopback: only the server on 127.0.0.1 was tried");
        }
    }

    @Test
    @DisplayName("client: a server that never answers is waited for without spinning")
    void clientSilentServer() throws Exception {
        try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getByName(LOOPBACK))) {
            Process p = new ProcessBuilder(client("--host", LOOPBACK, "--port", String.valueOf(silent.getLocalPort()),
                    "anyone there?")).directory(root.toFile()).start();
            try {
                silent.setSoTimeout(20_000);
                try (Socket s = silent.accept()) {
                    s.setSoTimeout(10_000);
                    assertBytes(bytes("anyone there?\n"), readToEnd(s), "what the client sent before half-closing");
                    Thread.sleep(300);
                    long cpu = cpuMillis(p);
                    Thread.sleep(2000);
                    long used = cpuMillis(p) - cpu;
                    assertTrue(p.isAlive(), "the client did not wait for the reply");
                    assertTrue(used < 200, "the waiting client used " + used + " ms of CPU in 2 s");
                }
            } finally {
                p.destroyForcibly();
                p.waitFor(5, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    @DisplayName("client: 10 MiB piped through interactive mode come back byte-exact")
    void clientPipe() throws Exception {
        byte[] input = lines(new Random(21), 10 << 20, 1, 300);
        Result r = run(client("--port", String.valueOf(server().port)), input, 60_000);
        assertTrue(r.status == 0, "exit status " + r.status + ": " + r.stderr);
        assertBytes(input, r.stdoutBytes, "10 MiB through interactive mode");
    }

    @Test
    @DisplayName("client: a connect that gets no answer times out after 5 s, one line, exit 1")
    void clientConnectTimeout() throws Exception {
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
                String port = String.valueOf(full.getLocalPort());
                Result r = run(client("--host", LOOPBACK, "--port", port, "hello"), 20_000);
                double took = (System.nanoTime() - start) / 1e9;
                assertTrue(r.status == 1, "exit status " + r.status + ": " + r.stderr);
                assertTrue(r.stderr.equals("echo-client: cannot connect to " + LOOPBACK + ":" + port + ": timed out\n"),
                        "stderr was: " + r.stderr);
                double most = scaled(10_000) / 1000.0;
                assertTrue(took > 4.5 && took < most, "gave up after " + took + " s; expected 5 s (4.5 to " + most
                        + ")");
            } finally {
                for (SocketChannel c : fillers) {
                    c.close();
                }
            }
        }
    }

    @Test
    @DisplayName("client: the server closing first is a normal end: one line, exit 0, every time")
    void clientServerClosesFirst() throws Exception {
        try (Server server = Server.start("--idle-timeout", "1")) {
            Process p = new ProcessBuilder(client("--host", LOOPBACK, "--port", String.valueOf(server.port)))
                    .directory(root.toFile()).start();
            try {
                p.getOutputStream().write(bytes("typed\n"));
                p.getOutputStream().flush(); // standard input stays open: the user could still type
                assertTrue(p.waitFor(scaled(10_000), TimeUnit.MILLISECONDS),
                        "the client did not notice that the server closed");
                String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertTrue(p.exitValue() == 0, "exit status " + p.exitValue());
                assertTrue(err.equals("echo-client: connected to " + LOOPBACK + ":" + server.port + " (Ctrl-D ends)\n"
                        + "echo-client: the server closed the connection\n"), "stderr was: " + err);
                assertTrue(out.equals("typed\n"), "stdout was: " + out);
            } finally {
                p.destroyForcibly();
            }
        }
        try (Server server = Server.start("--qotd", "0")) { // the quote closes at once: five runs, the same end
            String quotePort = String.valueOf(server.port("quote"));
            for (int i = 0; i < 5; i++) {
                Result r = run(client("--host", LOOPBACK, "--port", quotePort), 20_000);
                assertTrue(r.status == 0, "run " + i + ": exit status " + r.status + ": " + r.stderr);
                assertTrue(r.stdout.equals("An apple a day keeps the doctor away\r\n"), "stdout was: " + r.stdout);
                // Standard input (empty) may end before the quote arrives: then no line says the server closed.
                String connected = "echo-client: connected to " + LOOPBACK + ":" + quotePort + " (Ctrl-D ends)\n";
                assertTrue(r.stderr.equals(connected + "echo-client: the server closed the connection\n")
                        || r.stderr.equals(connected), "run " + i + ": stderr was: " + r.stderr);
            }
        }
    }

    /** A reset is a broken connection, not an orderly close: one line on standard error, and exit 1. */
    @Test
    @DisplayName("client: a reset in interactive mode is one line on standard error and exit 1")
    void clientReset() throws Exception {
        try (ServerSocket listener = new ServerSocket(0, 50, InetAddress.getByName(LOOPBACK))) {
            listener.setSoTimeout(20_000);
            Process p = interactive(listener.getLocalPort(), "typed\n");
            try (Socket s = listener.accept()) {
                s.setSoTimeout(10_000);
                assertBytes(bytes("typed\n"), readExactly(s, 6), "the line the client sent");
                s.setSoLinger(true, 0); // close sends RST
            }
            Result r = ended(p);
            assertTrue(r.status == 1, "exit status " + r.status + " after a reset; expected 1. stderr: " + r.stderr);
            String connected = "echo-client: connected to " + LOOPBACK + ":" + listener.getLocalPort()
                    + " (Ctrl-D ends)\n";
            assertTrue(r.stderr.startsWith(connected)
                    && r.stderr.substring(connected.length()).matches("echo-client: connection lost: [^\n]*reset\n"),
                    "expected the connected line, then one line 'echo-client: connection lost: ...reset'; stderr was: "
                    + r.stderr);
            assertTrue(r.stdout.isEmpty(), "stdout was: " + r.stdout);
        }
    }

    /**
     * Input typed faster than the server reads: once the socket is full the client queues the rest, and at the
     * end of input it half-closes only when the queue has drained. This server answers only at the end of its
     * input, so without that half-close both would wait for ever.
     */
    @Test
    @DisplayName("client: input that fills the socket goes whole, then the half-close, once the rest has drained")
    void clientHalfCloseAfterDrain() throws Exception {
        byte[] reply = bytes("got it all\n");
        try (ServerSocket listener = new ServerSocket()) {
            listener.setReceiveBufferSize(4096); // before bind: a small window, so the client's socket fills up
            listener.bind(new InetSocketAddress(LOOPBACK, 0));
            listener.setSoTimeout(20_000);
            Process p = start(client("--host", LOOPBACK, "--port", String.valueOf(listener.getLocalPort()), "--trace"));
            ByteArrayOutputStream trace = new ByteArrayOutputStream();
            pump(p.getErrorStream(), trace);
            try (Socket s = listener.accept()) { // not read yet
                // Typed 16 KiB at a time until the trace shows a partial write: the socket is full, the rest queued.
                ByteArrayOutputStream typed = new ByteArrayOutputStream();
                Random random = new Random(3);
                while (!writtenOrPartial(trace, typed.size())) {
                    byte[] piece = lines(random, 16 * 1024, 1, 100);
                    typed.write(piece);
                    p.getOutputStream().write(piece);
                    p.getOutputStream().flush();
                }
                p.getOutputStream().close(); // Ctrl-D while bytes wait: the half-close must wait for them
                Thread.sleep(500);           // for the client to see the end of input before we read
                s.setSoTimeout((int) scaled(10_000));
                ByteArrayOutputStream got = new ByteArrayOutputStream();
                try {
                    s.getInputStream().transferTo(got);
                } catch (SocketTimeoutException e) {
                    throw new AssertionError("no end of stream after " + got.size() + " of " + typed.size()
                            + " bytes: the client did not half-close once its queue had drained");
                }
                assertBytes(typed.toByteArray(), got.toByteArray(), "what the client sent before its half-close");
                s.getOutputStream().write(reply);
            } // then an orderly close
            long limit = scaled(10_000);
            assertTrue(p.waitFor(limit, TimeUnit.MILLISECONDS), "the client did not end within " + limit + " ms");
            String[] traced = trace.toString(StandardCharsets.UTF_8).split("\n");
            assertTrue(p.exitValue() == 0, "exit status " + p.exitValue() + "; expected 0. The trace ends: "
                    + traced[traced.length - 1]);
            assertBytes(reply, p.getInputStream().readAllBytes(), "the client's output");
        }
    }

    static final Pattern TRACED_WRITE = Pattern.compile("facade +write (\\d+) of (\\d+) bytes\n");

    /**
     * Waits until the client's trace shows a write that the socket took only in part (true), or writes of all
     * `typed` bytes (false).
     */
    static boolean writtenOrPartial(ByteArrayOutputStream trace, int typed) throws InterruptedException {
        long limit = scaled(5000);
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(limit);
        while (true) {
            String text;
            synchronized (trace) {
                text = trace.toString(StandardCharsets.UTF_8);
            }
            long written = 0;
            for (Matcher m = TRACED_WRITE.matcher(text); m.find(); ) {
                if (!m.group(1).equals(m.group(2))) {
                    return true;
                }
                written += Long.parseLong(m.group(2));
            }
            if (written == typed) {
                return false;
            }
            assertTrue(System.nanoTime() < deadline, "the client's trace shows writes of " + written + " of the "
                    + typed + " bytes typed after " + limit + " ms");
            Thread.sleep(1);
        }
    }

    /** Starts a client; it is killed after the test if it is still running. */
    static Process start(List<String> command) throws IOException {
        ProcessBuilder builder = new ProcessBuilder(command).directory(root.toFile());
        builder.environment().put("LC_ALL", "C.UTF-8");
        Process p = builder.start();
        resources.add(p::destroyForcibly);
        return p;
    }

    /** The client in interactive mode, sent what is typed; its standard input stays open, as a user's would. */
    static Process interactive(int port, String typed) throws IOException {
        Process p = start(client("--host", LOOPBACK, "--port", String.valueOf(port)));
        p.getOutputStream().write(bytes(typed));
        p.getOutputStream().flush();
        return p;
    }

    /** Waits for a client to end (its output is small: the pipes hold it): its status and what it wrote. */
    static Result ended(Process p) throws Exception {
        long limit = scaled(10_000);
        assertTrue(p.waitFor(limit, TimeUnit.MILLISECONDS), "the client did not end within " + limit + " ms");
        byte[] out = p.getInputStream().readAllBytes();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8), out, err);
    }

    /** Its standard output gone, the client stops at once, non-zero, in one line; as cat does. */
    @Test
    @DisplayName("client: its standard output gone, it stops at once, one line, exit 1")
    void clientOutputGone() throws Exception {
        String port = String.valueOf(server().port);
        String client = String.join(" ", client("--host", LOOPBACK, "--port", port).stream().map(a -> "'" + a + "'")
                .toList());
        Result piped = run(List.of("bash", "-c",
                "yes | " + client + " | head -1; echo \"client ${PIPESTATUS[1]}\" >&2"), 20_000);
        assertTrue(piped.stdout.equals("y\n"), "stdout was: " + piped.stdout);
        assertTrue(piped.stderr.equals("echo-client: connected to " + LOOPBACK + ":" + port + " (Ctrl-D ends)\n"
                + "echo-client: cannot write to standard output\nclient 1\n"), "stderr was: " + piped.stderr);
        Result closed = run(List.of("bash", "-c", client + " hello >&-; echo \"client $?\" >&2"), 20_000);
        assertTrue(closed.stderr.equals("echo-client: cannot write to standard output\nclient 1\n"),
                "with standard output closed, stderr was: " + closed.stderr);
    }

    /** --timeout: a server that accepts and never answers is given up on, in one line, exit 1. */
    @Test
    @DisplayName("client: --timeout gives up on a server that never answers, one line, exit 1")
    void clientTimeout() throws Exception {
        try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getByName(LOOPBACK))) { // never accepts
            long start = System.nanoTime();
            Result r = run(client("--host", LOOPBACK, "--port=" + silent.getLocalPort(), "--timeout=1", "hello"),
                    20_000);
            long millis = (System.nanoTime() - start) / 1_000_000;
            assertTrue(r.status == 1, "exit status " + r.status + ": " + r.stderr);
            assertTrue(r.stderr.equals("echo-client: connection lost: nothing from the server for 1 s: giving up\n"),
                    "stderr was: " + r.stderr);
            assertTrue(millis < scaled(8000), "gave up after " + millis + " ms; expected about 1 s");
        }
    }

    /** One form for an address everywhere: [::1]:8000, in the client's errors and trace and in the server's log. */
    @Test
    @DisplayName("one address form everywhere; --host localhost listens on both loopbacks; the log names the service")
    void addressForm() throws Exception {
        int port;
        try (ServerSocket probe = new ServerSocket(0, 50, InetAddress.getByName("::1"))) {
            port = probe.getLocalPort();
        }
        Result refused = run(client("--host", "::1", "--port", String.valueOf(port), "hi"), 20_000);
        assertTrue(refused.stderr.equals("echo-client: cannot connect to [::1]:" + port + ": connection refused\n"),
                "stderr was: " + refused.stderr);
        try (Server server = Server.start("--host", "localhost", "--chat", "0")) {
            String both = "echo server listening on "
                    + "(\\[::1\\]:(\\d+) and 127\\.0\\.0\\.1|127\\.0\\.0\\.1:(\\d+) and \\[::1\\]):"
                    + server.port + "\n";
            assertTrue(server.stdout().matches("(?s)" + both + ".*"),
                    "--host localhost: stdout was " + server.stdout());
            for (String host : List.of("::1", LOOPBACK)) {
                Result r = run(client("--host", host, "--port", String.valueOf(server.port), "--trace", "hi"), 20_000);
                assertTrue(r.status == 0 && r.stdout.equals("hi\n"), "via " + host + ": " + r.status + " " + r.stderr);
                String shown = host.equals("::1") ? "[::1]:" + server.port : host + ":" + server.port;
                assertTrue(r.stderr.contains("connector   connected to " + shown + "\n"), "the trace: " + r.stderr);
                for (String line : r.stderr.split("\n")) {
                    assertTrue(TIMESTAMP.matcher(line).find(), "a trace line without its time: " + line);
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
    @Test
    @DisplayName("client: --port=N forms, -h, bad values exit 2")
    void clientOptionForms() throws Exception {
        String port = String.valueOf(server().port);
        Result r = run(client("--port=" + port, "--host=" + LOOPBACK, "same"), 20_000);
        assertTrue(r.status == 0 && r.stdout.equals("same\n") && r.stderr.isEmpty(),
                r.status + " " + r.stdout + r.stderr);
        Result help = run(client("-h"), 20_000);
        assertTrue(help.status == 0 && help.stdout.startsWith("usage: java EchoClient.java"), "-h: " + help.stdout);
        for (String bad : List.of("--timeout=0", "--timeout=abc", "--trace=yes", "--port=", "--host=")) {
            Result b = run(client(bad, "x"), 20_000);
            assertTrue(b.status == 2 && b.stderr.startsWith("echo-client: ") && !b.stderr.contains("Exception"),
                    bad + ": exit status " + b.status + ", " + b.stderr);
        }
    }

    /**
     * The client under every descriptor limit from "too few to start Java" upwards: wherever its
     * descriptors run out (the selector, the socket, closing one that failed) it says so in one
     * line and exits 1, never with a stack trace.
     */
    @Test
    @DisplayName("client: out of descriptors at any point is one line, never a stack trace")
    void clientOutOfDescriptors() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort(); // nothing listens there once closed: each address refuses
        }
        List<String> outcomes = new ArrayList<>();
        int refusedInARow = 0;
        for (int limit = 5; limit <= 40 && refusedInARow < 3; limit++) {
            List<String> command = new ArrayList<>(List.of("bash", "-c", "ulimit -n " + limit + " && exec \"$@\"",
                    "bash"));
            command.addAll(client("--port", String.valueOf(port), "hello"));
            Result r = run(command, 20_000);
            if (r.stderr.contains("NoClassDefFoundError") || r.stderr.contains("initialization of VM")) {
                continue; // too few for the JVM to load the client at all: not the client's to handle
            }
            String where = "with ulimit -n " + limit + ": ";
            assertTrue(!r.stderr.contains("Exception") && !r.stderr.contains("\tat ") && !r.stderr.contains("Error"),
                    where + "a stack trace:\n" + r.stderr);
            assertTrue(r.status == 1, where + "exit status " + r.status + ": " + r.stderr);
            assertTrue(r.stderr.startsWith("echo-client: ")
                    && r.stderr.indexOf('\n') == r.stderr.length() - 1, where + "stderr was: " + r.stderr);
            refusedInARow = r.stderr.endsWith(": connection refused\n") ? refusedInARow + 1 : 0;
            outcomes.add(limit + ": " + r.stderr.trim());
        }
        assertTrue(outcomes.stream().anyMatch(o -> !o.endsWith("connection refused")),
                "no limit ran the client out of descriptors once Java had started: " + outcomes);
        assertTrue(refusedInARow == 3, "the client never got as far as a refused connect: " + outcomes);
    }

    @Test
    @DisplayName("client: --trace narrates the connector's steps")
    void clientTrace() throws Exception {
        Result r = run(client("--port", String.valueOf(server().port), "--trace", "traced"), 20_000);
        assertTrue(r.status == 0 && r.stdout.equals("traced\n"),
                "exit status " + r.status + ", stdout " + r.stdout + r.stderr);
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
}
