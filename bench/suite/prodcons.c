/* Producer/consumer: --threads N pairs; each producer allocates blocks
 * (16..512 B), writes them and passes them in batches of 256 through a ring
 * to its consumer, which reads and frees them. Nearly every free is a
 * cross-thread free. A thread that finds the ring full (or empty) sleeps.
 * The total number of blocks is fixed and divided among the pairs.
 * --spin: threads spin (yielding) on the ring instead of sleeping, which
 * takes the scheduler's wake-ups out of the time, leaving the allocator's
 * hand-over cost (not in the default suite: it burns every core). */
#include "suite.h"

#include <sched.h>
#include <stdbool.h>

#define BATCH 256
#define RING 8

static int spin;

typedef struct {
  char *block[BATCH];
} batch_t;

/* A ring of batches; a thread that finds it full (empty) sleeps on a
 * condition variable, so that pairs share a small, busy machine fairly. */
typedef struct {
  batch_t ring[RING];
  pthread_mutex_t lock;
  pthread_cond_t changed;
  size_t head, tail; /* head: next to fill; tail: next to drain */
  size_t batches;
  int id;
  uint64_t check;
} pair_t;

/* Wait until the producer has a batch to fill (the consumer one to drain),
 * sleeping on the ring or, with --spin, yielding; return that batch. */
static batch_t *take_turn(pair_t *q, bool producer) {
  pthread_mutex_lock(&q->lock);
  while (producer ? q->head - q->tail >= RING : q->head == q->tail)
    if (spin) {
      pthread_mutex_unlock(&q->lock);
      sched_yield();
      pthread_mutex_lock(&q->lock);
    } else {
      pthread_cond_wait(&q->changed, &q->lock);
    }
  batch_t *b = &q->ring[(producer ? q->head : q->tail) % RING];
  pthread_mutex_unlock(&q->lock);
  return b;
}

/* Hand the batch over: move head (or tail) on and wake the other side. */
static void end_turn(pair_t *q, size_t *end) {
  pthread_mutex_lock(&q->lock);
  (*end)++;
  pthread_cond_broadcast(&q->changed);
  pthread_mutex_unlock(&q->lock);
}

static void *produce(void *arg) {
  pair_t *q = arg;
  suite_rng_t rng = suite_rng(7 + (uint64_t)q->id);
  for (size_t n = 0; n < q->batches; n++) {
    batch_t *b = take_turn(q, true);
    for (int i = 0; i < BATCH; i++) {
      size_t size = 16 + suite_below(&rng, 497);
      char *p = suite_xmalloc(size);
      p[0] = (char)size;
      p[size - 1] = (char)i;
      b->block[i] = p;
    }
    end_turn(q, &q->head);
  }
  return NULL;
}

static void *consume(void *arg) {
  pair_t *q = arg;
  uint64_t check = 0;
  for (size_t n = 0; n < q->batches; n++) {
    batch_t *b = take_turn(q, false);
    for (int i = 0; i < BATCH; i++) {
      check += (unsigned char)b->block[i][0];
      free(b->block[i]);
    }
    end_turn(q, &q->tail);
  }
  q->check = check;
  return NULL;
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[argc - 1], "--spin")) spin = 1, argc--;
  suite_args_t a = suite_parse(argc, argv, "prodcons");
  int pairs = a.threads;
  size_t total = suite_scaled(&a, 16000, (size_t)pairs);
  pair_t *q = calloc((size_t)pairs, sizeof *q);
  pthread_t *th = suite_xmalloc(2 * (size_t)pairs * sizeof *th);
  if (!q) return 1;
  uint64_t t0 = suite_now_ns();
  for (int i = 0; i < pairs; i++) {
    q[i].id = i;
    pthread_mutex_init(&q[i].lock, NULL);
    pthread_cond_init(&q[i].changed, NULL);
    q[i].batches = total / (size_t)pairs;
    suite_thread(&th[2 * i], consume, &q[i]);
    suite_thread(&th[2 * i + 1], produce, &q[i]);
  }
  uint64_t check = 0, ops = 0;
  for (int i = 0; i < 2 * pairs; i++)
    pthread_join(th[i], NULL);
  for (int i = 0; i < pairs; i++) {
    check += q[i].check;
    ops += q[i].batches * BATCH;
  }
  suite_report(&a, t0, ops, check);
  free(q);
  free(th);
  return 0;
}
