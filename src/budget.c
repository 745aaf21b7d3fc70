// SPDX-License-Identifier: MIT
/* The budget: how many bytes may be warm at once. The smallest of the
 * FAULTLESS_BUDGET option, the Lambda function memory, the cgroup (v2 or v1)
 * memory limit of the process and the memory available, less a headroom for
 * the rest of the process. Every file is read under a root directory so that
 * tests can point it at fixture trees. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

const char *_fl_fs_root;

static void consider(fl_budget_t *b, uint64_t limit, fl_budget_source_t source) {
  if (limit && limit < b->limit) {
    b->limit = limit;
    b->source = source;
  }
}

uint64_t _fl_budget_mem_available(const char *root) {
  char buf[4096];
  if (_fl_prim_read_file(root, "/proc/meminfo", buf, sizeof buf) <= 0) return 0;
  const char *p = strstr(buf, "MemAvailable:");
  if (!p) return 0;
  return strtoull(p + 13, NULL, 10) * 1024;
}

/* The cgroup path of the process for a hierarchy: "0::/x" for v2 (want NULL),
 * "N:a,memory,b:/x" for v1 (want "memory"). Copies the path into out. */
static bool cgroup_path(const char *cg, const char *want, char *out, size_t cap) {
  for (const char *line = cg; line && *line;) {
    const char *eol = strchr(line, '\n');
    size_t len = eol ? (size_t)(eol - line) : strlen(line);
    const char *c1 = memchr(line, ':', len);
    const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
    if (c2) {
      size_t clen = (size_t)(c2 - c1 - 1);
      bool match = false;
      if (!want)
        match = clen == 0 && strncmp(line, "0:", 2) == 0;
      else {
        /* the controller list is comma-separated */
        for (const char *t = c1 + 1; t < c2;) {
          const char *comma = memchr(t, ',', (size_t)(c2 - t));
          size_t tl = comma ? (size_t)(comma - t) : (size_t)(c2 - t);
          if (tl == strlen(want) && strncmp(t, want, tl) == 0) match = true;
          t += tl + 1;
        }
      }
      size_t plen = len - (size_t)(c2 + 1 - line);
      if (match && plen < cap) {
        memcpy(out, c2 + 1, plen);
        out[plen] = 0;
        return true;
      }
    }
    line = eol ? eol + 1 : NULL;
  }
  return false;
}

/* The smallest limit in `file` from the process's cgroup up to the root of
 * the hierarchy mounted at `mount`. 0 when there is none. */
static uint64_t cgroup_limit(const char *root, const char *mount, const char *path,
                             const char *file) {
  char dir[384], full[512], buf[64];
  uint64_t best = 0;
  snprintf(dir, sizeof dir, "%s", path);
  for (;;) {
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
      dir[--dl] = 0;
    snprintf(full, sizeof full, "%s%s%s/%s", mount, strcmp(dir, "/") ? dir : "", "", file);
    if (_fl_prim_read_file(root, full, buf, sizeof buf) > 0 && strncmp(buf, "max", 3) != 0) {
      uint64_t v = strtoull(buf, NULL, 10);
      /* cgroup v1 writes "no limit" as a huge page-rounded number */
      if (v > 0 && v < ((uint64_t)1 << 60) && (!best || v < best)) best = v;
    }
    if (strcmp(dir, "/") == 0 || dl == 0) break;
    char *slash = strrchr(dir, '/');
    if (!slash) break;
    if (slash == dir)
      dir[1] = 0;
    else
      *slash = 0;
  }
  return best;
}

void _fl_budget_detect(const char *root, uint64_t option_bytes, const char *lambda_mb,
                       long long headroom_opt, fl_budget_t *b) {
  memset(b, 0, sizeof *b);
  b->limit = UINT64_MAX;
  b->source = FL_BUDGET_AVAILABLE;
  consider(b, _fl_budget_mem_available(root), FL_BUDGET_AVAILABLE);

  char cg[2048], path[256];
  if (_fl_prim_read_file(root, "/proc/self/cgroup", cg, sizeof cg) > 0) {
    if (cgroup_path(cg, NULL, path, sizeof path))
      consider(b, cgroup_limit(root, "/sys/fs/cgroup", path, "memory.max"), FL_BUDGET_CGROUP2);
    if (cgroup_path(cg, "memory", path, sizeof path))
      consider(b, cgroup_limit(root, "/sys/fs/cgroup/memory", path, "memory.limit_in_bytes"),
               FL_BUDGET_CGROUP1);
  }
  if (lambda_mb && *lambda_mb) {
    uint64_t mb = strtoull(lambda_mb, NULL, 10);
    if (mb) {
      b->in_lambda = true;
      b->lambda_bytes = mb * FL_MiB;
      consider(b, b->lambda_bytes, FL_BUDGET_LAMBDA);
    }
  }
  /* The option is the user's word: it wins whenever it is the smallest. */
  if (option_bytes) consider(b, option_bytes, FL_BUDGET_OPTION);
  if (b->limit == UINT64_MAX) b->limit = 0;

  /* Headroom: the rest of the process (code, stacks, other mappings) needs
   * memory too; an eighth of the limit, between 32 MiB and 1 GiB. An explicit
   * BUDGET is taken as is. */
  uint64_t head = b->limit / 8;
  if (head < 32 * FL_MiB) head = 32 * FL_MiB;
  if (head > FL_GiB) head = FL_GiB;
  if (headroom_opt >= 0) head = (uint64_t)headroom_opt;
  if (b->source == FL_BUDGET_OPTION) head = 0;
  b->headroom = head;
  b->budget = b->limit > head ? b->limit - head : 0;
}
