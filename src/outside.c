// SPDX-License-Identifier: MIT
/* Outside blocks: when the reservation is full (or could not be made), a
 * block is mapped straight from the OS and recorded in an open-addressing
 * table, so free() and realloc() still recognise it. A slow path by design. */
#include "span.h"

#include <string.h>

typedef struct outside_entry_s {
  uintptr_t ptr; /* 0: empty; 1: deleted */
  void *map;
  size_t map_len;
  size_t usable;
} outside_entry_t;

static pthread_mutex_t outside_lock = PTHREAD_MUTEX_INITIALIZER;
static outside_entry_t *table;
static size_t table_cap, table_used; /* used counts deleted slots too */

/* Blocks are page-aligned, whatever the page size: the high half of the
 * product mixes every address bit, the low bits would repeat the zeros. */
static size_t hash(uintptr_t p, size_t cap) {
  return (size_t)(((uint64_t)p * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1);
}

static outside_entry_t *find(uintptr_t p) {
  if (!table) return NULL;
  for (size_t i = hash(p, table_cap);; i = (i + 1) & (table_cap - 1)) {
    if (table[i].ptr == p) return &table[i];
    if (table[i].ptr == 0) return NULL;
  }
}

static bool grow(void) {
  size_t cap = table_cap ? table_cap * 2 : 256;
  outside_entry_t *t = _fl_prim_map(cap * sizeof *t);
  if (!t) return false;
  for (size_t i = 0; i < table_cap; i++) {
    if (table[i].ptr <= 1) continue;
    size_t j = hash(table[i].ptr, cap);
    while (t[j].ptr)
      j = (j + 1) & (cap - 1);
    t[j] = table[i];
  }
  size_t live = 0;
  for (size_t i = 0; i < cap; i++)
    live += t[i].ptr != 0;
  if (table) _fl_prim_unmap(table, table_cap * sizeof *table);
  table = t;
  table_cap = cap;
  table_used = live;
  return true;
}

void *_fl_outside_alloc(size_t size, size_t align) {
  size_t page = _fl_prim_page_size();
  if (align < page) align = page;
  size_t len = _fl_align_up(size, page);
  if (len < size || len + align < len) return NULL;
  size_t map_len = len + (align > page ? align : 0);
  char *map = _fl_prim_map(map_len);
  if (!map) return NULL;
  uintptr_t p = _fl_align_up((uintptr_t)map, align);
  pthread_mutex_lock(&outside_lock);
  if ((table_used + 1) * 4 >= table_cap * 3 && !grow()) {
    pthread_mutex_unlock(&outside_lock);
    _fl_prim_unmap(map, map_len);
    return NULL;
  }
  size_t i = hash(p, table_cap);
  while (table[i].ptr > 1)
    i = (i + 1) & (table_cap - 1);
  if (table[i].ptr == 0) table_used++;
  table[i] = (outside_entry_t){p, map, map_len, map_len - (p - (uintptr_t)map)};
  pthread_mutex_unlock(&outside_lock);
  FL_STAT_ADD(outside, map_len);
  return (void *)p;
}

size_t _fl_outside_size(const void *p) {
  pthread_mutex_lock(&outside_lock);
  outside_entry_t *e = find((uintptr_t)p);
  size_t n = e ? e->usable : 0;
  pthread_mutex_unlock(&outside_lock);
  return n;
}

bool _fl_outside_free(void *p) {
  pthread_mutex_lock(&outside_lock);
  outside_entry_t *e = find((uintptr_t)p);
  if (!e) {
    pthread_mutex_unlock(&outside_lock);
    return false;
  }
  void *map = e->map;
  size_t len = e->map_len;
  e->ptr = 1; /* tombstone keeps probe chains intact */
  pthread_mutex_unlock(&outside_lock);
  _fl_prim_unmap(map, len);
  FL_STAT_SUB(outside, len);
  return true;
}

void _fl_outside_lock(bool lock) {
  if (lock)
    pthread_mutex_lock(&outside_lock);
  else
    pthread_mutex_unlock(&outside_lock);
}
