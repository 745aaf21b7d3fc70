// SPDX-License-Identifier: MIT
/* Helpers shared by the faultless subcommands: parsing, text, statistics,
 * a small JSON writer, running a child process, and finding our own files. */
#ifndef FL_TOOLS_UTIL_H
#define FL_TOOLS_UTIL_H

#include <stdbool.h>
#include <sys/resource.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "size.h"

#define EXIT_USAGE 2
#define MiB (1024.0 * 1024.0)

/* --- Parsing --- */

bool parse_long(const char *text, long min, long max, long *out);
/* "--name value" or "--name=value": returns the value and advances *i, or NULL
 * when argv[*i] is not option `name`. *missing is set when the value is absent. */
const char *option_value(int argc, char **argv, int *i, const char *name, bool *missing);
/* One option with a value, for take_option. */
typedef enum { OPT_LONG, OPT_BYTES, OPT_STRING, OPT_FLAG } opt_kind_t;
typedef struct {
  const char *name; /* "--chunks" */
  opt_kind_t kind;
  void *value;      /* long *, size_t *, const char ** or bool * (OPT_FLAG: no value) */
  long min, max;    /* the range of an OPT_LONG, or of an OPT_BYTES (max 0: none) */
  const char *hint; /* after "bad NAME 'VALUE'" in the message, e.g. " (1..1000)" */
} opt_t;
/* argv[*i] (advanced past its value) as one of the n options: 1 when it was
 * one and its value is stored; 0 when it is none of them; -1 when its value is
 * missing or out of range ("WHO: bad NAME 'VALUE'HINT" or "WHO: option NAME
 * needs a value" on stderr). */
int take_option(int argc, char **argv, int *i, const opt_t *opts, size_t n, const char *who);
/* "WHO: " fmt on stderr, then usage(stderr): EXIT_USAGE, the answer to a bad
 * command line. */
int usage_error(const char *who, void (*usage)(FILE *), const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Every argument after argv[0] as one of the n options: 0; or -1 when it
 * was -h or --help (usage(stdout) printed); or EXIT_USAGE when one is
 * unknown or bad (said as "WHO: ...", then usage(stderr)). */
int parse_args(int argc, char **argv, const opt_t *opts, size_t n, const char *who,
               void (*usage)(FILE *));
/* "PREFIX ARG ARG..." with each argument quoted for a shell, malloc'd: the
 * command a result file records. */
char *command_text(const char *prefix, int argc, char **argv);
/* "1 MiB", "512 KiB", "3 GiB", "1000 B": exact when it divides evenly. */
const char *format_bytes(size_t bytes, char buf[32]);

/* --- Text --- */

typedef struct {
  char *data;
  size_t len, cap;
} strbuf_t;

void sb_printf(strbuf_t *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_append(strbuf_t *sb, const char *text, size_t len);
/* Quote `arg` for a POSIX shell when it needs it. */
void sb_shell_quote(strbuf_t *sb, const char *arg);
void *xmalloc(size_t bytes);
void *xrealloc(void *p, size_t bytes);
char *xstrdup(const char *s);
/* Contents of a small file, trailing whitespace removed; NULL when unreadable. */
char *read_text(const char *path);
/* First line of `cmd`'s output (via /bin/sh), or NULL. */
char *command_line_output(const char *cmd);

/* --- Time and statistics --- */

uint64_t now_ns(void);
/* Sorts values in place; p in [0,100]; nearest-rank with interpolation. */
double percentile(double *values, size_t n, double p);
double median(double *values, size_t n);

/* --- JSON --- */

typedef struct {
  FILE *out;
  int depth;
  bool has_item[64];
  char *text; /* json_open_text: the document so far */
  size_t len;
} json_t;

void json_init(json_t *j, FILE *out);
/* Write into a string instead: json_open_text (false when out of memory),
 * then json_close_text gives the text, to be freed by the caller. */
bool json_open_text(json_t *j);
char *json_close_text(json_t *j);
/* `key` is NULL for array elements. */
void json_object_begin(json_t *j, const char *key);
void json_object_end(json_t *j);
void json_array_begin(json_t *j, const char *key);
void json_array_end(json_t *j);
void json_string(json_t *j, const char *key, const char *value); /* NULL -> null */
void json_int(json_t *j, const char *key, long long value);
void json_double(json_t *j, const char *key, double value); /* NaN/inf -> null */
void json_bool(json_t *j, const char *key, bool value);
/* Already-formatted JSON text (e.g. from fl_stats_print_json). */
void json_raw(json_t *j, const char *key, const char *text);
/* Compact arrays of numbers, one line. */
void json_u64_array(json_t *j, const char *key, const uint64_t *values, size_t n);
void json_u32_array(json_t *j, const char *key, const uint32_t *values, size_t n);
void json_string_array(json_t *j, const char *key, char *const *values, size_t n);
/* Run gnuplot on DIR/charts.gp. A missing gnuplot is a note on stderr and 0;
 * a failing one a note and -1. who: the command, for the messages. */
int run_gnuplot(const char *dir, const char *who);

/* --- Processes and paths --- */

typedef struct {
  int status;          /* as from waitpid; -1 when it could not start */
  bool timed_out;      /* killed after timeout_ms */
  strbuf_t output;     /* its stdout (and stderr with CHILD_STDERR) */
  struct rusage usage; /* its resource use, from wait4 */
  double wall_ms;      /* from fork to exit */
} child_t;

/* Where a child's stdout goes: /dev/null, a pipe to us (with CHILD_STDERR its
 * stderr too), or our own. stderr is ours otherwise. */
enum { CHILD_DISCARD = 0, CHILD_STDOUT = 1, CHILD_STDERR = 2, CHILD_INHERIT = 4 };

/* The one way the tools start a process. Starts argv (envp NULL: ours; cwd
 * NULL: ours; argv[0] searched in PATH) with stdout as `output` says, or into
 * the file out_path when it is given. *pipe_fd: the read end with
 * CHILD_STDOUT (else -1). Returns the pid, or -1 when fork failed; when the
 * exec failed, *exec_errno says why (else 0) and the child exits 127, to be
 * waited for all the same. */
pid_t child_start(char *const argv[], char *const envp[], const char *cwd, int output,
                  const char *out_path, int *pipe_fd, int *exec_errno);
/* waitpid/wait4 until it answers: the status, or -1. usage may be NULL. */
int child_wait(pid_t pid, struct rusage *usage);
/* child_start, then collect its output (with CHILD_STDOUT) and wait; the
 * child is killed after timeout_ms. child->status is -1 when it could not
 * start at all. */
void run_child(char *const argv[], char *const envp[], const char *cwd, int output, long timeout_ms,
               child_t *child);

/* A child's environment: ours less the variables that start with any of the
 * `drop` prefixes ("LD_PRELOAD=", "FAULTLESS_"), plus those added with
 * childenv_add. vars is NULL-terminated, for execve. */
typedef struct {
  char **vars;
  size_t n, kept, cap; /* vars[kept..n) are ours to free */
} childenv_t;
void childenv_init(childenv_t *e, const char *const drop[]);
void childenv_add(childenv_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void childenv_free(childenv_t *e);
/* Directory of /proc/self/exe (malloc'd). */
char *self_dir(void);
/* First of dir/rel[i] that exists (and is executable when exec); NULL if none. */
char *find_relative(const char *dir, const char *const *rel, bool exec);
/* Where the library lies relative to self_dir() in Debian's layout:
 * /usr/bin/faultless and /usr/lib/<multiarch>/libfaultless.so.0 (the runtime
 * package holds only the soname; the plain .so link is in libfaultless-dev).
 * FL_MULTIARCH is the compiler's multiarch tuple (cli/build.mk), empty where
 * it has none. */
#ifndef FL_MULTIARCH
#define FL_MULTIARCH ""
#endif
#define FL_DEBIAN_LIB "../lib/" FL_MULTIARCH "/"
/* One of our libraries, by name without ".so" (libfaultless,
 * libfaultless-jemalloc, libfaultless-mimalloc), in any of three layouts
 * relative to this binary: the build tree (beside it), make install's
 * (../lib/) and Debian's (FL_DEBIAN_LIB, where the runtime package holds only
 * the soname); malloc'd, or NULL. */
char *find_own_library(const char *name);
bool is_tty(FILE *f);
/* mkdir -p: create `path` and any missing parents (mode 0777 less the umask);
 * 0, or -1 with errno set. An existing directory is success. */
int mkdir_p(const char *path);

#endif
