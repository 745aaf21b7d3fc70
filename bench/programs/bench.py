# SPDX-License-Identifier: MIT
"""Real programs across allocators: a numpy workload and a Node + Apache Arrow
workload, each in fresh processes under glibc, jemalloc, mimalloc, tcmalloc
(Debian's libraries through LD_PRELOAD) and faultless (through `faultless run`).

Every process first sleeps SETUP_MS (a cloud function waiting on its network
and configuration; faultless's warmers work during it), then runs the workload
in two rounds and reports each round's time. Allocators are interleaved and
their order rotates every repeat; the first repeat is a discarded warm-up.
Peak RSS comes from getrusage of the child (ru_maxrss), the same figure as
/usr/bin/time's %M.

Not a test: prints a table (median and min-max) and writes
OUT/programs.json and OUT/programs.csv, the command on the first line.
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LIBDIR = "/usr/lib/x86_64-linux-gnu"
PEERS = {
    "jemalloc": "libjemalloc.so.2",
    "mimalloc": "libmimalloc.so.2",
    "tcmalloc": "libtcmalloc_minimal.so.4",
}
PY = "/usr/bin/python3"


def workloads(args):
    return {
        "numpy": dict(
            cmd=[PY, os.path.join(ROOT, "test/programs/python/numpy_columns.py"), "2",
                 str(args.numpy_columns), str(args.numpy_rows), str(args.setup_ms)],
            prefault=args.numpy_prefault),
        "node-arrow": dict(
            cmd=["node", os.path.join(ROOT, "test/programs/node/arrow.mjs"),
                 str(args.arrow_rows), "2", str(args.setup_ms)],
            prefault=args.arrow_prefault),
    }


def command(alloc, work, build):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    for k in list(env):
        if k.startswith("FAULTLESS_"):
            del env[k]
    cmd = list(work["cmd"])
    if alloc in PEERS:
        env["LD_PRELOAD"] = os.path.join(LIBDIR, PEERS[alloc])
    elif alloc == "faultless":
        cmd = [os.path.join(build, "faultless"), "run", "--prefault", work["prefault"], "--"] + cmd
    return cmd, env


def run_once(alloc, work, build):
    """One fresh process: its per-round times, wall time and peak RSS."""
    cmd, env = command(alloc, work, build)
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    p.returncode = 0  # reaped above
    if status != 0:
        raise SystemExit(f"bench-programs: {alloc}: {' '.join(cmd)} failed ({status}):\n"
                         f"{err.decode()[-2000:]}")
    line = [l for l in err.decode().splitlines() if l.startswith("{")][-1]
    # ru_maxrss of the child we waited for (faultless run: the largest of the
    # launcher and CMD, i.e. CMD).
    return dict(rounds_ms=json.loads(line)["rounds_ms"], wall_s=wall, rss_mib=ru.ru_maxrss / 1024)


def med(xs):
    return statistics.median(xs)


def report(args, allocs, todo, results, cmdline):
    os.makedirs(args.out, exist_ok=True)
    csv = [f"# {cmdline}", "workload,allocator,repeat,round1_ms,round2_ms,total_ms,wall_s,peak_rss_mib"]
    summary = {"command": cmdline, "setup_ms": args.setup_ms, "gap_ms": args.gap_ms,
               "repeat": args.repeat, "prefault": {"numpy": args.numpy_prefault, "node-arrow": args.arrow_prefault},
               "workloads": {}}
    for w in todo:
        print(f"\n{w}: median [min-max] of {args.repeat} fresh processes "
              f"(work = both rounds, after the {args.setup_ms} ms setup sleep)")
        print(f"  {'allocator':<10} {'round 1 ms':>22} {'round 2 ms':>22} {'work ms':>22} "
              f"{'r1/r2':>6} {'wall s':>7} {'peak RSS MiB':>18}")
        rows = {}
        for a in allocs:
            runs = results[w][a]
            r1 = [r["rounds_ms"][0] for r in runs]
            r2 = [r["rounds_ms"][1] for r in runs]
            tot = [x + y for x, y in zip(r1, r2)]
            ratio = [x / y for x, y in zip(r1, r2)]
            wall = [r["wall_s"] for r in runs]
            rss = [r["rss_mib"] for r in runs]
            for i, r in enumerate(runs):
                csv.append(f"{w},{a},{i},{r1[i]:.1f},{r2[i]:.1f},{tot[i]:.1f},{wall[i]:.3f},{rss[i]:.1f}")
            rows[a] = dict(round1_ms=med(r1), round2_ms=med(r2), total_ms=med(tot), ratio=med(ratio),
                           wall_s=med(wall), rss_mib=med(rss), total_min=min(tot), total_max=max(tot),
                           runs=runs)
            f = lambda xs: f"{med(xs):7.1f} [{min(xs):6.1f}-{max(xs):6.1f}]"
            print(f"  {a:<10} {f(r1):>22} {f(r2):>22} {f(tot):>22} {med(ratio):6.2f} "
                  f"{med(wall):7.2f} {med(rss):7.1f} [{min(rss):.0f}-{max(rss):.0f}]")
        s = {"allocators": rows}
        if "faultless" in rows:
            fl = rows["faultless"]
            others = {a: r for a, r in rows.items() if a != "faultless"}
            # The target is numpy's: Node's first round also compiles the
            # workload's JavaScript, under every allocator alike.
            print(f"  faultless round 1 / round 2: {fl['ratio']:.2f} (median per process"
                  + ("; target <= 1.15)" if w == "numpy" else
                     "; no target: V8 compiles the workload in round 1, see the peers' r1/r2)"))
            s["faultless_round_ratio"] = fl["ratio"]
            if others:
                best = min(others, key=lambda a: others[a]["total_ms"])
                speedup = others[best]["total_ms"] / fl["total_ms"]
                print(f"  fastest other: {best} {others[best]['total_ms']:.1f} ms; faultless "
                      f"{fl['total_ms']:.1f} ms: {speedup:.2f}x faster"
                      + (" (target >= 1.3x)" if w == "numpy" else ""))
                s["fastest_other"] = best
                s["speedup_vs_fastest_other"] = speedup
            if "glibc" in rows:
                g = rows["glibc"]
                print(f"  vs glibc: {g['total_ms'] / fl['total_ms']:.2f}x; peak RSS {fl['rss_mib']:.0f} MiB vs "
                      f"{g['rss_mib']:.0f} MiB: the warm arena costs {fl['rss_mib'] - g['rss_mib']:+.0f} MiB")
                s["speedup_vs_glibc"] = g["total_ms"] / fl["total_ms"]
                s["rss_cost_vs_glibc_mib"] = fl["rss_mib"] - g["rss_mib"]
        summary["workloads"][w] = s
    with open(os.path.join(args.out, "programs.csv"), "w") as f:
        f.write("\n".join(csv) + "\n")
    with open(os.path.join(args.out, "programs.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(f"\nwritten: {args.out}/programs.csv, {args.out}/programs.json")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--repeat", type=int, default=5, help="measured repeats (plus one warm-up)")
    ap.add_argument("--setup-ms", type=int, default=300)
    ap.add_argument("--gap-ms", type=int, default=0,
                    help="pause before each process (free page reporting returns freed memory to the host after ~2 s)")
    ap.add_argument("--numpy-columns", type=int, default=16)
    ap.add_argument("--numpy-rows", type=int, default=1_000_000)
    ap.add_argument("--numpy-prefault", default="384M")
    ap.add_argument("--arrow-rows", type=int, default=3_000_000)
    ap.add_argument("--arrow-prefault", default="256M")
    ap.add_argument("--allocators", default="glibc,jemalloc,mimalloc,tcmalloc,faultless")
    ap.add_argument("--workloads", default="numpy,node-arrow")
    ap.add_argument("--out", default="build/bench-results/programs")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    allocs = []
    for a in args.allocators.split(","):
        if a in PEERS and not os.path.exists(os.path.join(LIBDIR, PEERS[a])):
            print(f"bench-programs: skipping {a}: {LIBDIR}/{PEERS[a]} missing (scripts/setup)")
            continue
        allocs.append(a)
    works = workloads(args)
    todo = []
    for w in args.workloads.split(","):
        if w == "numpy" and subprocess.run([PY, "-c", "import numpy"], capture_output=True).returncode:
            print("bench-programs: skipping numpy: python3-numpy missing (scripts/setup)")
            continue
        if w == "node-arrow" and not os.path.isdir(os.path.join(ROOT, "test/programs/node/node_modules/apache-arrow")):
            r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"],
                               cwd=os.path.join(ROOT, "test/programs/node"), capture_output=True)
            if r.returncode:
                print("bench-programs: skipping node-arrow: npm ci failed (offline?)")
                continue
        todo.append(w)

    results = {w: {a: [] for a in allocs} for w in todo}
    cmdline = "bench/programs/run.sh " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    print(f"# {cmdline}")
    print(f"# setup phase: each process sleeps {args.setup_ms} ms before working; "
          f"faultless: faultless run --prefault {args.numpy_prefault} (numpy) / {args.arrow_prefault} (node-arrow)")
    for w in todo:
        for rep in range(args.repeat + 1):
            order = allocs[rep % len(allocs):] + allocs[:rep % len(allocs)]
            for a in order:
                if args.gap_ms:
                    time.sleep(args.gap_ms / 1000)
                r = run_once(a, works[w], build)
                if rep > 0:  # the first repeat is a warm-up
                    results[w][a].append(r)
            print(f"  {w}: repeat {rep}/{args.repeat} done" + (" (warm-up, discarded)" if rep == 0 else ""), flush=True)
    report(args, allocs, todo, results, cmdline)


if __name__ == "__main__":
    main()
