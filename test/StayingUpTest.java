// StayingUpTest.java: Small heaps, stalled logs, idle connections, failing selectors: what keeps the server up.

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.lang.reflect.Method;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

@Tag("attack")
class StayingUpTest extends Harness {

    @Test
    @DisplayName("-Xmx48m, 3000 clients each holding 16383 bytes of a line: up, served, nothing lost")
    void smallHeapHeldLines() throws Exception {
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

    @Test
    @DisplayName("-Xmx48m, --max-line 64 MiB, 8 clients sending 64 MiB without newline")
    void smallHeapHugeLines() throws Exception {
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
                r.join(scaled(50_000));
            }
            promptEcho(server, "8 lines of 64 MiB");
            for (int i = 0; i < count; i++) {
                assertTrue(got[i] == size && !wrong[i], "client " + i + " got back " + got[i] + " of " + size + " bytes"
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
    @Test
    @DisplayName("memory budget spent by 70 held lines: a client that reads is slowed, never kept waiting")
    void budgetSpentByOthers() throws Exception {
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
                server.awaitLog("memory budget of ", 10_000); // even with --quiet; several reactors log each its share
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
                    assertTrue(n > 0, "connection closed after " + got + " bytes");
                    got += n;
                }
                assertBytes(data, back, "the reading client's echo");
            } finally {
                closeAll(holders);
            }
        }
    }

    @Test
    @DisplayName("out of descriptors before the first echo, from classes and from source")
    void descriptorsBeforeFirstEcho() throws Exception {
        for (boolean fromSource : new boolean[] {false, true}) {
            String mode = fromSource ? "from source" : "from classes";
            try (Server server = Server.startWithLimit(64, fromSource)) {
                List<Socket> silent = new ArrayList<>();
                try {
                    for (int i = 0; i < 74; i++) { // more than the server has descriptors for
                        silent.add(connect(server.port));
                    }
                    server.awaitLog("accept failed", scaled(10_000));
                    Socket first = silent.get(0); // accepted before the descriptors ran out
                    assertBytes(bytes("hello\n"), roundTrip(first, bytes("hello\n")), mode + ": the first echo");
                    assertTrue(server.process.isAlive(), mode + ": the server died:\n" + server.tail(5));
                } finally {
                    closeAll(silent);
                }
                try (Socket late = connect(server.port)) {
                    assertBytes(bytes("late\n"), roundTrip(late, bytes("late\n")), mode + ": a client after recovery");
                }
            }
        }
    }

    @Test
    @DisplayName("a stalled standard error never freezes the clients; SIGTERM exits within 2 s")
    void stalledLog() throws Exception {
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
                    server.awaitLog(" log lines dropped", scaled(5000));
                }
                long start = System.nanoTime();
                run(List.of("kill", "-TERM", String.valueOf(server.pid())), 5000);
                boolean exited = server.process.waitFor(scaled(2000), TimeUnit.MILLISECONDS);
                String state = unstall ? "after standard error was read again" : "with standard error stalled";
                assertTrue(exited, "still running " + scaled(2000) + " ms after SIGTERM " + state);
                System.out.printf("     (exited %.2f s after SIGTERM %s)%n", (System.nanoTime() - start) / 1e9, state);
                if (unstall) {
                    server.drain();
                    assertTrue(server.log().contains("stopped: closed 0 connections"),
                            "no stop line:\n" + server.tail(3));
                }
            } finally {
                server.close();
            }
        }
    }

    @Test
    @DisplayName("--idle-timeout closes idle connections; a locked-out client is served")
    void idleTimeout() throws Exception {
        try (Server server = Server.startWithLimit(64, false, "--idle-timeout", "2")) {
            List<Socket> silent = new ArrayList<>();
            try {
                for (int i = 0; i < 70; i++) { // holds every descriptor the server has
                    silent.add(connect(server.port));
                }
                server.awaitLog("accept failed", scaled(10_000));
                long start = System.nanoTime();
                try (Socket late = connect(server.port)) { // waits in the listen queue
                    late.setSoTimeout(10_000);
                    assertBytes(bytes("let me in\n"), roundTrip(late, bytes("let me in\n")), "a locked-out client");
                }
                double took = (System.nanoTime() - start) / 1e9;
                double most = scaled(4000) / 1000.0; // the idle timeout and 2 s, on an idle machine
                assertTrue(took < most, "the locked-out client waited " + took + " s, more than " + most + " s");
                assertTrue(server.log().contains("closed: idle for 2 s"), "no idle close logged:\n" + server.tail(3));
                assertTrue(readToEndOrReset(silent.get(0)), "an idle connection was not closed");
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
    @Test
    @DisplayName("out of descriptors: no connection is closed to make room; the new client waits for a free one")
    void noEviction() throws Exception {
        try (Server server = Server.startWithLimit(64, false, "--idle-timeout", "0")) {
            List<Socket> silent = new ArrayList<>();
            try {
                for (int i = 0; i < 70; i++) {
                    silent.add(connect(server.port));
                }
                server.awaitLog("accept failed", scaled(10_000));
                Socket late = connect(server.port); // waits in the listen queue
                late.getOutputStream().write(bytes("let me in\n"));
                Thread.sleep(7000); // longer than any "idle 5 s" rule
                assertTrue(!server.log().contains("to make room"),
                        "a connection was closed to make room:\n" + server.tail(3));
                assertBytes(bytes("still here\n"), roundTrip(silent.get(0), bytes("still here\n")),
                        "the connection idle longest, still open");
                long start = System.nanoTime();
                closeAll(silent.subList(1, silent.size())); // the others leave, those queued behind them too
                assertBytes(bytes("let me in\n"), readExactly(late, 10), "the new client, once descriptors are free");
                double took = (System.nanoTime() - start) / 1e9;
                double most = scaled(3000) / 1000.0;
                assertTrue(took < most, "the new client waited " + took + " s after descriptors were freed; at most "
                        + most + " s");
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
    @Test
    @DisplayName("a select() that keeps failing neither spins the loop nor floods the log")
    void selectKeepsFailing() throws Exception {
        java.io.PrintStream err = System.err;
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        FailingSelector selector = new FailingSelector();
        URL[] path = {classes.toUri().toURL()};
        try (URLClassLoader loader = new URLClassLoader(path, Harness.class.getClassLoader())) {
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
        assertTrue(tries <= 5, "select() was tried " + tries + " times in 2 s: the loop spins");
        assertTrue(lines >= 1 && lines <= 5, lines + " log lines about the failing select in 2 s");
    }

    @Test
    @DisplayName("-Xmx48m, 2000 clients that send and never read: up, served, nothing lost")
    void nonReaders() throws Exception {
        inSmallBuffers("non-readers");
    }

    @Test
    @DisplayName("-Xmx48m, 40 non-readers sending one-byte lines: up, served, nothing lost")
    void oneByteLines() throws Exception {
        inSmallBuffers("one-byte-lines");
    }
}
