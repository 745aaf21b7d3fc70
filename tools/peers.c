// SPDX-License-Identifier: MIT
#define _GNU_SOURCE
#include "peers.h"

#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const peer_t peers[] = {
    {"jemalloc", {"libjemalloc.so.2"}, "libjemalloc2", "libfaultless-jemalloc", true},
    {"mimalloc",
     {"libmimalloc.so.2", "libmimalloc.so"},
     "libmimalloc2.0",
     "libfaultless-mimalloc",
     false},
    {"tcmalloc",
     {"libtcmalloc.so.4", "libtcmalloc_minimal.so.4"},
     "libgoogle-perftools4",
     NULL,
     false},
    {NULL, {NULL}, NULL, NULL, false},
};

static const char *const lib_dirs[] = {"/usr/lib/x86_64-linux-gnu",
                                       "/usr/lib/aarch64-linux-gnu",
                                       "/lib/x86_64-linux-gnu",
                                       "/usr/lib64",
                                       "/usr/lib",
                                       "/usr/local/lib",
                                       NULL};

const peer_t *peer_named(const char *name) {
  for (const peer_t *p = peers; name && p->name; p++)
    if (!strcmp(p->name, name)) return p;
  return NULL;
}

static char *readable(const char *dir, const char *file) {
  strbuf_t sb = {0};
  sb_printf(&sb, "%s/%s", dir, file);
  if (access(sb.data, R_OK) == 0) return sb.data;
  free(sb.data);
  return NULL;
}

char *peer_find(const peer_t *p) {
  const char *extra = getenv("FAULTLESS_BENCH_LIB_DIR");
  char *found = NULL;
  for (int f = 0; extra && *extra && !found && p->files[f]; f++)
    found = readable(extra, p->files[f]);
  for (int f = 0; !found && p->files[f]; f++)
    for (int d = 0; !found && lib_dirs[d]; d++)
      found = readable(lib_dirs[d], p->files[f]);
  return found;
}

char *peer_with_adapter(const peer_t *p, const char *lib, const char *adapter) {
  strbuf_t sb = {0};
  sb_printf(&sb, "%s %s", p->adapter_first ? adapter : lib, p->adapter_first ? lib : adapter);
  return sb.data;
}
