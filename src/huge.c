// SPDX-License-Identifier: MIT
/* Huge pages for warmed chunks, in a guest that reports free pages to its
 * host (thp_warmers, arena.c): mark a chunk MADV_HUGEPAGE before a warmer
 * populates it, so that its first piece brings a whole huge page, while
 * huge pages stay cheap. TUNING.md ("Huge pages in a guest that reports free
 * pages") has the measurements behind each rule here. State: _fl_arena.huge,
 * under its lock. */
#include "arena.h"

/* Adjacent marked chunks merge into one mapping; a cap on separate runs
 * keeps the process far from the kernel's mapping limit. */
#define HUGE_RUNS_MAX 1024
/* A huge page that took longer than this came from the host: well above
 * what populating the same 2 MiB in base pages costs. */
#define HUGE_SLOW_NS 1500000
/* Readings below this brought no huge page (the kernel fell back to base
 * pages, or an allocation had populated the piece already): no evidence. */
#define HUGE_NONE_NS 100000
/* Marking changes the mapping: it waits for the other warmers' faults in it
 * and holds off their next ones, so warmers marking chunk by chunk warm no
 * faster than one. Once a huge page has come cheap, several warmers mark a
 * batch at a time (the chunks they take next) and fault in parallel. A batch
 * that turns slow, or that warming stops short of, is unmarked at once
 * (huge_cost, _fl_huge_stop). Until huge pages are known to be slow, an
 * allocation that overtakes the warmers inside a batch may pay for a slow
 * huge page itself, and a mark may wait behind another warmer's slow fault,
 * holding the process's mapping lock meanwhile. Once they are slow, nothing
 * is marked any more. */
#define HUGE_MARK_BATCH 64
/* Two slow pieces in a row end huge pages for the process. One alone does
 * not: the guest holds a stretch of recently freed memory,
 * then the host's; a stray slow block inside the stretch (or at its start)
 * should not cost the rest. */
#define HUGE_SLOW_RUN 2

static bool want_huge(size_t c) {
  fl_arena_t *a = &_fl_arena;
  if (!a->thp_warmers) return false;
  /* Only what a prefault asked for, while the program starts: AHEAD's
   * chunks are wanted soon, and an allocation that catches a warmer inside
   * a slow huge page would wait for it. */
  if (c >= atomic_load_explicit(&a->warm.prefault_until, memory_order_relaxed)) return false;
  /* A slow huge page costs ten times what the same 2 MiB cost in base pages,
   * which the guest still holds in small free blocks: warming that slow runs
   * on into the program's own work and slows it, wherever the chunk lies. */
  return !atomic_load_explicit(&a->huge.slow, memory_order_relaxed);
}

/* Unmark the marked chunks from `from` on (huge pages already there stay).
 * pre: lock held. */
static void unmark_from(fl_huge_t *h, size_t from) {
  if (from < h->marked_lo) from = h->marked_lo;
  if (from >= h->marked_hi) return;
  _fl_prim_hugepage(_fl_arena.base + (from << FL_CHUNK_SHIFT),
                    (h->marked_hi - from) << FL_CHUNK_SHIFT, false);
  h->marked_hi = from;
}

/* The end of the run to mark from chunk c: with several warmers and cheap
 * huge pages, the batch after it, up to what the warmers will warm. A chunk
 * just below the run (taken before a later chunk's batch was marked) closes
 * the gap instead. */
static size_t mark_end(const fl_huge_t *h, size_t c) {
  fl_arena_t *a = &_fl_arena;
  size_t hi = c + 1;
  if (h->marked_hi > h->marked_lo && c < h->marked_lo && h->marked_lo - c <= HUGE_MARK_BATCH)
    return h->marked_lo;
  if (a->warm.max > 1 && h->cheap_seen && !atomic_load_explicit(&h->slow, memory_order_relaxed)) {
    size_t until = atomic_load_explicit(&a->warm.prefault_until, memory_order_relaxed);
    size_t target = atomic_load_explicit(&a->warm.target, memory_order_relaxed);
    if (until > target) until = target;
    if (until > a->nchunks) until = a->nchunks;
    if (until > c + HUGE_MARK_BATCH) until = c + HUGE_MARK_BATCH;
    if (until > hi) hi = until;
  }
  return hi;
}

/* Mark chunk c MADV_HUGEPAGE (with the run mark_end gives). False once the
 * cap on separate runs is reached (for good: a refused chunk does not count
 * as the end of a run). pre: lock held. */
static bool mark_huge(fl_huge_t *h, size_t c) {
  if (c >= h->marked_lo && c < h->marked_hi) return true;
  size_t lo = c, hi = mark_end(h, c);
  bool joins = h->marked_hi > h->marked_lo && (hi == h->marked_lo || lo == h->marked_hi);
  if (!joins && h->runs >= HUGE_RUNS_MAX) return false;
  if (!joins) h->runs++;
  _fl_prim_hugepage(_fl_arena.base + (lo << FL_CHUNK_SHIFT), (hi - lo) << FL_CHUNK_SHIFT, true);
  if (joins) {
    if (lo < h->marked_lo) h->marked_lo = lo;
    if (hi > h->marked_hi) h->marked_hi = hi;
  } else {
    h->marked_lo = lo;
    h->marked_hi = hi;
  }
  FL_ASSERT(h->marked_lo <= c && c < h->marked_hi && h->marked_hi <= _fl_arena.nchunks);
  return true;
}

/* What chunk c's fault cost says about huge pages. pre: lock held. */
static void huge_cost(fl_huge_t *h, size_t c, uint64_t ns) {
  if (ns < HUGE_NONE_NS) return;
  if (ns <= HUGE_SLOW_NS) {
    h->slow_run = 0;
    h->cheap_seen = true;
    return;
  }
  if (++h->slow_run < HUGE_SLOW_RUN || atomic_exchange(&h->slow, true)) return;
  /* The rest of the batch goes back to base pages. */
  unmark_from(h, c + 1);
  _fl_verbose("%d huge pages in a row took over %.1f ms to warm (the last %.1f ms, at chunk %zu: "
              "the host had taken the memory back): 4 KiB pages from now on",
              HUGE_SLOW_RUN, HUGE_SLOW_NS / 1e6, (double)ns / 1e6, c);
}

/* Bring chunk c's huge page by a write fault on its first byte: a fault
 * takes the lock of this mapping only (per-VMA locks, Linux 6.4+), where
 * MADV_POPULATE_WRITE would hold the process's mapping lock through a slow
 * huge page and stall the program's mmap calls. An atomic add of zero keeps
 * whatever an allocation that took the chunk meanwhile stored there. True
 * when the fault took long enough to have brought a huge page. */
static bool fault_huge(size_t c) {
  fl_huge_t *h = &_fl_arena.huge;
  char *base = _fl_arena.base + (c << FL_CHUNK_SHIFT);
  bool huge = false;
  pthread_mutex_lock(&h->lock);
  /* Huge pages may have turned slow since want_huge looked. */
  if (!atomic_load_explicit(&h->slow, memory_order_relaxed) && mark_huge(h, c)) {
    pthread_mutex_unlock(&h->lock);
    uint64_t t0 = _fl_prim_now_ns();
#ifdef FL_TSAN
    /* The add of zero races with an allocation's plain stores by design;
     * ThreadSanitizer builds populate instead, mapping lock and all. */
    _fl_populate(base, _fl_prim_page_size());
#else
    _fl_prim_populate_touch(base, _fl_prim_page_size());
#endif
    uint64_t ns = _fl_prim_now_ns() - t0;
    pthread_mutex_lock(&h->lock);
    huge_cost(h, c, ns);
    huge = ns >= HUGE_NONE_NS;
  }
  pthread_mutex_unlock(&h->lock);
  return huge;
}

bool _fl_huge_chunk(size_t c) {
  return want_huge(c) && fault_huge(c);
}

void _fl_huge_stop(size_t c) {
  fl_huge_t *h = &_fl_arena.huge;
  pthread_mutex_lock(&h->lock);
  unmark_from(h, c);
  pthread_mutex_unlock(&h->lock);
}

void _fl_huge_unmark_all(void) {
  fl_arena_t *a = &_fl_arena;
  if (!a->thp_warmers) return;
  pthread_mutex_lock(&a->huge.lock);
  _fl_prim_hugepage(a->base, a->size, false);
  a->huge.marked_lo = a->huge.marked_hi = 0;
  a->huge.runs = 0;
  pthread_mutex_unlock(&a->huge.lock);
}
