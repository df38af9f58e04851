// ExerciseCheck.java: The exercises' solutions: each patch applies, touches only the classes it names, compiles and runs.

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

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.opentest4j.TestAbortedException;

import static org.junit.jupiter.api.Assertions.*;

@Tag("check")
class ExerciseCheck extends Harness {

    @Test
    @DisplayName("exercise 1, the counting echo: greets with the number of open connections")
    void exerciseCounting() throws Exception {
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
        assertTrue(roles.stdout.contains("\nCountingEchoService: @ServiceHandler: Plays the service handler role"),
                "--roles does not show the exercise's new service handler:\n" + roles.stdout);
    }

    @Test
    @DisplayName("exercise 2, Answer: 'How are you?' gets 'Fine'")
    void exerciseAnswer() throws Exception {
        Path dir = exercise("02-answer", List.of("AnswerService", "main()"));
        try (Server server = Server.startIn(dir); Socket s = connect(server.port)) {
            send(s, "How are you?\r\nWhat's up?\nHow are you?\n");
            expect(s, "Fine\r\nI don't know what you mean\r\nFine\r\n");
        }
    }

    @Test
    @DisplayName("exercise 3, the logfile: startFactory opens it, every line appended, stopFactory closes it")
    void exerciseLogfile() throws Exception {
        Path dir = exercise("03-logfile", List.of("LogfileFactory", "LoggingService", "main()"));
        Path log = dir.resolve("lines.log");
        String[][] runs = {{"one\ntwo\n", "three\r\n"}, {"four\n", ""}};
        StringBuilder expected = new StringBuilder();
        for (String[] sent : runs) {
            try (Server server = Server.startIn(dir)) {
                assertTrue(Files.exists(log), "the file is not open once the server listens (startFactory)");
                for (String lines : sent) {
                    try (Socket s = connect(server.port)) {
                        send(s, lines);
                        s.shutdownOutput();
                        readToEnd(s);
                    }
                    expected.append(lines.replace("\r", ""));
                }
                run(List.of("kill", "-TERM", String.valueOf(server.pid())), 5000);
                assertTrue(server.process.waitFor(2, TimeUnit.SECONDS), "still running 2 s after SIGTERM");
            }
            assertTrue(Files.readString(log).equals(expected.toString()), "lines.log holds:\n" + Files.readString(log));
        }
        Path blocked = Files.createTempDirectory("blocked"); // where lines.log cannot be opened: one line, exit 1
        Files.createDirectory(blocked.resolve("lines.log"));
        Process p = new ProcessBuilder(java, "-cp", dir.resolve("classes").toString(), "EchoServer", "--port", "0", "--host", LOOPBACK)
                .directory(blocked.toFile()).redirectErrorStream(true).start();
        assertTrue(p.waitFor(20, TimeUnit.SECONDS), "a server whose log file cannot be opened did not end");
        String said = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.exitValue() == 1 && said.contains("echo-server: cannot start the echo service: ")
                && !said.contains("\tat "), "exit status " + p.exitValue() + ":\n" + said);
    }

    @Test
    @DisplayName("exercise 4, /who in the chat")
    void exerciseWho() throws Exception {
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

    @Test
    @DisplayName("exercise 5, one reactor accepts, one per core serves; SIGTERM still closes all within 2 s")
    void exerciseReactors() throws Exception {
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
                assertTrue(threads.contains("reactor-" + i), "no thread reactor-" + i + " among " + threads);
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
            assertTrue(right.get() == 40, right.get() + " of 40 clients got their echo whole");
            Socket member = chatMember(server.port("chat"), "alice"); // the chat still on the accepting reactor
            List<Socket> open = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                open.add(connect(server.port));
            }
            assertBytes(bytes("last\n"), roundTrip(open.get(49), bytes("last\n")), "the 50th open connection");
            long start = System.nanoTime();
            run(List.of("kill", "-TERM", String.valueOf(server.pid())), 5000);
            assertTrue(server.process.waitFor(2, TimeUnit.SECONDS), "still running 2 s after SIGTERM");
            server.drain();
            int closed = 0;
            for (Matcher m = Pattern.compile("stopped: closed (\\d+) connection").matcher(server.log()); m.find(); ) {
                closed += Integer.parseInt(m.group(1));
            }
            assertTrue(closed == 51, "the reactors closed " + closed + " connections, not 51:\n" + server.tail(cores + 2));
            System.out.printf("     (%d reactors serve; exited %.2f s after SIGTERM)%n", cores,
                    (System.nanoTime() - start) / 1e9);
            closeAll(open);
            member.close();
        }
    }
}
