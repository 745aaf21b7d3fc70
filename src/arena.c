// SPDX-License-Identifier: MIT
/* The arena: the reservation and its metadata, how it is warmed (huge pages,
 * populate or touch, how many warmers), the budget, and the one fork-child
 * reset of the whole arena layer. */
#include "arena.h"

fl_arena_t _fl_arena;

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

static void log_budget(const fl_budget_t *b) {
  _fl_verbose("budget %llu MiB from %s (limit %llu MiB, headroom %llu MiB)",
              (unsigned long long)(b->budget >> 20), budget_source_name(b->source),
              (unsigned long long)(b->limit >> 20), (unsigned long long)(b->headroom >> 20));
}

/* Reserve the arena and its metadata (a span descriptor and two info bytes
 * per slice, then a state and a progress byte per chunk), halving the size
 * until the kernel agrees (ulimit -v, strict overcommit, a small address
 * space); below 4 chunks the arena is not worth having. */
static bool reserve(fl_arena_t *a) {
  size_t want = reservation_size(), size = want;
  char *base = NULL, *meta = NULL;
  for (; size >= 4 * FL_CHUNK; size = (size / 2) & ~(FL_CHUNK - 1)) {
    size_t nslices = size >> FL_SLICE_SHIFT;
    size_t meta_size = _fl_align_up(
        nslices * (FL_SPAN_DESC + sizeof(uint16_t)) + 2 * (size >> FL_CHUNK_SHIFT), FL_CHUNK);
    /* A large reservation starts on a 64 MiB boundary: an adapter's regions
     * must be aligned to mimalloc's arena block (32 or 64 MiB), and then the
     * first one starts at the base, with no gap left cold before it. */
    base = _fl_prim_reserve(size, size >= 64 * RESERVE_ALIGN ? RESERVE_ALIGN : FL_CHUNK);
    if (!base) continue;
    meta = _fl_prim_reserve(meta_size, _fl_prim_page_size());
    if (meta) break;
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
  a->spans = (struct fl_span_s *)meta;
  a->slice_info = (_Atomic uint16_t *)(meta + a->nslices * FL_SPAN_DESC);
  a->chunk_state = (_Atomic uint8_t *)(a->slice_info + a->nslices);
  a->chunk_progress = a->chunk_state + a->nchunks;
  return true;
}

/* THP auto: huge pages where the system allows them, except in a guest that
 * reports free pages to its host. There the free 2 MiB blocks a huge page
 * needs may be the ones the host took back, and populating one is then far
 * slower than populating base pages (TUNING.md, "Huge pages in a guest that
 * reports free pages"). So there only the warmers use huge pages, chunk by
 * chunk, until they turn slow (huge.c); an
 * allocation that populates or faults by itself keeps base pages, whose cost
 * does not depend on the host. */
static void choose_huge_pages(fl_arena_t *a) {
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
  if (reporting) thp = 0; /* the reservation itself: base pages */
  /* THP=0 must also hold where the system mode is "always". */
  if (a->thp || thp == 0) _fl_prim_hugepage(a->base, a->size, a->thp);
}

/* How chunks are populated and by how many warmers. */
static void choose_warming(fl_arena_t *a) {
  long long method = _fl_option(FL_OPT_WARM_METHOD);
  a->touch_method = method == 1 || (method == FL_AUTO && !_fl_prim_has_populate());
  long long wopt = _fl_option(FL_OPT_WARMERS);
  int cpus = _fl_prim_cpu_count();
  /* One warmer per two cores, at most 8: the warmers must leave the
   * application a core even while it is still starting up. */
  a->warm.max = wopt == FL_AUTO ? (cpus <= 2 ? 1 : (cpus / 2 > 8 ? 8 : cpus / 2)) : (int)wopt;
#ifdef FL_SECURE
  /* Touching pages would fault on guard pages that allocations put in
   * chunks a warmer is still working on; populate reports them instead. */
  if (a->touch_method && a->warm.max > 0) {
    a->warm.max = 0;
    _fl_verbose("secure build without MADV_POPULATE_WRITE: warming off");
  }
#endif
}

/* The huge pages' lock and the warmers' condition, new. */
static void init_sync(fl_arena_t *a) {
  pthread_mutex_init(&a->huge.lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&a->warm.done, &ca);
  pthread_condattr_destroy(&ca);
}

bool _fl_arena_init(void) {
  fl_arena_t *a = &_fl_arena;
  if (!reserve(a)) return false;
  pthread_mutex_init(&a->warm.lock, NULL);
  init_sync(a);
  choose_huge_pages(a);
  choose_warming(a);
  detect_budget(&a->budget, a->size);
  _fl_verbose("reservation %p, %zu MiB; huge pages %s; warming by %s with up to %d warmer(s)",
              (void *)a->base, a->size >> 20, a->thp ? "on" : "off",
              a->touch_method ? "touching pages" : "MADV_POPULATE_WRITE", a->warm.max);
  log_budget(&a->budget);
  _fl_maps_init();
  return true;
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
  log_budget(&b);
}

/* --- Fork --------------------------------------------------------------- */

void _fl_arena_lock(bool lock) {
  /* Order: the warmers' lock, then the tracked mappings' (a warmer holds
   * the latter only across a populate piece, never taking the former). */
  if (lock) {
    pthread_mutex_lock(&_fl_arena.warm.lock);
    _fl_maps_lock(true);
  } else {
    _fl_maps_lock(false);
    pthread_mutex_unlock(&_fl_arena.warm.lock);
  }
}

/* The child of fork(): only the forking thread lives on, so no warmer does.
 * Each part of the arena layer's state, and what becomes of it:
 *   warm.lock            released by the fork handler (init.c), which held
 *                        it across fork()
 *   huge.lock, warm.done made new (a warmer may have held the lock, or
 *                        waited)
 *   warmers              none run and nothing is pending: the target comes
 *                        down to the cursor, the foreign queue empties, and
 *                        a chunk caught WARMING is COLD again (its warmer is
 *                        gone; populating again costs nothing where done)
 *   automatic warming    off (forked): a child of a threaded parent should
 *                        not create threads before it execs, the usual next
 *                        step; fl_prefault still warms on request
 *   paused               kept: a child forked between fl_snapshot_prepare
 *                        and fl_snapshot_restored is in the same snapshot
 *   start_claimed, prefault_until, prefault_bytes
 *                        kept: facts about the memory, which the child has
 *   huge pages           marks kept (the child inherits the mapping and its
 *                        advice), and what was learnt about their cost
 *   tracked mappings     forgotten, and tracking stops (maps.c): no
 *                        warmer runs there to warm them
 *   reservation, chunk states other than WARMING, budget, populate_refused
 *                        kept: the child has the same memory and kernel */
void _fl_arena_atfork_child(void) {
  fl_arena_t *a = &_fl_arena;
  init_sync(a);
  atomic_store(&a->warm.running, 0);
  atomic_store(&a->warm.nforeign, 0);
  a->warm.forked = true;
  _fl_maps_atfork_child();
  size_t cursor = atomic_load(&a->warm.cursor);
  atomic_store(&a->warm.target, cursor);
  for (size_t c = 0; c < a->nchunks && c < cursor; c++) {
    uint8_t w = FL_CHUNK_WARMING;
    atomic_compare_exchange_strong(&a->chunk_state[c], &w, FL_CHUNK_COLD);
  }
}
