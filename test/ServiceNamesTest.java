// ServiceNamesTest.java: the side task, exercises/ServiceNames.java, which lists the services of a port range.

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.tools.ToolProvider;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.*;

class ServiceNamesTest extends Harness {
    static final String SERVICES = String.join("\n", "# a services database", "echo\t\t7/tcp", "echo\t\t7/udp",
            "qotd\t\t17/tcp\t\tquote\t# the quote of the day", "ssh\t\t22/tcp", "http\t\t80/tcp\t\twww",
            "bogus\t\t99999/tcp", "alt\t\t8000/tcp", "");
    static final String LOW_PORTS = "7/tcp echo\n7/udp echo\n17/tcp qotd quote\n22/tcp ssh\n80/tcp http www\n";

    @TempDir
    static Path dir;

    /** Compiled once: a JVM per case is enough, without the source launcher's compile in each. */
    @BeforeAll
    static void compile() throws Exception {
        Files.writeString(dir.resolve("services"), SERVICES);
        int status = ToolProvider.getSystemJavaCompiler().run(null, null, null, "-d", dir.toString(),
                root.resolve("exercises/ServiceNames.java").toString());
        assertEquals(0, status, "exercises/ServiceNames.java does not compile");
    }

    static Result serviceNames(String database, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(java, "-Dservices.database=" + database, "-cp", dir.toString(),
                "ServiceNames"));
        command.addAll(List.of(args));
        return run(command, 30_000);
    }

    @Test
    @DisplayName("ServiceNames lists the services of a port range, 1 to 1023 by default")
    void listsARange() throws Exception {
        String database = dir.resolve("services").toString();
        Result some = serviceNames(database, "5", "80");
        assertEquals(0, some.status, some.stderr);
        assertEquals(LOW_PORTS, some.stdout, "5 to 80");
        assertEquals(LOW_PORTS, serviceNames(database).stdout, "the default range, 1 to 1023");
        Result high = serviceNames(database, "1024");
        assertEquals(0, high.status, high.stderr);
        assertEquals("", high.stdout, "1024 alone: 8000 is above the default high bound");
    }

    @ParameterizedTest(name = "bounds {0}: one line, exit 2")
    @ValueSource(strings = {"-1", "65536", "80 7", "x", "1 2 3", "٣"})
    void badBounds(String bounds) throws Exception {
        Result r = serviceNames(dir.resolve("services").toString(), bounds.split(" "));
        assertEquals(2, r.status, r.stderr);
        assertTrue(r.stderr.startsWith("service-names: ") && !r.stderr.contains("Exception"), r.stderr);
    }

    @Test
    @DisplayName("ServiceNames without a services database: one line, exit 1")
    void noDatabase() throws Exception {
        Result none = serviceNames("/nonexistent/services");
        assertEquals(1, none.status);
        assertEquals("service-names: no services database here (/nonexistent/services does not exist)\n",
                none.stderr);
    }
}
