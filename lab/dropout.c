/* dropout.c: inverted dropout (torch.nn.Dropout, p = probability of zeroing).
 *
 * x, y: (N, C, H, W). Training: each element is kept with probability 1 - p, drawn in
 * element order from ctx->rng (one lab_rng_uniform per element, kept when u >= p), and kept
 * elements are scaled by 1/(1-p) so the expectation matches evaluation, where the layer is
 * the identity. The cache holds the per-element factor (0 or 1/(1-p)) for the planned batch;
 * backward multiplies dy by it. Same rng state -> same mask. With p = 0 nothing is drawn.
 *
 * Data-parallel replicas (ctx->sync): every replica draws the masks of the whole global batch
 * from the same stream and keeps its own samples' (sample_offset ...), so a sample's mask does
 * not depend on which replica holds it and the stream advances alike everywhere: exactly one
 * process's masks, for global_batch x features draws per replica (cheap next to the layers).
 */
#include <stddef.h>

#include "lab/layers.h"

static lab_status dropout_shape(const lab_layer_cfg *cfg, const lab_shape *in, int n_in, lab_shape *out,
                                lab_error *err) {
  if (n_in != 1) return lab_error_set(err, LAB_ERR_SHAPE, "dropout takes 1 input, got %d", n_in);
  char s[48];
  if (in[0].c < 1 || in[0].h < 1 || in[0].w < 1)
    return lab_error_set(err, LAB_ERR_SHAPE, "dropout: empty input %s", lab_shape_str(in[0], s, sizeof s));
  /* Written so that NaN fails too. */
  if (!(cfg->dropout.p >= 0.0f && cfg->dropout.p < 1.0f))
    return lab_error_set(err, LAB_ERR_CONFIG, "dropout: p = %g on input %s is not in [0, 1)",
                         (double)cfg->dropout.p, lab_shape_str(in[0], s, sizeof s));
  *out = in[0];
  return LAB_STATUS_OK;
}

static void dropout_cost(const lab_layer *l, int batch, lab_cost *cost) {
  *cost = (lab_cost){0};
  cost->act_floats = lab_shape_numel(l->out);
  cost->cache_floats = (uint64_t)batch * lab_shape_numel(l->in[0]);
}

static void dropout_forward(lab_layer *l, const float *const *x, float *y, lab_ctx *ctx) {
  const float *xi = x[0];
  size_t n = (size_t)ctx->batch * lab_shape_numel(l->in[0]);
  float p = l->cfg.dropout.p;
  if (!ctx->train || p == 0.0f) {
    for (size_t i = 0; i < n; i++) y[i] = xi[i];
    return;
  }
  LAB_ASSERT(ctx->rng, "dropout in training needs ctx->rng");
  LAB_ASSERT(ctx->batch <= l->batch, "batch %d exceeds the planned %d", ctx->batch, l->batch);
  /* PyTorch scales by the float 1/(1-p) (bernoulli(1-p).div_(1-p)). */
  float scale = 1.0f / (1.0f - p);
  float *mask = l->cache;
  /* the global batch's draws before and after this replica's samples */
  size_t skip_before = 0, skip_after = 0;
  if (ctx->sync) {
    const size_t per = lab_shape_numel(l->in[0]);
    const int off = ctx->sync->sample_offset, total = ctx->sync->global_batch;
    LAB_ASSERT(off >= 0 && off + ctx->batch <= total, "samples [%d, %d) outside a global batch of %d", off,
               off + ctx->batch, total);
    skip_before = (size_t)off * per;
    skip_after = (size_t)(total - off - ctx->batch) * per;
  }
  for (size_t i = 0; i < skip_before; i++) (void)lab_rng_uniform(ctx->rng);
  /* Sequential on purpose: the mask must depend only on the rng state, not on threads. */
  for (size_t i = 0; i < n; i++) {
    mask[i] = lab_rng_uniform(ctx->rng) >= p ? scale : 0.0f;
    y[i] = xi[i] * mask[i];
  }
  for (size_t i = 0; i < skip_after; i++) (void)lab_rng_uniform(ctx->rng);
}

static void dropout_backward(lab_layer *l, const float *const *x, const float *y, const float *dy,
                             float *const *dx, lab_ctx *ctx) {
  (void)x;
  (void)y;
  float *d = dx[0];
  if (!d) return;
  size_t n = (size_t)ctx->batch * lab_shape_numel(l->in[0]);
  if (!ctx->train || l->cfg.dropout.p == 0.0f) {
    for (size_t i = 0; i < n; i++) d[i] += dy[i];
    return;
  }
  const float *mask = l->cache;
  for (size_t i = 0; i < n; i++) d[i] += dy[i] * mask[i];
}

const lab_layer_ops lab_dropout_ops = {
    .type = "dropout",
    .shape = dropout_shape,
    .cost = dropout_cost,
    .params = NULL,
    .init = NULL,
    .forward = dropout_forward,
    .backward = dropout_backward,
};
