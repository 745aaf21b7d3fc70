// SPDX-License-Identifier: MIT
#define _GNU_SOURCE
#include "machine.h"

#include "config.h"
#include "prim/prim.h"

#include <dirent.h>
#include <gnu/libc-version.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void add(env_t *env, const char *key, char *value, bool number) {
  if (env->count < (int)(sizeof env->items / sizeof env->items[0]))
    env->items[env->count++] = (env_item_t){key, value, number};
  else
    free(value);
}

static char *fmt(const char *format, unsigned long long value) {
  strbuf_t sb = {0};
  sb_printf(&sb, format, value);
  return sb.data;
}

/* "[madvise]" out of "always [madvise] never". */
static char *bracketed(char *text) {
  if (!text) return NULL;
  char *open = strchr(text, '['), *close = open ? strchr(open, ']') : NULL;
  if (!close) return text;
  *close = 0;
  char *word = xstrdup(open + 1);
  free(text);
  return word;
}

static char *cpu_model(void) {
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return NULL;
  char line[512];
  char *model = NULL;
  while (fgets(line, sizeof line, f)) {
    char *colon = strchr(line, ':');
    if (!model && colon && !strncmp(line, "model name", 10)) {
      line[strcspn(line, "\n")] = 0;
      model = xstrdup(colon + 2);
    }
  }
  fclose(f);
  return model;
}

static bool cpu_has_flag(const char *flag) {
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return false;
  char line[4096];
  bool found = false;
  while (!found && fgets(line, sizeof line, f))
    if (!strncmp(line, "flags", 5))
      for (char *tok = strtok(strchr(line, ':') ? strchr(line, ':') + 1 : line, " \n"); tok;
           tok = strtok(NULL, " \n"))
        if (!strcmp(tok, flag)) found = true;
  fclose(f);
  return found;
}

static unsigned long long meminfo(const char *key) {
  FILE *f = fopen("/proc/meminfo", "r");
  if (!f) return 0;
  char line[256];
  unsigned long long kib = 0;
  size_t len = strlen(key);
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, key, len) && line[len] == ':') kib = strtoull(line + len + 1, NULL, 10);
  fclose(f);
  return kib * 1024;
}

/* The virtio balloon: its feature bits, and whether it reports free pages. */
static void balloon(env_t *env) {
  static const char *names[] = {"must_tell_host", "stats",       "deflate_on_oom",
                                "free_page_hint", "page_poison", "free_page_reporting"};
  DIR *dir = opendir("/sys/bus/virtio/devices");
  bool found = false;
  if (dir) {
    struct dirent *d;
    while (!found && (d = readdir(dir))) {
      if (d->d_name[0] == '.') continue;
      strbuf_t path = {0};
      sb_printf(&path, "/sys/bus/virtio/devices/%s/device", d->d_name);
      char *id = read_text(path.data);
      if (id && !strcmp(id, "0x0005")) {
        found = true;
        path.len = 0;
        sb_printf(&path, "/sys/bus/virtio/devices/%s/features", d->d_name);
        char *bits = read_text(path.data);
        strbuf_t names_on = {0};
        for (int b = 0; bits && b < 6 && bits[b]; b++)
          if (bits[b] == '1') sb_printf(&names_on, "%s%s", names_on.len ? " " : "", names[b]);
        env->free_page_reporting = bits && strlen(bits) > 5 && bits[5] == '1';
        add(env, "virtio_balloon_features", names_on.data ? names_on.data : xstrdup(""), false);
        free(bits);
      }
      free(id);
      free(path.data);
    }
    closedir(dir);
  }
  if (!found) add(env, "virtio_balloon_features", NULL, false);
  add(env, "free_page_reporting", xstrdup(env->free_page_reporting ? "yes" : "no"), false);

  /* The page_reporting module's parameters (upstream: page_reporting_order). */
  dir = opendir("/sys/module/page_reporting/parameters");
  strbuf_t params = {0};
  if (dir) {
    struct dirent *d;
    while ((d = readdir(dir))) {
      if (d->d_name[0] == '.') continue;
      strbuf_t path = {0};
      sb_printf(&path, "/sys/module/page_reporting/parameters/%s", d->d_name);
      char *value = read_text(path.data);
      sb_printf(&params, "%s%s=%s", params.len ? " " : "", d->d_name, value ? value : "?");
      free(value);
      free(path.data);
    }
    closedir(dir);
  }
  add(env, "page_reporting_parameters", params.data, false);
}

/* The cgroup version and CPU quota (v2 cpu.max of the process's cgroup, or
 * v1's cfs quota), for the record; nothing decides on them. */
static void cgroup(env_t *env) {
  char cg[2048], *cpu = NULL;
  if (_fl_prim_read_file(NULL, "/proc/self/cgroup", cg, sizeof cg) <= 0) cg[0] = 0;
  char *v2 = strstr(cg, "0::/"), *v1 = strstr(cg, ":memory:");
  if (v2 && (v2 == cg || v2[-1] == '\n') && !v1) {
    v2[strcspn(v2, "\n")] = 0;
    strbuf_t path = {0};
    sb_printf(&path, "/sys/fs/cgroup%s/cpu.max", v2 + 3);
    cpu = read_text(path.data);
    free(path.data);
  } else if (v1) {
    char *quota = read_text("/sys/fs/cgroup/cpu/cpu.cfs_quota_us");
    char *period = read_text("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
    if (quota && period) {
      strbuf_t sb = {0};
      sb_printf(&sb, "%s %s", atoll(quota) < 0 ? "max" : quota, period);
      cpu = sb.data;
    }
    free(quota);
    free(period);
  }
  add(env, "cgroup_version", xstrdup(v1 ? "v1" : v2 ? "v2" : "none"), false);
  add(env, "cgroup_cpu_max", cpu, false);
}

/* The limit the library's budget starts from, read by the library's own code
 * (src/budget.c), so that what a measurement records is what faultless used:
 * the smallest of MemAvailable, the cgroup memory limits from the process's
 * cgroup up to the root (v2 and v1) and the Lambda function memory. */
static void memory_limit(env_t *env) {
  static const char *const sources[] = {
      [FL_BUDGET_AVAILABLE] = "MemAvailable",
      [FL_BUDGET_LAMBDA] = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
      [FL_BUDGET_CGROUP2] = "cgroup v2 memory.max",
      [FL_BUDGET_CGROUP1] = "cgroup v1 memory.limit_in_bytes",
  };
  fl_budget_t b;
  _fl_budget_detect(NULL, 0, getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), FL_AUTO, &b);
  env->memory_limit = b.limit;
  env->memory_limit_source = b.source < 5 && sources[b.source] ? sources[b.source] : "?";
  env->lambda_memory = b.lambda_bytes;
  add(env, "memory_limit", fmt("%llu", env->memory_limit), true);
  add(env, "memory_limit_source", xstrdup(env->memory_limit_source), false);
}

void env_collect(env_t *env) {
  memset(env, 0, sizeof *env);
  time_t t = time(NULL);
  char date[64];
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
  add(env, "date", xstrdup(date), false);

  struct utsname u;
  if (uname(&u) == 0) {
    strbuf_t sb = {0};
    sb_printf(&sb, "%s %s %s", u.sysname, u.release, u.machine);
    add(env, "kernel", sb.data, false);
    add(env, "kernel_build", xstrdup(u.version), false);
  }
  add(env, "glibc", xstrdup(gnu_get_libc_version()), false);
  add(env, "cpu_model", cpu_model(), false);
  env->cpus = _fl_prim_cpu_count();
  add(env, "cpus_online", fmt("%llu", (unsigned long long)sysconf(_SC_NPROCESSORS_ONLN)), true);
  add(env, "cpus_allowed", fmt("%llu", (unsigned long long)env->cpus), true);
  add(env, "mem_total", fmt("%llu", meminfo("MemTotal")), true);
  env->mem_available = _fl_budget_mem_available(NULL);
  add(env, "mem_available", fmt("%llu", env->mem_available), true);
  add(env, "page_size", fmt("%llu", (unsigned long long)sysconf(_SC_PAGESIZE)), true);

  char *thp = bracketed(read_text("/sys/kernel/mm/transparent_hugepage/enabled"));
  env->thp_available = thp && strcmp(thp, "never") != 0;
  add(env, "thp_enabled", thp, false);
  add(env, "thp_defrag", bracketed(read_text("/sys/kernel/mm/transparent_hugepage/defrag")), false);
  add(env, "thp_pmd_size", read_text("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size"), true);
  add(env, "madv_populate_write", xstrdup(_fl_prim_has_populate() ? "yes" : "no"), false);

  char *virt = NULL;
  if (access("/usr/bin/systemd-detect-virt", X_OK) == 0 ||
      access("/bin/systemd-detect-virt", X_OK) == 0)
    virt = command_line_output("systemd-detect-virt 2>/dev/null");
  add(env, "systemd_detect_virt", virt, false);
  add(env, "dmi_sys_vendor", read_text("/sys/class/dmi/id/sys_vendor"), false);
  add(env, "dmi_product_name", read_text("/sys/class/dmi/id/product_name"), false);
  add(env, "cpu_hypervisor_flag", xstrdup(cpu_has_flag("hypervisor") ? "yes" : "no"), false);
  balloon(env);
  cgroup(env);
  memory_limit(env);
  const char *lambda = getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE");
  add(env, "lambda_memory_mb", lambda ? xstrdup(lambda) : NULL, true);

  strbuf_t options = {0};
  for (char **e = environ; *e; e++)
    if (!strncmp(*e, "FAULTLESS_", 10)) sb_printf(&options, "%s%s", options.len ? " " : "", *e);
  add(env, "faultless_environment", options.data ? options.data : xstrdup(""), false);
}

const char *env_get(const env_t *env, const char *key) {
  for (int i = 0; i < env->count; i++)
    if (!strcmp(env->items[i].key, key)) return env->items[i].value;
  return NULL;
}

void env_print_text(const env_t *env, FILE *out) {
  for (int i = 0; i < env->count; i++)
    fprintf(out, "  %-26s %s\n", env->items[i].key,
            env->items[i].value ? env->items[i].value : "(not available)");
}

void env_print_json(const env_t *env, json_t *j, const char *key) {
  json_object_begin(j, key);
  for (int i = 0; i < env->count; i++) {
    const env_item_t *it = &env->items[i];
    if (it->value && it->number && *it->value &&
        strspn(it->value, "0123456789") == strlen(it->value))
      json_raw(j, it->key, it->value);
    else
      json_string(j, it->key, it->value);
  }
  json_object_end(j);
}
