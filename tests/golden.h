/* golden.h: reader for the golden fixtures written by tests/golden/make_golden.py.
 *
 * A fixture file is a list of named float32 tensors (format: tests/golden/README.md):
 *   "LABGOLD\0" (8 bytes), u32 version (= 1), u32 count, then per tensor
 *   u32 name_len, name (ASCII, no NUL), u32 ndim (1..8), u32 dims[ndim], f32 data[prod(dims)],
 * all little-endian. The reader checks the magic, the version, every length against the bytes
 * that remain, and that nothing trails the last tensor; a malformed file is LAB_ERR_DATA with
 * a message naming the file, the tensor index and what is wrong.
 */
#ifndef LAB_TESTS_GOLDEN_H
#define LAB_TESTS_GOLDEN_H

#include <stddef.h>

#include "lab/status.h"

#define LAB_GOLDEN_VERSION 1u
#define LAB_GOLDEN_MAX_NDIM 8
#define LAB_GOLDEN_MAX_NAME 127

typedef struct lab_golden_tensor {
  char name[LAB_GOLDEN_MAX_NAME + 1];
  int ndim;
  int dims[LAB_GOLDEN_MAX_NDIM];
  size_t numel;
  float *data; /* numel floats, owned by the lab_golden */
} lab_golden_tensor;

typedef struct lab_golden {
  char source[256]; /* file name (or "<memory>") for messages */
  int n;
  lab_golden_tensor *tensors;
} lab_golden;

/* Parses a fixture image of `len` bytes. On error g is left empty (safe to free). */
lab_status lab_golden_parse(lab_golden *g, const void *bytes, size_t len, const char *source, lab_error *err);
/* Reads and parses `path`; LAB_ERR_IO if it cannot be read. */
lab_status lab_golden_load(lab_golden *g, const char *path, lab_error *err);
/* Loads LAB_GOLDEN_DIR "/" file (the compile-time fixture folder). */
lab_status lab_golden_load_fixture(lab_golden *g, const char *file, lab_error *err);
void lab_golden_free(lab_golden *g);

/* The tensor called `name`, or NULL. */
const lab_golden_tensor *lab_golden_find(const lab_golden *g, const char *name);
/* printf-style name; returns the tensor's data if it exists and has exactly `numel` values,
 * otherwise prints why to stderr and returns NULL (tests then fail with assert_non_null). */
const float *lab_golden_get(const lab_golden *g, size_t numel, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
