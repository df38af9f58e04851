// Harness.java: what the tests share: servers started from the compiled classes on free loopback ports,
// sockets, round trips, processes run to their end. Each test class extends it.

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
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
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.opentest4j.TestAbortedException;

import static org.junit.jupiter.api.Assertions.*;

abstract class Harness {
    static final int MAX_LINE = 16 * 1024;      // the server's default --max-line
    static final int READ_BUFFER = 64 * 1024;   // the server's shared read buffer
    static final Path root = Path.of("").toAbsolutePath(); // Maven runs the tests in the project
    static final Path classes = root.resolve("target/classes"); // Maven compiled both programs here
    static final List<AutoCloseable> resources = Collections.synchronizedList(new ArrayList<>());
    static Server shared; // one default server for the tests that need nothing special, for the whole run

    interface Body {
        void run() throws Exception;
    }

    // Time limits are a baseline times a ratio: SPEC's "within a second" is a second on an idle machine,
    // and on a loaded one it grows with how much slower a fixed piece of work runs here now.
    static final double REFERENCE_WORK_MILLIS = 60; // workload() on two idle cores of the reference machine
    static volatile double slowdown = 1;

    /** Measured before each test class starts, so that a class's own load (an attack) does not count. */
    @BeforeAll
    static void measureSlowdown() {
        long[] t = {workload(), workload(), workload()};
        Arrays.sort(t);
        slowdown = Math.max(1, t[1] / 1e6 / REFERENCE_WORK_MILLIS);
    }

    /** A fixed piece of CPU work long enough to span many scheduler slices: its time in nanoseconds. */
    static long workload() {
        byte[] data = new byte[1 << 20];
        long start = System.nanoTime();
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        for (int i = 0; i < 500; i++) {
            crc.update(data);
        }
        return System.nanoTime() - start + (crc.getValue() & 0); // the sum is used: the loop is not optimized away
    }

    /** A time limit for this machine as it is now: millis on an idle machine, times the slowdown measured. */
    static long scaled(long millis) {
        return Math.round(millis * slowdown);
    }

    /** What a test opened (servers, sockets) is closed after it, passed or failed. */
    @AfterEach
    void closeResources() {
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
    }

    /** The side of inSmallBuffers that runs inside a network namespace of its own: java -cp ... Harness --attack NAME */
    public static void main(String[] args) {
        measureSlowdown();
        System.exit(args.length == 2 && args[0].equals("--attack") ? attack(args[1]) : 2);
    }

    static final String LOOPBACK = "127.0.0.1";

    static final String java = ProcessHandle.current().info().command().orElse("java");

    /** A well-behaved client's round trip, which must stay under a second whatever the others do. */
    static void promptEcho(Server server, String what) throws Exception {
        for (int i = 0; i < 3; i++) {
            long start = System.nanoTime();
            byte[] ping = bytes("ping " + i + "\n");
            assertBytes(ping, roundTrip(server.port, ping), what + ": a well-behaved client's echo");
            long millis = (System.nanoTime() - start) / 1_000_000;
            assertTrue(millis < scaled(1000), what + ": a well-behaved client's round trip took " + millis + " ms");
        }
        assertTrue(server.process.isAlive(), what + ": the server died:\n" + server.tail(5));
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
            throw new TestAbortedException("no unshare here, so no network namespace with small TCP buffers");
        }
        if (probe.status != 0) {
            throw new TestAbortedException("cannot make a network namespace with small TCP buffers (needs root): " + probe.stderr.trim());
        }
        Result r = run(concat(namespace, List.of(java, "-cp", System.getProperty("java.class.path"), "Harness", "--attack", attack)), 55_000);
        assertTrue(r.status == 0, attack + ", with small TCP buffers: " + r.stdout + r.stderr);
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
                default -> { // Class#method: a static method of a test class, with no arguments
                    String[] where = name.split("#");
                    Class.forName(where[0]).getDeclaredMethod(where[1]).invoke(null);
                }
            }
            return 0;
        } catch (Throwable e) {
            Throwable cause = e instanceof java.lang.reflect.InvocationTargetException ? e.getCause() : e;
            System.out.println(cause instanceof AssertionError ? cause.getMessage() : cause.toString());
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
                while (System.nanoTime() - lastProgress < TimeUnit.MILLISECONDS.toNanos(scaled(1000))
                        && System.nanoTime() < deadline) {
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

    static final Pattern TIMESTAMP = Pattern.compile("^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} ");

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

    /** A member whose socket keeps little in the kernel (a small receive buffer): it reads its prompts, then never. */
    static Socket silentMember(int port, String name) throws Exception {
        Socket s = new Socket();
        resources.add(s);
        s.setReceiveBufferSize(4096);
        s.connect(new InetSocketAddress(LOOPBACK, port), (int) scaled(10_000));
        s.setSoTimeout((int) scaled(20_000));
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
            assertTrue(server.process.isAlive(), "the server died:\n" + server.tail(5));
            assertTrue(!server.log().contains("OutOfMemoryError"), "out of memory:\n" + server.tail(5));
            long start = System.nanoTime();
            Socket late = chatMember(port, "late");
            send(reader, "welcome\n");
            expect(late, "<reader> welcome\r\n");
            long millis = (System.nanoTime() - start) / 1_000_000;
            assertTrue(millis < scaled(1000), "a new member waited " + millis + " ms");
            promptEcho(server, "after the fan-out");
            closeAll(silent);
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
                    ByteArrayOutputStream got = new ByteArrayOutputStream();
                    byte[] buffer = new byte[65536];
                    try {
                        for (int n; got.size() < want && (n = r.getInputStream().read(buffer)) > 0; ) {
                            got.write(buffer, 0, n);
                        }
                    } catch (IOException e) {
                        // reported below with what arrived
                    }
                    outcome.add(got.size() != want ? "cut off after " + got.size() + " of " + want + " bytes"
                            : pastedLines(got.toString(StandardCharsets.UTF_8), pasters, lines));
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
            assertTrue(outcome.equals(List.of("whole", "whole", "whole")), "the readers: " + outcome);
        }
    }

    /** A member reading 10 KB every 100 ms, steadily, while a member with the longest prefix pastes 4 KiB of lines. */
    /** "whole" if the text is each paster's line, lines times, and nothing else (pasters may interleave). */
    static String pastedLines(String text, int pasters, int lines) {
        Map<String, Integer> counts = new LinkedHashMap<>();
        for (String line : text.split("\r\n", -1)) {
            if (!line.isEmpty()) counts.merge(line, 1, Integer::sum);
        }
        Map<String, Integer> expected = new LinkedHashMap<>();
        for (int i = 0; i < pasters; i++) expected.put("<" + gothicName(i) + "> \ufffd", lines);
        return counts.equals(expected) && text.endsWith("\r\n") ? "whole" : "other lines than pasted: " + counts;
    }

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
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            byte[] buffer = new byte[10_000];
            try {
                for (int n; got.size() < want && (n = slow.getInputStream().read(buffer)) > 0; Thread.sleep(100)) {
                    got.write(buffer, 0, n);
                }
            } catch (IOException e) {
                // reported below
            }
            assertBytes(bytes(("<" + gothicName(0) + "> \ufffd\r\n").repeat(lines)), got.toByteArray(), "the slow reader");
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
            expect(sender, "Names are at most 32 characters, please choose another.\r\n");
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
            assertTrue(complete.get() == members, complete.get() + " of " + members + " readers got everything; "
                    + (failures.isEmpty() ? "" : failures.get(0)));
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
            assertTrue(at < lines.length, "the trace has no line matching '" + pattern + "' where expected; the trace:\n" + log);
            at++;
        }
    }

    static List<String> client(String... args) {
        List<String> command = new ArrayList<>(List.of(java, "-cp", classes.toString(), "EchoClient"));
        command.addAll(List.of(args));
        return command;
    }

    /** The client's CPU time so far, from /proc (Linux). */
    static long cpuMillis(Process p) throws IOException {
        String stat = Files.readString(proc(p.pid() + "/stat"));
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return (Long.parseLong(fields[11]) + Long.parseLong(fields[12])) * 10;
    }

    static void expect(List<String> problems, boolean condition, String problem) {
        if (!condition) {
            problems.add(problem);
        }
    }

    /** The lines [first, last] of a declaration: its annotation (if directly above) to its closing brace. */
    static int[] locate(List<String> source, String name) {
        String type = null;
        String member = name;
        if (name.contains(".")) {
            type = name.substring(0, name.indexOf('.'));
            member = name.substring(name.indexOf('.') + 1);
        }
        if (type == null && member.matches("[A-Z][A-Z_0-9]*")) {
            return field(source, member); // a constant, such as SERVICES
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

    /** The lines [first, last] of a field: its declaration to the line that ends it with ';'. */
    static int[] field(List<String> source, String name) {
        Pattern declaration = Pattern.compile("^\\s+(?:[\\w\\[\\]<>]+\\s+)+" + Pattern.quote(name) + "\\s*=");
        for (int i = 0; i < source.size(); i++) {
            if (declaration.matcher(source.get(i)).find()) {
                int last = i;
                while (last < source.size() - 1 && !source.get(last).replaceAll("//.*", "").trim().endsWith(";")) {
                    last++;
                }
                return new int[] {i + 1, last + 1};
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

    /** The shared default server, started on first use. */
    static Server server() throws Exception {
        if (shared == null || !shared.process.isAlive()) {
            shared = Server.start();
            Server started = shared;
            Runtime.getRuntime().addShutdownHook(new Thread(started::close)); // the run is over: so is the server
        }
        return shared;
    }

    static final class Server implements AutoCloseable {
        final Process process;
        final int port;
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        private final Thread outReader;
        private Thread errReader;

        Server(List<String> command) throws Exception {
            this(command, true);
        }

        /** With readLog false nobody reads the server's standard error: a stalled log. */
        Server(List<String> command, boolean readLog) throws Exception {
            this(command, readLog, root);
        }

        Server(List<String> command, boolean readLog, Path directory) throws Exception {
            ProcessBuilder builder = new ProcessBuilder(command).directory(directory.toFile());
            builder.environment().put("LC_ALL", "C.UTF-8");
            process = builder.start();
            resources.add(this);
            outReader = pump(process.getInputStream(), out);
            errReader = readLog ? pump(process.getErrorStream(), err) : null;
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(scaled(60_000)); // a hang, not a slow start
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
            List<String> command = new ArrayList<>(List.of(java, "-cp", classes.toString(), "EchoServer", "--port", "0", "--host", LOOPBACK));
            command.addAll(List.of(args)); // a later --port wins
            return new Server(command);
        }

        /** A server compiled from an exercise's patched copy, run in that copy's directory. */
        static Server startIn(Path dir, String... args) throws Exception {
            List<String> command = new ArrayList<>(List.of(java, "-cp", dir.resolve("classes").toString(), "EchoServer",
                    "--port", "0", "--host", LOOPBACK));
            command.addAll(List.of(args));
            return new Server(command, true, dir);
        }

        static Server startFromSource() throws Exception {
            return new Server(List.of(java, root.resolve("EchoServer.java").toString(), "--port", "0", "--host", LOOPBACK));
        }

        /** The server from classes, with JVM options first (for example a small heap). */
        static Server startJvm(List<String> jvmOptions, String... args) throws Exception {
            List<String> command = new ArrayList<>(List.of(java));
            command.addAll(jvmOptions);
            command.addAll(List.of("-cp", classes.toString(), "EchoServer", "--port", "0", "--host", LOOPBACK));
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
            command.addAll(List.of("--port", "0", "--host", LOOPBACK));
            command.addAll(List.of(args));
            return new Server(command);
        }

        /** From classes, with standard error a pipe that nobody reads. */
        static Server startWithStalledLog(String... args) throws Exception {
            List<String> command = new ArrayList<>(List.of(java, "-cp", classes.toString(), "EchoServer", "--port", "0", "--host", LOOPBACK));
            command.addAll(List.of(args));
            return new Server(command, false);
        }

        long pid() {
            return process.pid();
        }

        /** The port of a service, from its "NAME server listening on ADDRESS:PORT" line. */
        int port(String service) throws InterruptedException {
            Pattern line = Pattern.compile(service + " server listening on \\S*:(\\d+)[ \\n]");
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(scaled(30_000));
            Matcher m;
            while (!(m = line.matcher(stdout())).find()) {
                assertTrue(System.nanoTime() < deadline, "no " + service + " listening line in:\n" + stdout());
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
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(scaled(millis));
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

    /** A finished program: its exit status and what it wrote. */
    static final class Result {
        final int status;
        final String stdout;
        final byte[] stdoutBytes;
        final String stderr;

        Result(int status, String stdout, byte[] stdoutBytes, String stderr) {
            this.status = status;
            this.stdout = stdout;
            this.stdoutBytes = stdoutBytes;
            this.stderr = stderr;
        }
    }

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
        if (!p.waitFor(scaled(2 * millis), TimeUnit.MILLISECONDS)) { // bounds a hang: busy, JVMs start slowly
            p.destroyForcibly();
            throw new AssertionError("did not finish within " + scaled(2 * millis) + " ms: " + command);
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
        s.connect(new InetSocketAddress(LOOPBACK, port), (int) scaled(10_000));
        s.setSoTimeout((int) scaled(20_000));
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

    /** A file under Linux's /proc; elsewhere the test that needs it is skipped, with this reason. */
    static Path proc(String file) {
        if (!Files.isDirectory(Path.of("/proc/self"))) {
            throw new TestAbortedException("needs Linux's /proc to measure the server");
        }
        return Path.of("/proc", file);
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

    static int count(String text, String needle) {
        int n = 0;
        for (int i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1)) {
            n++;
        }
        return n;
    }
}
