// SPDX-License-Identifier: MIT
/* Producer/consumer: --threads N pairs; each producer allocates blocks
 * (16..512 B), writes them and passes them in batches of 256 through a ring
 * to its consumer, which reads and frees them. Nearly every free is a
 * cross-thread free. The total number of blocks is fixed and divided among
 * the pairs.
 *
 * A thread that finds the ring full (empty) sleeps until half of it is free
 * (full), as a real queue batches its wake-ups. Waking the other side on
 * every batch (--wake-each, which this program did at first) measures the
 * scheduler instead of the allocator: with two threads on one core, the
 * side whose work is cheaper sleeps on every batch and preempts the other
 * on waking, 3-4 context switches per batch. Whichever allocator has the
 * cheaper malloc relative to its free loses; giving faultless's producer
 * more work to do made that run faster (bench/suite/README.md).
 *
 * Each pair's producer and consumer are pinned to different CPUs (pair i:
 * the allowed CPUs 2i and 2i+1, wrapping), so every free is a cross-core
 * free, the case this workload is for. Left to the scheduler (--no-pin),
 * two pairs on two cores fall into one of two placements per process, pairs
 * together (each hand-over stays in one core's cache) or apart, and the
 * placement decided the time: 40 or 150-230 ms for the same allocator.
 * --spin: threads spin (yielding) on the ring instead of sleeping, which
 * takes the wake-ups out of the time (not in the default suite: it burns
 * every core). */
#include "suite.h"

#include <sched.h>
#include <stdbool.h>

#define BATCH 256
#define RING 8

static int spin, wake_each, no_pin;
static cpu_set_t allowed;

typedef struct {
  char *block[BATCH];
} batch_t;

typedef struct {
  batch_t ring[RING];
  pthread_mutex_t lock;
  pthread_cond_t changed;
  size_t head, tail; /* head: next to fill; tail: next to drain */
  size_t batches;
  bool producer_waits, consumer_waits;
  int id;
  uint64_t check;
} pair_t;

/* How many batches a sleeping side waits for: free slots (producer) or
 * filled ones (consumer; near the end, all that are left to drain). */
static size_t wake_at(const pair_t *q, bool producer) {
  size_t want = wake_each ? 1 : RING / 2, left = q->batches - q->tail;
  return producer || want <= left ? want : left;
}

static bool can_go(const pair_t *q, bool producer, size_t want) {
  size_t filled = q->head - q->tail;
  return producer ? RING - filled >= want : filled >= want;
}

/* Wait until the producer has a batch to fill (the consumer one to drain),
 * sleeping on the ring or, with --spin, yielding; return that batch. */
static batch_t *take_turn(pair_t *q, bool producer) {
  pthread_mutex_lock(&q->lock);
  if (!can_go(q, producer, 1)) {
    bool *waits = producer ? &q->producer_waits : &q->consumer_waits;
    *waits = true;
    while (!can_go(q, producer, spin ? 1 : wake_at(q, producer)))
      if (spin) {
        pthread_mutex_unlock(&q->lock);
        sched_yield();
        pthread_mutex_lock(&q->lock);
      } else {
        pthread_cond_wait(&q->changed, &q->lock);
      }
    *waits = false;
  }
  batch_t *b = &q->ring[(producer ? q->head : q->tail) % RING];
  pthread_mutex_unlock(&q->lock);
  return b;
}

/* Hand the batch over: move head (or tail) on and wake the other side if
 * it waits and has enough to do. --wake-each signals under the lock, as
 * this program first did. */
static void end_turn(pair_t *q, bool producer) {
  pthread_mutex_lock(&q->lock);
  if (producer)
    q->head++;
  else
    q->tail++;
  bool wake = producer ? q->consumer_waits && can_go(q, false, wake_at(q, false))
                       : q->producer_waits && can_go(q, true, wake_at(q, true));
  if (wake && wake_each) pthread_cond_signal(&q->changed);
  pthread_mutex_unlock(&q->lock);
  if (wake && !wake_each) pthread_cond_signal(&q->changed);
}

/* Pin the calling thread to the k-th allowed CPU (wrapping). */
static void pin(int k) {
  int n = CPU_COUNT(&allowed);
  if (no_pin || n < 1) return;
  for (int cpu = 0, seen = 0; cpu < CPU_SETSIZE; cpu++)
    if (CPU_ISSET(cpu, &allowed) && seen++ == k % n) {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpu, &one);
      if (pthread_setaffinity_np(pthread_self(), sizeof one, &one) != 0)
        fprintf(stderr, "prodcons: cannot pin a thread to CPU %d; running unpinned\n", cpu);
      return;
    }
}

static void *produce(void *arg) {
  pair_t *q = arg;
  pin(2 * q->id);
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
    end_turn(q, true);
  }
  return NULL;
}

static void *consume(void *arg) {
  pair_t *q = arg;
  pin(2 * q->id + 1);
  uint64_t check = 0;
  for (size_t n = 0; n < q->batches; n++) {
    batch_t *b = take_turn(q, false);
    for (int i = 0; i < BATCH; i++) {
      check += (unsigned char)b->block[i][0];
      free(b->block[i]);
    }
    end_turn(q, false);
  }
  q->check = check;
  return NULL;
}

int main(int argc, char **argv) {
  for (; argc > 1; argc--)
    if (!strcmp(argv[argc - 1], "--spin"))
      spin = 1;
    else if (!strcmp(argv[argc - 1], "--wake-each"))
      wake_each = 1;
    else if (!strcmp(argv[argc - 1], "--no-pin"))
      no_pin = 1;
    else
      break;
  suite_args_t a = suite_parse(argc, argv, "prodcons");
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) CPU_ZERO(&allowed);
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
