/* tensor.h: shapes, the float arena, and the shape letters used everywhere.
 *
 * Layout is NCHW float32, contiguous. A lab_shape describes ONE sample (C, H, W); the batch
 * size N travels separately (planned once in lab_graph_plan, per call in lab_ctx.batch).
 *
 * Shape letters (used in every comment and variable name):
 *   N batch, C / IC in-channels, OC out-channels, H W input height/width,
 *   OH OW output height/width, KH KW kernel, S stride (SH SW), P padding (PT PB PL PR:
 *   top, bottom, left, right), K number of classes or GEMM inner dimension (said where used).
 */
#ifndef LAB_TENSOR_H
#define LAB_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "lab/status.h"

#define LAB_MAX_INPUTS 8

typedef struct lab_shape {
  int c, h, w;
} lab_shape;

static inline size_t lab_shape_numel(lab_shape s) { return (size_t)s.c * (size_t)s.h * (size_t)s.w; }
static inline int lab_shape_eq(lab_shape a, lab_shape b) { return a.c == b.c && a.h == b.h && a.w == b.w; }
/* Writes "CxHxW" into buf (always NUL-terminated); returns buf. */
char *lab_shape_str(lab_shape s, char *buf, size_t n);

/* A bump allocator over one 64-byte-aligned slab of floats. Every take is rounded up to a
 * multiple of LAB_ARENA_ALIGN floats so each tensor starts on a cache line. */
#define LAB_ARENA_ALIGN 16
typedef struct lab_arena {
  float *base;
  size_t cap, used; /* in floats */
} lab_arena;

static inline size_t lab_arena_round(size_t n) {
  return (n + LAB_ARENA_ALIGN - 1) / LAB_ARENA_ALIGN * LAB_ARENA_ALIGN;
}
/* Allocates cap floats, zero-filled; LAB_ERR_NOMEM (with err) if the system refuses. */
lab_status lab_arena_init(lab_arena *a, size_t cap, lab_error *err);
/* Returns the next n floats (zero-filled at init); aborts if the plan under-counted. */
float *lab_arena_take(lab_arena *a, size_t n);
void lab_arena_free(lab_arena *a);

#endif
