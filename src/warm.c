// SPDX-License-Identifier: MIT
/* The warm arena: the reservation, the state of each chunk, the warmers that
 * populate chunks ahead of use, and the budget that bounds them. */
#include "internal.h"

#include <errno.h>
#include <string.h>

fl_arena_t _fl_arena;

/* --- Reservation -------------------------------------------------------- */

static const char *budget_source_name(fl_budget_source_t s) {
  static const char *names[] = {"available memory",
                                "FAULTLESS_BUDGET",
                                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                                "cgroup v2 memory.max",
                                "cgroup v1 memory.limit_in_bytes",
                                "the reservation"};
  return s <= FL_BUDGET_RESERVATION ? names[s] : "?";
}

/* The reservation size: the RESERVE option, but no more than half of what a
 * finite RLIMIT_AS leaves, so the rest of the process can still map memory. */
static size_t reservation_size(void) {
  size_t want = (size_t)_fl_option(FL_OPT_RESERVE);
  size_t limit = _fl_prim_address_limit();
  if (limit != SIZE_MAX) {
    size_t used = _fl_prim_address_used();
    size_t left = limit > used ? limit - used : 0;
    if (want > left / 2) {
      want = left / 2;
      _fl_verbose("RLIMIT_AS leaves %zu MiB of address space; reserving at most %zu MiB",
                  left >> 20, want >> 20);
    }
  }
  return want & ~(FL_CHUNK - 1);
}

#define RESERVE_ALIGN (64 * FL_MiB)

/* The budget from the options, Lambda, the cgroup and MemAvailable, at most
 * the reservation. */
static void detect_budget(fl_budget_t *out, size_t size) {
  long long bopt = _fl_option(FL_OPT_BUDGET);
  _fl_budget_detect(NULL, bopt == FL_AUTO ? 0 : (uint64_t)bopt,
                    _fl_prim_getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), _fl_option(FL_OPT_HEADROOM),
                    out);
  if (out->budget > size || out->limit == 0) {
    out->budget = size;
    out->source = FL_BUDGET_RESERVATION;
  }
}

bool _fl_arena_init(void) {
  fl_arena_t *a = &_fl_arena;
  size_t want = reservation_size();
  size_t size = want;
  char *base = NULL;
  fl_span_t *spans = NULL;
  /* Halve until the kernel agrees (ulimit -v, strict overcommit, a small
   * address space); below 4 chunks the arena is not worth having. */
  for (; size >= 4 * FL_CHUNK; size = (size / 2) & ~(FL_CHUNK - 1)) {
    size_t nslices = size >> FL_SLICE_SHIFT;
    size_t meta =
        _fl_align_up(nslices * sizeof(fl_span_t) + 2 * (size >> FL_CHUNK_SHIFT), FL_CHUNK);
    /* A large reservation starts on a 64 MiB boundary: an adapter's regions
     * must be aligned to mimalloc's arena block (32 or 64 MiB), and then the
     * first one starts at the base, with no gap left cold before it. */
    base = _fl_prim_reserve(size, size >= 64 * RESERVE_ALIGN ? RESERVE_ALIGN : FL_CHUNK);
    if (!base) continue;
    spans = _fl_prim_reserve(meta, _fl_prim_page_size());
    if (spans) break;
    _fl_prim_unmap(base, size);
    base = NULL;
  }
  if (!base) {
    _fl_verbose("no reservation could be made (wanted %zu MiB); every block comes from the OS",
                want >> 20);
    return false;
  }
  if (size < want)
    _fl_verbose("reserved %zu MiB instead of %zu MiB: the address space is limited", size >> 20,
                want >> 20);
  a->base = base;
  a->size = size;
  a->nslices = size >> FL_SLICE_SHIFT;
  a->nchunks = size >> FL_CHUNK_SHIFT;
  a->spans = spans;
  a->chunk_state = (_Atomic uint8_t *)(spans + a->nslices);
  a->chunk_progress = a->chunk_state + a->nchunks;
  pthread_mutex_init(&a->lock, NULL);
  pthread_mutex_init(&a->warm_lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&a->warm_done, &ca);
  pthread_condattr_destroy(&ca);

  /* THP auto: huge pages where the system allows them, except in a guest
   * that reports free pages to its host. There the free 2 MiB blocks a huge
   * page needs may be the ones the host took back: populating one cost
   * ~0.23 ms while the guest still held it (twice as fast as 4 KiB pages) and
   * ~4.8 ms after the host took it (Firecracker guest, after freeing 2 GiB
   * and 12 s idle), while 4 KiB pages stayed at ~0.57 ms per 2 MiB. So
   * there only the warmers use huge pages, chunk by chunk, and once they turn
   * slow only far ahead of the heap (want_huge); an allocation that
   * populates or faults by itself mostly keeps 4 KiB pages, whose cost does
   * not depend on the host. */
  long long thp = _fl_option(FL_OPT_THP);
  bool reporting = thp == FL_AUTO && _fl_prim_free_page_reporting();
  a->thp = thp == FL_AUTO ? _fl_prim_thp_mode() >= 1 && !reporting : thp == 1;
  a->thp_warmers = reporting && _fl_prim_thp_mode() >= 1;
#ifdef FL_SECURE
  a->thp_warmers = false; /* guard pages split chunks */
#endif
  /* A huge page is a chunk only with 4 KiB pages; with 16 or 64 KiB pages it
   * is 32 or 512 MiB, and one fault in it would commit far more than the
   * chunk the budget counts. There the reservation refuses huge pages, even
   * where the system mode is "always". */
  size_t huge = _fl_prim_huge_page_size();
  if (huge != FL_CHUNK) {
    if (a->thp || a->thp_warmers)
      _fl_verbose("huge pages are %zu KiB here, not one %zu KiB chunk: huge pages off", huge >> 10,
                  FL_CHUNK >> 10);
    a->thp = a->thp_warmers = false;
    thp = 0;
  }
  if (reporting)
    _fl_verbose("the host takes back free pages (virtio free page reporting): huge pages %s",
                a->thp_warmers ? "for warmed chunks while they stay cheap" : "off");
  if (reporting) thp = 0; /* the reservation itself: 4 KiB pages */
  /* THP=0 must also hold where the system mode is "always". */
  if (a->thp || thp == 0) _fl_prim_hugepage(base, size, a->thp);
  long long method = _fl_option(FL_OPT_WARM_METHOD);
  a->touch_method = method == 1 || (method == FL_AUTO && !_fl_prim_has_populate());

  long long wopt = _fl_option(FL_OPT_WARMERS);
  int cpus = _fl_prim_cpu_count();
  /* One warmer per two cores, at most 8: the warmers must leave the
   * application a core even while it is still starting up. */
  a->warmers_max = wopt == FL_AUTO ? (cpus <= 2 ? 1 : (cpus / 2 > 8 ? 8 : cpus / 2)) : (int)wopt;
#ifdef FL_SECURE
  /* Touching pages would fault on guard pages that allocations put in
   * chunks a warmer is still working on; populate reports them instead. */
  if (a->touch_method && a->warmers_max > 0) {
    a->warmers_max = 0;
    _fl_verbose("secure build without MADV_POPULATE_WRITE: warming off");
  }
#endif

  detect_budget(&a->budget, size);
  _fl_verbose("reservation %p, %zu MiB; huge pages %s; warming by %s with up to %d warmer(s)",
              (void *)base, size >> 20, a->thp ? "on" : "off",
              a->touch_method ? "touching pages" : "MADV_POPULATE_WRITE", a->warmers_max);
  _fl_verbose("budget %llu MiB from %s (limit %llu MiB, headroom %llu MiB)",
              (unsigned long long)(a->budget.budget >> 20), budget_source_name(a->budget.source),
              (unsigned long long)(a->budget.limit >> 20),
              (unsigned long long)(a->budget.headroom >> 20));
  return true;
}

/* --- Populating --------------------------------------------------------- */

static int populate(void *addr, size_t size) {
  return _fl_arena.touch_method ? _fl_prim_populate_touch(addr, size)
                                : _fl_prim_populate(addr, size);
}

int _fl_populate_inline(void *addr, size_t size) {
  static _Atomic bool refused; /* populate refused (a seccomp filter, say): stop asking */
  if (atomic_load_explicit(&refused, memory_order_relaxed)) return 0;
  uint64_t before = _fl_prim_thread_minflt();
  int rc = populate(addr, size);
  FL_STAT_ADD(faults_taken, _fl_prim_thread_minflt() - before);
  FL_STAT_ADD(populated_inline, size);
  /* Only ENOMEM fails the allocation: the memory is not there, and touching
   * it would bring the OOM killer. Any other refusal leaves the pages to
   * fault in on first use, as with any allocator. */
  if (rc != 0 && rc != ENOMEM) {
    atomic_store_explicit(&refused, true, memory_order_relaxed);
    _fl_verbose("populate refused (errno %d): pages will fault in on first use", rc);
    rc = 0;
  }
  return rc;
}

/* Warmers populate a chunk in pieces, so that an allocation that catches up
 * with a warmer can take the chunk over and populate only what is left. */
#define PIECE_SLICES 4 /* 256 KiB */

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
  return part && c >= atomic_load(&a->warm_cursor) && c < atomic_load(&a->warm_target);
#endif
}

int _fl_warm_fresh(size_t first, size_t n) {
  fl_arena_t *a = &_fl_arena;
  size_t end = first + n;
  size_t run_start = 0, run_len = 0; /* slices to populate, one call per run */
  int rc = 0;
  for (size_t s = first; s < end;) {
    size_t c = s / FL_SLICES_PER_CHUNK;
    size_t cstart = c * FL_SLICES_PER_CHUNK, cend = cstart + FL_SLICES_PER_CHUNK;
    size_t upto = cend < end ? cend : end;
    size_t from = s; /* first slice of [s, upto) that needs populating */
    uint8_t st = atomic_load_explicit(&a->chunk_state[c], memory_order_acquire);
    if (st == FL_CHUNK_COLD && leave_to_warmer(c, s > cstart || upto < cend)) {
      /* populate [s, upto) below; the chunk stays COLD */
    } else if (st == FL_CHUNK_COLD || st == FL_CHUNK_WARMING) {
      /* Take the chunk: no warmer starts on it, and a warmer working on it
       * stops after its current piece; populate from that piece on. */
      if (atomic_compare_exchange_strong(&a->chunk_state[c], &st, FL_CHUNK_TAKEN) &&
          st == FL_CHUNK_WARMING) {
        size_t done = cstart + atomic_load(&a->chunk_progress[c]) * PIECE_SLICES;
        if (done > from) from = done < upto ? done : upto;
      }
      st = atomic_load_explicit(&a->chunk_state[c], memory_order_acquire);
    }
    if (st == FL_CHUNK_WARM || from == upto) {
      FL_STAT_ADD(faults_avoided, ((upto - s) << FL_SLICE_SHIFT) / _fl_prim_page_size());
      if (run_len)
        rc = rc ? rc : _fl_populate_inline(_fl_slice_addr(run_start), run_len << FL_SLICE_SHIFT);
      run_len = 0;
    } else {
      if (from > s) {
        FL_STAT_ADD(faults_avoided, ((from - s) << FL_SLICE_SHIFT) / _fl_prim_page_size());
        if (run_len)
          rc = rc ? rc : _fl_populate_inline(_fl_slice_addr(run_start), run_len << FL_SLICE_SHIFT);
        run_len = 0;
      }
      if (!run_len) run_start = from;
      run_len += upto - from;
      FL_STAT_ADD(warm, (upto - from) << FL_SLICE_SHIFT);
    }
    s = upto;
  }
  if (run_len)
    rc = rc ? rc : _fl_populate_inline(_fl_slice_addr(run_start), run_len << FL_SLICE_SHIFT);
  return rc;
}

/* Huge pages for warmed chunks (thp_warmers): mark the chunk MADV_HUGEPAGE
 * before populating it, so that its first piece brings a whole huge page.
 * Only for chunks a prefault asked for (see below).
 * Adjacent marked chunks merge into one mapping; a cap on separate runs
 * keeps the process far from the kernel's mapping limit. */
#define HUGE_RUNS_MAX 1024
#define HUGE_SLOW_NS 1500000 /* 2.5x what 4 KiB pages cost for 2 MiB here */

/* Once huge pages are slow, only chunks this far above the frontier still get
 * them: at the rate a program allocates, 64 MiB of new memory takes far
 * longer than the ~5 ms a slow huge page keeps its warmer. One allocation of
 * 64 MiB or more moves the frontier at once, though; it may then catch a
 * chunk a warmer has just marked and pay for its huge page itself, at most
 * one per warmer. */
#define HUGE_SLOW_GAP_CHUNKS 32
/* Readings below this brought no huge page (the kernel fell back to 4 KiB
 * pages, or an allocation had populated the piece already): no evidence. */
#define HUGE_NONE_NS 100000

/* Marking changes the mapping: it waits for the other warmers' faults in
 * it and holds off their next ones, so two warmers marking chunk by chunk
 * warmed no faster than one. Once a huge page has come cheap, several
 * warmers mark a batch at a time (the chunks they take next) and fault in
 * parallel. A batch that turns slow, or that warming stops short of, is
 * unmarked at once (huge_cost, warmer_main). Until huge pages are known to
 * be slow (two slow faults in a row), an allocation that overtakes the
 * warmers inside a batch may pay for a slow huge page itself, and a mark
 * may wait behind another warmer's slow fault, holding the process's
 * mapping lock meanwhile. Once they are slow, chunks are marked and
 * faulted one at a time, under huge_lock: next to a chunk whose slow fault
 * another warmer is in, MADV_HUGEPAGE would hold that lock for writing
 * until the fault ends (~5 ms), stalling every mmap the program makes. */
#define HUGE_MARK_BATCH 64
static pthread_mutex_t huge_lock = PTHREAD_MUTEX_INITIALIZER;

static bool want_huge(size_t c) {
  fl_arena_t *a = &_fl_arena;
  if (!a->thp_warmers) return false;
  /* Only what a prefault asked for, while the program starts: AHEAD's
   * chunks are wanted soon, and an allocation that catches a warmer inside
   * a slow huge page would wait for it. */
  if (c >= atomic_load_explicit(&a->prefault_until, memory_order_relaxed)) return false;
  /* Slow huge pages cost the warmers time, not the program, as long as the
   * program is not about to use them. */
  return !atomic_load_explicit(&a->thp_slow, memory_order_relaxed) ||
         c >= atomic_load_explicit(&a->frontier, memory_order_relaxed) / FL_SLICES_PER_CHUNK +
                  HUGE_SLOW_GAP_CHUNKS;
}

/* The run of marked chunks [marked_lo, marked_hi) that the last marks made
 * or extended (empty: lo == hi), and whether a huge page came cheap yet.
 * pre for all: huge_lock held. */
static size_t marked_lo, marked_hi;
static bool huge_cheap_seen;
static int huge_runs; /* separate marked runs made (HUGE_RUNS_MAX) */

/* Unmark the marked chunks from `from` on (huge pages already there stay). */
static void unmark_from(size_t from) {
  fl_arena_t *a = &_fl_arena;
  if (from < marked_lo) from = marked_lo;
  if (from >= marked_hi) return;
  _fl_prim_hugepage(a->base + (from << FL_CHUNK_SHIFT), (marked_hi - from) << FL_CHUNK_SHIFT,
                    false);
  marked_hi = from;
}

/* Mark chunk c MADV_HUGEPAGE; with several warmers and cheap huge pages,
 * with the batch after it, up to what the warmers will warm. A chunk just
 * below the run (taken before a later chunk's batch was marked) closes the
 * gap instead. False once the cap on separate runs is reached (for good: a
 * refused chunk does not count as the end of a run). */
static bool mark_huge(size_t c) {
  fl_arena_t *a = &_fl_arena;
  if (c >= marked_lo && c < marked_hi) return true;
  size_t lo = c, hi = c + 1;
  bool have = marked_hi > marked_lo;
  if (have && c < marked_lo && marked_lo - c <= HUGE_MARK_BATCH) {
    hi = marked_lo;
  } else if (a->warmers_max > 1 && huge_cheap_seen &&
             !atomic_load_explicit(&a->thp_slow, memory_order_relaxed)) {
    size_t until = atomic_load_explicit(&a->prefault_until, memory_order_relaxed);
    size_t target = atomic_load_explicit(&a->warm_target, memory_order_relaxed);
    if (until > target) until = target;
    if (until > a->nchunks) until = a->nchunks;
    if (until > c + HUGE_MARK_BATCH) until = c + HUGE_MARK_BATCH;
    if (until > hi) hi = until;
  }
  bool joins = have && (hi == marked_lo || lo == marked_hi);
  if (!joins && huge_runs >= HUGE_RUNS_MAX) return false;
  if (!joins) huge_runs++;
  _fl_prim_hugepage(a->base + (lo << FL_CHUNK_SHIFT), (hi - lo) << FL_CHUNK_SHIFT, true);
  if (joins) {
    if (lo < marked_lo) marked_lo = lo;
    if (hi > marked_hi) marked_hi = hi;
  } else {
    marked_lo = lo;
    marked_hi = hi;
  }
  return true;
}

/* Two slow pieces in a row limit huge pages to chunks far above the frontier.
 * One alone does not: the guest holds a stretch of recently freed memory,
 * then the host's; a stray slow block inside the stretch (or at its start)
 * should not cost the rest. pre: huge_lock held. */
#define HUGE_SLOW_RUN 2

static void huge_cost(size_t c, uint64_t ns) {
  fl_arena_t *a = &_fl_arena;
  static int slow_run;
  if (ns < HUGE_NONE_NS) return;
  if (ns <= HUGE_SLOW_NS) {
    slow_run = 0;
    huge_cheap_seen = true;
    return;
  }
  if (++slow_run < HUGE_SLOW_RUN || atomic_exchange(&a->thp_slow, true)) return;
  /* The rest of the batch goes back to 4 KiB pages; want_huge marks what
   * lies far enough ahead again. */
  unmark_from(c + 1);
  _fl_verbose("%d huge pages in a row took over %.1f ms to warm (the last %.1f ms, at chunk %zu: "
              "the host had taken the memory back): 4 KiB pages from now on, but for chunks "
              "far ahead of the heap",
              HUGE_SLOW_RUN, HUGE_SLOW_NS / 1e6, (double)ns / 1e6, c);
}

/* Bring chunk c's huge page by a write fault on its first byte: a fault
 * takes the lock of this mapping only (per-VMA locks, Linux 6.4+), where
 * MADV_POPULATE_WRITE would hold the process's mapping lock through a slow
 * huge page and stall the program's mmap calls (Python importing numpy,
 * 0.3 s). An atomic add of zero keeps whatever an allocation that took the
 * chunk meanwhile stored there. True when the fault took long enough to
 * have brought a huge page. */
static bool fault_huge(size_t c) {
  char *base = _fl_arena.base + (c << FL_CHUNK_SHIFT);
  bool huge = false;
  pthread_mutex_lock(&huge_lock);
  bool serial = atomic_load_explicit(&_fl_arena.thp_slow, memory_order_relaxed);
  if (mark_huge(c)) {
    if (!serial) pthread_mutex_unlock(&huge_lock);
    uint64_t t0 = _fl_prim_now_ns();
#ifdef FL_TSAN
    /* The add of zero races with an allocation's plain stores by design;
     * ThreadSanitizer builds populate instead, mapping lock and all. */
    populate(base, _fl_prim_page_size());
#else
    _fl_prim_populate_touch(base, _fl_prim_page_size());
#endif
    uint64_t ns = _fl_prim_now_ns() - t0;
    if (!serial) pthread_mutex_lock(&huge_lock);
    huge_cost(c, ns);
    huge = ns >= HUGE_NONE_NS;
  }
  pthread_mutex_unlock(&huge_lock);
  return huge;
}

/* Warm chunk c piece by piece. Returns 0, or an errno from populate. Stops
 * early, leaving the rest to the allocation, when an allocation takes it. */
static int warm_chunk(size_t c) {
  fl_arena_t *a = &_fl_arena;
  char *base = a->base + (c << FL_CHUNK_SHIFT);
  size_t piece = PIECE_SLICES << FL_SLICE_SHIFT, pieces = FL_CHUNK / piece;
  int rc = 0;
  atomic_store(&a->chunk_progress[c], 0);
  uint64_t t0 = _fl_prim_now_ns();
  /* The chunk's span descriptors too: the allocation that takes the chunk
   * writes them, and their pages would fault there (one page serves two
   * chunks, so every other call finds it present and returns at once). */
  size_t page = _fl_prim_page_size();
  uintptr_t d0 = (uintptr_t)&a->spans[c * FL_SLICES_PER_CHUNK] & ~(uintptr_t)(page - 1);
  uintptr_t d1 = _fl_align_up((uintptr_t)&a->spans[(c + 1) * FL_SLICES_PER_CHUNK], page);
  populate((void *)d0, d1 - d0);
  /* A chunk that a huge page fills (or will, at its first fault) is
   * populated in one call: after the first piece, seven calls that each
   * found the piece present cost the warmers 5-10%. */
  size_t step = a->thp || (want_huge(c) && fault_huge(c)) ? pieces : 1;
  size_t k = 0;
  for (; k < pieces; k += step) {
    if (atomic_load_explicit(&a->chunk_state[c], memory_order_relaxed) != FL_CHUNK_WARMING) break;
    rc = populate(base + k * piece, step * piece);
    if (rc) break;
    atomic_store_explicit(&a->chunk_progress[c], (uint8_t)(k + step), memory_order_release);
  }
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

/* Memory that is not the arena's (another allocator's own OS memory) for the
 * warmers to populate before their next chunk: a few ranges, under warm_lock.
 * A piece that fails (unmapped, PROT_NONE) is skipped: populating never
 * changes what a page holds, so a wrong guess costs nothing but time. */
#define MAX_FOREIGN 4
static struct {
  char *addr;
  size_t size;
} foreign[MAX_FOREIGN];
static _Atomic int nforeign;

static void warm_foreign_range(char *addr, size_t size) {
  fl_arena_t *a = &_fl_arena;
  size_t piece = PIECE_SLICES << FL_SLICE_SHIFT, done = 0;
  uint64_t t0 = _fl_prim_now_ns();
  for (size_t off = 0; off < size; off += piece) {
    if (atomic_load_explicit(&_fl_counters.warm, memory_order_relaxed) + piece > a->budget.budget)
      break;
    size_t n = size - off < piece ? size - off : piece;
    if (populate(addr + off, n) == 0) done += n;
  }
  FL_STAT_ADD(warmer_ns, _fl_prim_now_ns() - t0);
  FL_STAT_ADD(warm, done);
  FL_STAT_ADD(warmed_by_warmers, done);
  _fl_verbose("warmed %zu of %zu MiB of another allocator's memory at %p", done >> 20, size >> 20,
              (void *)addr);
}

/* pre: warm_lock not held. Serve the foreign ranges queued so far. */
static void warm_foreign_queue(void) {
  fl_arena_t *a = &_fl_arena;
  for (;;) {
    pthread_mutex_lock(&a->warm_lock);
    if (nforeign == 0) {
      pthread_mutex_unlock(&a->warm_lock);
      return;
    }
    int k = atomic_fetch_sub(&nforeign, 1) - 1;
    char *addr = foreign[k].addr;
    size_t size = foreign[k].size;
    pthread_mutex_unlock(&a->warm_lock);
    warm_foreign_range(addr, size);
  }
}

/* --- Warmers ------------------------------------------------------------ */

/* While a snapshot is being prepared (fl_snapshot_prepare until
 * fl_snapshot_restored), warmers take no new chunk and none start; targets
 * raised meanwhile are kept for the restore. Written under warm_lock. */
static _Atomic bool paused;

/* Take the next chunk index below the target, or return false when there is
 * none. A CAS, not a fetch_add, so the cursor never runs past the target and
 * a later, larger target starts exactly where this one stopped. */
static bool next_chunk(size_t *out) {
  fl_arena_t *a = &_fl_arena;
  size_t c = atomic_load(&a->warm_cursor);
  for (;;) {
    if (atomic_load(&paused)) return false;
    if (c >= atomic_load(&a->warm_target)) return false;
    if (atomic_compare_exchange_weak(&a->warm_cursor, &c, c + 1)) {
      *out = c;
      return true;
    }
  }
}

static bool warming_allowed(size_t warmed_here) {
  fl_arena_t *a = &_fl_arena;
  if (atomic_load_explicit(&_fl_counters.warm, memory_order_relaxed) + FL_CHUNK >
      a->budget.budget) {
    _fl_verbose("warming stops at the budget (%llu MiB)",
                (unsigned long long)(a->budget.budget >> 20));
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

/* pre: warm_lock held. n warmers stop (or never started); the last one out
 * wakes fl_prefault_wait and closes the stretch of wall time warming_ns
 * counts, which is what all warmers together achieve (warmer_ns sums each
 * warmer's own time). */
static void warmers_leave(int n) {
  fl_arena_t *a = &_fl_arena;
  if (atomic_fetch_sub(&a->warmers_running, n) != n) return;
  FL_STAT_ADD(warming_ns, _fl_prim_now_ns() - a->warmers_since);
  pthread_cond_broadcast(&a->warm_done);
}

static void *warmer_main(void *arg) {
  fl_arena_t *a = &_fl_arena;
  _fl_prim_thread_lowest_priority();
  size_t warmed_here = 0;
  for (;;) {
    warm_foreign_queue();
    size_t c;
    bool stop = false;
    while (!stop && next_chunk(&c)) {
      /* Foreign memory queued meanwhile is in use already: it goes first. */
      if (atomic_load_explicit(&nforeign, memory_order_relaxed)) warm_foreign_queue();
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
      pthread_mutex_lock(&huge_lock);
      unmark_from(c);
      pthread_mutex_unlock(&huge_lock);
    }
    pthread_mutex_lock(&a->warm_lock);
    if (stop) atomic_store(&a->warm_target, atomic_load(&a->warm_cursor));
    /* A prefault call may have raised the target after we ran out of work
     * but before we got the lock: go on rather than leave it unserved. */
    if (!stop && !atomic_load(&paused) &&
        (atomic_load(&a->warm_cursor) < atomic_load(&a->warm_target) || nforeign)) {
      pthread_mutex_unlock(&a->warm_lock);
      continue;
    }
    warmers_leave(1);
    pthread_mutex_unlock(&a->warm_lock);
    return NULL;
  }
}

/* --- Prefault ----------------------------------------------------------- */

/* Raise the warm target to chunk `target` (counting from `from`, the chunk
 * the frontier is in) and start warmers up to the maximum. Returns the number
 * of warmers that will be running. */
static int raise_target(size_t from, size_t target) {
  fl_arena_t *a = &_fl_arena;
  if (target > a->nchunks) target = a->nchunks;
  pthread_mutex_lock(&a->warm_lock);
  size_t old = atomic_load(&a->warm_target);
  if (target > old) {
    /* Skip what lies below `from` (taken by allocations already), but only
     * when nothing is pending there: a range raised a moment ago (an
     * adapter's previous region) must not be skipped. */
    size_t cursor = atomic_load(&a->warm_cursor);
    if (cursor < from && cursor >= old) atomic_store(&a->warm_cursor, from);
    a->prefault_bytes += (uint64_t)(target - (old > from ? old : from)) * FL_CHUNK;
    atomic_store(&a->warm_target, target);
  }
  int want = a->warmers_max;
  size_t pending = atomic_load(&a->warm_target) - atomic_load(&a->warm_cursor) + (size_t)nforeign;
  if ((size_t)want > pending) want = (int)pending;
  int start = atomic_load(&paused) ? 0 : want - atomic_load(&a->warmers_running);
  if (start > 0 && atomic_fetch_add(&a->warmers_running, start) == 0)
    a->warmers_since = _fl_prim_now_ns();
  pthread_mutex_unlock(&a->warm_lock);
  /* Threads start outside the lock: pthread_create allocates (the new
   * thread's TLS vector), which can come back here through malloc. */
  for (int i = 0; i < start; i++)
    if (_fl_prim_thread_start(warmer_main, NULL) != 0) {
      pthread_mutex_lock(&a->warm_lock);
      warmers_leave(start - i);
      pthread_mutex_unlock(&a->warm_lock);
      _fl_verbose("could not start a warmer thread");
      break;
    }
  return want;
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
  size_t until = atomic_load(&a->prefault_until);
  while (until < from + chunks &&
         !atomic_compare_exchange_weak(&a->prefault_until, &until, from + chunks)) {
  }
  int n = raise_target(from, from + chunks);
  if (bytes) _fl_verbose("prefault: warming up to %zu MiB with %d warmer(s)", chunks * 2, n);
  return 0;
}

bool _fl_warming_on(void) {
  return _fl_arena.warmers_max > 0 &&
         (_fl_option(FL_OPT_AHEAD) != 0 || _fl_prefault_default() != 0);
}

/* Warm ahead: each time the frontier enters a new chunk, keep warming a part
 * of the arena ahead of it proportional to what the heap has used so far
 * (half of it, from 8 MiB up to AHEAD). A process that never grows pays
 * nothing; one that does finds its next memory warm, or shares the
 * populating with a warmer on another core. */
void _fl_warm_ahead(size_t frontier) {
  fl_arena_t *a = &_fl_arena;
  long long max = _fl_option(FL_OPT_AHEAD);
  if (max == 0 || a->warmers_max <= 0 || a->forked) return;
  if (max == FL_AUTO) max = 256 * FL_MiB;
  size_t ahead = (frontier << FL_SLICE_SHIFT) / 2;
  if (ahead < 8 * FL_MiB) ahead = 8 * FL_MiB;
  if (ahead > (size_t)max) ahead = (size_t)max;
  size_t from = frontier / FL_SLICES_PER_CHUNK, chunks = ahead >> FL_CHUNK_SHIFT;
  /* Hysteresis: while more than half the distance is still warm ahead, leave
   * the warmers idle, so that they work in bursts rather than follow every
   * chunk the application takes across memory that is already warm. */
  size_t target = atomic_load_explicit(&a->warm_target, memory_order_relaxed);
  if (target > from && target - from > chunks / 2 + 1) return;
  raise_target(from, from + 1 + chunks);
}

int _fl_prefault_wait_ms(long timeout_ms) {
  fl_arena_t *a = &_fl_arena;
  if (!a->base) return 0;
  struct timespec until;
  uint64_t deadline = _fl_prim_now_ns() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000u;
  until.tv_sec = (time_t)(deadline / 1000000000u);
  until.tv_nsec = (long)(deadline % 1000000000u);
  int rc = 0;
  pthread_mutex_lock(&a->warm_lock);
  while (atomic_load(&a->warmers_running) > 0 && rc == 0) {
    if (timeout_ms < 0)
      pthread_cond_wait(&a->warm_done, &a->warm_lock);
    else
      rc = pthread_cond_timedwait(&a->warm_done, &a->warm_lock, &until);
  }
  int done = atomic_load(&a->warmers_running) == 0;
  pthread_mutex_unlock(&a->warm_lock);
  return done ? 0 : ETIMEDOUT;
}

/* What PREFAULT asks for at start-up, in bytes. Inside Lambda the function's
 * memory is already paid for, so warm half of it. Elsewhere nothing says the
 * process will live long or use memory (a shell running `true` must not pay
 * for 64 MiB it never touches: populating and then freeing it at exit cost
 * ~3 ms per process), so nothing is warmed at start-up and AHEAD warms in
 * step with the heap's growth. */
size_t _fl_prefault_default(void) {
  fl_arena_t *a = &_fl_arena;
  long long v = _fl_option(FL_OPT_PREFAULT);
  if (v == FL_AUTO) return a->budget.in_lambda ? a->budget.lambda_bytes / 2 : 0;
  if (v & FL_PERCENT_BIT)
    return (size_t)((double)__atomic_load_n(&a->budget.budget, __ATOMIC_RELAXED) *
                    (double)(v & ~FL_PERCENT_BIT) / 10000.0);
  return (size_t)v;
}

static _Atomic bool start_prefault_claimed;

bool _fl_claim_start_prefault(void) {
  return !atomic_exchange(&start_prefault_claimed, true);
}

void _fl_arena_start_prefault(void) {
  if (!_fl_claim_start_prefault()) return;
  size_t bytes = _fl_prefault_default();
  if (bytes && _fl_arena.warmers_max > 0) _fl_prefault_bytes(bytes);
}

int _fl_warm_foreign(void *addr, size_t size) {
  fl_arena_t *a = &_fl_arena;
  if (!a->base || size == 0 || a->warmers_max <= 0) return 0;
  pthread_mutex_lock(&a->warm_lock);
  bool queued = nforeign < MAX_FOREIGN;
  if (queued) {
    int k = atomic_load(&nforeign);
    foreign[k].addr = addr;
    foreign[k].size = size;
    atomic_store(&nforeign, k + 1);
  }
  pthread_mutex_unlock(&a->warm_lock);
  if (!queued) return EBUSY;
  /* No new chunks: this only wakes the warmers for the queued range. */
  raise_target(0, 0);
  return 0;
}

void _fl_warm_range(size_t first, size_t n) {
  fl_arena_t *a = &_fl_arena;
  if (!a->base || n == 0 || a->warmers_max <= 0) return;
  size_t from = first / FL_SLICES_PER_CHUNK;
  size_t to = (first + n + FL_SLICES_PER_CHUNK - 1) / FL_SLICES_PER_CHUNK;
  int warmers = raise_target(from, to);
  _fl_verbose("warming %zu MiB handed to another allocator with %d warmer(s)",
              (n << FL_SLICE_SHIFT) >> 20, warmers);
}

void _fl_warm_atfork_child(void) {
  fl_arena_t *a = &_fl_arena;
  /* The warmers did not survive the fork: the child starts with none and
   * nothing pending; a chunk caught mid-warming counts as cold again. */
  pthread_mutex_init(&huge_lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&a->warm_done, &ca);
  pthread_condattr_destroy(&ca);
  atomic_store(&a->warmers_running, 0);
  /* Nor does the child start warmers of its own accord: a child of a
   * threaded parent should not create threads before it execs (it would be
   * the usual case: fork, then exec). fl_prefault still warms on request. */
  a->forked = true;
  atomic_store(&a->warm_target, atomic_load(&a->warm_cursor));
  for (size_t c = 0; c < a->nchunks && c < atomic_load(&a->warm_cursor); c++) {
    uint8_t w = FL_CHUNK_WARMING;
    atomic_compare_exchange_strong(&a->chunk_state[c], &w, FL_CHUNK_COLD);
  }
}

/* --- Snapshots ---------------------------------------------------------- */

void _fl_warmers_pause(void) {
  fl_arena_t *a = &_fl_arena;
  pthread_mutex_lock(&a->warm_lock);
  atomic_store(&paused, true);
  /* A warmer finishes the chunk it holds, then leaves; the last one out
   * broadcasts warm_done. */
  while (atomic_load(&a->warmers_running) > 0)
    pthread_cond_wait(&a->warm_done, &a->warm_lock);
  pthread_mutex_unlock(&a->warm_lock);
  /* Every chunk marked for huge pages goes back to 4 KiB pages, the
   * reservation's first state under thp_warmers (huge pages already there
   * stay): memory about to be given back must not fault in whole huge pages
   * at the program's first touch. The warmers mark again after a restore. */
  if (a->thp_warmers) {
    pthread_mutex_lock(&huge_lock);
    _fl_prim_hugepage(a->base, a->size, false);
    marked_lo = marked_hi = 0;
    huge_runs = 0;
    pthread_mutex_unlock(&huge_lock);
  }
}

size_t _fl_warm_target(void) {
  return atomic_load(&_fl_arena.warm_target);
}

void _fl_budget_refresh(void) {
  fl_arena_t *a = &_fl_arena;
  fl_budget_t b;
  detect_budget(&b, a->size);
  /* Field by field, and only what changed: allocations and fl_stats_get
   * read these without a lock (the warmers are paused). */
#define SET_FIELD(f)                                                                               \
  if (__atomic_load_n(&a->budget.f, __ATOMIC_RELAXED) != b.f)                                      \
  __atomic_store_n(&a->budget.f, b.f, __ATOMIC_RELAXED)
  SET_FIELD(limit);
  SET_FIELD(budget);
  SET_FIELD(headroom);
  SET_FIELD(source);
  SET_FIELD(in_lambda);
  SET_FIELD(lambda_bytes);
#undef SET_FIELD
  _fl_verbose("budget %llu MiB from %s (limit %llu MiB, headroom %llu MiB)",
              (unsigned long long)(b.budget >> 20), budget_source_name(b.source),
              (unsigned long long)(b.limit >> 20), (unsigned long long)(b.headroom >> 20));
}

int _fl_warmers_resume(size_t from, size_t target) {
  fl_arena_t *a = &_fl_arena;
  if (target > a->nchunks) target = a->nchunks;
  pthread_mutex_lock(&a->warm_lock);
  atomic_store(&paused, false);
  if (target > atomic_load(&a->warm_target)) atomic_store(&a->warm_target, target);
  /* Back to the lowest chunk made cold: warmers skip what is not COLD. */
  size_t cursor = atomic_load(&a->warm_cursor);
  if (from < cursor && from < atomic_load(&a->warm_target))
    atomic_store(&a->warm_cursor, from);
  else
    from = cursor;
  pthread_mutex_unlock(&a->warm_lock);
  return raise_target(from, target);
}

/* --- Public ------------------------------------------------------------- */

int fl_prefault(size_t bytes) {
  if (!_fl_ensure_init()) return ENOMEM;
  if (_fl_arena.warmers_max <= 0) return 0;
  return _fl_prefault_bytes(bytes);
}

int fl_prefault_wait(long timeout_ms) {
  if (!_fl_ensure_init()) return 0;
  return _fl_prefault_wait_ms(timeout_ms);
}
