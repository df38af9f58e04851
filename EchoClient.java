// EchoClient.java: the console client for EchoServer.java, built like the server on POSA2's patterns, from the
// other side of Acceptor-Connector. JDK only: java EchoClient.java "hello" sends "hello" and a newline, half-closes
// and prints the reply; with no message it is interactive, like telnet. It shares no code with the server.
// Part I, the patterns: main; the reactor (Events, EventHandler, SelectorReactor); the connector (ClientFactory,
// SocketConnector); the connection (Transport, Connection); the services (Service, MessageService,
// InteractiveService); the wrapper facades (ConnectingSocket, SocketStream). Part II, from "PART II" on:
// the options, the trace, the role annotations.

import java.io.IOException;
import java.lang.annotation.*;
import java.net.*;
import java.nio.ByteBuffer;
import java.nio.channels.*;
import java.nio.charset.StandardCharsets;
import java.util.*;
import java.util.concurrent.*;
import java.util.function.Supplier;

public final class EchoClient {

    public static void main(String[] args) {
        Options options = Options.parseOrExit(args);
        SelectorReactor reactor = reactorOrExit();
        String server = (options.host.contains(":") ? "[" + options.host + "]" : options.host) + ":" + options.port;
        Supplier<Service> service = options.message == null ? () -> new InteractiveService(reactor)
                : () -> new MessageService(reactor, options.message);
        ClientFactory factory = new ClientFactory(reactor, server, service);
        try {
            SocketConnector connector = new SocketConnector(reactor, factory, options.timeoutSeconds);
            connector.connect(addresses(options.host), options.port);
        } catch (UnknownHostException e) {
            factory.clientConnectionFailed("unknown host");
        }
        System.exit(reactor.run());
    }

    // ================================================================================ PART I: the patterns
    // ------------------------------------------------------------------ Reactor

    /** The events a handle is ready for, or that its handler waits for: our words for the selector's bits. */
    record Events(boolean connect, boolean read, boolean write) {
        static final Events CONNECT = new Events(true, false, false);
        static final Events READ = new Events(false, true, false);
    }

    /** What the reactor calls, on its own thread: POSA2's event handler, with its two hook methods. */
    interface EventHandler {
        void handleEvent(Events ready); // the handle is ready for these events
        void handleClose();             // the handle has left the loop (closed, failed, stopped): once
    }

    @Reactor("Plays the reactor role in Reactor and the dispatcher role in Acceptor-Connector: waits on one Selector"
            + " for the client's socket, dispatches each event to its handler, runs timers and what the input thread"
            + " hands over, and tells a handler when it is removed.")
    static final class SelectorReactor {
        private final Selector selector;
        private final PriorityQueue<Timer> timers = new PriorityQueue<>(Comparator.comparingLong(Timer::deadline));
        // The one cross-thread hand-off: standard input cannot be selected in Java, so a thread reads it and
        // hands each chunk to the reactor through this queue, then wakes the selector.
        private final Queue<Runnable> handedOver = new ConcurrentLinkedQueue<>();
        private boolean running = true;
        private int status;

        /** What register returns: the handler's place in the loop, opaque to all but the reactor. */
        static final class Registration {
            private final SelectionKey key;
            private Registration(SelectionKey key) { this.key = key; }
        }
        record Timer(long deadline, Runnable task) { }
        private SelectorReactor(Selector selector) { this.selector = selector; }
        static SelectorReactor open() throws IOException { return new SelectorReactor(Selector.open()); }

        /** Adds a handle to the loop; one already in it gets the new handler (the connector's goes to a connection). */
        Registration register(SelectableChannel handle, Events interest, EventHandler handler) throws IOException {
            return new Registration(handle.register(selector, ops(interest), handler));
        }

        void setInterest(Registration registration, Events interest) { registration.key.interestOps(ops(interest)); }

        /** Takes a handle out of the loop and tells its handler; safe to call twice. */
        void remove(Registration registration) {
            SelectionKey key = registration.key;
            if (key.isValid()) {
                if (Trace.on) Trace.say("reactor", "remove " + key.attachment() + " -> handleClose");
                key.cancel();
                ((EventHandler) key.attachment()).handleClose();
            }
        }

        /** Runs a task on the reactor thread after a delay; the returned timer can be cancelled. */
        Timer schedule(long delayMillis, Runnable task) {
            Timer timer = new Timer(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(delayMillis), task);
            timers.add(timer);
            return timer;
        }

        void cancel(Timer timer) { timers.remove(timer); }

        /** Called from another thread: the task runs on the reactor thread, soon. */
        void handOver(Runnable task) {
            handedOver.add(task);
            selector.wakeup();
        }

        /** The event loop: wait, dispatch, run due timers and what was handed over. Returns the exit status. */
        int run() {
            try {
                while (running) {
                    int ready = selector.select(millisToNextTimer());
                    if (Trace.on && ready > 0) Trace.say("reactor", "select: " + ready + " ready");
                    for (SelectionKey key : selector.selectedKeys()) {
                        if (key.isValid()) {
                            Events events = new Events(key.isConnectable(), key.isReadable(), key.isWritable());
                            if (Trace.on) Trace.dispatch(events, key.attachment());
                            ((EventHandler) key.attachment()).handleEvent(events);
                        }
                    }
                    selector.selectedKeys().clear();
                    for (long now = System.nanoTime(); !timers.isEmpty() && timers.peek().deadline() - now <= 0; ) {
                        timers.poll().task().run();
                    }
                    for (Runnable task; (task = handedOver.poll()) != null; ) task.run();
                }
            } catch (IOException e) {
                System.err.println("echo-client: event loop failed: " + reason(e));
                status = 1;
            }
            for (SelectionKey key : selector.keys()) remove(new Registration(key));
            return status;
        }

        private static int ops(Events events) {
            return (events.connect() ? SelectionKey.OP_CONNECT : 0) | (events.read() ? SelectionKey.OP_READ : 0)
                    | (events.write() ? SelectionKey.OP_WRITE : 0);
        }

        private long millisToNextTimer() {
            Timer next = timers.peek();
            if (next == null) return 0; // no timer: block until an event (or wakeup)
            return Math.max(1, TimeUnit.NANOSECONDS.toMillis(next.deadline() - System.nanoTime()) + 1);
        }

        /** Ends the loop; run() returns this status. */
        void stop(int exitStatus) {
            if (Trace.on) Trace.say("reactor", "stop (exit status " + exitStatus + ")");
            status = exitStatus;
            running = false;
        }
    }

    // ---------------------------------------------------------------- Connector

    /** Twisted's ClientFactory: makes the service handler, and hears when connecting failed. */
    record ClientFactory(SelectorReactor reactor, String server, Supplier<Service> make) {
        Service makeService() { return make.get(); }

        void clientConnectionFailed(String reason) { // every address refused or did not answer
            System.err.println("echo-client: cannot connect to " + server + ": " + reason);
            reactor.stop(1);
        }
    }

    @Connector("Plays the connector role in Acceptor-Connector: connects without blocking to each address of the"
            + " server in turn and, once one accepts, makes the client's service handler with its factory and"
            + " activates it.")
    @ConcreteEventHandler("Plays the concrete event handler role in Reactor as well: the reactor calls it when a"
            + " connect it started completes or fails.")
    static final class SocketConnector implements EventHandler {
        static final long CONNECT_TIMEOUT_MILLIS = 5000; // how long one address may take to answer

        private final SelectorReactor reactor;
        private final ClientFactory factory;
        private final int timeoutSeconds; // the connection gives up on a silent server after this; 0: never
        private final ArrayDeque<InetSocketAddress> untried = new ArrayDeque<>();
        private ConnectingSocket socket;      // the connect under way, or null
        private SelectorReactor.Registration registration;
        private SelectorReactor.Timer timeout;
        private String firstFailure;

        SocketConnector(SelectorReactor reactor, ClientFactory factory, int timeoutSeconds) {
            this.reactor = reactor;
            this.factory = factory;
            this.timeoutSeconds = timeoutSeconds;
        }

        /** Starts with the first address; the others wait in case it fails. */
        void connect(List<InetAddress> addresses, int port) {
            addresses.forEach(address -> untried.add(new InetSocketAddress(address, port)));
            connectNext();
        }

        /** POSA2's first step: initiate a connect without blocking; the reactor reports when it completes. */
        private void connectNext() {
            InetSocketAddress address = untried.poll();
            if (address == null) {
                factory.clientConnectionFailed(firstFailure);
                return;
            }
            if (Trace.on) Trace.say("connector", "connect " + format(address));
            try {
                socket = ConnectingSocket.open(address);
                registration = socket.register(reactor, Events.CONNECT, this);
                timeout = reactor.schedule(CONNECT_TIMEOUT_MILLIS, () -> failed("timed out"));
            } catch (IOException | RuntimeException | Error e) { // refused at once, or out of descriptors
                failed(reason(e));
                return;
            }
            handleEvent(Events.CONNECT); // on loopback a connect may be done at once: then no event would come
        }

        /** The second step: complete the connect, then make the service handler and activate it. */
        @Override public void handleEvent(Events ready) {
            try {
                SocketStream stream = socket.finish();
                if (stream == null) return; // not yet
                reactor.cancel(timeout);
                if (Trace.on) Trace.say("connector", "connected to " + format(stream.peer()));
                Service service = factory.makeService();
                if (Trace.on) Trace.say("connector", "make service handler: " + service.getClass().getSimpleName());
                activate(stream, service);
                socket = null; // the handle stays in the loop: the connection has taken it over
                registration = null;
            } catch (IOException e) {
                failed(reason(e));
            }
        }

        /** The third step: activate the service handler on a connection. */
        private void activate(SocketStream stream, Service service) throws IOException {
            if (Trace.on) Trace.say("connector", "activate connection");
            new Connection(reactor, stream, service).open(timeoutSeconds);
        }

        /** This address failed: the next one is tried, or the factory hears that all failed. */
        private void failed(String reason) {
            if (Trace.on) Trace.say("connector", "failed: " + reason);
            reactor.cancel(timeout);
            if (registration != null) reactor.remove(registration); // which calls handleClose
            registration = null;
            handleClose(); // if it was never registered
            firstFailure = firstFailure == null ? reason : firstFailure;
            connectNext();
        }

        /** Closes the connect under way, if one is: never a socket that was not opened. */
        @Override public void handleClose() {
            if (socket != null) socket.close();
            socket = null;
        }

        @Override public String toString() { return "connector"; }
    }

    // --------------------------------------------------------------- Connection

    /** What a service may do to its connection: Twisted's transport. */
    interface Transport {
        void write(ByteBuffer bytes); // now, or as soon as the server takes them
        void halfClose();             // no more to send: shut down output once everything written has gone
        int unsent();                 // bytes written but not yet taken by the socket
        InetSocketAddress peer();     // the server's address
    }

    @ConcreteEventHandler("Plays the concrete event handler role in Reactor and the transport of the client's"
            + " service handler: passes what the server sends to the service, and writes what the service sends,"
            + " queueing what the socket does not take.")
    static final class Connection implements EventHandler, Transport {
        private final SelectorReactor reactor;
        private final SocketStream stream;
        private final Service service;
        private final ByteBuffer in = ByteBuffer.allocate(64 * 1024); // what one read may bring
        private final ArrayDeque<ByteBuffer> unsent = new ArrayDeque<>();
        private SelectorReactor.Registration registration;
        private int unsentBytes;
        private boolean halfCloseWanted, closed;
        private String closeReason; // null: the server closed in an orderly way
        private long lastActive = System.nanoTime(); // when bytes last came or went: for --timeout

        Connection(SelectorReactor reactor, SocketStream stream, Service service) {
            this.reactor = reactor;
            this.stream = stream;
            this.service = service;
        }

        /** Activation: the connection takes the handle over from the connector, then tells its service. */
        void open(int timeoutSeconds) throws IOException {
            registration = stream.register(reactor, Events.READ, this);
            if (timeoutSeconds > 0) giveUpWhenSilent(timeoutSeconds * 1000L);
            if (Trace.on) Trace.hook(service, "connectionMade");
            service.connectionMade(this);
        }

        /** --timeout: nothing came or went for that long (nc -w): the server is not answering; give up. */
        private void giveUpWhenSilent(long millis) {
            if (closed) return;
            long silent = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - lastActive);
            if (silent < millis) reactor.schedule(millis - silent, () -> giveUpWhenSilent(millis));
            else close("nothing from the server for " + millis / 1000 + " s: giving up");
        }

        @Override public void handleEvent(Events ready) {
            lastActive = System.nanoTime();
            try {
                if (ready.write()) writeUnsent();
                if (ready.read() && stream.read(in.clear()) < 0) {
                    close(null); // the server has sent everything and closed
                } else if (ready.read()) {
                    if (Trace.on) Trace.hook(service, "dataReceived (" + in.position() + " bytes)");
                    service.dataReceived(in.flip());
                }
            } catch (IOException e) {
                close(reason(e));
            }
        }

        @Override public void write(ByteBuffer bytes) {
            if (closed) return; // input typed after the server closed: nowhere to send it
            try {
                if (unsent.isEmpty()) stream.write(bytes); // write first: OP_WRITE only when the socket is full
                if (bytes.hasRemaining()) {
                    unsent.add(ByteBuffer.allocate(bytes.remaining()).put(bytes).flip());
                    unsentBytes += unsent.peekLast().remaining();
                    reactor.setInterest(registration, new Events(false, true, true));
                }
            } catch (IOException e) {
                close(reason(e));
            }
        }

        private void writeUnsent() throws IOException {
            for (ByteBuffer head; (head = unsent.peek()) != null; unsent.poll()) {
                unsentBytes -= stream.write(head);
                if (head.hasRemaining()) return; // the socket is full again
            }
            reactor.setInterest(registration, Events.READ);
            if (halfCloseWanted) stream.shutdownOutput();
            service.writeDrained();
        }

        @Override public void halfClose() {
            halfCloseWanted = true;
            try {
                if (unsent.isEmpty() && !closed) stream.shutdownOutput();
            } catch (IOException e) {
                close(reason(e));
            }
        }

        @Override public int unsent() { return unsentBytes; }
        @Override public InetSocketAddress peer() { return stream.peer(); }

        /** The server closed (reason null) or the connection broke; the reactor then calls handleClose. */
        private void close(String reason) {
            closeReason = reason;
            reactor.remove(registration);
        }

        @Override public void handleClose() {
            closed = true;
            stream.close();
            if (Trace.on) Trace.hook(service, "connectionLost" + (closeReason == null ? "" : ": " + closeReason));
            service.connectionLost(closeReason);
        }

        @Override public String toString() { return "connection"; }
    }

    // ----------------------------------------------------------------- Services

    /** A service handler's hooks, as in Twisted's Protocol. */
    interface Service {
        void connectionMade(Transport transport);
        default void dataReceived(ByteBuffer bytes) { print(bytes); } // both print it as it arrives, exactly
        void connectionLost(String reason);   // null: the server closed; else why the connection broke
        default void writeDrained() { }       // everything written so far has been taken by the socket
    }

    @ServiceHandler("Plays the service handler role in Acceptor-Connector for message mode: sends the message and a"
            + " newline, half-closes, and prints every byte that comes back until the server closes.")
    record MessageService(SelectorReactor reactor, String message) implements Service {
        @Override public void connectionMade(Transport transport) {
            transport.write(ByteBuffer.wrap((message + "\n").getBytes(StandardCharsets.UTF_8)));
            transport.halfClose(); // the server echoes what it has, then closes
        }

        @Override public void connectionLost(String reason) {
            if (reason != null) System.err.println("echo-client: connection lost: " + reason);
            reactor.stop(reason == null ? 0 : 1);
        }
    }

    @ServiceHandler("Plays the service handler role in Acceptor-Connector for interactive mode: sends what is typed"
            + " as it comes, prints what comes back, and half-closes at the end of input.")
    static final class InteractiveService implements Service {
        static final int CHUNKS_IN_FLIGHT = 4; // input handed over, not yet sent: then the input thread waits

        private final SelectorReactor reactor;
        private final Semaphore mayRead = new Semaphore(CHUNKS_IN_FLIGHT);
        private Transport transport;
        private int waitingForDrain; // chunks written but not yet taken by the socket
        private boolean inputEnded;

        InteractiveService(SelectorReactor reactor) { this.reactor = reactor; }

        @Override public void connectionMade(Transport transport) {
            this.transport = transport;
            System.err.println("echo-client: connected to " + format(transport.peer()) + " (Ctrl-D ends)");
            Thread input = new Thread(this::readInput, "input");
            input.setDaemon(true); // it may be blocked in read() when the server closes
            input.start();
        }

        /** On the input thread: read standard input and hand each chunk to the reactor. */
        private void readInput() {
            byte[] buffer = new byte[16 * 1024];
            try {
                for (int count; (count = System.in.read(buffer)) > 0; ) {
                    mayRead.acquire();
                    ByteBuffer chunk = ByteBuffer.wrap(buffer.clone(), 0, count);
                    reactor.handOver(() -> send(chunk));
                }
            } catch (IOException | InterruptedException e) {
                // no more input: as at its end
            }
            reactor.handOver(() -> {
                inputEnded = true;
                transport.halfClose(); // Ctrl-D: the server echoes any unfinished line, then closes
            });
        }

        private void send(ByteBuffer chunk) {
            transport.write(chunk);
            waitingForDrain++; // released at once if the socket took it all, else once it drains
            if (transport.unsent() == 0) writeDrained();
        }

        @Override public void writeDrained() {
            mayRead.release(waitingForDrain);
            waitingForDrain = 0;
        }

        @Override public void connectionLost(String reason) { // the server closing first is a normal end too
            if (reason != null) System.err.println("echo-client: connection lost: " + reason);
            if (reason == null && !inputEnded) System.err.println("echo-client: the server closed the connection");
            reactor.stop(reason == null ? 0 : 1);
        }
    }

    // ---------------------------------------------------------- Wrapper facades

    @WrapperFacade("Plays the wrapper facade role in Wrapper Facade for the active-mode endpoint: narrows a"
            + " SocketChannel being connected to open (which starts the connect), finish, which returns the stream"
            + " facade, close, and registering.")
    static final class ConnectingSocket {
        private final SocketChannel channel;

        private ConnectingSocket(SocketChannel channel) { this.channel = channel; }

        /** Opens a socket and starts a connect that does not block; a refusal may come at once, as an exception. */
        static ConnectingSocket open(InetSocketAddress address) throws IOException {
            SocketChannel channel = SocketChannel.open();
            try {
                channel.configureBlocking(false);
                channel.setOption(StandardSocketOptions.TCP_NODELAY, true); // each typed line goes at once
                channel.connect(address);
                return new ConnectingSocket(channel);
            } catch (IOException | RuntimeException e) {
                closeQuietly(channel);
                throw e;
            }
        }

        SelectorReactor.Registration register(SelectorReactor reactor, Events interest, EventHandler handler)
                throws IOException {
            return reactor.register(channel, interest, handler);
        }

        /** The connected stream once the connect has completed, null while it has not; throws if it failed. */
        SocketStream finish() throws IOException {
            return channel.finishConnect() ? new SocketStream(channel) : null;
        }

        void close() { closeQuietly(channel); }
    }

    @WrapperFacade("Plays the wrapper facade role in Wrapper Facade for a connected socket: narrows a SocketChannel"
            + " to read, write (may be partial), half-close, close, the peer's address, and registering.")
    static final class SocketStream {
        // The raw channel never leaves it; like the server's, it is where TLS would go.
        private final SocketChannel channel;
        private final InetSocketAddress peer; // kept: a closed channel no longer tells

        SocketStream(SocketChannel channel) throws IOException {
            this.channel = channel;
            this.peer = (InetSocketAddress) channel.getRemoteAddress();
        }

        SelectorReactor.Registration register(SelectorReactor reactor, Events interest, EventHandler handler)
                throws IOException {
            return reactor.register(channel, interest, handler);
        }

        /** Returns -1 once the server has closed. */
        int read(ByteBuffer into) throws IOException {
            int count = channel.read(into);
            if (Trace.on) Trace.say("facade", count < 0 ? "read: end of input" : "read " + count + " bytes");
            return count;
        }

        /** Writes what the socket takes now, perhaps nothing; the rest stays in the buffer. */
        int write(ByteBuffer bytes) throws IOException {
            int wanted = bytes.remaining();
            int count = channel.write(bytes);
            if (Trace.on) Trace.say("facade", "write " + count + " of " + wanted + " bytes");
            return count;
        }

        void shutdownOutput() throws IOException {
            if (Trace.on) Trace.say("facade", "shutdown output (half-close)");
            channel.shutdownOutput();
        }

        InetSocketAddress peer() { return peer; }
        void close() { closeQuietly(channel); }
    }

    // ================================================================================ PART II: options, trace

    static final String USAGE = String.join("\n",
            "usage: java EchoClient.java [--host H] [--port N] [--timeout S] [--trace] [MESSAGE ...]",
            "  --host H      server host (default localhost); each of its addresses is tried in turn",
            "  --port N      server port (default 8000)",
            "  --timeout S   give up when nothing has come or gone for S seconds (default: wait; 1 to 86400)",
            "  --trace       log every step of the patterns on standard error",
            "  --help, -h    print this help and exit",
            "  MESSAGE       sent as one line (words joined by spaces); the reply is printed.",
            "                Without a message, each line typed is sent; Ctrl-D ends.",
            "Options may also be written --port=8000. Exit status: 0 when the server closed in an orderly way,",
            "1 when it could not be reached or the connection broke, 2 for a bad command line.",
            "");

    /** Every address of the host in the resolver's order; "localhost" is both loopback addresses (RFC 6761), so that
     * a server started with --host ::1 is reached as well as one on 127.0.0.1, whatever the hosts file lists. */
    static List<InetAddress> addresses(String host) throws UnknownHostException {
        Set<InetAddress> addresses = new LinkedHashSet<>(List.of(InetAddress.getAllByName(host)));
        if (host.equalsIgnoreCase("localhost")) {
            addresses.addAll(List.of(InetAddress.getByName("::1"), InetAddress.getByName("127.0.0.1")));
        }
        return List.copyOf(addresses);
    }

    /** The selector, and the classes that close a channel loaded now: later they would need a descriptor. */
    static SelectorReactor reactorOrExit() {
        try {
            Pipe pipe = Pipe.open();
            pipe.sink().write(ByteBuffer.allocate(1));
            pipe.sink().close();
            pipe.source().close();
            return SelectorReactor.open();
        } catch (IOException | RuntimeException | Error e) {
            System.err.println("echo-client: cannot start: " + reason(e));
            System.exit(1);
            return null;
        }
    }

    /** A short reason for a person, from the exception's type rather than its message text. */
    static String reason(Throwable e) {
        if (e instanceof ConnectException) return "connection refused";
        if (e instanceof NoRouteToHostException) return "no route to host";
        while (e.getCause() != null) e = e.getCause(); // out of descriptors while a class loads, say
        return e.getMessage() != null ? e.getMessage() : e.toString();
    }

    /** Prints what the server sent, exactly; standard output gone (a closed pipe, say), the client stops at once. */
    static void print(ByteBuffer bytes) {
        System.out.write(bytes.array(), bytes.arrayOffset() + bytes.position(), bytes.remaining());
        System.out.flush();
        if (System.out.checkError()) { // PrintStream keeps the IOException to itself
            System.err.println("echo-client: cannot write to standard output");
            System.exit(1);
        }
    }

    /** 127.0.0.1:8000 or [::1]:8000: an IPv6 address as RFC 5952 writes it, its longest run of zeros as "::". */
    static String format(InetSocketAddress address) {
        InetAddress ip = address.getAddress();
        if (!(ip instanceof Inet6Address)) return ip.getHostAddress() + ":" + address.getPort();
        String[] groups = ip.getHostAddress().replaceFirst("%.*", "").split(":"); // eight, without leading zeros
        int start = -1, length = 1; // the first longest run of two or more "0" groups
        for (int i = 0, run = 0; i < groups.length; i++) {
            run = groups[i].equals("0") ? run + 1 : 0;
            if (run > length) {
                length = run;
                start = i - run + 1;
            }
        }
        String host = start < 0 ? String.join(":", groups)
                : String.join(":", Arrays.copyOfRange(groups, 0, start)) + "::"
                + String.join(":", Arrays.copyOfRange(groups, start + length, groups.length));
        return "[" + host + "]:" + address.getPort();
    }

    static void closeQuietly(java.io.Closeable handle) {
        try {
            handle.close();
        } catch (IOException e) {
            // the descriptor is released either way
        }
    }

    static final class Options {
        String host = "localhost";
        int port = 8000;
        int timeoutSeconds; // 0: wait as long as it takes
        String message;     // null: interactive

        static Options parseOrExit(String[] args) {
            Options o = new Options();
            List<String> words = new ArrayList<>();
            try {
                for (int i = 0; i < args.length; i++) {
                    String[] option = args[i].startsWith("--") ? args[i].split("=", 2) : new String[] {args[i]};
                    boolean valued = List.of("--host", "--port", "--timeout").contains(option[0]);
                    require(!valued || option.length == 2 || i + 1 < args.length, option[0] + " needs a value");
                    require(valued || option.length == 1, option[0] + " takes no value");
                    String value = !valued ? null : option.length == 2 ? option[1] : args[++i];
                    switch (option[0]) {
                        case "--host" -> o.host = host(value);
                        case "--port" -> o.port = (int) number("--port", value, 1, 65535);
                        case "--timeout" -> o.timeoutSeconds = (int) number("--timeout", value, 1, 86400);
                        case "--trace" -> Trace.on = true;
                        case "--help", "-h" -> {
                            System.out.print(USAGE);
                            System.exit(0);
                        }
                        case "--" -> {
                            words.addAll(List.of(args).subList(i + 1, args.length));
                            i = args.length;
                        }
                        default -> {
                            require(!args[i].startsWith("--"), "unknown option '" + args[i] + "'");
                            words.add(args[i]);
                        }
                    }
                }
            } catch (IllegalArgumentException e) {
                System.err.print("echo-client: " + e.getMessage() + "\n" + USAGE);
                System.exit(2);
            }
            o.message = words.isEmpty() ? null : String.join(" ", words);
            return o;
        }

        private static String host(String text) {
            require(!text.isBlank(), "invalid value '" + text + "' for --host: expected an address or a host name");
            return text;
        }

        /** ASCII digits only, within the bounds. */
        private static long number(String option, String text, long min, long max) {
            boolean valid = text.matches("[0-9]{1,9}") && Long.parseLong(text) >= min && Long.parseLong(text) <= max;
            require(valid, "invalid value '" + text + "' for " + option + ": expected a whole number from " + min
                    + " to " + max);
            return Long.parseLong(text);
        }

        private static void require(boolean valid, String reason) {
            if (!valid) throw new IllegalArgumentException(reason);
        }
    }

    /** --trace: one line per step, on standard error, tagged with the role that acts. */
    static final class Trace {
        static boolean on;

        private static final java.time.format.DateTimeFormatter TIME =
                java.time.format.DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS"); // as the server's log

        static void say(String role, String what) {
            System.err.println(String.format("%s %-11s %s", java.time.LocalDateTime.now().format(TIME), role, what));
        }

        static void dispatch(Events ready, Object handler) {
            say("reactor", "dispatch " + events(ready) + " -> " + handler);
        }

        static void hook(Service service, String what) {
            say("connection", "-> " + service.getClass().getSimpleName() + "." + what);
        }

        /** "connect", "read", "read+write" */
        static String events(Events e) {
            String words = (e.connect() ? "+connect" : "") + (e.read() ? "+read" : "") + (e.write() ? "+write" : "");
            return words.isEmpty() ? "none" : words.substring(1);
        }

    }

    /** Reactor: demultiplexes events on many handles and dispatches them to event handlers. */
    @Retention(RetentionPolicy.RUNTIME) @Target(ElementType.TYPE)
    @interface Reactor { String value(); }
    /** Acceptor-Connector: connects actively, and makes and activates a service handler once connected. */
    @Retention(RetentionPolicy.RUNTIME) @Target(ElementType.TYPE)
    @interface Connector { String value(); }
    /** Reactor: reacts to the events of one handle. */
    @Retention(RetentionPolicy.RUNTIME) @Target(ElementType.TYPE)
    @interface ConcreteEventHandler { String value(); }
    /** Acceptor-Connector: the application logic of one connection, apart from how it was set up. */
    @Retention(RetentionPolicy.RUNTIME) @Target(ElementType.TYPE)
    @interface ServiceHandler { String value(); }
    /** Wrapper Facade: low-level functions behind a narrower, safer, object-shaped interface. */
    @Retention(RetentionPolicy.RUNTIME) @Target(ElementType.TYPE)
    @interface WrapperFacade { String value(); }
}
