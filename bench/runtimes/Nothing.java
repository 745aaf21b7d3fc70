// SPDX-License-Identifier: MIT
// The JVM's start-up, alone: make bench-runtimes times this do-nothing program
// from exec to exit (with -Xms1g, so that AlwaysPreTouch's foreground cost shows).
public final class Nothing {
    public static void main(String[] args) {}
}
