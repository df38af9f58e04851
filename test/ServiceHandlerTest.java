// ServiceHandlerTest.java: the service handlers alone, against a fake transport: no socket, no reactor.
// This is Acceptor-Connector's payoff: a service is only its hooks and the transport it writes to.

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.*;

class ServiceHandlerTest extends Harness {
    EchoServer.SelectorReactor reactor; // the chat room's timers: never run here

    @BeforeEach
    void makeReactor() throws IOException {
        reactor = EchoServer.SelectorReactor.open();
    }

    @AfterEach
    void closeReactor() {
        reactor.stopAndWait(0);
        reactor.run(); // a run after a stop closes the selector
    }

    /** Bytes as a service receives them: one character per byte, as Fakes.Transport records them. */
    static ByteBuffer received(String bytes) { return ByteBuffer.wrap(bytes.getBytes(StandardCharsets.ISO_8859_1)); }

    /** A chat member: its service, made by the room as the acceptor would, already told its connection is made. */
    record Member(EchoServer.Service service, Fakes.Transport transport) {
        static Member join(EchoServer.ChatRoom room) {
            Member member = new Member(room.makeService(), new Fakes.Transport());
            member.service.connectionMade(member.transport);
            return member;
        }

        void says(String line) { service.linesReceived(received(line)); }
    }

    /** A member that has chosen its name; what it was told so far is cleared. */
    static Member named(EchoServer.ChatRoom room, String name) {
        Member member = Member.join(room);
        member.says(name + "\r\n");
        assertEquals("What's your name?\r\nWelcome, " + name + "!\r\n", member.transport.written(), name + " joined");
        member.transport.calls.clear();
        return member;
    }

    @Test
    @Timeout(10)
    @DisplayName("echo: writes back exactly the lines it receives, any bytes, in one write")
    void echoWritesBackExactly() {
        EchoServer.EchoService echo = new EchoServer.EchoService();
        Fakes.Transport transport = new Fakes.Transport();
        echo.connectionMade(transport);
        String lines = "hello\r\n\u0000\u00ff any bytes\n"; // a NUL and a 0xff byte: bytes, not text
        echo.linesReceived(received(lines));
        assertEquals(List.of(lines), transport.calls, "one write of the lines, byte for byte; no close");
    }

    @Test
    @Timeout(10)
    @DisplayName("quote: writes the quote on connect, then loses the connection (close once sent)")
    void quoteThenLoseConnection() {
        ByteBuffer quote = received("An apple a day keeps the doctor away\r\n");
        Fakes.Transport transport = new Fakes.Transport();
        new EchoServer.QuoteService(quote).connectionMade(transport);
        assertEquals(List.of("An apple a day keeps the doctor away\r\n", Fakes.Transport.LOSE), transport.calls,
                "the quote, then loseConnection, not abortConnection");
    }

    @Test
    @Timeout(10)
    @DisplayName("chat: asks for a name, welcomes a free one, refuses a taken one (compared case-folded)")
    void chatNameDialogue() {
        EchoServer.ChatRoom room = new EchoServer.ChatRoom(reactor);
        Member alice = Member.join(room);
        assertEquals("What's your name?\r\n", alice.transport.written(), "asked on connect");
        alice.says("Alice\r\n");
        assertEquals("What's your name?\r\nWelcome, Alice!\r\n", alice.transport.written(), "a free name");

        Member other = Member.join(room);
        other.says("Alice\n");
        other.says("alice\n"); // the same name, folded
        other.says("Bob\n");
        assertEquals("What's your name?\r\n" + "Name taken, please choose another.\r\n"
                + "Name taken, please choose another.\r\n" + "Welcome, Bob!\r\n", other.transport.written(),
                "a taken name is refused and asked again, until a free one");
    }

    @Test
    @Timeout(10)
    @DisplayName("chat: a member's line goes to every other member as <NAME> line, not back to the sender")
    void chatBroadcastsToOthersOnly() {
        EchoServer.ChatRoom room = new EchoServer.ChatRoom(reactor);
        Member alice = named(room, "Alice"), bob = named(room, "Bob"), carol = named(room, "Carol");
        alice.says("hi\n");
        assertEquals("<Alice> hi\r\n", bob.transport.written(), "Bob hears Alice");
        assertEquals("<Alice> hi\r\n", carol.transport.written(), "Carol hears Alice");
        assertEquals("", alice.transport.written(), "Alice is not sent her own line");
    }

    @Test
    @Timeout(10)
    @DisplayName("chat: leaving the room frees the name, whatever its case: Alice leaves, then alice is welcome")
    void chatLeavingFreesTheFoldedName() {
        EchoServer.ChatRoom room = new EchoServer.ChatRoom(reactor);
        Member alice = named(room, "Alice"), bob = named(room, "Bob");
        alice.service.connectionLost(); // her connection closed

        Member again = Member.join(room);
        again.says("alice\n");
        assertEquals("What's your name?\r\nWelcome, alice!\r\n", again.transport.written(),
                "the name is free once its member has left (the room keys names folded)");
        again.transport.calls.clear();
        bob.says("still there?\n");
        assertEquals("<Bob> still there?\r\n", again.transport.written(), "the new member hears Bob");
        assertEquals("", alice.transport.written(), "a member who left hears nothing more");
    }

    @Test
    @Timeout(10)
    @DisplayName("chat: a member whose leaving fails halfway (out of memory, say) still frees its name")
    void chatFailedLeaveFreesTheName() {
        EchoServer.ChatRoom room = new EchoServer.ChatRoom(reactor);
        Member alice = named(room, "Alice"), bob = named(room, "Bob");
        alice.transport.producer.pauseProducing(); // her output is full: the room pauses every member
        assertTrue(bob.transport.paused, "the room waits for Alice");
        bob.transport.resumeFails = new OutOfMemoryError("a test's");
        assertThrows(OutOfMemoryError.class, alice.service::connectionLost, "resuming Bob failed");
        bob.transport.resumeFails = null;

        Member again = Member.join(room);
        again.says("alice\n");
        assertEquals("What's your name?\r\nWelcome, alice!\r\n", again.transport.written(),
                "her name is free although her leaving failed");
    }

    /** A service handler that carries an annotation that is not a role. */
    @Deprecated
    @EchoServer.ServiceHandler("Plays a test's role.")
    static final class DeprecatedService implements EchoServer.Service { }

    @Test
    @Timeout(10)
    @DisplayName("--roles: a class's other annotations (@Deprecated) are not roles, and do not break the list")
    void rolesSkipOtherAnnotations() {
        assertEquals("DeprecatedService: @ServiceHandler: Plays a test's role.\n",
                EchoServer.roles(List.of(DeprecatedService.class)));
    }
}
