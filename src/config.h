// SPDX-License-Identifier: MIT
/* The configuration layer: options (their syntax in parse.h), messages,
 * counters and the budget. What the layers above read to decide; nothing
 * here calls above it. */
#ifndef FL_CONFIG_H
#define FL_CONFIG_H

#include "internal.h"
#include "parse.h"

/* --- options.c ---------------------------------------------------------- */

FL_INTERNAL void _fl_options_init(void);
FL_INTERNAL long long _fl_option(fl_option_t opt);
FL_INTERNAL bool _fl_option_is_set(fl_option_t opt);
FL_INTERNAL void _fl_options_print(void);
/* MMAP's rule: on when set to 1; with auto, on exactly when PREFAULT came
 * from the environment (a process that asks for warming at start-up). */
FL_INTERNAL bool _fl_mmap_rule(long long mmap, bool prefault_in_env);
/* The rule applied to this process's options. */
FL_INTERNAL bool _fl_mmap_wanted(void);
/* The option called `name` (with or without FAULTLESS_, any case), or -1. */
FL_INTERNAL int _fl_option_find(const char *name);
/* Set option `name` from a value string: 0, ENOENT (no such option) or
 * EINVAL (a bad value, reported once; the old value stays). *which: the
 * option set. No side effects: the API layer acts on the new value. */
FL_INTERNAL int _fl_option_set(const char *name, const char *value, fl_option_t *which);
/* Format a message and write it to stderr prefixed with "faultless: ". */
FL_INTERNAL void _fl_message(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
FL_INTERNAL void _fl_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A fatal error about `ptr` in `call`: one line on stderr, then abort. */
FL_INTERNAL _Noreturn void _fl_fatal(const char *call, const void *ptr, const char *what);

/* --- stats.c ------------------------------------------------------------ */

/* The counters, in two parts so that the stats (control.c) print the
 * reservation's fields between them. */
#define FL_COUNTERS_MEMORY(X)                                                                      \
  X(warm)                                                                                          \
  X(in_use)                                                                                        \
  X(peak_in_use)                                                                                   \
  X(outside)
#define FL_COUNTERS_EVENTS(X)                                                                      \
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
  X(snapshot_restores)                                                                             \
  X(mmap_ranges)                                                                                   \
  X(mmap_warmed)                                                                                   \
  X(mmap_skipped)                                                                                  \
  X(mmap_pooled)
#define FL_COUNTERS(X) FL_COUNTERS_MEMORY(X) FL_COUNTERS_EVENTS(X)

typedef struct fl_counters_s {
#define FL_COUNTER_FIELD(name) _Atomic uint64_t name;
  FL_COUNTERS(FL_COUNTER_FIELD)
#undef FL_COUNTER_FIELD
} fl_counters_t;

FL_INTERNAL extern fl_counters_t _fl_counters;
#define FL_STAT_ADD(name, n)                                                                       \
  atomic_fetch_add_explicit(&_fl_counters.name, (n), memory_order_relaxed)
#define FL_STAT_SUB(name, n)                                                                       \
  atomic_fetch_sub_explicit(&_fl_counters.name, (n), memory_order_relaxed)
FL_INTERNAL void _fl_stats_in_use_add(size_t bytes);
FL_INTERNAL void _fl_stats_in_use_sub(size_t bytes);

/* --- budget.c ----------------------------------------------------------- */

typedef struct fl_budget_s {
  uint64_t limit;  /* smallest limit found, before headroom */
  uint64_t budget; /* limit less headroom */
  uint64_t headroom;
  fl_budget_source_t source;
  bool in_lambda;
  uint64_t lambda_bytes; /* function memory, when in Lambda */
} fl_budget_t;

/* Work out the budget from the option, the Lambda variable, the cgroup files
 * and /proc/meminfo, all read under `root` ("" for the real machine).
 * option_bytes / lambda_mb: 0 when unset. headroom_opt: FL_AUTO or bytes. */
FL_INTERNAL void _fl_budget_detect(const char *root, uint64_t option_bytes, const char *lambda_mb,
                                   long long headroom_opt, fl_budget_t *out);
/* Where the warmers read /proc/meminfo: NULL for the real one; tests point it
 * at a fixture tree to simulate memory pressure. */
FL_INTERNAL extern const char *_fl_fs_root;
/* MemAvailable from <root>/proc/meminfo in bytes, or 0 when unknown. */
FL_INTERNAL uint64_t _fl_budget_mem_available(const char *root);

#endif
