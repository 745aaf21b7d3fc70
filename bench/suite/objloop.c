// SPDX-License-Identifier: MIT
/* The small-object loop: allocate a handful of small objects (16..256 B),
 * write every byte of each, read them back, free them, and again, as code
 * that builds short-lived structs does. Per thread with --threads N; the
 * threads share nothing and split a fixed total of rounds. */
#include "suite.h"

#define OBJS 8

static void *work(void *arg) {
  suite_worker_t *w = arg;
  uint64_t check = 0;
  char *obj[OBJS];
  size_t size[OBJS];
  for (size_t r = 0; r < w->steps; r++) {
    for (int i = 0; i < OBJS; i++) {
      size[i] = 16 + ((r * 7 + (size_t)i * 13) & 15) * 16;
      obj[i] = suite_xmalloc(size[i]);
      memset(obj[i], (int)(r + (size_t)i), size[i]);
    }
    for (int i = 0; i < OBJS; i++) {
      check += (unsigned char)obj[i][size[i] - 1];
      free(obj[i]);
    }
  }
  w->check = check;
  return NULL;
}

int main(int argc, char **argv) {
  suite_args_t a = suite_parse(argc, argv, "objloop");
  int n = a.threads;
  size_t rounds = suite_scaled(&a, 3e6, 100) / (size_t)n;
  suite_run_workers(&a, rounds, rounds * OBJS * (uint64_t)n, work);
  return 0;
}
