// ReactorTest.java: the reactor alone, with handlers of the test's own on pipes: whatever one handler or timer
// throws, an Error too, ends that handler only; the loop and the other handlers go on.

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.Pipe;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.*;

class ReactorTest extends Harness {
    static final long WAIT_SECONDS = 10; // what a latch waits at most: long, since it only bounds a failure

    EchoServer.SelectorReactor reactor;
    Thread loop;
    final AtomicBoolean ranToEnd = new AtomicBoolean();

    /**
     * A handler on a pipe that counts what the reactor tells it. onEvent runs first: if it throws, the byte stays
     * unread and the pipe ready, so a handler the reactor failed to remove would be dispatched again.
     */
    static final class Handler implements EchoServer.EventHandler {
        final Pipe pipe;
        final Runnable onEvent;
        final AtomicInteger events = new AtomicInteger(), closes = new AtomicInteger();
        final CountDownLatch dispatched = new CountDownLatch(1), closed = new CountDownLatch(1);

        Handler(Runnable onEvent) throws IOException {
            this.pipe = Pipe.open();
            this.onEvent = onEvent;
            pipe.source().configureBlocking(false);
            resources.add(pipe.sink());
            resources.add(pipe.source());
        }

        /** The handle is ready: a byte is written to the pipe. */
        void poke() throws IOException { pipe.sink().write(ByteBuffer.wrap(new byte[] {1})); }

        @Override public void handleEvent(EchoServer.Events ready) {
            events.incrementAndGet();
            dispatched.countDown();
            onEvent.run();
            try {
                pipe.source().read(ByteBuffer.allocate(16)); // taken: not ready again
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override public void handleClose() {
            closes.incrementAndGet();
            closed.countDown();
        }
    }

    @BeforeEach
    void openReactor() throws IOException { reactor = EchoServer.SelectorReactor.open(); }

    /** The loop on a thread of its own, started once the handlers are registered: the reactor is not thread-safe. */
    void startLoop() {
        loop = new Thread(() -> ranToEnd.set(reactor.run()), "reactor under test");
        loop.setDaemon(true);
        loop.start();
    }

    /** Stopped and joined, within bounds, whatever the test did. */
    @AfterEach
    void stopLoop() throws InterruptedException {
        if (loop == null) return;
        reactor.stopAndWait(2000);
        loop.join(TimeUnit.SECONDS.toMillis(WAIT_SECONDS));
        assertFalse(loop.isAlive(), "the loop stopped when asked");
        assertTrue(ranToEnd.get(), "run() returned true: the loop was not broken");
        loop = null;
    }

    static void await(CountDownLatch latch, String what) throws InterruptedException {
        assertTrue(latch.await(WAIT_SECONDS, TimeUnit.SECONDS), what + " (waited " + WAIT_SECONDS + " s)");
    }

    @Test
    @Timeout(60)
    @DisplayName("a handler that throws an Error is dispatched once, hears handleClose once, and the loop goes on")
    void handlerErrorEndsThatHandlerOnly() throws Exception {
        Handler failing = new Handler(() -> {
            throw new OutOfMemoryError("thrown by the test: one handler's failure");
        });
        Handler working = new Handler(() -> { });
        reactor.register(failing.pipe.source(), EchoServer.Events.READ, failing);
        reactor.register(working.pipe.source(), EchoServer.Events.READ, working);
        startLoop();

        failing.poke();
        await(failing.closed, "the failing handler heard handleClose");
        working.poke();
        await(working.dispatched, "the other handler was dispatched after the failure: the loop goes on");
        stopLoop();
        assertEquals(1, failing.events.get(), "the failing handler was dispatched exactly once");
        assertEquals(1, failing.closes.get(), "the failing handler heard handleClose exactly once");
        assertEquals(1, working.closes.get(), "the other handler heard handleClose at the stop");
    }

    @Test
    @Timeout(60)
    @DisplayName("a timer that throws does not stop the loop: events are dispatched and timers run after it")
    void timerErrorDoesNotStopTheLoop() throws Exception {
        CountDownLatch failed = new CountDownLatch(1), later = new CountDownLatch(1);
        reactor.schedule(0, "a failing timer", () -> {
            failed.countDown();
            throw new Error("thrown by the test: a timer's failure");
        });
        Handler working = new Handler(() -> reactor.schedule(0, "a timer after the failure", later::countDown));
        reactor.register(working.pipe.source(), EchoServer.Events.READ, working);
        startLoop();

        await(failed, "the failing timer ran");
        working.poke();
        await(working.dispatched, "a handler was dispatched after the timer failed");
        await(later, "a timer scheduled after the failure ran");
    }
}
