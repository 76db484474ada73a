/* flatten.c: (C, H, W) -> (C*H*W, 1, 1) per sample (torch.flatten(x, 1)).
 *
 * NCHW is contiguous per sample, so flattening is a plain copy and its backward a plain
 * accumulate. The copy (rather than aliasing) keeps the graph's one-buffer-per-node rule.
 */
#include <limits.h>
#include <stddef.h>

#include "lab/layers.h"

static lab_status flatten_shape(const lab_layer_cfg *cfg, const lab_shape *in, int n_in, lab_shape *out,
                                lab_error *err) {
  (void)cfg;
  if (n_in != 1) return lab_error_set(err, LAB_ERR_SHAPE, "flatten takes 1 input, got %d", n_in);
  char s[48];
  if (in[0].c < 1 || in[0].h < 1 || in[0].w < 1)
    return lab_error_set(err, LAB_ERR_SHAPE, "flatten: empty input %s", lab_shape_str(in[0], s, sizeof s));
  if (lab_shape_numel(in[0]) > (size_t)INT_MAX)
    return lab_error_set(err, LAB_ERR_SHAPE, "flatten: input %s has more than %d elements",
                         lab_shape_str(in[0], s, sizeof s), INT_MAX);
  *out = (lab_shape){(int)lab_shape_numel(in[0]), 1, 1};
  return LAB_STATUS_OK;
}

static void flatten_cost(const lab_layer *l, int batch, lab_cost *cost) {
  (void)batch;
  *cost = (lab_cost){0};
  cost->act_floats = lab_shape_numel(l->out);
}

static void flatten_forward(lab_layer *l, const float *const *x, float *y, lab_ctx *ctx) {
  const float *xi = x[0];
  size_t n = (size_t)ctx->batch * lab_shape_numel(l->in[0]);
  for (size_t i = 0; i < n; i++) y[i] = xi[i];
}

static void flatten_backward(lab_layer *l, const float *const *x, const float *y, const float *dy,
                             float *const *dx, lab_ctx *ctx) {
  (void)x;
  (void)y;
  float *d = dx[0];
  if (!d) return;
  size_t n = (size_t)ctx->batch * lab_shape_numel(l->in[0]);
  for (size_t i = 0; i < n; i++) d[i] += dy[i];
}

const lab_layer_ops lab_flatten_ops = {
    .type = "flatten",
    .shape = flatten_shape,
    .cost = flatten_cost,
    .params = NULL,
    .init = NULL,
    .forward = flatten_forward,
    .backward = flatten_backward,
};
