// SPDX-License-Identifier: MIT
/* Snapshots (AWS Lambda SnapStart, microVM and CRIU snapshots): before one,
 * give back the warm memory nothing holds, so that it is not saved; after a
 * restore, whose memory comes back cold, warm again up to the same target. The public
 * fl_snapshot_* calls (control.c) make sure the library is initialised. */
#include "span.h"

/* What prepare remembers for the restore, under `lock`, which also
 * serialises prepare and restored: since the last restore, the chunks made
 * cold, [cold_lo, cold_hi), and the warm target (a chunk index) to warm up
 * to again. */
typedef struct fl_snapshot_s {
  pthread_mutex_t lock;
  size_t cold_lo, cold_hi, target;
} fl_snapshot_t;

static fl_snapshot_t snap = {.lock = PTHREAD_MUTEX_INITIALIZER, .cold_lo = SIZE_MAX};

void _fl_snapshot_lock(bool lock) {
  if (lock)
    pthread_mutex_lock(&snap.lock);
  else
    pthread_mutex_unlock(&snap.lock);
}

void _fl_snapshot_prepare(void) {
  FL_STAT_ADD(snapshot_prepares, 1);
  fl_arena_t *a = &_fl_arena;
  if (!a->base) {
    _fl_verbose("snapshot prepare: no arena, nothing to give back");
    return;
  }
  uint64_t t0 = _fl_prim_now_ns();
  pthread_mutex_lock(&snap.lock);
  _fl_warmers_pause();
  fl_snapshot_release_t r;
  _fl_span_snapshot_release(&r);
  size_t pool = _fl_maps_snapshot_release(); /* MMAP's pool: warm pages no commit took */
  if (r.cold_lo < snap.cold_lo) snap.cold_lo = r.cold_lo;
  if (r.cold_hi > snap.cold_hi) snap.cold_hi = r.cold_hi;
  size_t t = _fl_warm_target();
  if (t < snap.cold_hi) t = snap.cold_hi;
  if (t > snap.target) snap.target = t;
  FL_ASSERT(snap.cold_lo == SIZE_MAX || snap.cold_lo < snap.cold_hi);
  FL_ASSERT(snap.cold_hi <= snap.target && snap.target <= a->nchunks);
  size_t again = snap.target;
  pthread_mutex_unlock(&snap.lock);
  uint64_t ns = _fl_prim_now_ns() - t0;
  FL_STAT_ADD(snapshot_released, r.free + r.above + pool);
  FL_STAT_ADD(snapshot_prepare_ns, ns);
  _fl_verbose("snapshot prepare: warmers stopped; gave back %zu MiB (%zu MiB of free spans, "
              "%zu MiB above the heap, %zu MiB of the mmap pool) in %.1f ms; %zu MiB of the arena "
              "to warm after the restore",
              (r.free + r.above + pool) >> 20, r.free >> 20, r.above >> 20, pool >> 20,
              (double)ns / 1e6, again << FL_CHUNK_SHIFT >> 20);
}

void _fl_snapshot_restored(void) {
  FL_STAT_ADD(snapshot_restores, 1);
  fl_arena_t *a = &_fl_arena;
  if (!a->base) return;
  pthread_mutex_lock(&snap.lock);
  /* The budget is read with the warmers stopped (a no-op after prepare). */
  _fl_warmers_pause();
  _fl_budget_refresh();
  size_t t = _fl_warm_target();
  if (t < snap.target) t = snap.target;
  int n = _fl_warmers_resume(snap.cold_lo, t);
  snap.cold_lo = SIZE_MAX;
  snap.cold_hi = snap.target = 0;
  pthread_mutex_unlock(&snap.lock);
  _fl_verbose("snapshot restored: warming up to %zu MiB of the arena again with %d warmer(s)",
              t << FL_CHUNK_SHIFT >> 20, n);
}
