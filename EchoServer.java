// EchoServer.java: a line echo server on one thread that teaches three patterns of POSA2 (Pattern-Oriented
// Software Architecture, vol. 2): Wrapper Facade, Reactor, Acceptor-Connector. JDK only: java EchoServer.java
// Part I, the patterns, in the order the data flows: the services and main; the reactor; the acceptor; the
// connection; the service handlers (echo, quote, chat); the wrapper facades. Part II, from the line "PART II" on:
// what keeps it up and what runs it (Limits, Text, Options, Log, Trace, the role annotations).

import java.io.IOException;
import java.lang.annotation.*;
import java.net.*;
import java.nio.*;
import java.nio.channels.*;
import java.nio.charset.*;
import java.text.Normalizer;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.*;
import java.util.regex.*;

public final class EchoServer {

    /** The services: the options, the usage, the port checks and the listening sockets follow from this table. */
    static final ServiceEntry[] SERVICES = {
        new ServiceEntry("echo", "--port", 8000, "the echo's port; 0 picks a free one",
                (reactor, options) -> EchoService::new),
        new ServiceEntry("quote", "--qotd", ServiceEntry.OFF, "serve the quote of the day",
                (reactor, options) -> QuoteService.factory(options.quote)),
        new ServiceEntry("chat", "--chat", ServiceEntry.OFF, "serve a chat room",
                (reactor, options) -> new ChatRoom(reactor)),
    };

    /** A row: the service's name in the log, its port option and that option's default (or OFF), its factory. */
    record ServiceEntry(String name, String option, int defaultPort, String help, FactoryMaker factory) {
        static final int OFF = -1; // not served unless its option gives a port
        interface FactoryMaker { ServiceFactory make(SelectorReactor reactor, Options options); }
    }

    public static void main(String[] args) {
        Options options = Options.parseOrExit(args);
        SelectorReactor reactor = Options.reactorOrExit();
        Limits limits = new Limits(reactor, options);
        // One reactor, one acceptor per service (and per address of --host): only the factory differs.
        for (ServiceEntry service : SERVICES) {
            int port = options.port(service);
            if (port == ServiceEntry.OFF) continue;
            ServiceFactory factory = Options.shared(service.factory().make(reactor, options));
            options.listenOrExit(service.name(), port, (address, family) ->
                    new SocketAcceptor(reactor, limits, service.name(), factory).open(address, family));
        }
        Log.started(options);
        // Ctrl-C and SIGTERM run shutdown hooks on another thread: the hook only asks the reactor
        // to stop and waits for it, so that every socket is closed by the reactor's own thread.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            reactor.stopAndWait(SelectorReactor.SHUTDOWN_WAIT_MILLIS);
            Log.flush(Log.FLUSH_WAIT_MILLIS);
        }, "shutdown"));
        if (!reactor.run()) System.exit(1);
    }

    // ================================================================================ PART I: the patterns
    // ------------------------------------------------------------------ Reactor

    /** The events a handle is ready for, or that its handler waits for: our words for the selector's bits. */
    record Events(boolean accept, boolean read, boolean write) {
        static final Events NONE = new Events(false, false, false);
        static final Events ACCEPT = new Events(true, false, false);
        static final Events READ = new Events(false, true, false);
        static final Events WRITE = new Events(false, false, true);
    }

    /** What the reactor calls, on its own thread: POSA2's event handler, with its two hook methods. */
    interface EventHandler {
        void handleEvent(Events ready); // the handle is ready for these events
        void handleClose();             // the handle has left the loop (closed, failed, shutdown): once
    }

    @Reactor("Plays the reactor role in Reactor and the dispatcher role in Acceptor-Connector: waits on one Selector"
            + " for every handle's events, dispatches each to its handler, runs timers, and tells a handler when it"
            + " is removed.")
    static final class SelectorReactor {
        static final long SHUTDOWN_WAIT_MILLIS = 1500; // for the loop to close everything: we exit within 2 s
        static final long LOOP_FAILURE_PAUSE_MILLIS = 1000; // after select() failed (as Netty): no spin, no flood

        private final Selector selector;
        private final PriorityQueue<Timer> timers = new PriorityQueue<>(Comparator.comparingLong(Timer::deadline));
        private final ArrayDeque<SelectionKey> flushes = new ArrayDeque<>(); // write events due at the turn's end
        private final CountDownLatch stopped = new CountDownLatch(1);
        private volatile boolean running = true;

        /** What register returns: the handler's place in the loop, opaque to all but the reactor. */
        static final class Registration {
            private final SelectionKey key;
            private Registration(SelectionKey key) { this.key = key; }
        }
        private record Timer(long deadline, Runnable task) { }
        private SelectorReactor(Selector selector) { this.selector = selector; }

        static SelectorReactor open() throws IOException { return new SelectorReactor(Selector.open()); }

        /** Adds a handle (a JDK channel: only the wrapper facades hold one) to the set the loop waits on. */
        Registration register(SelectableChannel handle, Events interest, EventHandler handler) throws IOException {
            EventHandler told = Trace.on ? Trace.handler(handler) : handler; // narrated, with --trace
            return new Registration(handle.register(selector, ops(interest), told));
        }

        /** The events a handler waits for next: read and write, say, or none while it is paused. */
        void setInterest(Registration registration, Events interest) {
            if (Trace.on) Trace.interest(registration.key.attachment(), interest);
            registration.key.interestOps(ops(interest));
        }

        Events interest(Registration registration) { return events(registration.key.interestOps()); } // for tests

        /** Takes a handle out of the loop and tells its handler; safe to call twice. */
        void remove(Registration registration) { remove(registration.key); }

        private void remove(SelectionKey key) {
            if (!key.isValid()) return;
            key.cancel();
            try {
                ((EventHandler) key.attachment()).handleClose();
            } catch (Throwable e) { // as in dispatch: a handler's failure is its own
                Log.failure(key.attachment(), e);
            }
        }

        /** Runs a task on the reactor thread after a delay: the loop's only kind of timer. */
        void schedule(long delayMillis, String what, Runnable task) {
            Runnable due = Trace.on ? Trace.timer(delayMillis, what, task) : task;
            timers.add(new Timer(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(delayMillis), due));
        }

        /** A write event for a handler once every ready handle of this turn is dispatched: Redis's beforeSleep. */
        void writeAfterDispatch(Registration registration) { flushes.add(registration.key); }

        /** The event loop: wait, dispatch every ready handle, flush, run due timers. False if the selector broke. */
        boolean run() {
            try {
                while (running) {
                    try {
                        int ready = selector.select(millisToNextTimer());
                        if (Trace.on && ready > 0) Trace.say("reactor", "select: " + ready + " ready");
                        for (SelectionKey key : selector.selectedKeys()) {
                            if (key.isValid()) dispatch(key, events(key.readyOps())); // not removed in this batch
                        }
                        selector.selectedKeys().clear();
                        runAfterDispatch();
                        runDueTimers();
                    } catch (RuntimeException | Error e) { // in select itself: out of memory, say
                        Log.failure("the event loop", e);
                        Log.sleep(LOOP_FAILURE_PAUSE_MILLIS);
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

        /** Dispatch by attachment. Whatever a handler throws, an Error too, ends that handler only. */
        private void dispatch(SelectionKey key, Events ready) {
            try {
                ((EventHandler) key.attachment()).handleEvent(ready);
            } catch (Throwable e) { // an Error too: an OutOfMemoryError is that handler's end, not the loop's
                Log.failure(key.attachment(), e);
                remove(key);
            }
        }

        void runAfterDispatch() { // and from a test that plays the loop
            while (!flushes.isEmpty()) {
                SelectionKey key = flushes.poll();
                if (key.isValid()) dispatch(key, Events.WRITE);
            }
        }

        private void runDueTimers() {
            long now = System.nanoTime();
            while (!timers.isEmpty() && timers.peek().deadline() - now <= 0) {
                try {
                    timers.poll().task().run();
                } catch (Throwable e) { // logged, and the loop goes on: a timer that closes does so itself
                    Log.failure("a timer", e);
                }
            }
        }


        private long millisToNextTimer() {
            Timer next = timers.peek();
            if (next == null) return 0; // no timer: block until an event (or wakeup)
            return Math.max(1, TimeUnit.NANOSECONDS.toMillis(next.deadline() - System.nanoTime()) + 1);
        }

        private static int ops(Events e) {
            return (e.accept() ? SelectionKey.OP_ACCEPT : 0) | (e.read() ? SelectionKey.OP_READ : 0)
                    | (e.write() ? SelectionKey.OP_WRITE : 0);
        }

        private static Events events(int ops) {
            return new Events((ops & SelectionKey.OP_ACCEPT) != 0, (ops & SelectionKey.OP_READ) != 0,
                    (ops & SelectionKey.OP_WRITE) != 0);
        }

        /** From the shutdown hook's thread: a flag and a wakeup are all that cross threads; then wait. */
        void stopAndWait(long millis) {
            running = false;
            selector.wakeup();
            try {
                stopped.await(millis, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        /** At the end every handler hears handleClose, as if its handle had been removed one by one. */
        private void removeAll() {
            int listeners = 0, connections = 0; // by the handle's JDK type: the reactor knows no concrete handler
            for (SelectionKey key : selector.keys()) {
                if (key.isValid() && key.channel() instanceof ServerSocketChannel) listeners++;
                else if (key.isValid()) connections++;
                remove(key);
            }
            Log.stopped(connections, listeners);
            closeQuietly(selector);
        }
    }

    // ----------------------------------------------------------------- Acceptor

    /** Twisted's Factory: one new service handler per connection (buildProtocol, ACE's make_svc_handler). */
    interface ServiceFactory {
        Service makeService();
        default void startFactory() { } // its acceptor listens: open what the services share (a log file, say)
        default void stopFactory() { }  // its acceptor is closed: close it
    }

    @Acceptor("Plays the acceptor role in Acceptor-Connector: for each connection its listening socket accepts, makes a"
            + " service handler with the factory it was given and activates it.")
    @ConcreteEventHandler("Plays the concrete event handler role in Reactor as well: the reactor calls it when"
            + " connections wait on its listening socket.")
    static final class SocketAcceptor implements EventHandler {
        static final int ACCEPTS_PER_EVENT = 1024; // a turn's accepts are bounded, and keep up with a flood
        static final long ACCEPT_RETRY_MILLIS = 1000; // accept fails (out of descriptors): pause, do not spin

        private final SelectorReactor reactor;
        private final Limits limits; // what every connection shares (Part II)
        private final String serviceName;
        private final ServiceFactory factory;
        private ListeningSocket listener;
        private SelectorReactor.Registration registration;

        SocketAcceptor(SelectorReactor reactor, Limits limits, String serviceName, ServiceFactory factory) {
            this.reactor = reactor;
            this.limits = limits;
            this.serviceName = serviceName;
            this.factory = factory;
        }

        /** Opens the passive-mode endpoint and waits for accept events on it. */
        InetSocketAddress open(InetSocketAddress address, ProtocolFamily family) throws IOException {
            listener = ListeningSocket.open(address, family);
            registration = listener.register(reactor, Events.ACCEPT, this);
            factory.startFactory();
            return listener.address();
        }

        /** POSA2's three steps, for each connection waiting: accept it, make its service handler, activate it. */
        @Override public void handleEvent(Events ready) {
            for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
                SocketStream stream = accept();
                if (stream == null) return; // none waiting, or accepting is paused
                try {
                    activate(stream, factory.makeService());
                } catch (Throwable e) { // that connection's failure, never the listener's
                    Log.failure("setting up a connection", e);
                    stream.close();
                }
            }
        }

        private SocketStream accept() {
            try {
                SocketStream stream = listener.accept();
                return Trace.on && stream != null ? Trace.accepted(stream) : stream;
            } catch (Throwable e) { // out of descriptors, most likely: the listener stays open, whatever failed
                pauseAccepting(e);
                return null;
            }
        }

        /** The new connection registers its handle with the reactor and tells its service it is made. */
        private void activate(SocketStream stream, Service service) throws IOException {
            Connection connection = new Connection(reactor, limits, stream, service, serviceName);
            if (Trace.on) Trace.say("acceptor", "activate " + connection);
            connection.open();
        }

        /** The listener stays ready while accept fails: waiting on it would spin. No connection is closed for room. */
        private void pauseAccepting(Throwable e) {
            try {
                reactor.schedule(ACCEPT_RETRY_MILLIS, "accept again (" + serviceName + ")", () -> {
                    if (listener.isOpen()) reactor.setInterest(registration, Events.ACCEPT);
                });
                reactor.setInterest(registration, Events.NONE);
                Log.error("accept failed: " + Log.reason(e) + "; pausing accepts for " + ACCEPT_RETRY_MILLIS + " ms");
            } catch (Throwable stillFailing) { // out of memory too: not paused, the next event tries again
                Log.failure(this, stillFailing);
            }
        }

        @Override public void handleClose() {
            listener.close();
            factory.stopFactory();
        }

        @Override public String toString() { return "acceptor (" + serviceName + ")"; }
    }

    // --------------------------------------------------------------- Connection

    /** What fills a connection's output, paused while that output is full: Twisted's IPushProducer. */
    interface Producer {
        void pauseProducing();
        void resumeProducing();
    }

    /** What a service may do to its connection: Twisted's transport. Its reading is a producer too. */
    interface Transport extends Producer {
        void write(ByteBuffer bytes);         // now if it can, else queued in order; the buffer is not kept
        void writeShared(ByteBuffer message); // queued, sent at the end of this turn: kept, not copied, never changed
        int unsent();                         // bytes written and not yet taken by the peer
        void registerProducer(Producer producer); // paused when the output is full (by default: its own reading)
        void loseConnection();                // close once everything written has been sent
        void abortConnection();               // close now; what is unsent is dropped
    }

    @ConcreteEventHandler("Plays the concrete event handler role in Reactor and the transport of a service handler in"
            + " Acceptor-Connector: reads a connection's bytes into lines for its service, sends what the service"
            + " writes, and pauses its producer while the peer does not read.")
    static final class Connection implements EventHandler, Transport {
        static final int HIGH_WATER = 64 * 1024; // output here pauses the producer (Netty's default marks)
        static final int LOW_WATER = 32 * 1024;  // and here resumes it: the gap keeps it from toggling at every write

        private final SelectorReactor reactor;
        private final Limits limits;             // Part II: the memory budget, the idle timeout
        private final SocketStream stream;
        private final Service service;
        private final String serviceName;        // for the log: "chat connection from ..."
        private final Limits.LineBuffer input;   // frames reads into lines, holds an unfinished one
        private final Limits.OutputQueue output; // what the socket has not taken yet
        private final Consumer<ByteBuffer> toService = this::deliver;
        private SelectorReactor.Registration registration;
        private Events interest = Events.READ;
        private Producer producer = this;        // paused while the output is full: its reading, unless a service says
        private boolean full;                    // the producer is paused for our output
        private boolean inputOpen = true, readingPaused; // the peer's half-close; pauseProducing until resumeProducing
        private boolean flushDue;                // shared output waits for the end of this turn
        private boolean closing, closed;         // closing: loseConnection, close once nothing is unsent
        private String closeReason;              // null for an orderly close
        long lastActive = System.nanoTime();     // when bytes last moved: for the idle timeout

        Connection(SelectorReactor reactor, Limits limits, SocketStream stream, Service service, String serviceName) {
            this.reactor = reactor;
            this.limits = limits;
            this.stream = stream;
            this.service = service;
            this.serviceName = serviceName;
            this.input = new Limits.LineBuffer(limits, service.maxLine(), service.readSize(), this);
            this.output = new Limits.OutputQueue(limits);
        }

        /** Activation: register for reading, then tell the service the connection is made. */
        void open() throws IOException {
            registration = stream.register(reactor, interest, this);
            limits.opened(this);
            Log.connection(serviceName, stream.peer(), "opened", limits.openCount());
            try {
                service.connectionMade(this);
                closeOrUpdateInterest();
            } catch (Throwable e) { // as in dispatch: the service's failure ends this connection only
                Log.failure(this, e);
                close("failed: " + e);
            }
        }

        /** One write and one read at most per turn: what a connection may take of a turn is bounded. */
        @Override public void handleEvent(Events ready) {
            if (ready.write()) flushDue = false;
            if (ready.read()) lastActive = System.nanoTime();
            try {
                if (ready.write() && output.writeTo(stream)) lastActive = System.nanoTime();
                if (ready.read() && interest.read()) readInput(); // paused earlier in this turn: not now
            } catch (IOException e) {
                close(Log.reason(e));
            }
            closeOrUpdateInterest();
        }

        private void closeOrUpdateInterest() {
            if (closing && output.isEmpty()) close(null);
            else if (!closed) updateInterest();
        }

        // ---- input: read, then the lines to the service
        private void readInput() throws IOException {
            ByteBuffer in = input.room(toService); // after a held line start (passed on first if memory is short)
            int count = stream.read(in);
            if (count < 0) {
                if (Trace.on) Trace.say(toString(), "half-close: " + in.position() + " bytes held, "
                        + output.bytes() + " unsent; close once everything is sent");
                inputOpen = false;
                input.frame(in, true, toService); // the last line had no '\n': a line all the same
                loseConnection();
            } else {
                input.frame(in, false, toService); // whole lines, or max-line pieces; an unfinished rest is held
            }
        }

        /** Lines go to the service as one value, unless the connection is closing (as Twisted's LineReceiver). */
        private void deliver(ByteBuffer lines) {
            if (closed || closing) return;
            Log.lines(stream.peer(), lines);
            service.linesReceived(lines);
        }

        // ---- output: the Transport the service writes to
        /** Write first: with nothing queued, a write goes to the socket at once (the echo's path); the rest waits. */
        @Override public void write(ByteBuffer bytes) {
            if (closed || closing) return;
            int start = bytes.position();
            try {
                if (output.isEmpty() && stream.write(bytes) > 0) lastActive = System.nanoTime();
                if (bytes.hasRemaining()) {
                    if (Trace.on) Trace.say(toString(), "queues " + bytes.remaining() + " bytes");
                    output.add(bytes); // a copy: the caller's buffer is reused
                    if (!tooMuchUnsent()) updateInterest(); // OP_WRITE on now
                }
            } catch (IOException e) {
                close(Log.reason(e));
            } finally {
                bytes.position(start);
            }
        }

        /** One message to many connections: each queue refers to it; each is flushed once, at the end of the turn. */
        @Override public void writeShared(ByteBuffer message) {
            if (closed || closing || !message.hasRemaining()) return;
            output.addShared(message);
            if (tooMuchUnsent()) return;
            waterMarks(); // full now: its producer pauses before it reads again in this turn
            if (!flushDue && !interest.write()) { // at the end of the turn: one write, whatever others sent it
                flushDue = true;                  // (with OP_WRITE on, the socket is full: its event will come)
                reactor.writeAfterDispatch(registration);
            }
        }

        /** What a peer that does not read may cost is bounded: past it, the connection is closed (IRC's SendQ). */
        private boolean tooMuchUnsent() {
            if (output.bytes() <= limits.maxUnsent()) return false;
            close("more than " + limits.maxUnsent() + " bytes unsent: the peer is not reading");
            return true;
        }

        @Override public int unsent() { return output.bytes(); }
        @Override public void registerProducer(Producer producer) { this.producer = producer; }
        @Override public void pauseProducing() { readingPaused = true; updateInterest(); }
        @Override public void resumeProducing() { readingPaused = false; if (!closed) updateInterest(); }
        @Override public void loseConnection() { closing = true; inputOpen = false; updateInterest(); }
        @Override public void abortConnection() { close(null); }

        /** Interest follows from state, in one place: this is what rules out an OP_WRITE spin. */
        void updateInterest() {
            waterMarks(); // may pause this connection's own reading: that call comes back here, the marks settled
            if (closed) return;
            boolean read = inputOpen && !readingPaused;
            boolean write = !output.isEmpty() || closing; // closing: the next write event closes it
            if (read != interest.read() || write != interest.write()) {
                interest = new Events(false, read, write);
                reactor.setInterest(registration, interest);
            }
        }

        /** Full at the high-water mark (or with the memory budget spent), drained at the low one: tell the producer. */
        private void waterMarks() {
            boolean wasFull = full;
            if (output.bytes() >= HIGH_WATER || limits.mustWait(this, !output.isEmpty())) full = true;
            else if (output.bytes() <= LOW_WATER) full = false;
            if (full == wasFull) return;
            if (Trace.on) Trace.waterMark(this, output.bytes(), full);
            if (full) producer.pauseProducing();
            else producer.resumeProducing();
        }

        // ---- close: the one way out
        /** Every reason to close ends here; the reactor then calls handleClose. Safe to call twice. */
        void close(String reason) {
            if (closed) return;
            if (Trace.on) Trace.say(toString(), "close" + (reason == null ? "" : ": " + reason));
            closeReason = reason;
            reactor.remove(registration);
        }

        @Override public void handleClose() {
            closed = true;
            try {
                stream.close();
                limits.closed(this);
                input.release();
                output.clear();
                Log.connection(serviceName, stream.peer(), closeReason == null ? "closed" : "closed: " + closeReason,
                        limits.openCount());
                if (full) producer.resumeProducing(); // its output is gone: nobody waits for it any more
            } finally { // whatever failed above (out of memory, say), the service hears of its end
                service.connectionLost();
            }
        }

        @Override public String toString() { return "connection " + stream; }
    }

    // ----------------------------------------------------------------- Services

    /** A service handler's hooks, as in Twisted's Protocol and LineReceiver. */
    interface Service {
        default void connectionMade(Transport transport) { }

        /** The whole lines of one read (each ends in '\n', or is a max-line piece): the echo writes them at once. */
        default void linesReceived(ByteBuffer lines) { eachLine(lines, this::lineReceived); }

        default void lineReceived(ByteBuffer line) { } // for a service that takes them one by one
        default void connectionLost() { }
        default int readSize() { return Limits.READ_SIZE; } // the most one read takes
        default int maxLine() { return Integer.MAX_VALUE; } // as LineReceiver.MAX_LENGTH; --max-line bounds it too

        /** Each line of lines, up to its '\n' or the end. */
        static void eachLine(ByteBuffer lines, Consumer<ByteBuffer> action) {
            for (int start = lines.position(), i = start; i < lines.limit(); i++) {
                if (lines.get(i) == '\n' || i == lines.limit() - 1) {
                    action.accept(lines.slice(start, i + 1 - start));
                    start = i + 1;
                }
            }
        }
    }

    @ServiceHandler("Plays the service handler role in Acceptor-Connector for the echo: sends every line it receives"
            + " back to its sender.")
    static final class EchoService implements Service {
        private Transport transport;

        @Override public void connectionMade(Transport transport) { this.transport = transport; }
        @Override public void linesReceived(ByteBuffer lines) { transport.write(lines); }
    }

    @ServiceHandler("Plays the service handler role in Acceptor-Connector for the quote of the day: sends the quote,"
            + " then closes once it is sent.")
    static final class QuoteService implements Service {
        private final ByteBuffer quote; // shared by every connection: a write does not consume it

        QuoteService(ByteBuffer quote) { this.quote = quote; }

        static ServiceFactory factory(String quote) {
            ByteBuffer bytes = ByteBuffer.wrap((quote + "\r\n").getBytes(StandardCharsets.UTF_8));
            return () -> new QuoteService(bytes);
        }

        @Override public void connectionMade(Transport transport) {
            transport.write(quote);
            transport.loseConnection();
        }
    }

    /**
     * The chat's factory: the members live here, shared by their service handlers, as in Twisted's notes. A member
     * whose output is full pauses every member's reading, since they fill it; but only while it keeps reading.
     */
    static final class ChatRoom implements ServiceFactory {
        private final Map<String, ChatService> members = new LinkedHashMap<>(); // by name, compared folded
        private final Limits.Patience patience; // Part II: whom the room waits for

        ChatRoom(SelectorReactor reactor) { patience = new Limits.Patience(reactor, this::pause); }

        @Override public Service makeService() { return new ChatService(this); }

        boolean join(String key, ChatService member) { // a member who joins while the room waits waits too
            if (members.putIfAbsent(key, member) != null) return false;
            if (patience.waiting()) member.transport.pauseProducing();
            return true;
        }

        void leave(ChatService member) {
            if (member.key != null) members.remove(member.key); // first: it needs no memory, so the name is freed
            patience.drained(member.transport);
        }

        void broadcast(ChatService sender, ByteBuffer message) {
            for (ChatService member : List.copyOf(members.values())) { // a member may leave while we write
                if (member != sender) member.transport.writeShared(message);
            }
        }

        /** While the room waits for a full member, every member pauses its reading: they are what fills it. */
        private void pause(boolean paused) {
            for (ChatService member : List.copyOf(members.values())) {
                if (paused) member.transport.pauseProducing();
                else member.transport.resumeProducing();
            }
        }
    }

    @ServiceHandler("Plays the service handler role in Acceptor-Connector for the chat: asks a member for a free name,"
            + " then sends each of its lines to every other member.")
    static final class ChatService implements Service, Producer {
        static final int MAX_LINE = 16 * 1024; // bytes, whatever --max-line says: longer lines go on in pieces
        private final ChatRoom room;
        private Transport transport;
        private String key;    // the name as compared, null until the member has chosen a free one
        private String name;
        private boolean lost;  // the connection is gone, perhaps halfway through a read's lines: take no more

        ChatService(ChatRoom room) { this.room = room; }

        @Override public void connectionMade(Transport transport) {
            this.transport = transport;
            transport.registerProducer(this); // the room fills this member's output: pause the room when full
            transport.write(line("What's your name?"));
        }

        /** A read's lines go out as one message, one shared buffer for every member (as the echo, one write). */
        @Override public void linesReceived(ByteBuffer lines) {
            StringBuilder message = new StringBuilder();
            Service.eachLine(lines, line -> {
                if (lost) return;
                String text = Text.printable(line); // no escape sequence reaches a terminal
                if (name == null) choose(text);
                else if (!text.isEmpty()) message.append('<').append(name).append("> ").append(text).append("\r\n");
            });
            if (!message.isEmpty() && !lost) room.broadcast(this, utf8(message.toString()));
        }

        private void choose(String typed) {
            String name = Text.name(typed);
            String refused = Text.refuse(name); // a rule it breaks: length, characters, one script
            String key = refused == null ? Text.key(name) : null; // folded once: leaving needs no memory
            if (name.isEmpty()) {
                transport.write(line("What's your name?"));
            } else if (refused != null || !room.join(key, this)) {
                transport.write(line((refused != null ? refused : "Name taken") + ", please choose another."));
            } else {
                this.name = name;
                this.key = key;
                transport.write(line("Welcome, " + name + "!"));
            }
        }

        @Override public void pauseProducing() { room.patience.full(transport); }
        @Override public void resumeProducing() { room.patience.drained(transport); }

        @Override public void connectionLost() {
            lost = true;
            room.leave(this);
        }

        @Override public int readSize() { return 1024; } // a read of short lines is a long message to each member
        @Override public int maxLine() { return MAX_LINE; }
        @Override public String toString() { return transport + " (" + name + ")"; }

        /** A line the server sends: the text and "\r\n", as Twisted's sendLine does. */
        private static ByteBuffer line(String text) { return utf8(text + "\r\n"); }
        private static ByteBuffer utf8(String text) { return ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)); }
    }

    // ---------------------------------------------------------- Wrapper facades

    @WrapperFacade("Plays the wrapper facade role in Wrapper Facade for the passive-mode endpoint: narrows a"
            + " ServerSocketChannel to open, accept (which returns a stream facade), close, and registering.")
    static final class ListeningSocket {
        static final int BACKLOG = 4096; // handshakes the kernel queues for us (Java's default 50 drops bursts)

        private final ServerSocketChannel channel;

        private ListeningSocket(ServerSocketChannel channel) { this.channel = channel; }

        /** Without a family the socket takes IPv6 and IPv4 alike; with one, only that one. */
        static ListeningSocket open(InetSocketAddress address, ProtocolFamily family) throws IOException {
            ServerSocketChannel channel = family == null ? ServerSocketChannel.open()
                    : ServerSocketChannel.open(family);
            try {
                channel.setOption(StandardSocketOptions.SO_REUSEADDR, true); // restart at once after a stop
                channel.bind(address, BACKLOG);
                channel.configureBlocking(false);
                return new ListeningSocket(channel);
            } catch (IOException e) {
                channel.close();
                throw e;
            }
        }

        SelectorReactor.Registration register(SelectorReactor reactor, Events interest, EventHandler handler)
                throws IOException {
            return reactor.register(channel, interest, handler);
        }

        /** The next connection waiting, as a stream facade, or null; throws when out of descriptors. */
        SocketStream accept() throws IOException {
            SocketChannel socket = channel.accept();
            return socket == null ? null : new SocketStream(socket);
        }

        InetSocketAddress address() throws IOException { return (InetSocketAddress) channel.getLocalAddress(); }
        boolean isOpen() { return channel.isOpen(); }
        void close() { closeQuietly(channel); }
    }

    @WrapperFacade("Plays the wrapper facade role in Wrapper Facade for a connected socket: narrows a SocketChannel"
            + " to read, write (may be partial), close, the peer's address, and registering.")
    static class SocketStream {
        // It hides socket options, blocking mode and close errors; the raw channel never leaves it.
        // TLS would go here alone: a subclass with an SSLEngine before the channel (as the trace's does).
        private final SocketChannel channel;
        private final SocketAddress peer; // kept: a closed channel no longer tells

        SocketStream(SocketChannel channel) throws IOException {
            this.channel = channel;
            try {
                channel.configureBlocking(false);
                channel.setOption(StandardSocketOptions.TCP_NODELAY, true); // echo each write at once
                this.peer = channel.getRemoteAddress();
            } catch (IOException e) { // only a closed channel fails here: close it, never leak it
                closeQuietly(channel);
                throw e;
            }
        }

        /** A stream that stands in for this one, on the same socket. */
        SocketStream(SocketStream same) {
            this.channel = same.channel;
            this.peer = same.peer;
        }

        SelectorReactor.Registration register(SelectorReactor reactor, Events interest, EventHandler handler)
                throws IOException {
            return reactor.register(channel, interest, handler);
        }

        int read(ByteBuffer into) throws IOException { return channel.read(into); } // -1 at end of input
        int write(ByteBuffer bytes) throws IOException { return channel.write(bytes); } // what the socket took
        void close() { closeQuietly(channel); }
        SocketAddress peer() { return peer; }
        @Override public String toString() { return Log.format(peer); }
    }

    /** The facades' close: twice, or after a reset, is no error; the descriptor is released either way. */
    static void closeQuietly(java.io.Closeable handle) {
        try {
            handle.close();
        } catch (IOException e) {
            // released
        }
    }

    // ================================================================================ PART II: staying up, running it

    /** What keeps one connection, or many, from taking the server down: the line limit, the memory budget over all
     * connections, the idle timeout. Part I calls it by name: a connection's LineBuffer and OutputQueue, maxUnsent,
     * mustWait, opened and closed; the chat room's Patience. */
    static final class Limits {
        static final int READ_SIZE = 64 * 1024; // a read's room; as much again in front, for a held line start
        static final int SMALL_READ = 4 * 1024; // a read's room while the budget is spent
        static final int BUFFER_OVERHEAD = 64;  // a buffer's heap beyond its bytes: headers, the queue's slot
        static final int MAX_UNSENT = 1 << 20;  // a connection's SendQ: the most a peer that does not read may cost
        static final int IDLE_CHECKS = 8; // scans per idle timeout (as Redis's clientsCron runs on a tick)

        final int maxLine;
        private final SelectorReactor reactor;
        private final long budget;            // bytes held and queued over all connections, overheads included
        private final long idleTimeoutMillis; // 0: never
        private final ByteBuffer shared = ByteBuffer.allocateDirect(2 * READ_SIZE);
        private final ByteBuffer gathered = ByteBuffer.allocateDirect(READ_SIZE); // a queue's buffers, for one write
        private final Set<Connection> open = new HashSet<>();
        private final Set<Connection> paused = new HashSet<>(); // output queued while the budget is spent
        private final Map<ByteBuffer, Integer> holders = new IdentityHashMap<>(); // a shared message: queues with it
        private long buffered;
        private boolean pressure;             // over the budget, until back under three quarters of it
        private boolean warned, idleCheckDue;

        Limits(SelectorReactor reactor, Options o) {
            this.reactor = reactor;
            this.maxLine = o.maxLine;
            this.budget = o.memoryBudget;
            this.idleTimeoutMillis = o.idleTimeoutSeconds * 1000L;
        }

        /** Where a queue of several buffers is gathered for one write: one system call, whatever was queued. */
        ByteBuffer writeBuffer() { return gathered.clear(); }

        /** While the budget is spent, an unfinished line is passed on instead of held. */
        boolean mayHold() { return !pressure; }

        /**
         * The most a connection may leave unsent: a peer that reads nothing is closed past it. A paused echo
         * client never gets there: its own output stops at the high-water mark and one read (or one long line).
         */
        int maxUnsent() { return Math.max(MAX_UNSENT, Connection.HIGH_WATER + READ_SIZE + maxLine); }

        /**
         * Whether c's producer must pause although c is under its high-water mark: the budget is spent and c has
         * output queued. A connection whose output has drained reads, whoever else holds the budget.
         */
        boolean mustWait(Connection c, boolean outputQueued) {
            boolean pause = pressure && outputQueued;
            if (pause && paused.add(c) && Trace.on) Trace.say(c.toString(), "memory budget spent: output queued");
            if (!pause && !paused.isEmpty()) paused.remove(c);
            return pause;
        }

        /** A message in several queues is counted once, while any queue holds it. */
        void share(ByteBuffer message) {
            if (holders.merge(message, 1, Integer::sum) == 1) account(cost(message));
        }

        void unshare(ByteBuffer message) {
            if (holders.computeIfPresent(message, (m, n) -> n > 1 ? n - 1 : null) == null) account(-cost(message));
        }

        /** A buffer's cost in heap: its bytes and its object, so that many small ones cannot hide. */
        static int cost(ByteBuffer buffer) { return buffer.capacity() + BUFFER_OVERHEAD; }

        void account(long bytes) {
            buffered += bytes;
            if (!pressure && buffered > budget) {
                pressure = true;
                if (!warned) Log.error("memory budget of " + budget + " bytes reached: lines are no longer held, and"
                        + " connections with output queued pause what fills it until it has drained (logged once)");
                warned = true;
            } else if (pressure && buffered < budget / 4 * 3) {
                pressure = false;
                List<Connection> resumed = List.copyOf(paused);
                paused.clear();
                resumed.forEach(Connection::updateInterest);
            }
        }

        void opened(Connection c) {
            open.add(c);
            scheduleIdleCheck();
        }

        /** A closed connection's buffers leave the budget, and the connection every set. */
        void closed(Connection c) { // first: releasing its buffers may resume the paused ones, never this one
            open.remove(c);
            paused.remove(c);
        }

        int openCount() { return open.size(); }

        /** The idle timeout: a periodic scan over the open connections, while there are any. */
        private void scheduleIdleCheck() {
            if (idleTimeoutMillis == 0 || idleCheckDue || open.isEmpty()) return;
            idleCheckDue = true;
            reactor.schedule(idleTimeoutMillis / IDLE_CHECKS, "idle check", () -> {
                idleCheckDue = false;
                long now = System.nanoTime();
                for (Connection c : List.copyOf(open)) {
                    if (now - c.lastActive >= idleTimeoutMillis * 1_000_000) {
                        c.close("idle for " + idleTimeoutMillis / 1000 + " s");
                    }
                }
                scheduleIdleCheck();
            });
        }

        /**
         * Whom a room of connections waits for: a member whose output is full, while it keeps reading. While the room
         * waits for anyone, it is paused (its members are what fill the output). Every PATIENCE_MILLIS a full member
         * is asked whether it took MIN_PROGRESS more: one that did not is let go (its SendQ then bounds what it
         * costs) until it reads again.
         */
        static final class Patience {
            static final long PATIENCE_MILLIS = 500;
            static final int MIN_PROGRESS = 16 * 1024; // 32 KiB/s: a member reading 64 KiB/s is always waited for
            private final SelectorReactor reactor;
            private final Consumer<Boolean> pause; // pauses (true) or resumes (false) the whole room
            private final Set<Transport> waitedFor = new HashSet<>();
            private final Map<Transport, Integer> fullSince = new HashMap<>(); // a watch ends when its member drains
            private int episodes; // numbers each time a member is full

            Patience(SelectorReactor reactor, Consumer<Boolean> pause) {
                this.reactor = reactor;
                this.pause = pause;
            }

            boolean waiting() { return !waitedFor.isEmpty(); }

            void full(Transport member) {
                waitFor(member, true);
                fullSince.put(member, ++episodes);
                watch(member, episodes);
            }

            void drained(Transport member) {
                fullSince.remove(member);
                waitFor(member, false);
            }

            private void watch(Transport member, int episode) {
                int unsentBefore = member.unsent();
                reactor.schedule(PATIENCE_MILLIS, "is a full member reading?", () -> {
                    Integer now = fullSince.get(member);
                    if (now == null || now != episode) return; // it drained since: this watch is over
                    waitFor(member, unsentBefore - member.unsent() >= MIN_PROGRESS);
                    watch(member, episode);
                });
            }

            private void waitFor(Transport member, boolean waits) {
                boolean wasWaiting = waiting();
                if (waits) waitedFor.add(member);
                else waitedFor.remove(member);
                if (waiting() != wasWaiting) pause.accept(!wasWaiting);
            }
        }

        /**
         * A connection's input as lines: the room for each read, the whole lines a read brings passed on (each within
         * the line limit, or as a piece of it), the unfinished rest held for the next read and counted in the budget.
         */
        static final class LineBuffer {
            private final Limits limits;
            private final int maxLine;  // the service's, within --max-line
            private final int readSize;
            private final Object owner; // for the trace
            private ByteBuffer held;    // the start of an unfinished line, or null: an idle connection has none
            private int fresh;          // where this read's bytes begin: the held bytes before it hold no '\n'
            private boolean released;

            LineBuffer(Limits limits, int maxLine, int readSize, Object owner) {
                this.limits = limits;
                this.maxLine = Math.min(limits.maxLine, maxLine);
                this.readSize = readSize;
                this.owner = owner;
            }

            /**
             * Where the next read goes: the shared buffer, the held start of a line copied in front so that the line is
             * whole in one buffer. A start longer than READ_SIZE (a --max-line above it) gets the read appended to it
             * instead, growing by doubling within max-line; if the budget cannot pay for that, it goes on as a piece.
             */
            ByteBuffer room(Consumer<ByteBuffer> deliver) {
                int room = Math.min(readSize, limits.pressure ? SMALL_READ : READ_SIZE);
                ByteBuffer start = held;
                held = null;
                if (start != null) limits.account(-cost(start)); // frame() counts again whatever is still unfinished
                ByteBuffer in = limits.shared.clear();
                int size = start == null ? room : start.remaining() + room;
                int capacity = start == null ? 0 : Math.min(Math.max(2 * start.capacity(), size), maxLine + READ_SIZE);
                if (start == null) {
                    in.limit(room);
                } else if (start.remaining() <= READ_SIZE) {
                    in.put(start).limit(size);
                } else if (size <= start.capacity()) {
                    in = start.position(start.limit()).limit(size);
                } else if (limits.mayHold() && limits.buffered + capacity + BUFFER_OVERHEAD <= limits.budget) {
                    in = ByteBuffer.allocate(capacity).put(start).limit(size);
                } else { // memory is short for a long held line: pass it on
                    deliver.accept(start);
                    in.limit(room);
                }
                fresh = in.position();
                return in;
            }

            /**
             * Passes the whole lines on, in one call where it can: up to the last '\n' within max-line of its line's
             * start. max-line bytes without a '\n' go on as a piece, so no service gets a longer line. At the end of
             * input, or while the budget is spent, the rest goes on too; else it is held.
             */
            void frame(ByteBuffer in, boolean endOfInput, Consumer<ByteBuffer> deliver) {
                in.flip();
                int from = in.position();    // the first byte not yet passed on
                int lineStart = from;        // where the line being looked at starts
                while (!released) {
                    int windowEnd = Math.min(in.limit(), lineStart + maxLine);
                    int end = endOfLastLine(in, Math.max(lineStart, fresh), windowEnd);
                    if (end > 0) {
                        lineStart = end;                     // whole lines, each within max-line
                    } else if (windowEnd - lineStart == maxLine) {
                        deliver(in, from, windowEnd, deliver); // max-line bytes and no '\n': a piece
                        from = lineStart = windowEnd;
                    } else {
                        break;                               // an unfinished line, shorter than max-line
                    }
                }
                if (endOfInput || !limits.mayHold()) lineStart = in.limit(); // pass the rest on as well
                deliver(in, from, lineStart, deliver);
                in.position(lineStart);
                if (!in.hasRemaining() || released) return;
                if (Trace.on) Trace.say(owner.toString(), "holds " + in.remaining() + " bytes of an unfinished line");
                held = in == limits.shared ? ByteBuffer.allocate(in.remaining()).put(in).flip()
                        : in.compact().flip(); // a long line's own buffer
                limits.account(cost(held));
            }

            /** Position just past the last '\n' in [from, to), or -1. Scans back from the end only. */
            private static int endOfLastLine(ByteBuffer in, int from, int to) {
                for (int i = to - 1; i >= from; i--) {
                    if (in.get(i) == '\n') return i + 1;
                }
                return -1;
            }

            private void deliver(ByteBuffer in, int from, int to, Consumer<ByteBuffer> deliver) {
                if (to > from && !released) deliver.accept(in.slice(from, to - from));
            }

            /** The connection is closed: its held line leaves the budget, and nothing more is framed. */
            void release() {
                released = true;
                if (held != null) limits.account(-cost(held));
                held = null;
            }
        }

        /**
         * A connection's unsent bytes, oldest first. Its own output is copied into buffers of at least 4 KiB (so that
         * many tiny lines cost their bytes in heap, not an object each); a shared message is referred to, not copied.
         * Counted in the memory budget; none while nothing is unsent.
         */
        static final class OutputQueue {
            static final int MIN_BUFFER = 4 * 1024;
            private final Limits limits;
            private ArrayDeque<ByteBuffer> buffers; // made at a short write, dropped once drained
            private ArrayDeque<ByteBuffer> sharedOf; // once one is queued: each buffer's shared message, or itself
            private int bytes;

            OutputQueue(Limits limits) { this.limits = limits; }
            boolean isEmpty() { return bytes == 0; }
            int bytes() { return bytes; }

            /** Copies the bytes (the caller's buffer is reused), into the last buffer if it has room. */
            void add(ByteBuffer rest) {
                ByteBuffer tail = buffers == null ? null : buffers.peekLast();
                boolean shared = sharedOf != null && sharedOf.peekLast() != tail;
                if (tail == null || shared || tail.capacity() - tail.limit() < rest.remaining()) {
                    tail = ByteBuffer.allocate(Math.max(rest.remaining(), MIN_BUFFER)).flip();
                    append(tail, tail);
                    limits.account(Limits.cost(tail));
                }
                int end = tail.limit();
                tail.limit(end + rest.remaining()).put(end, rest, rest.position(), rest.remaining());
                bytes += rest.remaining();
                rest.position(rest.limit());
            }

            /** Queues a view of a message that other queues may hold too; the budget counts it once. */
            void addShared(ByteBuffer message) {
                if (sharedOf == null) sharedOf = buffers == null ? new ArrayDeque<>() : new ArrayDeque<>(buffers);
                append(message.duplicate(), message);
                limits.share(message);
                bytes += message.remaining();
            }

            private void append(ByteBuffer buffer, ByteBuffer shared) {
                if (buffers == null) buffers = new ArrayDeque<>();
                buffers.add(buffer);
                if (sharedOf != null) sharedOf.add(shared);
            }

            /**
             * One write of what is queued, at most the shared buffer's size: the head buffer itself if it is the only
             * one, else as many as fit gathered into the shared buffer. What the socket does not take stays at the
             * head.
             * True if any bytes moved.
             */
            boolean writeTo(SocketStream stream) throws IOException {
                if (buffers == null) return false;
                int written;
                if (buffers.size() == 1) {
                    written = stream.write(buffers.peek());
                } else {
                    ByteBuffer gathered = limits.writeBuffer();
                    for (ByteBuffer b : buffers) {
                        int n = Math.min(b.remaining(), gathered.remaining());
                        gathered.put(gathered.position(), b, b.position(), n).position(gathered.position() + n);
                        if (!gathered.hasRemaining()) break;
                    }
                    written = stream.write(gathered.flip());
                    for (int left = written; left > 0; ) { // what the socket took leaves the queue's head
                        ByteBuffer head = buffers.peek();
                        int n = Math.min(left, head.remaining());
                        head.position(head.position() + n);
                        left -= n;
                        if (!head.hasRemaining()) releaseHead();
                    }
                }
                bytes -= written;
                while (!buffers.isEmpty() && !buffers.peek().hasRemaining()) releaseHead();
                if (buffers.isEmpty()) buffers = sharedOf = null; // drained: an idle connection holds no queue
                return written > 0;
            }

            private void releaseHead() {
                ByteBuffer buffer = buffers.poll();
                ByteBuffer shared = sharedOf == null ? buffer : sharedOf.poll();
                if (shared == buffer) limits.account(-Limits.cost(buffer));
                else limits.unshare(shared);
            }

            void clear() {
                if (buffers != null) {
                    while (!buffers.isEmpty()) releaseHead();
                }
                buffers = sharedOf = null;
                bytes = 0;
            }
        }
    }

    // ------------------------------------------------------------------- Text

    /** What one client may show others (SPEC's chat rules): printable text; names that cannot pass for another. */
    static final class Text {
        static final int MAX_NAME = 32; // characters (IRC's nicknames: 30 or so)
        static final String FILLERS = "\\u115f\\u1160\\u3164\\uffa0"; // Hangul fillers: letters that show as blanks
        static final Pattern NAME = Pattern.compile( // a letter or a digit first and last
                "[\\p{L}\\p{Nd}&&[^" + FILLERS + "]]([\\p{L}\\p{M}\\p{Nd}_.'\\-&&[^" + FILLERS + "]]*"
                        + "[\\p{L}\\p{M}\\p{Nd}&&[^" + FILLERS + "]])?");
        static final Pattern STACKED = Pattern.compile("\\p{M}{3}"); // three marks on one letter hide what it is
        static final Pattern OVERSTACKED = Pattern.compile("(\\p{M}{2})\\p{M}+");
        // what shows nothing, hides text or may show anything (zero-width spaces, tags, unassigned and private
        // code points, fillers), but the joiners scripts need
        static final Pattern UNPRINTABLE = Pattern.compile("[" + Log.CONTROLS + FILLERS + "\\p{Cn}\\p{Co}]"
                + "|[\\p{Cf}&&[^\\u200c\\u200d]]");
        static final Pattern TERMINATOR = Pattern.compile("\r?\n\\z|\r\\z"); // a CR alone ends a max-line piece

        /** A received line as text: UTF-8 (a byte that is not becomes U+FFFD), no terminator, nothing unprintable. */
        static String printable(ByteBuffer line) {
            String text = TERMINATOR.matcher(StandardCharsets.UTF_8.decode(line)).replaceFirst("");
            text = UNPRINTABLE.matcher(text).replaceAll("\ufffd");
            return OVERSTACKED.matcher(text).replaceAll("$1\ufffd"); // a letter's third mark and on: one U+FFFD
        }

        /**
         * What a member typed as a name: trimmed, composed (NFKC: "A" and a ring are "Å", a fullwidth "ａ" is "a").
         * Far too long is refused as it is: normalizing costs more than linear time on some text.
         */
        static String name(String typed) {
            String name = typed.strip();
            if (name.codePointCount(0, name.length()) > 4 * MAX_NAME) return name;
            return Normalizer.normalize(name, Normalizer.Form.NFKC);
        }

        /** Names are compared case-folded, as IRC compares nicknames ("Alice" is "alice"), and without their marks. */
        static String key(String name) {
            String bare = Normalizer.normalize(name, Normalizer.Form.NFKD).replaceAll("\\p{M}", ""); // "ali̇ce": alice
            return bare.toUpperCase(Locale.ROOT).toLowerCase(Locale.ROOT);
        }

        /** The rule a name breaks, or null. One script: a Cyrillic "а" cannot pass for a Latin "a". */
        static String refuse(String name) {
            int length = name.codePointCount(0, name.length());
            if (length > MAX_NAME) return "Names are at most " + MAX_NAME + " characters";
            if (!NAME.matcher(name).matches() || STACKED.matcher(name).find()) {
                return "Names are letters and digits, with - _ . ' between them";
            }
            long scripts = name.codePoints().mapToObj(Character.UnicodeScript::of)
                    .filter(s -> s != Character.UnicodeScript.COMMON && s != Character.UnicodeScript.INHERITED)
                    .distinct().count();
            return scripts > 1 ? "A name's letters are all of one script" : null;
        }
    }

    // ------------------------------------------------------------ Options, start-up

    static final int DEFAULT_MAX_LINE = 16 * 1024; // Twisted's LineReceiver's; Netty's examples take 8 KiB, asyncio 64
    static final int MAX_MAX_LINE = 64 * 1024 * 1024;
    static final String DEFAULT_QUOTE = "An apple a day keeps the doctor away";
    static final int DEFAULT_IDLE_TIMEOUT = 300; // longer than a pause at a prompt; silent ones do not hold on for ever

    static final String USAGE = usage();

    /** The usage text: a line for each service of the table, then the options every service shares. */
    static String usage() {
        List<String> words = new ArrayList<>();
        StringBuilder help = new StringBuilder();
        for (ServiceEntry service : SERVICES) {
            words.add("[" + service.option() + " PORT]");
            String option = String.format("  %-23s", service.option() + " PORT");
            help.append(option).append(service.help()).append(service.defaultPort() == ServiceEntry.OFF ? ""
                    : " (default " + service.defaultPort() + ")").append('\n');
        }
        words.addAll(List.of("[--host ADDR]", "[--quote TEXT]", "[--max-line BYTES]", "[--idle-timeout S]",
                "[--memory-budget BYTES]", "[--verbose | --quiet]", "[--trace]"));
        StringBuilder synopsis = new StringBuilder("usage: java EchoServer.java");
        int lineStart = 0;
        for (String word : words) { // wrapped at 104 columns
            if (synopsis.length() - lineStart + 1 + word.length() > 104) {
                lineStart = synopsis.append('\n').length();
                synopsis.append("        ");
            }
            synopsis.append(' ').append(word);
        }
        return synopsis.append('\n').append(help).append(String.join("\n",
                "  --host ADDR            address to listen on, for every service (default: all interfaces)",
                "  --quote TEXT           the quote of the day (default: " + DEFAULT_QUOTE + ")",
                "  --max-line BYTES       longest unfinished line held; longer lines go on in pieces of this size",
                "                         (default " + DEFAULT_MAX_LINE + ", 1 to " + MAX_MAX_LINE + ")",
                "  --idle-timeout S       close a connection silent for S seconds (default " + DEFAULT_IDLE_TIMEOUT
                        + "; 0: never; at most 86400)",
                "  --memory-budget BYTES  bytes held and queued over all connections before the server holds back",
                "                         (default: a quarter of the maximum heap; 1048576 to 1099511627776)",
                "  --verbose, --quiet     also log every line received; log errors only",
                "  --trace                log every step of the patterns, by the role that acts (for learning)",
                "  --roles, --help        print which class plays which pattern role, or this help, and exit",
                "")).toString();
    }

    /** A start that cannot go on (a port in use, a host unknown) is an IllegalStateException: one line, status 1. */
    private static void exitWith(IllegalStateException e) {
        System.err.println("echo-server: " + e.getMessage());
        System.exit(1);
    }

    /**
     * Out of descriptors, a class or a file used for the first time cannot be opened: so every class of this file
     * (javac names the anonymous ones Outer$1, Outer$2, ...) is loaded and initialized at start, and the time zone
     * data the log's timestamps read.
     */
    static void preload() {
        List<Class<?>> classes = new ArrayList<>(List.of(EchoServer.class));
        for (int i = 0; i < classes.size(); i++) {
            Class<?> outer = classes.get(i);
            classes.addAll(List.of(outer.getDeclaredClasses()));
            for (int n = 1; ; n++) {
                try {
                    classes.add(Class.forName(outer.getName() + "$" + n, true, outer.getClassLoader()));
                } catch (ClassNotFoundException e) {
                    break;
                }
            }
        }
        for (Class<?> c : classes) {
            try {
                Class.forName(c.getName(), true, c.getClassLoader());
            } catch (ClassNotFoundException e) {
                throw new AssertionError(e); // it was just found
            }
        }
        Log.now();
    }

    /**
     * Opens one service's acceptors on the reactor, one per address of --host (without it, one for all interfaces),
     * all on one port, and prints where it listens.
     */
    static void listen(String host, String service, int port, Listener listener) {
        List<String> where = new ArrayList<>();
        String firstFailure = null;
        for (InetAddress address : hostAddresses(host)) {
            InetSocketAddress socketAddress = new InetSocketAddress(address, port); // a null address: all interfaces
            ProtocolFamily family = address == null ? null // IPv6 and IPv4 alike; a --host's own family only
                    : address instanceof Inet6Address ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET;
            try {
                InetSocketAddress bound = listener.open(socketAddress, family);
                port = bound.getPort(); // with port 0, the next address takes the same one
                where.add(address == null ? "*:" + port + " (all interfaces)" : Log.format(bound));
            } catch (RuntimeException e) { // the factory's startFactory failed (a file it could not open, say)
                throw new IllegalStateException("cannot start the " + service + " service: " + Log.reason(e));
            } catch (IOException e) { // a port in use; or one we may not take, or an address not on this host
                boolean inUse = e instanceof BindException && port >= 1024 && isLocal(address);
                if (inUse) throw new IllegalStateException("port " + port + " is already in use");
                firstFailure = firstFailure != null ? firstFailure
                        : "cannot listen on " + Log.format(socketAddress) + ": " + Log.reason(e);
            }
        }
        if (where.isEmpty()) throw new IllegalStateException(firstFailure); // one address is enough: ::1 may be off
        System.out.println(service + " server listening on " + String.join(" and ", where));
        System.out.flush();
    }

    /** An acceptor opened on an address: the address it listens on. */
    interface Listener { InetSocketAddress open(InetSocketAddress address, ProtocolFamily family) throws IOException; }

    /** --host's addresses; "localhost" is both loopbacks (RFC 6761), as the client takes it. Null: all interfaces. */
    static List<InetAddress> hostAddresses(String host) {
        if (host == null) return Collections.singletonList(null);
        try {
            Set<InetAddress> addresses = new LinkedHashSet<>(List.of(InetAddress.getAllByName(host)));
            if (host.equalsIgnoreCase("localhost")) {
                addresses.addAll(List.of(InetAddress.getByName("::1"), InetAddress.getByName("127.0.0.1")));
            }
            return List.copyOf(addresses);
        } catch (UnknownHostException e) {
            throw new IllegalStateException("cannot resolve host '" + host + "'");
        }
    }

    private static boolean isLocal(InetAddress address) {
        try {
            return address == null || address.isAnyLocalAddress() || NetworkInterface.getByInetAddress(address) != null;
        } catch (IOException e) {
            return false;
        }
    }

    /** Command-line options, and the start they ask for; a bad option is an IllegalArgumentException. */
    static final class Options {
        static final List<String> FLAGS = List.of("--verbose", "--quiet", "--trace", "--roles", "--help", "-h");
        static final List<String> VALUE_OPTIONS = valueOptions();

        final Map<String, Integer> ports = new HashMap<>(); // by option: a port given, or the service's default
        String host;                                        // null: all interfaces
        String quote = DEFAULT_QUOTE;
        int maxLine = DEFAULT_MAX_LINE, idleTimeoutSeconds = DEFAULT_IDLE_TIMEOUT, logLevel = Log.NORMAL;
        long memoryBudget = Runtime.getRuntime().maxMemory() / 4;
        boolean trace, help, roles;

        private static List<String> valueOptions() {
            List<String> options = new ArrayList<>();
            for (ServiceEntry service : SERVICES) options.add(service.option());
            options.addAll(List.of("--host", "--quote", "--max-line", "--idle-timeout", "--memory-budget"));
            return List.copyOf(options);
        }

        /** The service's port, or ServiceEntry.OFF. */
        int port(ServiceEntry service) { return ports.getOrDefault(service.option(), service.defaultPort()); }

        /** Parses, or handles --help, --roles and bad command lines itself (exit 0, 0 and 2). */
        static Options parseOrExit(String[] args) {
            try {
                Options options = parse(args);
                if (options.help || options.roles) {
                    System.out.print(options.help ? USAGE : roles());
                    System.exit(0);
                }
                Log.level = options.logLevel;
                Trace.on = options.trace;
                return options;
            } catch (IllegalArgumentException e) {
                System.err.print("echo-server: " + e.getMessage() + "\n" + USAGE);
                System.exit(2);
                return null;
            }
        }

        static Options parse(String[] args) {
            Options o = new Options();
            for (int i = 0; i < args.length; i++) {
                String[] option = args[i].startsWith("--") ? args[i].split("=", 2) : new String[] {args[i]};
                String arg = option[0]; // --port=8000 as well as --port 8000
                String value = option.length == 2 ? option[1] : null;
                require(value == null || !FLAGS.contains(arg), arg + " takes no value");
                if (VALUE_OPTIONS.contains(arg) && value == null) {
                    require(++i < args.length, arg + " needs a value");
                    value = args[i];
                }
                switch (arg) {
                    case "--host" -> o.host = value;
                    case "--quote" -> o.quote = value;
                    case "--max-line" -> o.maxLine = (int) number(arg, value, 1, MAX_MAX_LINE);
                    case "--idle-timeout" -> o.idleTimeoutSeconds = (int) number(arg, value, 0, 86400);
                    case "--memory-budget" -> o.memoryBudget = number(arg, value, 1L << 20, 1L << 40);
                    case "--verbose", "--quiet" -> o.logLevel = arg.equals("--quiet") ? Log.QUIET : Log.VERBOSE;
                    case "--trace" -> o.trace = true;
                    case "--roles" -> o.roles = true;
                    case "--help", "-h" -> o.help = true;
                    default -> {
                        require(VALUE_OPTIONS.contains(arg), (arg.startsWith("-") ? "unknown option '"
                                : "unexpected argument '") + arg + "'");
                        o.ports.put(arg, (int) number(arg, value, 0, 65535)); // a service's port
                    }
                }
            }
            List<String> given = List.of(args);
            require(o.host == null || !o.host.isBlank(), "invalid value '" + o.host
                    + "' for --host: expected an address or a host name");
            require(!given.contains("--quiet") || !given.contains("--verbose"),
                    "--quiet and --verbose contradict each other: choose one");
            require(!o.trace || o.logLevel != Log.QUIET, "--trace and --quiet contradict each other: choose one");
            for (int i = 0; i < SERVICES.length; i++) { // two services cannot listen on one port (0: a free one each)
                for (int j = 0; j < i; j++) {
                    int port = o.port(SERVICES[i]);
                    require(port <= 0 || port != o.port(SERVICES[j]), SERVICES[i].option() + " and "
                            + SERVICES[j].option() + " both name port " + port
                            + ": give each service a port of its own");
                }
            }
            return o;
        }

        /** ASCII digits only: no sign, no other script's digits, nothing Long.parseLong would also take. */
        private static long number(String option, String text, long min, long max) {
            boolean valid = text.matches("[0-9]{1,13}") && Long.parseLong(text) >= min && Long.parseLong(text) <= max;
            require(valid, "invalid value '" + text + "' for " + option + ": expected a whole number from " + min
                    + " to " + max);
            return Long.parseLong(text);
        }

        private static void require(boolean valid, String reason) {
            if (!valid) throw new IllegalArgumentException(reason);
        }

        /** The selector, and the classes behind a write and a close loaded now: later they would need a descriptor. */
        static SelectorReactor reactorOrExit() {
            preload();
            try {
                Pipe pipe = Pipe.open();
                pipe.sink().write(ByteBuffer.allocate(1));
                pipe.sink().close();
                pipe.source().close();
                return SelectorReactor.open();
            } catch (IOException e) {
                exitWith(new IllegalStateException("cannot start: " + Log.reason(e)));
                return null;
            }
        }

        /**
         * A factory behind several acceptors (a --host with several addresses) starts and stops once, as in Twisted;
         * with --trace, it narrates the make step.
         */
        static ServiceFactory shared(ServiceFactory factory) {
            ServiceFactory given = Trace.on ? Trace.factory(factory) : factory;
            return new ServiceFactory() {
                private int listening; // acceptors started and not yet closed
                @Override public Service makeService() { return given.makeService(); }
                @Override public void startFactory() { if (listening++ == 0) given.startFactory(); }
                @Override public void stopFactory() { if (--listening == 0) given.stopFactory(); }
            };
        }

        /** Opens a service's acceptors, one per address of --host; exits 1 if it cannot listen at all. */
        void listenOrExit(String service, int port, Listener listener) {
            try {
                listen(host, service, port, listener);
            } catch (IllegalStateException e) {
                exitWith(e);
            }
        }
    }

    // ------------------------------------------------------------------ Logging

    /** Timestamped lines on standard error, written by a thread of their own: a stalled standard error (a paused
     * terminal, a full pipe) never blocks the reactor; past a full queue lines are dropped and counted. */
    static final class Log {
        static final int QUIET = 0, NORMAL = 1, VERBOSE = 2;
        static final long FLUSH_WAIT_MILLIS = 300; // the log thread's share of the 2 s at exit
        // What could move a terminal's cursor or reorder its text, but a tab: C0, DEL, C1, bidi controls, separators
        static final String CONTROLS = "\\x00-\\x08\\x0a-\\x1f\\x7f-\\x9f\\u061c\\u200e\\u200f\\u2028-\\u202e"
                + "\\u2066-\\u2069";
        static final Pattern UNSAFE = Pattern.compile("[\\\\\\t\\udc80-\\udcff" + CONTROLS + "]"); // and \\ itself
        static int level = NORMAL;
        private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS");
        static final long MAX_QUEUED_CHARS = 1 << 20; // and at most 10 000 lines: past either, lines are dropped
        private static final BlockingQueue<String> queue = new ArrayBlockingQueue<>(10_000);
        private static final AtomicLong unwritten = new AtomicLong(); // lines queued, or being written
        private static final AtomicLong queuedChars = new AtomicLong();
        private static final AtomicLong dropped = new AtomicLong();

        static {
            Thread writer = new Thread(() -> {
                try {
                    while (true) {
                        String line = queue.take();
                        long lost = dropped.getAndSet(0);
                        if (lost > 0) System.err.println(now() + lost + " log lines dropped");
                        System.err.println(line);
                        queuedChars.addAndGet(-line.length());
                        unwritten.decrementAndGet();
                    }
                } catch (InterruptedException e) {
                    // the JVM is exiting
                }
            }, "log");
            writer.setDaemon(true); // the shutdown hook flushes; the log never keeps the JVM alive
            writer.start();
        }

        /** A line at any level: timestamped and queued, or dropped and counted if the queue is full. */
        static void write(String message) {
            String line = now() + message;
            if (queuedChars.get() + line.length() <= MAX_QUEUED_CHARS && queue.offer(line)) {
                queuedChars.addAndGet(line.length());
                unwritten.incrementAndGet();
            } else {
                dropped.incrementAndGet();
            }
        }

        static void error(String message) { write(message); } // --quiet too
        static void info(String message) { if (level >= NORMAL) write(message); }

        static void started(Options o) {
            info("started: pid " + ProcessHandle.current().pid() + ", Java " + Runtime.version() + ", max line "
                    + o.maxLine + " bytes, idle timeout " + o.idleTimeoutSeconds + " s, memory budget "
                    + o.memoryBudget + " bytes");
        }

        static void stopped(int connections, int listeners) {
            info("stopped: closed " + connections + (connections == 1 ? " connection" : " connections")
                    + (listeners == 1 ? " and the listening socket" : " and " + listeners + " listening sockets"));
        }

        static void connection(String service, SocketAddress peer, String event, int open) { // built if printed
            if (level >= NORMAL) write(service + " connection from " + format(peer) + " " + event + " (" + open
                    + " open)");
        }

        /** --verbose: a log line per line received, as readable text: UTF-8, cut at 200 characters, escaped. */
        static void lines(SocketAddress peer, ByteBuffer lines) {
            if (level < VERBOSE) return;
            Service.eachLine(lines, line -> {
                String text = UNSAFE.matcher(utf8(line.duplicate(), 200)).replaceAll(c -> Matcher.quoteReplacement(
                        escape(c.group().charAt(0))));
                write(format(peer) + " sent a line: " + text + " (" + line.remaining() + " bytes)");
            });
        }

        /** At most max characters of UTF-8 text; a byte that is not UTF-8 as U+DC80 + byte, escaped as \xff later. */
        private static String utf8(ByteBuffer bytes, int max) {
            CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder(); // reports bytes that are not UTF-8
            CharBuffer text = CharBuffer.allocate(max);
            while (decoder.decode(bytes, text, true).isMalformed() && text.hasRemaining()) {
                text.put((char) (0xdc00 | bytes.get() & 0xff)); // "lone surrogates" as Python's surrogateescape
            }
            return text.flip().toString();
        }

        private static String escape(char c) {
            if (c >= 0xdc80 && c <= 0xdcff) return String.format("\\x%02x", c & 0xff); // a byte that is not UTF-8
            return c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\\' ? "\\\\"
                    : String.format(c < 0x80 ? "\\x%02x" : "\\u%04x", (int) c);
        }

        static void failure(Object where, Throwable e) { // one line, if there is memory left to say it
            try {
                error(where + " failed: " + e);
            } catch (Throwable stillFailing) {
                dropped.incrementAndGet();
            }
        }

        static String reason(Throwable e) { return e.getMessage() != null ? e.getMessage() : e.toString(); }

        static String now() { return LocalDateTime.now().format(TIME) + " "; }

        static void flush(long millis) { // waits, at most this long, until every queued line is written
            for (long end = System.nanoTime() + millis * 1_000_000; unwritten.get() > 0 && System.nanoTime() < end; ) {
                sleep(5);
            }
        }

        static void sleep(long millis) {
            try {
                Thread.sleep(millis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        /** 127.0.0.1:8000 or [::1]:8000: an IPv6 address as RFC 5952 writes it, its longest run of zeros as "::". */
        static String format(SocketAddress where) {
            if (!(where instanceof InetSocketAddress inet) || inet.getAddress() == null) return String.valueOf(where);
            InetAddress ip = inet.getAddress();
            if (!(ip instanceof Inet6Address)) return ip.getHostAddress() + ":" + inet.getPort();
            String[] groups = ip.getHostAddress().replaceFirst("%.*", "").split(":"); // eight, no leading zeros
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
            return "[" + host + "]:" + inet.getPort();
        }
    }

    // -------------------------------------------------------------------- Trace

    /**
     * --trace: a line per step of the patterns, by the role that acts. It sits beside Part I, not in it: with --trace
     * on, the service handlers are wrapped in narrators (as Netty adds its LoggingHandler only when wanted) and the
     * stream facade swapped for a narrating subclass; off, nothing is wrapped and each inline step costs one test.
     */
    static final class Trace {
        static boolean on; // set once at start
        private static int streams; // numbers the traced connections: connection #1 and its facade #1

        static void say(String role, String what) { Log.write(String.format("%-14s %s", role, what)); }

        static void interest(Object handler, Events e) { say("reactor", "interest of " + handler + ": " + events(e)); }

        /** "read", "read+write", "none" */
        static String events(Events e) {
            String words = (e.accept() ? "+accept" : "") + (e.read() ? "+read" : "") + (e.write() ? "+write" : "");
            return words.isEmpty() ? "none" : words.substring(1);
        }

        /** The reactor's dispatch and remove steps: the handler it calls is wrapped in a narrator. */
        static EventHandler handler(EventHandler handler) {
            return new EventHandler() {
                @Override public void handleEvent(Events ready) {
                    say("reactor", "dispatch " + events(ready) + " -> " + handler);
                    handler.handleEvent(ready);
                }

                @Override public void handleClose() {
                    say("reactor", "remove " + handler + " -> handleClose");
                    handler.handleClose();
                }

                @Override public String toString() { return handler.toString(); }
            };
        }

        static Runnable timer(long delayMillis, String what, Runnable task) {
            say("reactor", "timer in " + delayMillis + " ms: " + what);
            return () -> { say("reactor", "timer due: " + what); task.run(); };
        }

        /** The acceptor's make step; each service handler it makes narrates the connection's calls to it. */
        static ServiceFactory factory(ServiceFactory factory) {
            return new ServiceFactory() {
                @Override public void startFactory() { factory.startFactory(); }
                @Override public void stopFactory() { factory.stopFactory(); }
                @Override public Service makeService() { return narrated(factory.makeService()); }
            };
        }

        private static Service narrated(Service service) {
            String name = service.getClass().getSimpleName();
            say("acceptor", "make service handler: " + name);
            return new Service() {
                private String connection;

                @Override public void connectionMade(Transport transport) {
                    connection = transport.toString();
                    say(connection, "-> " + name + ".connectionMade");
                    service.connectionMade(transport);
                }

                @Override public void linesReceived(ByteBuffer lines) {
                    say(connection, lines(lines) + " -> " + name + ".linesReceived");
                    service.linesReceived(lines);
                }

                @Override public void connectionLost() {
                    say(connection, "-> " + name + ".connectionLost");
                    service.connectionLost();
                }

                @Override public int readSize() { return service.readSize(); }
                @Override public int maxLine() { return service.maxLine(); }
            };
        }

        /** The accept step; from then on the stream facade narrates each call once it returns. */
        static SocketStream accepted(SocketStream accepted) {
            say("acceptor", "accept " + accepted);
            String name = "#" + ++streams;
            return new SocketStream(accepted) {
                @Override int read(ByteBuffer into) throws IOException {
                    int count = super.read(into);
                    say("facade " + name, count < 0 ? "read: end of input" : "read " + count + " bytes");
                    return count;
                }

                @Override int write(ByteBuffer bytes) throws IOException {
                    int wanted = bytes.remaining();
                    int count = super.write(bytes);
                    say("facade " + name, "write " + count + " of " + wanted + " bytes");
                    return count;
                }

                @Override void close() {
                    say("facade " + name, "close");
                    super.close();
                }

                @Override public String toString() { return name; }
            };
        }

        static void waterMark(Connection c, int unsent, boolean full) {
            String why = unsent >= Connection.HIGH_WATER ? " >= high-water " + Connection.HIGH_WATER
                    : full ? " and the memory budget spent" : " <= low-water " + Connection.LOW_WATER;
            say(c.toString(), "unsent " + unsent + why + (full ? ": pause its producer" : ": resume its producer"));
        }

        /** "1 whole line (6 bytes)", "2 whole lines and a piece (70 bytes)", "a piece (16384 bytes)". */
        static String lines(ByteBuffer lines) {
            int whole = 0;
            for (int i = lines.position(); i < lines.limit(); i++) whole += lines.get(i) == '\n' ? 1 : 0;
            boolean piece = lines.get(lines.limit() - 1) != '\n';
            String what = whole == 0 ? "a piece" : whole + " whole line" + (whole == 1 ? "" : "s")
                    + (piece ? " and a piece" : "");
            return what + " (" + lines.remaining() + " bytes)";
        }
    }

    // ---------------------------------------------------------- Role annotations

    /** The role classes in data-flow order (a test checks that no annotated class is missing). */
    static final List<Class<?>> ROLE_CLASSES = List.of(SelectorReactor.class, SocketAcceptor.class, Connection.class,
            EchoService.class, QuoteService.class, ChatService.class, ListeningSocket.class, SocketStream.class);

    /** --roles: "Class: @Role: sentence", a line for each role a class plays, read back from the annotations. */
    static String roles() {
        List<Class<?>> types = new ArrayList<>(ROLE_CLASSES);
        for (Class<?> type : EchoServer.class.getDeclaredClasses()) { // one an exercise adds, say: after the others
            if (!types.contains(type) && type.getAnnotation(ServiceHandler.class) != null) types.add(type);
        }
        return roles(types);
    }

    static String roles(List<Class<?>> types) {
        StringBuilder out = new StringBuilder();
        for (Class<?> type : types) {
            for (Annotation a : type.getAnnotations()) { // ours only: a class may carry @Deprecated too
                String sentence = a instanceof Reactor r ? r.value()
                        : a instanceof Acceptor c ? c.value()
                        : a instanceof ConcreteEventHandler h ? h.value()
                        : a instanceof ServiceHandler s ? s.value()
                        : a instanceof WrapperFacade w ? w.value() : null;
                if (sentence == null) continue;
                out.append(type.getSimpleName()).append(": @").append(a.annotationType().getSimpleName())
                        .append(": ").append(sentence).append('\n');
            }
        }
        return out.toString();
    }

    /** Reactor: demultiplexes events on many handles and dispatches them to event handlers. */
    @Retention(RetentionPolicy.RUNTIME) @Target(ElementType.TYPE)
    @interface Reactor { String value(); }
    /** Acceptor-Connector: accepts connections passively, and makes and activates a service handler for each. */
    @Retention(RetentionPolicy.RUNTIME) @Target(ElementType.TYPE)
    @interface Acceptor { String value(); }
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
