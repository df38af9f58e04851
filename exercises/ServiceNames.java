// ServiceNames.java: the services named for a range of ports in the system's services database (/etc/services),
// the side task of the course's third seed. JDK only:
//   java exercises/ServiceNames.java [LOW [HIGH]]     ports LOW to HIGH, both included (default 1 to 1023)
// Prints "PORT/PROTOCOL NAME [ALIASES]" in port order. A bad bound is exit 2 with the reason; no database, exit 1.

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

public final class ServiceNames {
    static final Path DATABASE = Path.of(System.getProperty("services.database", "/etc/services"));

    record Entry(int port, String protocol, String names) { }

    public static void main(String[] args) {
        if (args.length > 2) usage("at most two bounds");
        int low = args.length > 0 ? port(args[0], "LOW") : 1;
        int high = args.length > 1 ? port(args[1], "HIGH") : Math.max(low, 1023);
        if (low > high) usage("LOW (" + low + ") is above HIGH (" + high + ")");
        List<String> lines;
        try {
            lines = Files.readAllLines(DATABASE);
        } catch (NoSuchFileException e) {
            System.err.println("service-names: no services database here (" + DATABASE + " does not exist)");
            System.exit(1);
            return;
        } catch (IOException e) {
            System.err.println("service-names: cannot read " + DATABASE + ": " + e.getMessage());
            System.exit(1);
            return;
        }
        List<Entry> found = new ArrayList<>();
        for (String line : lines) {
            String[] fields = line.replaceFirst("#.*", "").trim().split("\\s+"); // name port/protocol aliases...
            if (fields.length < 2 || !fields[1].matches("\\d{1,5}/\\w+")) continue;
            int port = Integer.parseInt(fields[1].substring(0, fields[1].indexOf('/')));
            if (port < low || port > high) continue;
            List<String> names = new ArrayList<>(List.of(fields));
            names.remove(1);
            found.add(new Entry(port, fields[1].substring(fields[1].indexOf('/') + 1), String.join(" ", names)));
        }
        found.sort(Comparator.comparingInt(Entry::port).thenComparing(Entry::protocol));
        for (Entry e : found) System.out.println(e.port() + "/" + e.protocol() + " " + e.names());
    }

    /** A port number: ASCII digits, 0 to 65535. */
    static int port(String text, String which) {
        if (!text.matches("[0-9]{1,5}") || Integer.parseInt(text) > 65535) {
            usage(which + " must be a port number from 0 to 65535, not '" + text + "'");
        }
        return Integer.parseInt(text);
    }

    static void usage(String reason) {
        System.err.println("service-names: " + reason + "\nusage: java exercises/ServiceNames.java [LOW [HIGH]]"
                + "   (ports LOW to HIGH, default 1 to 1023)");
        System.exit(2);
    }
}
