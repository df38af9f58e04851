// ExerciseCheck.java: The exercises' solutions: each patch applies, touches only the members it names, compiles, and
// runs beside the echo.

import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

@Tag("check")
class ExerciseCheck extends Harness {

    @Test
    @DisplayName("exercise 1, the counting echo: greets with the number of open connections")
    void exerciseCounting() throws Exception {
        Path dir = solution("01-counting-echo", List.of("CountingFactory", "CountingEchoService", "SERVICES"));
        try (Server server = Server.startIn(dir, "--counting", "0")) {
            int port = server.port("counting");
            Socket a = connect(port);
            expect(a, "Welcome! There are currently 1 open connections.\n");
            Socket b = connect(port);
            expect(b, "Welcome! There are currently 2 open connections.\n");
            assertBytes(bytes("hello\n"), roundTrip(a, bytes("hello\n")), "the counting echo's echo");
            a.close();
            server.awaitLog("closed (1 open)", 5000);
            Socket c = connect(port);
            expect(c, "Welcome! There are currently 2 open connections.\n");
            echoes(server);
        }
        Result roles = run(List.of(java, "-cp", dir.resolve("classes").toString(), "EchoServer", "--roles"), 20_000);
        assertTrue(roles.stdout.contains("\nCountingEchoService: @ServiceHandler: Plays the service handler role"),
                "--roles does not show the exercise's new service handler:\n" + roles.stdout);
    }

    @Test
    @DisplayName("exercise 2, Answer: 'How are you?' gets 'Fine'")
    void exerciseAnswer() throws Exception {
        Path dir = solution("02-answer", List.of("AnswerService", "SERVICES"));
        try (Server server = Server.startIn(dir, "--answer", "0"); Socket s = connect(server.port("answer"))) {
            send(s, "How are you?\r\nWhat's up?\nHow are you?\n");
            expect(s, "Fine\r\nI don't know what you mean\r\nFine\r\n");
            echoes(server);
        }
    }

    @Test
    @DisplayName("exercise 3, the logfile: startFactory opens it, every line appended, stopFactory closes it")
    void exerciseLogfile() throws Exception {
        Path dir = solution("03-logfile", List.of("LogfileFactory", "LoggingService", "SERVICES"));
        Path log = dir.resolve("lines.log");
        String[][] runs = {{"one\ntwo\n", "three\r\n"}, {"four\n", ""}};
        StringBuilder expected = new StringBuilder();
        for (String[] sent : runs) {
            try (Server server = Server.startIn(dir, "--logfile", "0")) {
                int port = server.port("logfile"); // its listening line comes after the echo's
                assertTrue(Files.exists(log), "the file is not open once the server listens (startFactory)");
                for (String lines : sent) {
                    try (Socket s = connect(port)) {
                        send(s, lines);
                        s.shutdownOutput();
                        readToEnd(s);
                    }
                    expected.append(lines.replace("\r", ""));
                }
                echoes(server);
                run(List.of("kill", "-TERM", String.valueOf(server.pid())), 5000);
                assertTrue(server.process.waitFor(2, TimeUnit.SECONDS), "still running 2 s after SIGTERM");
            }
            assertTrue(Files.readString(log).equals(expected.toString()), "lines.log holds:\n" + Files.readString(log));
        }
        Path blocked = Files.createTempDirectory("blocked"); // where lines.log cannot be opened: one line, exit 1
        Files.createDirectory(blocked.resolve("lines.log"));
        Process p = new ProcessBuilder(java, "-cp", dir.resolve("classes").toString(), "EchoServer", "--port", "0",
                "--host", LOOPBACK, "--logfile", "0").directory(blocked.toFile()).redirectErrorStream(true).start();
        assertTrue(p.waitFor(20, TimeUnit.SECONDS), "a server whose log file cannot be opened did not end");
        String said = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.exitValue() == 1 && said.contains("echo-server: cannot start the logfile service: ")
                && !said.contains("\tat "), "exit status " + p.exitValue() + ":\n" + said);
    }

    @Test
    @DisplayName("exercise 4, /who in the chat")
    void exerciseWho() throws Exception {
        Path dir = solution("04-who", List.of("ChatRoom", "ChatService"));
        try (Server server = Server.startIn(dir, "--chat", "0")) {
            int port = server.port("chat");
            Socket alice = chatMember(port, "alice");
            Socket bob = chatMember(port, "bob");
            send(bob, "/who\n");
            expect(bob, "In the room: alice, bob\r\n");
            send(bob, "hi\n");
            expect(alice, "<bob> hi\r\n"); // and not the /who before it
            echoes(server);
        }
    }

    @Test
    @DisplayName("exercise 5, one reactor accepts, one per core serves; SIGTERM still closes all within 2 s")
    void exerciseReactors() throws Exception {
        Path dir = solution("05-reactors", List.of("main()", "SelectorReactor", "SocketAcceptor", "Limits",
                "Log.stopped()"));
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
            server.awaitLog("(51 open)", 5000); // the count is the server's, over every reactor
            long start = System.nanoTime();
            run(List.of("kill", "-TERM", String.valueOf(server.pid())), 5000);
            assertTrue(server.process.waitFor(2, TimeUnit.SECONDS), "still running 2 s after SIGTERM");
            server.drain();
            int closed = 0;
            for (Matcher m = Pattern.compile("stopped: closed (\\d+) connection").matcher(server.log()); m.find(); ) {
                closed += Integer.parseInt(m.group(1));
            }
            assertTrue(closed == 51, "the reactors closed " + closed + " connections, not 51:\n"
                    + server.tail(cores + 2));
            System.out.printf("     (%d reactors serve; exited %.2f s after SIGTERM)%n", cores,
                    (System.nanoTime() - start) / 1e9);
            closeAll(open);
            member.close();
        }
    }

    /** Whatever the exercise added, the echo still echoes on its own port. */
    static void echoes(Server server) throws Exception {
        assertBytes(bytes("still the echo\n"), roundTrip(server.port, bytes("still the echo\n")), "the echo beside it");
    }

    /**
     * The solution exercises/NAME.patch in a directory of its own (the work tree is never changed), its changed
     * lines checked against the members the exercise names, compiled into "classes". A learner may have applied a
     * solution to EchoServer.java, or made a change of their own: that is no failure of the other solutions. So the
     * solution is checked on the first of these that works:
     * 1. EchoServer.java as it is, if the solution is in it already (its patch reverse-applies);
     * 2. EchoServer.java with the patch applied;
     * 3. EchoServer.java with the other exercises in it taken out again (reverse-applied), then the patch applied;
     * 4. if EchoServer.java has changes not yet committed: 1 to 3 on the version in git's HEAD.
     * A learner's applied exercise ends at step 1 or 3, a learner's own change at step 4. We do not go back to the
     * version a patch was once made against (git log): a solution that fits only an older server is stale, and must
     * fail. On a clean checkout (CI) no exercise is in the file and nothing is uncommitted, so steps 3 and 4 find
     * nothing, and a patch that no longer fits the server fails there as before.
     */
    static Path solution(String name, List<String> touches) throws Exception {
        Path patch = root.resolve("exercises/" + name + ".patch");
        assertTrue(Files.exists(patch), "no " + patch);
        Path dir = Files.createTempDirectory("exercise-" + name);
        Path file = dir.resolve("EchoServer.java");
        String working = Files.readString(root.resolve("EchoServer.java"));
        Map<String, String> versions = new LinkedHashMap<>();
        versions.put("EchoServer.java", working);
        Result head = run(List.of("git", "-C", root.toString(), "show", "HEAD:EchoServer.java"), 20_000);
        if (head.status == 0 && !head.stdout.equals(working)) {
            versions.put("EchoServer.java as committed (HEAD), as it does not fit your changes", head.stdout);
        }
        String checkedOn = null;
        for (Map.Entry<String, String> version : versions.entrySet()) {
            Files.writeString(file, version.getValue());
            if (gitApply(dir, patch, "--reverse", "--check")) {
                checkedOn = version.getKey() + ", which has this solution in it already";
            } else if (gitApply(dir, patch)) {
                checkedOn = version.getKey();
            } else {
                List<String> out = takeOut(dir, patch);
                if (!out.isEmpty() && gitApply(dir, patch)) {
                    checkedOn = version.getKey() + " without " + String.join(", ", out);
                }
            }
            if (checkedOn != null) {
                break;
            }
        }
        if (checkedOn == null) {
            Files.writeString(file, working);
            Result said = run(List.of("git", "-C", dir.toString(), "apply", "--check", patch.toString()), 20_000);
            fail(name + ".patch no longer applies to EchoServer.java (" + said.stderr.strip().replace("\n", "; ")
                    + "): if a change to the server broke it, refresh it (make the change in a copy, then git diff >"
                    + " exercises/" + name + ".patch)");
        }
        if (!checkedOn.equals("EchoServer.java")) {
            System.out.println("     (" + name + ": checked on " + checkedOn + ")");
        }
        checkTouches(name, patch, Files.readAllLines(file), touches);
        JavaCompiler compiler = ToolProvider.getSystemJavaCompiler();
        int status = compiler.run(null, null, null, "-d", dir.resolve("classes").toString(), "-Xlint:all", "-Werror",
                file.toString());
        assertTrue(status == 0, name + ": the patched EchoServer.java does not compile");
        return dir;
    }

    /** git apply in dir (outside any repository git applies to the files there, as patch does); true if it did. */
    static boolean gitApply(Path dir, Path patch, String... options) throws Exception {
        List<String> command = new ArrayList<>(List.of("git", "-C", dir.toString(), "apply"));
        command.addAll(List.of(options));
        command.add(patch.toString());
        return run(command, 20_000).status == 0;
    }

    /** The exercises' patches, in their order. */
    static List<Path> patches() throws IOException {
        try (var files = Files.list(root.resolve("exercises"))) {
            return files.filter(f -> f.getFileName().toString().endsWith(".patch")).sorted().toList();
        }
    }

    /**
     * Takes out of dir/EchoServer.java every exercise applied to it (whose patch reverse-applies) but keep's, until
     * none is left (one may come out only after another); returns their file names.
     */
    static List<String> takeOut(Path dir, Path keep) throws Exception {
        List<String> out = new ArrayList<>();
        for (boolean more = true; more; ) {
            more = false;
            for (Path patch : patches()) {
                String patchName = patch.getFileName().toString();
                if (!patch.equals(keep) && !out.contains(patchName) && gitApply(dir, patch, "--reverse")) {
                    out.add(patchName);
                    more = true;
                }
            }
        }
        return out;
    }

    /**
     * Every line the patch adds or removes (blank ones aside) lies inside a member the exercise names: a class (with
     * its comment and annotations), a method written "name()" or "Type.name()", or a field such as USAGE (to its ";").
     * Each hunk is found where it landed in the patched file (git apply allows an offset), by its new side.
     */
    static void checkTouches(String name, Path patch, List<String> patched, List<String> touches) throws IOException {
        List<int[]> ranges = new ArrayList<>();
        for (String member : touches) {
            int[] range = member.matches("[A-Z][A-Z_]*") ? field(patched, member) : locate(patched, member);
            assertTrue(range != null, name + ": no " + member + " in the patched file");
            int first = range[0];
            while (first > 1 && patched.get(first - 2).trim().matches("(/\\*\\*|\\*|//).*")) {
                first--; // the comment above a member belongs to it
            }
            ranges.add(new int[] {first, range[1]});
        }
        List<List<String>> hunks = new ArrayList<>();
        for (String line : Files.readAllLines(patch)) {
            if (line.startsWith("@@")) {
                hunks.add(new ArrayList<>());
            } else if (!hunks.isEmpty() && !line.startsWith("+++") && !line.startsWith("---")) {
                hunks.get(hunks.size() - 1).add(line);
            }
        }
        for (List<String> hunk : hunks) {
            List<String> newSide = hunk.stream().filter(l -> !l.startsWith("-"))
                    .map(l -> l.isEmpty() ? "" : l.substring(1)).toList();
            int at = Collections.indexOfSubList(patched, newSide);
            assertTrue(at >= 0, name + ".patch: a hunk is not in the patched file");
            int newLine = at + 1;
            for (String line : hunk) {
                if (line.startsWith("+") || line.startsWith("-")) {
                    int where = newLine;
                    boolean inside = line.substring(1).isBlank()
                            || ranges.stream().anyMatch(r -> where >= r[0] && where <= r[1]);
                    assertTrue(inside, name + ".patch changes line " + where + " of the patched file, outside "
                            + touches + ": " + line + " (name the member in the test's list, or move the change)");
                }
                newLine += line.startsWith("-") ? 0 : 1;
            }
        }
    }
}
