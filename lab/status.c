/* status.c: status strings, error messages, assertion failure, checked allocation. */
#include "lab/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *lab_status_str(lab_status s) {
  switch (s) {
    case LAB_STATUS_OK: return "ok";
    case LAB_ERR_SHAPE: return "shape error";
    case LAB_ERR_CONFIG: return "configuration error";
    case LAB_ERR_IO: return "I/O error";
    case LAB_ERR_DATA: return "data error";
    case LAB_ERR_NOMEM: return "out of memory";
    case LAB_ERR_NUMERIC: return "numeric error";
    case LAB_ERR_USAGE: return "usage error";
    case LAB_ERR_STATE: return "invalid state";
  }
  return "unknown status";
}

lab_status lab_error_set(lab_error *err, lab_status status, const char *fmt, ...) {
  if (err) {
    err->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
  }
  return status;
}

lab_status lab_error_prefix(lab_error *err, const char *fmt, ...) {
  if (!err) return LAB_ERR_STATE;
  char prefix[512], old[sizeof err->msg];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, err->msg, sizeof old);
  /* Truncation of an over-long message is acceptable; the start carries the context. */
  size_t n = strlen(prefix);
  if (n > sizeof err->msg - 3) n = sizeof err->msg - 3;
  memcpy(err->msg, prefix, n);
  memcpy(err->msg + n, ": ", 2);
  size_t room = sizeof err->msg - n - 3;
  size_t m = strlen(old);
  if (m > room) m = room;
  memcpy(err->msg + n + 2, old, m);
  err->msg[n + 2 + m] = '\0';
  return err->status;
}

void lab_assert_fail(const char *file, int line, const char *func, const char *expr,
                     const char *fmt, ...) {
  fprintf(stderr, "%s:%d: %s: assertion `%s' failed: ", file, line, func, expr);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  abort();
}

void *lab_xmalloc_at(size_t n, const char *file, int line) {
  void *p = malloc(n ? n : 1);
  if (!p) {
    fprintf(stderr, "%s:%d: out of memory allocating %zu bytes\n", file, line, n);
    abort();
  }
  return p;
}

void *lab_xcalloc_at(size_t k, size_t n, const char *file, int line) {
  void *p = calloc(k ? k : 1, n ? n : 1);
  if (!p) {
    fprintf(stderr, "%s:%d: out of memory allocating %zu x %zu bytes\n", file, line, k, n);
    abort();
  }
  return p;
}

void *lab_trymalloc(size_t n) { return malloc(n ? n : 1); }
