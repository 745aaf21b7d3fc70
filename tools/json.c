// SPDX-License-Identifier: MIT
/* A small JSON reader (see json.h). Recursive descent with a depth limit, so
 * that hostile input cannot exhaust the stack; every failure names the byte
 * offset. */
#define _GNU_SOURCE
#include "json.h"

#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JV_MAX_DEPTH 128

typedef struct {
  const char *text;
  size_t len, pos;
  char *err;
  size_t errlen;
  bool failed;
} reader_t;

static void fail(reader_t *r, const char *fmt, ...) {
  if (r->failed) return;
  r->failed = true;
  if (!r->err || !r->errlen) return;
  char what[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  snprintf(r->err, r->errlen, "%s at byte %zu", what, r->pos);
}

static void skip_space(reader_t *r) {
  while (r->pos < r->len) {
    char c = r->text[r->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    r->pos++;
  }
}

static bool literal(reader_t *r, const char *word) {
  size_t n = strlen(word);
  if (r->len - r->pos < n || memcmp(r->text + r->pos, word, n) != 0) return false;
  r->pos += n;
  return true;
}

/* --- Strings --- */

static int hex4(reader_t *r) {
  if (r->len - r->pos < 4) return -1;
  int v = 0;
  for (int i = 0; i < 4; i++) {
    char c = r->text[r->pos + i];
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  r->pos += 4;
  return v;
}

static void put_utf8(strbuf_t *b, uint32_t cp) {
  char out[4];
  size_t n;
  if (cp < 0x80) {
    out[0] = (char)cp;
    n = 1;
  } else if (cp < 0x800) {
    out[0] = (char)(0xC0 | cp >> 6);
    out[1] = (char)(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    out[0] = (char)(0xE0 | cp >> 12);
    out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  sb_append(b, out, n);
}

/* pre: text[pos] == '"'. Returns the decoded string or NULL (error set). */
static char *parse_string(reader_t *r) {
  strbuf_t b = {0};
  sb_append(&b, "", 0);
  r->pos++;
  while (r->pos < r->len) {
    unsigned char c = (unsigned char)r->text[r->pos];
    if (c == '"') {
      r->pos++;
      return b.data;
    }
    if (c < 0x20) {
      fail(r, "control character in a string");
      break;
    }
    if (c != '\\') {
      /* Copy a run of plain bytes at once; UTF-8 passes through unchanged. */
      size_t start = r->pos;
      while (r->pos < r->len && r->text[r->pos] != '"' && r->text[r->pos] != '\\' &&
             (unsigned char)r->text[r->pos] >= 0x20)
        r->pos++;
      sb_append(&b, r->text + start, r->pos - start);
      continue;
    }
    if (++r->pos >= r->len) break;
    char e = r->text[r->pos++];
    const char *simple = NULL;
    switch (e) {
    case '"':
      simple = "\"";
      break;
    case '\\':
      simple = "\\";
      break;
    case '/':
      simple = "/";
      break;
    case 'b':
      simple = "\b";
      break;
    case 'f':
      simple = "\f";
      break;
    case 'n':
      simple = "\n";
      break;
    case 'r':
      simple = "\r";
      break;
    case 't':
      simple = "\t";
      break;
    case 'u': {
      int hi = hex4(r);
      if (hi < 0) {
        fail(r, "bad \\u escape");
        goto error;
      }
      uint32_t cp = (uint32_t)hi;
      if (hi >= 0xD800 && hi <= 0xDBFF) {
        /* A high surrogate must be followed by its low half. */
        int lo = literal(r, "\\u") ? hex4(r) : -1;
        if (lo < 0xDC00 || lo > 0xDFFF) {
          fail(r, "unpaired surrogate in \\u escape");
          goto error;
        }
        cp = 0x10000 + (((uint32_t)hi - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
      } else if (hi >= 0xDC00 && hi <= 0xDFFF) {
        fail(r, "unpaired surrogate in \\u escape");
        goto error;
      } else if (hi == 0) {
        fail(r, "\\u0000 in a string is not accepted");
        goto error;
      }
      put_utf8(&b, cp);
      continue;
    }
    default:
      r->pos--;
      fail(r, "bad escape '\\%c'", e);
      goto error;
    }
    sb_append(&b, simple, 1);
  }
  fail(r, "unterminated string");
error:
  free(b.data);
  return NULL;
}

/* --- Numbers --- */

static bool parse_number(reader_t *r, double *out) {
  size_t start = r->pos;
  const char *t = r->text;
#define DIGIT(i) ((i) < r->len && t[i] >= '0' && t[i] <= '9')
  if (r->pos < r->len && t[r->pos] == '-') r->pos++;
  if (!DIGIT(r->pos)) return fail(r, "bad number"), false;
  if (t[r->pos] == '0')
    r->pos++;
  else
    while (DIGIT(r->pos))
      r->pos++;
  if (r->pos < r->len && t[r->pos] == '.') {
    r->pos++;
    if (!DIGIT(r->pos)) return fail(r, "bad number"), false;
    while (DIGIT(r->pos))
      r->pos++;
  }
  if (r->pos < r->len && (t[r->pos] == 'e' || t[r->pos] == 'E')) {
    r->pos++;
    if (r->pos < r->len && (t[r->pos] == '+' || t[r->pos] == '-')) r->pos++;
    if (!DIGIT(r->pos)) return fail(r, "bad number"), false;
    while (DIGIT(r->pos))
      r->pos++;
  }
#undef DIGIT
  /* strtod needs a terminated copy: the input is not NUL-terminated. */
  char tmp[64];
  size_t n = r->pos - start;
  if (n >= sizeof tmp) return fail(r, "number too long"), false;
  memcpy(tmp, t + start, n);
  tmp[n] = 0;
  errno = 0;
  *out = strtod(tmp, NULL);
  if (!isfinite(*out)) return fail(r, "number out of range"), false;
  return true;
}

/* --- Values --- */

static jv_t *parse_value(reader_t *r, int depth);

static jv_t *parse_container(reader_t *r, int depth, bool object) {
  jv_t *v = xmalloc(sizeof *v);
  *v = (jv_t){0};
  v->type = object ? JV_OBJECT : JV_ARRAY;
  size_t cap = 0;
  char close = object ? '}' : ']';
  r->pos++;
  skip_space(r);
  if (r->pos < r->len && r->text[r->pos] == close) {
    r->pos++;
    return v;
  }
  for (;;) {
    skip_space(r);
    char *key = NULL;
    if (object) {
      if (r->pos >= r->len || r->text[r->pos] != '"') {
        fail(r, "expected a string key");
        break;
      }
      if (!(key = parse_string(r))) break;
      skip_space(r);
      if (r->pos >= r->len || r->text[r->pos] != ':') {
        free(key);
        fail(r, "expected ':'");
        break;
      }
      r->pos++;
    }
    jv_t *item = parse_value(r, depth + 1);
    if (!item) {
      free(key);
      break;
    }
    if (v->count == cap) {
      cap = cap ? cap * 2 : 8;
      v->items = xrealloc(v->items, cap * sizeof *v->items);
      if (object) v->keys = xrealloc(v->keys, cap * sizeof *v->keys);
    }
    if (object) v->keys[v->count] = key;
    v->items[v->count++] = item;
    skip_space(r);
    if (r->pos < r->len && r->text[r->pos] == ',') {
      r->pos++;
      continue;
    }
    if (r->pos < r->len && r->text[r->pos] == close) {
      r->pos++;
      return v;
    }
    fail(r, object ? "expected ',' or '}'" : "expected ',' or ']'");
    break;
  }
  jv_free(v);
  return NULL;
}

static jv_t *parse_scalar(reader_t *r, char c);

static jv_t *parse_value(reader_t *r, int depth) {
  if (depth > JV_MAX_DEPTH) return fail(r, "nested too deeply"), NULL;
  skip_space(r);
  if (r->pos >= r->len) return fail(r, "unexpected end of input"), NULL;
  char c = r->text[r->pos];
  size_t start = r->pos;
  jv_t *v = c == '{' || c == '[' ? parse_container(r, depth, c == '{') : parse_scalar(r, c);
  if (v) v->raw = r->text + start, v->raw_len = r->pos - start;
  return v;
}

static jv_t *parse_scalar(reader_t *r, char c) {
  jv_t *v = xmalloc(sizeof *v);
  *v = (jv_t){0};
  if (c == '"') {
    v->type = JV_STRING;
    if (!(v->string = parse_string(r))) return free(v), NULL;
  } else if (c == '-' || (c >= '0' && c <= '9')) {
    v->type = JV_NUMBER;
    if (!parse_number(r, &v->number)) return free(v), NULL;
  } else if (literal(r, "true")) {
    v->type = JV_BOOL;
    v->boolean = true;
  } else if (literal(r, "false")) {
    v->type = JV_BOOL;
  } else if (literal(r, "null")) {
    v->type = JV_NULL;
  } else {
    free(v);
    return fail(r, "unexpected character '%c'", c), NULL;
  }
  return v;
}

jv_t *jv_parse(const char *text, size_t len, char *err, size_t errlen) {
  reader_t r = {.text = text, .len = len, .err = err, .errlen = errlen};
  if (err && errlen) err[0] = 0;
  if (!text) return fail(&r, "no input"), NULL;
  jv_t *v = parse_value(&r, 0);
  if (!v) return NULL;
  skip_space(&r);
  if (r.pos != r.len) {
    fail(&r, "trailing characters");
    jv_free(v);
    return NULL;
  }
  return v;
}

void jv_free(jv_t *v) {
  if (!v) return;
  for (size_t i = 0; i < v->count; i++) {
    jv_free(v->items[i]);
    if (v->keys) free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
  free(v->string);
  free(v);
}

/* --- Lookups --- */

jv_t *jv_get(const jv_t *v, const char *key) {
  if (!v || v->type != JV_OBJECT) return NULL;
  /* The last duplicate wins, as in most readers. */
  for (size_t i = v->count; i-- > 0;)
    if (!strcmp(v->keys[i], key)) return v->items[i];
  return NULL;
}

jv_t *jv_at(const jv_t *v, size_t i) {
  if (!v || (v->type != JV_ARRAY && v->type != JV_OBJECT) || i >= v->count) return NULL;
  return v->items[i];
}

const char *jv_str(const jv_t *v) {
  return v && v->type == JV_STRING ? v->string : NULL;
}

bool jv_long(const jv_t *v, long min, long max, long *out) {
  if (!v || v->type != JV_NUMBER) return false;
  double d = v->number;
  if (d != floor(d) || d < (double)min || d > (double)max) return false;
  *out = (long)d;
  return true;
}
