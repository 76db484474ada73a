/* linear.c: fully connected layer (torch.nn.Linear) on the flattened input.
 *
 * x: (N, IN) with IN = C*H*W of the input shape (NCHW is contiguous per sample), in;
 * y: (N, OUT, 1, 1), out. Parameters, in this order in l->param:
 *   weight W: (OUT, IN) row-major, as PyTorch stores it ("weight", weight decay on);
 *   bias b: (OUT) iff cfg.linear.bias ("bias", no decay).
 * y = x W^T + b; dW += dy^T x; db += sum_n dy; dx += dy W. All three products are one
 * lab_sgemm each, transposes expressed through strides.
 *
 * Init: cfg.linear.init_std > 0 draws W from the truncated normal (lab_rng_trunc_normal);
 * otherwise W ~ U(-1/sqrt(IN), 1/sqrt(IN)), PyTorch's default (kaiming_uniform with a=sqrt(5)
 * reduces to this bound). The bias always gets PyTorch's default U(-1/sqrt(IN), 1/sqrt(IN)):
 * torchvision's Inception3 re-initialises only Linear weights, never biases. Draw order:
 * W row-major, then b.
 */
#include <math.h>
#include <stddef.h>

#include "lab/gemm.h"
#include "lab/layers.h"

static lab_status linear_shape(const lab_layer_cfg *cfg, const lab_shape *in, int n_in, lab_shape *out,
                               lab_error *err) {
  if (n_in != 1) return lab_error_set(err, LAB_ERR_SHAPE, "linear takes 1 input, got %d", n_in);
  char s[48];
  if (in[0].c < 1 || in[0].h < 1 || in[0].w < 1)
    return lab_error_set(err, LAB_ERR_SHAPE, "linear: empty input %s", lab_shape_str(in[0], s, sizeof s));
  if (cfg->linear.out < 1)
    return lab_error_set(err, LAB_ERR_SHAPE, "linear: %d outputs on input %s (need >= 1)", cfg->linear.out,
                         lab_shape_str(in[0], s, sizeof s));
  /* lab_sgemm takes int sizes and strides. */
  if (lab_shape_numel(in[0]) > 0x7fffffffu)
    return lab_error_set(err, LAB_ERR_SHAPE, "linear: input %s too large", lab_shape_str(in[0], s, sizeof s));
  if (!(cfg->linear.init_std >= 0.0f))
    return lab_error_set(err, LAB_ERR_CONFIG, "linear: init_std = %g on input %s must be >= 0",
                         (double)cfg->linear.init_std, lab_shape_str(in[0], s, sizeof s));
  *out = (lab_shape){cfg->linear.out, 1, 1};
  return LAB_STATUS_OK;
}

static void linear_cost(const lab_layer *l, int batch, lab_cost *cost) {
  (void)batch;
  uint64_t in = lab_shape_numel(l->in[0]), out = (uint64_t)l->cfg.linear.out;
  *cost = (lab_cost){0};
  cost->n_params = in * out + (l->cfg.linear.bias ? out : 0);
  cost->macs = in * out;
  cost->act_floats = out;
}

static void linear_params(lab_layer *l, lab_param_list *list) {
  size_t in = lab_shape_numel(l->in[0]), out = (size_t)l->cfg.linear.out;
  lab_param_list_add(list, l->name, "weight", l->param, l->grad, in * out, 1);
  if (l->cfg.linear.bias) lab_param_list_add(list, l->name, "bias", l->param + in * out, l->grad + in * out, out, 0);
}

static void linear_init(lab_layer *l, lab_rng *rng) {
  size_t in = lab_shape_numel(l->in[0]), out = (size_t)l->cfg.linear.out;
  float bound = (float)(1.0 / sqrt((double)in));
  float std = l->cfg.linear.init_std;
  for (size_t i = 0; i < in * out; i++)
    l->param[i] = std > 0.0f ? lab_rng_trunc_normal(rng, std) : -bound + 2.0f * bound * lab_rng_uniform(rng);
  if (l->cfg.linear.bias)
    for (size_t i = 0; i < out; i++) l->param[in * out + i] = -bound + 2.0f * bound * lab_rng_uniform(rng);
}

static void linear_forward(lab_layer *l, const float *const *x, float *y, lab_ctx *ctx) {
  int in = (int)lab_shape_numel(l->in[0]), out = l->cfg.linear.out, n = ctx->batch;
  const float *w = l->param;
  float beta = 0.0f;
  if (l->cfg.linear.bias) {
    /* Start from the bias and let the GEMM accumulate onto it. */
    const float *b = l->param + (size_t)in * out;
    for (int i = 0; i < n; i++)
      for (int o = 0; o < out; o++) y[(size_t)i * out + o] = b[o];
    beta = 1.0f;
  }
  /* y (N, OUT) = x (N, IN) * W^T (IN, OUT) */
  lab_sgemm(0, 1, n, out, in, 1.0f, x[0], in, w, in, beta, y, out);
}

static void linear_backward(lab_layer *l, const float *const *x, const float *y, const float *dy,
                            float *const *dx, lab_ctx *ctx) {
  (void)y;
  int in = (int)lab_shape_numel(l->in[0]), out = l->cfg.linear.out, n = ctx->batch;
  /* dW (OUT, IN) += dy^T (OUT, N) * x (N, IN) */
  lab_sgemm(1, 0, out, in, n, 1.0f, dy, out, x[0], in, 1.0f, l->grad, in);
  if (l->cfg.linear.bias) {
    float *db = l->grad + (size_t)in * out;
    for (int o = 0; o < out; o++) {
      double s = 0.0;
      for (int i = 0; i < n; i++) s += dy[(size_t)i * out + o];
      db[o] += (float)s;
    }
  }
  /* dx (N, IN) += dy (N, OUT) * W (OUT, IN) */
  if (dx[0]) lab_sgemm(0, 0, n, in, out, 1.0f, dy, out, l->param, in, 1.0f, dx[0], in);
}

const lab_layer_ops lab_linear_ops = {
    .type = "linear",
    .shape = linear_shape,
    .cost = linear_cost,
    .params = linear_params,
    .init = linear_init,
    .forward = linear_forward,
    .backward = linear_backward,
};
