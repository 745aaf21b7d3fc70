// SPDX-License-Identifier: MIT
/* The arena layer: the reservation, the state of each chunk, populating,
 * the huge-page policy and the warmers. What it offers the span layer above:
 * the reservation's geometry and chunk states, warm fresh memory
 * (_fl_warm_fresh), warming ahead of the frontier, prefaults and the
 * snapshot pause. */
#ifndef FL_ARENA_H
#define FL_ARENA_H

#include "config.h"

/* A chunk's warmth. COLD -> WARMING (a warmer took it) -> WARM, or -> TAKEN
 * when an allocation takes a COLD or WARMING chunk and populates its own
 * part. A chunk turns COLD again only when a snapshot gives it back, when a
 * warmer gives it back unwarmed, or in a fork child (caught WARMING); a
 * release turns WARM into TAKEN (whoever takes it next populates). */
enum { FL_CHUNK_COLD = 0, FL_CHUNK_WARMING = 1, FL_CHUNK_WARM = 2, FL_CHUNK_TAKEN = 3 };

/* Bytes per span descriptor: the arena reserves one per slice beside the
 * reservation (span.h defines them and checks the size). */
#define FL_SPAN_DESC 64
struct fl_span_s;

/* Warmers populate a chunk in pieces, so that an allocation that catches up
 * with a warmer can take the chunk over and populate only what is left. */
#define FL_PIECE_SLICES 4 /* 256 KiB */
#define FL_FOREIGN_MAX 4  /* foreign ranges queued at once */

/* The warmers' state (warm.c). `lock` guards raising the target, warmers
 * starting and leaving, `paused` and the foreign queue; the cursor and
 * target are read without it too. */
typedef struct fl_warmers_s {
  pthread_mutex_t lock;
  pthread_cond_t done;   /* broadcast when the last running warmer leaves */
  _Atomic size_t cursor; /* next chunk a warmer looks at; <= target */
  _Atomic size_t target; /* warm chunks below this index */
  _Atomic int running;
  uint64_t since; /* when running last left 0 (warming_ns) */
  int max;        /* warmers at most (WARMERS); 0: warming off */
  bool forked;    /* this process is a fork() child: no automatic warming */
  /* A snapshot is being prepared (fl_snapshot_prepare until
   * fl_snapshot_restored): warmers take no new chunk and none start;
   * targets raised meanwhile are kept for the restore. */
  _Atomic bool paused;
  uint64_t prefault_bytes; /* total bytes asked by prefault calls; atomic accesses */
  /* Chunks below this were asked for by PREFAULT or fl_prefault (not AHEAD):
   * warmed while the program is still starting, with time to spare. */
  _Atomic size_t prefault_until;
  _Atomic bool start_claimed; /* the start-up prefault ran, or an adapter took it */
  /* Memory that is not the arena's (another allocator's own OS memory) to
   * populate before the next chunk; entries [0, nforeign) are queued. */
  struct {
    char *addr;
    size_t size;
  } foreign[FL_FOREIGN_MAX];
  _Atomic int nforeign;
  /* Warming ahead (_fl_warm_ahead), under `lock`: the heap's growth counted
   * since win_ns began (grown at its start: win_mark) and in the window
   * before it (prev_growth). */
  uint64_t win_ns, win_mark, prev_growth;
} fl_warmers_t;

/* Huge pages for warmed chunks (huge.c). Under `lock`: the run of marked
 * chunks [marked_lo, marked_hi) the last marks made or extended (empty when
 * lo == hi), whether a huge page came cheap yet, the separate runs made and
 * the slow faults in a row. */
typedef struct fl_huge_s {
  pthread_mutex_t lock;
  size_t marked_lo, marked_hi;
  bool cheap_seen;
  int runs;
  int slow_run;
  _Atomic bool slow; /* huge chunks were slow: only those far ahead of the heap */
} fl_huge_t;

/* Memory a runtime maps itself (maps.c, MMAP): what the override library's
 * mmap family saw. `known`: anonymous private mappings of any protection
 * (a reservation that an mprotect may commit later). `queue`: committed
 * ranges, anonymous, private, readable and writable, in commit order, each
 * [lo, hi) still to warm (lo moves up as the warmers go). Both only ever
 * forget too much, never too little: whatever a call may have changed is
 * cut from them. `known` is sorted by address (disjoint ranges, adjacent
 * ones joined); `queue` is in commit order. `lock` guards both and is held across each populate
 * piece, so a call that changes a mapping waits for the piece. */
#define FL_MAPS_KNOWN 8192 /* anonymous private mappings remembered (sorted) */
#define FL_MAPS_QUEUE 1024 /* committed ranges waiting for the warmers */
typedef struct fl_maps_range_s {
  uintptr_t lo, hi;
  unsigned flags; /* known: FL_KNOWN_* */
} fl_maps_range_t;
typedef struct fl_maps_s {
  pthread_mutex_t lock;
  bool on;                       /* MMAP: track and warm */
  uint64_t cap;                  /* bytes warmed at most per range */
  _Atomic int pending;           /* work for the warmers: queued ranges, the pool */
  _Atomic int waiters;           /* reported calls waiting for the lock */
  _Atomic uint64_t last_call_ns; /* when the last reported call ended */
  _Atomic bool waker;            /* the waker thread runs (maps.c) */
  _Atomic unsigned wake;         /* its event: warmers to start */
  _Atomic int to_start;          /* warmers it is to start (counted running) */
  bool budget_said;              /* "over budget" was said once */
  bool known_full_said;          /* "too many mappings" was said once */
  fl_maps_range_t known[FL_MAPS_KNOWN];
  int nknown;
  fl_maps_range_t queue[FL_MAPS_QUEUE];
  int nqueue;
  /* Populated zero pages that commits of fresh ranges are served from
   * (maps.c): [base, base+size) mapped, [take, ready) populated and not
   * yet handed out. */
  struct {
    char *base;
    size_t size, take, ready;
    bool wanted; /* a fresh range's commit was seen */
    bool broken; /* stopped for good (budget, a failure) */
  } pool;
} fl_maps_t;

typedef struct fl_arena_s {
  char *base; /* the reservation */
  size_t size;
  size_t nslices, nchunks;
  struct fl_span_s *spans;         /* one descriptor per slice (span.h) */
  _Atomic uint16_t *slice_info;    /* per slice, for the heap layer (heap.h) */
  _Atomic uint8_t *chunk_state;    /* one FL_CHUNK_* per chunk */
  _Atomic uint8_t *chunk_progress; /* pieces a warmer has populated, per chunk */
  bool thp;                        /* huge pages on the whole reservation */
  /* Huge pages for the chunks warmers warm, while they stay cheap (huge.c). */
  bool thp_warmers;
  bool touch_method;             /* warm by touching pages instead of populate */
  _Atomic bool populate_refused; /* populate was refused (seccomp, say): stop asking */
  /* First slice never handed out. Only the span layer moves it, under its
   * lock, and only upwards; the warmers read it to warm ahead of it. On a
   * cache line apart from the fields above, which every free reads. */
  _Alignas(64) _Atomic size_t frontier;
  fl_budget_t budget;
  fl_warmers_t warm;
  fl_huge_t huge;
  fl_maps_t maps;
} fl_arena_t;

FL_INTERNAL extern fl_arena_t _fl_arena;

/* Whether warming n more bytes stays within the budget. Everything warmed
 * (the arena's chunks, another allocator's ranges, the program's own
 * mappings, MMAP's pool) counts in `warm`; the budget is read atomically, as
 * fl_snapshot_restored may refresh it meanwhile. */
static inline bool _fl_warm_fits(uint64_t n) {
  return atomic_load_explicit(&_fl_counters.warm, memory_order_relaxed) + n <=
         __atomic_load_n(&_fl_arena.budget.budget, __ATOMIC_RELAXED);
}

/* Take n bytes off warm, never below zero: the arena counts a span it gives
 * back whole, though not all of it may have been counted warm. */
static inline void _fl_warm_sub(uint64_t n) {
  uint64_t w = atomic_load_explicit(&_fl_counters.warm, memory_order_relaxed);
  while (!atomic_compare_exchange_weak_explicit(&_fl_counters.warm, &w, w - (n < w ? n : w),
                                                memory_order_relaxed, memory_order_relaxed)) {
  }
}

static inline bool _fl_in_arena(const void *p) {
  return (uintptr_t)p - (uintptr_t)_fl_arena.base < _fl_arena.size;
}
static inline size_t _fl_slice_of(const void *p) {
  return ((uintptr_t)p - (uintptr_t)_fl_arena.base) >> FL_SLICE_SHIFT;
}
static inline void *_fl_slice_addr(size_t slice) {
  return _fl_arena.base + (slice << FL_SLICE_SHIFT);
}

/* --- arena.c: the reservation, the budget, fork ------------------------- */

/* pre: called once, under the init lock. Reserves and decides how to warm. */
FL_INTERNAL bool _fl_arena_init(void);
/* Read the budget afresh (options, Lambda, cgroup, MemAvailable). pre: the
 * warmers are paused. */
FL_INTERNAL void _fl_budget_refresh(void);
/* Fork: hold the warmers' lock across fork() (lock), then release it, in
 * the parent and in the child; in the child then reset the rest of the
 * arena layer (warmers, huge pages). */
FL_INTERNAL void _fl_arena_lock(bool lock);
FL_INTERNAL void _fl_arena_atfork_child(void);

/* --- populate.c: populating in allocation calls ------------------------- */

/* Populate [addr, addr+size) by the reservation's method. 0 or an errno. */
FL_INTERNAL int _fl_populate(void *addr, size_t size);
/* Populate a range inside an allocation call, counting the faults it takes. */
FL_INTERNAL int _fl_populate_inline(void *addr, size_t size);
/* Make slices [first, first+n) of fresh memory warm before they are handed
 * out: warm chunks cost nothing, the rest is populated in one call per run.
 * Returns 0 or an errno. */
FL_INTERNAL int _fl_warm_fresh(size_t first, size_t n);
/* Of n fresh slices about to be handed out in one span, how many to make
 * warm in the call (_fl_warm_fresh): all of them up to the POPULATE limit,
 * beyond it only as much as faultless has populated so far. */
FL_INTERNAL size_t _fl_populate_slices(size_t n);
/* Slices [first, first+n) of a span are handed out without being made warm
 * (beyond _fl_populate_slices): their chunks stay for the warmers, but in
 * secure builds, where a warmer would fail on the span's guard page, they
 * are taken from the warmers. */
FL_INTERNAL void _fl_populate_skip(size_t first, size_t n);

/* --- huge.c: huge pages for warmed chunks ------------------------------- */

/* Chunk c, which a warmer is about to warm, will be one huge page: marked
 * and faulted in (true), or it keeps base pages (false). */
FL_INTERNAL bool _fl_huge_chunk(size_t c);
/* Warming stopped at chunk c: unmark what no warmer will warm now. */
FL_INTERNAL void _fl_huge_stop(size_t c);
/* Unmark every chunk (snapshots): huge pages already there stay. */
FL_INTERNAL void _fl_huge_unmark_all(void);

/* --- mapknown.c: the mappings MMAP knows (pre: the maps lock held) ------- */

/* A known range's flags. FRESH: mapped PROT_NONE with MAP_NORESERVE and
 * never given any other protection or flag-changing advice since, so it
 * holds no data and its mapping's flags are those of a fresh one (its
 * commit may be served from the pool). DONTFORK: madvise(MADV_DONTFORK)
 * applies to it. STACK: mapped as a stack. WARM: faultless populated it (a
 * warmer, or pages moved from the pool), and its bytes count in warm until
 * they are unmapped or dropped. */
#define FL_KNOWN_FRESH 1u
#define FL_KNOWN_DONTFORK 2u
#define FL_KNOWN_STACK 4u
#define FL_KNOWN_WARM 8u
/* Forget [lo, hi). Returns the bytes of it that were WARM. */
FL_INTERNAL size_t _fl_known_cut(uintptr_t lo, uintptr_t hi);
/* Set and clear flags over [lo, hi) (where known). */
FL_INTERNAL void _fl_known_flags(uintptr_t lo, uintptr_t hi, unsigned set, unsigned clear);
/* [lo, hi) is no longer WARM (its pages were dropped). Returns the bytes that
 * were. */
FL_INTERNAL size_t _fl_known_unwarm(uintptr_t lo, uintptr_t hi);
/* The bytes of [lo, hi) that are WARM. */
FL_INTERNAL size_t _fl_known_warm(uintptr_t lo, uintptr_t hi);
/* pre: [lo, hi) cut. Remember it with flags, joined to equal neighbours. */
FL_INTERNAL void _fl_known_remember(uintptr_t lo, uintptr_t hi, unsigned flags);
/* True when [lo, hi) is wholly known; *all: the flags every entry over it
 * has, *any: those some entry has. */
FL_INTERNAL bool _fl_known_over(uintptr_t lo, uintptr_t hi, unsigned *all, unsigned *any);

/* --- maps.c: memory a runtime maps itself ------------------------------- */

/* pre: the arena initialised. Decide whether MMAP tracks and warms. */
FL_INTERNAL void _fl_maps_init(void);
/* From the library's constructor, outside any lock and signal handler:
 * start the thread that starts the warmers for queued work (maps.c). */
FL_INTERNAL void _fl_maps_start(void);
/* True when the override library's mmap family should report to maps.c. */
FL_INTERNAL bool _fl_maps_on(void);
/* Around each reported call: take the lock before the system call (so no
 * populate piece runs while the mapping changes) and drop it after the
 * report; _fl_maps_end starts the warmers when something was queued.
 * Asynchronous signals are blocked in between (begin returns the mask that
 * end puts back): a handler's own mmap would wait for the lock forever. */
FL_INTERNAL uint64_t _fl_maps_begin(void);
FL_INTERNAL void _fl_maps_end(uint64_t sigs);
/* Reports, each under _fl_maps_begin. A mapping [addr, addr+len) was made
 * (cls: FL_MAP_* of its prot, flags and fd) or, when !made (a failed
 * MAP_FIXED), what was there may be gone; unmapped (moved: the old range of
 * an mremap, whose pages may live on, moved, resized or untouched by a call
 * that failed; both its ranges are reported unmapped); given a
 * new protection (pcls: FL_MAP_* of the prot; 0 when the call failed);
 * advised (advice: an FL_ADVICE_*, ok: the call succeeded). */
FL_INTERNAL void _fl_maps_mapped(void *addr, size_t len, bool made, unsigned cls);
FL_INTERNAL void _fl_maps_unmapped(void *addr, size_t len, bool moved);
FL_INTERNAL void _fl_maps_protected(void *addr, size_t len, unsigned pcls);
FL_INTERNAL void _fl_maps_advised(void *addr, size_t len, int advice, bool ok);
/* mlockall or munlockall: every mapping's flags may have changed, and with
 * MCL_FUTURE the pool's new regions would be locked (populated whole). */
FL_INTERNAL void _fl_maps_locked_all(void);
/* Before an mprotect (pcls: FL_MAP_* of its prot): serve it from the pool
 * instead when [addr, addr+len) is a fresh range (maps.c). True when served
 * (*err: 0, or the errno the call fails with; the tables are updated),
 * false when the caller is to make the call and report it. */
FL_INTERNAL bool _fl_maps_serve(void *addr, size_t len, unsigned pcls, int *err);
/* For a warmer: populate the next piece of the first queued range (or of
 * the pool), under the lock. FL_MAPS_WORKED, FL_MAPS_IDLE (nothing to do,
 * or the warmers are paused) or FL_MAPS_DEFERRED (the program changed its
 * mappings a moment ago: later). */
enum { FL_MAPS_IDLE, FL_MAPS_WORKED, FL_MAPS_DEFERRED };
FL_INTERNAL int _fl_maps_warm_piece(void);
/* MMAP saw the program change its mappings a moment ago (QUIET_NS). */
FL_INTERNAL bool _fl_maps_busy(void);
/* Snapshots, with the warmers paused: the pool's pages that no commit took
 * are given back (unmapped); the pool is made again, from its first size,
 * once the warmers run after the restore. Returns the bytes given back. */
FL_INTERNAL size_t _fl_maps_snapshot_release(void);
/* Fork: the lock held across fork(); in the child the tables empty and
 * tracking stops (no warmer runs there). */
FL_INTERNAL void _fl_maps_lock(bool lock);
FL_INTERNAL void _fl_maps_atfork_child(void);

/* --- warm.c: the warmers and prefaults ---------------------------------- */

FL_INTERNAL void _fl_arena_start_prefault(void);
/* The start-up prefault happens once: the first caller of this gets true.
 * An adapter that warms its own regions instead takes it first. */
FL_INTERNAL bool _fl_claim_start_prefault(void);
/* The bytes PREFAULT asks for at start-up (its default worked out). */
FL_INTERNAL size_t _fl_prefault_default(void);
/* Have the warmers populate slices [first, first+n), in address order, at
 * idle priority, within the budget, whoever owns them meanwhile. */
FL_INTERNAL void _fl_warm_range(size_t first, size_t n);
/* The same for part of a block the program is filling now: the warmers
 * populate it while the caller fills the rest, and the caller populates
 * what they have not reached when it gets there (_fl_warm_fresh). Nothing
 * in a fork child, with warming off, or while the warmers have work
 * pending. */
FL_INTERNAL void _fl_warm_beside(size_t first, size_t n);
/* Have the warmers populate another allocator's memory [addr, addr+size)
 * before their next chunk, within the budget; pieces that fail are skipped.
 * fl_prefault_wait waits for it too. 0, or EBUSY when too many are queued. */
FL_INTERNAL int _fl_warm_foreign(void *addr, size_t size);
/* Warm the next `bytes` from the frontier's chunk. 0, or ENOMEM without an
 * arena. */
FL_INTERNAL int _fl_prefault_bytes(size_t bytes);
/* True unless warming is off (WARMERS=0, or PREFAULT=0 with AHEAD=0). */
FL_INTERNAL bool _fl_warming_on(void);
/* The frontier moved to slice `frontier` and entered a new chunk; `grown`
 * is the bytes of fresh memory the heap has populated (or had warm) so far,
 * over its whole life. */
FL_INTERNAL void _fl_warm_ahead(size_t frontier, uint64_t grown);
/* Wait until no warmer runs, at most timeout_ms (< 0: no limit): 0 or
 * ETIMEDOUT. */
FL_INTERNAL int _fl_prefault_wait_ms(long timeout_ms);
/* Snapshots. Stop the warmers: none takes a new chunk or starts until
 * _fl_warmers_resume; returns once those running have left. */
FL_INTERNAL void _fl_warmers_pause(void);
/* Warm chunks from `from` (moving the cursor back there) up to at least
 * `target` again; returns the number of warmers that will run. */
FL_INTERNAL int _fl_warmers_resume(size_t from, size_t target);
/* Start warmers for queued work that is not the arena's (maps.c), from a
 * reported call, which may run in a signal handler: the warmers' lock is
 * only tried (busy: nothing done; the next reported call wakes again), and
 * the threads are started by maps.c's waker thread when it runs. */
FL_INTERNAL void _fl_warmers_wake(void);
/* For the waker thread: start the warmers handed to it. */
FL_INTERNAL void _fl_warmers_start_handed(void);
/* The chunk the warmers are to warm up to. */
FL_INTERNAL size_t _fl_warm_target(void);

#endif
