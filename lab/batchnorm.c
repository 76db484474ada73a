/* batchnorm.c: batch normalisation over N, H, W per channel (torch.nn.BatchNorm2d, and
 * BatchNorm1d when the input is (C, 1, 1), e.g. the BN-auxiliary FC of Inception-v3).
 *
 * x, y: (N, C, H, W); M = N*H*W values per channel.
 * Parameters (l->param): gamma (C) "weight", then beta (C) "bias"; no weight decay.
 * Buffers (l->buf): running_mean (C), then running_var (C); init 0 and 1.
 * Cache (l->cache, 2C floats whatever the batch): the mean and inv_std = 1/sqrt(var + eps)
 * that forward used (batch statistics in training, running ones in evaluation). Backward
 * recomputes x_hat = (x - mean) * inv_std from x, so nothing of size N*C*H*W is kept.
 *
 * Training: normalise with the biased batch variance; then, as PyTorch,
 *   running_mean = (1 - momentum) * running_mean + momentum * mean
 *   running_var  = (1 - momentum) * running_var  + momentum * var * M / (M - 1)   (unbiased)
 * M = 1 has no unbiased variance: PyTorch raises ("Expected more than 1 value per channel");
 * here it is an assertion, so callers must not train on a batch of 1 through a (C,1,1) BN.
 * Evaluation: running statistics, and backward is that of the affine map it then is.
 * cfg.bn.relu fuses the ReLU that follows BN in every conv unit (blocks/registry.c): forward
 * writes max(BN(x), 0) with relu.c's expression, backward masks dy by y > 0 as relu.c does, so
 * the results equal BN then ReLU bit for bit, with one pass and one activation buffer less.
 * Frozen (ctx->train with ctx->bn_frozen: the last train.bn_freeze_epochs of a run): as in
 * evaluation, the running statistics normalise and are not updated, so the weights of the
 * last steps adapt to the statistics evaluation uses (no train/test gap from the batch
 * statistics of the 1x1 maps of small inputs).
 * backward follows ctx->train and ctx->bn_frozen, which must be those of the preceding forward.
 *
 * Statistics are summed in double, two passes (mean, then squared deviations), like PyTorch's
 * CPU kernel, in lanes that vectorise (chan_sum). y = x * alpha + (beta - mean * alpha) with alpha = gamma * inv_std, the same
 * float expression as PyTorch's CPU transform. OpenMP splits channels; each channel is
 * reduced by one thread in a fixed order, so results do not depend on the thread count.
 *
 * Synchronised BN (ctx->sync set, training only; data-parallel replicas, lab/dist.h): the
 * same two passes over the global batch. Each replica sums its own samples for every channel
 * into ctx->sync->work, the sums (and the value count M) are added over the replicas with one
 * call per pass, then every replica normalises with the global statistics. Backward likewise
 * sums sum(dy) and sum(dy * (x - mean)) over replicas for dx; gamma/beta gradients stay the
 * replica's own (the trainer sums every gradient over replicas afterwards). Without ctx->sync
 * the code path is the local one above, unchanged.
 */
#include <math.h>
#include <stddef.h>

#include "lab/layers.h"

static lab_status bn_shape(const lab_layer_cfg *cfg, const lab_shape *in, int n_in, lab_shape *out,
                           lab_error *err) {
  if (n_in != 1) return lab_error_set(err, LAB_ERR_SHAPE, "batchnorm takes 1 input, got %d", n_in);
  char s[48];
  if (in[0].c < 1 || in[0].h < 1 || in[0].w < 1)
    return lab_error_set(err, LAB_ERR_SHAPE, "batchnorm: empty input %s", lab_shape_str(in[0], s, sizeof s));
  if (!(cfg->bn.eps > 0.0f))
    return lab_error_set(err, LAB_ERR_CONFIG, "batchnorm: eps = %g on input %s must be > 0",
                         (double)cfg->bn.eps, lab_shape_str(in[0], s, sizeof s));
  if (!(cfg->bn.momentum >= 0.0f && cfg->bn.momentum <= 1.0f))
    return lab_error_set(err, LAB_ERR_CONFIG, "batchnorm: momentum = %g on input %s is not in [0, 1]",
                         (double)cfg->bn.momentum, lab_shape_str(in[0], s, sizeof s));
  *out = in[0];
  return LAB_STATUS_OK;
}

static void bn_cost(const lab_layer *l, int batch, lab_cost *cost) {
  (void)batch;
  uint64_t c = (uint64_t)l->in[0].c;
  *cost = (lab_cost){0};
  cost->n_params = 2 * c;
  cost->n_buffers = 2 * c;
  cost->act_floats = lab_shape_numel(l->out);
  cost->cache_floats = 2 * c;
}

static void bn_params(lab_layer *l, lab_param_list *list) {
  size_t c = (size_t)l->in[0].c;
  lab_param_list_add(list, l->name, "weight", l->param, l->grad, c, 0);
  lab_param_list_add(list, l->name, "bias", l->param + c, l->grad + c, c, 0);
}

static void bn_init(lab_layer *l, lab_rng *rng) {
  (void)rng;
  int c = l->in[0].c;
  for (int i = 0; i < c; i++) {
    l->param[i] = 1.0f;     /* gamma */
    l->param[c + i] = 0.0f; /* beta */
    l->buf[i] = 0.0f;       /* running mean */
    l->buf[c + i] = 1.0f;   /* running var */
  }
}

/* === per-channel sums ===
 * A channel is n segments of hw floats, `stride` apart. Sums run in double in BN_LANES
 * independent lanes (element j of a segment goes to lane j % BN_LANES), added up in lane order
 * at the end: a fixed order whatever the thread count, and one the compiler vectorises (a single
 * running double sum is one dependent add per element). */
#define BN_LANES 8

static double lanes_total(const double *acc) {
  double s = 0.0;
  for (int k = 0; k < BN_LANES; k++) s += acc[k];
  return s;
}

/* sum of x, or of (x - mu)^2 when sq */
static double chan_sum(const float *x, int n, size_t stride, size_t hw, int sq, double mu) {
  double acc[BN_LANES] = {0};
  for (int i = 0; i < n; i++) {
    const float *p = x + (size_t)i * stride;
    size_t j = 0;
    if (sq) {
      for (; j + BN_LANES <= hw; j += BN_LANES)
        for (int k = 0; k < BN_LANES; k++) {
          const double d = (double)p[j + k] - mu;
          acc[k] += d * d;
        }
      for (; j < hw; j++) {
        const double d = (double)p[j] - mu;
        acc[j % BN_LANES] += d * d;
      }
    } else {
      for (; j + BN_LANES <= hw; j += BN_LANES)
        for (int k = 0; k < BN_LANES; k++) acc[k] += (double)p[j + k];
      for (; j < hw; j++) acc[j % BN_LANES] += (double)p[j];
    }
  }
  return lanes_total(acc);
}

/* sum of g and of g * (x - mean), where g is the gradient reaching the BN output: dy, or with
 * the fused ReLU dy where y > 0 (relu.c's rule), else 0; y: the fused ReLU's output (NULL
 * without). The masked gradient is formed BN_CHUNK floats at a time in a local buffer, so
 * both loops vectorise: with the mask inside the lane loop gcc emits a branch per element,
 * which mispredicts on ReLU masks (measured 10x slower at 64x16x37x37). Same sums, same order. */
#define BN_CHUNK 512
_Static_assert(BN_CHUNK % BN_LANES == 0, "chunks start on lane 0");

static void chan_grad_sums(const float *x, const float *g, const float *y, int n, size_t stride, size_t hw,
                           double mean, double *sum_g, double *sum_gx) {
  double a[BN_LANES] = {0}, b[BN_LANES] = {0};
  float masked[BN_CHUNK];
  for (int i = 0; i < n; i++) {
    const float *p = x + (size_t)i * stride, *q = g + (size_t)i * stride, *r = y ? y + (size_t)i * stride : NULL;
    for (size_t j0 = 0; j0 < hw; j0 += BN_CHUNK) {
      const size_t len = hw - j0 < BN_CHUNK ? hw - j0 : BN_CHUNK;
      const float *gs = q + j0, *ps = p + j0;
      if (r) {
        for (size_t j = 0; j < len; j++) {
          const float v = q[j0 + j];
          masked[j] = r[j0 + j] > 0.0f ? v : 0.0f;
        }
        gs = masked;
      }
      /* j0 is a multiple of BN_LANES, so element j0 + j goes to lane j % BN_LANES */
      size_t j = 0;
      for (; j + BN_LANES <= len; j += BN_LANES)
        for (int k = 0; k < BN_LANES; k++) {
          const double gk = (double)gs[j + k];
          a[k] += gk;
          b[k] += gk * ((double)ps[j + k] - mean);
        }
      for (; j < len; j++) {
        const double gj = (double)gs[j];
        a[j % BN_LANES] += gj;
        b[j % BN_LANES] += gj * ((double)ps[j] - mean);
      }
    }
  }
  *sum_g = lanes_total(a);
  *sum_gx = lanes_total(b);
}

/* === the per-channel element loops, shared by the local and the synchronised paths === */

/* y = x * alpha + shift over one channel (n segments), then the fused ReLU when relu. */
static void chan_apply(const float *xc, float *yc, int n, size_t stride, size_t hw, float alpha, float shift,
                       int relu) {
  for (int i = 0; i < n; i++) {
    const float *p = xc + (size_t)i * stride;
    float *q = yc + (size_t)i * stride;
    if (relu) {
      for (size_t j = 0; j < hw; j++) {
        const float v = p[j] * alpha + shift;
        q[j] = v < 0.0f ? 0.0f : v; /* relu.c's expression: NaN stays NaN */
      }
    } else {
      for (size_t j = 0; j < hw; j++) q[j] = p[j] * alpha + shift;
    }
  }
}

/* dx += a * dy' + b * x + e over one channel; dy' = dy masked by y > 0 when ry (fused ReLU). */
static void chan_dx(const float *xc, const float *gc, const float *ry, float *dc, int n, size_t stride, size_t hw,
                    float a, float b, float e) {
  for (int i = 0; i < n; i++) {
    const float *p = xc + (size_t)i * stride, *g = gc + (size_t)i * stride;
    float *q = dc + (size_t)i * stride;
    if (ry) {
      const float *r = ry + (size_t)i * stride;
      for (size_t j = 0; j < hw; j++) q[j] += a * (r[j] > 0.0f ? g[j] : 0.0f) + b * p[j] + e;
    } else {
      for (size_t j = 0; j < hw; j++) q[j] += a * g[j] + b * p[j] + e;
    }
  }
}

/* === synchronised batch norm (ctx->sync, training) ===
 * work: the C sums of x and the count M (C + 1 doubles), then the C sums of squared
 * deviations; in backward the C sums of dy, the C sums of dy * (x - mean), and M. */

static void bn_forward_sync(lab_layer *l, const float *xi, float *y, lab_ctx *ctx) {
  const lab_ctx_sync *sy = ctx->sync;
  const int nc = l->in[0].c, n = ctx->batch;
  const size_t hw = (size_t)l->in[0].h * (size_t)l->in[0].w, stride = (size_t)nc * hw;
  const float eps = l->cfg.bn.eps, mom = l->cfg.bn.momentum;
  const float *gamma = l->param, *beta = l->param + nc;
  float *run_mean = l->buf, *run_var = l->buf + nc;
  float *mean_c = l->cache, *inv_std_c = l->cache + nc;
  LAB_ASSERT(sy->work && sy->work_len >= 2 * (size_t)nc + 1, "batchnorm %s: sync workspace of %zu doubles < %d",
             l->name ? l->name : "?", sy->work_len, 2 * nc + 1);
  double *sum_x = sy->work, *sum_sq = sy->work + nc + 1;

#pragma omp parallel for schedule(static)
  for (int c = 0; c < nc; c++) sum_x[c] = chan_sum(xi + (size_t)c * hw, n, stride, hw, 0, 0.0);
  sum_x[nc] = (double)((size_t)n * hw);
  sy->sum(sy->user, sum_x, (size_t)nc + 1);
  const double m = sum_x[nc];
  LAB_ASSERT(m > 1.0, "batchnorm %s in training needs more than 1 value per channel over the replicas (%g)",
             l->name ? l->name : "?", m);

#pragma omp parallel for schedule(static)
  for (int c = 0; c < nc; c++) sum_sq[c] = chan_sum(xi + (size_t)c * hw, n, stride, hw, 1, sum_x[c] / m);
  sy->sum(sy->user, sum_sq, (size_t)nc);

#pragma omp parallel for schedule(static)
  for (int c = 0; c < nc; c++) {
    const float *xc = xi + (size_t)c * hw;
    const double mu = sum_x[c] / m, ss = sum_sq[c];
    const double var = ss / m;
    const float mean = (float)mu, inv_std = (float)(1.0 / sqrt(var + (double)eps));
    run_mean[c] = (float)((1.0 - mom) * run_mean[c] + mom * mu);
    run_var[c] = (float)((1.0 - mom) * run_var[c] + mom * (ss / (m - 1.0)));
    mean_c[c] = mean;
    inv_std_c[c] = inv_std;
    const float alpha = gamma[c] * inv_std, shift = beta[c] - mean * alpha;
    chan_apply(xc, y + (size_t)c * hw, n, stride, hw, alpha, shift, l->cfg.bn.relu);
  }
}

static void bn_backward_sync(lab_layer *l, const float *xi, const float *ry, const float *dy, float *d,
                             lab_ctx *ctx) {
  const lab_ctx_sync *sy = ctx->sync;
  const int nc = l->in[0].c, n = ctx->batch;
  const size_t hw = (size_t)l->in[0].h * (size_t)l->in[0].w, stride = (size_t)nc * hw;
  const float *gamma = l->param;
  float *dgamma = l->grad, *dbeta = l->grad + nc;
  const float *mean_c = l->cache, *inv_std_c = l->cache + nc;
  LAB_ASSERT(sy->work && sy->work_len >= 2 * (size_t)nc + 1, "batchnorm %s: sync workspace of %zu doubles < %d",
             l->name ? l->name : "?", sy->work_len, 2 * nc + 1);
  double *sum_dy = sy->work, *sum_dy_xc = sy->work + nc;

#pragma omp parallel for schedule(static)
  for (int c = 0; c < nc; c++) {
    const size_t off = (size_t)c * hw;
    chan_grad_sums(xi + off, dy + off, ry ? ry + off : NULL, n, stride, hw, mean_c[c], &sum_dy[c], &sum_dy_xc[c]);
    /* this replica's share of the parameter gradients */
    dgamma[c] += (float)(sum_dy_xc[c] * (double)inv_std_c[c]);
    dbeta[c] += (float)sum_dy[c];
  }
  if (!d) return; /* the same on every replica (one graph) */
  sum_dy[2 * nc] = (double)((size_t)n * hw);
  sy->sum(sy->user, sum_dy, 2 * (size_t)nc + 1);
  const double m = sum_dy[2 * nc];

#pragma omp parallel for schedule(static)
  for (int c = 0; c < nc; c++) {
    const double mean = mean_c[c], inv_std = inv_std_c[c];
    const size_t off = (size_t)c * hw;
    const double k = (double)gamma[c] * inv_std;
    const double mean_dy = sum_dy[c] / m, mean_dy_xhat = sum_dy_xc[c] * inv_std / m;
    const double bx = -k * inv_std * mean_dy_xhat;
    const float a = (float)k, b = (float)bx, e = (float)(-k * mean_dy - bx * mean);
    chan_dx(xi + off, dy + off, ry ? ry + off : NULL, d + off, n, stride, hw, a, b, e);
  }
}

/* === forward and backward === */

static void bn_forward(lab_layer *l, const float *const *x, float *y, lab_ctx *ctx) {
  const int batch_stats = ctx->train && !ctx->bn_frozen;
  if (batch_stats && ctx->sync) {
    bn_forward_sync(l, x[0], y, ctx);
    return;
  }
  const int nc = l->in[0].c, n = ctx->batch;
  const size_t hw = (size_t)l->in[0].h * (size_t)l->in[0].w, stride = (size_t)nc * hw;
  const size_t m = (size_t)n * hw;
  const float eps = l->cfg.bn.eps, mom = l->cfg.bn.momentum;
  const int relu = l->cfg.bn.relu;
  const float *gamma = l->param, *beta = l->param + nc;
  float *run_mean = l->buf, *run_var = l->buf + nc;
  float *mean_c = l->cache, *inv_std_c = l->cache + nc;
  const float *xi = x[0];
  LAB_ASSERT(!batch_stats || m > 1, "batchnorm %s in training needs more than 1 value per channel (N*H*W = %zu)",
             l->name ? l->name : "?", m);

#pragma omp parallel for schedule(static)
  for (int c = 0; c < nc; c++) {
    const float *xc = xi + (size_t)c * hw;
    float mean, inv_std;
    if (batch_stats) {
      const double mu = chan_sum(xc, n, stride, hw, 0, 0.0) / (double)m;
      const double ss = chan_sum(xc, n, stride, hw, 1, mu);
      const double var = ss / (double)m;
      mean = (float)mu;
      inv_std = (float)(1.0 / sqrt(var + (double)eps));
      run_mean[c] = (float)((1.0 - mom) * run_mean[c] + mom * mu);
      run_var[c] = (float)((1.0 - mom) * run_var[c] + mom * (ss / (double)(m - 1)));
    } else {
      mean = run_mean[c];
      inv_std = (float)(1.0 / sqrt((double)run_var[c] + (double)eps));
    }
    mean_c[c] = mean;
    inv_std_c[c] = inv_std;
    const float alpha = gamma[c] * inv_std, shift = beta[c] - mean * alpha;
    chan_apply(xc, y + (size_t)c * hw, n, stride, hw, alpha, shift, relu);
  }
}

/* dx += k * (dy - mean(dy) - x_hat * mean(dy * x_hat)), k = gamma * inv_std, as
 * dx += a*dy + b*x + e with the per-channel constants formed in double. */
static void bn_backward(lab_layer *l, const float *const *x, const float *y, const float *dy,
                        float *const *dx, lab_ctx *ctx) {
  const float *ry = l->cfg.bn.relu ? y : NULL; /* the fused ReLU's mask */
  const int batch_stats = ctx->train && !ctx->bn_frozen;
  if (batch_stats && ctx->sync) {
    bn_backward_sync(l, x[0], ry, dy, dx[0], ctx);
    return;
  }
  const int nc = l->in[0].c, n = ctx->batch;
  const size_t hw = (size_t)l->in[0].h * (size_t)l->in[0].w, stride = (size_t)nc * hw;
  const size_t m = (size_t)n * hw;
  const float *gamma = l->param;
  float *dgamma = l->grad, *dbeta = l->grad + nc;
  const float *mean_c = l->cache, *inv_std_c = l->cache + nc;
  const float *xi = x[0];
  float *d = dx[0];

#pragma omp parallel for schedule(static)
  for (int c = 0; c < nc; c++) {
    const double mean = mean_c[c], inv_std = inv_std_c[c];
    const size_t off = (size_t)c * hw;
    double sum_dy, sum_dy_xc;
    chan_grad_sums(xi + off, dy + off, ry ? ry + off : NULL, n, stride, hw, mean, &sum_dy, &sum_dy_xc);
    const double sum_dy_xhat = sum_dy_xc * inv_std;
    dgamma[c] += (float)sum_dy_xhat;
    dbeta[c] += (float)sum_dy;
    if (!d) continue;
    const double k = (double)gamma[c] * inv_std;
    /* In training the batch statistics depend on x: subtract the mean of dy and the part of dy
     * along x_hat (the usual BN backward). In evaluation (and frozen) they are constants. */
    const double mean_dy = batch_stats ? sum_dy / (double)m : 0.0;
    const double mean_dy_xhat = batch_stats ? sum_dy_xhat / (double)m : 0.0;
    const double bx = -k * inv_std * mean_dy_xhat;
    const float a = (float)k, b = (float)bx, e = (float)(-k * mean_dy - bx * mean);
    chan_dx(xi + off, dy + off, ry ? ry + off : NULL, d + off, n, stride, hw, a, b, e);
  }
}

const lab_layer_ops lab_batchnorm_ops = {
    .type = "batchnorm",
    .shape = bn_shape,
    .cost = bn_cost,
    .params = bn_params,
    .init = bn_init,
    .forward = bn_forward,
    .backward = bn_backward,
};
