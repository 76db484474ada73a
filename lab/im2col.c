/* im2col.c: see im2col.h. The lowering Caffe and darknet use for convolution, restricted to a
 * block of output columns so that the caller can bound its workspace and keep it in cache.
 *
 * Within one output row (fixed oh) the valid input columns form one interval, so each row of a
 * tap is: zeros (left padding), a copy (memcpy at stride 1), zeros (right padding). Keeping the
 * inner loop free of per-element bounds tests is what makes the lowering cheap next to the GEMM.
 */
#include "lab/im2col.h"

#include <string.h>

/* Below this many floats touched, an OpenMP fork costs more than it saves. */
#define LAB_IM2COL_PAR_MIN 32768
/* Maps at most this wide go through an offset table (see tap_table); its most entries. */
#define LAB_IM2COL_TABLE_OW 24
#define LAB_IM2COL_TABLE_MAX 8192

/* First output column ow >= 0 whose input column ow*sw - pl + kj is >= 0. */
static int ow_first_valid(int pl, int kj, int sw) {
  int a = pl - kj;
  return a <= 0 ? 0 : (a + sw - 1) / sw;
}

/* One past the last output column whose input column is < w (0 if none). */
static int ow_end_valid(int w, int pl, int kj, int sw) {
  int b = w - 1 + pl - kj;
  return b < 0 ? 0 : b / sw + 1;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Tap (ki, kj) of one input plane xc (H, W) for output pixels [p0, p0 + np) into dst[0, np). */
static void tap_im2col(const lab_im2col_geom *g, const float *xc, int ki, int kj, int p0, int np, float *dst) {
  const int vlo = ow_first_valid(g->pl, kj, g->sw), vhi = ow_end_valid(g->w, g->pl, kj, g->sw);
  int p = p0;
  const int end = p0 + np;
  while (p < end) {
    const int oh = p / g->ow, ow0 = p % g->ow;
    const int ow1 = ow0 + (end - p) < g->ow ? ow0 + (end - p) : g->ow;
    /* Offsets rather than shifted pointers: a pointer before an array's start is undefined. */
    float *d = dst + (p - p0); /* d[ow - ow0] is output pixel (oh, ow)'s slot */
    const int ih = oh * g->sh - g->pt + ki;
    if (ih < 0 || ih >= g->h) {
      memset(d, 0, (size_t)(ow1 - ow0) * sizeof(float));
    } else {
      const int lo = clampi(vlo, ow0, ow1), hi = clampi(vhi, lo, ow1);
      const float *xr = xc + (size_t)ih * g->w; /* input column of ow: ow*sw - pl + kj */
      if (lo > ow0) memset(d, 0, (size_t)(lo - ow0) * sizeof(float));
      if (g->sw == 1) {
        if (hi > lo) memcpy(d + (lo - ow0), xr + (lo - g->pl + kj), (size_t)(hi - lo) * sizeof(float));
      } else {
        for (int ow = lo; ow < hi; ow++) d[ow - ow0] = xr[ow * g->sw - g->pl + kj];
      }
      if (ow1 > hi) memset(d + (hi - ow0), 0, (size_t)(ow1 - hi) * sizeof(float));
    }
    p += ow1 - ow0;
  }
}

/* The adjoint of tap_im2col: dxc (H, W) += the tap's contributions from src[0, np). */
static void tap_col2im(const lab_im2col_geom *g, const float *src, int ki, int kj, int p0, int np, float *dxc) {
  const int vlo = ow_first_valid(g->pl, kj, g->sw), vhi = ow_end_valid(g->w, g->pl, kj, g->sw);
  int p = p0;
  const int end = p0 + np;
  while (p < end) {
    const int oh = p / g->ow, ow0 = p % g->ow;
    const int ow1 = ow0 + (end - p) < g->ow ? ow0 + (end - p) : g->ow;
    const float *s = src + (p - p0); /* s[ow - ow0] is output pixel (oh, ow) */
    const int ih = oh * g->sh - g->pt + ki;
    if (ih >= 0 && ih < g->h) {
      const int lo = clampi(vlo, ow0, ow1), hi = clampi(vhi, lo, ow1);
      float *xr = dxc + (size_t)ih * g->w;
      if (g->sw == 1) {
        float *xd = xr + (lo - g->pl + kj);
        const float *sd = s + (lo - ow0);
        for (int i = 0; i < hi - lo; i++) xd[i] += sd[i];
      } else {
        for (int ow = lo; ow < hi; ow++) xr[ow * g->sw - g->pl + kj] += s[ow - ow0];
      }
    }
    p += ow1 - ow0;
  }
}

/* === narrow maps: an offset table ===
 * On the 17x17, 8x8 (and smaller) grids a row of a tap is a handful of floats, so the
 * row-by-row path above spends its time in loop control and memcpy calls. Instead one table,
 * shared by every channel and sample, holds for each (tap, output pixel) the input offset in
 * the plane, or -1 in the padding; a channel's rows are then a gather (a scatter-add back). */
static int use_table(const lab_im2col_geom *g, int np) {
  return g->ow <= LAB_IM2COL_TABLE_OW && (long)g->kh * g->kw * np <= LAB_IM2COL_TABLE_MAX;
}

static void tap_table(const lab_im2col_geom *g, int p0, int np, int *idx) {
  for (int ki = 0; ki < g->kh; ki++)
    for (int kj = 0; kj < g->kw; kj++)
      for (int i = 0; i < np; i++) {
        const int oh = (p0 + i) / g->ow, ow = (p0 + i) % g->ow;
        const int ih = oh * g->sh - g->pt + ki, iw = ow * g->sw - g->pl + kj;
        *idx++ = ih >= 0 && ih < g->h && iw >= 0 && iw < g->w ? ih * g->w + iw : -1;
      }
}

/* 1x1, stride 1, no padding: a row is the plane itself. */
static int is_identity(const lab_im2col_geom *g) {
  return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pt == 0 && g->pl == 0 && g->oh == g->h &&
         g->ow == g->w;
}

void lab_im2col(const lab_im2col_geom *g, const float *x, int n, int p0, int np, float *col, size_t ld) {
  const int taps = g->kh * g->kw, rows = g->c * taps;
  const size_t plane = (size_t)g->h * g->w;
  const long items = (long)n * rows;
  if (is_identity(g)) {
#pragma omp parallel for schedule(static) if ((long)rows * n * np > LAB_IM2COL_PAR_MIN)
    for (long it = 0; it < items; it++) {
      const int s = (int)(it / rows), c = (int)(it % rows);
      memcpy(col + (size_t)c * ld + (size_t)s * np, x + ((size_t)s * g->c + (size_t)c) * plane + p0,
             (size_t)np * sizeof(float));
    }
    return;
  }
  if (use_table(g, np)) {
    int idx[LAB_IM2COL_TABLE_MAX];
    tap_table(g, p0, np, idx);
    const long planes = (long)n * g->c;
#pragma omp parallel for schedule(static) if ((long)rows * n * np > LAB_IM2COL_PAR_MIN)
    for (long it = 0; it < planes; it++) {
      const int s = (int)(it / g->c), c = (int)(it % g->c);
      const float *xc = x + ((size_t)s * g->c + (size_t)c) * plane;
      for (int t = 0; t < taps; t++) {
        const int *ti = idx + (size_t)t * np;
        float *d = col + ((size_t)c * taps + (size_t)t) * ld + (size_t)s * np;
        for (int i = 0; i < np; i++) d[i] = ti[i] >= 0 ? xc[ti[i]] : 0.0f;
      }
    }
    return;
  }
  /* One (sample, row) pair per iteration: rows are independent, so any split is deterministic. */
#pragma omp parallel for schedule(static) if ((long)rows * n * np > LAB_IM2COL_PAR_MIN)
  for (long it = 0; it < items; it++) {
    const int s = (int)(it / rows), r = (int)(it % rows);
    const int c = r / taps, ki = (r % taps) / g->kw, kj = r % g->kw;
    const float *xc = x + ((size_t)s * g->c + (size_t)c) * plane;
    tap_im2col(g, xc, ki, kj, p0, np, col + (size_t)r * ld + (size_t)s * np);
  }
}

void lab_col2im_add(const lab_im2col_geom *g, const float *col, size_t ld, int n, int p0, int np, float *dx) {
  const int taps = g->kh * g->kw;
  const size_t plane = (size_t)g->h * g->w;
  const long items = (long)n * g->c;
  if (is_identity(g)) {
#pragma omp parallel for schedule(static) if ((long)g->c * n * np > LAB_IM2COL_PAR_MIN)
    for (long it = 0; it < items; it++) {
      const int s = (int)(it / g->c), c = (int)(it % g->c);
      const float *src = col + (size_t)c * ld + (size_t)s * np;
      float *d = dx + ((size_t)s * g->c + (size_t)c) * plane + p0;
      for (int i = 0; i < np; i++) d[i] += src[i];
    }
    return;
  }
  if (use_table(g, np)) {
    int idx[LAB_IM2COL_TABLE_MAX];
    tap_table(g, p0, np, idx);
#pragma omp parallel for schedule(static) if ((long)g->c * taps * n * np > LAB_IM2COL_PAR_MIN)
    for (long it = 0; it < items; it++) {
      const int s = (int)(it / g->c), c = (int)(it % g->c);
      float *dxc = dx + ((size_t)s * g->c + (size_t)c) * plane;
      for (int t = 0; t < taps; t++) { /* one thread per plane, taps in order: deterministic */
        const int *ti = idx + (size_t)t * np;
        const float *src = col + ((size_t)c * taps + (size_t)t) * ld + (size_t)s * np;
        for (int i = 0; i < np; i++)
          if (ti[i] >= 0) dxc[ti[i]] += src[i];
      }
    }
    return;
  }
  /* A (sample, channel) plane receives all its taps from one thread, in tap order. */
#pragma omp parallel for schedule(static) if ((long)g->c * taps * n * np > LAB_IM2COL_PAR_MIN)
  for (long it = 0; it < items; it++) {
    const int s = (int)(it / g->c), c = (int)(it % g->c);
    float *dxc = dx + ((size_t)s * g->c + (size_t)c) * plane;
    for (int t = 0; t < taps; t++) {
      const size_t r = (size_t)c * taps + (size_t)t;
      tap_col2im(g, col + r * ld + (size_t)s * np, t / g->kw, t % g->kw, p0, np, dxc);
    }
  }
}
