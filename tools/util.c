// SPDX-License-Identifier: MIT
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* --- Parsing --- */

bool parse_long(const char *text, long min, long max, long *out) {
  char *end;
  if (!text) return false;
  errno = 0;
  long value = strtol(text, &end, 10);
  if (errno || end == text || *end || value < min || value > max) return false;
  *out = value;
  return true;
}

const char *option_value(int argc, char **argv, int *i, const char *name, bool *missing) {
  const char *arg = argv[*i];
  size_t len = strlen(name);
  *missing = false;
  if (strncmp(arg, name, len) != 0) return NULL;
  if (arg[len] == '=') return arg + len + 1;
  if (arg[len] != 0) return NULL;
  if (*i + 1 >= argc) {
    *missing = true;
    return NULL;
  }
  return argv[++*i];
}

int take_option(int argc, char **argv, int *i, const opt_t *opts, size_t n, const char *who) {
  for (size_t k = 0; k < n; k++) {
    bool missing;
    const opt_t *o = &opts[k];
    if (o->kind == OPT_FLAG) {
      if (strcmp(argv[*i], o->name)) continue;
      *(bool *)o->value = true;
      return 1;
    }
    const char *v = option_value(argc, argv, i, o->name, &missing);
    if (missing) {
      fprintf(stderr, "%s: option %s needs a value\n", who, o->name);
      return -1;
    }
    if (!v) continue;
    size_t bytes = 0;
    bool ok = o->kind == OPT_STRING ? *v != 0
              : o->kind == OPT_LONG ? parse_long(v, o->min, o->max, (long *)o->value)
                                    : parse_bytes(v, &bytes) && bytes >= (size_t)o->min &&
                                          (!o->max || bytes <= (size_t)o->max);
    if (ok && o->kind == OPT_STRING) *(const char **)o->value = v;
    if (ok && o->kind == OPT_BYTES) *(size_t *)o->value = bytes;
    if (!ok) fprintf(stderr, "%s: bad %s '%s'%s\n", who, o->name, v, o->hint ? o->hint : "");
    return ok ? 1 : -1;
  }
  return 0;
}

int usage_error(const char *who, void (*usage)(FILE *), const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s: ", who);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  usage(stderr);
  return EXIT_USAGE;
}

int parse_args(int argc, char **argv, const opt_t *opts, size_t n, const char *who,
               void (*usage)(FILE *)) {
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return usage(stdout), -1;
    int took = take_option(argc, argv, &i, opts, n, who);
    if (!took) return usage_error(who, usage, "unknown argument '%s'", argv[i]);
    if (took < 0) return usage(stderr), EXIT_USAGE;
  }
  return 0;
}

char *command_text(const char *prefix, int argc, char **argv) {
  strbuf_t sb = {0};
  sb_printf(&sb, "%s", prefix);
  for (int i = 0; i < argc; i++) {
    sb_append(&sb, " ", 1);
    sb_shell_quote(&sb, argv[i]);
  }
  return sb.data;
}

const char *format_bytes(size_t bytes, char buf[32]) {
  static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (u < 4 && bytes >= 1024 && bytes % 1024 == 0) {
    bytes /= 1024;
    u++;
  }
  snprintf(buf, 32, "%zu %s", bytes, units[u]);
  return buf;
}

/* --- Text --- */

void *xmalloc(size_t bytes) {
  void *p = malloc(bytes ? bytes : 1);
  if (!p) {
    fprintf(stderr, "faultless: out of memory\n");
    exit(1);
  }
  return p;
}

void *xrealloc(void *p, size_t bytes) {
  p = realloc(p, bytes ? bytes : 1);
  if (!p) {
    fprintf(stderr, "faultless: out of memory\n");
    exit(1);
  }
  return p;
}

char *xstrdup(const char *s) {
  size_t len = strlen(s) + 1;
  return memcpy(xmalloc(len), s, len);
}

void sb_append(strbuf_t *sb, const char *text, size_t len) {
  if (sb->len + len + 1 > sb->cap) {
    sb->cap = (sb->len + len + 1) * 2;
    sb->data = xrealloc(sb->data, sb->cap);
  }
  memcpy(sb->data + sb->len, text, len);
  sb->len += len;
  sb->data[sb->len] = 0;
}

void sb_printf(strbuf_t *sb, const char *fmt, ...) {
  char small[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof small) {
    sb_append(sb, small, (size_t)n);
    return;
  }
  char *big = xmalloc((size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  sb_append(sb, big, (size_t)n);
  free(big);
}

void sb_shell_quote(strbuf_t *sb, const char *arg) {
  bool plain = *arg != 0;
  for (const char *c = arg; *c; c++)
    if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./:,+@%", *c))
      plain = false;
  if (plain) {
    sb_append(sb, arg, strlen(arg));
    return;
  }
  sb_append(sb, "'", 1);
  for (const char *c = arg; *c; c++)
    if (*c == '\'')
      sb_append(sb, "'\\''", 4);
    else
      sb_append(sb, c, 1);
  sb_append(sb, "'", 1);
}

char *read_text(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  strbuf_t sb = {0};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0 && sb.len < (1 << 20))
    sb_append(&sb, buf, n);
  fclose(f);
  if (!sb.data) return xstrdup("");
  while (sb.len && strchr(" \t\r\n", sb.data[sb.len - 1]))
    sb.data[--sb.len] = 0;
  return sb.data;
}

char *command_line_output(const char *cmd) {
  FILE *p = popen(cmd, "r");
  if (!p) return NULL;
  char line[512];
  char *result = NULL;
  if (fgets(line, sizeof line, p)) {
    line[strcspn(line, "\r\n")] = 0;
    result = xstrdup(line);
  }
  pclose(p);
  return result;
}

/* --- Time and statistics --- */

uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double percentile(double *values, size_t n, double p) {
  if (n == 0) return NAN;
  qsort(values, n, sizeof *values, compare_double);
  double rank = p / 100.0 * (double)(n - 1);
  size_t lo = (size_t)rank;
  if (lo + 1 >= n) return values[n - 1];
  return values[lo] + (rank - (double)lo) * (values[lo + 1] - values[lo]);
}

double median(double *values, size_t n) {
  return percentile(values, n, 50);
}

/* --- JSON --- */

void json_init(json_t *j, FILE *out) {
  memset(j, 0, sizeof *j);
  j->out = out;
}

bool json_open_text(json_t *j) {
  json_init(j, NULL);
  j->out = open_memstream(&j->text, &j->len);
  return j->out != NULL;
}

char *json_close_text(json_t *j) {
  fclose(j->out);
  return j->text;
}

static void json_escaped(FILE *out, const char *s) {
  fputc('"', out);
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    if (*c == '"' || *c == '\\')
      fprintf(out, "\\%c", *c);
    else if (*c == '\n')
      fputs("\\n", out);
    else if (*c == '\t')
      fputs("\\t", out);
    else if (*c < 0x20)
      fprintf(out, "\\u%04x", *c);
    else
      fputc(*c, out);
  }
  fputc('"', out);
}

static void json_key(json_t *j, const char *key) {
  if (j->depth > 0) {
    if (j->has_item[j->depth]) fputc(',', j->out);
    fputc('\n', j->out);
    for (int d = 0; d < j->depth; d++)
      fputs("  ", j->out);
  }
  j->has_item[j->depth] = true;
  if (key) {
    json_escaped(j->out, key);
    fputs(": ", j->out);
  }
}

static void json_open(json_t *j, const char *key, char c) {
  json_key(j, key);
  fputc(c, j->out);
  j->depth++;
  j->has_item[j->depth] = false;
}

static void json_close(json_t *j, char c) {
  bool any = j->has_item[j->depth];
  j->depth--;
  if (any) {
    fputc('\n', j->out);
    for (int d = 0; d < j->depth; d++)
      fputs("  ", j->out);
  }
  fputc(c, j->out);
  if (j->depth == 0) fputc('\n', j->out);
}

void json_object_begin(json_t *j, const char *key) {
  json_open(j, key, '{');
}
void json_object_end(json_t *j) {
  json_close(j, '}');
}
void json_array_begin(json_t *j, const char *key) {
  json_open(j, key, '[');
}
void json_array_end(json_t *j) {
  json_close(j, ']');
}

void json_string(json_t *j, const char *key, const char *value) {
  json_key(j, key);
  if (value)
    json_escaped(j->out, value);
  else
    fputs("null", j->out);
}

void json_int(json_t *j, const char *key, long long value) {
  json_key(j, key);
  fprintf(j->out, "%lld", value);
}

void json_double(json_t *j, const char *key, double value) {
  json_key(j, key);
  if (isfinite(value))
    fprintf(j->out, "%.6g", value);
  else
    fputs("null", j->out);
}

void json_bool(json_t *j, const char *key, bool value) {
  json_key(j, key);
  fputs(value ? "true" : "false", j->out);
}

void json_raw(json_t *j, const char *key, const char *text) {
  json_key(j, key);
  fputs(text && *text ? text : "null", j->out);
}

void json_u64_array(json_t *j, const char *key, const uint64_t *values, size_t n) {
  json_key(j, key);
  fputc('[', j->out);
  for (size_t i = 0; i < n; i++)
    fprintf(j->out, i ? ",%llu" : "%llu", (unsigned long long)values[i]);
  fputc(']', j->out);
}

void json_u32_array(json_t *j, const char *key, const uint32_t *values, size_t n) {
  json_key(j, key);
  fputc('[', j->out);
  for (size_t i = 0; i < n; i++)
    fprintf(j->out, i ? ",%u" : "%u", values[i]);
  fputc(']', j->out);
}

void json_string_array(json_t *j, const char *key, char *const *values, size_t n) {
  json_array_begin(j, key);
  for (size_t i = 0; i < n; i++)
    json_string(j, NULL, values[i]);
  json_array_end(j);
}

/* --- Processes and paths --- */

void childenv_init(childenv_t *e, const char *const drop[]) {
  memset(e, 0, sizeof *e);
  for (char **v = environ; *v; v++) {
    bool keep = true;
    for (size_t d = 0; drop && drop[d] && keep; d++)
      keep = strncmp(*v, drop[d], strlen(drop[d])) != 0;
    if (!keep) continue;
    if (e->n + 2 > e->cap)
      e->vars = xrealloc(e->vars, (e->cap = e->cap * 2 + 16) * sizeof *e->vars);
    e->vars[e->n++] = *v;
  }
  e->kept = e->n;
  if (!e->vars) e->vars = xmalloc(16 * sizeof *e->vars), e->cap = 16;
  e->vars[e->n] = NULL;
}

void childenv_add(childenv_t *e, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *var = NULL;
  if (vasprintf(&var, fmt, ap) < 0) var = NULL;
  va_end(ap);
  if (!var) return;
  if (e->n + 2 > e->cap) e->vars = xrealloc(e->vars, (e->cap = e->cap * 2 + 16) * sizeof *e->vars);
  e->vars[e->n++] = var;
  e->vars[e->n] = NULL;
}

void childenv_free(childenv_t *e) {
  for (size_t i = e->kept; i < e->n; i++)
    free(e->vars[i]);
  free(e->vars);
  memset(e, 0, sizeof *e);
}

int run_gnuplot(const char *dir, const char *who) {
  char *argv[] = {"gnuplot", "charts.gp", NULL};
  child_t child;
  run_child(argv, NULL, dir, CHILD_DISCARD, 60000, &child);
  free(child.output.data);
  if (child.status >= 0 && WIFEXITED(child.status) && WEXITSTATUS(child.status) == 127) {
    fprintf(stderr,
            "%s: gnuplot not found (Debian package gnuplot-nox): charts skipped; %s/charts.gp "
            "is ready for it\n",
            who, dir);
    return 0;
  }
  if (child.status < 0 || !WIFEXITED(child.status) || WEXITSTATUS(child.status) != 0) {
    fprintf(stderr, "%s: gnuplot failed on %s/charts.gp\n", who, dir);
    return -1;
  }
  return 0;
}

/* In the child: stdout (and stderr) as asked, then exec; an exec that fails
 * sends its errno through `report` (closed on a successful exec). */
static void child_exec(char *const argv[], char *const envp[], const char *cwd, int output,
                       const char *out_path, int out_fd, int report) {
  int fd = out_path                 ? open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0666)
           : output & CHILD_STDOUT  ? out_fd
           : output & CHILD_INHERIT ? STDOUT_FILENO
                                    : open("/dev/null", O_WRONLY);
  if ((output & CHILD_STDERR) && fd >= 0) dup2(fd, STDERR_FILENO);
  if (fd >= 0) dup2(fd, STDOUT_FILENO);
  int err = fd < 0 ? errno : cwd && chdir(cwd) != 0 ? errno : 0;
  if (!err) {
    if (envp)
      execve(argv[0], argv, envp);
    else
      execvp(argv[0], argv);
    err = errno;
  }
  if (write(report, &err, sizeof err) < 0) _exit(127);
  _exit(127);
}

pid_t child_start(char *const argv[], char *const envp[], const char *cwd, int output,
                  const char *out_path, int *pipe_fd, int *exec_errno) {
  int out[2] = {-1, -1}, report[2];
  *exec_errno = 0;
  if (pipe_fd) *pipe_fd = -1;
  if (pipe2(report, O_CLOEXEC) != 0) return -1;
  if ((output & CHILD_STDOUT) && !out_path && pipe2(out, O_CLOEXEC) != 0) {
    close(report[0]);
    close(report[1]);
    return -1;
  }
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) child_exec(argv, envp, cwd, output, out_path, out[1], report[1]);
  close(report[1]);
  if (out[1] >= 0) close(out[1]);
  if (pid > 0) {
    ssize_t got;
    while ((got = read(report[0], exec_errno, sizeof *exec_errno)) < 0 && errno == EINTR)
      ;
    if (got != (ssize_t)sizeof *exec_errno) *exec_errno = 0;
  }
  close(report[0]);
  if (pid < 0 && out[0] >= 0) close(out[0]);
  if (pid > 0 && pipe_fd) *pipe_fd = out[0];
  return pid;
}

int child_wait(pid_t pid, struct rusage *usage) {
  int status;
  struct rusage ignored;
  while (wait4(pid, &status, 0, usage ? usage : &ignored) < 0)
    if (errno != EINTR) return -1;
  return status;
}

void run_child(char *const argv[], char *const envp[], const char *cwd, int output, long timeout_ms,
               child_t *child) {
  memset(child, 0, sizeof *child);
  child->status = -1;
  uint64_t t0 = now_ns(), deadline = t0 + (uint64_t)timeout_ms * 1000000ULL;
  int fd, exec_errno;
  pid_t pid = child_start(argv, envp, cwd, output, NULL, &fd, &exec_errno);
  if (pid < 0) return;
  /* Without a pipe (CHILD_DISCARD, CHILD_INHERIT) the deadline does not apply. */
  char buf[65536];
  while (fd >= 0) {
    uint64_t now = now_ns();
    if (now >= deadline) {
      kill(pid, SIGKILL);
      child->timed_out = true;
      break;
    }
    struct pollfd pfd = {fd, POLLIN, 0};
    int r = poll(&pfd, 1, (int)((deadline - now) / 1000000ULL) + 1);
    if (r <= 0) continue;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    sb_append(&child->output, buf, (size_t)n);
  }
  if (fd >= 0) close(fd);
  child->status = child_wait(pid, &child->usage);
  child->wall_ms = (double)(now_ns() - t0) / 1e6;
}

char *self_dir(void) {
  char path[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return xstrdup(".");
  path[n] = 0;
  char *slash = strrchr(path, '/');
  if (slash) *slash = 0;
  return xstrdup(path);
}

char *find_relative(const char *dir, const char *const *rel, bool exec) {
  for (int i = 0; rel[i]; i++) {
    strbuf_t sb = {0};
    sb_printf(&sb, "%s/%s", dir, rel[i]);
    char real[PATH_MAX];
    if (access(sb.data, exec ? X_OK : R_OK) == 0 && realpath(sb.data, real)) {
      free(sb.data);
      return xstrdup(real);
    }
    free(sb.data);
  }
  return NULL;
}

char *find_own_library(const char *name) {
  strbuf_t sb[4] = {{0}};
  sb_printf(&sb[0], "%s.so", name);
  sb_printf(&sb[1], "../lib/%s.so", name);
  sb_printf(&sb[2], FL_DEBIAN_LIB "%s.so.0", name);
  sb_printf(&sb[3], FL_DEBIAN_LIB "%s.so", name);
  const char *rel[] = {sb[0].data, sb[1].data, sb[2].data, sb[3].data, NULL};
  char *dir = self_dir();
  char *lib = find_relative(dir, rel, false);
  free(dir);
  for (int i = 0; i < 4; i++)
    free(sb[i].data);
  return lib;
}

bool is_tty(FILE *f) {
  return isatty(fileno(f));
}

int mkdir_p(const char *path) {
  if (!*path) {
    errno = ENOENT;
    return -1;
  }
  char *copy = xstrdup(path);
  int rc = 0;
  /* Each parent in turn, then the path itself; "a//b" and a trailing '/' are fine. */
  for (char *c = copy + 1; rc == 0; c++) {
    bool end = *c == 0;
    if (*c != '/' && !end) continue;
    *c = 0;
    struct stat st;
    if (mkdir(copy, 0777) != 0 && !(errno == EEXIST && stat(copy, &st) == 0 && S_ISDIR(st.st_mode)))
      rc = -1;
    if (end) break;
    *c = '/';
  }
  free(copy);
  return rc;
}
