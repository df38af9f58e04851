// EchoBench.java: the benchmark of EchoServer.java. JDK only, loopback only, every loop
// bounded in time, every echoed byte checked.
//
//   java bench/EchoBench.java [--quick] [options]        (./run.sh bench does this)
//
// It compiles EchoServer.java with javac into a temporary folder and runs the class, so
// compile time stays out of the figures (start-up through the source launcher is its own
// scenario). The server is pinned to CPU 0 and this load generator to CPU 1 with taskset
// where that exists. Output: a table for people, then one RESULT line per scenario.

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.ToolProvider;

public final class EchoBench {
    static final String LOOPBACK = "127.0.0.1";
    static final String USAGE = String.join("\n",
            "usage: java bench/EchoBench.java [--quick] [options]",
            "  --quick              short runs for a smoke test (under 30 s)",
            "  --scenarios LIST     comma-separated, from: pp1,pp100,stream32,stream1024,hold,startup (default all)",
            "  --duration S         seconds per measured run (default 3)",
            "  --runs N             measured runs per scenario; the median is shown (default 3)",
            "  --warmup S           seconds of unmeasured traffic first, for the JIT (default 2)",
            "  --conns N            connections for pp100 (default 100)",
            "  --stream-conns N     connections for the stream scenarios (default 10)",
            "  --hold N             connections for hold (default 10000)",
            "  --size BYTES         line size, newline included (default 64)",
            "  --server-args ARGS   extra server options, one string (default --quiet)",
            "  --no-pin             do not pin with taskset",
            "");

    static double duration = 3;
    static int runs = 3;
    static double warmup = 2;
    static int conns = 100;
    static int streamConns = 10;
    static int holdN = 10_000;
    static int size = 64;
    static String serverArgs = "--quiet";
    static boolean pin = true;
    static List<String> scenarios = List.of("pp1", "pp100", "stream32", "stream1024", "hold", "startup");

    static String java;
    static Path root;
    static int cpus;
    static boolean pinned;
    static final List<String[]> table = new ArrayList<>();
    static final List<String> results = new ArrayList<>();
    static final List<String> notes = new ArrayList<>();

    public static void main(String[] args) throws Exception {
        try {
            parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("echo-bench: " + e.getMessage());
            System.err.print(USAGE);
            System.exit(2);
        }
        root = Path.of("").toAbsolutePath();
        if (!Files.exists(root.resolve("EchoServer.java"))) {
            System.err.println("echo-bench: run it from the repository's root: ./run.sh bench");
            System.exit(2);
        }
        java = ProcessHandle.current().info().command().orElse("java");
        Path classes = Files.createTempDirectory("echo-bench");
        if (ToolProvider.getSystemJavaCompiler().run(null, null, null, "-d", classes.toString(),
                root.resolve("EchoServer.java").toString()) != 0) {
            System.err.println("echo-bench: compiling EchoServer.java failed");
            System.exit(1);
        }
        cpus = Runtime.getRuntime().availableProcessors(); // before pinning, which makes it 1
        pinned = pin && pinSelf();
        long fdLimit = openFileLimit();
        System.err.printf("echo-bench: Java %s, %d CPUs, %s, descriptor limit %d%n", Runtime.version(), cpus,
                pinned ? "server pinned to CPU 0, load generator to CPU 1" : "not pinned (no taskset, one CPU, or --no-pin)", fdLimit);
        notes.add(String.format("Java %s; %d CPUs; %s; line size %d B; warm-up %.1f s, then %d run(s) of %.1f s, median shown",
                Runtime.version(), cpus,
                pinned ? "server pinned to CPU 0, load generator (this JVM) to CPU 1" : "not pinned",
                size, warmup, runs, duration));

        List<String> command = new ArrayList<>();
        if (pinned) {
            command.addAll(List.of("taskset", "-c", "0"));
        }
        command.addAll(List.of(java, "-cp", classes.toString(), "EchoServer", "--port", "0"));
        if (!serverArgs.isBlank()) {
            command.addAll(List.of(serverArgs.trim().split("\\s+")));
        }
        boolean failed = false;
        try (ServerProcess server = ServerProcess.start(command)) {
            for (String scenario : scenarios) {
                switch (scenario) {
                    case "pp1" -> failed |= !load(server, "pp1", 1, 1);
                    case "pp100" -> failed |= !load(server, "pp" + conns, conns, 1);
                    case "stream32" -> failed |= !load(server, "stream32", streamConns, 32);
                    case "stream1024" -> failed |= !load(server, "stream1024", streamConns, 1024);
                    case "hold" -> failed |= !hold(server, fdLimit);
                    default -> { }
                }
            }
        }
        if (scenarios.contains("startup")) {
            failed |= !startup(classes);
        }

        System.out.println("| scenario | conns x in flight | result (median) | p50 µs | p99 µs | p99.9 µs | each run, or details | errors |");
        System.out.println("|---|--:|--:|--:|--:|--:|---|--:|");
        for (String[] row : table) {
            System.out.println("| " + String.join(" | ", row) + " |");
        }
        System.out.println();
        for (String note : notes) {
            System.out.println("- " + note);
        }
        System.out.println();
        for (String result : results) {
            System.out.println(result);
        }
        System.exit(failed ? 1 : 0);
    }

    // ---------------------------------------------------------------- scenarios

    /** Pingpong (inFlight 1) or stream (inFlight > 1): warm-up, then runs; the median is shown. */
    static boolean load(ServerProcess server, String name, int connections, int inFlight) throws Exception {
        System.err.printf("echo-bench: %s: %d connection(s), %d line(s) in flight each%n", name, connections, inFlight);
        try (Load load = new Load(server.port, connections, inFlight)) {
            load.run(warmup, false);
            List<Load.Stats> all = new ArrayList<>();
            for (int i = 0; i < runs; i++) {
                all.add(load.run(duration, true));
            }
            long errors = all.stream().mapToLong(s -> s.errors).sum() + load.errors;
            List<Load.Stats> sorted = new ArrayList<>(all);
            boolean stream = inFlight > 1;
            sorted.sort((a, b) -> Double.compare(stream ? a.mbPerSecond() : a.linesPerSecond(), stream ? b.mbPerSecond() : b.linesPerSecond()));
            Load.Stats median = sorted.get(sorted.size() / 2);
            String runsText = String.join(" ", all.stream().map(s -> stream ? fmt(s.mbPerSecond()) : fmt(s.linesPerSecond())).toList());
            table.add(new String[] {name, connections + " x " + inFlight,
                    stream ? fmt(median.mbPerSecond()) + " MB/s" : fmt(median.linesPerSecond()) + " req/s",
                    fmt(median.histogram.percentile(50) / 1000.0), fmt(median.histogram.percentile(99) / 1000.0),
                    fmt(median.histogram.percentile(99.9) / 1000.0), runsText, String.valueOf(errors)});
            results.add(String.format("RESULT scenario=%s conns=%d in_flight=%d size=%d secs=%.2f lines=%d rps=%.0f mb_s=%.1f p50_us=%.1f p99_us=%.1f p999_us=%.1f errors=%d",
                    name, connections, inFlight, size, median.seconds, median.lines, median.linesPerSecond(), median.mbPerSecond(),
                    median.histogram.percentile(50) / 1000.0, median.histogram.percentile(99) / 1000.0,
                    median.histogram.percentile(99.9) / 1000.0, errors));
            if (errors > 0) {
                notes.add(name + ": " + errors + " error(s): " + load.firstError);
            }
            return errors == 0;
        }
    }

    /**
     * Opens N connections, each echoes once, and measures the server's RSS before and while they
     * are open. Twice: the first round warms up the accept path (the JIT compiles it then, and
     * its compile-time memory stays resident) and is reported as "cold"; it is closed before the
     * second, measured round.
     */
    static boolean hold(ServerProcess server, long fdLimit) throws Exception {
        int n = holdN;
        if (n + 100 > fdLimit) { // one round is open at a time
            n = (int) Math.max(0, fdLimit - 100);
            notes.add("hold: descriptor limit " + fdLimit + " allows " + n + " connections, not " + holdN);
        }
        System.err.printf("echo-bench: hold: %d connections, twice%n", n);
        HoldRound cold = holdRound(server, n);
        Thread.sleep(1000); // the server closes the first round's connections
        HoldRound warm = holdRound(server, n);
        long errors = cold.errors + warm.errors;
        table.add(new String[] {"hold", n + " x 1", fmt(warm.kibPerConnection(n)) + " KiB/conn", "", "", "",
                "RSS " + fmt(warm.before / 1024.0) + " → " + fmt(warm.during / 1024.0) + " MiB, opened in "
                + fmt(warm.openSeconds) + " s; cold first round " + fmt(cold.kibPerConnection(n)) + " KiB/conn",
                String.valueOf(errors)});
        results.add(String.format("RESULT scenario=hold conns=%d rss_before_kib=%d rss_during_kib=%d kib_per_conn=%.2f cold_kib_per_conn=%.2f open_secs=%.2f errors=%d",
                n, warm.before, warm.during, warm.kibPerConnection(n), cold.kibPerConnection(n), warm.openSeconds, errors));
        return errors == 0;
    }

    record HoldRound(long before, long during, double openSeconds, long errors) {
        double kibPerConnection(int n) {
            return n == 0 ? 0 : (during - before) / (double) n;
        }
    }

    /** One round: open n connections, at most 50 not yet echoed at a time; sample RSS; close them. */
    static HoldRound holdRound(ServerProcess server, int n) throws Exception {
        Thread.sleep(500); // let earlier garbage and closes settle
        long before = server.rssKiB();
        List<SocketChannel> open = new ArrayList<>();
        long errors = 0;
        long start = System.nanoTime();
        long deadline = start + TimeUnit.SECONDS.toNanos(60);
        byte[] line = Load.line(0, size);
        try (Selector selector = Selector.open()) {
            ByteBuffer in = ByteBuffer.allocate(size);
            int pending = 0;
            while ((open.size() < n || pending > 0) && System.nanoTime() < deadline) {
                while (open.size() < n && pending < 50) {
                    SocketChannel c = SocketChannel.open(new InetSocketAddress(LOOPBACK, server.port));
                    c.configureBlocking(false);
                    c.write(ByteBuffer.wrap(line));
                    c.register(selector, SelectionKey.OP_READ, new int[] {0});
                    open.add(c);
                    pending++;
                }
                selector.select(100);
                for (SelectionKey key : selector.selectedKeys()) {
                    int[] got = (int[]) key.attachment();
                    in.clear().limit(size - got[0]);
                    int r = ((SocketChannel) key.channel()).read(in);
                    if (r < 0 || !Arrays.equals(in.array(), 0, Math.max(r, 0), line, got[0], got[0] + Math.max(r, 0))) {
                        errors++;
                        key.cancel();
                        pending--;
                        continue;
                    }
                    got[0] += r;
                    if (got[0] == size) {
                        key.interestOps(0);
                        pending--;
                    }
                }
                selector.selectedKeys().clear();
            }
            double openSeconds = (System.nanoTime() - start) / 1e9;
            errors += pending + (n - open.size());
            long during = 0;
            for (int i = 0; i < 5; i++) {
                Thread.sleep(200);
                during = Math.max(during, server.rssKiB());
            }
            return new HoldRound(before, during, openSeconds, errors);
        } finally {
            for (SocketChannel c : open) {
                c.close();
            }
        }
    }

    /** `java EchoServer.java` (the source launcher) and the precompiled class: spawn to first echo. */
    static boolean startup(Path classes) throws Exception {
        System.err.println("echo-bench: startup");
        boolean ok = true;
        for (boolean fromSource : new boolean[] {true, false}) {
            List<Double> times = new ArrayList<>();
            for (int i = 0; i < Math.max(1, runs); i++) {
                List<String> command = new ArrayList<>();
                if (pinned) { // measured as a user starts it: on every CPU, not on the one we are pinned to
                    command.addAll(List.of("taskset", "-c", "0-" + (cpus - 1)));
                }
                command.addAll(fromSource
                        ? List.of(java, root.resolve("EchoServer.java").toString(), "--port", "0", "--quiet")
                        : List.of(java, "-cp", classes.toString(), "EchoServer", "--port", "0", "--quiet"));
                long start = System.nanoTime();
                try (ServerProcess server = ServerProcess.start(command)) {
                    try (SocketChannel c = SocketChannel.open(new InetSocketAddress(LOOPBACK, server.port))) {
                        c.write(ByteBuffer.wrap("first\n".getBytes(StandardCharsets.US_ASCII)));
                        ByteBuffer reply = ByteBuffer.allocate(6);
                        while (reply.hasRemaining() && c.read(reply) >= 0) {
                            // blocking read until the echo is complete
                        }
                        ok &= new String(reply.array(), StandardCharsets.US_ASCII).equals("first\n");
                    }
                    times.add((System.nanoTime() - start) / 1e9);
                }
            }
            times.sort(null);
            double median = times.get(times.size() / 2);
            String name = fromSource ? "startup (java EchoServer.java)" : "startup (precompiled class)";
            table.add(new String[] {name, "1", fmt(median) + " s to first echo", "", "", "",
                    String.join(" ", times.stream().map(EchoBench::fmt).toList()), ok ? "0" : "1"});
            results.add(String.format("RESULT scenario=%s secs=%.3f", fromSource ? "startup_source" : "startup_class", median));
        }
        return ok;
    }

    // ------------------------------------------------------------ load generator

    /**
     * Keeps inFlight lines outstanding on each connection, on one thread with one Selector.
     * Line k of a connection is line(k): a shifted, lost or repeated line shows up as a mismatch.
     */
    static final class Load implements AutoCloseable {
        final Selector selector = Selector.open();
        final List<Conn> connections = new ArrayList<>();
        final int inFlight;
        final byte[][] templates = new byte[26][];
        final ByteBuffer readBuffer = ByteBuffer.allocate(256 * 1024);
        long errors;
        String firstError = "";

        final class Conn {
            final SocketChannel channel;
            final ByteBuffer out;
            final long[] sentAt;
            long sent;      // lines written (or queued in out)
            long received;  // lines fully echoed and checked
            int offset;     // bytes of line `received` already checked

            Conn(SocketChannel channel) {
                this.channel = channel;
                this.out = ByteBuffer.allocateDirect(inFlight * size);
                this.out.flip();
                this.sentAt = new long[inFlight];
            }
        }

        Load(int port, int count, int inFlight) throws IOException {
            this.inFlight = inFlight;
            for (int i = 0; i < templates.length; i++) {
                templates[i] = line(i, size);
            }
            for (int i = 0; i < count; i++) {
                SocketChannel channel = SocketChannel.open(new InetSocketAddress(LOOPBACK, port));
                channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
                channel.configureBlocking(false);
                Conn conn = new Conn(channel);
                connections.add(conn);
                channel.register(selector, SelectionKey.OP_READ, conn);
            }
        }

        static byte[] line(long k, int size) {
            byte[] line = new byte[size];
            for (int i = 0; i < size - 1; i++) {
                line[i] = (byte) ('a' + (k + i) % 26);
            }
            line[size - 1] = '\n';
            return line;
        }

        record Stats(double seconds, long lines, long errors, Histogram histogram) {
            double linesPerSecond() {
                return lines / seconds;
            }

            double mbPerSecond() {
                return lines * (double) size / 1e6 / seconds;
            }
        }

        /** Runs for the given seconds; stops sending at the end and waits (bounded) for what is in flight. */
        Stats run(double seconds, boolean measure) throws IOException {
            Histogram histogram = new Histogram();
            currentHistogram = measure ? histogram : null;
            long runErrors = errors;
            long linesAtStart = totalReceived();
            long start = System.nanoTime();
            long end = start + (long) (seconds * 1e9);
            for (Conn c : connections) {
                fill(c, start);
            }
            long now = start;
            while (now < end) {
                selector.select(this::handle, 100);
                now = System.nanoTime();
            }
            long measuredLines = totalReceived() - linesAtStart;
            double took = (now - start) / 1e9;
            // Drain: no new lines, wait for the outstanding ones (at most 5 s: a stall is an error).
            long drainEnd = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            draining = true;
            while (outstanding() > 0 && System.nanoTime() < drainEnd) {
                selector.select(this::handle, 100);
            }
            draining = false;
            if (outstanding() > 0) {
                error("stalled: " + outstanding() + " lines never came back");
                for (Conn c : connections) {
                    c.received = c.sent; // count them as errors, not again
                    c.offset = 0;
                }
            }
            currentHistogram = null;
            return new Stats(took, measuredLines, errors - runErrors, histogram);
        }

        private Histogram currentHistogram; // null while warming up and draining
        private boolean draining;

        long totalReceived() {
            long n = 0;
            for (Conn c : connections) {
                n += c.received;
            }
            return n;
        }

        long outstanding() {
            long n = 0;
            for (Conn c : connections) {
                n += c.sent - c.received;
            }
            return n;
        }

        private void handle(SelectionKey key) {
            Conn c = (Conn) key.attachment();
            try {
                if (key.isWritable()) {
                    c.channel.write(c.out);
                }
                if (key.isReadable()) {
                    readAndCheck(c);
                }
                if (!draining) {
                    fill(c, System.nanoTime());
                }
                key.interestOps(SelectionKey.OP_READ | (c.out.hasRemaining() ? SelectionKey.OP_WRITE : 0));
            } catch (IOException e) {
                error("connection failed: " + e.getMessage());
                key.cancel();
            }
        }

        /** Tops the connection up to inFlight outstanding lines, in one write. */
        private void fill(Conn c, long now) throws IOException {
            if (c.sent - c.received >= inFlight) {
                return;
            }
            c.out.compact();
            while (c.sent - c.received < inFlight && c.out.remaining() >= size) {
                c.out.put(templates[(int) (c.sent % 26)]);
                c.sentAt[(int) (c.sent % inFlight)] = now;
                c.sent++;
            }
            c.out.flip();
            c.channel.write(c.out);
        }

        private void readAndCheck(Conn c) throws IOException {
            readBuffer.clear();
            int n = c.channel.read(readBuffer);
            if (n < 0) {
                throw new IOException("the server closed the connection");
            }
            byte[] data = readBuffer.array();
            int pos = 0;
            long now = System.nanoTime();
            while (pos < n) {
                if (c.received >= c.sent) {
                    throw new IOException("extra bytes: more came back than was sent");
                }
                byte[] expected = templates[(int) (c.received % 26)];
                int take = Math.min(n - pos, size - c.offset);
                if (!Arrays.equals(data, pos, pos + take, expected, c.offset, c.offset + take)) {
                    throw new IOException("mismatch in line " + c.received);
                }
                pos += take;
                c.offset += take;
                if (c.offset == size) {
                    c.offset = 0;
                    if (currentHistogram != null) {
                        currentHistogram.record(now - c.sentAt[(int) (c.received % inFlight)]);
                    }
                    c.received++;
                }
            }
        }

        private void error(String what) {
            if (errors == 0) {
                firstError = what;
            }
            errors++;
        }

        @Override
        public void close() throws IOException {
            for (Conn c : connections) {
                c.channel.close();
            }
            selector.close();
        }
    }

    /** Log-linear latency histogram in ns: 64 sub-buckets per power of two (< 1.6 % error). */
    static final class Histogram {
        final long[] counts = new long[64 * 64];
        long total;

        void record(long nanos) {
            long v = Math.max(1, nanos);
            int msb = 63 - Long.numberOfLeadingZeros(v);
            int shift = Math.max(0, msb - 6);
            int index = shift == 0 ? (int) v : (msb - 5) * 64 + (int) ((v >> shift) & 63);
            counts[Math.min(index, counts.length - 1)]++;
            total++;
        }

        /** The value below which the given percent of samples lie (upper edge of its bucket). */
        double percentile(double percent) {
            long rank = (long) Math.ceil(total * percent / 100.0);
            long seen = 0;
            for (int i = 0; i < counts.length; i++) {
                seen += counts[i];
                if (seen >= rank && counts[i] > 0) {
                    if (i < 128) {
                        return i;
                    }
                    int shift = i / 64 - 1;
                    return ((64L + i % 64) << shift) + (1L << shift) - 1;
                }
            }
            return 0;
        }
    }

    // -------------------------------------------------------------- the server

    static final class ServerProcess implements AutoCloseable {
        final Process process;
        final int port;
        final ByteArrayOutputStream output = new ByteArrayOutputStream();

        private ServerProcess(Process process, int port) {
            this.process = process;
            this.port = port;
        }

        static ServerProcess start(List<String> command) throws Exception {
            ProcessBuilder builder = new ProcessBuilder(command).directory(root.toFile()).redirectErrorStream(true);
            Process process = builder.start();
            InputStream out = process.getInputStream();
            StringBuilder seen = new StringBuilder();
            Pattern listening = Pattern.compile("listening on \\S*:(\\d+)");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (System.nanoTime() < deadline) {
                int b = out.read();
                if (b < 0) {
                    break;
                }
                seen.append((char) b);
                Matcher m = listening.matcher(seen);
                if (b == '\n' && m.find()) {
                    ServerProcess server = new ServerProcess(process, Integer.parseInt(m.group(1)));
                    Thread drain = new Thread(() -> {
                        try {
                            out.transferTo(server.output);
                        } catch (IOException e) {
                            // the server ended
                        }
                    });
                    drain.setDaemon(true);
                    drain.start();
                    return server;
                }
            }
            process.destroyForcibly();
            throw new IOException("the server did not start: " + command + "\n" + seen);
        }

        long rssKiB() throws IOException {
            for (String line : Files.readAllLines(Path.of("/proc/" + process.pid() + "/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("\\D", ""));
                }
            }
            return 0;
        }

        @Override
        public void close() {
            process.destroy();
            try {
                if (!process.waitFor(5, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }

    // ----------------------------------------------------------------- helpers

    /** Pins every thread of this JVM to CPU 1 (the server gets CPU 0). */
    static boolean pinSelf() {
        if (Runtime.getRuntime().availableProcessors() < 2) {
            return false;
        }
        try {
            Process p = new ProcessBuilder("taskset", "-a", "-p", "-c", "1", String.valueOf(ProcessHandle.current().pid()))
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            return p.waitFor(5, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    static long openFileLimit() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
                if (line.startsWith("Max open files")) {
                    return Long.parseLong(line.substring(25).trim().split("\\s+")[0]);
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: assume enough
        }
        return Long.MAX_VALUE;
    }

    static void parse(String[] args) {
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--quick" -> {
                    duration = 1;
                    runs = 1;
                    warmup = 0.5;
                    holdN = 1000;
                }
                case "--scenarios" -> {
                    scenarios = List.of(value(args, ++i).split(","));
                    for (String s : scenarios) {
                        if (!List.of("pp1", "pp100", "stream32", "stream1024", "hold", "startup").contains(s)) {
                            throw new IllegalArgumentException("unknown scenario '" + s + "'");
                        }
                    }
                }
                case "--duration" -> duration = positive(args, ++i);
                case "--runs" -> runs = (int) positive(args, ++i);
                case "--warmup" -> warmup = Double.parseDouble(value(args, ++i));
                case "--conns" -> conns = (int) positive(args, ++i);
                case "--stream-conns" -> streamConns = (int) positive(args, ++i);
                case "--hold" -> holdN = (int) positive(args, ++i);
                case "--size" -> {
                    size = (int) positive(args, ++i);
                    if (size < 2) {
                        throw new IllegalArgumentException("--size must be at least 2");
                    }
                }
                case "--server-args" -> serverArgs = value(args, ++i);
                case "--no-pin" -> pin = false;
                case "--help", "-h" -> {
                    System.out.print(USAGE);
                    System.exit(0);
                }
                default -> throw new IllegalArgumentException("unknown option '" + args[i] + "'");
            }
        }
    }

    static String value(String[] args, int i) {
        if (i >= args.length) {
            throw new IllegalArgumentException(args[i - 1] + " needs a value");
        }
        return args[i];
    }

    static double positive(String[] args, int i) {
        String text = value(args, i);
        try {
            double v = Double.parseDouble(text);
            if (v > 0) {
                return v;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException("invalid value '" + text + "' for " + args[i - 1] + ": expected a positive number");
    }

    static String fmt(double v) {
        if (v >= 100) {
            return String.format("%.0f", v);
        }
        if (v >= 10) {
            return String.format("%.1f", v);
        }
        return String.format("%.2f", v);
    }
}
