# SPDX-License-Identifier: MIT
"""faultless from Python: warming, statistics and snapshots (ctypes, no build).

The Lambda layer preloads libfaultless.so, so the library already serves this
process's malloc; this module finds its fl_* functions in the process. Else it
loads libfaultless.so from FAULTLESS_LIBRARY, from next to this file, or from
../lib and /opt/lib (the layer's places). A library loaded that way serves
only the calls made through it, not Python's own allocations. Without the
library every call does nothing and says so once on stderr: a function never
fails for want of faultless.

    import faultless              # registers the SnapStart hooks, see below
    faultless.prefault("512M")    # warm in the background (bytes, or K/M/G)
    faultless.prefault_wait(2.0)  # True once warming is done
    faultless.stats()             # dict: warm, in_use, budget, ...
    faultless.snapshot_prepare()  # before a snapshot: give back unused warm memory
    faultless.restored()          # after a restore: warm again

On import, when Lambda's `snapshot_restore_py` module can be imported (Python
functions with SnapStart), snapshot_prepare and restored are registered with
its register_before_snapshot and register_after_restore.
"""
import ctypes
import os
import re
import sys

__all__ = ["available", "library", "prefault", "prefault_wait", "stats", "snapshot_prepare",
           "restored"]

_STATS_FIELDS = [  # fl_stats_t after size, version and budget_source, by version
    (1, ["reserved", "warm", "in_use", "peak_in_use", "outside", "budget", "prefault_target",
         "warmed_by_warmers", "warmer_ns", "populated_inline", "faults_taken", "faults_avoided",
         "released", "spans_small", "spans_large", "heaps", "heaps_reused"]),
    (2, ["warming_ns"]),
    (3, ["snapshot_prepares", "snapshot_released", "snapshot_prepare_ns", "snapshot_restores"]),
]
_BUDGET_SOURCES = ["available", "option", "lambda", "cgroup2", "cgroup1", "reservation"]


class _Stats(ctypes.Structure):
    _fields_ = ([("size", ctypes.c_size_t), ("version", ctypes.c_uint32),
                 ("budget_source", ctypes.c_uint32)] +
                [(name, ctypes.c_uint64) for _, names in _STATS_FIELDS for name in names])


_lib = None
library = None  # "in-process", a file path, or None when faultless is not available
_said = False


def _has_api(lib):
    return all(hasattr(lib, n) for n in ("fl_prefault", "fl_prefault_wait", "fl_stats_get"))


def _candidates():
    env = os.environ.get("FAULTLESS_LIBRARY")
    if env:
        return [env]  # asked for this one: no guessing past it
    here = os.path.dirname(os.path.abspath(__file__))
    return [os.path.join(here, "libfaultless.so"),
            os.path.join(os.path.dirname(here), "lib", "libfaultless.so"),
            "/opt/lib/libfaultless.so"]


def _load():
    global _lib, library
    try:
        lib = ctypes.CDLL(None)
        if _has_api(lib):
            _lib, library = lib, "in-process"
            return
    except OSError:
        pass
    for path in _candidates():
        if not os.path.isfile(path):
            continue
        # Loaded, not preloaded: it must not start warming by itself (PREFAULT
        # defaults to half the function's memory in Lambda) for an arena that
        # Python's allocations do not use. Options are read while it loads.
        unset = "FAULTLESS_PREFAULT" not in os.environ
        if unset:
            os.environ["FAULTLESS_PREFAULT"] = "0"
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        finally:
            if unset:
                del os.environ["FAULTLESS_PREFAULT"]
        if _has_api(lib):
            _lib, library = lib, path
            return


def _missing(what, symbol=None):
    global _said
    if not _said:
        _said = True
        if _lib is not None:
            sys.stderr.write("faultless: this libfaultless.so (%s) is older and has no %s: "
                             "faultless.%s() does nothing\n" % (library, symbol, what))
        else:
            where = (os.environ.get("FAULTLESS_LIBRARY") or
                     "in this process, next to faultless.py or in /opt/lib")
            sys.stderr.write("faultless: libfaultless.so not found (%s): faultless.%s() and "
                             "the other calls do nothing\n" % (where, what))
    return None


def available():
    """True when the faultless library was found."""
    return _lib is not None


_UNITS = {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}


def _bytes(size):
    if isinstance(size, bool):
        raise TypeError("size must be a number of bytes or a string such as '512M'")
    if isinstance(size, int):
        if size < 0:
            raise ValueError("size must not be negative: %d" % size)
        return size
    if isinstance(size, str):
        m = re.fullmatch(r"\s*(\d+)\s*([KMGT]?)(?:i?B)?\s*", size, re.IGNORECASE)
        if m:
            return int(m.group(1)) << _UNITS[m.group(2).upper()]
        raise ValueError("bad size %r: bytes, or a number with K, M, G or T (binary)" % size)
    raise TypeError("size must be a number of bytes or a string such as '512M'")


def prefault(size):
    """Warm the next `size` bytes of the arena in the background (capped by
    the budget). Returns 0, or an errno (ENOMEM: no arena); None without the
    library."""
    n = _bytes(size)
    if _lib is None:
        return _missing("prefault")
    _lib.fl_prefault.argtypes = [ctypes.c_size_t]
    return _lib.fl_prefault(n)


def prefault_wait(timeout=None):
    """Wait until warming is done or `timeout` seconds pass (None: no limit).
    True when done; None without the library."""
    if timeout is not None and timeout < 0:
        raise ValueError("timeout must not be negative: %r" % timeout)
    if _lib is None:
        return _missing("prefault_wait")
    _lib.fl_prefault_wait.argtypes = [ctypes.c_long]
    ms = -1 if timeout is None else int(timeout * 1000)
    return _lib.fl_prefault_wait(ms) == 0


def stats():
    """faultless's counters as a dict (the fields of fl_stats_t that this
    library has); an empty dict without the library."""
    if _lib is None:
        _missing("stats")
        return {}
    st = _Stats()
    st.size = ctypes.sizeof(st)
    if _lib.fl_stats_get(ctypes.byref(st)) != 0:
        return {}
    out = {"version": st.version}
    for version, names in _STATS_FIELDS:
        if version <= st.version:
            out.update((n, getattr(st, n)) for n in names)
    s = st.budget_source
    out["budget_source"] = _BUDGET_SOURCES[s] if s < len(_BUDGET_SOURCES) else "unknown"
    return out


def snapshot_prepare():
    """Before a snapshot: stop warming and give back the warm memory nothing
    holds (fl_snapshot_prepare)."""
    if _lib is None or not hasattr(_lib, "fl_snapshot_prepare"):
        return _missing("snapshot_prepare", "fl_snapshot_prepare")
    _lib.fl_snapshot_prepare()
    return None


def restored():
    """After a restore: read the budget again and warm again in the
    background (fl_snapshot_restored)."""
    if _lib is None or not hasattr(_lib, "fl_snapshot_restored"):
        return _missing("restored", "fl_snapshot_restored")
    _lib.fl_snapshot_restored()
    return None


def _register():
    try:
        import snapshot_restore_py
    except ImportError:
        return False
    snapshot_restore_py.register_before_snapshot(snapshot_prepare)
    snapshot_restore_py.register_after_restore(restored)
    return True


_load()
registered = _register()  # True when the SnapStart hooks are registered
