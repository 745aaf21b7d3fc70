// SPDX-License-Identifier: MIT
/* bootstrap: the Lambda custom runtime (provided.al2023) for faultless.
 *
 * It speaks the Runtime API at $AWS_LAMBDA_RUNTIME_API: during init it starts
 * warming its own arena, finds its tools, then loops in one process over
 * GET .../invocation/next and POST .../{id}/response or .../{id}/error. An
 * init failure goes to POST .../init/error. When the API goes away the runtime
 * exits non-zero with a message: Lambda then starts a new sandbox, so there is
 * nothing to gain by waiting.
 *
 * Under SnapStart (AWS_LAMBDA_INITIALIZATION_TYPE=snap-start) init ends with
 * fl_snapshot_prepare, so the snapshot holds no warm memory that nothing
 * uses; GET .../restore/next returns once the snapshot has been restored,
 * and fl_snapshot_restored warms the arena again. A failure there goes to
 * POST .../restore/error. */
#define _GNU_SOURCE
#include "faultless.h"

#include "../tools/util.h"
#include "handler.h"
#include "http.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define API_PREFIX "/2018-06-01/runtime"
/* Answers to our POSTs come at once; only `next` may block (frozen sandbox). */
#define POST_TIMEOUT_MS 30000
#define NEXT_TRIES 3

static const char *api;

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "faultless runtime: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
}

/* The Runtime API's error document. */
static char *error_body(const char *type, const char *message) {
  json_t j;
  if (!json_open_text(&j)) return NULL;
  json_object_begin(&j, NULL);
  json_string(&j, "errorMessage", message);
  json_string(&j, "errorType", type);
  json_array_begin(&j, "stackTrace");
  json_array_end(&j);
  json_object_end(&j);
  return json_close_text(&j);
}

/* POST to the API; returns the HTTP status, or -1 when the API is gone. */
static int post(const char *path, const char *const *headers, const char *body, size_t len) {
  http_response_t resp;
  char err[256];
  if (http_request(api, "POST", path, headers, body, len, POST_TIMEOUT_MS, &resp, err,
                   sizeof err) != 0) {
    log_line("%s", err);
    return -1;
  }
  int status = resp.status;
  if (status != 202) log_line("POST %s: HTTP %d: %.300s", path, status, resp.body);
  http_response_free(&resp);
  return status;
}

static int post_error(const char *path, const char *type, const char *message) {
  char header[200];
  snprintf(header, sizeof header, "Lambda-Runtime-Function-Error-Type: %s", type);
  const char *headers[] = {header, "Content-Type: application/json", NULL};
  char *body = error_body(type, message);
  int status = post(path, headers, body ? body : "{}", body ? strlen(body) : 2);
  free(body);
  return status;
}

/* GET next, retrying briefly: a refused connection right after start or a
 * dropped one is worth one more look, a server that stays away is not. */
static int next_invocation(http_response_t *resp) {
  char err[256];
  for (int attempt = 1;; attempt++) {
    if (http_request(api, "GET", API_PREFIX "/invocation/next", NULL, NULL, 0, 0, resp, err,
                     sizeof err) == 0)
      return 0;
    if (attempt == NEXT_TRIES) {
      log_line("the Runtime API at %s is gone (%s); exiting", api, err);
      return -1;
    }
    struct timespec pause = {0, 100000000L * attempt};
    nanosleep(&pause, NULL);
  }
}

static double ms_since(uint64_t t0) {
  return (double)(now_ns() - t0) / 1e6;
}

/* SnapStart: give back what nothing holds, wait for the restore, warm again.
 * Returns 0, or -1 when the runtime must exit (the failure is reported). */
static int snapshot_and_restore(handler_t *h) {
  fl_snapshot_prepare();
  http_response_t resp;
  char err[256];
  /* Blocks while the snapshot is taken and until a restore: no timeout. */
  if (http_request(api, "GET", API_PREFIX "/restore/next", NULL, NULL, 0, 0, &resp, err,
                   sizeof err) != 0) {
    log_line("GET restore/next: %s; exiting", err);
    return -1;
  }
  int status = resp.status;
  http_response_free(&resp);
  uint64_t t0 = now_ns();
  char why[512] = "";
  if (status != 200)
    snprintf(why, sizeof why, "GET restore/next: HTTP %d", status);
  else {
    fl_snapshot_restored();
    handler_restored(h, why, sizeof why);
  }
  if (*why) {
    log_line("restore failed: %s", why);
    post_error(API_PREFIX "/restore/error", "Runtime.RestoreError", why);
    return -1;
  }
  printf("faultless runtime: restored; warming again in the background (%.1f ms)\n", ms_since(t0));
  return 0;
}

/* Run one event through the handler and POST its answer: the API's status
 * for that POST, or -1. */
static int answer(handler_t *h, const invocation_t *inv, const http_response_t *next) {
  char path[300];
  char *out = NULL, *message = NULL;
  size_t out_len = 0;
  const char *type = NULL, *id = inv->request_id;
  int status;
  if (handler_invoke(h, inv, next->body, next->body_len, &out, &out_len, &type, &message) == 0) {
    snprintf(path, sizeof path, API_PREFIX "/invocation/%s/response", id);
    const char *headers[] = {"Content-Type: application/json", NULL};
    status = post(path, headers, out, out_len);
    if (status == 413) { /* over Lambda's 6 MB response limit */
      snprintf(path, sizeof path, API_PREFIX "/invocation/%s/error", id);
      status = post_error(path, "Faultless.ResponseTooLarge",
                          "the results are over Lambda's response limit: ask for fewer chunks, "
                          "iterations or allocators per invocation");
    }
  } else {
    log_line("invocation %s: %s: %s", id, type, message);
    snprintf(path, sizeof path, API_PREFIX "/invocation/%s/error", id);
    status = post_error(path, type, message);
  }
  free(out);
  free(message);
  return status;
}

/* GET the next event and answer it: 0 to go on, 1 when the runtime must exit
 * (the API is gone, or answered something we cannot use). */
static int serve_next(handler_t *h) {
  http_response_t next;
  if (next_invocation(&next) != 0) return 1;
  if (next.status != 200) {
    /* The API answers `next` with 200 only; anything else means the sandbox
     * is going away or we are talking to something else. */
    log_line("GET next: HTTP %d: %.300s; exiting", next.status, next.body);
    http_response_free(&next);
    return 1;
  }
  const char *id = http_header(&next, "Lambda-Runtime-Aws-Request-Id");
  if (!id || !*id || strchr(id, '/') || strlen(id) > 200) {
    log_line("GET next: no usable Lambda-Runtime-Aws-Request-Id; exiting");
    http_response_free(&next);
    return 1;
  }
  /* X-Ray and the SDKs read the trace header from the environment. */
  const char *trace = http_header(&next, "Lambda-Runtime-Trace-Id");
  if (trace)
    setenv("_X_AMZN_TRACE_ID", trace, 1);
  else
    unsetenv("_X_AMZN_TRACE_ID");
  const char *deadline = http_header(&next, "Lambda-Runtime-Deadline-Ms");
  invocation_t inv = {.request_id = id,
                      .trace_id = trace,
                      .deadline_ms = deadline ? strtoll(deadline, NULL, 10) : 0};
  int status = answer(h, &inv, &next);
  http_response_free(&next);
  /* 500 from the API means the sandbox cannot go on (the API's contract). */
  if (status < 0 || status >= 500) {
    log_line("the Runtime API cannot take our answer; exiting");
    return 1;
  }
  return 0;
}

int main(void) {
  uint64_t t0 = now_ns();
  /* CloudWatch takes lines: flush each, and keep the seed's log in order with
   * our own messages. */
  setvbuf(stdout, NULL, _IOLBF, 0);
  api = getenv("AWS_LAMBDA_RUNTIME_API");
  if (!api || !*api) {
    log_line("AWS_LAMBDA_RUNTIME_API is not set: this program runs inside AWS Lambda (or a "
             "local Runtime API, see lambda/README.md)");
    return 1;
  }

  /* Warm first, as the seed proposed: the arena fills in the background while
   * the runtime checks its tools and waits for the first event. */
  static handler_t h;
  size_t prefault = 32 << 20;
  const char *opt = getenv("FAULTLESS_LAMBDA_PREFAULT");
  if (opt && !parse_bytes(opt, &prefault)) {
    log_line("bad FAULTLESS_LAMBDA_PREFAULT '%s'", opt);
    prefault = 0;
  }
  if (prefault && fl_prefault(prefault) == 0) h.init_prefault = prefault;

  char err[512];
  if (handler_init(&h, err, sizeof err) != 0) {
    log_line("init failed: %s", err);
    post_error(API_PREFIX "/init/error", "Runtime.InitError", err);
    return 1;
  }
  h.init_ms = ms_since(t0);
  printf("faultless runtime: ready in %.1f ms; warming %zu bytes; peers loaded: %d, not loading: "
         "%d\n",
         h.init_ms, h.init_prefault, h.npeers_ok, h.npeers_failed);
  const char *init_type = getenv("AWS_LAMBDA_INITIALIZATION_TYPE");
  if (init_type && strcmp(init_type, "snap-start") == 0 && snapshot_and_restore(&h) != 0) return 1;
  while (serve_next(&h) == 0) {
  }
  return 1;
}
