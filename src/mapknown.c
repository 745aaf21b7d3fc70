// SPDX-License-Identifier: MIT
/* MMAP's table of the anonymous private mappings the mmap family saw
 * (_fl_arena.maps.known): sorted by address, disjoint, found by binary
 * search; each with its FL_KNOWN_* flags. pre (every function): the maps
 * lock held. The table only ever forgets what a call may have changed; a
 * range it cannot hold is simply not known, which makes nothing warmed or
 * served there. */
#include "arena.h"

#include <string.h>

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

/* False when the table is full (the range is then not remembered). */
static bool known_insert(int i, uintptr_t lo, uintptr_t hi, unsigned flags) {
  fl_maps_t *m = &_fl_arena.maps;
  if (m->nknown == FL_MAPS_KNOWN) {
    if (!m->known_full_said) _fl_verbose("mmap: too many mappings to remember; more go unwarmed");
    m->known_full_said = true;
    return false;
  }
  memmove(&m->known[i + 1], &m->known[i], (size_t)(m->nknown - i) * sizeof m->known[0]);
  m->known[i] = (fl_maps_range_t){lo, hi, flags};
  m->nknown++;
  return true;
}

static void known_remove(int i) {
  fl_maps_t *m = &_fl_arena.maps;
  memmove(&m->known[i], &m->known[i + 1], (size_t)(m->nknown - i - 1) * sizeof m->known[0]);
  m->nknown--;
}

/* The bytes of entry k inside [lo, hi) when it is WARM. */
static size_t warm_inside(const fl_maps_range_t *k, uintptr_t lo, uintptr_t hi) {
  if (!(k->flags & FL_KNOWN_WARM)) return 0;
  return (k->hi < hi ? k->hi : hi) - (k->lo > lo ? k->lo : lo);
}

size_t _fl_known_cut(uintptr_t lo, uintptr_t hi) {
  fl_maps_t *m = &_fl_arena.maps;
  size_t warm = 0;
  int i = known_first(lo);
  while (i < m->nknown && m->known[i].lo < hi) {
    fl_maps_range_t *k = &m->known[i];
    warm += warm_inside(k, lo, hi);
    if (k->lo < lo && k->hi > hi) { /* a hole inside: the upper part is new */
      uintptr_t top = k->hi;
      k->hi = lo;
      /* With no room, the upper part is forgotten, though still there:
       * its bytes go on counting, so warm never falls short. */
      known_insert(i + 1, hi, top, k->flags);
      return warm;
    }
    if (k->lo < lo) {
      k->hi = lo;
      i++;
    } else if (k->hi > hi) {
      k->lo = hi;
      return warm;
    } else {
      known_remove(i);
    }
  }
  return warm;
}

/* An entry that holds addr strictly inside becomes two meeting there. With
 * no room to split, it stops being FRESH, so that nothing trusts flags the
 * split would have told apart. */
static void known_split(uintptr_t addr) {
  fl_maps_t *m = &_fl_arena.maps;
  int i = known_first(addr);
  if (i == m->nknown || m->known[i].lo >= addr) return;
  fl_maps_range_t *k = &m->known[i];
  if (!known_insert(i + 1, addr, k->hi, k->flags))
    k->flags &= ~FL_KNOWN_FRESH;
  else
    k->hi = addr;
}

/* Entry i joins entry i - 1 when they meet and have the same flags (a range
 * warmed piece by piece stays one entry). */
static bool known_join(int i) {
  fl_maps_t *m = &_fl_arena.maps;
  if (i <= 0 || i >= m->nknown || m->known[i - 1].hi != m->known[i].lo ||
      m->known[i - 1].flags != m->known[i].flags)
    return false;
  m->known[i - 1].hi = m->known[i].hi;
  known_remove(i);
  return true;
}

/* Join entries first - 1 .. last with their equal neighbours, from the top
 * down (a join removes an entry above the ones still to look at). */
static void join_down(int first, int last) {
  for (int j = last; j >= first; j--)
    known_join(j);
}

/* Set and clear flags over [lo, hi) (where known). */
void _fl_known_flags(uintptr_t lo, uintptr_t hi, unsigned set, unsigned clear) {
  fl_maps_t *m = &_fl_arena.maps;
  known_split(lo);
  known_split(hi);
  int first = known_first(lo), i = first;
  for (; i < m->nknown && m->known[i].lo < hi; i++) {
    if (m->known[i].lo < lo || m->known[i].hi > hi) {
      m->known[i].flags &= ~FL_KNOWN_FRESH; /* a split that failed */
      continue;
    }
    m->known[i].flags = (m->known[i].flags | set) & ~clear;
  }
  join_down(first, i);
}

size_t _fl_known_warm(uintptr_t lo, uintptr_t hi) {
  fl_maps_t *m = &_fl_arena.maps;
  size_t warm = 0;
  for (int i = known_first(lo); i < m->nknown && m->known[i].lo < hi; i++)
    warm += warm_inside(&m->known[i], lo, hi);
  return warm;
}

size_t _fl_known_unwarm(uintptr_t lo, uintptr_t hi) {
  fl_maps_t *m = &_fl_arena.maps;
  known_split(lo);
  known_split(hi);
  size_t warm = 0;
  int first = known_first(lo), i = first;
  for (; i < m->nknown && m->known[i].lo < hi; i++) {
    fl_maps_range_t *k = &m->known[i];
    /* Where a split failed, the entry stays WARM and counts in full: warm
     * may then count dropped bytes, never miss present ones. */
    if (k->lo < lo || k->hi > hi) continue;
    warm += warm_inside(k, lo, hi);
    k->flags &= ~FL_KNOWN_WARM;
  }
  /* A collector drops pages here and there: the splits join up again. */
  join_down(first, i);
  return warm;
}
/* pre: [lo, hi) cut from the table. */
void _fl_known_remember(uintptr_t lo, uintptr_t hi, unsigned flags) {
  fl_maps_t *m = &_fl_arena.maps;
  int i = known_first(lo);
  /* Joined with neighbours of the same flags that end or start here (a
   * reservation made in several calls). */
  bool left = i > 0 && m->known[i - 1].hi == lo && m->known[i - 1].flags == flags;
  bool right = i < m->nknown && m->known[i].lo == hi && m->known[i].flags == flags;
  if (left && right) {
    m->known[i - 1].hi = m->known[i].hi;
    known_remove(i);
  } else if (left) {
    m->known[i - 1].hi = hi;
  } else if (right) {
    m->known[i].lo = lo;
  } else {
    known_insert(i, lo, hi, flags);
  }
}

/* True when [lo, hi) is wholly known; *all: the flags every entry over it
 * has, *any: those some entry has. */
bool _fl_known_over(uintptr_t lo, uintptr_t hi, unsigned *all, unsigned *any) {
  fl_maps_t *m = &_fl_arena.maps;
  *all = ~0u;
  *any = 0;
  uintptr_t at = lo;
  for (int i = known_first(lo); i < m->nknown && at < hi; i++) {
    if (m->known[i].lo > at) return false;
    *all &= m->known[i].flags;
    *any |= m->known[i].flags;
    at = m->known[i].hi;
  }
  return at >= hi;
}
