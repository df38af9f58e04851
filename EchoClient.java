// EchoClient.java: the console client for EchoServer.java.
//
//   java EchoClient.java [--host H] [--port N] [MESSAGE ...]
//
// With a message: send it and a newline, half-close, print the reply exactly as it
// arrives, exit 0. Without one: interactive, like telnet; end of input (Ctrl-D) ends it.
// Bytes are copied as they are, so UTF-8 text round-trips exactly.

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

public final class EchoClient {
    static final String USAGE = String.join("\n",
            "usage: java EchoClient.java [--host H] [--port N] [MESSAGE ...]",
            "  --host H   server host (default localhost)",
            "  --port N   server port (default 8000)",
            "  MESSAGE    sent as one line (words joined by spaces); the reply is printed.",
            "             Without a message, each line typed is sent; Ctrl-D ends.",
            "");
    static final int CONNECT_TIMEOUT_MILLIS = 5000;

    public static void main(String[] args) {
        String host = "localhost";
        int port = 8000;
        List<String> words = new ArrayList<>();
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--host" -> host = value(args, ++i, "--host");
                    case "--port" -> port = port(value(args, ++i, "--port"));
                    case "--help", "-h" -> {
                        System.out.print(USAGE);
                        return;
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

        Socket socket = new Socket();
        try {
            socket.connect(new InetSocketAddress(host, port), CONNECT_TIMEOUT_MILLIS);
        } catch (IOException e) {
            System.err.println("cannot connect to " + host + ":" + port + ": " + reason(e));
            System.exit(1);
        }
        try (socket) {
            if (words.isEmpty()) {
                interactive(socket);
            } else {
                byte[] line = (String.join(" ", words) + "\n").getBytes(StandardCharsets.UTF_8);
                socket.getOutputStream().write(line);
                socket.shutdownOutput(); // the server echoes what it has, then closes
                socket.getInputStream().transferTo(System.out);
                System.out.flush();
            }
        } catch (IOException e) {
            System.out.flush();
            System.err.println("connection to " + host + ":" + port + " lost: " + reason(e));
            System.exit(1);
        }
    }

    private static volatile boolean inputEnded;

    /** Like telnet: typed bytes go out as they are; a second thread prints what comes back. */
    private static void interactive(Socket socket) throws IOException {
        InputStream fromServer = socket.getInputStream();
        Thread printer = new Thread(() -> {
            try {
                fromServer.transferTo(System.out);
            } catch (IOException e) {
                // the connection broke: reported just below like a close
            }
            System.out.flush();
            if (!inputEnded) { // the server closed first, while the user could still type
                System.err.println("connection closed by the server");
                System.exit(1);
            }
        }, "printer");
        printer.start();

        OutputStream toServer = socket.getOutputStream();
        System.in.transferTo(toServer);
        inputEnded = true;
        socket.shutdownOutput(); // Ctrl-D: the server echoes any unfinished line, then closes
        try {
            printer.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static String value(String[] args, int i, String option) {
        if (i >= args.length) {
            throw new IllegalArgumentException(option + " needs a value");
        }
        return args[i];
    }

    private static int port(String text) {
        try {
            int port = Integer.parseInt(text);
            if (port >= 1 && port <= 65535) {
                return port;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException("invalid port '" + text + "': expected a whole number from 1 to 65535");
    }

    /** A short reason for a person, from the exception's type rather than its message text. */
    private static String reason(IOException e) {
        if (e instanceof ConnectException) {
            return "connection refused";
        }
        if (e instanceof UnknownHostException) {
            return "unknown host";
        }
        if (e instanceof SocketTimeoutException) {
            return "timed out";
        }
        return e.getMessage() != null ? e.getMessage() : e.toString();
    }
}
