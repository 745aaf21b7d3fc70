// SPDX-License-Identifier: MIT
/* Under a preloaded adapter (jemalloc+faultless or mimalloc+faultless) with
 * FAULTLESS_PREFAULT set: once the warmers are done, the seed's buffers land
 * in warm memory. Waits with fl_prefault_wait (found with dlsym: the adapter
 * exports it), so the result does not depend on timing.
 * usage: warm BUFFERS (1 MiB each) */
#define _GNU_SOURCE
#include "testhelper.h"

#include <dlfcn.h>
#include <string.h>
#include <sys/resource.h>

static long thread_faults(void) {
  struct rusage r;
  getrusage(RUSAGE_THREAD, &r);
  return r.ru_minflt;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 100;
  if (n < 1 || n > 1000) return 2;
  int (*wait)(long) = (int (*)(long))dlsym(RTLD_DEFAULT, "fl_prefault_wait");
  CHECK(wait != NULL);
  if (!wait) return test_report("adapters-warm");
  CHECK(wait(20000) == 0);
  size_t size = 1 << 20;
  char **p = malloc((size_t)n * sizeof *p);
  long faults[2];
  for (int round = 0; round < 2; round++) {
    long before = thread_faults();
    for (long i = 0; i < n; i++) {
      p[i] = malloc(size);
      memset(p[i], (int)(i + round), size);
    }
    faults[round] = thread_faults() - before;
    for (long i = 0; i < n; i++) {
      CHECK(p[i][0] == (char)(i + round) && p[i][size - 1] == (char)(i + round));
      free(p[i]);
    }
  }
  printf("faults per buffer: %.2f first batch, %.2f second batch (cold: 256)\n",
         (double)faults[0] / (double)n, (double)faults[1] / (double)n);
  /* Under one fault per buffer: the adapters must serve warm memory. */
  CHECK(faults[0] < n);
  CHECK(faults[1] < n);
  free(p);
  return test_report("adapters-warm");
}
