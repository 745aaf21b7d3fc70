# SPDX-License-Identifier: MIT
"""Runtimes that map their heaps themselves: OpenJDK 17's HotSpot and Node's
V8, in fresh processes, without and with faultless.

Programs (bench/runtimes/): FirstRound.java and first_round.mjs sleep
SETUP_MS (a cloud function's start-up; faultless's warmers work during it),
then run one first round and report its time and the minor page faults
during it, from /proc/self/stat and /proc/self/task/*/stat (no perf): the
program's, which the targets are about, and the process's, which also
counts what threads named "faultless..." (faultless's warmers) took while
populating: a populate counts as faults of the thread that does it.
Nothing.java is an empty main: the JVM's start-up, timed from exec to main
(the wall-clock time main prints) and from exec to exit (which adds tearing
down whatever was warmed).

Configurations, each in fresh processes, interleaved, their order rotated
every repeat; the first repeat is a discarded warm-up:
  plain      the runtime alone
  faultless  LD_PRELOAD=BUILD/libfaultless.so FAULTLESS_PREFAULT=1G
  pretouch   (Java only) -XX:+AlwaysPreTouch: the heap touched in the foreground
  faultless-NAME  another library given with --lib NAME=PATH (e.g. an older build, side by side),
             or the library with options of its own: --variant NAME:VAR=VALUE[:VAR=VALUE...]
             (e.g. --variant mmap0:FAULTLESS_MMAP=0)

Targets (medians): Java first-round faults < 5% of plain's, first-round
time <= 1.3x AlwaysPreTouch's, start-up <= 1.1x plain's + 30 ms; Node
first-round faults < 20% of plain's. Not a test: a missed target is printed
as MISSED, and the exit status stays 0. Prints a table and writes it to
OUT/runtimes.txt, with OUT/runtimes.csv (the command on the first line) and
OUT/runtimes.json.
"""
import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# configuration -> the variables --variant sets for it
variants = {}
JAVA_HEAP = ["-Xmx2g", "-XX:+UseSerialGC"]
START_HEAP = ["-Xms1g", "-Xmx2g", "-XX:+UseSerialGC"]

# program: [(metric, config, reference config, factor, slack, strict, text)]:
# met when median(config) < (or <= where not strict) factor * median(reference) + slack.
TARGETS = {
    "java": [
        ("faults", "faultless", "plain", 0.05, 0.0, True, "first-round faults < 5% of plain's"),
        ("round_ms", "faultless", "pretouch", 1.3, 0.0, False, "first-round time <= 1.3x AlwaysPreTouch's"),
    ],
    "java-startup": [
        ("main_ms", "faultless", "plain", 1.1, 30.0, False, "start-up (exec to main) <= 1.1x plain's + 30 ms"),
    ],
    "node": [
        ("faults", "faultless", "plain", 0.20, 0.0, True, "first-round faults < 20% of plain's"),
    ],
}


def find_tools(build):
    """What the runs need, or why a program cannot run: {java: ..., node: ...}."""
    have = {}
    classes = os.path.join(build, "runtimes", "classes")
    if not shutil.which("java"):
        have["java"] = "no java (scripts/setup installs openjdk-17-jdk-headless)"
    elif not os.path.exists(os.path.join(classes, "FirstRound.class")):
        have["java"] = f"{classes}/FirstRound.class not built (no javac? make runtimes-classes)"
    else:
        have["java"] = None
    have["node"] = None if shutil.which("node") else "no node (scripts/setup installs nodejs)"
    return have, classes


def clean_env():
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    for k in list(env):
        if k.startswith("FAULTLESS_"):
            del env[k]
    return env


def command(prog, config, args, classes, libs):
    """The argv and environment of one run of PROG under CONFIG."""
    env = clean_env()
    if config.startswith("faultless"):
        env["LD_PRELOAD"] = libs[config]
        env["FAULTLESS_PREFAULT"] = args.prefault
        env.update(variants.get(config, {}))
        if prog != "java-startup":  # the start-up is timed to the exit: no stats printing there
            env["FAULTLESS_STATS"] = "json"
    pretouch = ["-XX:+AlwaysPreTouch"] if config == "pretouch" else []
    if prog == "java":
        cmd = (["java"] + JAVA_HEAP + pretouch +
               ["-cp", classes, "FirstRound", str(args.setup_ms), str(args.java_arrays), str(args.java_len)])
    elif prog == "java-startup":
        cmd = ["java"] + START_HEAP + pretouch + ["-cp", classes, "Nothing"]
    else:
        cmd = ["node", os.path.join(HERE, "first_round.mjs"), str(args.setup_ms), str(args.node_arrays),
               str(args.node_len), str(args.node_objects)]
    return cmd, env


def run_once(prog, config, args, classes, libs, timeout=120, prefix=(), extra_env=None):
    """One fresh process: stdout, its measurements (round_ms, faults; wall_ms
    from exec to exit; main_ms from exec to main; rss_mib, its peak RSS from
    wait4's ru_maxrss) and faultless's statistics where it printed them.
    PREFIX goes before the command (a wrapper), EXTRA_ENV into its environment."""
    cmd, env = command(prog, config, args, classes, libs)
    cmd = list(prefix) + cmd
    env.update(extra_env or {})
    epoch0 = time.time()
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    timer = threading.Timer(timeout, p.kill)
    timer.start()
    out = p.stdout.read()  # both are a few lines: no pipe fills while the other is read
    err = p.stderr.read().decode(errors="replace")
    _, status, ru = os.wait4(p.pid, 0)
    wall = (time.monotonic() - t0) * 1000
    timer.cancel()
    p.returncode = os.waitstatus_to_exitcode(status)  # reaped above
    if p.returncode != 0:
        raise RuntimeError(f"{prog} under {config}: {shlex.join(cmd)} exited {p.returncode}:\n{err[-2000:]}")
    r = {"wall_ms": wall, "rss_mib": ru.ru_maxrss / 1024, "stdout": out.decode(errors="replace")}
    for line in err.splitlines():
        # The statistics are printed at exit and may follow other output on the same line.
        i = line.find('{"version"')
        if i >= 0:
            try:
                r["stats"] = json.loads(line[i:])
            except ValueError:
                pass
        elif line.startswith('{"program"'):
            r.update(json.loads(line))
    if "main_epoch_us" in r:
        r["main_ms"] = r.pop("main_epoch_us") / 1000 - epoch0 * 1000
    if ("main_ms" if prog == "java-startup" else "faults") not in r:
        raise RuntimeError(f"{prog} under {config}: no measurement line on stderr:\n{err[-2000:]}")
    return r


def med(xs):
    return statistics.median(xs)


def summarize(prog, configs, results):
    rows = {}
    for c in configs:
        runs = results[prog][c]
        row = {"runs": len(runs)}
        for m in ("round_ms", "faults", "faults_all", "main_ms", "wall_ms", "rss_mib"):
            xs = [r[m] for r in runs if m in r]
            if xs:
                row[m] = {"median": med(xs), "min": min(xs), "max": max(xs), "all": xs}
        for s in ("mmap_ranges", "mmap_warmed", "mmap_skipped", "mmap_pooled", "warmed_by_warmers"):
            xs = [r["stats"][s] for r in runs if s in r.get("stats", {})]
            if xs:
                row.setdefault("stats", {})[s] = med(xs)
        rows[c] = row
    return rows


def judge(prog, rows):
    """Each target: the measured ratio, the limit, met or missed."""
    out = []
    for metric, num, den, factor, slack, strict, text in TARGETS.get(prog, []):
        if num not in rows or den not in rows or metric not in rows[num] or metric not in rows[den]:
            continue
        a, b = rows[num][metric]["median"], rows[den][metric]["median"]
        limit = factor * b + slack
        out.append({"target": text, "metric": metric, "value": a, "reference": b, "limit": limit,
                    "ratio": a / b if b else None, "met": a < limit if strict else a <= limit})
    return out


def fmt(row, m, prec=1):
    if m not in row:
        return "-"
    s = row[m]
    return f"{s['median']:.{prec}f} [{s['min']:.{prec}f}-{s['max']:.{prec}f}]"


def report(args, todo, results, cmdline, skipped):
    os.makedirs(args.out, exist_ok=True)
    table = [f"# {cmdline}", f"# faultless: FAULTLESS_PREFAULT={args.prefault}"]

    def out(line):  # printed, and kept for OUT/runtimes.txt
        print(line)
        table.append(line)

    csv = [f"# {cmdline}", "program,config,repeat,round_ms,faults,faults_all,main_ms,wall_ms,peak_rss_mib"]
    summary = {"command": cmdline, "setup_ms": args.setup_ms, "prefault": args.prefault,
               "repeat": args.repeat, "skipped": skipped, "programs": {}}
    missed = 0
    titles = {"java": f"Java first round ({args.java_arrays} arrays of {args.java_len} doubles, "
                      f"{' '.join(JAVA_HEAP)}, after {args.setup_ms} ms)",
              "java-startup": f"JVM start-up (empty main, {' '.join(START_HEAP)})",
              "node": f"Node first round ({args.node_arrays} Float64Arrays of {args.node_len}, "
                      f"{args.node_objects} objects, after {args.setup_ms} ms)"}
    for prog, configs in todo.items():
        rows = summarize(prog, configs, results)
        for c in configs:
            for i, r in enumerate(results[prog][c]):
                csv.append(f"{prog},{c},{i},{r.get('round_ms', '')},{r.get('faults', '')},{r.get('faults_all', '')},"
                           f"{r.get('main_ms', '')},{r['wall_ms']:.1f},{r['rss_mib']:.1f}")
        out(f"\n{titles[prog]}: median [min-max] of {args.repeat} fresh processes")
        if prog == "java-startup":
            out(f"  {'config':<18} {'exec to main ms':>24} {'exec to exit ms':>24} {'peak RSS MiB':>24}")
        else:
            out(f"  {'config':<18} {'first round ms':>24} {'program faults':>26} {'process faults':>26} "
                  f"{'peak RSS MiB':>18}  faultless stats (median)")
        for c in configs:
            row = rows[c]
            if prog == "java-startup":
                out(f"  {c:<18} {fmt(row, 'main_ms'):>24} {fmt(row, 'wall_ms'):>24} {fmt(row, 'rss_mib', 0):>24}")
            else:
                st = " ".join(f"{k}={v:.0f}" for k, v in row.get("stats", {}).items())
                out(f"  {c:<18} {fmt(row, 'round_ms'):>24} {fmt(row, 'faults', 0):>26} {fmt(row, 'faults_all', 0):>26} "
                      f"{fmt(row, 'rss_mib', 0):>18}  {st}")
        verdicts = judge(prog, rows)
        for v in verdicts:
            word = "met" if v["met"] else "MISSED"
            rel = f"{v['ratio']:.3f}x" if v["ratio"] is not None else "-"
            out(f"  target {v['target']}: {v['value']:.1f} vs {v['reference']:.1f} "
                  f"({rel}; limit {v['limit']:.1f}): {word}")
            missed += not v["met"]
        summary["programs"][prog] = {"configs": rows, "targets": verdicts}
    summary["targets_missed"] = missed
    with open(os.path.join(args.out, "runtimes.csv"), "w") as f:
        f.write("\n".join(csv) + "\n")
    with open(os.path.join(args.out, "runtimes.json"), "w") as f:
        json.dump(summary, f, indent=1)
    out(f"\nbench-runtimes: {missed} target(s) missed" if missed else "\nbench-runtimes: every target met")
    with open(os.path.join(args.out, "runtimes.txt"), "w") as f:
        f.write("\n".join(table) + "\n")
    print(f"written: {args.out}/runtimes.txt, {args.out}/runtimes.csv, {args.out}/runtimes.json")


def parser(doc=__doc__):
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--repeat", type=int, default=5, help="measured repeats (plus one warm-up)")
    ap.add_argument("--setup-ms", type=int, default=300)
    ap.add_argument("--prefault", default="1G", help="FAULTLESS_PREFAULT of the faultless runs")
    ap.add_argument("--java-arrays", type=int, default=100)
    ap.add_argument("--java-len", type=int, default=128 * 1024)
    ap.add_argument("--node-arrays", type=int, default=40)
    ap.add_argument("--node-len", type=int, default=1024 * 1024)
    ap.add_argument("--node-objects", type=int, default=1_000_000)
    ap.add_argument("--programs", default="java,java-startup,node")
    ap.add_argument("--lib", action="append", default=[], metavar="NAME=PATH",
                    help="another libfaultless.so, run as configuration faultless-NAME")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME:VAR=VALUE[:VAR=VALUE...]",
                    help="the library with these variables set too, run as configuration faultless-NAME")
    return ap


def libraries(args, ap):
    build = os.path.abspath(args.build)
    libs = {"faultless": os.path.join(build, "libfaultless.so")}
    for spec in args.lib:
        name, sep, path = spec.partition("=")
        if not sep or not name or not os.path.isfile(path):
            ap.error(f"--lib {spec}: want NAME=PATH of an existing library")
        libs[f"faultless-{name}"] = os.path.abspath(path)
    for spec in args.variant:
        name, *sets = spec.split(":")
        pairs = [x.partition("=") for x in sets]
        if not name or f"faultless-{name}" in libs or not pairs or any(not k or not eq for k, eq, _ in pairs):
            ap.error(f"--variant {spec}: want NAME:VAR=VALUE[:VAR=VALUE...] with a new NAME")
        libs[f"faultless-{name}"] = libs["faultless"]
        variants[f"faultless-{name}"] = {k: v for k, _, v in pairs}
    if not os.path.isfile(libs["faultless"]):
        ap.error(f"{libs['faultless']} missing: make lib")
    return build, libs


def main():
    ap = parser()
    ap.add_argument("--out", default="build/bench-results/runtimes")
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error("--repeat: at least 1")
    build, libs = libraries(args, ap)
    have, classes = find_tools(build)
    todo, skipped = {}, {}
    for prog in args.programs.split(","):
        if prog not in TARGETS:
            ap.error(f"--programs: unknown program {prog} (java, java-startup, node)")
        why = have["node" if prog == "node" else "java"]
        if why:
            print(f"bench-runtimes: skipping {prog}: {why}")
            skipped[prog] = why
            continue
        todo[prog] = ["plain"] + list(libs) + (["pretouch"] if prog.startswith("java") else [])
    cmdline = "bench/runtimes/run.sh " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    print(f"# {cmdline}")
    print(f"# faultless: LD_PRELOAD={libs['faultless']} FAULTLESS_PREFAULT={args.prefault}")
    results = {p: {c: [] for c in cs} for p, cs in todo.items()}
    for rep in range(args.repeat + 1):
        # Programs interleaved too, so that a burst of load from elsewhere falls on all of them.
        for prog, configs in todo.items():
            k = rep % len(configs)
            for c in configs[k:] + configs[:k]:
                try:
                    r = run_once(prog, c, args, classes, libs)
                except RuntimeError as e:
                    raise SystemExit(f"bench-runtimes: {e}")
                if rep > 0:  # the first repeat is a warm-up
                    results[prog][c].append(r)
        print(f"  repeat {rep}/{args.repeat} done" + (" (warm-up, discarded)" if rep == 0 else ""), flush=True)
    report(args, todo, results, cmdline, skipped)


if __name__ == "__main__":
    main()
