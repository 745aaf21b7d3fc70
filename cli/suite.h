// SPDX-License-Identifier: MIT
/* faultless suite: the general-purpose allocator suite (bench/suite/) across
 * allocators, each workload a fresh process under LD_PRELOAD. suite.c parses
 * the options, runs the processes and analyses them; suite_out.c writes the
 * table, JSON, CSV and charts. */
#ifndef FL_CLI_SUITE_H
#define FL_CLI_SUITE_H

/* bench's faultless options, child environment and output files */
#include "bench.h"

int cmd_suite(int argc, char **argv);

/* --- What is measured --- */

typedef struct {
  const char *name;
  bool threaded; /* takes --threads; runs at every thread count */
  const char *what;
} workload_t;

extern const workload_t workloads[];
#define NWORKLOADS 14 /* suite.c's table */

typedef struct {
  char *label;
  const char *base; /* glibc, jemalloc, mimalloc, tcmalloc, faultless */
  char *library;    /* preloaded; NULL for glibc */
  char *env[10];    /* the entry's FAULTLESS_* (8 at most), then faultless's defaults */
  int nenv;
  bool faultless;
  bool warming; /* faultless with warming on */
} allocator_t;

typedef struct {
  int workload;
  int threads;
} case_t;

typedef struct {
  int c, a, round, position;
  bool warmup, ok;
  int status;
  double ms;      /* the workload's own elapsed time */
  double wall_ms; /* the whole process */
  long maxrss_kib;
  unsigned long long check;
  char *note;
} srun_t;

typedef struct {
  double ms, ms_min, ms_max;
  double rss_mib, rss_min, rss_max;
  int n;
} cell_t;

typedef struct {
  double median, min, max;
  int n;
} sratio_t;

typedef struct {
  double gbps_thp[2];   /* warmers, median; huge pages off / on; NaN if not measured */
  double gbps_first[2]; /* the same, in the first process of a pair (see measure_warming) */
  double probe_pw[2];   /* probe: MADV_POPULATE_WRITE at the warmers' thread count */
  double probe_best;
  char probe_best_name[96];
  long best_threads; /* probe's best method: threads, huge pages */
  bool best_huge;
  double gbps_best; /* warmers in that setting, all together (warming_ns) */
  int warmers;
  int runs;
  bool ran;
  char note[256];
} warming_t;

typedef struct {
  long repeat, warmup, timeout_s;
  double scale;
  const char *out_dir;
  bool json, warming_check;
  char *command;
  char *bin_dir, *library_so, *self;
  allocator_t alloc[16];
  int nalloc;
  char *skipped[16];
  int nskipped;
  bool use_workload[NWORKLOADS];
  int thread_counts[8];
  int nthreads;
  case_t cases[NWORKLOADS * 8];
  int ncases;
  env_t env;
  srun_t *runs;
  int nruns;
  cell_t *cells;    /* ncases x nalloc */
  sratio_t *ratios; /* ncases x nalloc x nalloc: time of a over time of b */
  warming_t warming;
  double elapsed_s;
  int failures;
} suite_t;

/* The analysis (suite.c), for the writers. */
cell_t *cell(const suite_t *s, int c, int a);
sratio_t *ratio(const suite_t *s, int c, int a, int b);
/* Geometric mean over the cases of a's median ratio to b (time or RSS). */
double geomean(const suite_t *s, int a, int b, bool memory);
int find_alloc(const suite_t *s, const char *label);
void case_name(const suite_t *s, int c, char buf[48]);

/* The warmers against `faultless probe`, into s->warming (suite_warm.c). */
void measure_warming(suite_t *s);

/* The writers (suite_out.c). */
void suite_print_table(const suite_t *s, FILE *out);
void suite_write_json(const suite_t *s, FILE *out);
int suite_write_dir(const suite_t *s, const char *dir);

#endif
