// SPDX-License-Identifier: MIT
/* The warmers: background threads at the lowest priority that populate cold
 * chunks in address order up to a target, within the budget; the prefault
 * calls and warming ahead that raise the target; the queue of another
 * allocator's memory (adapters); the snapshot pause. State: _fl_arena.warm.
 * The cursor moves only forward, but for a snapshot's resume, which moves it
 * back to the chunks it made cold; chunks below it are not COLD unless a
 * snapshot, a release or a warmer that stopped made them so. */
#include "arena.h"

#include <errno.h>

/* Warm chunk c piece by piece. Returns 0, or an errno from populate. Stops
 * early, leaving the rest to the allocation, when an allocation takes it. */
/* A populate holds the process's address-space lock through each piece, and
 * while the program is changing its mappings (MMAP saw a call a moment
 * ago) each of its calls waits behind one: the JVM's start-up took up to 3x
 * as long when its pages came from the host. A write fault takes only its
 * mapping's lock (Linux 6.4+), so pieces are touched meanwhile. Touching
 * could fault on a guard page (secure builds), and races with allocations'
 * stores as ThreadSanitizer sees it. */
static bool by_touch(void) {
#if defined(FL_SECURE) || defined(FL_TSAN)
  return false;
#else
  return _fl_maps_busy();
#endif
}

static int warm_chunk(size_t c) {
  fl_arena_t *a = &_fl_arena;
  char *base = a->base + (c << FL_CHUNK_SHIFT);
  size_t piece = FL_PIECE_SLICES << FL_SLICE_SHIFT, pieces = FL_CHUNK / piece;
  int rc = 0;
  FL_ASSERT(c < a->nchunks);
  atomic_store(&a->chunk_progress[c], 0);
  uint64_t t0 = _fl_prim_now_ns();
  /* The chunk's span descriptors too: the allocation that takes the chunk
   * writes them, and their pages would fault there (one page serves two
   * chunks, so every other call finds it present and returns at once). */
  size_t page = _fl_prim_page_size();
  uintptr_t descs = (uintptr_t)a->spans, per_chunk = FL_SLICES_PER_CHUNK * FL_SPAN_DESC;
  uintptr_t d0 = (descs + c * per_chunk) & ~(uintptr_t)(page - 1);
  uintptr_t d1 = _fl_align_up(descs + (c + 1) * per_chunk, page);
  _fl_populate((void *)d0, d1 - d0);
  /* A chunk that a huge page fills (or will, at its first fault) is
   * populated in one call: piece by piece, every call after the first would
   * find its piece present and cost the warmers time for nothing. */
  size_t step = a->thp || _fl_huge_chunk(c) ? pieces : 1;
  size_t k = 0;
  for (; k < pieces; k += step) {
    if (atomic_load_explicit(&a->chunk_state[c], memory_order_relaxed) != FL_CHUNK_WARMING) break;
    rc = by_touch() ? _fl_prim_populate_touch(base + k * piece, step * piece)
                    : _fl_populate(base + k * piece, step * piece);
    if (rc) break;
    atomic_store_explicit(&a->chunk_progress[c], (uint8_t)(k + step), memory_order_release);
  }
  FL_ASSERT(k <= pieces);
  FL_STAT_ADD(warmer_ns, _fl_prim_now_ns() - t0);
  FL_STAT_ADD(warm, k * piece);
  FL_STAT_ADD(warmed_by_warmers, k * piece);
  uint8_t warming = FL_CHUNK_WARMING;
  /* A failure on a chunk an allocation has taken meanwhile is no failure:
   * in secure builds its guard page may be in the piece being populated. */
  if (rc && !atomic_compare_exchange_strong(&a->chunk_state[c], &warming, FL_CHUNK_COLD))
    rc = 0;
  else if (k == pieces)
    /* Fully populated, even if an allocation took it meanwhile. */
    atomic_store_explicit(&a->chunk_state[c], FL_CHUNK_WARM, memory_order_release);
  return rc;
}

/* --- Another allocator's memory (the adapters' queue) --------------------- */

/* Populate [addr, addr+size) within the budget. A piece that fails (unmapped,
 * PROT_NONE) is skipped: populating never changes what a page holds, so a
 * wrong guess costs nothing but time. */
static void warm_foreign_range(char *addr, size_t size) {
  size_t piece = FL_PIECE_SLICES << FL_SLICE_SHIFT, done = 0;
  uint64_t t0 = _fl_prim_now_ns();
  for (size_t off = 0; off < size; off += piece) {
    if (!_fl_warm_fits(piece)) break;
    size_t n = size - off < piece ? size - off : piece;
    if (_fl_populate(addr + off, n) == 0) done += n;
  }
  FL_STAT_ADD(warmer_ns, _fl_prim_now_ns() - t0);
  FL_STAT_ADD(warm, done);
  FL_STAT_ADD(warmed_by_warmers, done);
  _fl_verbose("warmed %zu of %zu MiB of another allocator's memory at %p", done >> 20, size >> 20,
              (void *)addr);
}

/* pre: warm.lock not held. Serve the foreign ranges queued so far. */
static void warm_foreign_queue(void) {
  fl_arena_t *a = &_fl_arena;
  for (;;) {
    pthread_mutex_lock(&a->warm.lock);
    if (a->warm.nforeign == 0) {
      pthread_mutex_unlock(&a->warm.lock);
      return;
    }
    int k = atomic_fetch_sub(&a->warm.nforeign, 1) - 1;
    FL_ASSERT(k >= 0 && k < FL_FOREIGN_MAX);
    char *addr = a->warm.foreign[k].addr;
    size_t size = a->warm.foreign[k].size;
    pthread_mutex_unlock(&a->warm.lock);
    warm_foreign_range(addr, size);
  }
}

/* --- Warmers ------------------------------------------------------------ */

/* Take the next chunk index below the target, or return false when there is
 * none. A CAS, not a fetch_add, so the cursor never runs past the target and
 * a later, larger target starts exactly where this one stopped. */
static bool next_chunk(size_t *out) {
  fl_arena_t *a = &_fl_arena;
  size_t c = atomic_load(&a->warm.cursor);
  for (;;) {
    if (atomic_load(&a->warm.paused)) return false;
    if (c >= atomic_load(&a->warm.target)) return false;
    if (atomic_compare_exchange_weak(&a->warm.cursor, &c, c + 1)) {
      *out = c;
      return true;
    }
  }
}

static bool warming_allowed(size_t warmed_here) {
  fl_arena_t *a = &_fl_arena;
  if (!_fl_warm_fits(FL_CHUNK)) {
    _fl_verbose("warming stops at the budget (%llu MiB)",
                (unsigned long long)(a->budget.budget >> 20));
    return false;
  }
  /* PREFAULT and warm-ahead say how much to warm in all: what the warmers
   * populated in the program's own mappings (MMAP) counts, so the arena
   * warms only the rest. A runtime whose heap is warm is not also slowed by
   * warmers still filling a malloc arena it barely uses. */
  uint64_t mapped = atomic_load_explicit(&_fl_counters.mmap_warmed, memory_order_relaxed);
  uint64_t asked = __atomic_load_n(&a->warm.prefault_bytes, __ATOMIC_RELAXED);
  if (mapped &&
      atomic_load_explicit(&_fl_counters.warmed_by_warmers, memory_order_relaxed) >= asked) {
    _fl_verbose("warming stops: %llu MiB asked for, %llu MiB of it in the program's own mappings",
                (unsigned long long)(asked >> 20), (unsigned long long)(mapped >> 20));
    return false;
  }
  /* At the start and then every 64 MiB, look again at the memory the machine
   * has left: never warm into memory pressure. */
  if (warmed_here % 32 == 0) {
    uint64_t avail = _fl_budget_mem_available(_fl_fs_root);
    if (avail && avail < a->budget.headroom + FL_CHUNK) {
      _fl_verbose("warming stops: only %llu MiB available", (unsigned long long)(avail >> 20));
      return false;
    }
  }
  return true;
}

/* pre: warm.lock held. n warmers stop (or never started); the last one out
 * wakes fl_prefault_wait and closes the stretch of wall time warming_ns
 * counts, which is what all warmers together achieve (warmer_ns sums each
 * warmer's own time). */
static void warmers_leave(int n) {
  fl_arena_t *a = &_fl_arena;
  int before = atomic_fetch_sub(&a->warm.running, n);
  FL_ASSERT(before >= n);
  if (before != n) return;
  FL_STAT_ADD(warming_ns, _fl_prim_now_ns() - a->warm.since);
  pthread_cond_broadcast(&a->warm.done);
}

/* Memory a runtime has committed (maps.c) is about to be used: it goes
 * first, as the foreign queue does. */
static int warm_maps(void) {
  int r;
  while ((r = _fl_maps_warm_piece()) == FL_MAPS_WORKED) {
  }
  return r;
}

static void *warmer_main(void *arg) {
  fl_arena_t *a = &_fl_arena;
  _fl_prim_thread_lowest_priority();
  _fl_prim_thread_name("faultless-warm");
  size_t warmed_here = 0;
  for (;;) {
    bool deferred = warm_maps() == FL_MAPS_DEFERRED;
    warm_foreign_queue();
    size_t c;
    bool stop = false;
    while (!stop && next_chunk(&c)) {
      /* Foreign memory queued meanwhile is in use already: it goes first. */
      if (atomic_load_explicit(&a->warm.nforeign, memory_order_relaxed)) warm_foreign_queue();
      if (atomic_load_explicit(&a->maps.pending, memory_order_relaxed)) warm_maps();
      uint8_t cold = FL_CHUNK_COLD;
      if (!atomic_compare_exchange_strong(&a->chunk_state[c], &cold, FL_CHUNK_WARMING)) continue;
      if (!warming_allowed(warmed_here)) {
        uint8_t warming = FL_CHUNK_WARMING;
        atomic_compare_exchange_strong(&a->chunk_state[c], &warming, FL_CHUNK_COLD);
        stop = true;
        break;
      }
      int rc = warm_chunk(c);
      if (rc != 0) {
        _fl_verbose("warming stops: populate failed (errno %d)", rc);
        stop = true;
        break;
      }
      warmed_here++;
    }
    if (stop) {
      /* Chunks marked for huge pages that no warmer will warm now would
       * leave allocations to pay for huge pages themselves. */
      _fl_huge_stop(c);
    }
    pthread_mutex_lock(&a->warm.lock);
    if (stop) atomic_store(&a->warm.target, atomic_load(&a->warm.cursor));
    /* A prefault call may have raised the target after we ran out of work
     * but before we got the lock: go on rather than leave it unserved. */
    if (!stop && !atomic_load(&a->warm.paused) &&
        (atomic_load(&a->warm.cursor) < atomic_load(&a->warm.target) || a->warm.nforeign ||
         atomic_load(&a->maps.pending))) {
      pthread_mutex_unlock(&a->warm.lock);
      /* Only mappings the program is still changing are left: look again
       * in a millisecond rather than spin. */
      if (deferred && atomic_load(&a->warm.cursor) >= atomic_load(&a->warm.target))
        _fl_prim_sleep_us(1000);
      continue;
    }
    warmers_leave(1);
    pthread_mutex_unlock(&a->warm.lock);
    return NULL;
  }
}

/* --- Prefault ----------------------------------------------------------- */

/* Raise the warm target to chunk `target` (counting from `from`, the chunk
 * the frontier is in) and start warmers up to the maximum. Returns the number
 * of warmers that will be running. With `try_only` (a reported mmap-family
 * call, maybe from a signal handler), nothing is done (0) when the warmers'
 * lock is busy, and the threads are started by maps.c's waker thread when
 * it runs (pthread_create is not async-signal-safe). */
static void start_warmers(int start) {
  fl_arena_t *a = &_fl_arena;
  /* Threads start outside the lock: pthread_create allocates (the new
   * thread's TLS vector), which can come back here through malloc. */
  for (int i = 0; i < start; i++)
    if (_fl_prim_thread_start(warmer_main, NULL) != 0) {
      pthread_mutex_lock(&a->warm.lock);
      warmers_leave(start - i);
      pthread_mutex_unlock(&a->warm.lock);
      _fl_verbose("could not start a warmer thread");
      break;
    }
}

static int raise_target_try(size_t from, size_t target, bool try_only) {
  fl_arena_t *a = &_fl_arena;
  if (target > a->nchunks) target = a->nchunks;
  if (!try_only)
    pthread_mutex_lock(&a->warm.lock);
  else if (pthread_mutex_trylock(&a->warm.lock) != 0)
    return 0;
  size_t old = atomic_load(&a->warm.target);
  if (target > old) {
    /* Skip what lies below `from` (taken by allocations already), but only
     * when nothing is pending there: a range raised a moment ago (an
     * adapter's previous region) must not be skipped. */
    size_t cursor = atomic_load(&a->warm.cursor);
    if (cursor < from && cursor >= old) atomic_store(&a->warm.cursor, from);
    __atomic_fetch_add(&a->warm.prefault_bytes,
                       (uint64_t)(target - (old > from ? old : from)) * FL_CHUNK, __ATOMIC_RELAXED);
    atomic_store(&a->warm.target, target);
  }
  int want = a->warm.max;
  size_t pending = atomic_load(&a->warm.target) - atomic_load(&a->warm.cursor) +
                   (size_t)a->warm.nforeign + (size_t)atomic_load(&a->maps.pending);
  if ((size_t)want > pending) want = (int)pending;
  int start = atomic_load(&a->warm.paused) ? 0 : want - atomic_load(&a->warm.running);
  if (start > 0 && atomic_fetch_add(&a->warm.running, start) == 0)
    a->warm.since = _fl_prim_now_ns();
  pthread_mutex_unlock(&a->warm.lock);
  if (start > 0 && try_only && atomic_load(&a->maps.waker)) {
    /* Counted as running already: fl_prefault_wait waits for them. */
    atomic_fetch_add(&a->maps.to_start, start);
    _fl_prim_event_post(&a->maps.wake);
  } else if (start > 0) {
    start_warmers(start);
  }
  return want;
}

void _fl_warmers_start_handed(void) {
  start_warmers(atomic_exchange(&_fl_arena.maps.to_start, 0));
}

static int raise_target(size_t from, size_t target) {
  return raise_target_try(from, target, false);
}

int _fl_prefault_bytes(size_t bytes) {
  fl_arena_t *a = &_fl_arena;
  if (!a->base) return ENOMEM;
  /* Atomic: fl_snapshot_restored may read the budget afresh meanwhile. */
  size_t budget = __atomic_load_n(&a->budget.budget, __ATOMIC_RELAXED);
  if (bytes > budget) bytes = budget;
  size_t chunks = (bytes + FL_CHUNK - 1) >> FL_CHUNK_SHIFT;
  /* Warm the next `bytes` that allocations will take: from the chunk the
   * frontier is in. Chunks already warm or taken are skipped by state. */
  size_t from = atomic_load(&a->frontier) / FL_SLICES_PER_CHUNK;
  size_t until = atomic_load(&a->warm.prefault_until);
  while (until < from + chunks &&
         !atomic_compare_exchange_weak(&a->warm.prefault_until, &until, from + chunks)) {
  }
  int n = raise_target(from, from + chunks);
  if (bytes) _fl_verbose("prefault: warming up to %zu MiB with %d warmer(s)", chunks * 2, n);
  return 0;
}

bool _fl_warming_on(void) {
  return _fl_arena.warm.max > 0 && (_fl_option(FL_OPT_AHEAD) != 0 || _fl_prefault_default() != 0);
}

/* The window over which warming ahead measures the heap's growth. */
#define AHEAD_WINDOW_NS (100 * 1000000ull)

/* Growth counted over the current window and the one before it, so that
 * the figure covers between one and two windows. pre: warm.lock held. */
static uint64_t recent_growth(uint64_t grown, uint64_t now) {
  fl_warmers_t *w = &_fl_arena.warm;
  /* Reports arrive after the span lock is dropped, so a later, larger one
   * may have rolled the window already: never count below its mark. */
  if (grown < w->win_mark) grown = w->win_mark;
  if (w->win_ns == 0) w->win_ns = now; /* the first window: since start-up */
  if (now - w->win_ns >= AHEAD_WINDOW_NS) {
    w->prev_growth = now - w->win_ns >= 2 * AHEAD_WINDOW_NS ? 0 : grown - w->win_mark;
    w->win_mark = grown;
    w->win_ns = now;
  }
  return grown - w->win_mark + w->prev_growth;
}

/* Warm ahead: each time the frontier enters a new chunk, keep warming ahead
 * of it a quarter of what the heap grew in the last 100 to 200 ms (up to AHEAD),
 * counted in whole chunks from the one the frontier is in. A heap that grows
 * fast finds its next memory warm, or shares the populating with a warmer on
 * another core; one that grows slowly or has stopped gets nothing warmed that
 * it would not use: a heap of a few MiB keeps its RSS near what it touches. */
void _fl_warm_ahead(size_t frontier, uint64_t grown) {
  fl_arena_t *a = &_fl_arena;
  long long max = _fl_option(FL_OPT_AHEAD);
  if (max == 0 || a->warm.max <= 0 || a->warm.forked) return;
  if (max == FL_AUTO) max = 256 * FL_MiB;
  uint64_t now = _fl_prim_now_ns();
  pthread_mutex_lock(&a->warm.lock);
  uint64_t ahead = recent_growth(grown, now) / 4;
  pthread_mutex_unlock(&a->warm.lock);
  if (ahead > (uint64_t)max) ahead = (uint64_t)max;
  size_t from = frontier / FL_SLICES_PER_CHUNK, chunks = (size_t)(ahead >> FL_CHUNK_SHIFT);
  /* Less than four chunks (a heap that grew less than 32 MiB in the
   * window) is left to fault in. Two would only warm the rest of the chunk
   * the frontier is in, most of which is spans already handed out, partly
   * untouched; two or three more turned a medium heap's last burst (a few
   * tens of MiB) into RSS it never used (TUNING.md), for no measurable
   * speed. */
  if (chunks < 4) return;
  /* Hysteresis: while more than half the distance is still warm ahead, leave
   * the warmers idle, so that they work in bursts rather than follow every
   * chunk the application takes across memory that is already warm. */
  size_t target = atomic_load_explicit(&a->warm.target, memory_order_relaxed);
  if (target > from && target - from > chunks / 2) return;
  raise_target(from, from + chunks);
}

int _fl_prefault_wait_ms(long timeout_ms) {
  fl_arena_t *a = &_fl_arena;
  if (!a->base) return 0;
  struct timespec until;
  uint64_t deadline = _fl_prim_now_ns() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000u;
  until.tv_sec = (time_t)(deadline / 1000000000u);
  until.tv_nsec = (long)(deadline % 1000000000u);
  int rc = 0;
  pthread_mutex_lock(&a->warm.lock);
  while (atomic_load(&a->warm.running) > 0 && rc == 0) {
    if (timeout_ms < 0)
      pthread_cond_wait(&a->warm.done, &a->warm.lock);
    else
      rc = pthread_cond_timedwait(&a->warm.done, &a->warm.lock, &until);
  }
  int done = atomic_load(&a->warm.running) == 0;
  pthread_mutex_unlock(&a->warm.lock);
  return done ? 0 : ETIMEDOUT;
}

/* What PREFAULT asks for at start-up, in bytes. Inside Lambda the function's
 * memory is already paid for, so warm half of it. Elsewhere nothing says the
 * process will live long or use memory (a shell running `true` must not pay
 * for memory it never touches, populated and freed again at exit: TUNING.md
 * has the cost), so nothing is warmed at start-up and AHEAD warms in step
 * with the heap's growth. With PREFAULT_PID set, only that process warms at
 * start-up: the others inherited the environment (a function's child
 * processes share its memory, and must not each warm the same amount). */
size_t _fl_prefault_default(void) {
  fl_arena_t *a = &_fl_arena;
  long long pid = _fl_option(FL_OPT_PREFAULT_PID);
  if (pid != FL_AUTO && pid != _fl_prim_pid()) return 0;
  long long v = _fl_option(FL_OPT_PREFAULT);
  if (v == FL_AUTO) return a->budget.in_lambda ? a->budget.lambda_bytes / 2 : 0;
  if (v & FL_PERCENT_BIT)
    return (size_t)((double)__atomic_load_n(&a->budget.budget, __ATOMIC_RELAXED) *
                    (double)(v & ~FL_PERCENT_BIT) / 10000.0);
  return (size_t)v;
}

bool _fl_claim_start_prefault(void) {
  return !atomic_exchange(&_fl_arena.warm.start_claimed, true);
}

void _fl_arena_start_prefault(void) {
  if (!_fl_claim_start_prefault()) return;
  long long pid = _fl_option(FL_OPT_PREFAULT_PID);
  if (pid != FL_AUTO && pid != _fl_prim_pid())
    _fl_verbose("no start-up prefault: PREFAULT_PID is %lld, this process is %d", pid,
                _fl_prim_pid());
  size_t bytes = _fl_prefault_default();
  if (bytes && _fl_arena.warm.max > 0) _fl_prefault_bytes(bytes);
}

int _fl_warm_foreign(void *addr, size_t size) {
  fl_arena_t *a = &_fl_arena;
  if (!a->base || size == 0 || a->warm.max <= 0) return 0;
  pthread_mutex_lock(&a->warm.lock);
  bool queued = a->warm.nforeign < FL_FOREIGN_MAX;
  if (queued) {
    int k = atomic_load(&a->warm.nforeign);
    a->warm.foreign[k].addr = addr;
    a->warm.foreign[k].size = size;
    atomic_store(&a->warm.nforeign, k + 1);
  }
  pthread_mutex_unlock(&a->warm.lock);
  if (!queued) return EBUSY;
  /* No new chunks: this only wakes the warmers for the queued range. */
  raise_target(0, 0);
  return 0;
}

void _fl_warm_range(size_t first, size_t n) {
  fl_arena_t *a = &_fl_arena;
  if (!a->base || n == 0 || a->warm.max <= 0) return;
  size_t from = first / FL_SLICES_PER_CHUNK;
  size_t to = (first + n + FL_SLICES_PER_CHUNK - 1) / FL_SLICES_PER_CHUNK;
  int warmers = raise_target(from, to);
  _fl_verbose("warming %zu MiB handed to another allocator with %d warmer(s)",
              (n << FL_SLICE_SHIFT) >> 20, warmers);
}

void _fl_warm_beside(size_t first, size_t n) {
  fl_arena_t *a = &_fl_arena;
  if (!a->base || n == 0 || a->warm.forked || !_fl_warming_on()) return;
  /* Only to idle warmers: raising the target over work still pending would
   * carry their cursor across every chunk in between, size-class spans
   * left to fault in among them. Busy, they leave the range to the caller. */
  if (atomic_load(&a->warm.cursor) < atomic_load(&a->warm.target)) return;
  raise_target(first / FL_SLICES_PER_CHUNK,
               (first + n + FL_SLICES_PER_CHUNK - 1) / FL_SLICES_PER_CHUNK);
}

void _fl_warmers_wake(void) {
  fl_arena_t *a = &_fl_arena;
  if (!a->base || a->warm.max <= 0 || a->warm.forked) return;
  raise_target_try(0, 0, true);
}

/* --- Snapshots ---------------------------------------------------------- */

void _fl_warmers_pause(void) {
  fl_arena_t *a = &_fl_arena;
  pthread_mutex_lock(&a->warm.lock);
  atomic_store(&a->warm.paused, true);
  /* A warmer finishes the chunk it holds, then leaves; the last one out
   * broadcasts warm.done. */
  while (atomic_load(&a->warm.running) > 0)
    pthread_cond_wait(&a->warm.done, &a->warm.lock);
  pthread_mutex_unlock(&a->warm.lock);
  /* Every chunk marked for huge pages goes back to 4 KiB pages, the
   * reservation's first state under thp_warmers (huge pages already there
   * stay): memory about to be given back must not fault in whole huge pages
   * at the program's first touch. The warmers mark again after a restore. */
  _fl_huge_unmark_all();
}

size_t _fl_warm_target(void) {
  return atomic_load(&_fl_arena.warm.target);
}

int _fl_warmers_resume(size_t from, size_t target) {
  fl_arena_t *a = &_fl_arena;
  if (target > a->nchunks) target = a->nchunks;
  pthread_mutex_lock(&a->warm.lock);
  atomic_store(&a->warm.paused, false);
  if (target > atomic_load(&a->warm.target)) atomic_store(&a->warm.target, target);
  /* Back to the lowest chunk made cold: warmers skip what is not COLD. */
  size_t cursor = atomic_load(&a->warm.cursor);
  if (from < cursor && from < atomic_load(&a->warm.target))
    atomic_store(&a->warm.cursor, from);
  else
    from = cursor;
  pthread_mutex_unlock(&a->warm.lock);
  return raise_target(from, target);
}
