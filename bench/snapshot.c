// SPDX-License-Identifier: MIT
/* snapshot: what fl_snapshot_prepare gives back and what fl_snapshot_restored
 * brings back, in one process.
 *
 * It holds --hold bytes (1 MiB blocks, written), warms --warm bytes with
 * fl_prefault and waits, then prepares: RSS (smaps_rollup) before and after,
 * and the time prepare takes. Then the seed's experiment (--buffers blocks of
 * --size, memset, freed, twice) in three states, each after a new prepare:
 *   prepared   never restored: what a program finds without the second call
 *   restored   right after fl_snapshot_restored, while the warmers run
 *   warm       after fl_snapshot_restored and fl_prefault_wait
 * A real restore brings memory back lazily from the snapshot; here the pages
 * that prepare gave back stand for it (both fault on first touch).
 */
#define _GNU_SOURCE
#include "faultless.h"
#include "../tools/size.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define MiB ((size_t)1 << 20)

static void usage(FILE *out) {
  fprintf(out, "usage: snapshot [--warm BYTES] [--hold BYTES] [--buffers N] [--size BYTES]\n"
               "Measures fl_snapshot_prepare and fl_snapshot_restored (bench/snapshot.c).\n"
               "BYTES take a K, M or G suffix (binary). Defaults: --warm 1G --hold 50M\n"
               "--buffers 100 --size 1M.\n");
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static size_t rss(void) {
  FILE *f = fopen("/proc/self/smaps_rollup", "r");
  char line[256];
  size_t kb = 0;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "Rss: %zu kB", &kb) == 1) break;
  if (f) fclose(f);
  return kb << 10;
}

static long minflt(void) {
  struct rusage ru;
  getrusage(RUSAGE_THREAD, &ru);
  return ru.ru_minflt;
}

/* One batch: n blocks of size, memset, then freed. ms and faults per block. */
static int batch(int n, size_t size, int byte, double *ms, double *faults) {
  void **p = calloc((size_t)n, sizeof *p);
  if (!p) return -1;
  long f0 = minflt();
  double t0 = now_ms();
  for (int i = 0; i < n; i++) {
    p[i] = fl_malloc(size);
    if (!p[i]) return -1;
    memset(p[i], byte, size);
  }
  *ms = now_ms() - t0;
  *faults = (double)(minflt() - f0) / n;
  for (int i = 0; i < n; i++)
    fl_free(p[i]);
  free(p);
  return 0;
}

int main(int argc, char **argv) {
  size_t warm = 1024 * MiB, hold = 50 * MiB, size = MiB;
  long buffers = 100;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int ok = v != NULL;
    if (!strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--warm") && v)
      ok = parse_bytes(v, &warm);
    else if (!strcmp(a, "--hold") && v)
      ok = parse_bytes(v, &hold);
    else if (!strcmp(a, "--size") && v)
      ok = parse_bytes(v, &size) && size > 0;
    else if (!strcmp(a, "--buffers") && v) {
      char *end;
      buffers = strtol(v, &end, 10);
      ok = *end == 0 && buffers > 0 && buffers <= 100000;
    } else
      ok = 0;
    if (!ok) {
      fprintf(stderr, "snapshot: bad argument '%s'%s%s\n", a, v ? " " : "", v ? v : "");
      usage(stderr);
      return 2;
    }
    i++;
  }

  size_t nhold = hold / MiB;
  void **held = calloc(nhold ? nhold : 1, sizeof *held);
  for (size_t i = 0; i < nhold; i++) {
    held[i] = fl_malloc(MiB);
    if (!held[i]) return 1;
    memset(held[i], 0x11, MiB);
  }
  double t0 = now_ms();
  fl_prefault(warm);
  fl_prefault_wait(-1);
  double warm_ms = now_ms() - t0;
  size_t before = rss();
  t0 = now_ms();
  fl_snapshot_prepare();
  double prep_ms = now_ms() - t0;
  size_t after = rss();
  fl_stats_t st = {.size = sizeof st};
  fl_stats_get(&st);
  printf("warmed %zu MiB in %.0f ms, holding %zu MiB\n", warm >> 20, warm_ms, nhold);
  printf("rss before prepare: %zu MiB\n", before >> 20);
  printf("rss after prepare:  %zu MiB (gave back %llu MiB)\n", after >> 20,
         (unsigned long long)(st.snapshot_released >> 20));
  printf("prepare took:       %.1f ms\n", prep_ms);

  printf("\nthe seed's experiment, %ld x %zu KiB, memset (ms per batch, faults per buffer):\n",
         buffers, size >> 10);
  printf("%-10s %10s %10s %10s %10s %12s\n", "state", "1st ms", "1st flt", "2nd ms", "2nd flt",
         "rss after");
  static const char *states[] = {"prepared", "restored", "warm"};
  double warm_again_ms = 0;
  for (int s = 0; s < 3; s++) {
    fl_snapshot_prepare();
    if (s >= 1) fl_snapshot_restored();
    double wait_ms = 0;
    if (s == 2) {
      t0 = now_ms();
      fl_prefault_wait(-1);
      wait_ms = now_ms() - t0;
    }
    double ms1, f1, ms2, f2;
    if (batch((int)buffers, size, 0x22, &ms1, &f1) || batch((int)buffers, size, 0x33, &ms2, &f2)) {
      fprintf(stderr, "snapshot: allocation failed\n");
      return 1;
    }
    printf("%-10s %10.1f %10.1f %10.1f %10.1f %8zu MiB\n", states[s], ms1, f1, ms2, f2,
           rss() >> 20);
    if (s == 2) warm_again_ms = wait_ms;
  }
  printf("\nafter fl_snapshot_restored, warm again in %.0f ms\n", warm_again_ms);
  for (size_t i = 0; i < nhold; i++)
    fl_free(held[i]);
  free(held);
  return 0;
}
