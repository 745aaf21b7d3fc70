// SPDX-License-Identifier: MIT
// The JVM's start-up, alone: make bench-runtimes runs this do-nothing program
// with -Xms1g (so that AlwaysPreTouch's foreground cost shows) and times it
// from exec to main, from the wall-clock time main prints on stderr (in
// microseconds), and from exec to exit.
import java.time.Instant;

public final class Nothing {
    public static void main(String[] args) {
        Instant now = Instant.now();
        System.err.printf("{\"program\": \"java-startup\", \"main_epoch_us\": %d}%n",
                          now.getEpochSecond() * 1_000_000L + now.getNano() / 1000);
    }
}
