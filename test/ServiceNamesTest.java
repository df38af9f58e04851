// ServiceNamesTest.java: The side task: exercises/ServiceNames.java lists the services of a port range.

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.annotation.Annotation;
import java.lang.reflect.Method;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URL;
import java.net.URLClassLoader;
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
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.opentest4j.TestAbortedException;

import static org.junit.jupiter.api.Assertions.*;

class ServiceNamesTest extends Harness {

    @Test
    @DisplayName("ServiceNames lists the services of a port range; bad bounds exit 2")
    void serviceNames() throws Exception {
        Path database = Files.createTempFile("services", "");
        Files.writeString(database, String.join("\n", "# a services database", "echo\t\t7/tcp",
                "echo\t\t7/udp", "qotd\t\t17/tcp\t\tquote\t# the quote of the day", "ssh\t\t22/tcp",
                "http\t\t80/tcp\t\twww", "bogus\t\t99999/tcp", "alt\t\t8000/tcp", ""));
        List<String> command = List.of(java, "-Dservices.database=" + database, "exercises/ServiceNames.java");
        Result some = run(concat(command, List.of("5", "80")), 30_000);
        assertTrue(some.status == 0 && some.stdout.equals("7/tcp echo\n7/udp echo\n17/tcp qotd quote\n22/tcp ssh\n"
                + "80/tcp http www\n"), "5 to 80: " + some.status + "\n" + some.stdout + some.stderr);
        Result defaults = run(command, 30_000);
        assertTrue(defaults.stdout.equals("7/tcp echo\n7/udp echo\n17/tcp qotd quote\n22/tcp ssh\n80/tcp http www\n"),
                "the default range, 1 to 1023: " + defaults.stdout);
        Result high = run(concat(command, List.of("1024")), 30_000);
        assertTrue(high.status == 0 && high.stdout.isEmpty(), "1024 alone: " + high.stdout + high.stderr);
        for (List<String> bad : List.of(List.of("-1"), List.of("65536"), List.of("80", "7"), List.of("x"),
                List.of("1", "2", "3"), List.of("٣"))) {
            Result r = run(concat(command, bad), 30_000);
            assertTrue(r.status == 2 && r.stderr.startsWith("service-names: ") && !r.stderr.contains("Exception"),
                    bad + ": exit status " + r.status + ", " + r.stderr);
        }
        Result none = run(List.of(java, "-Dservices.database=/nonexistent/services", "exercises/ServiceNames.java"),
                30_000);
        assertTrue(none.status == 1 && none.stderr.equals("service-names: no services database here"
                + " (/nonexistent/services does not exist)\n"), "no database: " + none.status + " " + none.stderr);
        Files.delete(database);
    }
}
