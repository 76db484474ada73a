/* tensor.c: shape formatting and the float arena. */
#include "lab/tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *lab_shape_str(lab_shape s, char *buf, size_t n) {
  snprintf(buf, n, "%dx%dx%d", s.c, s.h, s.w);
  return buf;
}

lab_status lab_arena_init(lab_arena *a, size_t cap, lab_error *err) {
  a->base = NULL;
  a->cap = lab_arena_round(cap);
  a->used = 0;
  if (a->cap == 0) return LAB_STATUS_OK;
  size_t bytes = a->cap * sizeof(float);
  if (posix_memalign((void **)&a->base, 64, bytes) != 0) {
    a->base = NULL;
    return lab_error_set(err, LAB_ERR_NOMEM, "cannot allocate %.1f MiB", bytes / 1048576.0);
  }
  memset(a->base, 0, bytes);
  return LAB_STATUS_OK;
}

float *lab_arena_take(lab_arena *a, size_t n) {
  size_t r = lab_arena_round(n);
  LAB_ASSERT(a->used + r <= a->cap, "arena overflow: %zu + %zu > %zu floats", a->used, r, a->cap);
  float *p = a->base + a->used;
  a->used += r;
  return p;
}

void lab_arena_free(lab_arena *a) {
  if (!a) return;
  free(a->base);
  a->base = NULL;
  a->cap = a->used = 0;
}
