/* pool.c: max and average pooling (torch.nn.MaxPool2d / AvgPool2d, and TF's SAME average),
 * and adaptive average pooling (torch.nn.AdaptiveAvgPool2d; 1x1 = global average pool).
 *
 * x: (N, C, H, W), in; y: (N, C, OH, OW), out. Padding is asymmetric (PT PB PL PR).
 *
 * Output size, as PyTorch's pooling_output_shape:
 *   OH = floor((H + PT + PB - KH) / SH) + 1, or with ceil_mode ceil(...) + 1 and then
 *   OH -= 1 if (OH - 1) * SH >= H + PT (the last window must start inside the input or the
 *   top padding, never in the bottom padding alone).
 * Like PyTorch, each padding must be at most half the kernel (PT, PB <= KH/2; PL, PR <= KW/2),
 * which together with the rule above guarantees every window holds a real pixel.
 *
 * Window of output row oh: rows [oh*SH - PT, oh*SH - PT + KH) clipped to [0, H) (columns alike).
 * Max: padding acts as -inf; the first maximum in row-major window order wins (strict >), and
 *   a NaN always replaces the running max (PyTorch's CPU rule), so NaN propagates. The argmax,
 *   as h*W + w inside the (n, c) plane, is cached as int32 (N*C*OH*OW of them, one float slot
 *   each); backward adds dy to that input pixel.
 * Average: divisor with count_include_pad = 1 is PyTorch's: (hend - hstart) * (wend - wstart)
 *   with the window end clipped to H + PB (W + PR) but the start not clipped, so padded cells
 *   count, yet cells beyond the padding that ceil_mode may add do not. With 0 (TF SAME) the
 *   divisor is the number of real pixels in the window.
 *
 * Adaptive average: output bin i covers rows [floor(i*H/OH), ceil((i+1)*H/OH)) (columns
 * alike); bins may overlap and OH may exceed H, as in PyTorch.
 *
 * OpenMP splits the N*C planes; each output (and, in backward, each input plane) belongs to
 * exactly one thread, so results are independent of the thread count.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "lab/layers.h"

_Static_assert(sizeof(int32_t) == sizeof(float), "max-pool argmax is cached in float-sized slots");

/* === geometry === */

/* floor(a / b) for b > 0 and any sign of a. */
static long floor_div(long a, long b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/* One dimension of PyTorch's pooling_output_shape_pad_lr (dilation 1). */
static long pool_out_dim(long in, long k, long pad_lo, long pad_hi, long s, int ceil_mode) {
  long out = floor_div(in + pad_lo + pad_hi - k + (ceil_mode ? s - 1 : 0), s) + 1;
  if (ceil_mode && (out - 1) * s >= in + pad_lo) out--;
  return out;
}

static lab_status pool_shape(const lab_layer_cfg *cfg, const lab_shape *in, int n_in, lab_shape *out,
                             lab_error *err) {
  const lab_pool_cfg *p = &cfg->pool;
  if (n_in != 1) return lab_error_set(err, LAB_ERR_SHAPE, "pool takes 1 input, got %d", n_in);
  char s[48];
  lab_shape_str(in[0], s, sizeof s);
  if (in[0].c < 1 || in[0].h < 1 || in[0].w < 1)
    return lab_error_set(err, LAB_ERR_SHAPE, "pool: empty input %s", s);
  if (p->kind != LAB_POOL_MAX && p->kind != LAB_POOL_AVG)
    return lab_error_set(err, LAB_ERR_CONFIG, "pool: unknown kind %d on input %s", (int)p->kind, s);
  if (p->kh < 1 || p->kw < 1 || p->sh < 1 || p->sw < 1)
    return lab_error_set(err, LAB_ERR_SHAPE, "pool: kernel %dx%d stride %dx%d on input %s must be >= 1",
                         p->kh, p->kw, p->sh, p->sw, s);
  if (p->pt < 0 || p->pb < 0 || p->pl < 0 || p->pr < 0 || p->pt > p->kh / 2 || p->pb > p->kh / 2 ||
      p->pl > p->kw / 2 || p->pr > p->kw / 2)
    return lab_error_set(err, LAB_ERR_SHAPE,
                         "pool: padding (top %d, bottom %d, left %d, right %d) on input %s must be in "
                         "[0, half the %dx%d kernel]",
                         p->pt, p->pb, p->pl, p->pr, s, p->kh, p->kw);
  long oh = pool_out_dim(in[0].h, p->kh, p->pt, p->pb, p->sh, p->ceil_mode);
  long ow = pool_out_dim(in[0].w, p->kw, p->pl, p->pr, p->sw, p->ceil_mode);
  if (oh < 1 || ow < 1)
    return lab_error_set(err, LAB_ERR_SHAPE,
                         "pool: %dx%d/%dx%d kernel/stride, padding (%d,%d,%d,%d)%s on input %s gives "
                         "output %ldx%ld",
                         p->kh, p->kw, p->sh, p->sw, p->pt, p->pb, p->pl, p->pr,
                         p->ceil_mode ? ", ceil_mode" : "", s, oh, ow);
  *out = (lab_shape){in[0].c, (int)oh, (int)ow};
  return LAB_STATUS_OK;
}

static void pool_cost(const lab_layer *l, int batch, lab_cost *cost) {
  *cost = (lab_cost){0};
  cost->act_floats = lab_shape_numel(l->out);
  if (l->cfg.pool.kind == LAB_POOL_MAX) cost->cache_floats = (uint64_t)batch * lab_shape_numel(l->out);
}

/* === max and average pooling === */

static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

/* Average-pool divisor of the window starting at padded-coordinate (h0, w0); see banner. */
static float avg_divisor(const lab_pool_cfg *p, int h, int w, int h0, int w0) {
  int h1 = h0 + p->kh, w1 = w0 + p->kw;
  if (p->count_include_pad) return (float)((imin(h1, h + p->pb) - h0) * (imin(w1, w + p->pr) - w0));
  return (float)((imin(h1, h) - imax(h0, 0)) * (imin(w1, w) - imax(w0, 0)));
}

/* Max over the window rows [hs, he) x columns [ws, we) of plane xp: the first maximum in
 * row-major order, NaN replacing the running max. */
static float window_max(const float *xp, int w, int hs, int he, int ws, int we, int32_t *best) {
  float m = -INFINITY;
  int32_t at = (int32_t)(hs * w + ws);
  for (int a = hs; a < he; a++)
    for (int b = ws; b < we; b++) {
      const float v = xp[a * w + b];
      if (v > m || isnan(v)) {
        m = v;
        at = (int32_t)(a * w + b);
      }
    }
  *best = at;
  return m;
}

/* The same for a 3x3 window starting at offset o, unrolled (the stems' and grid reductions'
 * 3x3/2 max pools): same visiting order, same result. */
static float window_max3(const float *xp, int w, int32_t o, int32_t *best) {
  const int32_t offs[9] = {o, o + 1, o + 2, o + w, o + w + 1, o + w + 2, o + 2 * w, o + 2 * w + 1, o + 2 * w + 2};
  float m = -INFINITY;
  int32_t at = o;
  for (int t = 0; t < 9; t++) { /* selects, not branches: the winner's position is random */
    const float v = xp[offs[t]];
    const int take = (v > m) | (v != v);
    m = take ? v : m;
    at = take ? offs[t] : at;
  }
  *best = at;
  return m;
}

static void pool_forward(lab_layer *l, const float *const *x, float *y, lab_ctx *ctx) {
  const lab_pool_cfg *p = &l->cfg.pool;
  const int h = l->in[0].h, w = l->in[0].w, oh = l->out.h, ow = l->out.w;
  const long planes = (long)ctx->batch * l->in[0].c;
  const int is_max = p->kind == LAB_POOL_MAX, k3 = p->kh == 3 && p->kw == 3;
  int32_t *arg = is_max ? (int32_t *)l->cache : NULL;
  LAB_ASSERT(ctx->batch <= l->batch, "batch %d exceeds the planned %d", ctx->batch, l->batch);
  const float *xi = x[0];

#pragma omp parallel for schedule(static)
  for (long q = 0; q < planes; q++) {
    const float *xp = xi + (size_t)q * h * w;
    float *yp = y + (size_t)q * oh * ow;
    int32_t *ap = is_max ? arg + (size_t)q * oh * ow : NULL;
    for (int i = 0; i < oh; i++) {
      const int h0 = i * p->sh - p->pt, hs = imax(h0, 0), he = imin(h0 + p->kh, h);
      const int rows_full = hs == h0 && he == h0 + p->kh;
      for (int j = 0; j < ow; j++) {
        const int w0 = j * p->sw - p->pl, ws = imax(w0, 0), we = imin(w0 + p->kw, w);
        LAB_ASSERT(hs < he && ws < we, "pool window (%d, %d) holds no input pixel", i, j);
        const int interior = k3 && rows_full && ws == w0 && we == w0 + 3;
        if (is_max) {
          yp[i * ow + j] = interior ? window_max3(xp, w, (int32_t)(hs * w + ws), &ap[i * ow + j])
                                    : window_max(xp, w, hs, he, ws, we, &ap[i * ow + j]);
        } else {
          float s = 0.0f;
          if (interior) { /* the generic loop's order, unrolled */
            const float *r = xp + hs * w + ws;
            s = ((((((((s + r[0]) + r[1]) + r[2]) + r[w]) + r[w + 1]) + r[w + 2]) + r[2 * w]) + r[2 * w + 1]) +
                r[2 * w + 2];
          } else {
            for (int a = hs; a < he; a++)
              for (int b = ws; b < we; b++) s += xp[a * w + b];
          }
          yp[i * ow + j] = s / avg_divisor(p, h, w, h0, w0);
        }
      }
    }
  }
}

static void pool_backward(lab_layer *l, const float *const *x, const float *y, const float *dy,
                          float *const *dx, lab_ctx *ctx) {
  (void)x;
  (void)y;
  const lab_pool_cfg *p = &l->cfg.pool;
  const int h = l->in[0].h, w = l->in[0].w, oh = l->out.h, ow = l->out.w;
  const long planes = (long)ctx->batch * l->in[0].c;
  const int is_max = p->kind == LAB_POOL_MAX;
  const int32_t *arg = is_max ? (const int32_t *)l->cache : NULL;
  float *d = dx[0];
  if (!d) return;

#pragma omp parallel for schedule(static)
  for (long q = 0; q < planes; q++) {
    float *dp = d + (size_t)q * h * w;
    const float *gp = dy + (size_t)q * oh * ow;
    for (int i = 0; i < oh; i++) {
      int h0 = i * p->sh - p->pt, hs = imax(h0, 0), he = imin(h0 + p->kh, h);
      for (int j = 0; j < ow; j++) {
        float g = gp[i * ow + j];
        if (is_max) {
          dp[arg[(size_t)q * oh * ow + (size_t)(i * ow + j)]] += g;
          continue;
        }
        int w0 = j * p->sw - p->pl, ws = imax(w0, 0), we = imin(w0 + p->kw, w);
        float share = g / avg_divisor(p, h, w, h0, w0);
        for (int a = hs; a < he; a++)
          for (int b = ws; b < we; b++) dp[a * w + b] += share;
      }
    }
  }
}

const lab_layer_ops lab_pool_ops = {
    .type = "pool",
    .shape = pool_shape,
    .cost = pool_cost,
    .params = NULL,
    .init = NULL,
    .forward = pool_forward,
    .backward = pool_backward,
};

/* === adaptive average pooling === */

static int bin_start(int i, int in, int out) { return (int)(((long)i * in) / out); }
static int bin_end(int i, int in, int out) { return (int)(((long)(i + 1) * in + out - 1) / out); }

static lab_status apool_shape(const lab_layer_cfg *cfg, const lab_shape *in, int n_in, lab_shape *out,
                              lab_error *err) {
  if (n_in != 1) return lab_error_set(err, LAB_ERR_SHAPE, "adaptive_pool takes 1 input, got %d", n_in);
  char s[48];
  lab_shape_str(in[0], s, sizeof s);
  if (in[0].c < 1 || in[0].h < 1 || in[0].w < 1)
    return lab_error_set(err, LAB_ERR_SHAPE, "adaptive_pool: empty input %s", s);
  if (cfg->apool.oh < 1 || cfg->apool.ow < 1)
    return lab_error_set(err, LAB_ERR_SHAPE, "adaptive_pool: output %dx%d on input %s must be >= 1x1",
                         cfg->apool.oh, cfg->apool.ow, s);
  *out = (lab_shape){in[0].c, cfg->apool.oh, cfg->apool.ow};
  return LAB_STATUS_OK;
}

static void apool_forward(lab_layer *l, const float *const *x, float *y, lab_ctx *ctx) {
  const int h = l->in[0].h, w = l->in[0].w, oh = l->out.h, ow = l->out.w;
  const long planes = (long)ctx->batch * l->in[0].c;
  const float *xi = x[0];

#pragma omp parallel for schedule(static)
  for (long q = 0; q < planes; q++) {
    const float *xp = xi + (size_t)q * h * w;
    float *yp = y + (size_t)q * oh * ow;
    for (int i = 0; i < oh; i++) {
      int hs = bin_start(i, h, oh), he = bin_end(i, h, oh);
      for (int j = 0; j < ow; j++) {
        int ws = bin_start(j, w, ow), we = bin_end(j, w, ow);
        float s = 0.0f;
        for (int a = hs; a < he; a++)
          for (int b = ws; b < we; b++) s += xp[a * w + b];
        yp[i * ow + j] = s / (float)((he - hs) * (we - ws));
      }
    }
  }
}

static void apool_backward(lab_layer *l, const float *const *x, const float *y, const float *dy,
                           float *const *dx, lab_ctx *ctx) {
  (void)x;
  (void)y;
  const int h = l->in[0].h, w = l->in[0].w, oh = l->out.h, ow = l->out.w;
  const long planes = (long)ctx->batch * l->in[0].c;
  float *d = dx[0];
  if (!d) return;

#pragma omp parallel for schedule(static)
  for (long q = 0; q < planes; q++) {
    float *dp = d + (size_t)q * h * w;
    const float *gp = dy + (size_t)q * oh * ow;
    for (int i = 0; i < oh; i++) {
      int hs = bin_start(i, h, oh), he = bin_end(i, h, oh);
      for (int j = 0; j < ow; j++) {
        int ws = bin_start(j, w, ow), we = bin_end(j, w, ow);
        float share = gp[i * ow + j] / (float)((he - hs) * (we - ws));
        for (int a = hs; a < he; a++)
          for (int b = ws; b < we; b++) dp[a * w + b] += share;
      }
    }
  }
}

static void apool_cost(const lab_layer *l, int batch, lab_cost *cost) {
  (void)batch;
  *cost = (lab_cost){0};
  cost->act_floats = lab_shape_numel(l->out);
}

const lab_layer_ops lab_adaptive_pool_ops = {
    .type = "adaptive_pool",
    .shape = apool_shape,
    .cost = apool_cost,
    .params = NULL,
    .init = NULL,
    .forward = apool_forward,
    .backward = apool_backward,
};
