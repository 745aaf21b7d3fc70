// SPDX-License-Identifier: MIT
/* The machine a measurement ran on: kernel, CPU, memory, THP, virtualization,
 * balloon / free page reporting, cgroup limits. Collected once, printed as
 * text or JSON by bench and probe alike. */
#ifndef FL_TOOLS_MACHINE_H
#define FL_TOOLS_MACHINE_H

#include "util.h"

typedef struct {
  const char *key;
  char *value; /* NULL: not available here */
  bool number; /* print without quotes in JSON */
} env_item_t;

typedef struct {
  env_item_t items[64];
  int count;
  /* Parsed values other code decides on (0 / -1 when unknown). */
  long cpus; /* CPUs this process may run on */
  unsigned long long mem_available;
  /* The library's budget limit (src/budget.c), before headroom: the smallest
   * of MemAvailable, the cgroup memory limits and the Lambda memory. */
  unsigned long long memory_limit;
  const char *memory_limit_source;  /* "MemAvailable", "cgroup v2 memory.max"... */
  unsigned long long lambda_memory; /* AWS_LAMBDA_FUNCTION_MEMORY_SIZE in bytes, or 0 */
  bool thp_available;               /* THP not "never" */
  bool free_page_reporting;         /* the guest gives freed pages back to its host */
} env_t;

void env_collect(env_t *env);
const char *env_get(const env_t *env, const char *key);
void env_print_text(const env_t *env, FILE *out);
void env_print_json(const env_t *env, json_t *j, const char *key);

#endif
