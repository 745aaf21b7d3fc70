// SPDX-License-Identifier: MIT
/* Option values (parse.h): no state, no kernel, so that the command can
 * link it too. */
#include "parse.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

bool _fl_option_parse(fl_option_t opt, const char *s, long long *out) {
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
  case FL_OPT_PREFAULT_PID:
    if (word_is(s, "any")) return *out = FL_AUTO, true;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v <= 0 || v > INT_MAX) return false;
    return *out = v, true;
  case FL_OPT_WARMERS:
    if (word_is(s, "auto")) return *out = FL_AUTO, true;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > 256) return false;
    return *out = v, true;
  case FL_OPT_THP:
  case FL_OPT_PASSTHROUGH:
  case FL_OPT_MMAP:
    if (word_is(s, "auto")) return *out = FL_AUTO, true;
    return parse_bool(s, out);
  case FL_OPT_BUDGET:
  case FL_OPT_RESERVE:
  case FL_OPT_HEADROOM:
  case FL_OPT_AHEAD:
  case FL_OPT_POPULATE:
    if (opt != FL_OPT_RESERVE && (word_is(s, "none") || word_is(s, "auto")))
      return *out = FL_AUTO, true;
    if (!_fl_parse_size(s, &bytes)) return false;
    if (opt == FL_OPT_RESERVE && bytes < FL_RESERVE_MIN) return false;
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
