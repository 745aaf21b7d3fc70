#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""make bench-layer: the figures of lambda/README.md for the layer, from the
unzipped x86_64 layer (the wrapper as Lambda runs it), fresh processes,
configurations interleaved and rotated.

  1. start-up: what the wrapper adds to a runtime's start (its load check)
  2. the seed's experiment through the wrapper: first and second batch,
     us per MiB and faults per buffer, beside glibc
  3. peak RSS (what Lambda's "Max Memory Used" reports) with the wrapper's
     default PREFAULT, without it, and with the library's own default

usage: bench.py --layer DIR --seed PATH [--repeat N] [--memory MB]
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

DEVNULL = subprocess.DEVNULL


def timed(cmd, env, n):
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, stdout=DEVNULL, stderr=DEVNULL, check=False)
        ts.append((time.perf_counter() - t0) * 1000)
    return ts


def startup(layer, repeat):
    wrapper, lib = os.path.join(layer, "faultless-wrapper"), os.path.join(layer, "lib/libfaultless.so")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FAULTLESS_", "LD_PRELOAD", "AWS_"))}
    base["FAULTLESS_PREFAULT"] = "0"  # the same start in every case: nothing to warm
    probe = dict(base, LD_PRELOAD=lib, FAULTLESS_STATS="json", FAULTLESS_AHEAD="0", FAULTLESS_WARMERS="0")
    cases = [("/bin/true", ["/bin/true"], base),
             ("LD_PRELOAD=libfaultless.so /bin/true", ["/bin/true"], dict(base, LD_PRELOAD=lib)),
             ("the load check alone", ["/bin/true"], probe),
             ("faultless-wrapper /bin/true", [wrapper, "/bin/true"], base)]
    got = {name: [] for name, _, _ in cases}
    for r in range(repeat):
        for name, cmd, env in cases[r % len(cases):] + cases[:r % len(cases)]:
            got[name] += timed(cmd, env, 20)
    print("start-up (median of %d runs each, ms)" % (20 * repeat))
    for name, _, _ in cases:
        print("  %-40s %6.2f" % (name, statistics.median(got[name])))
    print("  the wrapper adds %.2f ms to a start with faultless preloaded" %
          (statistics.median(got[cases[3][0]]) - statistics.median(got[cases[1][0]])))


def seed_runs(layer, seed, repeat, memory):
    wrapper = os.path.join(layer, "faultless-wrapper")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FAULTLESS_", "LD_PRELOAD"))}
    lam = dict(base, AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(memory))
    args = [seed, "--api", "malloc", "--chunks", "100", "--size", "1M", "--setup-ms", "300",
            "--format", "csv"]
    now = [a if a != "300" else "0" for a in args]  # no start-up: the first buffer at once
    cases = [("glibc", args, lam),
             ("wrapper (PREFAULT %dM)" % min(memory // 4, 1024), [wrapper] + args, lam),
             ("wrapper, FAULTLESS_PREFAULT=0", [wrapper] + args, dict(lam, FAULTLESS_PREFAULT="0")),
             ("glibc, --setup-ms 0", now, lam),
             ("wrapper, --setup-ms 0", [wrapper] + now, lam)]
    rows = {name: {1: [], 2: []} for name, _, _ in cases}
    for r in range(repeat):
        for name, cmd, env in cases[r % len(cases):] + cases[:r % len(cases)]:
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
            for line in out.splitlines():
                f = line.split(",")
                if len(f) == 7 and f[0].isdigit():
                    rows[name][int(f[1])].append((int(f[3]), int(f[4])))
    print("\nseed: %s, AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%d, %d runs each" %
          (" ".join(["seed"] + args[1:]), memory, repeat))
    print("  %-34s %10s %10s %10s %10s" % ("", "1st us/MiB", "flt/buf", "2nd us/MiB", "flt/buf"))
    for name, _, _ in cases:
        cells = []
        for it in (1, 2):
            d = rows[name][it]
            cells += [statistics.median(x[0] for x in d) / 1000, statistics.mean(x[1] for x in d)]
        print("  %-34s %10.0f %10.1f %10.0f %10.1f" % (name, *cells))


def peak_rss(layer, repeat, memory):
    wrapper, lib = os.path.join(layer, "faultless-wrapper"), os.path.join(layer, "lib/libfaultless.so")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FAULTLESS_", "LD_PRELOAD"))}
    lam = dict(base, AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(memory))
    # A function's life: start-up, work, then waiting for the next event,
    # long enough for the warmers to finish.
    work = {"idle": "import time; time.sleep(2)",
            "numpy 64 MiB": "import time, numpy as np; time.sleep(0.3); "
                            "c = [np.arange(1 << 20) * k for k in range(8)]; time.sleep(1.7)"}
    py = [sys.executable, "-c"]
    cases = [("no faultless", [], lam),
             ("wrapper (PREFAULT %dM)" % min(memory // 4, 1024), [wrapper], lam),
             ("wrapper, FAULTLESS_PREFAULT=0", [wrapper], dict(lam, FAULTLESS_PREFAULT="0")),
             ("LD_PRELOAD only (library default, half)", [], dict(lam, LD_PRELOAD=lib))]
    print("\npeak RSS (MiB, median of %d; AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%d)" % (repeat, memory))
    print("  %-42s %14s %14s" % ("", *work))
    res = {}
    for r in range(repeat):
        for name, pre, env in cases[r % len(cases):] + cases[:r % len(cases)]:
            for wname, code in work.items():
                p = subprocess.run(["/usr/bin/time", "-f", "%M"] + pre + py + [code], env=env,
                                   capture_output=True, text=True, check=True)
                res.setdefault((name, wname), []).append(int(p.stderr.split()[-1]) / 1024)
    for name, _, _ in cases:
        print("  %-42s %14.0f %14.0f" % (name, *(statistics.median(res[(name, w)]) for w in work)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layer", required=True, help="the unzipped layer (stands in for /opt)")
    ap.add_argument("--seed", required=True, help="build/bench/seed")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--memory", type=int, default=2048, help="the function's memory, MB")
    a = ap.parse_args()
    startup(a.layer, a.repeat)
    seed_runs(a.layer, a.seed, a.repeat, a.memory)
    peak_rss(a.layer, a.repeat, a.memory)


if __name__ == "__main__":
    main()
