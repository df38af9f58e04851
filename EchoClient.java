// EchoClient.java: the console client for EchoServer.java, built like the server on
// POSA2's patterns, from the other side: a connector instead of an acceptor.
//
//   java EchoClient.java [--host H] [--port N] [--trace] [MESSAGE ...]
//
// With a message: send it and a newline, half-close, print the reply exactly as it
// arrives, exit 0. Without one: interactive, like telnet; end of input (Ctrl-D) ends it.
// Bytes are copied as they are, so UTF-8 text round-trips exactly.
//
// Read it top to bottom: the entry point, the reactor, the connector (connect, make the
// service handler, activate it), the connection, the two services, the wrapper facade.
// It stands alone: nothing is shared with EchoServer.java but the names.

import java.io.IOException;
import java.io.InputStream;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.net.ConnectException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NoRouteToHostException;
import java.net.StandardSocketOptions;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

public final class EchoClient {

    public static void main(String[] args) {
        Options options = Options.parseOrExit(args);
        List<InetAddress> addresses;
        try {
            addresses = addresses(options.host);
        } catch (UnknownHostException e) {
            System.err.println("echo-client: cannot connect to " + options.host + ":" + options.port + ": unknown host");
            System.exit(1);
            return;
        }
        SelectorReactor reactor = SelectorReactor.openOrExit();
        String server = options.host + ":" + options.port;
        ClientFactory factory = options.message == null
                ? new ClientFactory(reactor, server, () -> new InteractiveService(reactor))
                : new ClientFactory(reactor, server, () -> new MessageService(reactor, options.message));
        new SocketConnector(reactor, factory).connect(addresses, options.port);
        System.exit(reactor.run());
    }

    /**
     * Every address of the host, in the resolver's order. "localhost" is both loopback
     * addresses (RFC 6761) even where the hosts file lists only one, so that the client
     * reaches a server started with --host ::1 as well as one on 127.0.0.1.
     */
    static List<InetAddress> addresses(String host) throws UnknownHostException {
        List<InetAddress> addresses = new ArrayList<>(List.of(InetAddress.getAllByName(host)));
        if (host.equalsIgnoreCase("localhost")) {
            for (String loopback : List.of("::1", "127.0.0.1")) {
                InetAddress address = InetAddress.getByName(loopback);
                if (!addresses.contains(address)) {
                    addresses.add(address);
                }
            }
        }
        return addresses;
    }

    // ------------------------------------------------------------------ Reactor

    /** What the reactor calls: every handler attached to a selection key implements it. */
    interface EventHandler {
        void handleEvent(SelectionKey key);
    }

    @Reactor("Plays the reactor role in Reactor and the dispatcher role in Acceptor-Connector: waits on one Selector for the client's socket, dispatches each event to the handler attached to it, runs timers, and runs what the input thread hands over.")
    static final class SelectorReactor {
        private final Selector selector;
        private final PriorityQueue<Timer> timers = new PriorityQueue<>(Comparator.comparingLong(Timer::deadline));
        // The one cross-thread hand-off: standard input cannot be selected in Java, so a
        // thread reads it and hands what it read to the reactor, then wakes the selector.
        private final Queue<Runnable> handedOver = new ConcurrentLinkedQueue<>();
        private boolean running = true;
        private int status;

        record Timer(long deadline, Runnable task) { }

        private SelectorReactor(Selector selector) {
            this.selector = selector;
        }

        static SelectorReactor openOrExit() {
            try {
                return new SelectorReactor(Selector.open());
            } catch (IOException e) {
                System.err.println("echo-client: cannot open a selector: " + e.getMessage());
                System.exit(1);
                return null;
            }
        }

        Selector selector() {
            return selector;
        }

        /** Runs a task on the reactor thread after a delay; the returned timer can be cancelled. */
        Timer schedule(long delayMillis, Runnable task) {
            Timer timer = new Timer(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(delayMillis), task);
            timers.add(timer);
            return timer;
        }

        void cancel(Timer timer) {
            timers.remove(timer);
        }

        /** Called from another thread: the task runs on the reactor thread, soon. */
        void handOver(Runnable task) {
            handedOver.add(task);
            selector.wakeup();
        }

        /** The event loop: wait, dispatch, run due timers and handed-over tasks. Returns the exit status. */
        int run() {
            try {
                while (running) {
                    int ready = selector.select(millisToNextTimer());
                    if (Trace.on && ready > 0) Trace.say("reactor", "select: " + ready + " ready");
                    for (SelectionKey key : selector.selectedKeys()) {
                        if (key.isValid()) {
                            if (Trace.on) Trace.say("reactor", "dispatch " + Trace.events(key.readyOps()) + " -> " + key.attachment());
                            ((EventHandler) key.attachment()).handleEvent(key);
                        }
                    }
                    selector.selectedKeys().clear();
                    runDueTimers();
                    for (Runnable task; (task = handedOver.poll()) != null; ) {
                        task.run();
                    }
                }
            } catch (IOException e) {
                System.err.println("echo-client: event loop failed: " + e.getMessage());
                return 1;
            }
            return status;
        }

        private long millisToNextTimer() {
            Timer next = timers.peek();
            if (next == null) {
                return 0; // no timer: block until an event (or wakeup)
            }
            return Math.max(1, TimeUnit.NANOSECONDS.toMillis(next.deadline() - System.nanoTime()) + 1);
        }

        private void runDueTimers() {
            long now = System.nanoTime();
            while (!timers.isEmpty() && timers.peek().deadline() - now <= 0) {
                timers.poll().task().run();
            }
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
    static final class ClientFactory {
        private final SelectorReactor reactor;
        private final String server; // as the user named it, for messages
        private final Supplier<Service> make;

        ClientFactory(SelectorReactor reactor, String server, Supplier<Service> make) {
            this.reactor = reactor;
            this.server = server;
            this.make = make;
        }

        Service makeService() {
            return make.get();
        }

        /** Every address refused or timed out: one line, exit status 1. */
        void clientConnectionFailed(String reason) {
            System.err.println("echo-client: cannot connect to " + server + ": " + reason);
            reactor.stop(1);
        }
    }

    @Connector("Plays the connector role in Acceptor-Connector: connects without blocking to each address of the server in turn and, once one accepts, makes the client's service handler with its factory and activates it.")
    static final class SocketConnector implements EventHandler {
        // How long one address may take to answer before the next is tried.
        static final long CONNECT_TIMEOUT_MILLIS = 5000;

        private final SelectorReactor reactor;
        private final ClientFactory factory;
        private final ArrayDeque<InetSocketAddress> untried = new ArrayDeque<>();
        private SocketStream stream;       // the connection being set up
        private SelectorReactor.Timer timeout;
        private String firstFailure;

        SocketConnector(SelectorReactor reactor, ClientFactory factory) {
            this.reactor = reactor;
            this.factory = factory;
        }

        /** Starts with the first address; the others wait in case it fails. */
        void connect(List<InetAddress> addresses, int port) {
            for (InetAddress address : addresses) {
                untried.add(new InetSocketAddress(address, port));
            }
            connectNext();
        }

        /** Step 1, connect: a non-blocking connect, finished when the reactor reports OP_CONNECT. */
        private void connectNext() {
            InetSocketAddress address = untried.poll();
            if (address == null) {
                factory.clientConnectionFailed(firstFailure);
                return;
            }
            if (Trace.on) Trace.say("connector", "connect " + Trace.format(address));
            try {
                stream = SocketStream.open();
                if (stream.connect(address)) { // connected at once (it happens on loopback)
                    connected();
                    return;
                }
                stream.register(reactor, SelectionKey.OP_CONNECT, this);
                timeout = reactor.schedule(CONNECT_TIMEOUT_MILLIS, () -> failed("timed out"));
            } catch (IOException e) {
                failed(reason(e));
            }
        }

        @Override
        public void handleEvent(SelectionKey key) {
            try {
                if (stream.finishConnect()) {
                    connected();
                }
            } catch (IOException e) {
                failed(reason(e));
            }
        }

        /** Steps 2 and 3: make the service handler, activate it on a connection. */
        private void connected() throws IOException {
            reactor.cancel(timeout);
            if (Trace.on) Trace.say("connector", "connected to " + Trace.format(stream.peer()));
            Service service = factory.makeService();
            if (Trace.on) Trace.say("connector", "make service handler: " + service.getClass().getSimpleName());
            activate(service);
        }

        private void activate(Service service) throws IOException {
            if (Trace.on) Trace.say("connector", "activate connection");
            new Connection(reactor, stream, service).open();
        }

        /** This address failed: the next one is tried, or the factory hears that all failed. */
        private void failed(String reason) {
            if (Trace.on) Trace.say("connector", "failed: " + reason);
            reactor.cancel(timeout);
            stream.close();
            if (firstFailure == null) {
                firstFailure = reason;
            }
            connectNext();
        }

        /** A short reason for a person, from the exception's type rather than its message text. */
        private static String reason(IOException e) {
            if (e instanceof ConnectException) {
                return "connection refused";
            }
            if (e instanceof NoRouteToHostException) {
                return "no route to host";
            }
            return e.getMessage() != null ? e.getMessage() : e.toString();
        }

        @Override
        public String toString() {
            return "connector";
        }
    }

    // --------------------------------------------------------------- Connection

    /** What a service may do to its connection: Twisted's transport. */
    interface Transport {
        /** Sends the bytes now, or as soon as the server takes them. */
        void write(ByteBuffer bytes);

        /** No more to send: shut down output once everything written has gone (the server then echoes and closes). */
        void halfClose();

        /** Bytes written but not yet taken by the socket. */
        int unsent();
    }

    @ConcreteEventHandler("Plays the concrete event handler role in Reactor and the transport of the client's service handler: reads what the server sends for the service, and writes what the service sends, queueing what the socket does not take.")
    static final class Connection implements EventHandler, Transport {
        static final int READ_SIZE = 64 * 1024;

        private final SelectorReactor reactor;
        private final SocketStream stream;
        private final Service service;
        private final ByteBuffer in = ByteBuffer.allocate(READ_SIZE);
        private final ArrayDeque<ByteBuffer> unsent = new ArrayDeque<>();
        private int unsentBytes;
        private boolean halfCloseWanted;
        private boolean closed;
        private SelectionKey key;

        Connection(SelectorReactor reactor, SocketStream stream, Service service) {
            this.reactor = reactor;
            this.stream = stream;
            this.service = service;
        }

        void open() throws IOException {
            key = stream.register(reactor, SelectionKey.OP_READ, this);
            if (Trace.on) Trace.say("connection", "-> " + serviceName() + ".connectionMade");
            service.connectionMade(this);
        }

        @Override
        public void handleEvent(SelectionKey key) {
            try {
                if (key.isWritable()) {
                    writeUnsent();
                }
                if (key.isReadable()) {
                    in.clear();
                    if (stream.read(in) < 0) {
                        close(null); // the server has sent everything and closed
                        return;
                    }
                    in.flip();
                    if (Trace.on) Trace.say("connection", "-> " + serviceName() + ".dataReceived (" + in.remaining() + " bytes)");
                    service.dataReceived(in);
                }
            } catch (IOException e) {
                close(e.getMessage() != null ? e.getMessage() : e.toString());
            }
        }

        @Override
        public void write(ByteBuffer bytes) {
            if (closed) {
                return; // input typed after the server closed: nowhere to send it
            }
            try {
                if (unsent.isEmpty()) {
                    stream.write(bytes); // write first: OP_WRITE only when the socket is full
                }
                if (bytes.hasRemaining()) {
                    unsent.add(ByteBuffer.allocate(bytes.remaining()).put(bytes).flip());
                    unsentBytes += unsent.peekLast().remaining();
                    key.interestOps(SelectionKey.OP_READ | SelectionKey.OP_WRITE);
                }
            } catch (IOException e) {
                close(e.getMessage());
            }
        }

        private void writeUnsent() throws IOException {
            while (!unsent.isEmpty()) {
                ByteBuffer head = unsent.peek();
                unsentBytes -= stream.write(head);
                if (head.hasRemaining()) {
                    return; // the socket is full again
                }
                unsent.poll();
            }
            key.interestOps(SelectionKey.OP_READ);
            if (halfCloseWanted) {
                shutdownOutput();
            }
            service.writeDrained();
        }

        @Override
        public void halfClose() {
            halfCloseWanted = true;
            if (unsent.isEmpty() && !closed) {
                shutdownOutput();
            }
        }

        private void shutdownOutput() {
            try {
                stream.shutdownOutput();
            } catch (IOException e) {
                close(e.getMessage());
            }
        }

        @Override
        public int unsent() {
            return unsentBytes;
        }

        /** The server closed (reason null) or the connection broke. */
        private void close(String reason) {
            if (closed) {
                return;
            }
            closed = true;
            key.cancel();
            stream.close();
            if (Trace.on) Trace.say("connection", "-> " + serviceName() + ".connectionLost" + (reason == null ? "" : " (" + reason + ")"));
            service.connectionLost(reason);
        }

        private String serviceName() {
            return service.getClass().getSimpleName();
        }

        @Override
        public String toString() {
            return "connection";
        }
    }

    // ----------------------------------------------------------------- Services

    /** A service handler's hooks, as in Twisted's Protocol. */
    interface Service {
        void connectionMade(Transport transport);

        /** Bytes from the server, as they arrive (the buffer is reused after the call): both services print them. */
        default void dataReceived(ByteBuffer bytes) {
            print(bytes);
        }

        /** The server closed (reason null), or the connection broke (reason says why). */
        void connectionLost(String reason);

        /** Everything written so far has been taken by the socket. */
        default void writeDrained() {
        }
    }

    @ServiceHandler("Plays the service handler role in Acceptor-Connector for message mode: sends the message and a newline, half-closes, and prints every byte that comes back until the server closes.")
    static final class MessageService implements Service {
        private final SelectorReactor reactor;
        private final byte[] message;

        MessageService(SelectorReactor reactor, String message) {
            this.reactor = reactor;
            this.message = (message + "\n").getBytes(StandardCharsets.UTF_8);
        }

        @Override
        public void connectionMade(Transport transport) {
            transport.write(ByteBuffer.wrap(message));
            transport.halfClose(); // the server echoes what it has, then closes
        }

        @Override
        public void connectionLost(String reason) {
            if (reason != null) {
                System.err.println("echo-client: connection lost: " + reason);
            }
            reactor.stop(reason == null ? 0 : 1);
        }
    }

    @ServiceHandler("Plays the service handler role in Acceptor-Connector for interactive mode: sends what is typed as it comes, prints what comes back, and half-closes at the end of input.")
    static final class InteractiveService implements Service {
        // Chunks of input handed over but not yet sent: the input thread waits beyond this,
        // so piping a large file through the client does not pile it up in memory.
        static final int CHUNKS_IN_FLIGHT = 4;

        private final SelectorReactor reactor;
        private final Semaphore mayRead = new Semaphore(CHUNKS_IN_FLIGHT);
        private Transport transport;
        private int waitingForDrain; // chunks written but not yet taken by the socket
        private boolean inputEnded;

        InteractiveService(SelectorReactor reactor) {
            this.reactor = reactor;
        }

        @Override
        public void connectionMade(Transport transport) {
            this.transport = transport;
            Thread input = new Thread(this::readInput, "input");
            input.setDaemon(true); // it may be blocked in read() when the server closes
            input.start();
        }

        /** On the input thread: read standard input and hand each chunk to the reactor. */
        private void readInput() {
            InputStream stdin = System.in;
            byte[] buffer = new byte[16 * 1024];
            try {
                int count;
                while ((count = stdin.read(buffer)) > 0) {
                    mayRead.acquire();
                    ByteBuffer chunk = ByteBuffer.wrap(buffer.clone(), 0, count);
                    reactor.handOver(() -> send(chunk));
                }
            } catch (IOException | InterruptedException e) {
                // no more input: treated like end of input
            }
            reactor.handOver(this::endOfInput);
        }

        private void send(ByteBuffer chunk) {
            transport.write(chunk);
            if (transport.unsent() == 0) {
                mayRead.release();
            } else {
                waitingForDrain++;
            }
        }

        @Override
        public void writeDrained() {
            mayRead.release(waitingForDrain);
            waitingForDrain = 0;
        }

        private void endOfInput() {
            inputEnded = true;
            transport.halfClose(); // Ctrl-D: the server echoes any unfinished line, then closes
        }

        @Override
        public void connectionLost(String reason) {
            if (reason != null) {
                System.err.println("echo-client: connection lost: " + reason);
                reactor.stop(1);
            } else if (!inputEnded) { // the server closed first, while the user could still type
                System.err.println("echo-client: connection closed by the server");
                reactor.stop(1);
            } else {
                reactor.stop(0);
            }
        }
    }

    /** Prints bytes exactly as they came: no decoding, so any text round-trips. */
    static void print(ByteBuffer bytes) {
        System.out.write(bytes.array(), bytes.arrayOffset() + bytes.position(), bytes.remaining());
        System.out.flush();
    }

    // ----------------------------------------------------------- Wrapper Facade

    @WrapperFacade("Plays the wrapper facade role in Wrapper Facade: narrows a SocketChannel to what the connector and the connection need, connect, read, write (may be partial), half-close, close, and registering with the reactor.")
    static final class SocketStream {
        // The raw channel never leaves it; like the server's, it is where TLS would go.
        private final SocketChannel channel;

        private SocketStream(SocketChannel channel) {
            this.channel = channel;
        }

        static SocketStream open() throws IOException {
            SocketChannel channel = SocketChannel.open();
            channel.configureBlocking(false);
            channel.setOption(StandardSocketOptions.TCP_NODELAY, true); // each typed line goes at once
            return new SocketStream(channel);
        }

        /** True if connected at once; otherwise the reactor reports OP_CONNECT and finishConnect() completes it. */
        boolean connect(InetSocketAddress address) throws IOException {
            return channel.connect(address);
        }

        boolean finishConnect() throws IOException {
            return channel.finishConnect();
        }

        SelectionKey register(SelectorReactor reactor, int interest, EventHandler handler) throws IOException {
            return channel.register(reactor.selector(), interest, handler);
        }

        /** Returns -1 when the server has closed. */
        int read(ByteBuffer into) throws IOException {
            int count = channel.read(into);
            if (Trace.on) Trace.say("facade", count < 0 ? "read: end of stream" : "read " + count + " bytes");
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

        InetSocketAddress peer() throws IOException {
            return (InetSocketAddress) channel.getRemoteAddress();
        }

        /** Quiet and idempotent. */
        void close() {
            try {
                channel.close();
            } catch (IOException e) {
                // the descriptor is released either way
            }
        }
    }

    // ------------------------------------------------- Options, trace, roles

    static final String USAGE = String.join("\n",
            "usage: java EchoClient.java [--host H] [--port N] [--trace] [MESSAGE ...]",
            "  --host H   server host (default localhost); each of its addresses is tried in turn",
            "  --port N   server port (default 8000)",
            "  --trace    log every step of the patterns on standard error",
            "  MESSAGE    sent as one line (words joined by spaces); the reply is printed.",
            "             Without a message, each line typed is sent; Ctrl-D ends.",
            "");

    static final class Options {
        String host = "localhost";
        int port = 8000;
        String message; // null: interactive

        static Options parseOrExit(String[] args) {
            Options options = new Options();
            List<String> words = new ArrayList<>();
            try {
                for (int i = 0; i < args.length; i++) {
                    switch (args[i]) {
                        case "--host" -> options.host = value(args, ++i, "--host");
                        case "--port" -> options.port = port(value(args, ++i, "--port"));
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
                            if (args[i].startsWith("--")) {
                                throw new IllegalArgumentException("unknown option '" + args[i] + "'");
                            }
                            words.add(args[i]);
                        }
                    }
                }
            } catch (IllegalArgumentException e) {
                System.err.println("echo-client: " + e.getMessage());
                System.err.print(USAGE);
                System.exit(2);
            }
            options.message = words.isEmpty() ? null : String.join(" ", words);
            return options;
        }

        private static String value(String[] args, int i, String option) {
            if (i >= args.length) {
                throw new IllegalArgumentException(option + " needs a value");
            }
            return args[i];
        }

        private static int port(String text) {
            if (text.matches("[0-9]{1,5}") && Integer.parseInt(text) >= 1 && Integer.parseInt(text) <= 65535) {
                return Integer.parseInt(text);
            }
            throw new IllegalArgumentException("invalid port '" + text + "': expected a whole number from 1 to 65535");
        }
    }

    /** --trace: one line per step, on standard error, tagged with the role that acts. */
    static final class Trace {
        static boolean on;

        static void say(String role, String what) {
            System.err.println(String.format("%-11s %s", role, what));
        }

        static String events(int ops) {
            List<String> names = new ArrayList<>();
            if ((ops & SelectionKey.OP_CONNECT) != 0) {
                names.add("connect");
            }
            if ((ops & SelectionKey.OP_READ) != 0) {
                names.add("read");
            }
            if ((ops & SelectionKey.OP_WRITE) != 0) {
                names.add("write");
            }
            return names.isEmpty() ? "none" : String.join("+", names);
        }

        /** 127.0.0.1:8000 or [::1]:8000 */
        static String format(InetSocketAddress address) {
            String host = address.getAddress().getHostAddress();
            return (address.getAddress() instanceof Inet6Address ? "[" + host + "]" : host) + ":" + address.getPort();
        }
    }

    /** Reactor: demultiplexes events on many handles and dispatches them to event handlers. */
    @Retention(RetentionPolicy.RUNTIME)
    @Target(ElementType.TYPE)
    @interface Reactor {
        String value();
    }

    /** Acceptor-Connector: connects actively, and makes and activates a service handler once connected. */
    @Retention(RetentionPolicy.RUNTIME)
    @Target(ElementType.TYPE)
    @interface Connector {
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
