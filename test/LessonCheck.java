// LessonCheck.java: The lesson against its docs: roles, PATTERNS.md's links and diagrams, the file's shape.

import java.io.IOException;
import java.lang.annotation.Annotation;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.channels.SocketChannel;
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
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

@Tag("check")
class LessonCheck extends Harness {

    /** Which classes carry which role annotation: the structure PATTERNS.md describes. */
    static final Map<String, List<String>> ROLES = Map.of(
            "Reactor", List.of("SelectorReactor"),
            "Acceptor", List.of("SocketAcceptor"),
            "ConcreteEventHandler", List.of("Connection", "SocketAcceptor"),
            "ServiceHandler", List.of("EchoService", "QuoteService", "ChatService"),
            "WrapperFacade", List.of("ListeningSocket", "SocketStream"));

    /** The same for the client, whose connector is the other half of Acceptor-Connector. */
    static final Map<String, List<String>> CLIENT_ROLES = Map.of(
            "Reactor", List.of("SelectorReactor"),
            "Connector", List.of("SocketConnector"),
            "ConcreteEventHandler", List.of("Connection", "SocketConnector"),
            "ServiceHandler", List.of("InteractiveService", "MessageService"),
            "WrapperFacade", List.of("ConnectingSocket", "SocketStream"));

    /**
     * ./run.sh check --fix: rewrites every line link in PATTERNS.md to where locate finds its name today, and says
     * how many it changed. A link to a name declared nowhere is left for you to mend (exit 1).
     */
    public static void main(String[] args) { // hides Harness's main, which runs an attack
        if (!List.of(args).equals(List.of("--fix"))) {
            System.err.println("usage: ./run.sh check --fix (LessonCheck --fix)");
            System.exit(2);
        }
        try {
            System.exit(fixLinks());
        } catch (IOException e) {
            System.err.println("LessonCheck --fix: " + e);
            System.exit(1);
        }
    }

    /** Rewrites PATTERNS.md's line links; returns the exit status: 1 if a link names something declared nowhere. */
    static int fixLinks() throws IOException {
        Map<String, List<String>> sources = Map.of(
                "EchoServer", Files.readAllLines(root.resolve("EchoServer.java")),
                "EchoClient", Files.readAllLines(root.resolve("EchoClient.java")));
        Path file = root.resolve("PATTERNS.md");
        String patterns = Files.readString(file);
        StringBuilder fixed = new StringBuilder();
        int links = 0, changed = 0;
        List<String> unknown = new ArrayList<>();
        Matcher m = LINK.matcher(patterns);
        while (m.find()) {
            links++;
            int[] at = locate(sources.get(m.group(2)), m.group(1));
            String link = m.group();
            if (at == null) {
                unknown.add("`" + m.group(1) + "` is declared nowhere in " + m.group(2) + ".java");
            } else {
                link = "[`" + m.group(1) + "`](" + m.group(2) + ".java#L" + at[0] + "-L" + at[1] + ")";
            }
            changed += link.equals(m.group()) ? 0 : 1;
            m.appendReplacement(fixed, Matcher.quoteReplacement(link));
        }
        m.appendTail(fixed);
        if (changed > 0) {
            Files.writeString(file, fixed.toString());
        }
        System.out.println("PATTERNS.md: " + changed + " of " + links + " line links changed");
        for (String problem : unknown) {
            System.out.println("PATTERNS.md: " + problem + ": correct the name, or remove the link");
        }
        return unknown.isEmpty() ? 0 : 1;
    }

    /**
     * EchoServer.java as the lesson has it: the file with every exercise applied to it taken out again in a copy
     * (ExerciseCheck.takeOut). PATTERNS.md and the lesson's measures describe the lesson; a solution applied to it is
     * ExerciseCheck's to check, and must not turn these checks red.
     */
    static List<String> lesson() throws Exception {
        Path dir = Files.createTempDirectory("lesson");
        Path copy = Files.copy(root.resolve("EchoServer.java"), dir.resolve("EchoServer.java"));
        try {
            ExerciseCheck.takeOut(dir, null);
            return Files.readAllLines(copy);
        } finally {
            Files.delete(copy);
            Files.delete(dir);
        }
    }

    /** The role annotations, their values, --roles and PATTERNS.md agree; each sentence is said once in the code. */
    @Test
    @DisplayName("role annotations, --roles and PATTERNS.md agree; each role is said once")
    void roles() throws Exception {
        String rolesOutput = annotatedRoles("EchoServer", ROLES);
        annotatedRoles("EchoClient", CLIENT_ROLES);
        Result r = run(List.of(java, "-cp", classes.toString(), "EchoServer", "--roles"), 20_000);
        assertTrue(r.status == 0, "--roles exit status " + r.status);
        List<String> printed = new ArrayList<>(List.of(r.stdout.split("\n")));
        List<String> wanted = new ArrayList<>(List.of(rolesOutput.split("\n")));
        Collections.sort(printed);
        Collections.sort(wanted);
        assertTrue(printed.equals(wanted), "--roles printed:\n" + r.stdout + "expected:\n" + rolesOutput
                + "(a role class missing from --roles: add it to EchoServer.ROLE_CLASSES)");
        for (String service : List.of("EchoService", "QuoteService", "ChatService")) {
            assertTrue(r.stdout.contains(service + ": @ServiceHandler: "), "--roles does not list the service "
                    + service + ": add it to EchoServer.ROLE_CLASSES");
        }
    }

    /**
     * Checks one program's role annotations against the expected classes and PATTERNS.md; returns "Class: @Role:
     * sentence" lines. A service handler the lesson does not have (an exercise's, or one you add) needs a sentence of
     * its own, but neither a place in ROLES nor in PATTERNS.md: adding a service is what the patterns are for.
     */
    static String annotatedRoles(String program, Map<String, List<String>> roles) throws Exception {
        // a sentence may be written as "…" + "…" over several lines: read it as one string
        String source = Files.readString(root.resolve(program + ".java")).replaceAll("\"\\s*\\+\\s*\"", "");
        String patterns = Files.readString(root.resolve("PATTERNS.md"));
        StringBuilder output = new StringBuilder();
        Map<String, List<String>> found = new LinkedHashMap<>();
        try (URLClassLoader loader = new URLClassLoader(new URL[] {classes.toUri().toURL()}, null)) {
            for (Class<?> type : loader.loadClass(program).getDeclaredClasses()) {
                for (Annotation a : type.getAnnotations()) {
                    String role = a.annotationType().getSimpleName();
                    if (!roles.containsKey(role)) {
                        continue;
                    }
                    String name = program + "." + type.getSimpleName();
                    assertTrue(a.annotationType().getAnnotation(java.lang.annotation.Retention.class) != null, role
                            + " not kept at run time: give its annotation type @Retention(RetentionPolicy.RUNTIME)");
                    Method value = a.annotationType().getDeclaredMethod("value");
                    value.setAccessible(true); // the annotation types are package-private, as nested types
                    String sentence = (String) value.invoke(a);
                    boolean added = role.equals("ServiceHandler") && !roles.get(role).contains(type.getSimpleName());
                    if (!added) {
                        found.computeIfAbsent(role, r -> new ArrayList<>()).add(type.getSimpleName());
                    }
                    output.append(type.getSimpleName()).append(": @").append(role).append(": ").append(sentence)
                            .append('\n');
                    assertTrue(sentence.startsWith("Plays the "), name + "'s role sentence should say which role it"
                            + " plays: start it with \"Plays the \"");
                    assertTrue(count(source, sentence) == 1, name + "'s role sentence should stand once in " + program
                            + ".java, in its annotation: say it there only");
                    assertTrue(added || oneLine(patterns).contains(sentence), "PATTERNS.md does not say, for " + name
                            + ": " + sentence + " (copy it into PATTERNS.md's \"Who plays which role\")");
                }
            }
        }
        for (List<String> types : found.values()) {
            Collections.sort(types);
        }
        Map<String, List<String>> expected = new LinkedHashMap<>();
        roles.forEach((role, types) -> expected.put(role, types.stream().sorted().toList()));
        assertTrue(found.equals(expected), program + ": role annotations found: " + found + ", expected " + expected
                + " (annotate the class; if the lesson's roles changed, change LessonCheck's ROLES and PATTERNS.md)");
        return output.toString();
    }

    static final Pattern MEMBER = Pattern.compile("^    (?:[a-z]+ )*(class|interface|record|@interface) (\\w+)");

    static final Pattern CHANNEL_TYPE = Pattern.compile(
            "\\b(SocketChannel|ServerSocketChannel|SelectableChannel|SelectionKey|Selector)\\b");

    /**
     * The rules the lesson's shape is held to: no line over 120 characters; in the server, a Part II after Part I,
     * and in Part I only role classes, roles' interfaces and small values; in both files, the JDK's channel types only
     * inside a wrapper facade or the reactor. Its sizes are not checked: README says them as measured. The rules hold for the lesson without the exercises applied (lesson()).
     */
    @Test
    @DisplayName("the lesson's shape: Part I of role classes, no channel outside a facade, 120 columns")
    void lessonShape() throws Exception {
        List<String> problems = new ArrayList<>();
        List<String> lesson = lesson();
        List<String> server = Files.readAllLines(root.resolve("EchoServer.java"));
        List<String> client = Files.readAllLines(root.resolve("EchoClient.java"));
        int partTwo = -1;
        for (int i = 0; i < lesson.size(); i++) {
            partTwo = partTwo < 0 && lesson.get(i).matches("    // =+ PART II.*") ? i : partTwo;
        }
        expect(problems, partTwo >= 0, "EchoServer.java has no line \"// ===... PART II\": mark where Part I ends");
        for (int i = 0; i < partTwo; i++) {
            Matcher m = MEMBER.matcher(lesson.get(i));
            if (m.find()) {
                String name = m.group(2) + " (line " + (i + 1) + ")";
                int size = closingBrace(lesson, i) - i + 1;
                expect(problems, !roles(lesson, i).isEmpty() || !m.group(1).equals("class") || size <= 40, name
                        + " is in Part I, but is neither a role class, nor a role's interface, nor a small value:"
                        + " move it to Part II");
            }
        }
        for (Map.Entry<String, List<String>> file : Map.of("EchoServer", server, "EchoClient", client).entrySet()) {
            List<String> source = file.getValue();
            boolean[] facadeOrReactor = new boolean[source.size()];
            for (int i = 0; i < source.size(); i++) {
                expect(problems, source.get(i).length() <= 120, file.getKey() + ".java:" + (i + 1)
                        + " is over 120 characters: wrap it");
                if (MEMBER.matcher(source.get(i)).find()) {
                    String roles = roles(source, i);
                    boolean allowed = roles.contains("@WrapperFacade(") || roles.contains("@Reactor(");
                    Arrays.fill(facadeOrReactor, i, closingBrace(source, i) + 1, allowed);
                }
            }
            boolean inBlock = false;
            for (int i = 0; i < source.size(); i++) {
                String code = source.get(i).replaceAll("\"(\\\\.|[^\"\\\\])*\"", "\"\"").replaceAll("//.*", "").trim();
                inBlock |= code.startsWith("/*");
                boolean comment = inBlock || code.startsWith("*") || code.startsWith("import ");
                inBlock &= !code.contains("*/");
                Matcher channel = CHANNEL_TYPE.matcher(code);
                expect(problems, comment || facadeOrReactor[i] || !channel.find(), file.getKey() + ".java:" + (i + 1)
                        + " uses " + (channel.find(0) ? channel.group() : "") + " outside a wrapper facade and the"
                        + " reactor: call the facade (SocketStream, ListeningSocket) instead");
            }
        }
        assertTrue(problems.isEmpty(), String.join("; ", problems));
    }

    /** The annotation lines right above the member declared on line i (one or several lines each). */
    static String roles(List<String> source, int i) {
        String roles = "";
        for (int a = i - 1; a > 0 && source.get(a).matches("    @.*|            .*"); a--) {
            roles += source.get(a);
        }
        return roles;
    }

    static final Pattern LINK = Pattern.compile(
            "\\[`([^`]+)`\\]\\((Echo(?:Server|Client))\\.java#L(\\d+)(?:-L(\\d+))?\\)");

    /**
     * Each link [`Name`](EchoServer.java#La-Lb) in PATTERNS.md (or into EchoClient.java) must start
     * at Name's declaration (or the annotation just above it) and end at its closing brace. Name is a
     * nested type, a method of one (`Type.method()`), or a top-level member. A link into the server may
     * be right for the file as it is, or for the lesson (lesson(): without the exercises applied to it),
     * so that applying a solution needs no change to PATTERNS.md. `./run.sh check --fix` mends the rest.
     */
    @Test
    @DisplayName("every line range in PATTERNS.md holds what it names")
    void lineRanges() throws Exception {
        Map<String, List<List<String>>> sources = Map.of(
                "EchoServer", List.of(Files.readAllLines(root.resolve("EchoServer.java")), lesson()),
                "EchoClient", List.of(Files.readAllLines(root.resolve("EchoClient.java"))));
        String patterns = Files.readString(root.resolve("PATTERNS.md"));
        Matcher m = LINK.matcher(patterns);
        int links = 0;
        Set<String> wrong = new LinkedHashSet<>();
        while (m.find()) {
            links++;
            String name = m.group(1);
            String file = m.group(2) + ".java";
            int from = Integer.parseInt(m.group(3));
            int to = m.group(4) == null ? from : Integer.parseInt(m.group(4));
            List<int[]> places = new ArrayList<>();
            for (List<String> source : sources.get(m.group(2))) {
                int[] actual = locate(source, name);
                if (actual != null) {
                    places.add(actual);
                }
            }
            if (places.isEmpty()) {
                wrong.add("`" + name + "` is not declared in " + file + ": correct the name in PATTERNS.md, or remove"
                        + " the link");
            } else if (places.stream().noneMatch(p -> p[0] == from && p[1] == to)) {
                wrong.add("`" + name + "` is at " + file + "#L" + places.get(0)[0] + "-L" + places.get(0)[1]
                        + ", PATTERNS.md says #L" + from + (m.group(4) == null ? "" : "-L" + to));
            }
        }
        assertTrue(links >= 20, "only " + links + " line links in PATTERNS.md");
        assertTrue(wrong.isEmpty(), String.join("; ", wrong) + (wrong.stream().anyMatch(w -> w.contains(" is at "))
                ? ". Run ./run.sh check --fix to rewrite the links from the code" : ""));
        for (String type : List.of("Events", "EventHandler", "SelectorReactor", "ServiceFactory", "SocketAcceptor",
                "Transport", "Connection", "Service", "EchoService", "QuoteService", "ChatRoom", "ChatService",
                "ListeningSocket", "SocketStream", "Limits", "LineBuffer", "OutputQueue", "Patience", "Text",
                "Trace")) {
            assertTrue(patterns.contains("[`" + type + "`](EchoServer.java#L"), "PATTERNS.md has no line link for "
                    + type + ": write one, [`" + type + "`](EchoServer.java#L1), then run ./run.sh check --fix");
        }
        for (String type : List.of("SocketConnector", "SelectorReactor", "Connection", "MessageService",
                "InteractiveService", "ConnectingSocket", "SocketStream")) {
            assertTrue(patterns.contains("[`" + type + "`](EchoClient.java#L"), "PATTERNS.md has no line link into"
                    + " EchoClient.java for " + type + ": write one, [`" + type + "`](EchoClient.java#L1), then run"
                    + " ./run.sh check --fix");
        }
    }

    /**
     * The Mermaid diagrams in PATTERNS.md: every class they name is a type in one of the two programs or a JDK channel
     * type; every class with a role annotation in either program is in a diagram; one diagram is a sequence diagram.
     */
    @Test
    @DisplayName("PATTERNS.md's diagrams name only classes that exist, and every role class")
    void diagrams() throws Exception {
        String patterns = Files.readString(root.resolve("PATTERNS.md"));
        String code = Files.readString(root.resolve("EchoServer.java"))
                + Files.readString(root.resolve("EchoClient.java"));
        Set<String> named = new LinkedHashSet<>();
        int blocks = 0;
        boolean sequence = false;
        for (Matcher block = Pattern.compile("(?s)```mermaid\n(.*?)```").matcher(patterns); block.find(); ) {
            blocks++;
            sequence |= block.group(1).startsWith("sequenceDiagram");
            for (String line : block.group(1).split("\n")) {
                Matcher m = Pattern.compile("^\\s*(?:class (\\w+)|participant (\\w+)"
                        + "|(\\w+) (?:<\\|\\.\\.|-->|\\.\\.>|o--) (\\w+)"
                        + "|(\\w+)-[->]+(\\w+):)").matcher(line);
                if (m.find()) {
                    for (int g = 1; g <= m.groupCount(); g++) {
                        if (m.group(g) != null) {
                            named.add(m.group(g));
                        }
                    }
                }
            }
        }
        assertTrue(blocks >= 4 && sequence, "PATTERNS.md has " + blocks + " Mermaid diagrams"
                + (sequence ? "" : ", no sequence") + ": it needs at least 4, one of them a sequence diagram");
        List<String> missing = new ArrayList<>();
        for (String name : named) {
            boolean ours = Pattern.compile("\\b(class|interface|record) " + name + "\\b").matcher(code).find();
            boolean jdk;
            try {
                Class.forName("java.nio.channels." + name);
                jdk = true;
            } catch (ClassNotFoundException e) {
                jdk = false;
            }
            if (!ours && !jdk) {
                missing.add(name);
            }
        }
        assertTrue(missing.isEmpty(), "the diagrams name classes that do not exist: " + missing
                + ": rename or remove them in PATTERNS.md's Mermaid blocks");
        Set<String> roleClasses = new LinkedHashSet<>();
        ROLES.values().forEach(roleClasses::addAll);
        CLIENT_ROLES.values().forEach(roleClasses::addAll);
        List<String> undrawn = roleClasses.stream().filter(c -> !named.contains(c)).toList();
        assertTrue(undrawn.isEmpty(), "role classes in no diagram: " + undrawn + ": draw each in its pattern's"
                + " class diagram in PATTERNS.md");
    }
}
