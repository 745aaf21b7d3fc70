// SPDX-License-Identifier: MIT
/* An allocator that claims versions the adapters do not support: mallctl
 * answers "version" with 4.5.0 and mi_version() says 3.0.1. Preloaded with
 * an adapter, the program must run on with one "faultless:" line. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen) {
  static const char *version = "4.5.0-0-fake";
  if (strcmp(name, "version") || !oldp || !oldlenp || *oldlenp != sizeof version) return ENOENT;
  memcpy(oldp, &version, sizeof version);
  return 0;
}
int mi_version(void) {
  return 301;
}
bool mi_manage_os_memory_ex(void *start, size_t size, bool committed, bool large, bool zero,
                            int numa, bool exclusive, int *id) {
  return false;
}
