// SPDX-License-Identifier: MIT
/* Where preloaded allocators usually break, as one program run with and
 * without faultless (test/programs/run.sh compares its output):
 *   - dlopen of a library with TLS and constructors that allocate (libstdc++),
 *     dlerror's allocations, dlsym;
 *   - fork() while other threads are allocating: the child allocates, starts
 *     a thread and exits cleanly;
 *   - threads that exit with blocks still allocated (freed later by main) and
 *     blocks allocated by main that threads free (remote frees);
 *   - exec of a child that inherits LD_PRELOAD is in test/override.c.
 * Output is deterministic (fixed seeds), so it must be identical. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define THREADS 4
#define LEFT_BEHIND 2000

static uint64_t rng(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* A buffer filled with a pattern derived from its seed; returns its sum. */
static uint64_t fill(unsigned char *p, size_t n, uint64_t seed) {
  uint64_t sum = 0;
  for (size_t i = 0; i < n; i++) {
    p[i] = (unsigned char)(seed + i * 7);
    sum += p[i];
  }
  return sum;
}

/* --- dlopen --- */

static int check_dlopen(void) {
  int problems = 0;
  void *h = dlopen("libfaultless-does-not-exist.so", RTLD_NOW);
  const char *err = dlerror();
  if (h || !err) problems++;
  h = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_GLOBAL);
  if (!h) {
    printf("dlopen libstdc++: %s\n", dlerror());
    return 1;
  }
  /* operator new and delete from the dlopened library: they call malloc. */
  void *(*op_new)(size_t) = (void *(*)(size_t))dlsym(h, "_Znwm");
  void (*op_delete)(void *) = (void (*)(void *))dlsym(h, "_ZdlPv");
  if (!op_new || !op_delete) return problems + 1;
  uint64_t sum = 0;
  for (int i = 0; i < 1000; i++) {
    unsigned char *p = op_new((size_t)(16 + i * 37));
    sum += fill(p, (size_t)(16 + i * 37), (uint64_t)i);
    op_delete(p);
  }
  printf("dlopen: libstdc++ new/delete sum %llu, dlerror ok %d\n", (unsigned long long)sum,
         problems == 0);
  /* dlclose runs destructors that free what the constructors allocated. */
  void *m = dlopen("libm.so.6", RTLD_NOW);
  double (*cos_fn)(double) = m ? (double (*)(double))dlsym(m, "cos") : NULL;
  printf("dlopen: libm cos(0) = %.1f\n", cos_fn ? cos_fn(0.0) : -1.0);
  if (m) dlclose(m);
  return problems;
}

/* --- Threads that exit with blocks outstanding --- */

typedef struct {
  int id;
  unsigned char **keep;  /* allocated here, freed by main after we exit */
  unsigned char **given; /* allocated by main, freed here */
  uint64_t sum;
} worker_t;

static void *worker(void *arg) {
  worker_t *w = arg;
  uint64_t s = 0x9e3779b97f4a7c15ULL * (uint64_t)(w->id + 1);
  for (int i = 0; i < LEFT_BEHIND; i++) {
    size_t n = 1 + rng(&s) % 3000;
    w->keep[i] = malloc(n);
    w->sum += fill(w->keep[i], n, s);
    free(w->given[i]);
  }
  /* Churn that is freed here, so the heap has partially used spans. */
  for (int i = 0; i < 20000; i++) {
    void *p = malloc(1 + rng(&s) % 500);
    free(p);
  }
  return NULL;
}

static int check_thread_exit(void) {
  worker_t w[THREADS];
  pthread_t t[THREADS];
  for (int k = 0; k < THREADS; k++) {
    w[k] =
        (worker_t){k, calloc(LEFT_BEHIND, sizeof(void *)), calloc(LEFT_BEHIND, sizeof(void *)), 0};
    for (int i = 0; i < LEFT_BEHIND; i++)
      w[k].given[i] = malloc((size_t)(8 + i % 1000));
  }
  for (int round = 0; round < 3; round++) {
    for (int k = 0; k < THREADS; k++)
      pthread_create(&t[k], NULL, worker, &w[k]);
    for (int k = 0; k < THREADS; k++)
      pthread_join(t[k], NULL);
    /* Their heaps are gone: free what they left, then give them fresh blocks. */
    for (int k = 0; k < THREADS; k++)
      for (int i = 0; i < LEFT_BEHIND; i++) {
        free(w[k].keep[i]);
        w[k].given[i] = malloc((size_t)(8 + (i * 13) % 2000));
      }
  }
  uint64_t total = 0;
  for (int k = 0; k < THREADS; k++) {
    total += w[k].sum;
    for (int i = 0; i < LEFT_BEHIND; i++)
      free(w[k].given[i]);
    free(w[k].keep);
    free(w[k].given);
  }
  printf("threads: %d rounds of %d exiting threads, sum %llu\n", 3, THREADS,
         (unsigned long long)total);
  return 0;
}

/* --- fork while threads allocate --- */

static atomic_int stop;

static void *churn(void *arg) {
  uint64_t s = (uint64_t)(uintptr_t)arg | 1;
  void *slots[64] = {0};
  while (!atomic_load(&stop)) {
    int i = (int)(rng(&s) % 64);
    free(slots[i]);
    slots[i] = malloc(1 + rng(&s) % (rng(&s) % 8 == 0 ? 200000 : 2000));
    if (slots[i]) memset(slots[i], 1, 1);
  }
  for (int i = 0; i < 64; i++)
    free(slots[i]);
  return NULL;
}

static void *child_thread(void *arg) {
  uint64_t *sum = arg;
  for (int i = 0; i < 1000; i++) {
    unsigned char *p = malloc((size_t)(100 + i));
    *sum += fill(p, (size_t)(100 + i), (uint64_t)i);
    free(p);
  }
  return NULL;
}

static uint64_t child_work(void) {
  uint64_t sum = 0;
  unsigned char *big = malloc(8 << 20);
  sum += fill(big, 8 << 20, 1);
  pthread_t ct;
  if (pthread_create(&ct, NULL, child_thread, &sum) != 0) return 0;
  pthread_join(ct, NULL);
  free(big);
  return sum;
}

static int check_fork(void) {
  uint64_t expected = child_work();
  pthread_t t[3];
  for (int k = 0; k < 3; k++)
    pthread_create(&t[k], NULL, churn, (void *)(uintptr_t)(k + 1));
  int good = 0, forks = 40;
  for (int f = 0; f < forks; f++) {
    pid_t pid = fork();
    if (pid == 0) {
      /* Only this thread exists here: malloc must not wait on a lock that a
       * churn thread held at fork time. */
      _exit(child_work() == expected ? 0 : 4);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
      good++;
    else
      printf("fork %d: child status %#x\n", f, st);
  }
  atomic_store(&stop, 1);
  for (int k = 0; k < 3; k++)
    pthread_join(t[k], NULL);
  printf("fork: %d of %d children of a 4-thread process allocated and exited cleanly\n", good,
         forks);
  return good != forks;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int problems = check_dlopen();
  problems += check_thread_exit();
  problems += check_fork();
  printf("lifecycle: %s\n", problems ? "PROBLEMS" : "ok");
  return problems != 0;
}
