// Mutants.java: runs the bugs of test/mutants.md against the suite (./run.sh mutants [N ...]).
//
// For each mutant: the repository is copied once to a temporary folder, the mutant's one-line change is made
// there, the test it names is run, and the change is undone. A mutant is killed when its test fails; one that
// does not compile, or whose `find` text is not in the file exactly once, is an error in the list.
// JDK only. Ends with "N passed, N failed" (passed: killed) and exits 1 if any mutant survived.

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public final class Mutants {
    record Mutant(int number, String title, String file, String find, String replace, String killedBy) { }

    static final Pattern FIELD = Pattern.compile("^- (file|find|replace|killed by): `(.*)`\\s*$");

    public static void main(String[] args) throws Exception {
        Path root = Path.of("").toAbsolutePath();
        List<Mutant> all = parse(Files.readAllLines(root.resolve("test/mutants.md")));
        List<Mutant> chosen = new ArrayList<>();
        for (Mutant m : all) {
            if (args.length == 0 || List.of(args).contains(String.valueOf(m.number()))) chosen.add(m);
        }
        if (chosen.isEmpty()) {
            System.err.println("mutants: no mutant numbered " + String.join(", ", args) + "; there are " + all.size());
            System.exit(2);
        }
        Path copy = Files.createTempDirectory("echo-mutants");
        run(root, List.of("bash", "-c", "git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t " + copy));
        int killed = 0, survived = 0;
        for (Mutant m : chosen) {
            Path file = copy.resolve(m.file());
            String original = Files.readString(file);
            int at = original.indexOf(m.find());
            String verdict;
            if (at < 0 || original.indexOf(m.find(), at + 1) >= 0) {
                verdict = "ERROR (the find text is " + (at < 0 ? "not in " : "more than once in ") + m.file() + ")";
            } else {
                Files.writeString(file, original.substring(0, at) + m.replace() + original.substring(at + m.find().length()));
                Path log = copy.resolve("mutant-" + m.number() + ".log");
                int status = run(copy, List.of("./run.sh", "test", m.killedBy()), log);
                String output = Files.readString(log, StandardCharsets.UTF_8);
                Files.writeString(file, original);
                if (output.contains("COMPILATION ERROR")) verdict = "ERROR (the mutant does not compile; see " + log + ")";
                else if (status != 0 && output.matches("(?s).*Tests run: \\d+, (Failures: [1-9]|Failures: \\d+, Errors: [1-9]).*")) {
                    verdict = "KILLED";
                } else verdict = "SURVIVED (see " + log + ")";
            }
            if (verdict.equals("KILLED")) killed++;
            else survived++;
            System.out.println(verdict + "  " + m.number() + ". " + m.title() + "  [" + m.killedBy() + "]");
        }
        System.out.println(killed + " passed, " + survived + " failed");
        System.exit(survived == 0 ? 0 : 1);
    }

    /** The entries: a "## " heading, then the four fields, each one line, taken literally. */
    static List<Mutant> parse(List<String> lines) {
        List<Mutant> mutants = new ArrayList<>();
        String title = null;
        String[] fields = new String[4];
        List<String> names = List.of("file", "find", "replace", "killed by");
        for (String line : lines) {
            Matcher field = FIELD.matcher(line);
            if (line.startsWith("## ")) {
                title = line.substring(3).trim();
                fields = new String[4];
            } else if (title != null && field.matches()) {
                fields[names.indexOf(field.group(1))] = field.group(2);
                if (fields[0] != null && fields[1] != null && fields[2] != null && fields[3] != null) {
                    mutants.add(new Mutant(mutants.size() + 1, title, fields[0], fields[1], fields[2], fields[3]));
                    title = null;
                }
            }
        }
        return mutants;
    }

    static int run(Path directory, List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).directory(directory.toFile()).inheritIO().start();
        return p.waitFor();
    }

    static int run(Path directory, List<String> command, Path log) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).directory(directory.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        return p.waitFor();
    }
}
