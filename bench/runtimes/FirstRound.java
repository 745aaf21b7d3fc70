// SPDX-License-Identifier: MIT
// The Java side of make bench-runtimes / test-runtimes: after a start-up
// phase (a sleep: a cloud function waiting on its network and configuration;
// faultless's warmers work during it), one first round allocates ARRAYS
// arrays of LEN doubles and fills them. stdout: the checksum (deterministic,
// the same with and without faultless); stderr: one JSON line with the
// round's time and the minor page faults during the round: "faults", the
// program's (every thread's but faultless's own), and "faults_all", the
// process's.
//   java -Xmx2g -XX:+UseSerialGC -cp CLASSES FirstRound [SETUP_MS=300] [ARRAYS=100] [LEN=131072]
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.HashMap;
import java.util.Map;

public final class FirstRound {
    // Minor faults (field 10 of a /proc stat file) of the process and of each
    // thread of faultless's own (its name starts with "faultless"): a
    // warmer's populate counts as its faults, not the program's. The fields
    // are counted after the name's closing parenthesis, since a name may hold
    // spaces. Key -1: the process.
    static Map<Long, Long> minorFaults() throws IOException {
        Map<Long, Long> m = new HashMap<>();
        m.put(-1L, field10(Paths.get("/proc/self/stat"), false));
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(Paths.get("/proc/self/task"))) {
            for (Path t : ds) {
                long f;
                try {
                    f = field10(t.resolve("stat"), true);
                } catch (IOException gone) { // the thread ended meanwhile
                    continue;
                }
                if (f >= 0) m.put(Long.parseLong(t.getFileName().toString()), f);
            }
        }
        return m;
    }

    // -1 when onlyFaultless and the thread is not faultless's.
    static long field10(Path p, boolean onlyFaultless) throws IOException {
        String s = new String(Files.readAllBytes(p), StandardCharsets.US_ASCII);
        int close = s.lastIndexOf(')');
        if (onlyFaultless && !s.substring(s.indexOf('(') + 1, close).startsWith("faultless")) return -1;
        return Long.parseLong(s.substring(close + 2).split(" ")[10 - 3]);
    }

    // {program's, process's} faults between two readings: the process's less
    // what faultless's threads took meanwhile (one started since: all of its).
    static long[] faultsBetween(Map<Long, Long> a, Map<Long, Long> b) {
        long all = b.get(-1L) - a.get(-1L), own = 0;
        for (Map.Entry<Long, Long> e : b.entrySet())
            if (e.getKey() >= 0) own += e.getValue() - a.getOrDefault(e.getKey(), 0L);
        return new long[] {all - own, all};
    }

    public static void main(String[] args) throws Exception {
        int setupMs = args.length > 0 ? Integer.parseInt(args[0]) : 300;
        int arrays = args.length > 1 ? Integer.parseInt(args[1]) : 100;
        int len = args.length > 2 ? Integer.parseInt(args[2]) : 128 * 1024;
        Thread.sleep(setupMs);
        minorFaults(); // loads and links what the reads below use
        Map<Long, Long> f0 = minorFaults();
        long t0 = System.nanoTime();
        double[][] data = new double[arrays][];
        for (int i = 0; i < arrays; i++) {
            double[] a = new double[len];
            for (int j = 0; j < len; j++) a[j] = ((i * 31 + j) % 1000) * 0.25;
            data[i] = a;
        }
        long t1 = System.nanoTime();
        long[] faults = faultsBetween(f0, minorFaults());
        // Exact: every partial sum is a multiple of 0.25 far below 2^50.
        double sum = 0;
        for (double[] a : data)
            for (double v : a) sum += v;
        System.out.printf("java first round: %d arrays of %d doubles, checksum %.2f%n", arrays, len, sum);
        System.err.printf("{\"program\": \"java\", \"round_ms\": %.3f, \"faults\": %d, \"faults_all\": %d}%n",
                          (t1 - t0) / 1e6, faults[0], faults[1]);
    }
}
