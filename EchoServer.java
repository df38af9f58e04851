// EchoServer.java: a line echo server on one thread, written to teach three
// patterns from Pattern-Oriented Software Architecture, vol. 2 (POSA2):
// Wrapper Facade, Reactor and Acceptor-Connector.
//
//   java EchoServer.java [--port N] [--host ADDR] [--max-line BYTES] [--verbose | --quiet]
//
// Read it top to bottom: the entry point, the reactor (event loop), the
// acceptor (makes a handler per connection), the line handler (the echo
// service), the wrapper facade (the socket), then annotations and helpers.
// Plain JDK, no package, one file. Tested on OpenJDK 17.0.15 and 17.0.21, Temurin 25.0.3.

import java.io.IOException;
import java.lang.annotation.Annotation;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.net.BindException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectableChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayDeque;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

public final class EchoServer {
    static final int DEFAULT_PORT = 8000;
    // Twisted's LineReceiver holds 16 KiB; Netty examples use 8 KiB, asyncio 64 KiB.
    static final int DEFAULT_MAX_LINE = 16 * 1024;
    static final int MAX_MAX_LINE = 64 * 1024 * 1024;

    static final String USAGE = String.join("\n",
            "usage: java EchoServer.java [--port N] [--host ADDR] [--max-line BYTES] [--verbose | --quiet]",
            "       java EchoServer.java --roles | --help",
            "  --port N          TCP port to listen on; 0 picks a free one (default " + DEFAULT_PORT + ")",
            "  --host ADDR       address to listen on (default: all interfaces)",
            "  --max-line BYTES  longest unfinished line held; longer lines are echoed in",
            "                    pieces of this size (default " + DEFAULT_MAX_LINE + ", 1 to " + MAX_MAX_LINE + ")",
            "  --verbose         also log every line received",
            "  --quiet           log errors only",
            "  --roles           print which class plays which pattern role, and exit",
            "  --help            print this help, and exit",
            "");

    public static void main(String[] args) {
        Options options;
        try {
            options = Options.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("echo-server: " + e.getMessage());
            System.err.print(USAGE);
            System.exit(2);
            return;
        }
        if (options.help) {
            System.out.print(USAGE);
            return;
        }
        if (options.roles) {
            printRoles();
            return;
        }
        Log.level = options.logLevel;

        InetSocketAddress address = options.host == null
                ? new InetSocketAddress(options.port)
                : new InetSocketAddress(options.host, options.port);
        if (address.isUnresolved()) {
            fail("cannot resolve host '" + options.host + "'");
        }
        SelectorReactor reactor;
        InetSocketAddress bound;
        try {
            reactor = new SelectorReactor();
            bound = new EchoAcceptor(reactor, options.maxLine).open(address);
        } catch (BindException e) {
            fail(bindFailure(address, e));
            return;
        } catch (IOException e) {
            fail("cannot listen on " + Log.format(address) + ": " + Log.reason(e));
            return;
        }
        System.out.println("echo server listening on " + (options.host == null
                ? "*:" + bound.getPort() + " (all interfaces)" : Log.format(bound)));
        System.out.flush();
        Log.info("started: pid " + ProcessHandle.current().pid() + ", Java " + Runtime.version()
                + ", max line " + options.maxLine + " bytes");

        // Ctrl-C and SIGTERM run shutdown hooks on another thread: the hook only asks the
        // reactor to stop and waits for it, so every socket is closed by the reactor thread.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            reactor.stop();
            reactor.awaitStopped(SelectorReactor.SHUTDOWN_WAIT_MILLIS);
        }, "shutdown"));
        if (!reactor.run()) {
            System.exit(1);
        }
    }

    /** Bind fails for a port in use, a port we may not take, or an address not on this host. */
    private static String bindFailure(InetSocketAddress address, BindException e) {
        int port = address.getPort();
        if (port >= 1024 && isLocal(address.getAddress())) {
            return "port " + port + " is already in use";
        }
        return "cannot listen on " + Log.format(address) + ": " + Log.reason(e);
    }

    private static boolean isLocal(InetAddress address) {
        try {
            return address.isAnyLocalAddress() || address.isLoopbackAddress()
                    || NetworkInterface.getByInetAddress(address) != null;
        } catch (IOException e) {
            return false;
        }
    }

    private static void fail(String reason) {
        System.err.println("echo-server: " + reason);
        System.exit(1);
    }

    /** --roles: the role annotations read back at run time, in data-flow order. */
    static void printRoles() {
        for (Class<? extends Annotation> role : List.of(Reactor.class, Acceptor.class, ServiceHandler.class, WrapperFacade.class)) {
            for (Class<?> type : EchoServer.class.getDeclaredClasses()) {
                Annotation annotation = type.getAnnotation(role);
                if (annotation != null) {
                    System.out.println(type.getSimpleName() + ": @" + role.getSimpleName() + ": " + roleSentence(annotation));
                }
            }
        }
    }

    // ------------------------------------------------------------------ Reactor

    /**
     * The one-method interface through which the reactor dispatches: every handler attached
     * to a selection key implements it, so the reactor never needs to know concrete types.
     */
    interface EventHandler {
        /** Hook method: the reactor calls it, on its own thread, when the key's handle is ready. */
        void handleEvent(SelectionKey key);
    }

    // Plays the reactor role in Reactor and the dispatcher role in Acceptor-Connector: waits
    // on one Selector for events on every handle and dispatches each to its attached handler.
    @Reactor("Plays the reactor role in Reactor and the dispatcher role in Acceptor-Connector: waits on one Selector for events on every handle and dispatches each to its attached handler.")
    static final class SelectorReactor {
        // One read buffer for every connection: only one handler runs at a time. 64 KiB is
        // what loopback TCP usually has ready at once; direct, so the kernel copies into it.
        static final int READ_BUFFER_SIZE = 64 * 1024;
        // The shutdown hook waits this long for the loop to close everything, so we exit within 2 s.
        static final long SHUTDOWN_WAIT_MILLIS = 1500;

        private final Selector selector;
        private final ByteBuffer readBuffer = ByteBuffer.allocateDirect(READ_BUFFER_SIZE);
        private final PriorityQueue<Timer> timers = new PriorityQueue<>(Comparator.comparingLong(Timer::deadline));
        private final Consumer<SelectionKey> dispatcher = this::dispatch;
        private final CountDownLatch stopped = new CountDownLatch(1);
        private volatile boolean running = true;

        record Timer(long deadline, Runnable task) { }

        SelectorReactor() throws IOException {
            selector = Selector.open();
        }

        /** Adds a handle (a channel) to the set the reactor waits on, with its handler attached. */
        SelectionKey register(SelectableChannel handle, int interest, EventHandler handler) throws IOException {
            return handle.register(selector, interest, handler);
        }

        /** Runs a task on the reactor thread after a delay: the loop's only kind of timer. */
        void schedule(long delayMillis, Runnable task) {
            timers.add(new Timer(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(delayMillis), task));
        }

        ByteBuffer readBuffer() {
            return readBuffer;
        }

        /** The event loop: wait, dispatch, run due timers. Returns false if the selector failed. */
        boolean run() {
            try {
                while (running) {
                    selector.select(dispatcher, millisToNextTimer());
                    runDueTimers();
                }
                return true;
            } catch (IOException e) {
                Log.error("event loop failed: " + Log.reason(e));
                return false;
            } finally {
                closeAll();
                stopped.countDown();
            }
        }

        /** Dispatch by attachment: the key carries its handler. One failure never ends the loop. */
        private void dispatch(SelectionKey key) {
            if (!key.isValid()) {
                return; // cancelled by an earlier handler in this same batch
            }
            try {
                ((EventHandler) key.attachment()).handleEvent(key);
            } catch (RuntimeException e) {
                Log.error("handler failed, closing its channel: " + e);
                key.cancel();
                closeQuietly(key.channel());
            }
        }

        private long millisToNextTimer() {
            Timer next = timers.peek();
            if (next == null) {
                return 0; // no timer: block until an event (or wakeup)
            }
            long millis = TimeUnit.NANOSECONDS.toMillis(next.deadline() - System.nanoTime());
            return Math.max(1, millis + 1);
        }

        private void runDueTimers() {
            long now = System.nanoTime();
            while (!timers.isEmpty() && timers.peek().deadline() - now <= 0) {
                timers.poll().task().run();
            }
        }

        /** Called from the shutdown hook's thread: a flag and a wakeup, nothing else crosses threads. */
        void stop() {
            running = false;
            selector.wakeup();
        }

        void awaitStopped(long millis) {
            try {
                stopped.await(millis, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        private void closeAll() {
            int connections = 0;
            for (SelectionKey key : selector.keys()) {
                if (key.isValid() && key.channel() instanceof SocketChannel) {
                    connections++; // by handle type: the reactor knows no concrete handler
                }
                closeQuietly(key.channel());
            }
            closeQuietly(selector);
            Log.info("stopped: closed " + connections + (connections == 1 ? " connection" : " connections")
                    + " and the listening socket");
        }

        private static void closeQuietly(AutoCloseable closeable) {
            try {
                closeable.close();
            } catch (Exception e) {
                // closing during shutdown or after a failure: nothing more to do
            }
        }
    }

    // ----------------------------------------------------------------- Acceptor

    // Plays the acceptor role in Acceptor-Connector: owns the listening channel and, for each
    // connection it accepts, makes a line handler around a new wrapper facade and activates it.
    @Acceptor("Plays the acceptor role in Acceptor-Connector: owns the listening channel and, for each connection it accepts, makes a line handler around a new wrapper facade and activates it.")
    static final class EchoAcceptor implements EventHandler {
        // The kernel queues this many finished handshakes for us: enough for bursts of
        // thousands of clients (Java's default of 50 drops connections under load).
        static final int BACKLOG = 4096;
        // Accept at most this many per event, so a flood of connects cannot starve the clients.
        static final int ACCEPTS_PER_EVENT = 64;
        // After a failed accept (too many open files) stop accepting this long instead of spinning.
        static final long ACCEPT_RETRY_MILLIS = 1000;

        private final SelectorReactor reactor;
        private final int maxLine;
        private ServerSocketChannel listener;
        private SelectionKey listenerKey;

        EchoAcceptor(SelectorReactor reactor, int maxLine) {
            this.reactor = reactor;
            this.maxLine = maxLine;
        }

        /** Opens the passive-mode endpoint and registers it for accept events. */
        InetSocketAddress open(InetSocketAddress address) throws IOException {
            listener = ServerSocketChannel.open();
            try {
                listener.setOption(StandardSocketOptions.SO_REUSEADDR, true); // restart at once after a stop
                listener.bind(address, BACKLOG);
                listener.configureBlocking(false);
                listenerKey = reactor.register(listener, SelectionKey.OP_ACCEPT, this);
                return (InetSocketAddress) listener.getLocalAddress();
            } catch (IOException e) {
                listener.close();
                throw e;
            }
        }

        @Override
        public void handleEvent(SelectionKey key) {
            for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
                SocketChannel channel;
                try {
                    channel = listener.accept();
                } catch (IOException e) {
                    pauseAccepting(e);
                    return;
                }
                if (channel == null) {
                    return; // no connection waiting
                }
                activate(channel);
            }
        }

        /** The acceptor's three steps: wrap the new socket, make its service handler, activate it. */
        private void activate(SocketChannel channel) {
            try {
                LineHandler handler = new LineHandler(reactor, new SocketStream(channel), maxLine);
                handler.open();
            } catch (IOException e) {
                Log.error("could not set up a new connection: " + Log.reason(e));
                SelectorReactor.closeQuietly(channel);
            }
        }

        /** The listener stays ready while accept fails, so waiting on it again would spin. */
        private void pauseAccepting(IOException e) {
            Log.error("accept failed: " + Log.reason(e) + "; pausing accepts for " + ACCEPT_RETRY_MILLIS
                    + " ms (" + LineHandler.openConnections + " open)");
            listenerKey.interestOps(0);
            reactor.schedule(ACCEPT_RETRY_MILLIS, () -> {
                if (listenerKey.isValid()) {
                    listenerKey.interestOps(SelectionKey.OP_ACCEPT);
                }
            });
        }
    }

    // ------------------------------------------------------------ Line handler

    // Plays the concrete event handler role in Reactor and the service handler role in
    // Acceptor-Connector: frames one connection's bytes into lines and echoes each line back.
    @ServiceHandler("Plays the concrete event handler role in Reactor and the service handler role in Acceptor-Connector: frames one connection's bytes into lines and echoes each line back.")
    static final class LineHandler implements EventHandler {
        // Stop reading from a client with this much echo unsent; resume below the low mark
        // (Netty's defaults). The gap keeps us from toggling interest on every write.
        static final int HIGH_WATER = 64 * 1024;
        static final int LOW_WATER = 32 * 1024;

        static int openConnections; // only the reactor thread touches it

        private final SelectorReactor reactor;
        private final SocketStream stream;
        private final int maxLine;
        private SelectionKey key;
        private int interest;
        // Per-connection buffers exist only while they hold data, so idle connections are cheap.
        private ByteBuffer held;                // start of an unfinished line, or null
        private ArrayDeque<ByteBuffer> unsent;  // echoes the socket has not taken yet, or null
        private int unsentBytes;
        private boolean inputOpen = true;
        private boolean readingPaused;
        private boolean closed;

        LineHandler(SelectorReactor reactor, SocketStream stream, int maxLine) {
            this.reactor = reactor;
            this.stream = stream;
            this.maxLine = maxLine;
        }

        /** Activation: the acceptor calls it once; from then on the reactor calls handleEvent. */
        void open() throws IOException {
            key = reactor.register(stream.handle(), SelectionKey.OP_READ, this);
            interest = SelectionKey.OP_READ;
            openConnections++;
            Log.connection(stream.peer(), "opened", openConnections);
        }

        @Override
        public void handleEvent(SelectionKey key) {
            try {
                if (key.isWritable()) {
                    writeUnsent();
                }
                if (key.isReadable()) {
                    readInput();
                }
                if (!inputOpen && unsent == null) {
                    close(null); // end of input and every echo delivered
                    return;
                }
                updateInterest();
            } catch (IOException | RuntimeException e) {
                close(e);
            }
        }

        // ---- the protocol: on complete lines, send those bytes back

        private void readInput() throws IOException {
            ByteBuffer in = reactor.readBuffer();
            in.clear();
            if (stream.read(in) < 0) {
                endOfInput();
                return;
            }
            in.flip();
            if (Log.verbose()) {
                logLines(in);
            }
            int end = endOfLastLine(in);
            if (end >= 0) {
                // Every line that completes in this read, echoed in one write straight from the
                // shared buffer, behind the start of the first line if we were holding it.
                int limit = in.limit();
                in.limit(end);
                send(takeHeld(), in);
                in.limit(limit);
            }
            hold(in);
        }

        private void endOfInput() throws IOException {
            inputOpen = false;
            if (held != null) {
                send(null, takeHeld()); // the last line had no '\n': echo what there is
            }
        }

        // ---- framing

        /** Position just past the last '\n' in the buffer, or -1. Scans back from the end only. */
        private static int endOfLastLine(ByteBuffer in) {
            for (int i = in.limit() - 1; i >= in.position(); i--) {
                if (in.get(i) == '\n') {
                    return i + 1;
                }
            }
            return -1;
        }

        /** Keeps the bytes of an unfinished line, but never max-line of them: whole pieces are echoed. */
        private void hold(ByteBuffer in) throws IOException {
            int heldBytes = held == null ? 0 : held.position();
            int total = heldBytes + in.remaining();
            int pieces = total - total % maxLine; // bytes in whole pieces of max-line
            if (pieces > 0) {
                int limit = in.limit();
                in.limit(in.position() + pieces - heldBytes);
                send(takeHeld(), in); // memory per connection stays bounded
                in.limit(limit);
            }
            if (in.hasRemaining()) {
                append(in);
            }
        }

        private void append(ByteBuffer in) {
            if (held == null || held.remaining() < in.remaining()) {
                int size = held == null ? 0 : held.position();
                int capacity = held == null ? 0 : held.capacity();
                // Grow by doubling (linear copying overall), never beyond max-line.
                ByteBuffer bigger = ByteBuffer.allocate(Math.min(maxLine, Math.max(size + in.remaining(), 2 * capacity)));
                if (held != null) {
                    bigger.put(held.flip());
                }
                held = bigger;
            }
            held.put(in);
        }

        /** Hands over the held bytes, ready to be read, and forgets them. */
        private ByteBuffer takeHeld() {
            ByteBuffer start = held;
            held = null;
            return start == null ? null : start.flip();
        }

        // ---- output queueing

        /** Echoes first (if any) then bytes; whatever the socket does not take now is queued. */
        private void send(ByteBuffer first, ByteBuffer bytes) throws IOException {
            if (unsent == null) { // write first: arm OP_WRITE only when the socket is full
                if (first == null) {
                    stream.write(bytes);
                } else {
                    stream.write(first, bytes);
                }
            }
            int rest = (first == null ? 0 : first.remaining()) + bytes.remaining();
            if (rest > 0) {
                // The shared read buffer is reused at the next read, so what is left is copied.
                ByteBuffer copy = ByteBuffer.allocate(rest);
                if (first != null) {
                    copy.put(first);
                }
                copy.put(bytes).flip();
                if (unsent == null) {
                    unsent = new ArrayDeque<>();
                }
                unsent.add(copy);
                unsentBytes += rest;
            }
        }

        private void writeUnsent() throws IOException {
            while (unsent != null) {
                ByteBuffer head = unsent.peek();
                unsentBytes -= stream.write(head);
                if (head.hasRemaining()) {
                    return; // the socket is full again; write interest stays on
                }
                unsent.poll();
                if (unsent.isEmpty()) {
                    unsent = null;
                }
            }
        }

        /** Interest follows from state, in one place: this is what rules out an OP_WRITE spin. */
        private void updateInterest() {
            if (unsentBytes >= HIGH_WATER) {
                readingPaused = true;
            } else if (unsentBytes <= LOW_WATER) {
                readingPaused = false;
            }
            int wanted = 0;
            if (inputOpen && !readingPaused) {
                wanted |= SelectionKey.OP_READ;
            }
            if (unsent != null) {
                wanted |= SelectionKey.OP_WRITE;
            }
            if (wanted != interest) {
                key.interestOps(wanted);
                interest = wanted;
            }
        }

        /** The one way out, for every reason; safe to call twice. */
        private void close(Exception cause) {
            if (closed) {
                return;
            }
            closed = true;
            key.cancel();
            stream.close();
            openConnections--;
            if (cause == null) {
                Log.connection(stream.peer(), "closed", openConnections);
            } else if (cause instanceof IOException) { // a reset or a broken pipe: the client's doing
                Log.connection(stream.peer(), "closed: " + Log.reason(cause), openConnections);
            } else {
                Log.error("connection from " + Log.format(stream.peer()) + " failed: " + cause + " (" + openConnections + " open)");
            }
        }

        /** --verbose only: per-line work stays off the normal path. */
        private void logLines(ByteBuffer in) {
            int start = in.position();
            for (int i = start; i < in.limit(); i++) {
                if (in.get(i) == '\n') {
                    Log.verbose(Log.format(stream.peer()) + " sent a line: " + Log.preview(in, start, i + 1));
                    start = i + 1;
                }
            }
        }
    }

    // ----------------------------------------------------------- Wrapper Facade

    // Plays the wrapper facade role in Wrapper Facade: narrows a SocketChannel to the four
    // things a handler needs, read, write (may be partial), close and the peer's address.
    @WrapperFacade("Plays the wrapper facade role in Wrapper Facade: narrows a SocketChannel to the four things a handler needs, read, write (may be partial), close and the peer's address.")
    static final class SocketStream {
        // It hides socket options, blocking mode and close errors from the handler, and it is
        // the one place TLS would go: an SSLEngine between these methods and the channel.
        private final SocketChannel channel;
        private final SocketAddress peer; // kept: a closed channel no longer tells

        SocketStream(SocketChannel channel) throws IOException {
            this.channel = channel;
            channel.configureBlocking(false);
            channel.setOption(StandardSocketOptions.TCP_NODELAY, true); // echo each write at once
            this.peer = channel.getRemoteAddress();
        }

        /** Returns -1 at end of input (the peer shut down its output). */
        int read(ByteBuffer into) throws IOException {
            return channel.read(into);
        }

        /** Writes what the socket takes now, perhaps nothing; the rest stays in the buffer. */
        int write(ByteBuffer bytes) throws IOException {
            return channel.write(bytes);
        }

        /** One gathering write of two buffers, so a line's start and its end need no copy. */
        long write(ByteBuffer first, ByteBuffer second) throws IOException {
            return channel.write(new ByteBuffer[] {first, second});
        }

        /** Quiet and idempotent: closing twice, or after a reset, is not an error. */
        void close() {
            try {
                channel.close();
            } catch (IOException e) {
                // nothing to do: the descriptor is released either way
            }
        }

        SocketAddress peer() {
            return peer;
        }

        /** The handle the reactor waits on. */
        SelectableChannel handle() {
            return channel;
        }
    }

    // ------------------------------------------------- Role annotations, helpers

    /** A class that demultiplexes events on many handles and dispatches them to event handlers. */
    @Retention(RetentionPolicy.RUNTIME)
    @Target(ElementType.TYPE)
    @interface Reactor {
        String value();
    }

    /** A class that accepts connections passively and makes and activates a service handler for each. */
    @Retention(RetentionPolicy.RUNTIME)
    @Target(ElementType.TYPE)
    @interface Acceptor {
        String value();
    }

    /** A class that serves one connection: the concrete event handler and service handler. */
    @Retention(RetentionPolicy.RUNTIME)
    @Target(ElementType.TYPE)
    @interface ServiceHandler {
        String value();
    }

    /** A class that wraps low-level functions in a narrower, safer, object-shaped interface. */
    @Retention(RetentionPolicy.RUNTIME)
    @Target(ElementType.TYPE)
    @interface WrapperFacade {
        String value();
    }

    /** The sentence a role annotation carries: each annotation type has its own value(). */
    static String roleSentence(Annotation role) {
        if (role instanceof Reactor r) {
            return r.value();
        }
        if (role instanceof Acceptor a) {
            return a.value();
        }
        if (role instanceof ServiceHandler h) {
            return h.value();
        }
        return ((WrapperFacade) role).value();
    }

    /** Command-line options; parse errors are IllegalArgumentExceptions with a one-line reason. */
    static final class Options {
        int port = DEFAULT_PORT;
        String host;
        int maxLine = DEFAULT_MAX_LINE;
        int logLevel = Log.NORMAL;
        boolean help;
        boolean roles;

        static Options parse(String[] args) {
            Options options = new Options();
            for (int i = 0; i < args.length; i++) {
                String arg = args[i];
                String value = null;
                int eq = arg.indexOf('=');
                if (arg.startsWith("--") && eq > 0) { // --port=8000 as well as --port 8000
                    value = arg.substring(eq + 1);
                    arg = arg.substring(0, eq);
                }
                switch (arg) {
                    case "--port" -> options.port = number(arg, value != null ? value : next(args, ++i, arg), 0, 65535);
                    case "--host" -> options.host = value != null ? value : next(args, ++i, arg);
                    case "--max-line" -> options.maxLine = number(arg, value != null ? value : next(args, ++i, arg), 1, MAX_MAX_LINE);
                    case "--verbose" -> options.logLevel = Log.VERBOSE;
                    case "--quiet" -> options.logLevel = Log.QUIET;
                    case "--roles" -> options.roles = true;
                    case "--help", "-h" -> options.help = true;
                    default -> throw new IllegalArgumentException(arg.startsWith("-")
                            ? "unknown option '" + arg + "'" : "unexpected argument '" + arg + "'");
                }
                if (value != null && (arg.equals("--verbose") || arg.equals("--quiet")
                        || arg.equals("--roles") || arg.equals("--help"))) {
                    throw new IllegalArgumentException(arg + " takes no value");
                }
            }
            return options;
        }

        private static String next(String[] args, int i, String option) {
            if (i >= args.length) {
                throw new IllegalArgumentException(option + " needs a value");
            }
            return args[i];
        }

        private static int number(String option, String text, int min, int max) {
            try {
                int n = Integer.parseInt(text);
                if (n >= min && n <= max) {
                    return n;
                }
            } catch (NumberFormatException e) {
                // reported below, with the range
            }
            throw new IllegalArgumentException("invalid value '" + text + "' for " + option
                    + ": expected a whole number from " + min + " to " + max);
        }
    }

    /** Timestamped lines on standard error. Nothing here runs per line unless --verbose. */
    static final class Log {
        static final int QUIET = 0;
        static final int NORMAL = 1;
        static final int VERBOSE = 2;
        static int level = NORMAL;
        private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS");

        static void error(String message) {
            print(message);
        }

        static void info(String message) {
            if (level >= NORMAL) {
                print(message);
            }
        }

        /** "connection from PEER EVENT (N open)"; built only when it will be printed. */
        static void connection(SocketAddress peer, String event, int open) {
            if (level >= NORMAL) {
                print("connection from " + format(peer) + " " + event + " (" + open + " open)");
            }
        }

        /** An exception's message for a log line; some exceptions have none. */
        static String reason(Exception e) {
            return e.getMessage() != null ? e.getMessage() : e.toString();
        }

        static boolean verbose() {
            return level >= VERBOSE;
        }

        static void verbose(String message) {
            if (level >= VERBOSE) {
                print(message);
            }
        }

        private static void print(String message) {
            System.err.println(LocalDateTime.now().format(TIME) + " " + message);
        }

        /** 127.0.0.1:8000 or [::1]:8000 */
        static String format(SocketAddress address) {
            if (!(address instanceof InetSocketAddress inet) || inet.getAddress() == null) {
                return String.valueOf(address);
            }
            String host = inet.getAddress().getHostAddress();
            return (inet.getAddress() instanceof Inet6Address ? "[" + host + "]" : host) + ":" + inet.getPort();
        }

        /** A received line as readable text: UTF-8, control bytes escaped, cut at 200 characters. */
        static String preview(ByteBuffer in, int from, int to) {
            byte[] bytes = new byte[to - from];
            in.get(from, bytes);
            String text = new String(bytes, StandardCharsets.UTF_8);
            StringBuilder out = new StringBuilder();
            for (int i = 0; i < text.length() && out.length() < 200; i++) {
                char c = text.charAt(i);
                if (c == '\n') {
                    out.append("\\n");
                } else if (c == '\r') {
                    out.append("\\r");
                } else if (c < 0x20 || c == 0x7f) {
                    out.append(String.format("\\x%02x", (int) c));
                } else {
                    out.append(c);
                }
            }
            return out + " (" + bytes.length + " bytes)";
        }
    }
}
