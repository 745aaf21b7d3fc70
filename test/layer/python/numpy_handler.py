# SPDX-License-Identifier: MIT
"""The Python test function: numpy columns of `rows` int64 values, column c
holding (c + 1) * i, summed. The test checks the total against the formula.
It reports what its process has loaded (libfaultless.so, the marker library
the function preloads itself) and faultless's own statistics via ctypes."""
import ctypes
import os

import numpy as np


class Stats(ctypes.Structure):
    # The head of fl_stats_t (include/faultless.h).
    _fields_ = [("size", ctypes.c_size_t), ("version", ctypes.c_uint32),
                ("budget_source", ctypes.c_uint32), ("reserved", ctypes.c_uint64),
                ("warm", ctypes.c_uint64), ("in_use", ctypes.c_uint64),
                ("peak_in_use", ctypes.c_uint64)]


def faultless_stats():
    try:
        get = ctypes.CDLL(None).fl_stats_get
    except AttributeError:
        return None
    st = Stats(size=ctypes.sizeof(Stats))
    if get(ctypes.byref(st)) != 0:
        return None
    return {"reserved": st.reserved, "warm": st.warm, "peak_in_use": st.peak_in_use}


def handler(event, context):
    if "throw" in event:
        raise ValueError(event["throw"])
    rows = int(event.get("rows", 1_000_000))
    columns = [np.arange(rows, dtype=np.int64) * (c + 1) for c in range(int(event.get("columns", 8)))]
    maps = open("/proc/self/maps").read()
    return {"request_id": context.aws_request_id, "rows": rows, "columns": len(columns),
            "total": int(sum(int(col.sum()) for col in columns)),
            "faultless": "/libfaultless.so" in maps, "marker": "/liblayer_marker.so" in maps,
            "stats": faultless_stats(), "ld_preload": os.environ.get("LD_PRELOAD"),
            "prefault": os.environ.get("FAULTLESS_PREFAULT")}
