// SPDX-License-Identifier: MIT
// The Java side of make bench-runtimes / test-runtimes: after a start-up
// phase (a sleep: a cloud function waiting on its network and configuration;
// faultless's warmers work during it), one first round allocates ARRAYS
// arrays of LEN doubles and fills them. stdout: the checksum (deterministic,
// the same with and without faultless); stderr: one JSON line with the
// round's time and the process's minor page faults during the round, read
// from /proc/self/stat before and after.
//   java -Xmx2g -XX:+UseSerialGC -cp CLASSES FirstRound [SETUP_MS=300] [ARRAYS=100] [LEN=131072]
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;

public final class FirstRound {
    // Field 10 of /proc/self/stat (minflt, every thread of the process). The
    // fields are counted after the command name's closing parenthesis, since
    // the name may hold spaces.
    static long minorFaults() throws Exception {
        String s = new String(Files.readAllBytes(Paths.get("/proc/self/stat")), StandardCharsets.US_ASCII);
        String[] f = s.substring(s.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[10 - 3]);
    }

    public static void main(String[] args) throws Exception {
        int setupMs = args.length > 0 ? Integer.parseInt(args[0]) : 300;
        int arrays = args.length > 1 ? Integer.parseInt(args[1]) : 100;
        int len = args.length > 2 ? Integer.parseInt(args[2]) : 128 * 1024;
        Thread.sleep(setupMs);
        minorFaults(); // loads and links what the reads below use
        long f0 = minorFaults();
        long t0 = System.nanoTime();
        double[][] data = new double[arrays][];
        for (int i = 0; i < arrays; i++) {
            double[] a = new double[len];
            for (int j = 0; j < len; j++) a[j] = ((i * 31 + j) % 1000) * 0.25;
            data[i] = a;
        }
        long t1 = System.nanoTime();
        long f1 = minorFaults();
        // Exact: every partial sum is a multiple of 0.25 far below 2^50.
        double sum = 0;
        for (double[] a : data)
            for (double v : a) sum += v;
        System.out.printf("java first round: %d arrays of %d doubles, checksum %.2f%n", arrays, len, sum);
        System.err.printf("{\"program\": \"java\", \"round_ms\": %.3f, \"faults\": %d}%n", (t1 - t0) / 1e6, f1 - f0);
    }
}
