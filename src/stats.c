// SPDX-License-Identifier: MIT
/* Statistics: one list of counters (FL_COUNTERS in internal.h), updated with
 * relaxed atomics on slow paths only, exported as a versioned struct, text
 * and JSON, and printed at exit when STATS is set. */
#include "internal.h"

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

int fl_stats_get(fl_stats_t *out) {
  if (!out || out->size < offsetof(fl_stats_t, reserved)) return EINVAL;
  fl_stats_t st;
  memset(&st, 0, sizeof st);
  st.size = out->size < sizeof st ? out->size : sizeof st;
  st.version = FL_STATS_VERSION;
  fl_arena_t *a = &_fl_arena;
  st.reserved = a->size;
  /* Atomic: fl_snapshot_restored may read the budget afresh meanwhile. */
  st.budget = __atomic_load_n(&a->budget.budget, __ATOMIC_RELAXED);
  st.budget_source = (uint32_t)__atomic_load_n(&a->budget.source, __ATOMIC_RELAXED);
  st.prefault_target = a->prefault_bytes;
#define FL_COPY_COUNTER(name)                                                                      \
  st.name = atomic_load_explicit(&_fl_counters.name, memory_order_relaxed);
  FL_COUNTERS(FL_COPY_COUNTER)
#undef FL_COPY_COUNTER
  /* Copy only what the caller's (possibly older, smaller) struct holds. */
  memcpy(out, &st, st.size);
  return 0;
}

static const char *source_name(uint32_t s) {
  static const char *n[] = {"available", "option", "lambda", "cgroup2", "cgroup1", "reservation"};
  return s < sizeof n / sizeof n[0] ? n[s] : "unknown";
}

/* The fields in print order: name and value, from one table. */
#define FL_STATS_FIELDS(X)                                                                         \
  X(reserved)                                                                                      \
  X(warm)                                                                                          \
  X(in_use)                                                                                        \
  X(peak_in_use)                                                                                   \
  X(outside)                                                                                       \
  X(budget)                                                                                        \
  X(prefault_target)                                                                               \
  X(warmed_by_warmers)                                                                             \
  X(warmer_ns)                                                                                     \
  X(warming_ns)                                                                                    \
  X(populated_inline)                                                                              \
  X(faults_taken)                                                                                  \
  X(faults_avoided)                                                                                \
  X(released)                                                                                      \
  X(spans_small)                                                                                   \
  X(spans_large)                                                                                   \
  X(heaps)                                                                                         \
  X(heaps_reused)                                                                                  \
  X(snapshot_prepares)                                                                             \
  X(snapshot_released)                                                                             \
  X(snapshot_prepare_ns)                                                                           \
  X(snapshot_restores)

void fl_stats_print(FILE *out) {
  fl_stats_t st = {.size = sizeof st};
  fl_stats_get(&st);
  fprintf(out, "faultless stats (version %u)\n", st.version);
#define FL_PRINT_FIELD(name) fprintf(out, "  %-18s %llu\n", #name, (unsigned long long)st.name);
  FL_STATS_FIELDS(FL_PRINT_FIELD)
#undef FL_PRINT_FIELD
  fprintf(out, "  %-18s %s\n", "budget_source", source_name(st.budget_source));
  /* Per warmer, and of all warmers together (over the wall time they ran). */
  if (st.warmer_ns)
    fprintf(out, "  %-18s %.2f\n", "warm_gb_per_s",
            (double)st.warmed_by_warmers / (double)st.warmer_ns);
  if (st.warming_ns)
    fprintf(out, "  %-18s %.2f\n", "warming_gb_per_s",
            (double)st.warmed_by_warmers / (double)st.warming_ns);
}

void fl_stats_print_json(FILE *out) {
  fl_stats_t st = {.size = sizeof st};
  fl_stats_get(&st);
  fprintf(out, "{\"version\": %u", st.version);
#define FL_JSON_FIELD(name) fprintf(out, ", \"" #name "\": %llu", (unsigned long long)st.name);
  FL_STATS_FIELDS(FL_JSON_FIELD)
#undef FL_JSON_FIELD
  fprintf(out, ", \"budget_source\": \"%s\"}\n", source_name(st.budget_source));
}

void _fl_stats_at_exit(void) {
  long long mode = _fl_option(FL_OPT_STATS);
  if (mode == 2)
    fl_stats_print_json(stderr);
  else if (mode == 1)
    fl_stats_print(stderr);
}
