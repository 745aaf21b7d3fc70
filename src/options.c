// SPDX-License-Identifier: MIT
/* Options: one table indexed by fl_option_t, read once from FAULTLESS_<NAME>
 * at initialisation and settable later with fl_option_set. A malformed value
 * is reported once and the default kept. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

_Static_assert(FL_RESERVE_MIN == 4 * FL_CHUNK, "RESERVE holds at least four chunks");

typedef enum { FROM_DEFAULT, FROM_ENV, FROM_CALL } fl_origin_t;

typedef struct fl_option_desc_s {
  const char *name;
  const char *kind;
  const char *def;
  _Atomic long long value; /* relaxed: fl_option_set may race with readers */
  fl_origin_t origin;
} fl_option_desc_t;

static fl_option_desc_t options[FL_OPT_COUNT] = {
#define FL_OPTION_ROW(n, k, d) [FL_OPT_##n] = {#n, k, d, 0, FROM_DEFAULT},
    FL_OPTIONS(FL_OPTION_ROW)
#undef FL_OPTION_ROW
};

/* --- Messages ----------------------------------------------------------- */

static void vmessage(const char *fmt, va_list ap) {
  char buf[640];
  int n = snprintf(buf, sizeof buf, "faultless: ");
  int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
  if (m < 0) m = 0;
  size_t len = (size_t)n + (size_t)m;
  if (len > sizeof buf - 2) len = sizeof buf - 2;
  buf[len++] = '\n';
  _fl_prim_write_stderr(buf, len);
}

void _fl_message(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vmessage(fmt, ap);
  va_end(ap);
}

void _fl_verbose(const char *fmt, ...) {
  if (!atomic_load_explicit(&options[FL_OPT_VERBOSE].value, memory_order_relaxed)) return;
  va_list ap;
  va_start(ap, fmt);
  vmessage(fmt, ap);
  va_end(ap);
}

void _fl_fatal(const char *call, const void *ptr, const char *what) {
  _fl_message("%s(%p): %s; stopping", call, ptr, what);
  _fl_prim_abort();
}

/* --- The table ---------------------------------------------------------- */

static bool options_loaded;

void _fl_options_init(void) {
  if (options_loaded) return;
  for (int i = 0; i < FL_OPT_COUNT; i++) {
    fl_option_desc_t *o = &options[i];
    long long v = 0;
    _fl_option_parse((fl_option_t)i, o->def, &v);
    o->value = v;
    char env[64];
    snprintf(env, sizeof env, "FAULTLESS_%s", o->name);
    const char *s = _fl_prim_getenv(env);
    if (!s) continue;
    if (_fl_option_parse((fl_option_t)i, s, &v)) {
      o->value = v;
      o->origin = FROM_ENV;
    } else {
      _fl_message("%s=\"%s\" is not a valid value (%s); using the default %s", env, s, o->kind,
                  o->def);
    }
  }
  options_loaded = true;
}

long long _fl_option(fl_option_t opt) {
  if (FL_UNLIKELY(!options_loaded)) _fl_options_init();
  return atomic_load_explicit(&options[opt].value, memory_order_relaxed);
}

bool _fl_option_is_set(fl_option_t opt) {
  if (FL_UNLIKELY(!options_loaded)) _fl_options_init();
  return options[opt].origin != FROM_DEFAULT;
}

bool _fl_mmap_rule(long long mmap, bool prefault_in_env) {
  return mmap == FL_AUTO ? prefault_in_env : mmap != 0;
}

bool _fl_mmap_wanted(void) {
  if (FL_UNLIKELY(!options_loaded)) _fl_options_init();
  return _fl_mmap_rule(_fl_option(FL_OPT_MMAP), options[FL_OPT_PREFAULT].origin == FROM_ENV);
}

void _fl_options_print(void) {
  static const char *origin[] = {"default", "environment", "fl_option_set"};
  for (int i = 0; i < FL_OPT_COUNT; i++) {
    fl_option_desc_t *o = &options[i];
    long long v = atomic_load(&o->value);
    if (v == FL_AUTO)
      _fl_message("option %-12s = %s (%s)", o->name, o->def, origin[o->origin]);
    else if (v & FL_PERCENT_BIT)
      _fl_message("option %-12s = %.2f%% (%s)", o->name, (double)(v & ~FL_PERCENT_BIT) / 100,
                  origin[o->origin]);
    else
      _fl_message("option %-12s = %lld (%s)", o->name, v, origin[o->origin]);
  }
}

int _fl_option_find(const char *name) {
  if (!name) return -1;
  if (strncasecmp(name, "FAULTLESS_", 10) == 0) name += 10;
  for (int i = 0; i < FL_OPT_COUNT; i++)
    if (strcasecmp(name, options[i].name) == 0) return i;
  return -1;
}

int _fl_option_set(const char *name, const char *value, fl_option_t *which) {
  _fl_options_init();
  int i = _fl_option_find(name);
  if (i < 0) return ENOENT;
  long long v;
  if (!value || !_fl_option_parse((fl_option_t)i, value, &v)) {
    _fl_message("option %s: \"%s\" is not a valid value (%s); keeping the old one", options[i].name,
                value ? value : "(null)", options[i].kind);
    return EINVAL;
  }
  atomic_store_explicit(&options[i].value, v, memory_order_relaxed);
  options[i].origin = FROM_CALL;
  *which = (fl_option_t)i;
  return 0;
}
