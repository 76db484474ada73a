/* conv2d.c: 2-D convolution, NCHW float32, as torch.nn.Conv2d (groups = 1, dilation = 1) with
 * asymmetric padding (PT PB PL PR), so 1xn and nx1 kernels (paper Sec. 3.2, Fig. 6-7) are the
 * same layer as 3x3.
 *
 *   x: (N, IC, H, W)   W: (OC, IC, KH, KW)   b: (OC)   y: (N, OC, OH, OW)
 *   OH = floor((H + PT + PB - KH) / SH) + 1, OW likewise.
 *
 * Forward is im2col + one BLIS sgemm per block of output columns: y = W (OC x K) * col (K x cols),
 * K = IC*KH*KW. The column blocks are chosen once per (layer, planned batch) by conv_plan:
 *  - large maps: one sample at a time, its OH*OW pixels cut into slices of at most LAB_CONV_COLS
 *    columns, so the im2col workspace stays bounded; the GEMM writes straight into
 *    y (row stride OH*OW) and reads dy in place in backward.
 *  - small maps (8x8, 17x17): several whole samples side by side in one column matrix, since a GEMM
 *    with 64 or 289 columns runs far below the BLIS peak. The price is a scatter of the GEMM result
 *    into NCHW (a copy of OC*cols floats next to OC*K*cols multiply-adds).
 *  - 1x1 stride 1 unpadded on a large map: x already is the column matrix, no workspace at all.
 * Backward recomputes im2col per block (no cache): dW += dy col^T, dcol = W^T dy, dx += col2im(dcol).
 * Every reduction runs in a fixed order, so results are deterministic for a fixed thread count.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lab/gemm.h"
#include "lab/im2col.h"
#include "lab/layers.h"

/* Columns per GEMM and the most floats one im2col block may take (16 MiB). BLIS reaches its
 * speed from about 2k columns on; larger blocks still pay because every GEMM call and OpenMP
 * region is a barrier between the threads, and a barrier costs a whole scheduler slice when the
 * machine is oversubscribed (measured: Conv2d_2a 2.8x faster with 16k- than 4k-column blocks on a
 * loaded 2-core machine, unchanged otherwise). */
#define LAB_CONV_COLS 16384
#define LAB_CONV_COL_CAP ((size_t)4 << 20)
/* A 1x1 map with at least this many pixels is multiplied in place, per sample. */
#define LAB_CONV_DIRECT_MIN_P 1024
/* Below this many floats copied, an OpenMP fork costs more than it saves. */
#define LAB_CONV_PAR_MIN 32768

typedef struct conv_plan {
  int k;        /* GEMM inner size IC*KH*KW */
  int p;        /* pixels per output map OH*OW */
  int direct;   /* 1x1, stride 1, unpadded, large map: no im2col, no workspace */
  int group;    /* samples per column block; > 1 means scatter through tmp */
  int cols;     /* columns per block: a slice of one map (group 1) or group*p */
  size_t col_floats, tmp_floats; /* workspace: col (K, cols), tmp (OC, cols) */
} conv_plan;

static lab_im2col_geom conv_geom(const lab_layer *l) {
  const lab_conv2d_cfg *c = &l->cfg.conv;
  lab_im2col_geom g = {l->in[0].c, l->in[0].h, l->in[0].w, c->kh, c->kw, c->sh, c->sw,
                       c->pt,      c->pl,      l->out.h,   l->out.w};
  return g;
}

static conv_plan conv_plan_make(const lab_layer *l, int batch) {
  const lab_conv2d_cfg *c = &l->cfg.conv;
  conv_plan pl;
  memset(&pl, 0, sizeof pl);
  pl.k = l->in[0].c * c->kh * c->kw;
  pl.p = l->out.h * l->out.w;
  if (batch < 1) batch = 1;
  const int unit = c->kh == 1 && c->kw == 1 && c->sh == 1 && c->sw == 1 && c->pt == 0 && c->pb == 0 &&
                   c->pl == 0 && c->pr == 0;
  if (unit && (pl.p >= LAB_CONV_DIRECT_MIN_P || batch == 1)) {
    pl.direct = 1;
    pl.group = 1;
    pl.cols = pl.p;
    return pl;
  }
  /* Columns per block: LAB_CONV_COLS, fewer when K is so large that the block would pass the cap
   * (but never under 256, where the GEMM would crawl). */
  const size_t by_cap = LAB_CONV_COL_CAP / (size_t)pl.k;
  const int limit = by_cap < 256 ? 256 : by_cap > LAB_CONV_COLS ? LAB_CONV_COLS : (int)by_cap;
  if (pl.p > limit) { /* balanced slices of one map */
    int slices = (pl.p + limit - 1) / limit;
    pl.group = 1;
    pl.cols = (pl.p + slices - 1) / slices;
  } else {
    /* As many samples as fit, then evened out: 20 samples at 14 per block run as 10+10. */
    int g = limit / pl.p;
    g = g < 1 ? 1 : g > batch ? batch : g;
    const int blocks = (batch + g - 1) / g;
    pl.group = (batch + blocks - 1) / blocks;
    pl.cols = pl.group * pl.p;
  }
  pl.col_floats = (size_t)pl.k * (size_t)pl.cols;
  if (pl.group > 1) pl.tmp_floats = (size_t)l->cfg.conv.oc * (size_t)pl.cols;
  return pl;
}

static size_t conv_scratch(const conv_plan *pl) { return lab_arena_round(pl->col_floats) + pl->tmp_floats; }

/* === shape, cost, params, init === */

static lab_status conv_shape(const lab_layer_cfg *cfg, const lab_shape *in, int n_in, lab_shape *out,
                             lab_error *err) {
  const lab_conv2d_cfg *c = &cfg->conv;
  if (n_in != 1) return lab_error_set(err, LAB_ERR_SHAPE, "conv2d takes 1 input, got %d", n_in);
  char sin[48];
  lab_shape_str(in[0], sin, sizeof sin);
  if (in[0].c < 1 || in[0].h < 1 || in[0].w < 1 || c->oc < 1 || c->kh < 1 || c->kw < 1 || c->sh < 1 ||
      c->sw < 1 || c->pt < 0 || c->pb < 0 || c->pl < 0 || c->pr < 0)
    return lab_error_set(err, LAB_ERR_SHAPE,
                         "conv2d: invalid setting for input %s: out channels %d, kernel %dx%d, stride %dx%d, "
                         "padding (top %d, bottom %d, left %d, right %d)",
                         sin, c->oc, c->kh, c->kw, c->sh, c->sw, c->pt, c->pb, c->pl, c->pr);
  const long hp = (long)in[0].h + c->pt + c->pb, wp = (long)in[0].w + c->pl + c->pr;
  if (hp < c->kh || wp < c->kw)
    return lab_error_set(err, LAB_ERR_SHAPE,
                         "conv2d: kernel %dx%d (stride %dx%d, padding top %d bottom %d left %d right %d) is "
                         "larger than input %s padded to %ldx%ld",
                         c->kh, c->kw, c->sh, c->sw, c->pt, c->pb, c->pl, c->pr, sin, hp, wp);
  out->c = c->oc;
  out->h = (int)((hp - c->kh) / c->sh + 1);
  out->w = (int)((wp - c->kw) / c->sw + 1);
  return LAB_STATUS_OK;
}

static void conv_cost(const lab_layer *l, int batch, lab_cost *cost) {
  const lab_conv2d_cfg *c = &l->cfg.conv;
  const uint64_t k = (uint64_t)l->in[0].c * (uint64_t)c->kh * (uint64_t)c->kw;
  const uint64_t p = (uint64_t)l->out.h * (uint64_t)l->out.w;
  memset(cost, 0, sizeof *cost);
  cost->n_params = (uint64_t)c->oc * k + (c->bias ? (uint64_t)c->oc : 0);
  cost->macs = p * (uint64_t)c->oc * k;
  cost->act_floats = (uint64_t)c->oc * p;
  conv_plan pl = conv_plan_make(l, batch);
  cost->scratch_floats = conv_scratch(&pl);
}

static void conv_params(lab_layer *l, lab_param_list *list) {
  const lab_conv2d_cfg *c = &l->cfg.conv;
  const size_t nw = (size_t)c->oc * (size_t)l->in[0].c * (size_t)c->kh * (size_t)c->kw;
  lab_param_list_add(list, l->name, "weight", l->param, l->grad, nw, 1);
  if (c->bias) lab_param_list_add(list, l->name, "bias", l->param + nw, l->grad + nw, (size_t)c->oc, 0);
}

static void conv_init(lab_layer *l, lab_rng *rng) {
  const lab_conv2d_cfg *c = &l->cfg.conv;
  const size_t fan_in = (size_t)l->in[0].c * (size_t)c->kh * (size_t)c->kw;
  const size_t nw = (size_t)c->oc * fan_in;
  if (c->init_std > 0) {
    for (size_t i = 0; i < nw; i++) l->param[i] = lab_rng_trunc_normal(rng, c->init_std);
  } else { /* He et al. 2015: keeps the activation variance through ReLUs */
    const float std = (float)sqrt(2.0 / (double)fan_in);
    for (size_t i = 0; i < nw; i++) l->param[i] = std * lab_rng_normal(rng);
  }
  if (c->bias) memset(l->param + nw, 0, (size_t)c->oc * sizeof(float));
}

/* === forward and backward === */

/* y (g, OC, P) = tmp (OC, g*P) [+ b], one (sample, channel) row per iteration. */
static void conv_scatter(const float *tmp, int g, int oc, int p, const float *b, float *y) {
  const long items = (long)g * oc;
#pragma omp parallel for schedule(static) if (items * p > LAB_CONV_PAR_MIN)
  for (long it = 0; it < items; it++) {
    const int s = (int)(it / oc), o = (int)(it % oc);
    const float *src = tmp + (size_t)o * ((size_t)g * p) + (size_t)s * p;
    float *dst = y + ((size_t)s * oc + (size_t)o) * p;
    if (b) {
      const float bo = b[o];
      for (int i = 0; i < p; i++) dst[i] = src[i] + bo;
    } else {
      memcpy(dst, src, (size_t)p * sizeof(float));
    }
  }
}

/* tmp (OC, g*P) = dy (g, OC, P): the inverse of conv_scatter. */
static void conv_gather(const float *dy, int g, int oc, int p, float *tmp) {
  const long items = (long)g * oc;
#pragma omp parallel for schedule(static) if (items * p > LAB_CONV_PAR_MIN)
  for (long it = 0; it < items; it++) {
    const int s = (int)(it / oc), o = (int)(it % oc);
    memcpy(tmp + (size_t)o * ((size_t)g * p) + (size_t)s * p, dy + ((size_t)s * oc + (size_t)o) * p,
           (size_t)p * sizeof(float));
  }
}

static void conv_add_bias(float *y, int oc, int p, const float *b) {
#pragma omp parallel for schedule(static) if ((long)oc * p > LAB_CONV_PAR_MIN)
  for (int o = 0; o < oc; o++) {
    float *yo = y + (size_t)o * p;
    for (int i = 0; i < p; i++) yo[i] += b[o];
  }
}

static conv_plan conv_plan_checked(const lab_layer *l, const lab_ctx *ctx) {
  const int planned = l->batch > 0 ? l->batch : ctx->batch;
  LAB_ASSERT(ctx->batch >= 1 && ctx->batch <= planned, "%s: batch %d, planned %d", l->name, ctx->batch, planned);
  conv_plan pl = conv_plan_make(l, planned);
  LAB_ASSERT(conv_scratch(&pl) == 0 || (ctx->scratch && ctx->scratch_floats >= conv_scratch(&pl)),
             "%s: scratch %zu floats, need %zu", l->name, ctx->scratch_floats, conv_scratch(&pl));
  return pl;
}

static void conv_forward(lab_layer *l, const float *const *xs, float *y, lab_ctx *ctx) {
  const lab_conv2d_cfg *c = &l->cfg.conv;
  const conv_plan pl = conv_plan_checked(l, ctx);
  const lab_im2col_geom geom = conv_geom(l);
  const int n = ctx->batch, oc = c->oc, k = pl.k, p = pl.p;
  const size_t in_numel = lab_shape_numel(l->in[0]), out_numel = (size_t)oc * p;
  const float *w = l->param, *b = c->bias ? l->param + (size_t)oc * k : NULL;
  float *col = ctx->scratch, *tmp = ctx->scratch ? ctx->scratch + lab_arena_round(pl.col_floats) : NULL;
  const float *x = xs[0];

  if (pl.group > 1) {
    for (int n0 = 0; n0 < n; n0 += pl.group) {
      const int g = n - n0 < pl.group ? n - n0 : pl.group, cols = g * p;
      lab_im2col(&geom, x + (size_t)n0 * in_numel, g, 0, p, col, (size_t)cols);
      lab_sgemm(0, 0, oc, cols, k, 1.0f, w, k, col, cols, 0.0f, tmp, cols);
      conv_scatter(tmp, g, oc, p, b, y + (size_t)n0 * out_numel);
    }
    return;
  }
  for (int s = 0; s < n; s++) {
    const float *xn = x + (size_t)s * in_numel;
    float *yn = y + (size_t)s * out_numel;
    if (pl.direct) {
      lab_sgemm(0, 0, oc, p, k, 1.0f, w, k, xn, p, 0.0f, yn, p);
    } else {
      for (int p0 = 0; p0 < p; p0 += pl.cols) {
        const int np = p - p0 < pl.cols ? p - p0 : pl.cols;
        lab_im2col(&geom, xn, 1, p0, np, col, (size_t)np);
        lab_sgemm(0, 0, oc, np, k, 1.0f, w, k, col, np, 0.0f, yn + p0, p);
      }
    }
    if (b) conv_add_bias(yn, oc, p, b);
  }
}

/* db[o] += sum over samples and pixels of dy, in double, one channel per iteration. */
static void conv_bias_grad(const float *dy, int n, int oc, int p, float *db) {
#pragma omp parallel for schedule(static) if ((long)n * oc * p > LAB_CONV_PAR_MIN)
  for (int o = 0; o < oc; o++) {
    double s = 0;
    for (int i = 0; i < n; i++) {
      const float *d = dy + ((size_t)i * oc + (size_t)o) * p;
      for (int j = 0; j < p; j++) s += d[j];
    }
    db[o] += (float)s;
  }
}

static void conv_backward(lab_layer *l, const float *const *xs, const float *y, const float *dy,
                          float *const *dxs, lab_ctx *ctx) {
  (void)y;
  const lab_conv2d_cfg *c = &l->cfg.conv;
  const conv_plan pl = conv_plan_checked(l, ctx);
  const lab_im2col_geom geom = conv_geom(l);
  const int n = ctx->batch, oc = c->oc, k = pl.k, p = pl.p;
  const size_t in_numel = lab_shape_numel(l->in[0]), out_numel = (size_t)oc * p;
  const float *w = l->param;
  float *dw = l->grad;
  float *col = ctx->scratch, *tmp = ctx->scratch ? ctx->scratch + lab_arena_round(pl.col_floats) : NULL;
  const float *x = xs[0];
  float *dx = dxs ? dxs[0] : NULL;

  if (c->bias) conv_bias_grad(dy, n, oc, p, dw + (size_t)oc * k);
  if (pl.group > 1) {
    for (int n0 = 0; n0 < n; n0 += pl.group) {
      const int g = n - n0 < pl.group ? n - n0 : pl.group, cols = g * p;
      conv_gather(dy + (size_t)n0 * out_numel, g, oc, p, tmp);
      lab_im2col(&geom, x + (size_t)n0 * in_numel, g, 0, p, col, (size_t)cols);
      lab_sgemm(0, 1, oc, k, cols, 1.0f, tmp, cols, col, cols, 1.0f, dw, k);
      if (dx) { /* col is spent: reuse it for dcol */
        lab_sgemm(1, 0, k, cols, oc, 1.0f, w, k, tmp, cols, 0.0f, col, cols);
        lab_col2im_add(&geom, col, (size_t)cols, g, 0, p, dx + (size_t)n0 * in_numel);
      }
    }
    return;
  }
  for (int s = 0; s < n; s++) {
    const float *xn = x + (size_t)s * in_numel, *dyn = dy + (size_t)s * out_numel;
    float *dxn = dx ? dx + (size_t)s * in_numel : NULL;
    if (pl.direct) {
      lab_sgemm(0, 1, oc, k, p, 1.0f, dyn, p, xn, p, 1.0f, dw, k);
      if (dxn) lab_sgemm(1, 0, k, p, oc, 1.0f, w, k, dyn, p, 1.0f, dxn, p);
      continue;
    }
    for (int p0 = 0; p0 < p; p0 += pl.cols) {
      const int np = p - p0 < pl.cols ? p - p0 : pl.cols;
      lab_im2col(&geom, xn, 1, p0, np, col, (size_t)np);
      lab_sgemm(0, 1, oc, k, np, 1.0f, dyn + p0, p, col, np, 1.0f, dw, k);
      if (dxn) {
        lab_sgemm(1, 0, k, np, oc, 1.0f, w, k, dyn + p0, p, 0.0f, col, np);
        lab_col2im_add(&geom, col, (size_t)np, 1, p0, np, dxn);
      }
    }
  }
}

const lab_layer_ops lab_conv2d_ops = {
    .type = "conv2d",
    .shape = conv_shape,
    .cost = conv_cost,
    .params = conv_params,
    .init = conv_init,
    .forward = conv_forward,
    .backward = conv_backward,
};
