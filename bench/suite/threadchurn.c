// SPDX-License-Identifier: MIT
/* Thread churn: short-lived threads, --threads N at a time, each allocating
 * a few hundred blocks (16 B..8 KiB), freeing most of them and handing the
 * rest back to the main thread, which frees them after the thread exited
 * (as a thread pool's tasks leave results behind). The total number of
 * threads is fixed. */
#include "suite.h"

#define BLOCKS 400
#define KEPT 16

typedef struct {
  int id;
  char *kept[KEPT];
  uint64_t check;
} task_t;

static void *work(void *arg) {
  task_t *t = arg;
  suite_rng_t rng = suite_rng(500 + (uint64_t)t->id);
  char *live[BLOCKS];
  uint64_t check = 0;
  for (int i = 0; i < BLOCKS; i++) {
    size_t size = suite_log_size(&rng, 16, 8192);
    live[i] = suite_xmalloc(size);
    live[i][0] = (char)i;
    live[i][size - 1] = (char)size;
  }
  for (int i = 0; i < BLOCKS; i++) {
    check += (unsigned char)live[i][0];
    if (i % (BLOCKS / KEPT) == 0)
      t->kept[i / (BLOCKS / KEPT)] = live[i];
    else
      free(live[i]);
  }
  t->check = check;
  return NULL;
}

int main(int argc, char **argv) {
  suite_args_t a = suite_parse(argc, argv, "threadchurn");
  int n = a.threads;
  size_t total = suite_scaled(&a, 4000, (size_t)n);
  task_t *tasks = calloc((size_t)n, sizeof *tasks);
  pthread_t *th = suite_xmalloc((size_t)n * sizeof *th);
  if (!tasks) return 1;
  uint64_t check = 0, ops = 0;
  uint64_t t0 = suite_now_ns();
  for (size_t done = 0; done < total; done += (size_t)n) {
    for (int i = 0; i < n; i++) {
      tasks[i].id = (int)(done + (size_t)i);
      suite_thread(&th[i], work, &tasks[i]);
    }
    for (int i = 0; i < n; i++) {
      pthread_join(th[i], NULL);
      check += tasks[i].check;
      for (int k = 0; k < KEPT; k++)
        free(tasks[i].kept[k]);
      ops++;
    }
  }
  suite_report(&a, t0, ops, check);
  free(tasks);
  free(th);
  return 0;
}
