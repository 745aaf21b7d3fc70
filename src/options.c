/* Options: one table indexed by fl_option_t, read once from FAULTLESS_<NAME>
 * at initialisation and settable later with fl_option_set. A malformed value
 * is reported once and the default kept. */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* --- Parsing ------------------------------------------------------------ */

bool _fl_parse_size(const char *s, unsigned long long *out) {
  while (isspace((unsigned char)*s))
    s++;
  if (!isdigit((unsigned char)*s) && *s != '.') return false;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || v < 0) return false;
  double mult = 1;
  switch (toupper((unsigned char)*end)) {
  case 'K':
    mult = 1024.0;
    end++;
    break;
  case 'M':
    mult = 1024.0 * 1024;
    end++;
    break;
  case 'G':
    mult = 1024.0 * 1024 * 1024;
    end++;
    break;
  case 'T':
    mult = 1024.0 * 1024 * 1024 * 1024;
    end++;
    break;
  default:
    break;
  }
  if (mult > 1 && (*end == 'i' || *end == 'I')) end++;
  if (mult > 1 && (*end == 'b' || *end == 'B')) end++;
  while (isspace((unsigned char)*end))
    end++;
  if (*end) return false;
  v *= mult;
  if (v >= 9.2e18) return false;
  *out = (unsigned long long)v;
  return true;
}

static bool word_is(const char *s, const char *w) {
  return strcasecmp(s, w) == 0;
}

static bool parse_bool(const char *s, long long *out) {
  if (word_is(s, "1") || word_is(s, "on") || word_is(s, "yes") || word_is(s, "true"))
    *out = 1;
  else if (word_is(s, "0") || word_is(s, "off") || word_is(s, "no") || word_is(s, "false"))
    *out = 0;
  else
    return false;
  return true;
}

/* Milliseconds from "500", "500ms", "2s", "1m". */
static bool parse_duration(const char *s, long long *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || v < 0) return false;
  double mult = 1;
  if (word_is(end, "ms") || *end == 0)
    mult = 1;
  else if (word_is(end, "s"))
    mult = 1000;
  else if (word_is(end, "m") || word_is(end, "min"))
    mult = 60000;
  else
    return false;
  *out = (long long)(v * mult);
  return true;
}

static bool parse_value(fl_option_t opt, const char *s, long long *out) {
  unsigned long long bytes;
  long long v;
  char *end;
  switch (opt) {
  case FL_OPT_PREFAULT:
    if (word_is(s, "auto")) return *out = FL_AUTO, true;
    if (s[0] && s[strlen(s) - 1] == '%') {
      errno = 0;
      double pct = strtod(s, &end);
      if (errno || end == s || *end != '%' || pct < 0 || pct > 100) return false;
      return *out = FL_PERCENT_BIT | (long long)(pct * 100), true; /* hundredths of % */
    }
    if (!_fl_parse_size(s, &bytes)) return false;
    return *out = (long long)bytes, true;
  case FL_OPT_WARMERS:
    if (word_is(s, "auto")) return *out = FL_AUTO, true;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > 256) return false;
    return *out = v, true;
  case FL_OPT_THP:
  case FL_OPT_PASSTHROUGH:
    if (word_is(s, "auto")) return *out = FL_AUTO, true;
    return parse_bool(s, out);
  case FL_OPT_BUDGET:
  case FL_OPT_RESERVE:
  case FL_OPT_HEADROOM:
  case FL_OPT_AHEAD:
    if (opt != FL_OPT_RESERVE && (word_is(s, "none") || word_is(s, "auto")))
      return *out = FL_AUTO, true;
    if (!_fl_parse_size(s, &bytes)) return false;
    if (opt == FL_OPT_RESERVE && bytes < 4 * FL_CHUNK) return false;
    return *out = (long long)bytes, true;
  case FL_OPT_RELEASE:
    if (word_is(s, "never")) return *out = FL_AUTO, true;
    return parse_duration(s, out);
  case FL_OPT_VERBOSE:
    return parse_bool(s, out);
  case FL_OPT_STATS:
    if (word_is(s, "json")) return *out = 2, true;
    return parse_bool(s, out);
  case FL_OPT_WARM_METHOD:
    if (word_is(s, "auto"))
      *out = FL_AUTO;
    else if (word_is(s, "populate"))
      *out = 0;
    else if (word_is(s, "touch"))
      *out = 1;
    else
      return false;
    return true;
  case FL_OPT_COUNT:
    break;
  }
  return false;
}

/* --- The table ---------------------------------------------------------- */

static bool options_loaded;

void _fl_options_init(void) {
  if (options_loaded) return;
  for (int i = 0; i < FL_OPT_COUNT; i++) {
    fl_option_desc_t *o = &options[i];
    long long v = 0;
    parse_value((fl_option_t)i, o->def, &v);
    o->value = v;
    char env[64];
    snprintf(env, sizeof env, "FAULTLESS_%s", o->name);
    const char *s = _fl_prim_getenv(env);
    if (!s) continue;
    if (parse_value((fl_option_t)i, s, &v)) {
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

static int find_option(const char *name) {
  if (!name) return -1;
  if (strncasecmp(name, "FAULTLESS_", 10) == 0) name += 10;
  for (int i = 0; i < FL_OPT_COUNT; i++)
    if (strcasecmp(name, options[i].name) == 0) return i;
  return -1;
}

void _fl_options_print(void) {
  static const char *origin[] = {"default", "environment", "fl_option_set"};
  for (int i = 0; i < FL_OPT_COUNT; i++) {
    fl_option_desc_t *o = &options[i];
    long long v = atomic_load(&o->value);
    if (v == FL_AUTO)
      _fl_message("option %-11s = %s (%s)", o->name, o->def, origin[o->origin]);
    else if (v & FL_PERCENT_BIT)
      _fl_message("option %-11s = %.2f%% (%s)", o->name, (double)(v & ~FL_PERCENT_BIT) / 100,
                  origin[o->origin]);
    else
      _fl_message("option %-11s = %lld (%s)", o->name, v, origin[o->origin]);
  }
}

/* --- Public ------------------------------------------------------------- */

int fl_option_set(const char *name, const char *value) {
  _fl_options_init();
  int i = find_option(name);
  if (i < 0) return ENOENT;
  long long v;
  if (!value || !parse_value((fl_option_t)i, value, &v)) {
    _fl_message("option %s: \"%s\" is not a valid value (%s); keeping the old one", options[i].name,
                value ? value : "(null)", options[i].kind);
    return EINVAL;
  }
  atomic_store_explicit(&options[i].value, v, memory_order_relaxed);
  options[i].origin = FROM_CALL;
  /* PREFAULT set after start-up acts at once, as fl_prefault would. */
  if (i == FL_OPT_PREFAULT && atomic_load(&_fl_ready) == 2) _fl_arena_start_prefault();
  return 0;
}

long long fl_option_get(const char *name) {
  _fl_options_init();
  int i = find_option(name);
  return i < 0 ? -2 : atomic_load(&options[i].value);
}
