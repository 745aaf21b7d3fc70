#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""lambda/python/faultless.py in one setting (argv[1]):
  none     no library anywhere: every call a no-op, said once
  preload  libfaultless.so preloaded (as the layer does): the process's own
  path     loaded from FAULTLESS_LIBRARY, not preloaded
  nohooks  no snapshot_restore_py to register with
The caller sets the environment (test/lambda/run.sh). Prints ok/FAIL lines
and "python-MODE: N passed, N failed"."""
import io
import os
import sys

mode = sys.argv[1]
passed = failed = 0


def check(name, cond):
    global passed, failed
    if cond:
        passed += 1
        print("ok   " + name)
    else:
        failed += 1
        print("FAIL " + name)


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


MiB = 1 << 20
err = io.StringIO()
real_stderr, sys.stderr = sys.stderr, err
import faultless  # noqa: E402
if mode != "nohooks":
    import snapshot_restore_py as stub  # noqa: E402

check("import registers the hooks" if mode != "nohooks" else "import without hooks",
      faultless.registered == (mode != "nohooks"))
if mode != "nohooks":
    check("before_snapshot: snapshot_prepare",
          [f for f, _, _ in stub.before] == [faultless.snapshot_prepare])
    check("after_restore: restored", [f for f, _, _ in stub.after] == [faultless.restored])
for bad, exc in (("lots", ValueError), (-1, ValueError), (True, TypeError), (1.5, TypeError)):
    try:
        faultless.prefault(bad)
        check("prefault(%r) refused" % (bad,), False)
    except exc as e:
        check("prefault(%r): %s" % (bad, exc.__name__), "size" in str(e))
try:
    faultless.prefault_wait(-1)
    check("prefault_wait(-1) refused", False)
except ValueError:
    check("prefault_wait(-1) refused", True)

if mode == "none":
    check("not available", not faultless.available() and faultless.library is None)
    check("prefault: no-op", faultless.prefault("1M") is None)
    check("prefault_wait: no-op", faultless.prefault_wait(0.1) is None)
    check("stats: empty", faultless.stats() == {})
    stub.snapshot()
    stub.restore()
    check("hooks run as no-ops", True)
    check("said once", err.getvalue().count("faultless:") == 1 and
          "not found" in err.getvalue())
elif mode in ("preload", "path"):
    check("available", faultless.available())
    if mode == "preload":
        check("found in the process", faultless.library == "in-process")
    else:
        check("loaded from FAULTLESS_LIBRARY",
              faultless.library == os.environ["FAULTLESS_LIBRARY"])
        check("did not start warming by itself", faultless.stats()["prefault_target"] == 0)
        check("FAULTLESS_PREFAULT left as it was", "FAULTLESS_PREFAULT" not in os.environ)
    st0 = faultless.stats()
    check("stats: version 3 with the snapshot counters",
          st0["version"] >= 3 and st0["snapshot_prepares"] == 0 and "budget_source" in st0)
    check("prefault(64M) == 0", faultless.prefault("64M") == 0)
    check("prefault_wait(30)", faultless.prefault_wait(30) is True)
    st1 = faultless.stats()
    check("warm >= 64 MiB", st1["warm"] >= 64 * MiB and st1["prefault_target"] >= 64 * MiB)
    r1 = rss()
    stub.snapshot()  # as Lambda does before the snapshot
    st2 = faultless.stats()
    r2 = rss()
    check("snapshot: prepared once", st2["snapshot_prepares"] == 1)
    check("snapshot: gave back >= 60 MiB", st2["snapshot_released"] >= 60 * MiB)
    check("snapshot: RSS down >= 50 MiB (%d -> %d MiB)" % (r1 // MiB, r2 // MiB),
          r1 - r2 >= 50 * MiB)
    stub.restore()
    check("restore: restored once", faultless.stats()["snapshot_restores"] == 1)
    check("restore: prefault_wait", faultless.prefault_wait(30) is True)
    st3 = faultless.stats()
    check("restore: warm again", st3["warmed_by_warmers"] >= st2["warmed_by_warmers"] + 60 * MiB)
    check("nothing said", err.getvalue() == "")
sys.stderr = real_stderr
sys.stderr.write(err.getvalue())
print("python-%s: %d passed, %d failed" % (mode, passed, failed))
sys.exit(1 if failed else 0)
