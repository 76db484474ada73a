/* relu.c: rectified linear unit, y = max(x, 0) elementwise (torch.nn.ReLU).
 *
 * x, y: (N, C, H, W). Backward passes dy where y > 0, as PyTorch's threshold_backward does
 * (so the gradient at exactly 0 is 0), and reads the mask from y: no cache is needed.
 * A NaN input stays NaN in y (so a diverging run is seen downstream) and gets zero gradient.
 */
#include <stddef.h>

#include "lab/layers.h"

/* Element counts above which the loops are worth an OpenMP team. */
#define RELU_PARALLEL_MIN 32768

static lab_status relu_shape(const lab_layer_cfg *cfg, const lab_shape *in, int n_in, lab_shape *out,
                             lab_error *err) {
  (void)cfg;
  if (n_in != 1) return lab_error_set(err, LAB_ERR_SHAPE, "relu takes 1 input, got %d", n_in);
  char s[48];
  if (in[0].c < 1 || in[0].h < 1 || in[0].w < 1)
    return lab_error_set(err, LAB_ERR_SHAPE, "relu: empty input %s", lab_shape_str(in[0], s, sizeof s));
  *out = in[0];
  return LAB_STATUS_OK;
}

static void relu_cost(const lab_layer *l, int batch, lab_cost *cost) {
  (void)batch;
  *cost = (lab_cost){0};
  cost->act_floats = lab_shape_numel(l->out);
}

static void relu_forward(lab_layer *l, const float *const *x, float *y, lab_ctx *ctx) {
  const float *xi = x[0];
  long n = (long)((size_t)ctx->batch * lab_shape_numel(l->in[0]));
#pragma omp parallel for if (n > RELU_PARALLEL_MIN)
  for (long i = 0; i < n; i++) y[i] = xi[i] < 0.0f ? 0.0f : xi[i];
}

static void relu_backward(lab_layer *l, const float *const *x, const float *y, const float *dy,
                          float *const *dx, lab_ctx *ctx) {
  (void)x;
  float *restrict d = dx[0];
  if (!d) return;
  long n = (long)((size_t)ctx->batch * lab_shape_numel(l->in[0]));
#pragma omp parallel for if (n > RELU_PARALLEL_MIN)
  /* a select, not a branch: the sign pattern is random, a branch mispredicts half the time */
  for (long i = 0; i < n; i++) d[i] += y[i] > 0.0f ? dy[i] : 0.0f;
}

const lab_layer_ops lab_relu_ops = {
    .type = "relu",
    .shape = relu_shape,
    .cost = relu_cost,
    .params = NULL,
    .init = NULL,
    .forward = relu_forward,
    .backward = relu_backward,
};
