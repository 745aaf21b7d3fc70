// SPDX-License-Identifier: MIT
/* Free memory given back to the kernel: spans idle for RELEASE's time, and
 * everything no live block holds when a snapshot is prepared. Under the
 * span lock, as the bins it walks. */
#include "spanfree.h"

/* --- Release ------------------------------------------------------------ */

/* `bytes` of warm memory went back to the OS. */
static void count_released(size_t bytes) {
  if (!bytes) return;
  FL_STAT_ADD(released, bytes);
  _fl_warm_sub(bytes);
}

static bool touches_warm_chunk(const fl_span_t *s) {
  size_t first = _fl_span_index(s);
  for (size_t c = first / FL_SLICES_PER_CHUNK; c <= (first + s->slices - 1) / FL_SLICES_PER_CHUNK;
       c++)
    if (atomic_load(&_fl_arena.chunk_state[c]) != FL_CHUNK_COLD) return true;
  return false;
}

size_t _fl_span_release_idle(uint64_t min_idle_ms) {
  fl_arena_t *a = &_fl_arena;
  if (!a->base) return 0;
  size_t released = 0;
  uint64_t now = _fl_span_now_ms();
  pthread_mutex_lock(&_fl_free_spans.lock);
  for (size_t b = 0; b < FL_SPAN_BINS; b++) {
    for (fl_span_t *s = _fl_free_spans.bins[b]; s; s = s->next) {
      FL_ASSERT(s->kind == FL_SPAN_FREE && _fl_span_bin_of(s->slices) == b);
      /* Fresh spans were never touched since reserved or released, unless a
       * warmer populated their chunks. */
      if (now - s->freed_ms < min_idle_ms || ((s->flags & FL_SPAN_FRESH) && !touches_warm_chunk(s)))
        continue;
      size_t first = _fl_span_index(s), bytes = (size_t)s->slices << FL_SLICE_SHIFT;
      if (_fl_prim_release(_fl_slice_addr(first), bytes) != 0) continue;
      /* Released memory reads as zero but is cold: its chunks are no longer
       * known warm, so the next user populates them. */
      s->flags = FL_SPAN_FRESH;
      for (size_t c = first / FL_SLICES_PER_CHUNK;
           c <= (first + s->slices - 1) / FL_SLICES_PER_CHUNK; c++) {
        uint8_t warm = FL_CHUNK_WARM;
        atomic_compare_exchange_strong(&a->chunk_state[c], &warm, FL_CHUNK_TAKEN);
      }
      released += bytes;
    }
  }
  pthread_mutex_unlock(&_fl_free_spans.lock);
  count_released(released);
  if (released) _fl_verbose("released %zu KiB of idle memory to the OS", released >> 10);
  return released;
}

/* --- Snapshots ---------------------------------------------------------- */

/* Chunk c lost the warm bytes no live block holds: all of them (whole), or
 * those around live blocks. It turns COLD, so that the warmers warm it again
 * after a restore; populating over live blocks keeps what they hold. Secure
 * builds mark a shared chunk TAKEN instead (the next allocation populates
 * its own part): a warmer's populate would fail on the live spans' guard
 * pages and stop warming. pre: span lock held, warmers paused. */
static void cool_chunk(size_t c, bool whole, fl_snapshot_release_t *r) {
  fl_arena_t *a = &_fl_arena;
  FL_ASSERT(c < a->nchunks);
#ifdef FL_SECURE
  if (!whole) {
    uint8_t warm = FL_CHUNK_WARM;
    atomic_compare_exchange_strong(&a->chunk_state[c], &warm, FL_CHUNK_TAKEN);
    return;
  }
#else
  (void)whole;
#endif
  atomic_store(&a->chunk_state[c], FL_CHUNK_COLD);
  if (c < r->cold_lo) r->cold_lo = c;
  if (c + 1 > r->cold_hi) r->cold_hi = c + 1;
}

#define RELEASE_BATCH 32 /* chunks: 64 MiB */

/* Release chunks [c0, c1) above the frontier in one call. */
static void release_chunks(size_t c0, size_t c1, fl_snapshot_release_t *r) {
  if (c1 <= c0) return;
  if (_fl_prim_release(_fl_arena.base + (c0 << FL_CHUNK_SHIFT), (c1 - c0) << FL_CHUNK_SHIFT) != 0)
    return;
  r->above += (c1 - c0) << FL_CHUNK_SHIFT;
  for (size_t c = c0; c < c1; c++)
    cool_chunk(c, true, r);
}

/* Give back the warm free spans. The slice before a free span is live (free
 * spans coalesce), and so is the one after it, unless it is the frontier f.
 * pre: span lock held. */
static void release_free_spans(size_t f, fl_snapshot_release_t *r) {
  fl_arena_t *a = &_fl_arena;
  for (size_t b = 0; b < FL_SPAN_BINS; b++) {
    for (fl_span_t *s = _fl_free_spans.bins[b]; s; s = s->next) {
      FL_ASSERT(s->kind == FL_SPAN_FREE && _fl_span_index(s) + s->slices <= f);
      size_t first = _fl_span_index(s), end = first + s->slices;
      size_t c0 = first / FL_SLICES_PER_CHUNK, c1 = (end - 1) / FL_SLICES_PER_CHUNK;
      /* A span that reads as zero holds warm pages only where a warmer
       * warmed its chunk (frontier padding); one released before holds none. */
      bool warm = !(s->flags & FL_SPAN_FRESH);
      for (size_t k = c0; !warm && k <= c1; k++)
        warm = atomic_load(&a->chunk_state[k]) == FL_CHUNK_WARM;
      if (!warm) continue;
      if (_fl_prim_release(_fl_slice_addr(first), (size_t)s->slices << FL_SLICE_SHIFT) != 0)
        continue;
      s->flags = FL_SPAN_FRESH; /* reads as zero now */
      r->free += (size_t)s->slices << FL_SLICE_SHIFT;
      for (size_t k = c0; k <= c1; k++) {
        size_t cs = k * FL_SLICES_PER_CHUNK, ce = cs + FL_SLICES_PER_CHUNK;
        cool_chunk(k, cs >= first && (ce <= end || end == f), r);
      }
    }
  }
}

/* Give back the chunks from c on that are above the frontier and not cold,
 * in runs, a batch at a time under the lock: giving back base pages takes
 * time in proportion to their number (TUNING.md, snapshots), and allocations
 * wait for the lock meanwhile. Each batch starts above the frontier as it is
 * then. */
static void release_above(size_t c, fl_snapshot_release_t *r) {
  fl_arena_t *a = &_fl_arena;
  while (c < a->nchunks) {
    pthread_mutex_lock(&_fl_free_spans.lock);
    size_t f = atomic_load_explicit(&a->frontier, memory_order_relaxed);
    size_t above = (f + FL_SLICES_PER_CHUNK - 1) / FL_SLICES_PER_CHUNK;
    if (c < above) c = above;
    size_t run = c, end = c + RELEASE_BATCH < a->nchunks ? c + RELEASE_BATCH : a->nchunks;
    for (; c < end; c++) {
      if (atomic_load(&a->chunk_state[c]) != FL_CHUNK_COLD) continue;
      release_chunks(run, c, r);
      run = c + 1;
    }
    release_chunks(run, c, r);
    pthread_mutex_unlock(&_fl_free_spans.lock);
  }
}

void _fl_span_snapshot_release(fl_snapshot_release_t *r) {
  fl_arena_t *a = &_fl_arena;
  r->free = r->above = 0;
  r->cold_lo = SIZE_MAX;
  r->cold_hi = 0;
  if (!a->base) return;
  pthread_mutex_lock(&_fl_free_spans.lock);
  /* No allocation moves the frontier meanwhile. The state of its chunk is
   * read before the free spans below it may change it. */
  size_t f = atomic_load_explicit(&a->frontier, memory_order_relaxed);
  size_t fc = f / FL_SLICES_PER_CHUNK;
  uint8_t fstate = fc < a->nchunks ? atomic_load(&a->chunk_state[fc]) : FL_CHUNK_COLD;
  release_free_spans(f, r);
  size_t c = (f + FL_SLICES_PER_CHUNK - 1) / FL_SLICES_PER_CHUNK;
#ifndef FL_SECURE
  /* The frontier's own chunk: the part above it. (Secure builds keep it
   * warm: it may hold guard pages, so the warmers could not warm it again,
   * and it is the memory the next allocations take.) */
  if (c > fc && fstate != FL_CHUNK_COLD) {
    size_t bytes = (c * FL_SLICES_PER_CHUNK - f) << FL_SLICE_SHIFT;
    if (_fl_prim_release(_fl_slice_addr(f), bytes) == 0) {
      r->above += bytes;
      cool_chunk(fc, false, r);
    }
  }
#else
  (void)fstate;
#endif
  pthread_mutex_unlock(&_fl_free_spans.lock);
  release_above(c, r);
  count_released(r->free + r->above);
}
