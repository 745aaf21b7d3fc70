// SPDX-License-Identifier: MIT
/* faultless internals, the bottom of the library: the words it uses, its
 * units and the assertions. Every layer builds on this header (src/README.md
 * lists the layers and their headers).
 *
 * Glossary (DESIGN.md, at the top of the repository, explains each word and
 * the design around it; the code uses them in these senses):
 *   reservation  the one contiguous range of virtual addresses faultless owns;
 *                whether a pointer is ours is a range check.
 *   chunk        2 MiB, huge-page aligned: the unit of warming.
 *   slice        64 KiB: the unit of span bookkeeping; every slice of the
 *                reservation has a span descriptor in `spans[]`.
 *   warm / cold  backed by physical memory / reserved but never touched (or
 *                released back to the OS).
 *   warmer       a background thread at the lowest priority turning cold
 *                chunks warm, in address order, up to the prefault target.
 *   budget       how many bytes may be warm at once.
 *   frontier     the first slice never handed out; everything above it is
 *                fresh (reads as zero).
 *   span         a run of slices handed to one purpose: a size-class span of
 *                equal blocks, or one large block.
 *   size class   one of FL_CLASSES block sizes for blocks up to FL_SMALL_MAX.
 *   block        one allocation.
 *   heap         a thread's allocator state: its size-class spans.
 *   remote free  a block freed by a thread that does not own its heap; it is
 *                pushed onto its span's atomic remote list, and the span is
 *                announced to the owner heap, which collects it later.
 *   held span    an announced span whose owner still had free blocks in it:
 *                its remote list waits until those run out.
 *   outside      a block mapped straight from the OS because the reservation
 *                was full; tracked in a table so free() recognises it.
 *
 * Layers, each including only its own header and those below (test/layers.sh
 * checks it):
 *   adapters/   pages.h    page provider for jemalloc and mimalloc
 *   API         api.h      fl_*, the malloc family, start-up, fork, PASSTHROUGH
 *   heap        heap.h     size classes, thread heaps, remote frees
 *   spans       span.h     slices to spans: free bins, frontier, release,
 *                          outside blocks, snapshots
 *   arena       arena.h    reservation, chunk states, populating, huge pages,
 *                          warmers
 *   config      config.h   options (parse.h, shared with the faultless
 *                          command), messages, counters, budget
 *   base / OS   internal.h, prim/prim.h
 */
#ifndef FL_INTERNAL_H
#define FL_INTERNAL_H

#include "faultless.h"
#include "prim/prim.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FL_LIKELY(x) __builtin_expect(!!(x), 1)
#define FL_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define FL_INTERNAL __attribute__((visibility("hidden")))
/* Built with ThreadSanitizer (GCC's and Clang's ways of saying so). */
#if defined(__SANITIZE_THREAD__)
#define FL_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FL_TSAN 1
#endif
#endif

#define FL_KiB ((size_t)1024)
#define FL_MiB (1024 * FL_KiB)
#define FL_GiB (1024 * FL_MiB)

#define FL_CHUNK_SHIFT 21
#define FL_CHUNK ((size_t)1 << FL_CHUNK_SHIFT)
#define FL_SLICE_SHIFT 16
#define FL_SLICE ((size_t)1 << FL_SLICE_SHIFT)
#define FL_SLICES_PER_CHUNK (FL_CHUNK / FL_SLICE)

#define FL_ALIGN 16                      /* alignment of every block */
#define FL_SMALL_MAX (128 * FL_KiB)      /* largest size-class block */
#define FL_CLASSES 49                    /* class 0 unused; 1..48 */
#define FL_MAX_ALLOC (((size_t)1 << 62)) /* anything above is ENOMEM at once */

static inline size_t _fl_align_up(size_t n, size_t a) {
  return (n + a - 1) & ~(a - 1);
}
static inline bool _fl_is_pow2(size_t n) {
  return n && !(n & (n - 1));
}

/* --- Assertions ---------------------------------------------------------- */

/* FL_ASSERT(invariant): checked in DEBUG=1 and sanitizer builds, where a
 * false one prints one line naming faultless, the file, the line and the
 * expression, then aborts. Release builds compile it to nothing: the
 * expression is not evaluated and no code is emitted (sizeof keeps the names
 * it uses referenced, so no "unused" warning depends on the build). */
#if defined(FL_DEBUG) || defined(FL_SANITIZE)
#define FL_ASSERTS 1
#define FL_ASSERT(e) (FL_LIKELY(e) ? (void)0 : _fl_assert_fail(__FILE__, __LINE__, #e))
#else
#define FL_ASSERTS 0
#define FL_ASSERT(e) ((void)sizeof(!(e)))
#endif
FL_INTERNAL _Noreturn void _fl_assert_fail(const char *file, int line, const char *expr);

#endif
