/* status.h: the one error convention of the toolkit.
 *
 * Bugs (broken invariants) abort through LAB_ASSERT, always on, whatever NDEBUG says.
 * Recoverable errors (I/O, config, user input, impossible shapes, big allocations) return a
 * negative lab_status and, when the caller passes a lab_error, a sentence saying what is
 * wrong (the layer or file, the shapes or values). Only main prints and exits.
 */
#ifndef LAB_STATUS_H
#define LAB_STATUS_H

#include <stddef.h>

typedef enum lab_status {
  LAB_STATUS_OK = 0,
  LAB_ERR_SHAPE = -1,   /* geometry that cannot work */
  LAB_ERR_CONFIG = -2,  /* bad configuration value, unknown key or name */
  LAB_ERR_IO = -3,      /* open/read/write/rename failed */
  LAB_ERR_DATA = -4,    /* malformed or inconsistent data file */
  LAB_ERR_NOMEM = -5,   /* a recoverable allocation failed */
  LAB_ERR_NUMERIC = -6, /* NaN/Inf where a finite value is required */
  LAB_ERR_USAGE = -7,   /* bad command line */
  LAB_ERR_STATE = -8    /* operation not valid in the object's current state */
} lab_status;

/* A filled-in error: status plus a human sentence. Callers may pass NULL for "don't care". */
typedef struct lab_error {
  lab_status status;
  char msg[1024];
} lab_error;

const char *lab_status_str(lab_status s);

/* Records status and a printf-style message in err (if non-NULL); returns status so that
 * `return lab_error_set(err, LAB_ERR_SHAPE, "...", ...);` reads naturally. */
lab_status lab_error_set(lab_error *err, lab_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prepends "prefix: " to an existing message (adds context while an error propagates). */
lab_status lab_error_prefix(lab_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void lab_assert_fail(const char *file, int line, const char *func, const char *expr,
                     const char *fmt, ...) __attribute__((noreturn, format(printf, 5, 6)));

#define LAB_ASSERT(cond, ...)                                                         \
  do {                                                                                \
    if (!(cond)) lab_assert_fail(__FILE__, __LINE__, __func__, #cond, __VA_ARGS__);   \
  } while (0)

/* Allocation that aborts with the size and call site on failure (for sizes that are bugs
 * if they fail). lab_trymalloc returns NULL for the caller to turn into LAB_ERR_NOMEM. */
#define lab_xmalloc(n) lab_xmalloc_at((n), __FILE__, __LINE__)
#define lab_xcalloc(k, n) lab_xcalloc_at((k), (n), __FILE__, __LINE__)
void *lab_xmalloc_at(size_t n, const char *file, int line);
void *lab_xcalloc_at(size_t k, size_t n, const char *file, int line);
void *lab_trymalloc(size_t n);

#endif
