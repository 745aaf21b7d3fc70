// SPDX-License-Identifier: MIT
/* The function behind the runtime: the seed's experiment, run by
 * `faultless bench` in fresh processes, with parameters from the event. */
#ifndef FL_LAMBDA_HANDLER_H
#define FL_LAMBDA_HANDLER_H

#include <stdbool.h>
#include <stddef.h>

#define PEERS_MAX 8

typedef struct {
  char *root;      /* where the zip was unpacked (the bootstrap's directory) */
  char *faultless; /* root/faultless */
  char *worker;    /* root/bench/seed */
  char *peer_dir;  /* the peers that passed their check, as links; NULL: none */
  const char *peers_ok[PEERS_MAX], *peers_failed[PEERS_MAX];
  int npeers_ok, npeers_failed;
  size_t init_prefault; /* what the runtime asked to warm during init */
  double init_ms;       /* how long init took */
  long invocations;     /* served by this process so far */
} handler_t;

typedef struct {
  const char *request_id;
  const char *trace_id;  /* NULL when the invocation carried none */
  long long deadline_ms; /* Unix ms; 0 when unknown */
} invocation_t;

/* Find the tools, check which peer allocators load here. pre: h zeroed.
 * Returns 0, or -1 with a message in err (the runtime then reports an init
 * error). */
int handler_init(handler_t *h, char *err, size_t errlen);

/* After a snapshot restore: check that the tools still run from where init
 * found them. Returns 0, or -1 with a message in err. */
int handler_restored(handler_t *h, char *err, size_t errlen);

/* Run one event. On success returns 0 and a malloc'd JSON response in *out;
 * otherwise -1 with *error_type (static) and a malloc'd *error_message. */
int handler_invoke(handler_t *h, const invocation_t *inv, const char *event, size_t len, char **out,
                   size_t *out_len, const char **error_type, char **error_message);

#endif
