// SPDX-License-Identifier: MIT
/* jemalloc adapter: faultless as the page source of jemalloc 5.x through its
 * documented extent hooks (arena.<i>.extent_hooks). Every arena's extents
 * then come from the warm arena, and jemalloc's purges never give those warm
 * pages back to the OS. The contract per hook is in src/adapters/README.md.
 *
 * jemalloc's headers are often not installed, so the hook table and the
 * mallctl type are declared here from the documented API. */
#define _GNU_SOURCE
#include "pages.h"
#include "adapters/faultless-adapters.h"

#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- jemalloc's documented extent hook table (5.0 to 5.3) --- */

typedef struct extent_hooks_s extent_hooks_t;
struct extent_hooks_s {
  void *(*alloc)(extent_hooks_t *, void *new_addr, size_t size, size_t alignment, bool *zero,
                 bool *commit, unsigned arena_ind);
  bool (*dalloc)(extent_hooks_t *, void *addr, size_t size, bool committed, unsigned arena_ind);
  void (*destroy)(extent_hooks_t *, void *addr, size_t size, bool committed, unsigned arena_ind);
  bool (*commit)(extent_hooks_t *, void *addr, size_t size, size_t offset, size_t length,
                 unsigned arena_ind);
  bool (*decommit)(extent_hooks_t *, void *addr, size_t size, size_t offset, size_t length,
                   unsigned arena_ind);
  bool (*purge_lazy)(extent_hooks_t *, void *addr, size_t size, size_t offset, size_t length,
                     unsigned arena_ind);
  bool (*purge_forced)(extent_hooks_t *, void *addr, size_t size, size_t offset, size_t length,
                       unsigned arena_ind);
  bool (*split)(extent_hooks_t *, void *addr, size_t size, size_t size_a, size_t size_b,
                bool committed, unsigned arena_ind);
  bool (*merge)(extent_hooks_t *, void *addr_a, size_t size_a, void *addr_b, size_t size_b,
                bool committed, unsigned arena_ind);
};

/* --- Runs: what faultless handed jemalloc ------------------------------- */

/* jemalloc splits and merges extents at any page and hands them back in
 * pieces, while faultless takes a run back only whole. So each run records
 * how many of its bytes jemalloc has given back; the run returns to
 * faultless when that reaches its size. Kept in fl_malloc memory: a hook must
 * not call the jemalloc it is serving. */
typedef struct {
  uintptr_t start;
  size_t size;     /* bytes jemalloc asked for (the run may be longer) */
  size_t returned; /* bytes jemalloc destroyed or deallocated */
} run_t;

static pthread_mutex_t runs_lock = PTHREAD_MUTEX_INITIALIZER;
static run_t *runs; /* sorted by start */
static size_t nruns, runs_cap;

/* Index of the first run that ends after addr. pre: runs_lock held. */
static size_t run_find(uintptr_t addr) {
  size_t lo = 0, hi = nruns;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (runs[mid].start + runs[mid].size <= addr)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static bool run_add(void *p, size_t size) {
  pthread_mutex_lock(&runs_lock);
  if (nruns == runs_cap) {
    size_t cap = runs_cap ? 2 * runs_cap : 256;
    run_t *grown = fl_realloc(runs, cap * sizeof *runs);
    if (!grown) {
      pthread_mutex_unlock(&runs_lock);
      return false;
    }
    runs = grown;
    runs_cap = cap;
  }
  size_t i = run_find((uintptr_t)p);
  memmove(&runs[i + 1], &runs[i], (nruns - i) * sizeof *runs);
  runs[i] = (run_t){(uintptr_t)p, size, 0};
  nruns++;
  pthread_mutex_unlock(&runs_lock);
  return true;
}

/* jemalloc gives back [addr, addr+size). With `only_if_complete`, take it
 * only when that completes every run it touches (else jemalloc keeps it:
 * dalloc opts out); without, always take it (destroy). Completed runs go back
 * to faultless. Returns whether the range was taken. */
static bool runs_give_back(void *addr, size_t size, bool only_if_complete) {
  uintptr_t a = (uintptr_t)addr, end = a + size;
  void *done[64];
  size_t ndone = 0;
  pthread_mutex_lock(&runs_lock);
  size_t first = run_find(a), last = first;
  for (; last < nruns && runs[last].start < end; last++) {
    run_t *r = &runs[last];
    uintptr_t lo = r->start > a ? r->start : a;
    uintptr_t hi = r->start + r->size < end ? r->start + r->size : end;
    if (only_if_complete && r->returned + (hi - lo) != r->size) {
      pthread_mutex_unlock(&runs_lock);
      return false;
    }
  }
  size_t keep = first;
  for (size_t i = first; i < last; i++) {
    run_t *r = &runs[i];
    uintptr_t lo = r->start > a ? r->start : a;
    uintptr_t hi = r->start + r->size < end ? r->start + r->size : end;
    r->returned += hi - lo;
    if (r->returned >= r->size && ndone < sizeof done / sizeof done[0])
      done[ndone++] = (void *)r->start;
    else
      runs[keep++] = *r;
  }
  memmove(&runs[keep], &runs[last], (nruns - last) * sizeof *runs);
  nruns -= last - keep;
  pthread_mutex_unlock(&runs_lock);
  for (size_t i = 0; i < ndone; i++)
    _fl_pages_free(done[i]);
  return true;
}

/* --- The hooks ---------------------------------------------------------- */

/* Calls per hook, on our extents and on others' (the tests read them). */
enum {
  H_ALLOC,
  H_DALLOC,
  H_DESTROY,
  H_COMMIT,
  H_DECOMMIT,
  H_PURGE_LAZY,
  H_PURGE_FORCED,
  H_SPLIT,
  H_MERGE,
  H_COUNT
};
static _Atomic unsigned long hook_calls[H_COUNT];
#define COUNT(h) atomic_fetch_add_explicit(&hook_calls[h], 1, memory_order_relaxed)

/* Diagnostic: calls of each hook so far, in extent_hooks_t order. */
__attribute__((visibility("default"))) void fl_jemalloc_hook_calls(unsigned long calls[9]) {
  for (int i = 0; i < H_COUNT; i++)
    calls[i] = atomic_load(&hook_calls[i]);
}

/* The hooks each arena had before ours: extents they made (arena 0's first
 * extents, the huge arena's) are handed back to them. jemalloc's built-in
 * table when the arena had none. */
#define MAX_ARENAS 4096
static extent_hooks_t *_Atomic previous[MAX_ARENAS];
static extent_hooks_t *_Atomic default_hooks;

static extent_hooks_t *previous_of(unsigned arena_ind) {
  extent_hooks_t *h = arena_ind < MAX_ARENAS ? atomic_load(&previous[arena_ind]) : NULL;
  return h ? h : atomic_load(&default_hooks);
}

static bool ours(const void *addr) {
  return _fl_pages_owned(addr);
}

/* --- fork() --------------------------------------------------------------
 * jemalloc's fork handler takes its locks while other threads may sit in a
 * hook, holding an arena lock and waiting for faultless's; if faultless's
 * handler took its locks first, that is a deadlock. So while a fork is being
 * prepared the hooks do not enter faultless: they fall back to jemalloc's
 * own hooks (alloc) or opt out (dalloc), and the fork waits for the calls
 * already inside to leave. Our handler is registered after jemalloc's and
 * faultless's, so it runs before both. */
static _Atomic int forking, inside;

static bool enter(void) {
  atomic_fetch_add(&inside, 1);
  if (!atomic_load(&forking)) return true;
  atomic_fetch_sub(&inside, 1);
  return false;
}
static void leave(void) {
  atomic_fetch_sub(&inside, 1);
}

static void fork_prepare(void) {
  atomic_store(&forking, 1);
  while (atomic_load(&inside))
    sched_yield();
}
static void fork_done(void) {
  atomic_store(&forking, 0);
}

static void *hook_alloc(extent_hooks_t *self, void *new_addr, size_t size, size_t alignment,
                        bool *zero, bool *commit, unsigned arena_ind) {
  COUNT(H_ALLOC);
  /* Growing in place at new_addr: faultless cannot promise an address, and
   * jemalloc takes NULL as "allocate elsewhere". */
  if (new_addr && ours(new_addr)) return NULL;
  bool zeroed = false;
  void *p = NULL;
  if (!new_addr && enter()) {
    p = _fl_pages_alloc(size, alignment ? alignment : _fl_prim_page_size(), &zeroed);
    if (p && !run_add(p, size)) {
      _fl_pages_free(p);
      p = NULL;
    }
    leave();
  }
  if (!p) {
    /* The reservation is full (or faultless is passed through): never harm,
     * let jemalloc's own hooks map it. */
    extent_hooks_t *prev = previous_of(arena_ind);
    return prev && prev->alloc
               ? prev->alloc(prev, new_addr, size, alignment, zero, commit, arena_ind)
               : NULL;
  }
  if (*zero && !zeroed) memset(p, 0, size); /* warm: a memset, not faults */
  *zero = *zero || zeroed;
  *commit = true; /* faultless memory is always committed, and warm */
  return p;
}

static bool hook_dalloc(extent_hooks_t *self, void *addr, size_t size, bool committed,
                        unsigned arena_ind) {
  COUNT(H_DALLOC);
  if (!ours(addr)) {
    extent_hooks_t *prev = previous_of(arena_ind);
    return prev && prev->dalloc ? prev->dalloc(prev, addr, size, committed, arena_ind) : true;
  }
  /* false (taken) only when this completes whole runs; otherwise opt out, and
   * jemalloc keeps the extent, warm, for reuse. */
  if (!enter()) return true;
  bool taken = runs_give_back(addr, size, true);
  leave();
  return !taken;
}

static void hook_destroy(extent_hooks_t *self, void *addr, size_t size, bool committed,
                         unsigned arena_ind) {
  COUNT(H_DESTROY);
  if (!ours(addr)) {
    extent_hooks_t *prev = previous_of(arena_ind);
    if (prev && prev->destroy) prev->destroy(prev, addr, size, committed, arena_ind);
    return;
  }
  /* During a fork the range is left to the process (destroy cannot opt out). */
  if (!enter()) return;
  runs_give_back(addr, size, false);
  leave();
}

static bool hook_commit(extent_hooks_t *self, void *addr, size_t size, size_t offset, size_t length,
                        unsigned arena_ind) {
  COUNT(H_COMMIT);
  if (!ours(addr)) {
    extent_hooks_t *prev = previous_of(arena_ind);
    return prev && prev->commit ? prev->commit(prev, addr, size, offset, length, arena_ind) : true;
  }
  return false; /* never decommitted, so already committed: success */
}

static bool hook_decommit(extent_hooks_t *self, void *addr, size_t size, size_t offset,
                          size_t length, unsigned arena_ind) {
  COUNT(H_DECOMMIT);
  if (!ours(addr)) {
    extent_hooks_t *prev = previous_of(arena_ind);
    return prev && prev->decommit ? prev->decommit(prev, addr, size, offset, length, arena_ind)
                                  : true;
  }
  return true; /* opt out: the pages stay committed and warm */
}

static bool hook_purge_lazy(extent_hooks_t *self, void *addr, size_t size, size_t offset,
                            size_t length, unsigned arena_ind) {
  COUNT(H_PURGE_LAZY);
  if (!ours(addr)) {
    extent_hooks_t *prev = previous_of(arena_ind);
    return prev && prev->purge_lazy ? prev->purge_lazy(prev, addr, size, offset, length, arena_ind)
                                    : true;
  }
  return true; /* opt out: keep warm pages mapped */
}

static bool hook_purge_forced(extent_hooks_t *self, void *addr, size_t size, size_t offset,
                              size_t length, unsigned arena_ind) {
  COUNT(H_PURGE_FORCED);
  if (!ours(addr)) {
    extent_hooks_t *prev = previous_of(arena_ind);
    return prev && prev->purge_forced
               ? prev->purge_forced(prev, addr, size, offset, length, arena_ind)
               : true;
  }
  /* opt out: jemalloc then knows the pages are not zeroed, and keeps them */
  return true;
}

static bool hook_split(extent_hooks_t *self, void *addr, size_t size, size_t size_a, size_t size_b,
                       bool committed, unsigned arena_ind) {
  COUNT(H_SPLIT);
  if (!ours(addr)) {
    extent_hooks_t *prev = previous_of(arena_ind);
    return prev && prev->split ? prev->split(prev, addr, size, size_a, size_b, committed, arena_ind)
                               : true;
  }
  return false; /* runs are counted in bytes, not extents: any split is fine */
}

static bool hook_merge(extent_hooks_t *self, void *addr_a, size_t size_a, void *addr_b,
                       size_t size_b, bool committed, unsigned arena_ind) {
  COUNT(H_MERGE);
  bool a = ours(addr_a), b = ours(addr_b);
  if (a != b) return true; /* one warm, one not: refuse */
  if (!a) {
    extent_hooks_t *prev = previous_of(arena_ind);
    return prev && prev->merge
               ? prev->merge(prev, addr_a, size_a, addr_b, size_b, committed, arena_ind)
               : true;
  }
  return false; /* adjacent warm extents, even of two runs: each run still counts its bytes */
}

static extent_hooks_t faultless_hooks = {
    hook_alloc,      hook_dalloc,       hook_destroy, hook_commit, hook_decommit,
    hook_purge_lazy, hook_purge_forced, hook_split,   hook_merge,
};

/* --- Attaching ---------------------------------------------------------- */

static fl_mallctl_fn attached_mallctl;

/* Put our hooks on arena i unless it has hooks of the program's own.
 * Returns 0, or mallctl's error (EFAULT: the arena does not exist yet). */
static int hook_arena(fl_mallctl_fn mallctl_fn, unsigned i) {
  char name[64];
  snprintf(name, sizeof name, "arena.%u.extent_hooks", i);
  extent_hooks_t *cur = NULL, *mine = &faultless_hooks;
  size_t len = sizeof cur;
  int rc = mallctl_fn(name, &cur, &len, NULL, 0);
  if (rc) return rc;
  if (cur == mine) return 0;
  if (cur != atomic_load(&default_hooks)) return 0; /* the program's own hooks: leave them */
  if (i < MAX_ARENAS) atomic_store(&previous[i], cur);
  len = sizeof cur;
  return mallctl_fn(name, &cur, &len, &mine, sizeof mine);
}

/* The huge arena (allocations over opt.oversize_threshold) is made on first
 * use and cannot be given hooks before it exists: binding this thread to it
 * for a moment makes jemalloc create it, then the thread goes back. */
static int hook_missing_arena(fl_mallctl_fn mallctl_fn, unsigned i) {
  unsigned old, want = i;
  size_t len = sizeof old;
  if (mallctl_fn("thread.arena", &old, &len, &want, sizeof want) != 0) return EFAULT;
  mallctl_fn("thread.arena", NULL, NULL, &old, sizeof old);
  return hook_arena(mallctl_fn, i);
}

static void register_fork_handlers(void) {
  pthread_atfork(fork_prepare, fork_done, fork_done);
}

int fl_jemalloc_attach(fl_mallctl_fn mallctl_fn) {
  if (!mallctl_fn) return EINVAL;
  const char *version = NULL;
  size_t len = sizeof version;
  if (mallctl_fn("version", &version, &len, NULL, 0) != 0 || !version) {
    _fl_message("jemalloc: no \"version\" in mallctl; not attached, jemalloc runs unwarmed");
    return ENOTSUP;
  }
  /* extent_hooks_t has had these nine members from 5.0 to 5.3; 4.x had
   * chunk hooks, and a 6.x may differ again. */
  if (atoi(version) != 5) {
    _fl_message("jemalloc %s: extent hooks differ from jemalloc 5; not attached, jemalloc runs "
                "unwarmed",
                version);
    return ENOTSUP;
  }
  if (!_fl_pages_init()) {
    _fl_message("jemalloc: faultless has no arena here; not attached, jemalloc runs unwarmed");
    return ENOMEM;
  }
  extent_hooks_t *def = NULL;
  len = sizeof def;
  if (!atomic_load(&default_hooks)) {
    if (mallctl_fn("arena.0.extent_hooks", &def, &len, NULL, 0) != 0 || !def) return ENOTSUP;
    if (def != &faultless_hooks) atomic_store(&default_hooks, def);
  }
  unsigned narenas = 0;
  len = sizeof narenas;
  if (mallctl_fn("arenas.narenas", &narenas, &len, NULL, 0) != 0) return ENOTSUP;
  int hooked = 0;
  for (unsigned i = 0; i < narenas; i++) {
    int rc = hook_arena(mallctl_fn, i);
    if (rc == EFAULT) rc = hook_missing_arena(mallctl_fn, i);
    if (rc == 0) hooked++;
  }
  /* Warming ahead starts warmer threads from inside _fl_pages_alloc, and
   * pthread_create calls calloc, which is jemalloc, whose lock the hook's
   * caller holds: a deadlock. Until the core can start warmers without the
   * process's malloc, the hooks take only PREFAULT's warm memory and
   * populate the rest in one call per extent. */
  if (fl_option_get("AHEAD") != 0) {
    fl_option_set("AHEAD", "0");
    _fl_verbose("jemalloc: AHEAD off (warmers must not start inside a hook)");
  }
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, register_fork_handlers);
  attached_mallctl = mallctl_fn;
  _fl_verbose("jemalloc %s: extent hooks on %d of %u arenas", version, hooked, narenas);
  return 0;
}

/* --- jemalloc's memory from before the hooks ----------------------------- */

/* Before the hooks were set, arena 0 took its first extent from the OS; the
 * rest of it, retained, would serve the main thread's next large allocations
 * before any extent came from the hooks, so the program's first buffer would
 * be cold. The main thread moves to an arena created with our hooks, whose
 * every extent is warm; arena 0 keeps its blocks and serves other threads.
 * (Finding that rest by allocating through it instead left jemalloc 5.3 to
 * deadlock on its own mutex later, in 2 of 12 runs of node.) */
static void move_main_thread(fl_mallctl_fn mallctl_fn) {
  unsigned index = 0;
  size_t len = sizeof index;
  extent_hooks_t *mine = &faultless_hooks;
  if (mallctl_fn("arenas.create", &index, &len, &mine, sizeof mine) != 0) return;
  if (mallctl_fn("thread.arena", NULL, NULL, &index, sizeof index) == 0)
    _fl_verbose("jemalloc: the main thread moves to arena %u, all of it warm", index);
}

/* --- Arenas the program creates later ----------------------------------- */

static fl_mallctl_fn next_mallctl(void);

/* Exported as mallctl: when this library comes before jemalloc in
 * LD_PRELOAD (as `faultless run --with jemalloc` puts it), the program's
 * mallctl calls land here, and "arenas.create" without hooks of its own gets
 * ours. Defined under a local name: inside this library, "mallctl" itself may
 * resolve to jemalloc's (interposition), which is how next_mallctl tells the
 * two apart. */
static int mallctl_wrapper(const char *name, void *oldp, size_t *oldlenp, void *newp,
                           size_t newlen) {
  fl_mallctl_fn real = next_mallctl();
  if (!real) return ENOENT;
  if (attached_mallctl && name && !strcmp(name, "arenas.create") &&
      (!newp || (newlen == sizeof(extent_hooks_t *) && !*(extent_hooks_t **)newp))) {
    extent_hooks_t *mine = &faultless_hooks;
    return real(name, oldp, oldlenp, &mine, sizeof mine);
  }
  return real(name, oldp, oldlenp, newp, newlen);
}
extern __typeof(mallctl_wrapper) mallctl
    __attribute__((alias("mallctl_wrapper"), visibility("default")));

/* jemalloc's mallctl, wherever it is in the search order: after us
 * (RTLD_NEXT) or before us (RTLD_DEFAULT finds the first, which is not us). */
static fl_mallctl_fn next_mallctl(void) {
  static fl_mallctl_fn _Atomic found;
  fl_mallctl_fn f = atomic_load(&found);
  if (f) return f;
  f = (fl_mallctl_fn)dlsym(RTLD_NEXT, "mallctl");
  if (!f || f == mallctl_wrapper) f = (fl_mallctl_fn)dlsym(RTLD_DEFAULT, "mallctl");
  if (f == mallctl_wrapper) f = NULL;
  atomic_store(&found, f);
  return f;
}

__attribute__((constructor)) static void jemalloc_adapter_start(void) {
  fl_mallctl_fn real = next_mallctl();
  if (!real) {
    _fl_message("jemalloc is not loaded (preload libjemalloc.so.2 with libfaultless-jemalloc.so); "
                "nothing attached");
    return;
  }
  /* Here, unlike in a program that embeds a prefixed jemalloc, malloc is
   * the jemalloc just attached. */
  if (fl_jemalloc_attach(real) == 0 && _fl_pages_warming_on()) move_main_thread(real);
}
