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
 * gets the part it fills first (its low end) warm, not all of it. */
#define MAPS_CAP (256 * FL_MiB)

static bool queued_now; /* under the lock: the report queued a range */

void _fl_maps_init(void) {
  fl_arena_t *a = &_fl_arena;
  fl_maps_t *m = &a->maps;
  pthread_mutex_init(&m->lock, NULL);
  m->cap = MAPS_CAP;
  bool want = _fl_mmap_wanted();
  m->on = want && a->warm.max > 0 && _fl_prim_has_populate();
  if (want && !m->on)
    _fl_verbose("mmap: runtime mappings are not warmed: %s",
                a->warm.max <= 0 ? "warming is off" : "MADV_POPULATE_WRITE is not available");
  else if (m->on)
    _fl_verbose("mmap: warming anonymous private mappings made by the program, up to %llu MiB each",
                (unsigned long long)(m->cap >> 20));
}

bool _fl_maps_on(void) {
  return _fl_arena.maps.on;
}

void _fl_maps_begin(void) {
  pthread_mutex_lock(&_fl_arena.maps.lock);
  queued_now = false;
}

void _fl_maps_end(void) {
  bool wake = queued_now;
  queued_now = false;
  pthread_mutex_unlock(&_fl_arena.maps.lock);
  if (wake) _fl_warmers_wake();
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

/* --- known: sorted by address, disjoint; binary search ------------------ */

/* The first entry that ends above addr (n when none). */
static int known_first(uintptr_t addr) {
  fl_maps_t *m = &_fl_arena.maps;
  int lo = 0, hi = m->nknown;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (m->known[mid].hi <= addr)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static void known_insert(int i, uintptr_t lo, uintptr_t hi) {
  fl_maps_t *m = &_fl_arena.maps;
  if (m->nknown == FL_MAPS_KNOWN) {
    if (!m->known_full_said) _fl_verbose("mmap: too many mappings to remember; more go unwarmed");
    m->known_full_said = true;
    return;
  }
  memmove(&m->known[i + 1], &m->known[i], (size_t)(m->nknown - i) * sizeof m->known[0]);
  m->known[i] = (fl_maps_range_t){lo, hi};
  m->nknown++;
}

static void known_cut(uintptr_t lo, uintptr_t hi) {
  fl_maps_t *m = &_fl_arena.maps;
  int i = known_first(lo);
  while (i < m->nknown && m->known[i].lo < hi) {
    fl_maps_range_t *k = &m->known[i];
    if (k->lo < lo && k->hi > hi) { /* a hole inside: the upper part is new */
      uintptr_t top = k->hi;
      k->hi = lo;
      known_insert(i + 1, hi, top);
      return;
    }
    if (k->lo < lo) {
      k->hi = lo;
      i++;
    } else if (k->hi > hi) {
      k->lo = hi;
      return;
    } else {
      memmove(&m->known[i], &m->known[i + 1], (size_t)(m->nknown - i - 1) * sizeof m->known[0]);
      m->nknown--;
    }
  }
}

/* pre: [lo, hi) cut from the table. */
static void remember(uintptr_t lo, uintptr_t hi) {
  fl_maps_t *m = &_fl_arena.maps;
  int i = known_first(lo);
  /* Joined with neighbours that end or start here (a reservation made in
   * several calls): an mprotect across the seam is known too. */
  bool left = i > 0 && m->known[i - 1].hi == lo;
  bool right = i < m->nknown && m->known[i].lo == hi;
  if (left && right) {
    m->known[i - 1].hi = m->known[i].hi;
    memmove(&m->known[i], &m->known[i + 1], (size_t)(m->nknown - i - 1) * sizeof m->known[0]);
    m->nknown--;
  } else if (left) {
    m->known[i - 1].hi = hi;
  } else if (right) {
    m->known[i].lo = lo;
  } else {
    known_insert(i, lo, hi);
  }
}

static bool is_known(uintptr_t lo, uintptr_t hi) {
  fl_maps_t *m = &_fl_arena.maps;
  int i = known_first(lo);
  return i < m->nknown && m->known[i].lo <= lo && hi <= m->known[i].hi;
}

/* --- the queue: in commit order ----------------------------------------- */

static void forget(uintptr_t lo, uintptr_t hi, bool known_too) {
  fl_maps_t *m = &_fl_arena.maps;
  bool lost = false;
  m->nqueue = cut(m->queue, m->nqueue, FL_MAPS_QUEUE, lo, hi, &lost);
  atomic_store_explicit(&m->pending, m->nqueue, memory_order_relaxed);
  if (lost) {
    FL_STAT_ADD(mmap_skipped, 1);
    _fl_verbose("mmap: skipped the unwarmed rest of %p..%p: unmapped or changed before warming",
                (void *)lo, (void *)hi);
  }
  if (known_too) known_cut(lo, hi);
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
  atomic_store_explicit(&m->pending, m->nqueue, memory_order_relaxed);
  queued_now = true;
}

static uintptr_t page_end(void *addr, size_t len) {
  size_t page = _fl_prim_page_size();
  return _fl_align_up((uintptr_t)addr + len, page);
}

void _fl_maps_mapped(void *addr, size_t len, bool made, unsigned cls) {
  uintptr_t lo = (uintptr_t)addr, hi = page_end(addr, len);
  forget(lo, hi, true);
  if (!made) return;
  if (!(cls & FL_MAP_ANON_PRIVATE)) {
    if (cls & FL_MAP_WRITABLE) skip("a file or shared mapping", addr, hi - lo);
    return;
  }
  remember(lo, hi);
  if (cls & FL_MAP_WRITABLE)
    enqueue(lo, hi);
  else if (cls & FL_MAP_NONE && len >= FL_CHUNK)
    _fl_verbose("mmap: %zu MiB reserved PROT_NONE at %p: warmed only where committed", len >> 20,
                addr);
}

void _fl_maps_unmapped(void *addr, size_t len) {
  forget((uintptr_t)addr, page_end(addr, len), true);
}

void _fl_maps_protected(void *addr, size_t len, unsigned pcls) {
  uintptr_t lo = (uintptr_t)addr, hi = page_end(addr, len);
  forget(lo, hi, false);
  if (!(pcls & FL_MAP_WRITABLE)) return;
  if (is_known(lo, hi))
    enqueue(lo, hi);
  else
    skip("made writable, but not seen mapped anonymous and private", addr, hi - lo);
}

void _fl_maps_discarded(void *addr, size_t len) {
  forget((uintptr_t)addr, page_end(addr, len), false);
}

/* The piece a warmer populates under the lock: small, so a call waiting
 * for it waits little (about 50 us at 5 GB/s). */
#define MAPS_PIECE (FL_PIECE_SLICES << FL_SLICE_SHIFT)

static void drop_first(fl_maps_t *m) {
  for (int j = 0; j + 1 < m->nqueue; j++)
    m->queue[j] = m->queue[j + 1];
  m->nqueue--;
  atomic_store_explicit(&m->pending, m->nqueue, memory_order_relaxed);
}

bool _fl_maps_warm_piece(void) {
  fl_arena_t *a = &_fl_arena;
  fl_maps_t *m = &a->maps;
  if (!atomic_load_explicit(&m->pending, memory_order_relaxed) || atomic_load(&a->warm.paused))
    return false;
  pthread_mutex_lock(&m->lock);
  if (m->nqueue == 0) {
    pthread_mutex_unlock(&m->lock);
    return false;
  }
  fl_maps_range_t *r = &m->queue[0];
  size_t n = r->hi - r->lo < MAPS_PIECE ? r->hi - r->lo : MAPS_PIECE;
  uint64_t budget = __atomic_load_n(&a->budget.budget, __ATOMIC_RELAXED);
  if (atomic_load_explicit(&_fl_counters.warm, memory_order_relaxed) + n > budget) {
    if (!m->budget_said)
      _fl_verbose("mmap: warming stops at the budget (%llu MiB)",
                  (unsigned long long)(budget >> 20));
    m->budget_said = true;
    while (m->nqueue) {
      skip("over the budget", (void *)m->queue[0].lo, m->queue[0].hi - m->queue[0].lo);
      drop_first(m);
    }
    pthread_mutex_unlock(&m->lock);
    return true;
  }
  uint64_t t0 = _fl_prim_now_ns();
  int rc = _fl_prim_populate((void *)r->lo, n);
  FL_STAT_ADD(warmer_ns, _fl_prim_now_ns() - t0);
  if (rc == 0) {
    FL_STAT_ADD(warm, n);
    FL_STAT_ADD(warmed_by_warmers, n);
    FL_STAT_ADD(mmap_warmed, n);
    r->lo += n;
    if (r->lo == r->hi) {
      _fl_verbose("mmap: warmed a range up to %p", (void *)r->hi);
      drop_first(m);
    }
  } else {
    skip(rc == ENOMEM ? "populate failed: no memory" : "populate failed: not writable or gone",
         (void *)r->lo, r->hi - r->lo);
    drop_first(m);
  }
  pthread_mutex_unlock(&m->lock);
  return true;
}

void _fl_maps_lock(bool lock) {
  if (lock)
    pthread_mutex_lock(&_fl_arena.maps.lock);
  else
    pthread_mutex_unlock(&_fl_arena.maps.lock);
}

void _fl_maps_atfork_child(void) {
  fl_maps_t *m = &_fl_arena.maps;
  pthread_mutex_init(&m->lock, NULL);
  m->nqueue = m->nknown = 0;
  atomic_store(&m->pending, 0);
  m->on = false;
}
