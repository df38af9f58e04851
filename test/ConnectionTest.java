// ConnectionTest.java: the connection (the Reactor's concrete event handler, the services' transport) alone,
// against a fake stream facade: the test says what each read returns and how much each write takes, and
// tells the connection its socket is readable or writable itself. Deterministic: no kernel buffer, no timing.

import java.io.IOException;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.*;

class ConnectionTest extends Harness {
    static final EchoServer.Events READABLE = new EchoServer.Events(false, true, false);
    static final EchoServer.Events WRITABLE = new EchoServer.Events(false, false, true);

    EchoServer.SelectorReactor reactor; // never run: the test dispatches the events itself
    EchoServer.Limits limits;

    @BeforeEach
    void makeReactor() throws IOException {
        reactor = EchoServer.SelectorReactor.open();
        limits = new EchoServer.Limits(reactor, EchoServer.Options.parse(new String[0]));
    }

    /** The reactor has no close of its own: a run after a stop closes every handle left, and the selector. */
    @AfterEach
    void closeReactor() {
        reactor.stopAndWait(0);
        reactor.run();
    }

    /** A connection activated as the acceptor would: registered for reading, its service told. */
    EchoServer.Connection open(Fakes.Stream stream, EchoServer.Service service, String serviceName)
            throws IOException {
        EchoServer.Connection connection = new EchoServer.Connection(reactor, limits, stream, service, serviceName);
        connection.open();
        return connection;
    }

    EchoServer.Connection echo(Fakes.Stream stream) throws IOException {
        return open(stream, new EchoServer.EchoService(), "echo");
    }

    /** Lines of `length` bytes each, the '\n' included: `count` of them. */
    static String lines(int count, int length) { return ("x".repeat(length - 1) + "\n").repeat(count); }

    /** Writable events until the output has drained (bounded, should it never drain). */
    static void drain(EchoServer.Connection connection, Fakes.Stream stream) {
        for (int i = 0; i < 1000 && stream.closes == 0 && stream.writeInterest(); i++) {
            connection.handleEvent(WRITABLE);
        }
    }

    @Test
    @Timeout(10)
    @DisplayName("partial writes keep the order: a socket taking 3 bytes a write gets both lines exactly")
    void partialWritesKeepOrder() throws IOException {
        Fakes.Stream stream = new Fakes.Stream();
        stream.takes = 3;
        EchoServer.Connection connection = echo(stream);
        stream.give("hello world\n");
        connection.handleEvent(READABLE);
        stream.give("second line\n");
        connection.handleEvent(READABLE);
        drain(connection, stream);
        assertEquals("hello world\nsecond line\n", stream.taken(), "what the socket took, in order");
        assertFalse(stream.writeInterest(), "drained: no more write interest");
    }

    @Test
    @Timeout(10)
    @DisplayName("nothing is written directly while bytes are queued: it would jump the queue")
    void noDirectWriteWhileQueued() throws IOException {
        Fakes.Stream stream = new Fakes.Stream();
        stream.takes = 0; // the socket is full
        EchoServer.Connection connection = echo(stream);
        stream.give("first\n");
        connection.handleEvent(READABLE);
        assertEquals(List.of(""), stream.writes, "the first line is tried at once, and queued");
        stream.give("second\n");
        connection.handleEvent(READABLE);
        assertEquals(List.of(""), stream.writes, "the second line goes behind the first, without a write");
        stream.takes = Integer.MAX_VALUE;
        connection.handleEvent(WRITABLE);
        assertEquals("first\nsecond\n", stream.taken(), "both, in order, once the socket has room");
    }

    @Test
    @Timeout(10)
    @DisplayName("write interest is on while output is queued, and off once it has drained")
    void writeInterestFollowsTheQueue() throws IOException {
        Fakes.Stream stream = new Fakes.Stream();
        EchoServer.Connection connection = echo(stream);
        assertFalse(stream.writeInterest(), "nothing queued: no write interest (it would spin)");
        assertTrue(stream.readInterest(), "reading");
        stream.takes = 0;
        stream.give("abc\n");
        connection.handleEvent(READABLE);
        assertTrue(stream.writeInterest(), "output queued: write interest on");
        assertTrue(stream.readInterest(), "a few bytes queued: still reading");
        stream.takes = Integer.MAX_VALUE;
        connection.handleEvent(WRITABLE);
        assertEquals("abc\n", stream.taken(), "sent");
        assertFalse(stream.writeInterest(), "drained: write interest off");
        assertTrue(stream.readInterest(), "still reading");
    }

    @Test
    @Timeout(10)
    @DisplayName("reading stops above 64 KiB unsent and resumes only at or below 32 KiB")
    void readInterestFollowsTheWaterMarks() throws IOException {
        Fakes.Stream stream = new Fakes.Stream();
        EchoServer.Connection connection = echo(stream);
        stream.takes = 0; // a peer that sends but does not read
        stream.give(lines(40, 1024));
        connection.handleEvent(READABLE);
        assertTrue(stream.readInterest(), "40 KiB unsent, under the high-water mark: still reading");
        stream.give(lines(40, 1024));
        connection.handleEvent(READABLE);
        assertFalse(stream.readInterest(), "80 KiB unsent, over the high-water mark: reading stops");

        stream.takes = 8 * 1024; // the peer reads again, 8 KiB at a time
        for (int unsent = 80 * 1024; unsent > 0; ) {
            connection.handleEvent(WRITABLE);
            unsent = 80 * 1024 - stream.taken().length();
            boolean reading = unsent <= 32 * 1024; // the low-water mark; between the marks: still stopped
            assertEquals(reading, stream.readInterest(), "read interest with " + unsent + " bytes unsent");
        }
        assertFalse(stream.writeInterest(), "drained");
    }

    /** Alice and Bob in one room, each named: what each has been sent so far is taken. */
    EchoServer.Connection[] aliceAndBob(Fakes.Stream a, Fakes.Stream b) throws IOException {
        EchoServer.ChatRoom room = new EchoServer.ChatRoom(reactor);
        EchoServer.Connection alice = open(a, room.makeService(), "chat");
        EchoServer.Connection bob = open(b, room.makeService(), "chat");
        a.give("Alice\n");
        alice.handleEvent(READABLE);
        b.give("Bob\n");
        bob.handleEvent(READABLE);
        return new EchoServer.Connection[] {alice, bob};
    }

    @Test
    @Timeout(10)
    @DisplayName("chat: a line for another member waits for the end of the turn, then one write; if full, write interest")
    void writeFromAnotherHandlerGoesAtTheEndOfTheTurn() throws IOException {
        Fakes.Stream a = new Fakes.Stream(), b = new Fakes.Stream();
        EchoServer.Connection[] members = aliceAndBob(a, b);
        int writesBefore = b.writes.size();
        b.takes = 0; // Bob does not read
        a.give("hi\n");
        members[0].handleEvent(READABLE); // Alice's handler writes to Bob's connection: Bob's own handler never ran
        assertEquals(writesBefore, b.writes.size(), "nothing is written to Bob while Alice's handler runs");
        reactor.runAfterDispatch(); // the end of the turn
        assertEquals(writesBefore + 1, b.writes.size(), "one write to Bob at the end of the turn");
        assertTrue(b.writeInterest(), "Bob's socket is full: his write interest must be on, or it never goes");
        b.takes = Integer.MAX_VALUE;
        members[1].handleEvent(WRITABLE);
        assertEquals("What's your name?\r\nWelcome, Bob!\r\n<Alice> hi\r\n", b.taken(), "what Bob got");
        assertFalse(b.writeInterest(), "drained");
    }

    @Test
    @Timeout(10)
    @DisplayName("chat: a member whose output is full pauses every member's reading until it has taken it")
    void fullMemberPausesTheRoom() throws IOException {
        Fakes.Stream a = new Fakes.Stream(), b = new Fakes.Stream();
        EchoServer.Connection[] members = aliceAndBob(a, b);
        b.takes = 0; // Bob does not read
        String line = "y".repeat(1000) + "\n";
        for (int i = 0; i < 70 && a.readInterest(); i++) { // 70 KB: past Bob's high-water mark
            a.give(line);
            members[0].handleEvent(READABLE);
            reactor.runAfterDispatch();
        }
        assertFalse(a.readInterest(), "Bob is full: Alice waits");
        assertFalse(b.readInterest(), "and so does Bob: the whole room");
        b.takes = Integer.MAX_VALUE;
        members[1].handleEvent(WRITABLE);
        assertTrue(a.readInterest(), "Bob has taken it: Alice reads again");
        assertTrue(b.readInterest(), "and Bob");
    }

    @Test
    @Timeout(10)
    @DisplayName("half-close with output unsent: everything is written, the held line too, then the stream closed")
    void halfCloseWritesEverythingThenCloses() throws IOException {
        Fakes.Stream stream = new Fakes.Stream();
        EchoServer.Connection connection = echo(stream);
        stream.takes = 0;
        stream.give("abc\n");
        connection.handleEvent(READABLE);
        stream.give("xyz"); // an unfinished line
        connection.handleEvent(READABLE);
        stream.end();
        connection.handleEvent(READABLE);
        assertEquals(0, stream.closes, "output is unsent: not closed yet");
        assertFalse(stream.readInterest(), "input ended: no more reading");

        stream.takes = 2;
        for (int i = 0; i < 100 && stream.closes == 0; i++) {
            assertTrue(stream.writeInterest(), "still output to send");
            connection.handleEvent(WRITABLE);
        }
        assertEquals("abc\nxyz", stream.taken(), "everything, the unfinished line too");
        assertEquals(1, stream.closes, "closed once everything was taken");
    }

    @Test
    @Timeout(10)
    @DisplayName("a bare \\r does not end a line: \"abc\\r\" is held until its \\n comes")
    void bareCarriageReturnDoesNotEndALine() throws IOException {
        Fakes.Stream stream = new Fakes.Stream();
        EchoServer.Connection connection = echo(stream);
        stream.give("abc\r");
        connection.handleEvent(READABLE);
        assertEquals(List.of(), stream.writes, "nothing echoed: the line has no \\n yet");
        stream.give("def\n");
        connection.handleEvent(READABLE);
        assertEquals(List.of("abc\rdef\n"), stream.writes, "the whole line, in one write");
    }

    @Test
    @Timeout(10)
    @DisplayName("bytes read count as activity for the idle timeout")
    void readingIsActivity() throws IOException {
        Fakes.Stream stream = new Fakes.Stream();
        EchoServer.Connection connection = echo(stream);
        long before = System.nanoTime();
        connection.lastActive = before - TimeUnit.HOURS.toNanos(1); // as if idle for an hour
        stream.give("x");
        connection.handleEvent(READABLE);
        assertTrue(connection.lastActive - before >= 0, "lastActive moved to the time of the read");
    }

    @Test
    @Timeout(10)
    @DisplayName("a closed connection's held line leaves the memory budget")
    void closedConnectionReleasesItsHeldLine() throws IOException {
        EchoServer.Options options = EchoServer.Options.parse(new String[0]);
        options.memoryBudget = 1000; // tiny: below what the parser allows
        limits = new EchoServer.Limits(reactor, options);
        Fakes.Stream stream = new Fakes.Stream();
        EchoServer.Connection connection = echo(stream);
        stream.give("y".repeat(2000)); // no newline: held
        connection.handleEvent(READABLE);
        assertFalse(limits.mayHold(), "2000 bytes held: the budget of 1000 is spent");
        connection.abortConnection();
        assertEquals(1, stream.closes, "closed");
        assertTrue(limits.mayHold(), "the closed connection's held line no longer counts");
    }

    @Test
    @Timeout(10)
    @DisplayName("close: a failure while closing (out of memory, say) still tells the service its connection is lost")
    void failedCloseStillTellsTheService() throws IOException {
        Fakes.Stream stream = new Fakes.Stream();
        boolean[] lost = {false};
        EchoServer.Connection connection = open(stream, new EchoServer.Service() {
            @Override public void connectionLost() { lost[0] = true; }
        }, "test");
        stream.closeFails = new OutOfMemoryError("a test's");
        connection.close(null); // the reactor logs the failure
        assertEquals(1, stream.closes, "the stream was closed");
        assertTrue(lost[0], "the service heard connectionLost although the close failed");
    }

    @Test
    @Timeout(10)
    @DisplayName("loseConnection outside a callback (from a timer, say), with nothing queued: closed at the next turn")
    void loseConnectionFromATimerCloses() throws IOException {
        Fakes.Stream stream = new Fakes.Stream();
        EchoServer.Transport[] transport = {null};
        EchoServer.Connection connection = open(stream, new EchoServer.Service() {
            @Override public void connectionMade(EchoServer.Transport t) { transport[0] = t; }
        }, "test");
        transport[0].loseConnection(); // as a timer's task would, between events
        assertEquals(0, stream.closes, "closed inside loseConnection: the service's call is not over yet");
        assertTrue(stream.writeInterest(), "the connection waits for no event that would close it");
        connection.handleEvent(WRITABLE);
        assertEquals(1, stream.closes, "the stream was not closed at the next event");
    }
}
