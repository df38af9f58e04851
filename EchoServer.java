// EchoServer.java: a line echo server on one thread, written to teach three
// patterns from Pattern-Oriented Software Architecture, vol. 2 (POSA2):
// Wrapper Facade, Reactor and Acceptor-Connector.
//
//   java EchoServer.java [--port N] [--host ADDR] [--qotd PORT] [--chat PORT] [options]
//
// Read it top to bottom, the way the data flows: the entry point, the reactor
// (event loop), the acceptor (accepts, makes a service handler, activates it), the
// connection (per-connection mechanics), the services (echo, quote, chat), the
// wrapper facade (the socket); then options, logging, host checks, annotations.
// Plain JDK, no package, one file.

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
import java.net.ProtocolFamily;
import java.net.StandardProtocolFamily;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectableChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.Pipe;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

public final class EchoServer {

    public static void main(String[] args) {
        Options options = Options.parseOrExit(args);
        loadClassesNeededWhenOutOfDescriptors();
        SelectorReactor reactor = SelectorReactor.openOrExit();
        Connections connections = new Connections(reactor, options.maxLine, options.idleTimeoutSeconds * 1000L, options.memoryBudget);

        // One reactor, one acceptor per service; only the factory differs.
        listen(connections, options, "echo", options.port, EchoService::new);
        if (options.qotdPort >= 0) {
            ByteBuffer quote = ByteBuffer.wrap((options.quote + "\r\n").getBytes(StandardCharsets.UTF_8));
            listen(connections, options, "quote", options.qotdPort, () -> new QuoteService(quote));
        }
        if (options.chatPort >= 0) {
            listen(connections, options, "chat", options.chatPort, new ChatRoom());
        }
        Log.info("started: pid " + ProcessHandle.current().pid() + ", Java " + Runtime.version()
                + ", max line " + options.maxLine + " bytes, idle timeout " + options.idleTimeoutSeconds
                + " s, memory budget " + options.memoryBudget + " bytes");

        // Ctrl-C and SIGTERM run shutdown hooks on another thread: the hook only asks the
        // reactor to stop and waits for it, so every socket is closed by the reactor thread.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            reactor.stop();
            reactor.awaitStopped(SelectorReactor.SHUTDOWN_WAIT_MILLIS);
            Log.flush(Log.FLUSH_WAIT_MILLIS);
        }, "shutdown"));
        if (!reactor.run()) {
            System.exit(1);
        }
    }

    // ------------------------------------------------------------------ Reactor

    /** What the reactor calls: every handler attached to a selection key implements it. */
    interface EventHandler {
        /** Hook method: the reactor calls it, on its own thread, when the handle is ready. */
        void handleEvent(SelectionKey key);

        /** Hook method: the reactor calls it once, when the handle leaves the loop (closed, failed, or shutdown). */
        void handleClose();
    }

    @Reactor("Plays the reactor role in Reactor and the dispatcher role in Acceptor-Connector: waits on one Selector for events on every handle, dispatches each to the handler attached to it, runs timers, and tells a handler when its handle is removed.")
    static final class SelectorReactor {
        // One read buffer for every connection: only one handler runs at a time. Reads land
        // in its second half, so that a held line start fits in front (Connection.readInput).
        static final int READ_SIZE = 64 * 1024;
        // The shutdown hook waits this long for the loop to close everything, so we exit within 2 s.
        static final long SHUTDOWN_WAIT_MILLIS = 1500;

        private final Selector selector;
        private final ByteBuffer readBuffer = ByteBuffer.allocateDirect(2 * READ_SIZE);
        private final PriorityQueue<Timer> timers = new PriorityQueue<>(Comparator.comparingLong(Timer::deadline));
        private final CountDownLatch stopped = new CountDownLatch(1);
        private volatile boolean running = true;

        record Timer(long deadline, String what, Runnable task) { }

        private SelectorReactor(Selector selector) {
            this.selector = selector;
        }

        static SelectorReactor openOrExit() {
            try {
                return new SelectorReactor(Selector.open());
            } catch (IOException e) {
                fail("cannot open a selector: " + Log.reason(e));
                return null;
            }
        }

        /** Adds a handle to the set the reactor waits on, with its handler attached to its key. */
        SelectionKey register(SelectableChannel handle, int interest, EventHandler handler) throws IOException {
            return handle.register(selector, interest, handler);
        }

        /** The events a handler wants next, for example read and write, or none while paused. */
        void setInterest(SelectionKey key, int interest) {
            if (Trace.on) Trace.say("reactor", "interest of " + key.attachment() + ": " + Trace.events(interest));
            key.interestOps(interest);
        }

        /** Takes a handle out of the loop and tells its handler; safe to call twice. */
        void remove(SelectionKey key) {
            if (key.isValid()) {
                if (Trace.on) Trace.say("reactor", "remove " + key.attachment() + " -> handleClose");
                key.cancel();
                ((EventHandler) key.attachment()).handleClose();
            }
        }

        /** Runs a task on the reactor thread after a delay: the loop's only kind of timer. */
        void schedule(long delayMillis, String what, Runnable task) {
            if (Trace.on) Trace.say("reactor", "timer in " + delayMillis + " ms: " + what);
            timers.add(new Timer(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(delayMillis), what, task));
        }

        ByteBuffer readBuffer() {
            return readBuffer;
        }

        /** The event loop: wait, dispatch every ready handle, run due timers. Returns false if the selector failed. */
        boolean run() {
            try {
                while (running) {
                    try {
                        int ready = selector.select(millisToNextTimer());
                        if (Trace.on && ready > 0) Trace.say("reactor", "select: " + ready + " ready");
                        for (SelectionKey key : selector.selectedKeys()) {
                            dispatch(key);
                        }
                        selector.selectedKeys().clear();
                        runDueTimers();
                    } catch (RuntimeException | Error e) { // out of memory in select itself: try again
                        Log.failure("event loop", e);
                    }
                }
                return true;
            } catch (IOException e) {
                Log.error("event loop failed: " + Log.reason(e));
                return false;
            } finally {
                removeAll();
                stopped.countDown();
            }
        }

        /**
         * Dispatch by attachment: the key carries its handler. Whatever one handler throws, an
         * Error such as OutOfMemoryError included, ends that handler only, never the loop.
         */
        private void dispatch(SelectionKey key) {
            if (!key.isValid()) {
                return; // removed by an earlier handler in this same batch
            }
            try {
                if (Trace.on) Trace.say("reactor", "dispatch " + Trace.events(key.readyOps()) + " -> " + key.attachment());
                ((EventHandler) key.attachment()).handleEvent(key);
            } catch (Throwable e) {
                Log.failure("handler", e);
                remove(key);
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
                try {
                    Timer due = timers.poll();
                    if (Trace.on) Trace.say("reactor", "timer due: " + due.what());
                    due.task().run();
                } catch (Throwable e) {
                    Log.failure("timer", e);
                }
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

        /** At the end every handler hears handleClose, as if its handle had been removed one by one. */
        private void removeAll() {
            int connections = 0;
            int listeners = 0;
            for (SelectionKey key : selector.keys()) {
                if (key.isValid()) { // counted by handle type: the reactor knows no concrete handler
                    if (key.channel() instanceof ServerSocketChannel) {
                        listeners++;
                    } else {
                        connections++;
                    }
                }
                remove(key);
            }
            try {
                selector.close();
            } catch (IOException e) {
                // stopping anyway
            }
            Log.info("stopped: closed " + connections + (connections == 1 ? " connection" : " connections")
                    + (listeners == 1 ? " and the listening socket" : " and " + listeners + " listening sockets"));
        }
    }

    // ----------------------------------------------------------------- Acceptor

    /** Twisted's Factory.buildProtocol, ACE's make_svc_handler: one new service handler per connection. */
    interface ServiceFactory {
        Service makeService();
    }

    @Acceptor("Plays the acceptor role in Acceptor-Connector: owns one listening channel and, for each connection it accepts, makes a service handler with the factory it was given and activates it.")
    static final class SocketAcceptor implements EventHandler {
        // The kernel queues this many finished handshakes for us: enough for bursts of
        // thousands of clients (Java's default of 50 drops connections under load).
        static final int BACKLOG = 4096;
        // Accept at most this many per event, so a flood of connects cannot starve the clients.
        static final int ACCEPTS_PER_EVENT = 64;
        // After a failed accept (too many open files) stop accepting this long instead of spinning.
        static final long ACCEPT_RETRY_MILLIS = 1000;

        private final Connections connections;
        private final SelectorReactor reactor;
        private final String serviceName; // for the trace
        private final ServiceFactory factory;
        private ServerSocketChannel listener;
        private SelectionKey listenerKey;

        SocketAcceptor(Connections connections, String serviceName, ServiceFactory factory) {
            this.connections = connections;
            this.reactor = connections.reactor;
            this.serviceName = serviceName;
            this.factory = factory;
        }

        /**
         * Opens the passive-mode endpoint and registers it for accept events. Without a family
         * the socket takes IPv6 and IPv4 alike; an IPv4 address gets an IPv4-only socket.
         */
        InetSocketAddress open(InetSocketAddress address, ProtocolFamily family) throws IOException {
            listener = family == null ? ServerSocketChannel.open() : ServerSocketChannel.open(family);
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

        /** POSA2's three steps, for each connection waiting: accept it, make its service handler, activate it. */
        @Override
        public void handleEvent(SelectionKey key) {
            for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
                SocketChannel channel = accept();
                if (channel == null) {
                    return; // none waiting, or accepting is paused
                }
                try {
                    Service handler = factory.makeService();
                    if (Trace.on) Trace.say("acceptor", "make service handler: " + handler.getClass().getSimpleName());
                    activate(channel, handler);
                } catch (Throwable e) { // that connection's failure, never the listener's
                    Log.failure("setting up a connection", e);
                    closeQuietly(channel);
                }
            }
        }

        private SocketChannel accept() {
            try {
                SocketChannel channel = listener.accept();
                if (Trace.on && channel != null) Trace.say("acceptor", "accept " + Log.format(channel.socket().getRemoteSocketAddress()));
                return channel;
            } catch (IOException | RuntimeException | Error e) {
                if (e instanceof IOException && connections.evictLongestIdle()) {
                    Log.error("accept failed: " + Log.reason(e) + "; made room by closing the connection idle longest");
                } else {
                    pauseAccepting(e);
                }
                return null;
            }
        }

        /** Puts the new socket behind its wrapper facade and hands it, with the service, to a connection. */
        private void activate(SocketChannel channel, Service handler) throws IOException {
            Connection connection = new Connection(connections, new SocketStream(channel, connections.nextId()), handler);
            if (Trace.on) Trace.say("acceptor", "activate " + connection);
            connection.open();
        }

        private static void closeQuietly(SocketChannel channel) {
            try {
                channel.close();
            } catch (IOException e) {
                // it never became a connection
            }
        }

        /** The listener stays ready while accept fails, so waiting on it again would spin. */
        private void pauseAccepting(Throwable e) {
            Log.error("accept failed: " + Log.reason(e) + "; pausing accepts for " + ACCEPT_RETRY_MILLIS + " ms");
            reactor.setInterest(listenerKey, 0);
            reactor.schedule(ACCEPT_RETRY_MILLIS, "accept again (" + serviceName + ")", () -> {
                if (listenerKey.isValid()) {
                    reactor.setInterest(listenerKey, SelectionKey.OP_ACCEPT);
                }
            });
        }

        @Override
        public void handleClose() {
            try {
                listener.close();
            } catch (IOException e) {
                // stopping anyway
            }
        }

        @Override
        public String toString() {
            return "acceptor (" + serviceName + ")";
        }
    }

    // --------------------------------------------------------------- Connection

    /** What a service may do to its connection: Twisted's transport. */
    interface Transport {
        /** Sends the bytes now, or as soon as the peer takes them; the caller's buffer is neither changed nor kept. */
        void write(ByteBuffer bytes);

        /** Closes once everything written has been sent (Twisted's loseConnection). */
        void loseConnection();

        /** Closes now; what is unsent is dropped (Twisted's abortConnection). */
        void abortConnection();
    }

    @ConcreteEventHandler("Plays the concrete event handler role in Reactor and the transport of a service handler in Acceptor-Connector: frames one connection's bytes into lines for its service, and sends what the service writes, pausing a peer that does not read.")
    static final class Connection implements EventHandler, Transport {
        // Stop reading from a peer with this much output unsent; resume below the low mark
        // (Netty's defaults). The gap keeps us from toggling interest on every write.
        static final int HIGH_WATER = 64 * 1024;
        static final int LOW_WATER = 32 * 1024;
        // Pausing input cannot slow what other connections write to a peer (a chat member):
        // a peer that lets this much pile up is disconnected instead.
        static final int MAX_UNSENT = 1024 * 1024;
        // Small writes are gathered into queued buffers of at least this size, so that a peer
        // sent many tiny lines costs its bytes in heap, not a buffer object per line.
        static final int MIN_QUEUED = 4 * 1024;

        private final Connections all;             // what every connection shares, the reactor included
        private final SocketStream stream;
        private final Service service;
        private SelectionKey key;
        private int interest;
        // Per-connection buffers exist only while they hold data, so idle connections are cheap.
        private ByteBuffer held;                  // the start of an unfinished line, or null
        private ArrayDeque<ByteBuffer> unsent;    // bytes the socket has not taken yet, or null
        private int unsentBytes;
        private int heapHeld;                     // what held and unsent cost, counted in the budget
        private boolean inputOpen = true;
        private boolean readingPaused;            // by this connection's water marks
        private boolean memoryPaused;             // by the budget over all connections
        private boolean closing;                  // loseConnection: close once nothing is unsent
        private boolean closed;
        private String closeReason;               // null for an orderly close
        long lastActive;                          // for the idle timeout (Connections keeps the order)
        Connection older;
        Connection newer;

        Connection(Connections all, SocketStream stream, Service service) {
            this.all = all;
            this.stream = stream;
            this.service = service;
        }

        /** Activation: the acceptor calls it once; from then on the reactor calls handleEvent. */
        void open() throws IOException {
            key = stream.register(all.reactor, SelectionKey.OP_READ, this);
            interest = SelectionKey.OP_READ;
            all.opened(this);
            Log.connection(stream.peer(), "opened", all.open);
            try {
                if (Trace.on) Trace.say(toString(), "-> " + serviceName() + ".connectionMade");
                service.connectionMade(this);
                afterEvent();
            } catch (Throwable e) { // as in dispatch: the service's failure ends this connection only
                Log.failure("service", e);
                close("failed: " + e);
            }
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
            } catch (IOException e) {
                close(Log.reason(e));
            }
            afterEvent();
        }

        private void afterEvent() {
            if (closed) {
                return;
            }
            if (closing && unsent == null) {
                if (Trace.on) Trace.say(toString(), "everything written is sent: close");
                close(null);
            } else {
                updateInterest();
            }
        }

        // ---- input: read, then frame into lines for the service

        private void readInput() throws IOException {
            ByteBuffer in = all.reactor.readBuffer();
            int room = all.underPressure() ? Connections.SMALL_READ : SelectorReactor.READ_SIZE;
            in.limit(SelectorReactor.READ_SIZE + room).position(SelectorReactor.READ_SIZE);
            int count = stream.read(in);
            in.limit(in.position()).position(SelectorReactor.READ_SIZE);
            all.active(this);
            in = joinHeld(in);
            if (count < 0) {
                endOfInput(in);
            } else {
                frame(in, in.limit() - count);
            }
            if (held != null) {
                account(cost(held));
            }
        }

        /**
         * The held start of a line, then what was just read, in one buffer: a short start is copied
         * in front of the read (into the shared buffer's first half); a long one, which only a
         * --max-line above 64 KiB allows, has the read appended to it instead.
         */
        private ByteBuffer joinHeld(ByteBuffer in) {
            if (held == null) {
                return in;
            }
            ByteBuffer start = held;
            held = null;
            account(-cost(start));
            if (start.remaining() <= in.position()) {
                in.position(in.position() - start.remaining());
                in.put(in.position(), start, start.position(), start.remaining());
                return in;
            }
            int size = start.remaining() + in.remaining();
            ByteBuffer joined = start;
            if (size > start.capacity() - start.position()) { // grow by doubling, within max-line and the budget
                int capacity = Math.min(Math.max(2 * start.capacity(), size), all.maxLine + SelectorReactor.READ_SIZE);
                if (!all.canHold(capacity)) {
                    deliver(start, start.position(), start.limit()); // memory is short: pass it on as a piece
                    return in;
                }
                joined = ByteBuffer.allocate(capacity).put(start).flip();
            }
            int end = joined.limit();
            joined.limit(end + in.remaining());
            joined.put(end, in, in.position(), in.remaining());
            return joined;
        }

        /**
         * Hands the service the whole lines of this read, in one call where it can; a line longer
         * than max-line is cut into pieces of max-line, so no service ever gets a longer one. Keeps
         * the unfinished rest. The bytes before `fresh` were held and hold no '\n'.
         */
        private void frame(ByteBuffer in, int fresh) {
            int from = in.position();  // the first byte not yet delivered
            int lineStart = from;      // a line starting here must end within max-line bytes
            while (!closed) {
                int windowEnd = Math.min(in.limit(), lineStart + all.maxLine);
                int end = endOfLastLine(in, Math.max(lineStart, fresh), windowEnd);
                if (end > 0) {
                    lineStart = end; // every line up to here is short enough
                } else if (windowEnd - lineStart == all.maxLine) {
                    lineStart = windowEnd; // max-line bytes and no '\n': pass them on as a piece
                    deliver(in, from, lineStart);
                    from = lineStart;
                } else {
                    break; // the rest is an unfinished line, shorter than max-line
                }
            }
            if (all.underPressure() && !closed) {
                lineStart = in.limit(); // memory is short: pass the unfinished rest on rather than hold it
            }
            if (lineStart > from) {
                deliver(in, from, lineStart);
            }
            in.position(lineStart);
            if (in.hasRemaining() && !closed) {
                if (Trace.on) Trace.say(toString(), "holds " + in.remaining() + " bytes of an unfinished line");
                held = in == all.reactor.readBuffer()
                        ? ByteBuffer.allocate(in.remaining()).put(in).flip() // the shared buffer is reused
                        : in.position() == 0 ? in : in.compact().flip();
            }
        }

        /** Position just past the last '\n' in [from, to), or -1. Scans back from the end only. */
        private static int endOfLastLine(ByteBuffer in, int from, int to) {
            for (int i = to - 1; i >= from; i--) {
                if (in.get(i) == '\n') {
                    return i + 1;
                }
            }
            return -1;
        }

        /** The bytes [from, to) go to the service as one value. */
        private void deliver(ByteBuffer in, int from, int to) {
            ByteBuffer lines = in.slice(from, to - from);
            if (Log.verbose()) {
                logLines(lines);
            }
            if (!closed) {
                if (Trace.on) Trace.say(toString(), Trace.lines(lines) + " -> " + serviceName() + ".linesReceived");
                service.linesReceived(lines);
            }
        }

        private void endOfInput(ByteBuffer rest) {
            if (Trace.on) Trace.say(toString(), "half-close: " + rest.remaining() + " bytes held, "
                    + unsentBytes + " unsent; close once everything is sent");
            inputOpen = false;
            if (rest.hasRemaining()) {
                deliver(rest, rest.position(), rest.limit()); // the last line had no '\n': a line all the same
            }
            loseConnection();
        }

        // ---- output: the Transport the service writes to

        @Override
        public void write(ByteBuffer bytes) {
            if (closed || closing) {
                return;
            }
            int start = bytes.position();
            boolean queued = false;
            try {
                if (unsent == null && stream.write(bytes) > 0) { // write first: OP_WRITE only when the socket is full
                    all.active(this);
                }
                if (bytes.hasRemaining()) {
                    queue(bytes);
                    queued = true;
                }
            } catch (IOException e) {
                close(Log.reason(e));
            } finally {
                bytes.position(start);
            }
            if (queued && !closed) { // only queued output changes the limits or the interest
                if (unsentBytes > all.unsentLimit()) {
                    close("more than " + all.unsentLimit() + " bytes unsent: the peer is not reading");
                } else {
                    updateInterest(); // another connection may be writing to us: OP_WRITE on now
                }
            }
        }

        /** Copies what the socket did not take (the caller's buffer is reused), into the tail buffer if it has room. */
        private void queue(ByteBuffer rest) {
            ByteBuffer tail = unsent == null ? null : unsent.peekLast();
            if (tail == null || tail.capacity() - tail.limit() < rest.remaining()) {
                tail = ByteBuffer.allocate(Math.max(rest.remaining(), MIN_QUEUED)).flip();
                if (unsent == null) {
                    unsent = new ArrayDeque<>();
                }
                unsent.add(tail);
                account(cost(tail));
            }
            int end = tail.limit();
            tail.limit(end + rest.remaining());
            tail.put(end, rest, rest.position(), rest.remaining());
            unsentBytes += rest.remaining();
            if (Trace.on) Trace.say(toString(), "queues " + rest.remaining() + " bytes (" + unsentBytes + " unsent)");
            rest.position(rest.limit());
        }

        private void writeUnsent() throws IOException {
            while (unsent != null) {
                ByteBuffer head = unsent.peek();
                int written = stream.write(head);
                unsentBytes -= written;
                if (written > 0) {
                    all.active(this);
                }
                if (head.hasRemaining()) {
                    return; // the socket is full again; write interest stays on
                }
                unsent.poll();
                account(-cost(head));
                if (unsent.isEmpty()) {
                    unsent = null;
                }
            }
        }

        @Override
        public void loseConnection() {
            closing = true;
            inputOpen = false;
        }

        @Override
        public void abortConnection() {
            close(null);
        }

        /** Interest follows from state, in one place: this is what rules out an OP_WRITE spin. */
        private void updateInterest() {
            if (unsentBytes >= HIGH_WATER && !readingPaused) {
                if (Trace.on) Trace.say(toString(), "unsent " + unsentBytes + " >= high-water " + HIGH_WATER + ": stop reading");
                readingPaused = true;
            } else if (unsentBytes <= LOW_WATER && readingPaused) {
                if (Trace.on) Trace.say(toString(), "unsent " + unsentBytes + " <= low-water " + LOW_WATER + ": read again");
                readingPaused = false;
            }
            if (!memoryPaused && unsent != null && all.underPressure()) {
                if (Trace.on) Trace.say(toString(), "memory budget spent, output queued: stop reading");
                memoryPaused = true; // the budget is spent: who has output queued waits until it drains
                all.pausedForMemory(this);
            }
            int wanted = 0;
            if (inputOpen && !readingPaused && !memoryPaused) {
                wanted |= SelectionKey.OP_READ;
            }
            if (unsent != null) {
                wanted |= SelectionKey.OP_WRITE;
            }
            if (wanted != interest) {
                all.reactor.setInterest(key, wanted);
                interest = wanted;
            }
        }

        /** Connections calls it when the budget has drained. */
        void resume() {
            memoryPaused = false;
            if (!closed) {
                updateInterest();
            }
        }

        /** A buffer's cost in heap: its bytes and its object, so many small ones cannot hide. */
        private static int cost(ByteBuffer buffer) {
            return buffer.capacity() + Connections.BUFFER_OVERHEAD;
        }

        private void account(int bytes) {
            heapHeld += bytes;
            all.account(bytes);
        }

        // ---- close: the one way out

        /** Every reason to close ends here; the reactor then calls handleClose. Safe to call twice. */
        void close(String reason) {
            if (!closed) {
                if (Trace.on) Trace.say(toString(), "close" + (reason == null ? "" : ": " + reason));
                closeReason = reason;
                all.reactor.remove(key);
            }
        }

        @Override
        public void handleClose() {
            closed = true;
            stream.close();
            held = null;
            unsent = null;
            account(-heapHeld);
            all.closed(this);
            Log.connection(stream.peer(), closeReason == null ? "closed" : "closed: " + closeReason, all.open);
            if (Trace.on) Trace.say(toString(), "-> " + serviceName() + ".connectionLost");
            service.connectionLost();
        }

        private String serviceName() {
            return service.getClass().getSimpleName();
        }

        @Override
        public String toString() {
            return "connection #" + stream.id;
        }

        /** --verbose only: per-line work stays off the normal path. */
        private void logLines(ByteBuffer lines) {
            int start = lines.position();
            for (int i = start; i < lines.limit(); i++) {
                if (lines.get(i) == '\n' || i == lines.limit() - 1) {
                    Log.verbose(Log.format(stream.peer()) + " sent a line: " + Log.preview(lines, start, i + 1));
                    start = i + 1;
                }
            }
        }
    }

    /** What all connections share: their limits, the memory budget over all of them, and which has been idle longest. */
    static final class Connections {
        // A buffer costs about this much heap beyond its bytes (object headers, the queue's slot).
        static final int BUFFER_OVERHEAD = 64;
        // While the budget is spent a connection reads at most this much at a time.
        static final int SMALL_READ = 4 * 1024;
        // Out of descriptors, a connection idle this long may be closed to make room for a new one.
        static final long EVICT_IDLE_MILLIS = 5000;

        final SelectorReactor reactor;
        final int maxLine;
        final long idleTimeoutMillis; // 0: never
        final long budget;            // bytes held and queued over all connections, overheads included
        int open;
        private int opened;           // connections ever opened: the next one's number
        private long buffered;
        private boolean pressure;     // over the budget, and not yet back under three quarters of it
        private long pressureSpells;
        private final List<Connection> paused = new ArrayList<>();
        private Connection oldest;    // the idle order: a list through the connections, oldest first
        private Connection newest;
        private boolean idleCheckScheduled;

        Connections(SelectorReactor reactor, int maxLine, long idleTimeoutMillis, long budget) {
            this.reactor = reactor;
            this.maxLine = maxLine;
            this.idleTimeoutMillis = idleTimeoutMillis;
            this.budget = budget;
        }

        boolean underPressure() {
            return pressure;
        }

        /** Whether one more buffer of this size fits in the budget. */
        boolean canHold(int capacity) {
            return !pressure && buffered + capacity + BUFFER_OVERHEAD <= budget;
        }

        /** The most a paused echo client can have unsent; normally at least 1 MiB (for a chat member). */
        int unsentLimit() {
            int pausedEcho = Connection.HIGH_WATER + SelectorReactor.READ_SIZE + maxLine;
            return pressure ? pausedEcho : Math.max(pausedEcho, Connection.MAX_UNSENT);
        }

        void account(long bytes) {
            buffered += bytes;
            if (!pressure && buffered > budget) {
                pressure = true;
                pressureSpells++;
                if (pressureSpells == 1) {
                    Log.error("memory budget of " + budget + " bytes reached: lines are no longer held, and"
                            + " connections with output queued stop reading until it drains (logged once)");
                }
            } else if (pressure && buffered < budget / 4 * 3) {
                pressure = false;
                List<Connection> resumed = List.copyOf(paused);
                paused.clear();
                for (Connection c : resumed) {
                    c.resume();
                }
            }
        }

        void pausedForMemory(Connection c) {
            paused.add(c);
        }

        int nextId() {
            return ++opened; // wraps after 2^31 connections: it only names them in the trace
        }

        void opened(Connection c) {
            open++;
            c.lastActive = System.nanoTime();
            link(c);
            scheduleIdleCheck();
        }

        void closed(Connection c) {
            open--;
            unlink(c);
        }

        /** Bytes went in or out: the connection is the newest in the idle order. */
        void active(Connection c) {
            c.lastActive = System.nanoTime();
            if (c != newest) {
                unlink(c);
                link(c);
            }
        }

        private void link(Connection c) {
            c.older = newest;
            c.newer = null;
            if (newest != null) {
                newest.newer = c;
            } else {
                oldest = c;
            }
            newest = c;
        }

        private void unlink(Connection c) {
            if (c.older != null) {
                c.older.newer = c.newer;
            } else if (oldest == c) {
                oldest = c.newer;
            }
            if (c.newer != null) {
                c.newer.older = c.older;
            } else if (newest == c) {
                newest = c.older;
            }
            c.older = null;
            c.newer = null;
        }

        private long idleMillis(Connection c) {
            return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - c.lastActive);
        }

        /** One reactor timer, due when the oldest connection's idle time runs out. */
        private void scheduleIdleCheck() {
            if (idleTimeoutMillis > 0 && oldest != null && !idleCheckScheduled) {
                idleCheckScheduled = true;
                reactor.schedule(Math.max(0, idleTimeoutMillis - idleMillis(oldest)), "idle check", this::closeIdle);
            }
        }

        private void closeIdle() {
            idleCheckScheduled = false;
            while (oldest != null && idleMillis(oldest) >= idleTimeoutMillis) {
                oldest.close("idle for " + idleTimeoutMillis / 1000 + " s");
            }
            scheduleIdleCheck();
        }

        /** Out of descriptors: closes the connection idle longest, if it has been idle a while. */
        boolean evictLongestIdle() {
            if (oldest == null || idleMillis(oldest) < EVICT_IDLE_MILLIS) {
                return false;
            }
            oldest.close("idle for " + idleMillis(oldest) / 1000 + " s, closed to make room for a new connection");
            return true;
        }
    }

    // ----------------------------------------------------------------- Services

    /**
     * A service handler's hooks, as in Twisted's Protocol and LineReceiver. The connection calls
     * linesReceived once per read with all the whole lines of that read, so that the echo can
     * send them back in one write (the C server's speed); services that want lines one by one,
     * like the chat, get lineReceived for each.
     */
    interface Service {
        default void connectionMade(Transport transport) {
        }

        /** Whole lines, each ending in '\n' (or a max-line piece, or the last line at end of input). */
        default void linesReceived(ByteBuffer lines) {
            int start = lines.position();
            for (int i = start; i < lines.limit(); i++) {
                if (lines.get(i) == '\n' || i == lines.limit() - 1) {
                    lineReceived(lines.slice(start, i + 1 - start));
                    start = i + 1;
                }
            }
        }

        default void lineReceived(ByteBuffer line) {
        }

        default void connectionLost() {
        }
    }

    @ServiceHandler("Plays the service handler role in Acceptor-Connector for the echo: sends every line it receives back to its sender.")
    static final class EchoService implements Service {
        private Transport transport;

        @Override
        public void connectionMade(Transport transport) {
            this.transport = transport;
        }

        @Override
        public void linesReceived(ByteBuffer lines) {
            transport.write(lines);
        }
    }

    @ServiceHandler("Plays the service handler role in Acceptor-Connector for the quote of the day: sends the quote, then closes once it is sent.")
    static final class QuoteService implements Service {
        private final ByteBuffer quote; // shared by every connection: a write does not consume it

        QuoteService(ByteBuffer quote) {
            this.quote = quote;
        }

        @Override
        public void connectionMade(Transport transport) {
            if (Trace.on) Trace.say("service", "QuoteService: write the quote, then loseConnection");
            transport.write(quote);
            transport.loseConnection();
        }
    }

    /** The chat's factory: the members live here, shared by their service handlers, as in Twisted's notes. */
    static final class ChatRoom implements ServiceFactory {
        private final Map<String, ChatService> members = new LinkedHashMap<>();

        @Override
        public Service makeService() {
            return new ChatService(this);
        }

        boolean join(String name, ChatService member) {
            return members.putIfAbsent(name, member) == null;
        }

        void leave(String name) {
            members.remove(name);
        }

        void broadcast(ChatService sender, ByteBuffer message) {
            if (Trace.on) Trace.say("service", "ChatRoom: " + sender.name + "'s line to " + (members.size() - 1) + " other members");
            for (ChatService member : List.copyOf(members.values())) { // a member may leave while we write
                if (member != sender) {
                    member.transport.write(message);
                }
            }
        }
    }

    @ServiceHandler("Plays the service handler role in Acceptor-Connector for the chat: asks a member for a free name, then sends each of its lines to every other member.")
    static final class ChatService implements Service {
        private final ChatRoom room;
        private Transport transport;
        private String name; // null until the member has chosen a free one

        ChatService(ChatRoom room) {
            this.room = room;
        }

        @Override
        public void connectionMade(Transport transport) {
            this.transport = transport;
            transport.write(line("What's your name?"));
        }

        @Override
        public void lineReceived(ByteBuffer line) {
            String text = text(line);
            if (name != null) {
                room.broadcast(this, line("<" + name + "> " + text));
            } else if (text.isEmpty()) {
                transport.write(line("What's your name?"));
            } else if (!room.join(text, this)) {
                if (Trace.on) Trace.say("service", "ChatService: name '" + text + "' taken");
                transport.write(line("Name taken, please choose another."));
            } else {
                if (Trace.on) Trace.say("service", "ChatService: '" + text + "' joins the room");
                name = text;
                transport.write(line("Welcome, " + name + "!"));
            }
        }

        @Override
        public void connectionLost() {
            if (name != null) {
                if (Trace.on) Trace.say("service", "ChatService: '" + name + "' leaves the room");
                room.leave(name);
            }
        }

        /** A received line as text: UTF-8, without its "\n" or "\r\n". */
        private static String text(ByteBuffer line) {
            int end = line.limit();
            if (end > line.position() && line.get(end - 1) == '\n') {
                end--;
                if (end > line.position() && line.get(end - 1) == '\r') {
                    end--;
                }
            }
            return StandardCharsets.UTF_8.decode(line.slice(line.position(), end - line.position())).toString();
        }

        /** A line the server sends: the text and "\r\n", as Twisted's sendLine does. */
        private static ByteBuffer line(String text) {
            return ByteBuffer.wrap((text + "\r\n").getBytes(StandardCharsets.UTF_8));
        }
    }

    // ----------------------------------------------------------- Wrapper Facade

    @WrapperFacade("Plays the wrapper facade role in Wrapper Facade: narrows a SocketChannel to what a connection needs, read, write (may be partial), close, the peer's address, and registering with the reactor.")
    static final class SocketStream {
        // It hides socket options, blocking mode and close errors, and the raw channel never
        // leaves it. It is the one place TLS would go: an SSLEngine between these methods and the channel.
        private final SocketChannel channel;
        private final SocketAddress peer; // kept: a closed channel no longer tells
        final int id;                     // the connection's number, for the trace

        SocketStream(SocketChannel channel, int id) throws IOException {
            this.channel = channel;
            this.id = id;
            channel.configureBlocking(false);
            channel.setOption(StandardSocketOptions.TCP_NODELAY, true); // echo each write at once
            this.peer = channel.getRemoteAddress();
        }

        SelectionKey register(SelectorReactor reactor, int interest, EventHandler handler) throws IOException {
            return reactor.register(channel, interest, handler);
        }

        /** Returns -1 at end of input (the peer shut down its output). */
        int read(ByteBuffer into) throws IOException {
            int count = channel.read(into);
            if (Trace.on) Trace.say("facade #" + id, count < 0 ? "read: end of input" : "read " + count + " bytes");
            return count;
        }

        /** Writes what the socket takes now, perhaps nothing; the rest stays in the buffer. */
        int write(ByteBuffer bytes) throws IOException {
            int wanted = bytes.remaining();
            int count = channel.write(bytes);
            if (Trace.on) Trace.say("facade #" + id, "write " + count + " of " + wanted + " bytes");
            return count;
        }

        /** Quiet and idempotent: closing twice, or after a reset, is not an error. */
        void close() {
            if (Trace.on) Trace.say("facade #" + id, "close");
            try {
                channel.close();
            } catch (IOException e) {
                // nothing to do: the descriptor is released either way
            }
        }

        SocketAddress peer() {
            return peer;
        }
    }

    // ------------------------------------------- Options, logging, host checks

    static final int DEFAULT_PORT = 8000;
    // Twisted's LineReceiver holds 16 KiB; Netty examples use 8 KiB, asyncio 64 KiB.
    static final int DEFAULT_MAX_LINE = 16 * 1024;
    static final int MAX_MAX_LINE = 64 * 1024 * 1024;
    static final String DEFAULT_QUOTE = "An apple a day keeps the doctor away";
    // Five minutes: longer than a person pauses at a telnet prompt, short enough that
    // connections left open and silent do not hold descriptors for ever.
    static final int DEFAULT_IDLE_TIMEOUT = 300;

    static final String USAGE = String.join("\n",
            "usage: java EchoServer.java [--port N] [--host ADDR] [--qotd PORT] [--quote TEXT] [--chat PORT]",
            "                            [--max-line BYTES] [--idle-timeout S] [--memory-budget BYTES]",
            "                            [--verbose | --quiet] [--trace]",
            "       java EchoServer.java --roles | --help",
            "  --port N          echo service port; 0 picks a free one (default " + DEFAULT_PORT + ")",
            "  --host ADDR       address to listen on, for every service (default: all interfaces)",
            "  --qotd PORT       also serve the quote of the day on PORT",
            "  --quote TEXT      the quote (default: " + DEFAULT_QUOTE + ")",
            "  --chat PORT       also serve a chat room on PORT",
            "  --max-line BYTES  longest unfinished line held; longer lines are passed on in",
            "                    pieces of this size (default " + DEFAULT_MAX_LINE + ", 1 to " + MAX_MAX_LINE + ")",
            "  --idle-timeout S  close a connection with no traffic for S seconds (default "
                    + DEFAULT_IDLE_TIMEOUT + "; 0: never)",
            "  --memory-budget BYTES",
            "                    bytes held and queued over all connections before the server",
            "                    holds back (default: a quarter of the maximum heap)",
            "  --verbose         also log every line received",
            "  --quiet           log errors only",
            "  --trace           log every step of the patterns, by the role that acts (for learning)",
            "  --roles           print which class plays which pattern role, and exit",
            "  --help            print this help, and exit",
            "");

    /** Opens one service's acceptor on the reactor and prints where it listens; exits 1 if it cannot. */
    static void listen(Connections connections, Options options, String service, int port, ServiceFactory factory) {
        InetSocketAddress address = options.host == null
                ? new InetSocketAddress(port)
                : new InetSocketAddress(options.host, port);
        if (address.isUnresolved()) {
            fail("cannot resolve host '" + options.host + "'");
        }
        InetSocketAddress bound = null;
        try {
            ProtocolFamily family = options.host == null ? null
                    : address.getAddress() instanceof Inet6Address ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET;
            bound = new SocketAcceptor(connections, service, factory).open(address, family);
        } catch (BindException e) {
            fail(bindFailure(address, e));
        } catch (IOException e) {
            fail("cannot listen on " + Log.format(address) + ": " + Log.reason(e));
        }
        System.out.println(service + " server listening on " + (options.host == null
                ? "*:" + bound.getPort() + " (all interfaces)" : Log.format(bound)));
        System.out.flush();
    }

    /**
     * The JDK loads the classes behind a socket's write and close at their first use, and loading
     * them takes a descriptor: done now, a server whose descriptors clients took first still works.
     */
    static void loadClassesNeededWhenOutOfDescriptors() {
        try {
            Pipe pipe = Pipe.open();
            pipe.sink().write(ByteBuffer.allocate(1));
            pipe.sink().close();
            pipe.source().close();
        } catch (IOException e) {
            fail("cannot start: " + Log.reason(e));
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

    /** Command-line options; parse errors are IllegalArgumentExceptions with a one-line reason. */
    static final class Options {
        int port = DEFAULT_PORT;
        String host;
        int qotdPort = -1;
        String quote = DEFAULT_QUOTE;
        int chatPort = -1;
        int maxLine = DEFAULT_MAX_LINE;
        int idleTimeoutSeconds = DEFAULT_IDLE_TIMEOUT;
        long memoryBudget = Runtime.getRuntime().maxMemory() / 4;
        int logLevel = Log.NORMAL;
        boolean trace;
        boolean help;
        boolean roles;

        /** Parses, or handles --help, --roles and bad command lines itself (exit 0, 0 and 2). */
        static Options parseOrExit(String[] args) {
            Options options;
            try {
                options = parse(args);
            } catch (IllegalArgumentException e) {
                System.err.println("echo-server: " + e.getMessage());
                System.err.print(USAGE);
                System.exit(2);
                return null;
            }
            if (options.help) {
                System.out.print(USAGE);
                System.exit(0);
            }
            if (options.roles) {
                printRoles();
                System.exit(0);
            }
            Log.level = options.logLevel;
            Trace.on = options.trace;
            return options;
        }

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
                    case "--port" -> options.port = (int) number(arg, value != null ? value : next(args, ++i, arg), 0, 65535);
                    case "--host" -> options.host = host(value != null ? value : next(args, ++i, arg));
                    case "--qotd" -> options.qotdPort = (int) number(arg, value != null ? value : next(args, ++i, arg), 0, 65535);
                    case "--quote" -> options.quote = value != null ? value : next(args, ++i, arg);
                    case "--chat" -> options.chatPort = (int) number(arg, value != null ? value : next(args, ++i, arg), 0, 65535);
                    case "--max-line" -> options.maxLine = (int) number(arg, value != null ? value : next(args, ++i, arg), 1, MAX_MAX_LINE);
                    case "--idle-timeout" -> options.idleTimeoutSeconds = (int) number(arg, value != null ? value : next(args, ++i, arg), 0, 86400);
                    case "--memory-budget" -> options.memoryBudget = number(arg, value != null ? value : next(args, ++i, arg), 1L << 20, 1L << 40);
                    case "--verbose" -> options.logLevel = verbosity(options, Log.VERBOSE);
                    case "--quiet" -> options.logLevel = verbosity(options, Log.QUIET);
                    case "--trace" -> options.trace = true;
                    case "--roles" -> options.roles = true;
                    case "--help", "-h" -> options.help = true;
                    default -> throw new IllegalArgumentException(arg.startsWith("-")
                            ? "unknown option '" + arg + "'" : "unexpected argument '" + arg + "'");
                }
                if (value != null && (arg.equals("--verbose") || arg.equals("--quiet") || arg.equals("--trace")
                        || arg.equals("--roles") || arg.equals("--help"))) {
                    throw new IllegalArgumentException(arg + " takes no value");
                }
            }
            if (options.trace && options.logLevel == Log.QUIET) {
                throw new IllegalArgumentException("--trace and --quiet contradict each other: choose one");
            }
            return options;
        }

        private static String next(String[] args, int i, String option) {
            if (i >= args.length) {
                throw new IllegalArgumentException(option + " needs a value");
            }
            return args[i];
        }

        /** ASCII digits only: no sign, no other script's digits, nothing Long.parseLong would also take. */
        private static long number(String option, String text, long min, long max) {
            if (text.matches("[0-9]{1,13}")) {
                long n = Long.parseLong(text);
                if (n >= min && n <= max) {
                    return n;
                }
            }
            throw new IllegalArgumentException("invalid value '" + text + "' for " + option
                    + ": expected a whole number from " + min + " to " + max);
        }

        private static String host(String text) {
            if (text.isBlank()) {
                throw new IllegalArgumentException("invalid value '" + text + "' for --host: expected an address or a host name");
            }
            return text;
        }

        private static int verbosity(Options options, int level) {
            if (options.logLevel != Log.NORMAL && options.logLevel != level) {
                throw new IllegalArgumentException("--quiet and --verbose contradict each other: choose one");
            }
            return level;
        }
    }

    /** --trace: one line per step of the patterns, tagged with the role that acts, in PATTERNS.md's words. */
    static final class Trace {
        static boolean on; // set once at start; when off, each step costs one test of this field

        static void say(String role, String what) {
            Log.trace(String.format("%-14s %s", role, what));
        }

        /** Selection-key events as words: "read", "write", "read+write", "accept", "none". */
        static String events(int ops) {
            List<String> names = new ArrayList<>();
            if ((ops & SelectionKey.OP_ACCEPT) != 0) {
                names.add("accept");
            }
            if ((ops & SelectionKey.OP_READ) != 0) {
                names.add("read");
            }
            if ((ops & SelectionKey.OP_WRITE) != 0) {
                names.add("write");
            }
            return names.isEmpty() ? "none" : String.join("+", names);
        }

        /** "1 whole line (6 bytes)", "2 whole lines and a piece (70 bytes)", "a piece (16384 bytes)". */
        static String lines(ByteBuffer lines) {
            int count = 0;
            for (int i = lines.position(); i < lines.limit(); i++) {
                count += lines.get(i) == '\n' ? 1 : 0;
            }
            boolean piece = lines.hasRemaining() && lines.get(lines.limit() - 1) != '\n';
            String whole = count + " whole line" + (count == 1 ? "" : "s");
            return (count == 0 ? "a piece" : piece ? whole + " and a piece" : whole) + " (" + lines.remaining() + " bytes)";
        }
    }

    /**
     * Timestamped lines on standard error, written by a thread of their own: a stalled standard
     * error (a paused terminal, a full pipe) must never block the reactor. When the queue is full,
     * lines are dropped and counted. Nothing here runs per line unless --verbose.
     */
    static final class Log {
        static final int QUIET = 0;
        static final int NORMAL = 1;
        static final int VERBOSE = 2;
        static final int QUEUE_LINES = 10_000;
        // At exit the log thread gets this long to write what is queued (the shutdown hook's share of 2 s).
        static final long FLUSH_WAIT_MILLIS = 300;
        static int level = NORMAL;
        private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS");
        private static final BlockingQueue<String> queue = new ArrayBlockingQueue<>(QUEUE_LINES);
        private static final AtomicLong unwritten = new AtomicLong(); // queued, or being written
        private static final AtomicLong dropped = new AtomicLong();
        private static final Thread writer = startWriter();

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

        /** One line for a failure that was caught, if there is memory left to say it. */
        static void failure(String where, Throwable e) {
            try {
                error(where + " failed: " + e);
            } catch (Throwable stillFailing) {
                dropped.incrementAndGet();
            }
        }

        /** An exception's message for a log line; some exceptions have none. */
        static String reason(Throwable e) {
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

        static void trace(String message) {
            print(message);
        }

        private static void print(String message) {
            if (queue.offer(LocalDateTime.now().format(TIME) + " " + message)) {
                unwritten.incrementAndGet();
            } else {
                dropped.incrementAndGet();
            }
        }

        private static Thread startWriter() {
            Thread thread = new Thread(Log::writeLines, "log");
            thread.setDaemon(true); // the shutdown hook flushes; the log never keeps the JVM alive
            thread.start();
            return thread;
        }

        private static void writeLines() {
            try {
                while (true) {
                    String line = queue.take();
                    long lost = dropped.getAndSet(0);
                    if (lost > 0) {
                        System.err.println(LocalDateTime.now().format(TIME) + " " + lost + " log lines dropped");
                    }
                    System.err.println(line);
                    unwritten.decrementAndGet();
                }
            } catch (InterruptedException e) {
                // the JVM is exiting
            }
        }

        /** Waits, at most the given time, until every queued line is written. */
        static void flush(long millis) {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
            while (unwritten.get() > 0 && writer.isAlive() && System.nanoTime() < deadline) {
                try {
                    Thread.sleep(5);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }

        /** 127.0.0.1:8000 or [::1]:8000 */
        static String format(SocketAddress address) {
            if (!(address instanceof InetSocketAddress inet) || inet.getAddress() == null) {
                return String.valueOf(address);
            }
            if (inet.getAddress() instanceof Inet6Address ipv6) {
                return "[" + shortForm(ipv6) + "]:" + inet.getPort();
            }
            return inet.getAddress().getHostAddress() + ":" + inet.getPort();
        }

        /** An IPv6 address as people write it (RFC 5952): "::1", not "0:0:0:0:0:0:0:1". */
        static String shortForm(Inet6Address address) {
            byte[] bytes = address.getAddress();
            int[] groups = new int[8];
            for (int i = 0; i < 8; i++) {
                groups[i] = (bytes[2 * i] & 0xff) << 8 | bytes[2 * i + 1] & 0xff;
            }
            int zerosAt = -1;
            int zeros = 1; // a run must be at least two groups long to become "::"
            for (int i = 0, run = 0; i < 8; i++) {
                run = groups[i] == 0 ? run + 1 : 0;
                if (run > zeros) {
                    zeros = run;
                    zerosAt = i - run + 1;
                }
            }
            StringBuilder text = new StringBuilder();
            for (int i = 0; i < 8; i++) {
                if (i == zerosAt) {
                    text.append("::");
                    i += zeros - 1;
                } else {
                    if (text.length() > 0 && text.charAt(text.length() - 1) != ':') {
                        text.append(':');
                    }
                    text.append(Integer.toHexString(groups[i]));
                }
            }
            return text.toString();
        }

        /**
         * A received line as readable text: UTF-8, cut at 200 characters, with every character
         * that could move the cursor or reorder a terminal's text escaped: C0 and C1 controls,
         * DEL, the line and paragraph separators, and the bidirectional marks and overrides.
         */
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
                } else if ((c >= 0x80 && c <= 0x9f) || c == 0x061c || c == 0x200e || c == 0x200f
                        || (c >= 0x2028 && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)) {
                    out.append(String.format("\\u%04x", (int) c));
                } else {
                    out.append(c);
                }
            }
            return out + " (" + bytes.length + " bytes)";
        }
    }

    // ---------------------------------------------------------- Role annotations

    /** The role classes in data-flow order (a test checks that no annotated class is missing). */
    static final List<Class<?>> ROLE_CLASSES = List.of(SelectorReactor.class, SocketAcceptor.class, Connection.class,
            EchoService.class, QuoteService.class, ChatService.class, SocketStream.class);

    /** --roles: the role annotations read back at run time. */
    static void printRoles() {
        for (Class<?> type : ROLE_CLASSES) {
            for (Annotation annotation : type.getAnnotations()) {
                System.out.println(type.getSimpleName() + ": @" + annotation.annotationType().getSimpleName()
                        + ": " + roleSentence(annotation));
            }
        }
    }

    /** The sentence a role annotation carries: each annotation type has its own value(). */
    static String roleSentence(Annotation role) {
        if (role instanceof Reactor r) {
            return r.value();
        }
        if (role instanceof Acceptor a) {
            return a.value();
        }
        if (role instanceof ConcreteEventHandler h) {
            return h.value();
        }
        if (role instanceof ServiceHandler s) {
            return s.value();
        }
        return ((WrapperFacade) role).value();
    }

    /** Reactor: demultiplexes events on many handles and dispatches them to event handlers. */
    @Retention(RetentionPolicy.RUNTIME)
    @Target(ElementType.TYPE)
    @interface Reactor {
        String value();
    }

    /** Acceptor-Connector: accepts connections passively, and makes and activates a service handler for each. */
    @Retention(RetentionPolicy.RUNTIME)
    @Target(ElementType.TYPE)
    @interface Acceptor {
        String value();
    }

    /** Reactor: reacts to the events of one handle (here, also the service handler's transport). */
    @Retention(RetentionPolicy.RUNTIME)
    @Target(ElementType.TYPE)
    @interface ConcreteEventHandler {
        String value();
    }

    /** Acceptor-Connector: the application logic of one connection, apart from how it was set up. */
    @Retention(RetentionPolicy.RUNTIME)
    @Target(ElementType.TYPE)
    @interface ServiceHandler {
        String value();
    }

    /** Wrapper Facade: low-level functions behind a narrower, safer, object-shaped interface. */
    @Retention(RetentionPolicy.RUNTIME)
    @Target(ElementType.TYPE)
    @interface WrapperFacade {
        String value();
    }
}
