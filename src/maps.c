// SPDX-License-Identifier: MIT
/* Memory a runtime maps itself (MMAP): the JVM's heap, V8's pages. The
 * override library's mmap, munmap, mprotect, mremap and madvise report here
 * (API layer, mapcalls.c); ranges that become committed anonymous private
 * read-write memory are queued, in commit order, and the warmers populate
 * them from their low end, piece by piece, within the budget and a per-range
 * cap. State: _fl_arena.maps (arena.h).
 *
 * Safety rests on three rules. A range is populated only with
 * MADV_POPULATE_WRITE, which never changes a byte and fails (EFAULT, EINVAL,
 * ENOMEM) on a page that is not there or not writable; touching instead
 * could crash on a page made read-only behind our back, so without it
 * nothing is warmed. Every reported call cuts whatever it may have changed
 * from both tables before anything is added back, failed calls included:
 * the tables only ever forget. The lock is held from before the system call
 * to the end of its report, and by a warmer across each piece, so a piece is
 * never populated in a range that was unmapped or replaced meanwhile. */
#include "arena.h"

#include <errno.h>
#include <string.h>

/* Bytes warmed at most per range: a runtime that commits gigabytes at once
 * gets the part it fills first (its low end) warm, not all of it. HotSpot's
 * young generation and the low end of its old one hold a first round; with
 * 256 MiB, -Xms1g had 512 MiB populated while the JVM started. */
#define MAPS_CAP (128 * FL_MiB)

/* The piece a warmer populates under the lock: small, so that a call
 * waiting for it waits little (some 25 to 50 us). The kernel makes the
 * runtime's own mmap and mprotect wait for it too (populate holds the
 * mm's lock for reading): 256 KiB pieces cost the JVM's start-up with
 * -Xms1g visibly more on this machine. */
#define MAPS_PIECE (128 * 1024)

static bool queued_now; /* under the lock: the report left work for the warmers */
static void update_pending(fl_maps_t *m);

void _fl_maps_init(void) {
  fl_arena_t *a = &_fl_arena;
  fl_maps_t *m = &a->maps;
  pthread_mutex_init(&m->lock, NULL);
  m->cap = MAPS_CAP;
  bool want = _fl_mmap_wanted();
  /* A pretended page size (test builds) would round the program's ranges
   * past their ends: the tables work in the kernel's pages only. */
  bool pretended = _fl_prim_page_size() != _fl_prim_kernel_page_size();
  m->on = want && a->warm.max > 0 && _fl_prim_has_populate() && !pretended;
  if (want && !m->on)
    _fl_verbose("mmap: runtime mappings are not warmed: %s",
                a->warm.max <= 0 ? "warming is off"
                : pretended      ? "the page size is pretended"
                                 : "MADV_POPULATE_WRITE is not available");
  else if (m->on)
    _fl_verbose("mmap: warming anonymous private mappings made by the program, up to %llu MiB each",
                (unsigned long long)(m->cap >> 20));
}

bool _fl_maps_on(void) {
  return _fl_arena.maps.on;
}

/* A mutex is not fair: a warmer that unlocks and locks again for its next
 * piece would keep a waiting call out until the queue is empty, and a
 * runtime's start-up would wait for the warming (TUNING.md, MMAP). Calls
 * announce themselves, and a warmer lets them in before each piece. */
uint64_t _fl_maps_begin(void) {
  fl_maps_t *m = &_fl_arena.maps;
  uint64_t sigs = _fl_prim_signals_block();
  atomic_fetch_add(&m->waiters, 1);
  pthread_mutex_lock(&m->lock);
  atomic_fetch_sub(&m->waiters, 1);
  queued_now = false;
  return sigs;
}

void _fl_maps_end(uint64_t sigs) {
  atomic_store_explicit(&_fl_arena.maps.last_call_ns, _fl_prim_now_ns(), memory_order_relaxed);
  bool wake = queued_now;
  queued_now = false;
  pthread_mutex_unlock(&_fl_arena.maps.lock);
  /* Still with signals blocked: the call may come from a signal handler on
   * a thread inside malloc or pthread_create, and so may a handler run
   * here. _fl_warmers_wake only tries the warmers' lock and leaves
   * pthread_create to the waker thread. */
  if (wake) _fl_warmers_wake();
  _fl_prim_signals_restore(sigs);
}

static void *waker_main(void *arg) {
  (void)arg;
  _fl_prim_thread_name("faultless-wake");
  for (;;) {
    _fl_prim_event_wait(&_fl_arena.maps.wake);
    _fl_warmers_start_handed();
  }
  return NULL;
}

void _fl_maps_start(void) {
  fl_maps_t *m = &_fl_arena.maps;
  if (!m->on || atomic_load(&m->waker)) return;
  if (_fl_prim_thread_start(waker_main, NULL) == 0)
    atomic_store(&m->waker, true);
  else
    _fl_verbose("mmap: could not start the waker thread; reported calls start warmers themselves");
}

/* Remove [lo, hi) from the n ranges of the queue r (capacity cap),
 * splitting one that holds it inside; a split with no room left keeps only
 * the lower part. Returns the new count. *lost: a range lost a part. */
static int cut(fl_maps_range_t *r, int n, int cap, uintptr_t lo, uintptr_t hi, bool *lost) {
  for (int i = 0; i < n; i++) {
    if (r[i].hi <= lo || r[i].lo >= hi) continue;
    if (lost) *lost = true;
    if (r[i].lo < lo && r[i].hi > hi) { /* a hole inside */
      if (n < cap) {
        for (int j = n; j > i + 1; j--)
          r[j] = r[j - 1];
        r[i + 1].lo = hi;
        r[i + 1].hi = r[i].hi;
        n++;
      }
      r[i].hi = lo;
      i++; /* the upper part lies above the cut */
    } else if (r[i].lo < lo) {
      r[i].hi = lo;
    } else if (r[i].hi > hi) {
      r[i].lo = hi;
    } else { /* wholly inside: drop, keeping the order */
      for (int j = i; j + 1 < n; j++)
        r[j] = r[j + 1];
      n--;
      i--;
    }
  }
  return n;
}

/* --- the queue: in commit order ----------------------------------------- */

/* Warm bytes of the program's that are gone (unmapped, dropped): they stop
 * counting, and the budget they free may let the pool go on. */
static void gone(fl_maps_t *m, size_t n) {
  if (!n) return;
  _fl_warm_sub(n);
  update_pending(m);
}

/* The queue forgets [lo, hi); the table of known mappings is the caller's. */
static void forget(uintptr_t lo, uintptr_t hi) {
  fl_maps_t *m = &_fl_arena.maps;
  bool lost = false;
  m->nqueue = cut(m->queue, m->nqueue, FL_MAPS_QUEUE, lo, hi, &lost);
  update_pending(m);
  if (lost) {
    FL_STAT_ADD(mmap_skipped, 1);
    _fl_verbose("mmap: skipped the unwarmed rest of %p..%p: unmapped or changed before warming",
                (void *)lo, (void *)hi);
  }
}

static void skip(const char *why, void *addr, size_t len) {
  FL_STAT_ADD(mmap_skipped, 1);
  _fl_verbose("mmap: skipped %zu KiB at %p: %s", len >> 10, addr, why);
}

/* Queue committed memory [lo, hi), its first `cap` bytes. */
static void enqueue(uintptr_t lo, uintptr_t hi) {
  fl_maps_t *m = &_fl_arena.maps;
  FL_STAT_ADD(mmap_ranges, 1);
  if (hi - lo > m->cap) {
    skip("over the per-range cap (the part above it)", (void *)(lo + m->cap),
         hi - lo - (size_t)m->cap);
    hi = lo + m->cap;
  }
  if (m->nqueue == FL_MAPS_QUEUE) {
    skip("too many ranges queued", (void *)lo, hi - lo);
    return;
  }
  m->queue[m->nqueue].lo = lo;
  m->queue[m->nqueue].hi = hi;
  m->nqueue++;
  update_pending(m);
}

/* A stack mapped through mmap (a fiber's, a coroutine's; glibc maps threads'
 * stacks without the calls faultless defines) is mostly never touched:
 * warming it would spend the budget and the warmers' time on nothing. */
#define STACK_SKIP "a stack"

static uintptr_t page_end(void *addr, size_t len) {
  size_t page = _fl_prim_page_size();
  return _fl_align_up((uintptr_t)addr + len, page);
}

void _fl_maps_mapped(void *addr, size_t len, bool made, unsigned cls) {
  uintptr_t lo = (uintptr_t)addr, hi = page_end(addr, len);
  _fl_maps_unmapped(addr, len, false); /* whatever was there is gone */
  if (!made) return;
  if (!(cls & FL_MAP_ANON_PRIVATE)) {
    if (cls & FL_MAP_WRITABLE) skip("a file or shared mapping", addr, hi - lo);
    return;
  }
  bool fresh = (cls & FL_MAP_NONE) && (cls & FL_MAP_NORESERVE) && (cls & FL_MAP_PLAIN);
  bool stack = cls & FL_MAP_STACK;
  _fl_known_remember(lo, hi, (fresh ? FL_KNOWN_FRESH : 0) | (stack ? FL_KNOWN_STACK : 0));
  if ((cls & FL_MAP_WRITABLE) && stack)
    skip(STACK_SKIP, addr, hi - lo);
  else if (cls & FL_MAP_WRITABLE)
    enqueue(lo, hi);
  else if (cls & FL_MAP_NONE && len >= FL_CHUNK)
    _fl_verbose("mmap: %zu MiB reserved PROT_NONE at %p: warmed only where committed", len >> 20,
                addr);
}

void _fl_maps_unmapped(void *addr, size_t len, bool moved) {
  uintptr_t lo = (uintptr_t)addr, hi = page_end(addr, len);
  forget(lo, hi);
  size_t warm = _fl_known_cut(lo, hi);
  /* An mremap's pages may live on where the table does not follow them:
   * they go on counting (warm may count bytes that are gone, never miss
   * present ones). */
  if (!moved) gone(&_fl_arena.maps, warm);
}

void _fl_maps_protected(void *addr, size_t len, unsigned pcls) {
  uintptr_t lo = (uintptr_t)addr, hi = page_end(addr, len);
  unsigned all, any;
  forget(lo, hi);
  /* Any protection but PROT_NONE may let data in; a failed call (0) may
   * have changed part of the range. */
  if (!(pcls & FL_MAP_NONE)) _fl_known_flags(lo, hi, 0, FL_KNOWN_FRESH);
  if (!(pcls & FL_MAP_WRITABLE)) return;
  if (!_fl_known_over(lo, hi, &all, &any))
    skip("made writable, but not seen mapped anonymous and private", addr, hi - lo);
  else if (any & FL_KNOWN_STACK)
    skip(STACK_SKIP, addr, hi - lo);
  else if (!(all & FL_KNOWN_WARM)) /* WARM: populated, nothing dropped since */
    enqueue(lo, hi);
}

void _fl_maps_advised(void *addr, size_t len, int advice, bool ok) {
  uintptr_t lo = (uintptr_t)addr, hi = page_end(addr, len);
  if (advice == FL_ADVICE_DISCARD) {
    forget(lo, hi);
    /* A call that failed may have dropped part: its bytes go on counting. */
    if (ok) gone(&_fl_arena.maps, _fl_known_unwarm(lo, hi));
  } else if (!ok || advice == FL_ADVICE_FLAGS) {
    _fl_known_flags(lo, hi, 0, FL_KNOWN_FRESH);
  } else if (advice == FL_ADVICE_DONTFORK) {
    _fl_known_flags(lo, hi, FL_KNOWN_DONTFORK, 0);
  } else if (advice == FL_ADVICE_DOFORK) {
    _fl_known_flags(lo, hi, 0, FL_KNOWN_DONTFORK);
  }
}

static void pool_stop(fl_maps_t *m, const char *why);

void _fl_maps_locked_all(void) {
  fl_maps_t *m = &_fl_arena.maps;
  for (int i = 0; i < m->nknown; i++)
    m->known[i].flags &= ~FL_KNOWN_FRESH;
  pool_stop(m, "mlockall or munlockall was called");
  update_pending(m);
}

/* --- the pool: commits served from warm memory -------------------------- */

/* V8 commits each page of its heap (256 KiB) with mprotect just before it
 * writes there: too late for any warmer. A commit of a FRESH range (it never
 * held data, and its mapping's flags are a fresh mapping's) is served
 * instead by moving populated zero pages from a pool onto it (mremap): the
 * range then reads as zero and is read-write, as the mprotect would have
 * left it, with no page fault to come. The pool is mapped as such a range
 * is (private, anonymous, MAP_NORESERVE) and MADV_DONTFORK is applied
 * again where it was; anything else that sets a mapping's flags makes a
 * range not FRESH. Only exact PROT_READ | PROT_WRITE commits of whole pages
 * up to POOL_SERVE_MAX are served; the pool is made only once a FRESH
 * commit was seen, so a program that commits otherwise (the JVM maps its
 * commits) never pays for one. Its first region is an eighth of what
 * prefaults asked for, between POOL_MIN and POOL_FIRST_MAX: a small prefault
 * says the program expects a small heap, and what the pool holds unused is
 * RSS it did not ask for. Each region used up is followed by one twice as
 * large, up to POOL_MAX: a heap that keeps growing finds more warm memory
 * ready, one that has stopped leaves at most the last region unused
 * (counted in warm, within the budget). */
#define POOL_MIN (16 * FL_MiB)
#define POOL_FIRST_MAX (128 * FL_MiB)
#define POOL_MAX (256 * FL_MiB)

static size_t pool_first(void) {
  uint64_t asked = __atomic_load_n(&_fl_arena.warm.prefault_bytes, __ATOMIC_RELAXED) / 8;
  size_t size = _fl_align_up((size_t)asked, POOL_MIN);
  if (size < POOL_MIN) size = POOL_MIN;
  return size > POOL_FIRST_MAX ? POOL_FIRST_MAX : size;
}
#define POOL_SERVE_MAX (2 * FL_MiB)

/* The pool needs a warmer: a new region, or pages populated. */
static bool pool_needs_work(const fl_maps_t *m) {
  if (!m->pool.wanted || m->pool.broken) return false;
  /* At the budget the pool waits until the program's warm pages are gone. */
  if (!_fl_warm_fits(MAPS_PIECE)) return false;
  if (!m->pool.base) return true;
  return m->pool.ready < m->pool.size || m->pool.size - m->pool.take < POOL_SERVE_MAX;
}

static void update_pending(fl_maps_t *m) {
  int n = m->nqueue + (pool_needs_work(m) ? 1 : 0);
  atomic_store_explicit(&m->pending, n, memory_order_relaxed);
  if (n) queued_now = true;
}

static void pool_stop(fl_maps_t *m, const char *why) {
  if (!m->pool.broken) _fl_verbose("mmap: commits are no longer served from the pool: %s", why);
  m->pool.broken = true;
}

bool _fl_maps_serve(void *addr, size_t len, unsigned pcls, int *err) {
  fl_maps_t *m = &_fl_arena.maps;
  size_t page = _fl_prim_page_size();
  uintptr_t lo = (uintptr_t)addr, hi = lo + len;
  unsigned all, any;
  if (!(pcls & FL_MAP_EXACT_RW) || m->pool.broken || len == 0 || len > POOL_SERVE_MAX ||
      (len & (page - 1)) || (lo & (page - 1)))
    return false;
  if (!_fl_known_over(lo, hi, &all, &any) || !(all & FL_KNOWN_FRESH) ||
      (all & FL_KNOWN_DONTFORK) != (any & FL_KNOWN_DONTFORK))
    return false;
  if (m->pool.ready - m->pool.take < len) {
    if (!m->pool.wanted) _fl_verbose("mmap: a fresh range committed at %p: warming a pool", addr);
    m->pool.wanted = true;
    update_pending(m);
    return false;
  }
  int rc = _fl_prim_move_pages(m->pool.base + m->pool.take, len, addr);
  bool moved = rc == 0;
  if (moved) {
    m->pool.take += len;
    FL_STAT_ADD(mmap_pooled, len);
  } else {
    /* The range may have been unmapped by the failed move: map it afresh,
     * which leaves it as the mprotect would have (zero, read-write). */
    pool_stop(m, "a move failed");
    rc = _fl_prim_map_fresh_at(addr, len);
    if (rc) {
      gone(m, _fl_known_cut(lo, hi));
      *err = rc;
      return true;
    }
  }
  if (all & FL_KNOWN_DONTFORK) _fl_prim_dontfork(addr, len);
  /* Moved pages were counted in warm when the pool was populated. */
  _fl_known_flags(lo, hi, moved ? FL_KNOWN_WARM : 0, FL_KNOWN_FRESH);
  FL_STAT_ADD(mmap_ranges, 1);
  update_pending(m);
  *err = 0;
  return true;
}

/* pre: the lock held. A warmer's pool work: a new region when the last is
 * used up (its rest, too small to serve, is unmapped), else the next piece
 * populated. */
static void pool_work(fl_maps_t *m, size_t piece) {
  if (m->pool.base && m->pool.size - m->pool.take < POOL_SERVE_MAX &&
      m->pool.ready == m->pool.size) {
    size_t rest = m->pool.size - m->pool.take;
    if (rest) _fl_prim_unmap(m->pool.base + m->pool.take, rest);
    FL_STAT_SUB(warm, rest);
    m->pool.base = NULL;
  }
  if (!m->pool.base) {
    size_t size = m->pool.size ? m->pool.size * 2 : pool_first();
    if (size > POOL_MAX) size = POOL_MAX;
    m->pool.base = _fl_prim_map_noreserve(size);
    if (!m->pool.base) {
      pool_stop(m, "no memory for it");
      return;
    }
    m->pool.size = size;
    m->pool.take = m->pool.ready = 0;
  }
  if (!_fl_warm_fits(piece)) return; /* pool_needs_work says so from now on */
  uint64_t t0 = _fl_prim_now_ns();
  int rc = _fl_prim_populate(m->pool.base + m->pool.ready, piece);
  FL_STAT_ADD(warmer_ns, _fl_prim_now_ns() - t0);
  if (rc) {
    pool_stop(m, "populate failed");
    return;
  }
  m->pool.ready += piece;
  FL_STAT_ADD(warm, piece);
  FL_STAT_ADD(warmed_by_warmers, piece);
  FL_STAT_ADD(mmap_warmed, piece);
}

size_t _fl_maps_snapshot_release(void) {
  fl_maps_t *m = &_fl_arena.maps;
  if (!m->on) return 0;
  uint64_t sigs = _fl_maps_begin();
  size_t given = 0;
  if (m->pool.base) {
    /* [take, ready) populated and counted warm; [ready, size) never was. */
    given = m->pool.ready - m->pool.take;
    if (m->pool.size > m->pool.take)
      _fl_prim_unmap(m->pool.base + m->pool.take, m->pool.size - m->pool.take);
    FL_STAT_SUB(warm, given);
    m->pool.base = NULL;
    m->pool.size = m->pool.take = m->pool.ready = 0;
  }
  update_pending(m);
  queued_now = false; /* the warmers are paused: the restore starts them */
  pthread_mutex_unlock(&m->lock);
  _fl_prim_signals_restore(sigs);
  return given;
}

static void drop_first(fl_maps_t *m) {
  for (int j = 0; j + 1 < m->nqueue; j++)
    m->queue[j] = m->queue[j + 1];
  m->nqueue--;
  update_pending(m);
}

/* pre: the lock held. Populate the first n bytes of the queue's first range.
 * Bytes WARM already (made writable again, say) count once. */
static void warm_head(fl_maps_t *m, size_t n) {
  fl_maps_range_t *r = &m->queue[0];
  size_t fresh = n - _fl_known_warm(r->lo, r->lo + n);
  int rc = 0;
  if (fresh) {
    uint64_t t0 = _fl_prim_now_ns();
    rc = _fl_prim_populate((void *)r->lo, n);
    FL_STAT_ADD(warmer_ns, _fl_prim_now_ns() - t0);
  }
  if (rc) {
    skip(rc == ENOMEM ? "populate failed: no memory" : "populate failed: not writable or gone",
         (void *)r->lo, r->hi - r->lo);
    drop_first(m);
    return;
  }
  FL_STAT_ADD(warm, fresh);
  FL_STAT_ADD(warmed_by_warmers, fresh);
  FL_STAT_ADD(mmap_warmed, fresh);
  _fl_known_flags(r->lo, r->lo + n, FL_KNOWN_WARM, 0);
  r->lo += n;
  if (r->lo == r->hi) {
    _fl_verbose("mmap: warmed a range up to %p", (void *)r->hi);
    drop_first(m);
  }
}

/* Warming waits while the program is changing its mappings: the JVM makes
 * hundreds of calls while it starts, and each would wait for a populate in
 * progress (ours, and the kernel's address-space lock; TUNING.md, MMAP).
 * The queue is served once no call came for QUIET_NS, far less than a
 * function's start-up leaves. The arena's chunks are warmed meanwhile. */
#define QUIET_NS (5 * 1000000ull)

bool _fl_maps_busy(void) {
  fl_maps_t *m = &_fl_arena.maps;
  return m->on && _fl_prim_now_ns() - atomic_load_explicit(&m->last_call_ns, memory_order_relaxed) <
                      QUIET_NS;
}

int _fl_maps_warm_piece(void) {
  fl_arena_t *a = &_fl_arena;
  fl_maps_t *m = &a->maps;
  if (!atomic_load_explicit(&m->pending, memory_order_relaxed) || atomic_load(&a->warm.paused))
    return FL_MAPS_IDLE;
  if (_fl_maps_busy()) return FL_MAPS_DEFERRED;
  while (atomic_load(&m->waiters))
    _fl_prim_thread_yield();
  pthread_mutex_lock(&m->lock);
  if (m->nqueue == 0) {
    /* Commits already made come first; then the pool. */
    bool work = pool_needs_work(m);
    if (work) pool_work(m, MAPS_PIECE);
    update_pending(m);
    pthread_mutex_unlock(&m->lock);
    return work ? FL_MAPS_WORKED : FL_MAPS_IDLE;
  }
  fl_maps_range_t *r = &m->queue[0];
  size_t n = r->hi - r->lo < MAPS_PIECE ? r->hi - r->lo : MAPS_PIECE;
  if (!_fl_warm_fits(n)) {
    uint64_t budget = __atomic_load_n(&a->budget.budget, __ATOMIC_RELAXED);
    if (!m->budget_said)
      _fl_verbose("mmap: warming stops at the budget (%llu MiB)",
                  (unsigned long long)(budget >> 20));
    m->budget_said = true;
    while (m->nqueue) {
      skip("over the budget", (void *)m->queue[0].lo, m->queue[0].hi - m->queue[0].lo);
      drop_first(m);
    }
    pthread_mutex_unlock(&m->lock);
    return FL_MAPS_WORKED;
  }
  warm_head(m, n);
  pthread_mutex_unlock(&m->lock);
  return FL_MAPS_WORKED;
}

/* Across fork() the pool is MADV_DONTFORK: a child would share its
 * populated pages copy-on-write, and every page the parent is served
 * afterwards would fault on its first write (even once the child is gone).
 * It is not so at other times: a served range takes the pool's flags. */
void _fl_maps_lock(bool lock) {
  fl_maps_t *m = &_fl_arena.maps;
  if (lock) {
    pthread_mutex_lock(&m->lock);
    if (m->pool.base && m->pool.size > m->pool.take)
      _fl_prim_dontfork(m->pool.base + m->pool.take, m->pool.size - m->pool.take);
  } else {
    /* In the child too, where the pool is not mapped (ENOMEM, nothing
     * else mapped there yet); _fl_maps_atfork_child forgets it. */
    if (m->pool.base && m->pool.size > m->pool.take)
      _fl_prim_dofork(m->pool.base + m->pool.take, m->pool.size - m->pool.take);
    pthread_mutex_unlock(&m->lock);
  }
}

void _fl_maps_atfork_child(void) {
  fl_maps_t *m = &_fl_arena.maps;
  pthread_mutex_init(&m->lock, NULL);
  atomic_store(&m->waiters, 0);
  atomic_store(&m->waker, false); /* not in the child */
  atomic_store(&m->to_start, 0);  /* the child's warmers count is reset too */
  atomic_store(&m->wake, 0u);
  m->nqueue = m->nknown = 0;
  atomic_store(&m->pending, 0);
  m->on = false;
  m->pool.wanted = false;
  m->pool.base = NULL; /* MADV_DONTFORK: not mapped here */
  m->pool.size = m->pool.take = m->pool.ready = 0;
}
