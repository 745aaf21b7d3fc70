// SPDX-License-Identifier: MIT
#define _GNU_SOURCE
#include "progress.h"

#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

static struct {
  bool on;    /* stderr is a terminal */
  bool shown; /* a line is on the screen now */
  const char *who;
  int total;
  uint64_t start_ns;
} p;

/* "42s", "3m05s", "1h02m" */
static void format_duration(double s, char buf[48]) {
  long t = s < 0 ? 0 : (long)(s + 0.5);
  if (t < 60)
    snprintf(buf, 48, "%lds", t);
  else if (t < 3600)
    snprintf(buf, 48, "%ldm%02lds", t / 60, t % 60);
  else
    snprintf(buf, 48, "%ldh%02ldm", t / 3600, t / 60 % 60);
}

void progress_start(const char *who, int total) {
  p.on = isatty(STDERR_FILENO);
  p.shown = false;
  p.who = who;
  p.total = total;
  p.start_ns = now_ns();
}

bool progress_active(void) {
  return p.on;
}

void progress_update(int done, const char *fmt, ...) {
  if (!p.on) return;
  char what[160], line[320], elapsed[48], left[48];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  double s = (double)(now_ns() - p.start_ns) / 1e9;
  format_duration(s, elapsed);
  if (done > 0 && done < p.total) {
    format_duration(s / done * (p.total - done), left);
    snprintf(line, sizeof line, "%s: %s  %s elapsed, ~%s left", p.who, what, elapsed, left);
  } else {
    snprintf(line, sizeof line, "%s: %s  %s elapsed", p.who, what, elapsed);
  }
  /* A line wider than the terminal would wrap, and \r would then rewrite
   * only its last row: cut it to the width. */
  struct winsize ws;
  int width = ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 ? ws.ws_col - 1 : 0;
  fprintf(stderr, "\r\033[K%.*s", width > 0 ? width : (int)sizeof line, line);
  fflush(stderr);
  p.shown = true;
}

void progress_clear(void) {
  if (!p.on || !p.shown) return;
  fprintf(stderr, "\r\033[K");
  fflush(stderr);
  p.shown = false;
}

void progress_end(void) {
  progress_clear();
  p.on = false;
}
