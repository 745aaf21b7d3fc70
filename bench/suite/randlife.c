// SPDX-License-Identifier: MIT
/* Random sizes and lifetimes across threads: each thread keeps a table of
 * live blocks (8 B..16 KiB, log-uniform) and replaces random ones; a block
 * dies after a random number of steps. Every few hundred steps a thread
 * passes a batch of its live blocks to the next thread through a mailbox,
 * which frees them, so a share of all frees happen on a thread other than
 * the one that allocated. The total work is fixed and divided among the
 * threads. */
#include "suite.h"

#define SLOTS 4096
#define BATCH 64
#define EVERY 256
/* The threads meet every SYNC steps, so that a thread that runs ahead
 * cannot pile up blocks in a slower one's mailbox without bound. */
#define SYNC 16384

/* Handed-over blocks, linked through their first 8 bytes (the smallest
 * block holds a pointer). */
typedef struct {
  pthread_mutex_t lock;
  void *head;
} mailbox_t;

static mailbox_t *boxes;
static int nthreads;
static size_t steps;
static pthread_barrier_t barrier;

typedef struct {
  int id;
  uint64_t check, freed; /* freed: blocks freed for another thread */
} worker_t;

/* Free what the mailbox holds; returns how many. */
static uint64_t drain(mailbox_t *m) {
  pthread_mutex_lock(&m->lock);
  void *p = m->head;
  m->head = NULL;
  pthread_mutex_unlock(&m->lock);
  uint64_t n = 0;
  while (p) {
    void *next;
    memcpy(&next, p, sizeof next);
    free(p);
    p = next;
    n++;
  }
  return n;
}

static void *work(void *arg) {
  worker_t *w = arg;
  suite_rng_t rng = suite_rng(7000 + (uint64_t)w->id);
  char **slot = calloc(SLOTS, sizeof *slot);
  uint32_t *death = calloc(SLOTS, sizeof *death);
  if (!slot || !death) exit(1);
  mailbox_t *mine = &boxes[w->id], *next = &boxes[(w->id + 1) % nthreads];
  uint64_t check = 0, freed = 0;
  for (size_t i = 0; i < steps; i++) {
    size_t k = suite_below(&rng, SLOTS);
    if (slot[k] && death[k] <= (uint32_t)i) {
      check += (unsigned char)slot[k][0];
      free(slot[k]);
      slot[k] = NULL;
    }
    if (!slot[k]) {
      size_t size = suite_log_size(&rng, 8, 16384);
      char *p = suite_xmalloc(size);
      p[0] = (char)size;
      p[size - 1] = (char)i;
      slot[k] = p;
      death[k] = (uint32_t)(i + 1 + suite_below(&rng, 4 * SLOTS));
    }
    if (i % EVERY == EVERY - 1) {
      /* Hand a batch of live blocks to the next thread (to itself with one
       * thread); take what the previous one left. */
      void *list = NULL;
      for (int b = 0; b < BATCH; b++) {
        size_t j = suite_below(&rng, SLOTS);
        if (!slot[j]) continue;
        check += (unsigned char)slot[j][0];
        memcpy(slot[j], &list, sizeof list);
        list = slot[j];
        slot[j] = NULL;
      }
      if (list) {
        void *tail = list, *n;
        while (memcpy(&n, tail, sizeof n), n)
          tail = n;
        pthread_mutex_lock(&next->lock);
        memcpy(tail, &next->head, sizeof next->head);
        next->head = list;
        pthread_mutex_unlock(&next->lock);
      }
      freed += drain(mine);
    }
    if (i % SYNC == SYNC - 1) {
      pthread_barrier_wait(&barrier);
      freed += drain(mine);
    }
  }
  for (size_t k = 0; k < SLOTS; k++)
    if (slot[k]) {
      check += (unsigned char)slot[k][0];
      free(slot[k]);
    }
  free(slot);
  free(death);
  w->check = check;
  w->freed = freed;
  return NULL;
}

int main(int argc, char **argv) {
  suite_args_t a = suite_parse(argc, argv, "randlife");
  nthreads = a.threads;
  steps = suite_scaled(&a, 6e6, 1000) / (size_t)nthreads;
  pthread_barrier_init(&barrier, NULL, (unsigned)nthreads);
  boxes = calloc((size_t)nthreads, sizeof *boxes);
  pthread_t *th = suite_xmalloc((size_t)nthreads * sizeof *th);
  worker_t *w = calloc((size_t)nthreads, sizeof *w);
  if (!boxes || !w) return 1;
  for (int i = 0; i < nthreads; i++)
    pthread_mutex_init(&boxes[i].lock, NULL);
  uint64_t t0 = suite_now_ns();
  for (int i = 0; i < nthreads; i++) {
    w[i].id = i;
    suite_thread(&th[i], work, &w[i]);
  }
  uint64_t check = 0, handed = 0;
  for (int i = 0; i < nthreads; i++) {
    pthread_join(th[i], NULL);
    check += w[i].check;
    handed += w[i].freed;
  }
  /* Blocks still in the mailboxes; the count handed over is fixed. */
  for (int i = 0; i < nthreads; i++)
    handed += drain(&boxes[i]);
  check += handed << 32;
  suite_report(&a, t0, steps * (uint64_t)nthreads, check);
  free(th);
  free(w);
  free(boxes);
  return 0;
}
