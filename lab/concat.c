/* concat.c: channel concatenation of any number of inputs (torch.cat(xs, dim=1)).
 *
 * x[i]: (N, C_i, H, W), in; y: (N, sum C_i, H, W). Per sample, input i occupies the channel
 * slice starting at C_0 + ... + C_{i-1}, so forward copies one contiguous block of
 * C_i*H*W floats per input and sample, and backward adds the same slice of dy into dx[i].
 */
#include <stdio.h>
#include <string.h>

#include "lab/layers.h"

/* Writes "AxBxC, DxExF, ..." for the first n_in shapes into buf. */
static void shapes_str(const lab_shape *in, int n_in, char *buf, size_t n) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < n_in && used < n; i++) {
    char s[48];
    int w = snprintf(buf + used, n - used, "%s%s", i ? ", " : "", lab_shape_str(in[i], s, sizeof s));
    if (w < 0) break;
    used += (size_t)w;
  }
}

static lab_status concat_shape(const lab_layer_cfg *cfg, const lab_shape *in, int n_in, lab_shape *out,
                               lab_error *err) {
  (void)cfg;
  if (n_in < 1 || n_in > LAB_MAX_INPUTS)
    return lab_error_set(err, LAB_ERR_SHAPE, "concat takes 1 to %d inputs, got %d", LAB_MAX_INPUTS, n_in);
  char all[LAB_MAX_INPUTS * 48];
  long long c = 0;
  for (int i = 0; i < n_in; i++) {
    if (in[i].c < 1 || in[i].h < 1 || in[i].w < 1 || in[i].h != in[0].h || in[i].w != in[0].w) {
      shapes_str(in, n_in, all, sizeof all);
      return lab_error_set(err, LAB_ERR_SHAPE,
                           "concat needs non-empty inputs of equal height x width; input %d of (%s) "
                           "differs",
                           i, all);
    }
    c += in[i].c;
  }
  if (c > 0x7fffffffLL) {
    shapes_str(in, n_in, all, sizeof all);
    return lab_error_set(err, LAB_ERR_SHAPE, "concat: too many channels in total (%s)", all);
  }
  *out = (lab_shape){(int)c, in[0].h, in[0].w};
  return LAB_STATUS_OK;
}

static void concat_cost(const lab_layer *l, int batch, lab_cost *cost) {
  (void)batch;
  *cost = (lab_cost){0};
  cost->act_floats = lab_shape_numel(l->out);
}

static void concat_forward(lab_layer *l, const float *const *x, float *y, lab_ctx *ctx) {
  size_t per_out = lab_shape_numel(l->out);
  size_t off = 0;
  for (int i = 0; i < l->n_in; i++) {
    size_t per_in = lab_shape_numel(l->in[i]);
    for (int n = 0; n < ctx->batch; n++)
      memcpy(y + (size_t)n * per_out + off, x[i] + (size_t)n * per_in, per_in * sizeof(float));
    off += per_in;
  }
  LAB_ASSERT(off == per_out, "concat: slices cover %zu of %zu floats", off, per_out);
}

static void concat_backward(lab_layer *l, const float *const *x, const float *y, const float *dy,
                            float *const *dx, lab_ctx *ctx) {
  (void)x;
  (void)y;
  size_t per_out = lab_shape_numel(l->out);
  size_t off = 0;
  for (int i = 0; i < l->n_in; i++) {
    size_t per_in = lab_shape_numel(l->in[i]);
    if (dx[i]) {
      for (int n = 0; n < ctx->batch; n++) {
        const float *src = dy + (size_t)n * per_out + off;
        float *dst = dx[i] + (size_t)n * per_in;
        for (size_t j = 0; j < per_in; j++) dst[j] += src[j];
      }
    }
    off += per_in;
  }
}

const lab_layer_ops lab_concat_ops = {
    .type = "concat",
    .shape = concat_shape,
    .cost = concat_cost,
    .params = NULL,
    .init = NULL,
    .forward = concat_forward,
    .backward = concat_backward,
};
