# SPDX-License-Identifier: MIT
"""numpy: build columns of several MiB, fill and reduce them, in rounds.

Deterministic output on stdout (integer sums exactly; float results rounded
well above the last bits that SIMD and alignment may change), so a run with
faultless must print the same as one without. Per-round times go to stderr as
one JSON line for the benchmark.

    python3 numpy_columns.py [ROUNDS=2] [COLUMNS=16] [ROWS=1000000] [SETUP_MS=0]
"""
import json
import sys
import time

import numpy as np

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 2
columns = int(sys.argv[2]) if len(sys.argv) > 2 else 16
rows = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
setup_ms = float(sys.argv[4]) if len(sys.argv) > 4 else 0


def one_round(r):
    # A table of columns: int64 and float64, 8 MiB each at a million rows.
    ints = []
    floats = []
    for c in range(columns):
        col = np.empty(rows, dtype=np.int64)
        col[:] = np.arange(rows, dtype=np.int64)
        col *= (c + r + 1)
        col %= 1_000_003
        ints.append(col)
        f = np.empty(rows, dtype=np.float64)
        np.multiply(col, 0.5, out=f)
        floats.append(f)
    # Reductions and derived columns: temporaries of the same size.
    total = 0
    for col in ints:
        total += int(col.sum())
        total ^= int((col * 3 + 1).max())
    fsum = sum(float(np.sqrt(f + 1.0).sum()) for f in floats)
    stacked = np.stack(ints[:4])
    colmax = [int(v) for v in stacked.max(axis=0)[:3]]
    hist = np.bincount((ints[0] % 16).astype(np.intp), minlength=16)
    order = np.argsort(ints[1][:200_000], kind="stable")
    return (f"round {r}: int total {total} float sum {fsum:.6e} "
            f"colmax {colmax} hist {hist.tolist()} order {int(order[:1000].sum())}")


time.sleep(setup_ms / 1000.0)  # start-up: a cloud function waits on the network here
times = []
for r in range(rounds):
    t0 = time.perf_counter()
    line = one_round(r)
    times.append((time.perf_counter() - t0) * 1000.0)
    print(line, flush=True)
print(json.dumps({"workload": "numpy-columns", "columns": columns, "rows": rows,
                  "rounds_ms": times}), file=sys.stderr)
