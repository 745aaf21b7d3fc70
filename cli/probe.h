// SPDX-License-Identifier: MIT
/* faultless probe: what memory costs on this machine (memset bandwidth,
 * first-touch cost per page, warming throughput by method) and the
 * FAULTLESS_* settings that follow from it. probe.c measures into the
 * probe_* results below; probe_out.c recommends from them and prints. */
#ifndef FL_CLI_PROBE_H
#define FL_CLI_PROBE_H

#include "../tools/machine.h"

#include <stdbool.h>
#include <stddef.h>

#define HUGE (2UL << 20)
#define MAX_THREAD_COUNTS 12

int cmd_probe(int argc, char **argv);

typedef struct {
  bool json, quick;
  size_t touch_size; /* first-touch region, 4 KiB pages */
  size_t huge_size;  /* first-touch region, 2 MiB pages */
  size_t warm_size;  /* per warming measurement */
  long max_threads;
  long idle_ms;
  long repeats;
  char *command;
} probe_options_t;
extern probe_options_t probe_opts;

typedef struct {
  double best_gbps, median_gbps;
  size_t bytes;
  int passes;
} probe_memset_t;
extern probe_memset_t probe_memset_result;

typedef struct {
  const char *name;
  size_t pages;
  double *us; /* per page, sorted after analysis */
  double p10, p50, p90, p99, max;
  double faults_per_page; /* minor faults per page touched (1 per huge page when huge) */
  double huge_share;      /* of the range backed by huge pages */
} touch_phase_t;

typedef struct {
  bool available;
  const char *why_not;
  size_t page;
  touch_phase_t phases[3]; /* fresh, recycled, after idle */
  int nphases;
  /* Two populations, when the histogram shows them. */
  bool bimodal;
  double split_us, fast_share, fast_median, slow_median;
} touch_result_t;
extern touch_result_t probe_touch4k, probe_touch2m;

typedef enum { METHOD_TOUCH, METHOD_MAP_POPULATE, METHOD_POPULATE_WRITE, NMETHODS } method_t;
extern const char *const probe_method_names[];

typedef struct {
  method_t method;
  bool huge;
  long threads;
  bool available;
  const char *why_not;
  double gbps[8];
  int runs;
  double median_gbps;
  double huge_share;
} warm_result_t;
extern warm_result_t probe_warm[NMETHODS * 2 * MAX_THREAD_COUNTS];
extern int probe_nwarm;

/* The recommendation from the results, and the report: text or JSON. */
void probe_report(const env_t *env, double elapsed);

#endif
