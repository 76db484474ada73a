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
#include <string.h>

#include "lab/layers.h"

_Static_assert(sizeof(int32_t) == sizeof(float), "max-pool argmax is cached in float-sized slots");

/* Widest kernel (the per-call table of valid output columns per kernel column, tap_cols). */
#define POOL_KW_MAX 64

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
  if (p->kw > POOL_KW_MAX)
    return lab_error_set(err, LAB_ERR_SHAPE, "pool: kernel width %d on input %s: at most %d (use adaptive_pool)",
                         p->kw, s, POOL_KW_MAX);
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

/* === forward and backward, one output row at a time ===
 * For output row i every window tap (a, b), in row-major window order, is applied to the
 * whole row at once: output j reads input (a, j*SW - PL + b) for the j whose column falls
 * inside the input (tap_cols). Each output still sees its taps in row-major order, so the
 * results equal a per-window loop's, but the inner loop runs over j without branches and
 * vectorises. */

/* Outputs j in [j0, j1) whose tap column j*sw - pl + b lies in [0, w), for every tap column b
 * of the kernel: computed once per call (integer divisions are slow next to the rows). */
typedef struct tap_cols {
  int j0[POOL_KW_MAX], j1[POOL_KW_MAX];
} tap_cols;

static void tap_cols_make(const lab_pool_cfg *p, int w, int ow, tap_cols *tc) {
  for (int b = 0; b < p->kw; b++) {
    const int lo = p->pl - b, hi = w - 1 + p->pl - b; /* need lo <= j*sw <= hi */
    int j0 = lo <= 0 ? 0 : (lo + p->sw - 1) / p->sw, j1 = hi < 0 ? 0 : imin(hi / p->sw + 1, ow);
    tc->j0[b] = imin(j0, j1);
    tc->j1[b] = j1;
  }
}

/* The average's divisor is (row count) x (column count) of the window, with the banner's rule:
 * count_include_pad counts padding up to the padded edge, otherwise only real pixels.
 * The column factor of output j, whose window starts at padded column w0: */
static float col_count(const lab_pool_cfg *p, int w, int w0) {
  return (float)(p->count_include_pad ? imin(w0 + p->kw, w + p->pr) - w0 : imin(w0 + p->kw, w) - imax(w0, 0));
}

/* The row's factor of the divisor: its window's row count. */
static int row_count(const lab_pool_cfg *p, int h, int h0) {
  return p->count_include_pad ? imin(h0 + p->kh, h + p->pb) - h0 : imin(h0 + p->kh, h) - imax(h0, 0);
}

static void max_row(const lab_pool_cfg *p, const tap_cols *tc, const float *restrict xp, int w, int ow, int hs,
                    int he, float *restrict yr, int32_t *restrict ar) {
  for (int j = 0; j < ow; j++) {
    yr[j] = -INFINITY;
    ar[j] = (int32_t)(hs * w + imax(j * p->sw - p->pl, 0)); /* the window's first pixel */
  }
  for (int a = hs; a < he; a++)
    for (int b = 0; b < p->kw; b++) {
      const int j0 = tc->j0[b], j1 = tc->j1[b];
      const int32_t base = (int32_t)(a * w - p->pl + b);
      const float *xr = xp + base; /* xr[j*sw] is the tap's pixel for output j */
      for (int j = j0; j < j1; j++) {
        const float v = xr[j * p->sw], m = yr[j];
        /* strict > keeps the first maximum; a NaN always replaces (PyTorch's CPU rule) */
        const int take = (v > m) | (v != v);
        yr[j] = take ? v : m;
        ar[j] = take ? base + j * p->sw : ar[j];
      }
    }
}

static void avg_row(const lab_pool_cfg *p, const tap_cols *tc, const float *restrict xp, int h, int w, int ow,
                    int h0, int hs, int he, float *restrict yr) {
  for (int j = 0; j < ow; j++) yr[j] = 0.0f;
  for (int a = hs; a < he; a++)
    for (int b = 0; b < p->kw; b++) {
      const float *xr = xp + a * w - p->pl + b;
      for (int j = tc->j0[b]; j < tc->j1[b]; j++) yr[j] += xr[j * p->sw];
    }
  const int rows = row_count(p, h, h0);
  for (int j = 0; j < ow; j++) yr[j] /= (float)rows * col_count(p, w, j * p->sw - p->pl);
}

/* Maps narrower than a vector (OW < POOL_ROW_MIN_OW: the small grids at small input sizes):
 * one window at a time, in the same tap order. There the row form's per-tap set-up costs more
 * than it saves (measured 1.6-2x slower on 3x3 and 1x1 maps, 2-4x faster on 35x35). */
#define POOL_ROW_MIN_OW 8

static void window_plane(const lab_pool_cfg *p, const float *restrict xp, int h, int w, int oh, int ow,
                         float *restrict yp, int32_t *restrict ap) {
  for (int i = 0; i < oh; i++) {
    const int h0 = i * p->sh - p->pt, hs = imax(h0, 0), he = imin(h0 + p->kh, h);
    const float rows = (float)row_count(p, h, h0);
    for (int j = 0; j < ow; j++) {
      const int w0 = j * p->sw - p->pl, ws = imax(w0, 0), we = imin(w0 + p->kw, w);
      if (ap) {
        float m = -INFINITY;
        int32_t at = (int32_t)(hs * w + ws);
        for (int a = hs; a < he; a++)
          for (int b = ws; b < we; b++) {
            const float v = xp[a * w + b];
            const int take = (v > m) | (v != v);
            m = take ? v : m;
            at = take ? (int32_t)(a * w + b) : at;
          }
        yp[i * ow + j] = m;
        ap[i * ow + j] = at;
      } else {
        float sum = 0.0f;
        for (int a = hs; a < he; a++)
          for (int b = ws; b < we; b++) sum += xp[a * w + b];
        yp[i * ow + j] = sum / (rows * col_count(p, w, w0));
      }
    }
  }
}

/* Narrow maps (POOL_PADDED_MIN_OW <= OW < POOL_ROW_MIN_OW: the Inception modules' pool
 * branches and the stem's last max pool at small input sizes): the plane is copied once into
 * a padded one (0 for average, -inf for max), so every window has the same KH x KW taps and
 * the row loop needs no bounds. Taps run in row-major window order as in window_plane. A
 * padding 0 leaves a sum that starts at +0 unchanged (it is never -0); a padding -inf never
 * replaces the running max (strict >, not NaN), and the argmax starts at the window's first
 * real pixel as there. So the outputs are window_plane's, bit for bit. */
#define POOL_PADDED_MAX 1024 /* floats of the padded plane (a stack buffer) */

/* Below POOL_PADDED_MIN_OW the copy costs more than the bounds it saves (measured on 3x3 and
 * 1x1 maps, 3x3/1 average: 1.25x and 2.9x slower than window_plane; on 7x7 1.7x faster). */
#define POOL_PADDED_MIN_OW 4

/* Rows and columns of the padded plane: every window of the output lies inside it. */
static int padded_rows(const lab_pool_cfg *p, int oh) { return (oh - 1) * p->sh + p->kh; }
static int padded_cols(const lab_pool_cfg *p, int ow) { return (ow - 1) * p->sw + p->kw; }

static int padded_fits(const lab_pool_cfg *p, int oh, int ow) {
  return ow >= POOL_PADDED_MIN_OW && ow < POOL_ROW_MIN_OW && padded_rows(p, oh) * padded_cols(p, ow) <= POOL_PADDED_MAX;
}

static void plane_padded(const lab_pool_cfg *p, const float *restrict xp, int h, int w, int oh, int ow,
                         float *restrict yp, int32_t *restrict ap) {
  float pad[POOL_PADDED_MAX];
  const int ph = padded_rows(p, oh), pw = padded_cols(p, ow);
  const float fill = ap ? -INFINITY : 0.0f;
  for (int k = 0; k < ph * pw; k++) pad[k] = fill;
  for (int a = 0; a < h; a++) {
    const int r = a + p->pt;
    if (r < ph) memcpy(pad + r * pw + p->pl, xp + a * w, (size_t)imin(w, pw - p->pl) * sizeof(float));
  }
  for (int i = 0; i < oh; i++) {
    const int h0 = i * p->sh - p->pt;
    float acc[POOL_ROW_MIN_OW];
    int32_t at[POOL_ROW_MIN_OW];
    for (int j = 0; j < ow; j++) {
      acc[j] = fill;
      at[j] = (int32_t)(imax(h0, 0) * w + imax(j * p->sw - p->pl, 0)); /* the window's first pixel */
    }
    for (int a = 0; a < p->kh; a++)
      for (int b = 0; b < p->kw; b++) {
        const float *pr = pad + (i * p->sh + a) * pw + b; /* pr[j*sw]: tap (a, b) of output j */
        if (ap) {
          const int32_t base = (int32_t)((h0 + a) * w - p->pl + b);
          for (int j = 0; j < ow; j++) {
            const float v = pr[j * p->sw], m = acc[j];
            const int take = (v > m) | (v != v);
            acc[j] = take ? v : m;
            at[j] = take ? base + j * p->sw : at[j];
          }
        } else {
          for (int j = 0; j < ow; j++) acc[j] += pr[j * p->sw];
        }
      }
    if (ap) {
      for (int j = 0; j < ow; j++) yp[i * ow + j] = acc[j], ap[i * ow + j] = at[j];
    } else {
      const float rows = (float)row_count(p, h, h0);
      for (int j = 0; j < ow; j++) yp[i * ow + j] = acc[j] / (rows * col_count(p, w, j * p->sw - p->pl));
    }
  }
}

static void pool_forward(lab_layer *l, const float *const *x, float *y, lab_ctx *ctx) {
  const lab_pool_cfg *p = &l->cfg.pool;
  const int h = l->in[0].h, w = l->in[0].w, oh = l->out.h, ow = l->out.w;
  const long planes = (long)ctx->batch * l->in[0].c;
  const int is_max = p->kind == LAB_POOL_MAX;
  int32_t *arg = is_max ? (int32_t *)l->cache : NULL;
  LAB_ASSERT(ctx->batch <= l->batch, "batch %d exceeds the planned %d", ctx->batch, l->batch);
  const float *xi = x[0];
  const int padded = padded_fits(p, oh, ow);
  tap_cols tc;
  tap_cols_make(p, w, ow, &tc);

#pragma omp parallel for schedule(static)
  for (long q = 0; q < planes; q++) {
    const float *xp = xi + (size_t)q * h * w;
    if (padded) {
      plane_padded(p, xp, h, w, oh, ow, y + (size_t)q * oh * ow, is_max ? arg + (size_t)q * oh * ow : NULL);
      continue;
    }
    if (ow < POOL_ROW_MIN_OW) {
      window_plane(p, xp, h, w, oh, ow, y + (size_t)q * oh * ow, is_max ? arg + (size_t)q * oh * ow : NULL);
      continue;
    }
    for (int i = 0; i < oh; i++) {
      const int h0 = i * p->sh - p->pt, hs = imax(h0, 0), he = imin(h0 + p->kh, h);
      LAB_ASSERT(hs < he, "pool window row %d holds no input pixel", i);
      float *yr = y + (size_t)q * oh * ow + (size_t)i * ow;
      if (is_max)
        max_row(p, &tc, xp, w, ow, hs, he, yr, arg + (size_t)q * oh * ow + (size_t)i * ow);
      else
        avg_row(p, &tc, xp, h, w, ow, h0, hs, he, yr);
    }
  }
}

/* Average-pool backward of output row i for stride-1 columns: each output's share
 * dy / divisor is formed once into a row with KW - 1 zeros on either side, and every tap
 * column b then adds that row to all W pixels of each window row (input column x takes the
 * share of output x + PL - b). Every pixel receives its shares in the row form's order (tap
 * column ascending) and padding zeros leave its sum unchanged, so dx is the row form's, bit
 * for bit, without a division and the valid-range bounds per tap. */
static void avg_backward_row_s1(const lab_pool_cfg *p, const float *restrict gr, int ow, int w, int hs, int he,
                                float rows, float *restrict dp) {
  float share[POOL_PADDED_MAX];
  const int edge = p->kw - 1, len = ow + 2 * edge;
  for (int k = 0; k < edge; k++) share[k] = share[len - 1 - k] = 0.0f;
  for (int j = 0; j < ow; j++) share[edge + j] = gr[j] / (rows * col_count(p, w, j - p->pl));
  for (int a = hs; a < he; a++)
    for (int b = 0; b < p->kw; b++) {
      const float *sr = share + edge + p->pl - b; /* sr[x]: the share of output x + PL - b */
      float *dr = dp + a * w;
      for (int x = 0; x < w; x++) dr[x] += sr[x];
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
  /* the share row for stride-1 columns, except on 1-pixel-wide maps (1.4x slower there) */
  const int row_buf = !is_max && p->sw == 1 && w > 1 && ow + 2 * (p->kw - 1) <= POOL_PADDED_MAX;
  tap_cols tc;
  tap_cols_make(p, w, ow, &tc);

#pragma omp parallel for schedule(static)
  for (long q = 0; q < planes; q++) {
    float *dp = d + (size_t)q * h * w;
    const float *gp = dy + (size_t)q * oh * ow;
    if (is_max) {
      const int32_t *ap = arg + (size_t)q * oh * ow;
      for (int o = 0; o < oh * ow; o++) dp[ap[o]] += gp[o];
      continue;
    }
    for (int i = 0; i < oh; i++) {
      const int h0 = i * p->sh - p->pt, hs = imax(h0, 0), he = imin(h0 + p->kh, h);
      const float *gr = gp + (size_t)i * ow;
      const int rows = row_count(p, h, h0);
      if (row_buf) {
        avg_backward_row_s1(p, gr, ow, w, hs, he, (float)rows, dp);
        continue;
      }
      for (int a = hs; a < he; a++)
        for (int b = 0; b < p->kw; b++) {
          float *dr = dp + a * w - p->pl + b; /* dr[j*sw]: the tap's pixel for output j */
          for (int j = tc.j0[b]; j < tc.j1[b]; j++)
            dr[j * p->sw] += gr[j] / ((float)rows * col_count(p, w, j * p->sw - p->pl));
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
