// SPDX-License-Identifier: MIT
/* Statistics: one list of counters (FL_COUNTERS in config.h), updated with
 * relaxed atomics on slow paths only. The API layer (control.c) exports them
 * as a versioned struct, text and JSON. */
#include "config.h"

#include <errno.h>
#include <string.h>

fl_counters_t _fl_counters;

void _fl_stats_in_use_add(size_t bytes) {
  uint64_t now = FL_STAT_ADD(in_use, bytes) + bytes;
  uint64_t peak = atomic_load_explicit(&_fl_counters.peak_in_use, memory_order_relaxed);
  while (now > peak &&
         !atomic_compare_exchange_weak_explicit(&_fl_counters.peak_in_use, &peak, now,
                                                memory_order_relaxed, memory_order_relaxed)) {
  }
}

void _fl_stats_in_use_sub(size_t bytes) {
  FL_STAT_SUB(in_use, bytes);
}
