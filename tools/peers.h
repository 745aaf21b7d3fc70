// SPDX-License-Identifier: MIT
/* The peer allocators the tools measure faultless against, as Debian ships
 * them: the one table of their file names and packages, and the one search
 * for them. (mk/lambda.mk's LAMBDA_PEERS and bench/programs/bench.py name the
 * same files for make and Python.) */
#ifndef FL_TOOLS_PEERS_H
#define FL_TOOLS_PEERS_H

#include <stdbool.h>

typedef struct {
  const char *name;     /* "jemalloc" */
  const char *files[3]; /* file names to look for, the soname first */
  const char *package;  /* Debian's package */
  const char *adapter;  /* our adapter for it (src/adapters/), without ".so"; NULL: none */
  bool adapter_first;   /* the adapter goes before the allocator in LD_PRELOAD */
} peer_t;

/* jemalloc, mimalloc, tcmalloc; NULL-terminated by name. */
extern const peer_t peers[];

/* The peer called `name`, or NULL. */
const peer_t *peer_named(const char *name);
/* The first of p's files in FAULTLESS_BENCH_LIB_DIR (where a bundle such as
 * the Lambda zip ships its own copies; searched first, only when set), then
 * in the system's library directories; malloc'd, or NULL. */
char *peer_find(const peer_t *p);
/* LD_PRELOAD's value for p kept as malloc with faultless as its page source:
 * `lib` and `adapter` in the order the adapter needs (the jemalloc adapter
 * goes first, to see the program's mallctl("arenas.create")); malloc'd. */
char *peer_with_adapter(const peer_t *p, const char *lib, const char *adapter);

#endif
