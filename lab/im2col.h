/* im2col.h: lowering a convolution to a GEMM (NCHW float32) and its adjoint.
 *
 * One "column" per output pixel, one "row" per (c, ki, kj) tap: row r = (c*KH + ki)*KW + kj holds
 * x[c][oh*SH - PT + ki][ow*SW - PL + kj] for every output pixel (oh, ow), zero where that falls in
 * the padding. A convolution is then W (OC x C*KH*KW) times this (C*KH*KW x OH*OW) matrix.
 *
 * Both functions work on a block of output columns: `n` consecutive samples and, in each, the
 * output pixels p = oh*OW + ow in [p0, p0 + np). Sample s's pixel p lands in column
 * s*np + (p - p0) of a row-major matrix with row stride ld (>= n*np). This one form serves both
 * ways the conv layer cuts its work: a slice of one large map (n = 1), or several whole small maps
 * side by side (p0 = 0, np = OH*OW) so that one GEMM sees enough columns.
 */
#ifndef LAB_IM2COL_H
#define LAB_IM2COL_H

#include <stddef.h>

typedef struct lab_im2col_geom {
  int c, h, w;    /* input channels and map */
  int kh, kw;     /* kernel */
  int sh, sw;     /* stride */
  int pt, pl;     /* top and left padding (bottom/right padding is implied by oh, ow) */
  int oh, ow;     /* output map */
} lab_im2col_geom;

/* x: (n, C, H, W), in. col: (C*KH*KW, ld), out: columns [0, n*np) of every row overwritten. */
void lab_im2col(const lab_im2col_geom *g, const float *x, int n, int p0, int np, float *col, size_t ld);

/* The adjoint of lab_im2col: col: (C*KH*KW, ld), in; dx: (n, C, H, W), accumulated (+=).
 * Each (sample, channel) plane is summed by one thread in a fixed order: deterministic. */
void lab_col2im_add(const lab_im2col_geom *g, const float *col, size_t ld, int n, int p0, int np, float *dx);

#endif
