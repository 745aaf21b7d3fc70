// SPDX-License-Identifier: MIT
/* Populating inside allocation calls: fresh memory made warm before it is
 * handed out, sharing chunks with the warmers (chunk states, arena.h). */
#include "arena.h"

#include <errno.h>

int _fl_populate(void *addr, size_t size) {
  return _fl_arena.touch_method ? _fl_prim_populate_touch(addr, size)
                                : _fl_prim_populate(addr, size);
}

int _fl_populate_inline(void *addr, size_t size) {
  fl_arena_t *a = &_fl_arena;
  if (atomic_load_explicit(&a->populate_refused, memory_order_relaxed)) return 0;
  uint64_t before = _fl_prim_thread_minflt();
  int rc = _fl_populate(addr, size);
  FL_STAT_ADD(faults_taken, _fl_prim_thread_minflt() - before);
  FL_STAT_ADD(populated_inline, size);
  /* Only ENOMEM fails the allocation: the memory is not there, and touching
   * it would bring the OOM killer. Any other refusal leaves the pages to
   * fault in on first use, as with any allocator. */
  if (rc != 0 && rc != ENOMEM) {
    atomic_store_explicit(&a->populate_refused, true, memory_order_relaxed);
    _fl_verbose("populate refused (errno %d): pages will fault in on first use", rc);
    rc = 0;
  }
  return rc;
}

/* A cold chunk that a warmer will come to, of which an allocation takes
 * only a part: the allocation populates its part and leaves the chunk to the
 * warmer, which warms the rest (finding that part present costs it little).
 * Taken, the rest would stay cold for the allocations that follow. */
static bool leave_to_warmer(size_t c, bool part) {
#ifdef FL_SECURE
  /* Guard pages: a warmer's populate would fail on the span's guard and
   * stop warming; the allocation takes the chunk. */
  (void)c;
  (void)part;
  return false;
#else
  fl_arena_t *a = &_fl_arena;
  return part && c >= atomic_load(&a->warm.cursor) && c < atomic_load(&a->warm.target);
#endif
}

/* Chunk c's part [s, upto) is about to be handed out: take the chunk from the
 * warmers, or leave it to them. Returns the chunk's state then, and in *from
 * the first slice the allocation populates itself (a warmer has done those
 * below it). */
static uint8_t claim_part(size_t c, size_t s, size_t upto, size_t *from) {
  fl_arena_t *a = &_fl_arena;
  size_t cstart = c * FL_SLICES_PER_CHUNK, cend = cstart + FL_SLICES_PER_CHUNK;
  *from = s;
  uint8_t st = atomic_load_explicit(&a->chunk_state[c], memory_order_acquire);
  FL_ASSERT(st <= FL_CHUNK_TAKEN);
  /* The chunk stays COLD; the allocation populates [s, upto). */
  if (st == FL_CHUNK_COLD && leave_to_warmer(c, s > cstart || upto < cend)) return st;
  if (st == FL_CHUNK_COLD || st == FL_CHUNK_WARMING) {
    /* Take the chunk: no warmer starts on it, and a warmer working on it
     * stops after its current piece; populate from that piece on. */
    if (atomic_compare_exchange_strong(&a->chunk_state[c], &st, FL_CHUNK_TAKEN) &&
        st == FL_CHUNK_WARMING) {
      size_t done = cstart + atomic_load(&a->chunk_progress[c]) * FL_PIECE_SLICES;
      if (done > *from) *from = done < upto ? done : upto;
    }
    st = atomic_load_explicit(&a->chunk_state[c], memory_order_acquire);
  }
  return st;
}

/* Slices to populate in one call, [start, start+len), and the first error. */
typedef struct fl_run_s {
  size_t start, len;
  int rc;
} fl_run_t;

static void run_flush(fl_run_t *r) {
  if (r->len && !r->rc)
    r->rc = _fl_populate_inline(_fl_slice_addr(r->start), r->len << FL_SLICE_SHIFT);
  r->len = 0;
}

/* POPULATE=auto: 4 MiB. The seed's 1 MiB buffers and the suite's 1..16 MiB
 * columns are written whole; TUNING.md has the measurements behind it. */
#define POPULATE_AUTO (4 * FL_MiB)

size_t _fl_populate_slices(size_t n) {
  long long opt = _fl_option(FL_OPT_POPULATE);
  uint64_t limit = opt == FL_AUTO ? POPULATE_AUTO : (uint64_t)opt;
  /* A program that has used much memory so far is likely to use a big block
   * too (numpy's arrays, after a prefault): a block may double what has
   * been populated, never more, so what is populated and never touched
   * stays below what was populated before it. */
  uint64_t warm = atomic_load_explicit(&_fl_counters.warm, memory_order_relaxed);
  if (warm > limit) limit = warm;
  size_t slices = (size_t)((limit + FL_SLICE - 1) >> FL_SLICE_SHIFT);
  return n < slices ? n : slices;
}

void _fl_populate_skip(size_t first, size_t n) {
#ifdef FL_SECURE
  fl_arena_t *a = &_fl_arena;
  if (n == 0) return;
  for (size_t c = first / FL_SLICES_PER_CHUNK; c <= (first + n - 1) / FL_SLICES_PER_CHUNK; c++) {
    uint8_t st = atomic_load_explicit(&a->chunk_state[c], memory_order_acquire);
    while ((st == FL_CHUNK_COLD || st == FL_CHUNK_WARMING) &&
           !atomic_compare_exchange_weak(&a->chunk_state[c], &st, FL_CHUNK_TAKEN)) {
    }
  }
#else
  (void)first;
  (void)n;
#endif
}

int _fl_warm_fresh(size_t first, size_t n) {
  size_t end = first + n, page = _fl_prim_page_size();
  FL_ASSERT(end <= _fl_arena.nslices);
  fl_run_t run = {0, 0, 0};
  for (size_t s = first; s < end;) {
    size_t c = s / FL_SLICES_PER_CHUNK, cend = (c + 1) * FL_SLICES_PER_CHUNK;
    size_t upto = cend < end ? cend : end, from;
    if (claim_part(c, s, upto, &from) == FL_CHUNK_WARM) from = upto;
    FL_ASSERT(from >= s && from <= upto);
    if (from > s) { /* warm already: no fault there */
      FL_STAT_ADD(faults_avoided, ((from - s) << FL_SLICE_SHIFT) / page);
      run_flush(&run);
    }
    if (from < upto) {
      if (!run.len) run.start = from;
      run.len += upto - from;
      FL_STAT_ADD(warm, (upto - from) << FL_SLICE_SHIFT);
    }
    s = upto;
  }
  run_flush(&run);
  return run.rc;
}
