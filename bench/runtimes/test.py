# SPDX-License-Identifier: MIT
"""make test-runtimes: HotSpot and V8 under faultless.

- The Java program (FirstRound.java) and the Node program (first_round.mjs)
  print the same checksum with libfaultless.so preloaded as without, and
  faultless was active in them (its statistics show a reservation).
- With FAULTLESS_PREFAULT=1G their first round takes fewer page faults than
  the targets, compared with the same test's plain run: Java < 5% of plain's,
  Node < 20%. Counts, not times; the program's faults, not those of
  faultless's warmer threads populating (the programs tell them apart). The
  start-up sleep is longer than the benchmark's 300 ms (--setup-ms), so that
  a loaded machine's slower warmers do not fail a check about what gets
  warmed; make bench-runtimes measures whether it is warmed in time.
- Through the Lambda layer's wrapper, with its defaults for a 2048 MB
  function, the Java program's first round gets the same checksum and the
  same fault target: the wrapper turns the warming on.
- The JVM still starts, and computes the same, when the library cannot load:
  LD_PRELOAD of a missing file, and the Lambda layer's wrapper with no
  library beside it.
A program that is not installed is skipped with the reason.
"""
import os
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FAULT_TARGETS = {"java": 0.05, "node": 0.20}
passed = failed = skipped = 0


def ok(msg):
    global passed
    print(f"ok   {msg}", flush=True)
    passed += 1


def bad(msg, detail=""):
    global failed
    print(f"FAIL {msg}", flush=True)
    for line in detail.strip().splitlines()[-20:]:
        print(f"     {line}")
    failed += 1


def skip(what, why):
    global skipped
    print(f"skipped: {what}: {why}", flush=True)
    skipped += 1


def check_program(prog, args, classes, libs):
    """Same checksum with and without faultless; faults below the target."""
    try:
        plain = bench.run_once(prog, "plain", args, classes, libs)
        fl = bench.run_once(prog, "faultless", args, classes, libs)
    except RuntimeError as e:
        bad(f"{prog}: runs", str(e))
        return None
    stats = fl.get("stats", {})
    if stats.get("reserved", 0) <= 0:
        bad(f"{prog}: faultless active in the program (its statistics at exit)",
            f"statistics: {stats or 'none printed'}")
    elif not plain["stdout"].strip() or plain["stdout"] != fl["stdout"]:
        bad(f"{prog}: same checksum with faultless", f"plain:     {plain['stdout']}\nfaultless: {fl['stdout']}")
    else:
        ok(f"{prog}: same checksum with faultless ({plain['stdout'].strip()})")
    limit = FAULT_TARGETS[prog] * plain["faults"]
    # The warmers run at idle priority: where other work keeps every CPU
    # busy they may get no time at all. One more try tells that apart from a
    # library that does not warm; the report names the first try.
    first = None
    if 0 < limit <= fl["faults"]:
        try:
            retry = bench.run_once(prog, "faultless", args, classes, libs)
            first, fl, stats = fl["faults"], retry, retry.get("stats", {})
        except RuntimeError as e:
            bad(f"{prog}: runs", str(e))
            return None
    mm = " ".join(f"{k}={stats[k]}" for k in ("mmap_ranges", "mmap_warmed", "mmap_skipped", "mmap_pooled") if k in stats)
    what = (f"{prog}: first-round faults with PREFAULT={args.prefault} {fl['faults']} < "
            f"{FAULT_TARGETS[prog]:.0%} of plain's {plain['faults']} ({limit:.0f}; "
            f"the whole process's {fl['faults_all']}"
            + (f"; second try, the first took {first}" if first is not None else "") + ")")
    if plain["faults"] <= 0:
        bad(f"{prog}: the plain first round takes page faults", f"plain faults: {plain['faults']}")
    elif fl["faults"] < limit:
        ok(f"{what}{'; ' + mm if mm else ''}")
    else:
        bad(what, f"faultless stats: {mm or 'no mmap_* counters (the library does not warm runtime mappings)'}")
    return plain


def java_through_wrapper(args, classes, libs, plain):
    """The layer's wrapper, as Lambda starts a Java runtime with the layer."""
    with tempfile.TemporaryDirectory(prefix="faultless-runtimes.") as layer:
        os.mkdir(os.path.join(layer, "lib"))
        os.symlink(libs["faultless"], os.path.join(layer, "lib", "libfaultless.so"))
        env = {"FAULTLESS_LAYER_DIR": layer, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "2048", "FAULTLESS_STATS": "json"}
        try:
            r = bench.run_once("java", "plain", args, classes, libs,
                               prefix=[os.path.join(ROOT, "lambda/layer/faultless-wrapper")], extra_env=env)
        except RuntimeError as e:
            bad("java through the layer's wrapper: runs", str(e))
            return
    stats = r.get("stats", {})
    limit = FAULT_TARGETS["java"] * plain["faults"]
    what = (f"java through the layer's wrapper (2048 MB function): same checksum, first-round faults "
            f"{r['faults']} < {FAULT_TARGETS['java']:.0%} of plain's {plain['faults']} ({limit:.0f})")
    if stats.get("reserved", 0) <= 0:
        bad("java through the layer's wrapper: faultless active", f"statistics: {stats or 'none printed'}")
    elif r["stdout"] != plain["stdout"]:
        bad("java through the layer's wrapper: same checksum", f"{plain['stdout']!r} vs {r['stdout']!r}")
    elif r["faults"] < limit:
        ok(f"{what}; mmap_warmed={stats.get('mmap_warmed')}")
    else:
        bad(what, f"faultless stats: prefault_target={stats.get('prefault_target')} "
                  f"mmap_warmed={stats.get('mmap_warmed', 'none')}")


def java_without_library(args, classes):
    """The JVM starts and computes the same when libfaultless.so cannot load."""
    small = ["java"] + bench.JAVA_HEAP + ["-cp", classes, "FirstRound", "0", "4", "4096"]
    env = bench.clean_env()
    ref = subprocess.run(small, env=env, capture_output=True, timeout=120)
    if ref.returncode != 0 or not ref.stdout:
        bad("java: small run without faultless", ref.stderr.decode(errors="replace"))
        return
    with tempfile.TemporaryDirectory(prefix="faultless-runtimes.") as tmp:
        missing = os.path.join(tmp, "lib", "libfaultless.so")
        cases = [
            ("LD_PRELOAD of a missing libfaultless.so", [], dict(env, LD_PRELOAD=missing,
                                                                 FAULTLESS_PREFAULT=args.prefault),
             "cannot be preloaded"),
            ("the layer's wrapper with no library beside it",
             [os.path.join(ROOT, "lambda/layer/faultless-wrapper")],
             dict(env, FAULTLESS_LAYER_DIR=tmp, AWS_LAMBDA_FUNCTION_MEMORY_SIZE="2048"),
             "running without faultless"),
        ]
        for name, pre, e, said in cases:
            p = subprocess.run(pre + small, env=e, capture_output=True, timeout=120)
            err = p.stderr.decode(errors="replace")
            if p.returncode != 0:
                bad(f"java starts with {name} (exit {p.returncode})", err)
            elif p.stdout != ref.stdout:
                bad(f"java with {name}: same output", f"{ref.stdout!r} vs {p.stdout!r}")
            elif said not in err:
                bad(f"java with {name}: says so on stderr ('{said}')", err)
            else:
                ok(f"java starts with {name}, same output, stderr says '{said}'")


def main():
    ap = bench.parser(__doc__)
    ap.set_defaults(setup_ms=1000)
    args = ap.parse_args()
    build, libs = bench.libraries(args, ap)
    have, classes = bench.find_tools(build)
    progs = args.programs.split(",")
    if "java" not in progs:
        pass
    elif have["java"]:
        skip("java", have["java"])
    else:
        plain = check_program("java", args, classes, libs)
        if plain and plain["faults"] > 0:
            java_through_wrapper(args, classes, libs, plain)
        java_without_library(args, classes)
    if "node" not in progs:
        pass
    elif have["node"]:
        skip("node", have["node"])
    else:
        check_program("node", args, classes, libs)
    print(f"test-runtimes: {passed} passed, {failed} failed, {skipped} skipped")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
