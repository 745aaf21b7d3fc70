// SPDX-License-Identifier: MIT
/* faultless bench: the seed's experiment across allocators, each measurement
 * in a fresh process of the `seed` worker (bench/seed.c). */
#ifndef FL_CLI_BENCH_H
#define FL_CLI_BENCH_H

#include "../tools/machine.h"
#include "../tools/util.h"

typedef enum {
  KIND_GLIBC,             /* the C library's malloc: nothing preloaded */
  KIND_GLIBC_TUNED,       /* glibc with mmap/trim thresholds raised via GLIBC_TUNABLES */
  KIND_PRELOAD,           /* a malloc replacement by LD_PRELOAD */
  KIND_FAULTLESS,         /* faultless-api: the worker's fl_* calls, linked in (--api fl) */
  KIND_FAULTLESS_PRELOAD, /* faultless: LD_PRELOAD of libfaultless.so, plain malloc, as users
                             run it and as the peers are measured */
  NKINDS
} kind_t;
/* Each kind's name in results.json (bench_stats.c), by kind_t. */
extern const char *const bench_kind_names[NKINDS];

/* One allocator as measured: a known allocator plus per-entry overrides
 * ("faultless:setup-ms=300:prefault=128M"). */
typedef struct {
  char *label;
  const char *base;
  kind_t kind;
  char *library;      /* preloaded library, as found */
  char *library_real; /* its realpath */
  const char *package;
  char *package_version; /* "pkg version" from dpkg, when known */
  long setup_ms;
  size_t prefault;
  char *env[8]; /* FAULTLESS_KEY=VALUE from the entry's other options */
  int nenv;
} variant_t;

/* The options in results.json: its KEY, bench_t's field. Written by
 * bench_out.c and read back by bench_load.c from this one list. */
/* clang-format off */
#define BENCH_OPTIONS(X)                                                                           \
  X(chunks, chunks) X(size, size) X(iterations, iterations) X(align, align) X(threads, threads)   \
  X(setup_ms, setup_ms) X(setup_busy_pct, setup_busy) X(prefault, prefault) X(repeat, repeat)     \
  X(warmup_rounds, warmup) X(gap_ms, gap_ms)
/* A run's sample columns, in order: KEY in results.json, run_t's field, type. */
#define BENCH_COLUMNS(X)                                                                           \
  X(thread, thread, u32) X(iteration, iteration, u32) X(index, index, u32)                         \
  X(duration_ns, duration_ns, u64) X(minflt, minflt, u32) X(minflt_process, minflt_proc, u32)      \
  X(new_pages, new_pages, u32)
/* clang-format on */

/* One fresh process: its options and every sample it printed. */
typedef struct {
  int variant;
  int round; /* 0-based; rounds < warmup are warm-up rounds */
  bool warmup;
  int position; /* place in the round's order */
  bool ok;
  int status;
  double wall_ms;
  uint64_t setup_ns;
  long total_minflt;
  char *fl_stats; /* JSON from the worker, --api fl only */
  size_t n;
  uint32_t *thread, *iteration, *index, *minflt, *minflt_proc, *new_pages;
  uint64_t *duration_ns;
} run_t;

/* Ratio of batch times for a start-up target, over the measured rounds. */
typedef struct {
  char name[160];
  char description[200];
  double median, min, max;
  int rounds;
  double target;
  bool at_most; /* target is an upper bound */
  bool met;
  double faults_thread, faults_process; /* R1 only: first-batch faults per buffer */
  bool has_faults;
} ratio_t;

/* Per allocator and iteration, over the measured rounds. */
typedef struct {
  int variant;
  int iteration; /* 1-based */
  size_t samples;
  double median_us_per_mib, p99_us_per_mib, gbps;
  double minflt_per_buffer, minflt_process_per_buffer, new_pages_per_buffer;
  double batch_ms_median, batch_ms_min, batch_ms_max;
  double ratio_to_glibc; /* NaN when no glibc */
} summary_t;

typedef struct bench {
  /* options */
  long chunks, iterations, threads, setup_ms, setup_busy, repeat, warmup, timeout_s, gap_ms;
  size_t size, align, prefault;
  const char *format;                              /* table, seed, csv, json */
  void (*write)(const struct bench *b, FILE *out); /* the writer of that format */
  const char *out_dir;
  const char *from; /* --from: a results.json read instead of measuring */
  char *command;    /* the exact command line, shell-quoted */
  int argc;
  char **argv;
  /* what was found */
  char *worker, *library_so;
  variant_t variants[32];
  int nvariants;
  char *skipped[32];
  int nskipped;
  env_t env;
  /* results */
  run_t *runs;
  int nruns;
  summary_t *summary;
  int nsummary;
  ratio_t ratios[16];
  int nratios;
  double elapsed_s;
} bench_t;

/* bench.c: the options, the allocators and the measured processes. */
int cmd_bench(int argc, char **argv);
/* A faultless option as an allocator entry gives it, KEY=VALUE ("warmers=2",
 * "warm-method=touch"), as its variable ("FAULTLESS_WARMERS=2"), malloc'd;
 * NULL when KEY names no option or the library's own parser refuses VALUE. */
char *faultless_env(const char *key, const char *value);

/* The environment of a measured process (bench's and suite's): ours without
 * LD_PRELOAD, the caller's FAULTLESS_* (each entry names its own options, so
 * every row is measured with those) and, with `tunables`, GLIBC_TUNABLES;
 * plus LD_PRELOAD=library (NULL: none) and the entry's env. */
void allocator_env(childenv_t *e, const char *library, char *const env[], int nenv, bool tunables);

/* bench_load.c: b's options, variants and runs from a results.json at path
 * ("-": stdin); 0, or 1 (said). */
int bench_load(bench_t *b, const char *path);

/* bench_stats.c: the summary and the start-up ratios of b's runs. */
void bench_analyze(bench_t *b);
/* How the variant's processes reach their allocator, in words (table, JSON). */
const char *bench_path(const variant_t *v);
/* The variant's run in that round (with `ok`, only if it succeeded); NULL if none. */
const run_t *bench_find_run(const bench_t *b, int variant, int round, bool ok);
/* One iteration's time in ms: its samples' durations summed, per thread. */
double batch_ms(const run_t *r, int iteration, long threads);

/* bench_out.c: the writers; they call bench_stats.c, never bench.c. */
void bench_print_table(const bench_t *b, FILE *out);
void bench_print_seed(const bench_t *b, FILE *out);
void bench_write_csv(const bench_t *b, FILE *out);
void bench_write_json(const bench_t *b, FILE *out);
/* results.json, results.csv, charts in dir, made before measuring; returns 0
 * or 1 (message printed). */
int bench_write_dir(const bench_t *b, const char *dir);
/* DIR/NAME, opened for writing; NULL when it cannot be (said, as `who`). The
 * writers of bench and suite open every file through it. */
FILE *create_in(const char *dir, const char *name, const char *who);

#endif
