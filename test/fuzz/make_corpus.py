#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Write the seed corpus of test/fuzz/fuzz_ops.c into test/fuzz/corpus/.

Each input is a list of 5-byte records (the format is described at the top
of fuzz_ops.c). The seeds are small and each exercises one operation or one
interaction, so that the fuzzer starts from inputs that already reach every
path of the model. Deterministic: running it again writes the same files.

    /usr/bin/python3 test/fuzz/make_corpus.py [DIR]
"""
import os
import random
import sys

# The order of the enum in fuzz_ops.c.
MALLOC, CALLOC, REALLOC, ALIGNED, FREE, USABLE, HANDOFF, REWRITE, CHECK, PREFAULT, RELEASE = range(11)
SLOTS = 32
KiB = 1024
MiB = 1024 * KiB


def size_word(size):
    """The 16-bit size field that decodes to `size` (or just below it)."""
    if size <= 0x3FF:
        return size
    if size <= 0x1FFF:
        return 4 << 13 | size
    if size <= 0x1FFF * 32:
        return 6 << 13 | size // 32
    return 7 << 13 | min(size // 256, 0x1FFF)


def align_arg(shift):
    """The argument byte that decodes to alignment 1 << shift (0..23)."""
    if shift <= 16:
        return shift
    return 192 + (shift - 17 - 192 % 7) % 7


def rec(op, slot=0, size=0, thread=0, arg=0, posix=False):
    word = size_word(size)
    return bytes([thread << 7 | op, slot % SLOTS | (0x80 if posix else 0), arg, word & 0xFF, word >> 8])


def aligned(slot, shift, size, thread=0, posix=False):
    return rec(ALIGNED, slot, size, thread, align_arg(shift), posix)


def seeds():
    s = {}
    s["malloc_free"] = b"".join(
        [rec(MALLOC, i, 16 * i + 1) for i in range(16)] + [rec(FREE, i) for i in range(16)]
    )
    s["calloc"] = b"".join(
        rec(CALLOC, i, n, arg=i) for i, n in enumerate([0, 1, 24, 1000, 8000, 100 * KiB, 300 * KiB, 2 * MiB])
    ) + b"".join(rec(FREE, i) for i in range(8)) + b"".join(
        rec(CALLOC, i, n, arg=3) for i, n in enumerate([64, 4000, 200 * KiB])
    )
    # Reuse: blocks freed and asked again as calloc must read zero.
    s["calloc_reuse"] = b"".join(
        [rec(MALLOC, 1, 4000), rec(FREE, 1), rec(CALLOC, 1, 4000, arg=1),
         rec(MALLOC, 2, 500 * KiB), rec(FREE, 2), rec(CALLOC, 2, 500 * KiB, arg=4)]
    )
    s["realloc_grow"] = b"".join(
        rec(REALLOC, 3, n) for n in [8, 100, 1000, 5000, 60 * KiB, 129 * KiB, 300 * KiB, 1 * MiB, 2 * MiB]
    )
    s["realloc_shrink"] = b"".join(
        rec(REALLOC, 4, n) for n in [2 * MiB, 700 * KiB, 200 * KiB, 100 * KiB, 3000, 40, 0, 24]
    )
    # Large blocks side by side: a grow must not run into the next one.
    s["realloc_neighbours"] = b"".join(
        [rec(MALLOC, 0, 200 * KiB), rec(MALLOC, 1, 200 * KiB), rec(FREE, 1),
         rec(REALLOC, 0, 400 * KiB), rec(MALLOC, 1, 100 * KiB), rec(REALLOC, 0, 1 * MiB)]
    )
    s["aligned_small"] = b"".join(aligned(i, i, 100 + 37 * i) for i in range(17)) + b"".join(
        aligned(i, i, 0, posix=True) for i in range(17)
    )
    s["aligned_huge"] = b"".join(aligned(i, 17 + i % 7, [16, 64 * KiB, 3 * MiB // 2][i % 3], posix=i % 2 == 1)
                                  for i in range(14))
    s["usable_rewrite"] = b"".join(
        [rec(MALLOC, 5, 17), rec(USABLE, 5), rec(REWRITE, 5), rec(MALLOC, 6, 150 * KiB),
         rec(USABLE, 6), rec(REWRITE, 6), rec(USABLE, 7), rec(FREE, 5), rec(FREE, 6)]
    )
    # Thread 0 allocates and hands over; thread 1 takes, uses and frees.
    s["handoff"] = b"".join(
        sum(([rec(MALLOC, i, 48 * (i + 1)), rec(HANDOFF, i), rec(HANDOFF, i, thread=1),
              rec(USABLE, i, thread=1), rec(REALLOC, i, 96 * (i + 1), thread=1), rec(FREE, i, thread=1)]
             for i in range(8)), [])
    )
    s["size_classes"] = b"".join(
        rec(MALLOC, i, n) for i, n in enumerate([0, 16, 17, 128, 129, 1024, 1025, 5000, 8191])
    ) + b"".join(rec(MALLOC, 10 + i, n) for i, n in enumerate([16 * KiB + 1, 64 * KiB, 128 * KiB, 128 * KiB + 32]))
    s["large"] = b"".join(
        [rec(MALLOC, i, (i + 1) * 256 * KiB) for i in range(8)] + [rec(FREE, i) for i in range(0, 8, 2)]
        + [rec(MALLOC, i, 300 * KiB) for i in range(0, 8, 2)] + [rec(CHECK)]
    )
    s["check"] = b"".join(
        [rec(MALLOC, 0, 64), rec(CHECK), rec(MALLOC, 1, 64, thread=1), rec(CHECK, thread=1),
         rec(FREE, 0), rec(CHECK), rec(FREE, 1, thread=1), rec(CHECK, thread=1)]
    )
    s["two_threads"] = b"".join(
        rec(op, i, 24 * i + 8, thread=t)
        for i in range(20) for t in (0, 1) for op in (MALLOC, HANDOFF, REWRITE, FREE if i % 3 else REALLOC)
    )
    # Warmers run while both threads allocate; released memory is reused.
    s["prefault_release"] = b"".join(
        [rec(PREFAULT, 0, 2 * MiB), rec(MALLOC, 0, 1 * MiB), rec(MALLOC, 1, 500 * KiB, thread=1),
         rec(PREFAULT, 0, 2 * MiB, thread=1), rec(FREE, 0), rec(FREE, 1, thread=1), rec(RELEASE),
         rec(CALLOC, 0, 1 * MiB, arg=2), rec(MALLOC, 2, 3000), rec(FREE, 2), rec(RELEASE, thread=1),
         rec(CALLOC, 2, 3000, arg=1, thread=1), rec(CHECK)]
    )
    # Many large blocks: more than the 64 MiB reservation, so some are OS blocks.
    s["reservation_full"] = b"".join(
        [rec(MALLOC, i, 2 * MiB - 256, thread=i % 2) for i in range(40)]
        + [rec(FREE, i, thread=i % 2) for i in range(0, 40, 3)]
        + [rec(REALLOC, i, 2 * MiB - 256, thread=i % 2) for i in range(1, 40, 3)] + [rec(CHECK)]
    )
    # A longer mix: every operation, both threads, all scales.
    rnd = random.Random(5)
    mix = []
    for _ in range(600):
        scale = rnd.choice([0, 0, 0, 0, 4, 4, 6, 7])
        word = scale << 13 | rnd.randrange(0x2000)
        mix.append(bytes([rnd.randrange(256), rnd.randrange(256), rnd.randrange(256), word & 0xFF, word >> 8]))
    s["mix"] = b"".join(mix)
    return s


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(seeds().items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print(f"make_corpus: {len(seeds())} inputs in {out}")


if __name__ == "__main__":
    main()
