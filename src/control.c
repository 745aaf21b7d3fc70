// SPDX-License-Identifier: MIT
/* The control calls of the API: options, prefaults, release, snapshots,
 * stats and the heap check. Each makes sure the library is initialised
 * before it reaches a lower layer, and acts on what a lower layer only
 * records (an option set after start-up). */
#include "api.h"

#include <errno.h>
#include <string.h>

/* --- Options ------------------------------------------------------------ */

int fl_option_set(const char *name, const char *value) {
  fl_option_t opt;
  int rc = _fl_option_set(name, value, &opt);
  if (rc != 0) return rc;
  /* PREFAULT set after start-up acts at once, as fl_prefault would. */
  if (opt == FL_OPT_PREFAULT && atomic_load(&_fl_ready) == 2) _fl_arena_start_prefault();
  return 0;
}

long long fl_option_get(const char *name) {
  int i = _fl_option_find(name);
  return i < 0 ? -2 : _fl_option((fl_option_t)i);
}

/* --- Warming and memory ------------------------------------------------- */

int fl_prefault(size_t bytes) {
  if (!_fl_ensure_init()) return ENOMEM;
  if (_fl_arena.warm.max <= 0) return 0;
  return _fl_prefault_bytes(bytes);
}

int fl_prefault_wait(long timeout_ms) {
  if (!_fl_ensure_init()) return 0;
  return _fl_prefault_wait_ms(timeout_ms);
}

size_t fl_release(void) {
  if (!_fl_ensure_init()) return 0;
  return _fl_span_release_idle(0);
}

void fl_snapshot_prepare(void) {
  if (_fl_ensure_init()) _fl_snapshot_prepare();
}

void fl_snapshot_restored(void) {
  if (_fl_ensure_init()) _fl_snapshot_restored();
}

int fl_heap_check(void) {
  if (!_fl_ensure_init()) return 0;
  int rc = _fl_span_check() || _fl_heap_check_current();
  return rc ? EFAULT : 0;
}

/* --- Stats -------------------------------------------------------------- */

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
  st.prefault_target = __atomic_load_n(&a->warm.prefault_bytes, __ATOMIC_RELAXED);
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
  FL_COUNTERS_MEMORY(X)                                                                            \
  X(budget)                                                                                        \
  X(prefault_target)                                                                               \
  FL_COUNTERS_EVENTS(X)

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
