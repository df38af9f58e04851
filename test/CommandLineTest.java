// CommandLineTest.java: The command line, the log, the trace, shutdown, the source launcher.

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import java.util.stream.Stream;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.opentest4j.TestAbortedException;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.params.provider.Arguments.arguments;

class CommandLineTest extends Harness {

    static void shutdown(String signal, int expectedStatus) throws Exception {
        if (signalIgnored(signal.equals("INT") ? 2 : 15)) {
            throw new TestAbortedException("SIG" + signal + " is ignored in this process (started in the background?), so the server would inherit that");
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
            assertTrue(exited, "still running 2 s after SIG" + signal);
            assertTrue(server.process.exitValue() == expectedStatus, "exit status " + server.process.exitValue() + ", expected " + expectedStatus);
            server.drain();
            int closed = 0; // SPEC asks for the shutdown in the log, not in one line: several reactors log one each
            for (Matcher m = Pattern.compile("stopped: closed (\\d+) connection").matcher(server.log()); m.find(); ) {
                closed += Integer.parseInt(m.group(1));
            }
            assertTrue(closed == 2 && server.log().contains(" and the listening socket"),
                    "no shutdown log line for 2 connections and the listening socket:\n" + server.tail(3));
            assertTrue(!server.log().contains("Exception"), "stack trace on shutdown:\n" + server.log());
            for (Socket s : List.of(idle, midLine)) { // each connection closed by the server, and said so
                assertTrue(server.log().contains("echo connection from 127.0.0.1:" + s.getLocalPort() + " closed"),
                        "no close line for the connection from port " + s.getLocalPort() + ":\n" + server.tail(4));
            }
            System.out.printf("     (exited %.2f s after SIG%s)%n", took, signal);
        } finally {
            server.close();
        }
        try (Server again = Server.start("--port", String.valueOf(port))) {
            assertTrue(again.port == port, "restarted on " + again.port);
            assertBytes(bytes("again\n"), roundTrip(port, bytes("again\n")), "echo after restart");
        }
    }

    @Test
    @DisplayName("prints 'listening on ADDRESS:PORT' with the real port")
    void listeningLine() throws Exception {
        Server server = server();
        assertTrue(server.stdout().matches("(?s)echo server listening on 127\\.0\\.0\\.1:" + server.port + "\n"),
                "stdout was: " + server.stdout());
        assertTrue(server.port != 0 && server.port != 8000, "port " + server.port);
        try (Server local = Server.start("--host", LOOPBACK)) {
            assertTrue(local.stdout().startsWith("echo server listening on 127.0.0.1:" + local.port + "\n"), "stdout was: " + local.stdout());
            assertBytes(bytes("local\n"), roundTrip(local.port, bytes("local\n")), "echo");
        }
        try (Server ipv4 = Server.start("--host", "0.0.0.0")) {
            assertTrue(ipv4.stdout().equals("echo server listening on 0.0.0.0:" + ipv4.port + "\n"), "stdout was: " + ipv4.stdout());
            assertBytes(bytes("v4\n"), roundTrip(ipv4.port, bytes("v4\n")), "echo over IPv4");
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("::1", ipv4.port), 2000);
                throw new AssertionError("--host 0.0.0.0 accepted a connection over IPv6");
            } catch (IOException expected) {
                // refused: IPv4 only, as asked (or no IPv6 at all)
            }
        }
    }

    @Test
    @DisplayName("listens on the IPv6 loopback with --host ::1")
    void ipv6() throws Exception {
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getByName("::1"))) {
            assertTrue(probe.getLocalPort() > 0, "no port on ::1");
        } catch (IOException e) {
            throw new TestAbortedException("no IPv6 loopback on this machine");
        }
        try (Server server = Server.start("--host", "::1")) {
            assertTrue(server.stdout().equals("echo server listening on [::1]:" + server.port + "\n"), "stdout was: " + server.stdout());
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("::1", server.port), 5000);
                s.setSoTimeout(10_000);
                assertBytes(bytes("six\n"), roundTrip(s, bytes("six\n")), "echo over ::1");
            }
        }
    }

    /** Each bad command line and the one-line reason the server must give for it. */
    static Stream<Arguments> badCommandLines() {
        return Stream.of(
                arguments(List.of("--port", "abc"), "invalid value 'abc' for --port: expected a whole number from 0 to 65535"),
                arguments(List.of("--port", "70000"), "invalid value '70000' for --port: expected a whole number from 0 to 65535"),
                arguments(List.of("--port", "-1"), "invalid value '-1' for --port: expected a whole number from 0 to 65535"),
                arguments(List.of("--port"), "--port needs a value"),
                arguments(List.of("--max-line", "0"), "invalid value '0' for --max-line: expected a whole number from 1 to 67108864"),
                arguments(List.of("--bogus"), "unknown option '--bogus'"),
                arguments(List.of("stray"), "unexpected argument 'stray'"),
                arguments(List.of("--quiet=yes"), "--quiet takes no value"),
                arguments(List.of("--port", "+80"), "invalid value '+80' for --port: expected a whole number from 0 to 65535"),
                arguments(List.of("--port", "٨٠"), "invalid value '٨٠' for --port: expected a whole number from 0 to 65535"),
                arguments(List.of("--host", ""), "invalid value '' for --host: expected an address or a host name"),
                arguments(List.of("--quiet", "--verbose"), "--quiet and --verbose contradict each other: choose one"),
                arguments(List.of("--trace", "--quiet"), "--trace and --quiet contradict each other: choose one"),
                arguments(List.of("--idle-timeout", "-1"), "invalid value '-1' for --idle-timeout: expected a whole number from 0 to 86400"),
                arguments(List.of("--memory-budget", "10"), "invalid value '10' for --memory-budget: expected a whole number from 1048576 to 1099511627776"),
                arguments(List.of("--port", "8000", "--qotd", "8000"), "--qotd and --port both name port 8000: give each service a port of its own"),
                arguments(List.of("--chat", "8000"), "--chat and --port both name port 8000: give each service a port of its own"),
                arguments(List.of("--qotd", "9000", "--chat=9000"), "--chat and --qotd both name port 9000: give each service a port of its own"));
    }

    /** The parser is a seam of its own: each reason checked in this JVM, without starting a server. */
    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("badCommandLines")
    void badCommandLineReason(List<String> args, String reason) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> EchoServer.Options.parse(args.toArray(new String[0])));
        assertEquals(reason, e.getMessage());
    }

    /** What a user sees is the same for every reason: two of them, each in a process of its own. */
    static Stream<Arguments> badCommandLinesRun() {
        return Stream.of(
                arguments(List.of("--port", "abc"), "invalid value 'abc' for --port: expected a whole number from 0 to 65535"),
                arguments(List.of("--qotd", "9000", "--chat=9000"), "--chat and --qotd both name port 9000: give each service a port of its own"));
    }

    @ParameterizedTest(name = "{0}: one line, usage, exit 2")
    @MethodSource("badCommandLinesRun")
    void badCommandLineExit(List<String> args, String reason) throws Exception {
        List<String> command = new ArrayList<>(List.of(java, "-cp", classes.toString(), "EchoServer"));
        command.addAll(args);
        Result r = run(command, 20_000);
        assertEquals(2, r.status, args + ": exit status");
        assertEquals("echo-server: " + reason + "\n" + EchoServer.USAGE, r.stderr, args + ": standard error");
        assertEquals("", r.stdout, args + ": standard output");
    }

    @Test
    @DisplayName("--help prints usage and exits 0")
    void help() throws Exception {
        Result r = run(List.of(java, "-cp", classes.toString(), "EchoServer", "--help"), 20_000);
        assertTrue(r.status == 0, "exit status " + r.status);
        assertTrue(r.stdout.startsWith("usage: java EchoServer.java"), "stdout was: " + r.stdout);
        assertTrue(r.stdout.contains("--max-line") && r.stderr.isEmpty(), "help incomplete or on stderr");
    }

    @Test
    @DisplayName("a port in use: one clear line, exit 1")
    void portInUse() throws Exception {
        int port = server().port;
        Result r = run(List.of(java, "-cp", classes.toString(), "EchoServer", "--host", LOOPBACK, "--port", String.valueOf(port)), 20_000);
        assertTrue(r.status == 1, "exit status " + r.status + ", expected 1");
        assertTrue(r.stderr.equals("echo-server: port " + port + " is already in use\n"), "stderr was: " + r.stderr);
    }

    @Test
    @DisplayName("logs connections with peer and count, timestamped, no lines by default")
    void logging() throws Exception {
        try (Server server = Server.start()) {
            int port;
            try (Socket s = connect(server.port)) {
                port = s.getLocalPort();
                roundTrip(s, bytes("secret line\n"));
            }
            server.awaitLog("connection from 127.0.0.1:" + port + " closed (0 open)", 5000);
            String log = server.log();
            assertTrue(log.contains("connection from 127.0.0.1:" + port + " opened (1 open)"), "no open line:\n" + log);
            for (String line : log.split("\n")) {
                assertTrue(TIMESTAMP.matcher(line).find(), "log line without a timestamp: " + line);
            }
            assertTrue(!log.contains("secret line"), "a line was logged by default");
        }
    }

    @Test
    @DisplayName("--verbose logs each line, --quiet logs nothing per connection")
    void verboseAndQuiet() throws Exception {
        try (Server verbose = Server.start("--verbose")) {
            roundTrip(verbose.port, bytes("tell me\n"));
            verbose.awaitLog("sent a line: tell me\\n (8 bytes)", 5000);
        }
        try (Server quiet = Server.start("--quiet")) {
            roundTrip(quiet.port, bytes("hush\n"));
            Thread.sleep(300);
            assertTrue(quiet.log().isEmpty(), "--quiet logged:\n" + quiet.log());
        }
    }

    @Test
    @DisplayName("--verbose escapes controls, line separators, bidi overrides and bytes that are not UTF-8")
    void verboseEscapes() throws Exception {
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

    @Test
    @DisplayName("--trace narrates each participant's step, in order")
    void trace() throws Exception {
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
                    "connection #2 +unsent \\d+ >= high-water 65536: pause its producer",
                    "reactor +interest of connection #2: write",
                    "reactor +dispatch write -> connection #2",
                    "connection #2 +unsent \\d+ <= low-water 32768: resume its producer",
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
            assertTrue(partial, "no short write traced for the client that did not read");
        }
        try (Server plain = Server.start()) {
            roundTrip(plain.port, bytes("quiet please\n"));
            Thread.sleep(200);
            assertTrue(!plain.log().contains("dispatch") && !plain.log().contains("facade"), "tracing without --trace:\n" + plain.tail(5));
        }
    }

    @Test
    @DisplayName("both programs run with the source launcher")
    void sourceLauncher() throws Exception {
        try (Server server = Server.startFromSource()) {
            Result r = run(List.of(java, root.resolve("EchoClient.java").toString(), "--port", String.valueOf(server.port), "from source"), 60_000);
            assertTrue(r.status == 0, "client exit status " + r.status + ": " + r.stderr);
            assertTrue(r.stdout.equals("from source\n"), "stdout was: " + r.stdout);
        }
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

    @Test
    @DisplayName("SIGINT closes everything, exits within 2 s, port free at once")
    void sigint() throws Exception {
        shutdown("INT", 130);
    }

    @Test
    @DisplayName("SIGTERM closes everything, exits within 2 s, port free at once")
    void sigterm() throws Exception {
        shutdown("TERM", 143);
    }
}
