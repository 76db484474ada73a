/* test_conv2d.c: the convolution layer. Shapes and costs by hand (Inception-v3 stem and a
 * factorized 1x7), geometry errors, finite-difference gradients for every kernel form the
 * paper uses (3x3, 1xn/nx1 with asymmetric padding, strided, 1x1, 5x5), gradient accumulation,
 * and agreement with a naive direct convolution on batches large enough that the layer splits
 * its work into several column blocks (several samples per GEMM, or slices of one map). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "lab/layers.h"
#include "testutil.h"

static lab_layer_cfg conv_cfg(int oc, int kh, int kw, int sh, int sw, int pt, int pb, int pl, int pr, int bias) {
  lab_layer_cfg c = {.ops = &lab_conv2d_ops};
  c.conv = (lab_conv2d_cfg){.oc = oc, .kh = kh, .kw = kw, .sh = sh, .sw = sw, .pt = pt, .pb = pb,
                            .pl = pl, .pr = pr, .bias = bias, .init_std = 0};
  return c;
}

static lab_cost cost_of(const lab_layer_cfg *cfg, lab_shape in, int batch, lab_shape *out) {
  lab_error err;
  assert_int_equal(lab_conv2d_ops.shape(cfg, &in, 1, out, &err), LAB_STATUS_OK);
  lab_layer l;
  memset(&l, 0, sizeof l);
  l.ops = &lab_conv2d_ops;
  l.cfg = *cfg;
  l.n_in = 1;
  l.in[0] = in;
  l.out = *out;
  l.batch = batch;
  lab_cost c;
  lab_conv2d_ops.cost(&l, batch, &c);
  return c;
}

/* === shape and cost === */

static void test_shape_cost_inception(void **state) {
  (void)state;
  lab_shape out;
  /* Conv2d_1a_3x3: 3x3/2 on 3x299x299 -> 32x149x149 (facts card 2.2); conv alone, no BN:
   * 32*3*3*3 = 864 weights, 149*149 * 864 = 19,181,664 MACs (the card's 19.2 M). */
  lab_layer_cfg c1 = conv_cfg(32, 3, 3, 2, 2, 0, 0, 0, 0, 0);
  lab_cost c = cost_of(&c1, (lab_shape){3, 299, 299}, 8, &out);
  assert_int_equal(out.c, 32);
  assert_int_equal(out.h, 149);
  assert_int_equal(out.w, 149);
  assert_int_equal(c.n_params, 864);
  assert_int_equal(c.macs, 19181664);
  assert_int_equal(c.act_floats, 32 * 149 * 149);
  assert_int_equal(c.n_buffers, 0);
  assert_int_equal(c.cache_floats, 0);
  assert_true(c.scratch_floats > 0); /* im2col workspace */

  /* Conv2d_4a_3x3: 80 -> 192, 3x3/1 on 73x73 -> 71x71: 138,240 weights, 696.7 M MACs. */
  lab_layer_cfg c4 = conv_cfg(192, 3, 3, 1, 1, 0, 0, 0, 0, 0);
  c = cost_of(&c4, (lab_shape){80, 73, 73}, 8, &out);
  assert_int_equal(out.h, 71);
  assert_int_equal(c.n_params, 138240);
  assert_int_equal(c.macs, (uint64_t)71 * 71 * 138240);

  /* Mixed_6c's 1x7 (pad 0,3): 160 -> 160 on 17x17 keeps 17x17; with bias +160. */
  lab_layer_cfg c17 = conv_cfg(160, 1, 7, 1, 1, 0, 0, 3, 3, 1);
  c = cost_of(&c17, (lab_shape){160, 17, 17}, 8, &out);
  assert_int_equal(out.c, 160);
  assert_int_equal(out.h, 17);
  assert_int_equal(out.w, 17);
  assert_int_equal(c.n_params, 160 * 160 * 7 + 160);
  assert_int_equal(c.macs, (uint64_t)17 * 17 * 160 * 160 * 7);

  /* Asymmetric padding and stride: H' = 7+0+1 = 8 -> (8-3)/2+1 = 3; W' = 6+2+0 = 8 -> 3. */
  lab_layer_cfg ca = conv_cfg(5, 3, 3, 2, 2, 0, 1, 2, 0, 1);
  c = cost_of(&ca, (lab_shape){4, 7, 6}, 2, &out);
  assert_int_equal(out.h, 3);
  assert_int_equal(out.w, 3);
  assert_int_equal(c.n_params, 5 * 4 * 9 + 5);

  /* A 1x1 stride-1 unpadded conv on a large map multiplies x in place: no workspace. */
  lab_layer_cfg c11 = conv_cfg(192, 1, 1, 1, 1, 0, 0, 0, 0, 0);
  c = cost_of(&c11, (lab_shape){64, 73, 73}, 8, &out);
  assert_int_equal(c.scratch_floats, 0);
  assert_int_equal(c.n_params, 192 * 64);
}

static void expect_shape_error(const lab_layer_cfg *cfg, lab_shape in, int n_in, const char *must1,
                               const char *must2) {
  lab_error err;
  memset(&err, 0, sizeof err);
  lab_shape ins[2] = {in, in}, out;
  assert_int_equal(lab_conv2d_ops.shape(cfg, ins, n_in, &out, &err), LAB_ERR_SHAPE);
  if (must1 && !strstr(err.msg, must1)) fail_msg("message '%s' lacks '%s'", err.msg, must1);
  if (must2 && !strstr(err.msg, must2)) fail_msg("message '%s' lacks '%s'", err.msg, must2);
}

static void test_shape_errors(void **state) {
  (void)state;
  /* Kernel larger than the padded input: names the input and the kernel. */
  lab_layer_cfg big = conv_cfg(8, 5, 5, 1, 1, 0, 0, 0, 0, 0);
  expect_shape_error(&big, (lab_shape){3, 4, 6}, 1, "3x4x6", "5x5");
  /* Only the width fails: 1x7 unpadded on a 17x6 map. */
  lab_layer_cfg wide = conv_cfg(8, 1, 7, 1, 1, 0, 0, 0, 0, 0);
  expect_shape_error(&wide, (lab_shape){2, 17, 6}, 1, "2x17x6", "1x7");
  /* Padding that rescues it is accepted: 4+1+0 = 5 >= 5. */
  lab_layer_cfg ok = conv_cfg(8, 5, 5, 1, 1, 1, 0, 1, 0, 0);
  lab_shape out, in = {3, 4, 4};
  assert_int_equal(lab_conv2d_ops.shape(&ok, &in, 1, &out, NULL), LAB_STATUS_OK);
  assert_int_equal(out.h, 1);
  assert_int_equal(out.w, 1);
  /* Bad values. */
  lab_layer_cfg s0 = conv_cfg(8, 3, 3, 0, 1, 0, 0, 0, 0, 0);
  expect_shape_error(&s0, (lab_shape){3, 9, 9}, 1, "3x9x9", "stride 0x1");
  lab_layer_cfg pneg = conv_cfg(8, 3, 3, 1, 1, 0, -1, 0, 0, 0);
  expect_shape_error(&pneg, (lab_shape){3, 9, 9}, 1, "3x9x9", "bottom -1");
  lab_layer_cfg oc0 = conv_cfg(0, 3, 3, 1, 1, 0, 0, 0, 0, 0);
  expect_shape_error(&oc0, (lab_shape){3, 9, 9}, 1, "3x9x9", "out channels 0");
  /* Two inputs. */
  lab_layer_cfg one = conv_cfg(8, 3, 3, 1, 1, 1, 1, 1, 1, 0);
  expect_shape_error(&one, (lab_shape){3, 9, 9}, 2, "2", NULL);
}

/* === gradients === */

typedef struct grad_case {
  const char *what;
  lab_shape in;
  int oc, kh, kw, sh, sw, pt, pb, pl, pr;
} grad_case;

static const grad_case grad_cases[] = {
    {"3x3 pad 1", {3, 6, 5}, 4, 3, 3, 1, 1, 1, 1, 1, 1},
    {"1x3 asymmetric pad", {2, 5, 7}, 3, 1, 3, 1, 1, 1, 0, 2, 0},
    {"3x1 pad 1,1", {3, 7, 4}, 2, 3, 1, 1, 1, 1, 1, 0, 0},
    {"3x3 stride 2", {4, 7, 7}, 3, 3, 3, 2, 2, 0, 0, 0, 0},
    {"3x3 stride 2 asym pad", {2, 7, 6}, 3, 3, 3, 2, 2, 0, 1, 1, 0},
    {"3x2 stride 1x2", {2, 6, 7}, 3, 3, 2, 1, 2, 1, 0, 0, 1},
    {"1x1", {4, 5, 6}, 3, 1, 1, 1, 1, 0, 0, 0, 0},
    {"1x1 stride 2", {3, 7, 7}, 2, 1, 1, 2, 2, 0, 0, 0, 0},
    {"5x5 pad 2", {2, 7, 7}, 3, 5, 5, 1, 1, 2, 2, 2, 2},
};

static void test_gradcheck(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof grad_cases / sizeof grad_cases[0]; i++) {
    const grad_case *gc = &grad_cases[i];
    for (int bias = 0; bias <= 1; bias++) {
      lab_layer_cfg cfg = conv_cfg(gc->oc, gc->kh, gc->kw, gc->sh, gc->sw, gc->pt, gc->pb, gc->pl, gc->pr, bias);
      lab_test_layer t;
      lab_error err;
      assert_int_equal(lab_test_layer_init(&t, &cfg, &gc->in, 1, 2, &err), LAB_STATUS_OK);
      /* Nonzero bias so the forward's bias term is exercised, not just its gradient. */
      if (bias) lab_test_fill(t.l.param + lab_test_layer_n_params(&t) - (size_t)gc->oc, (size_t)gc->oc, &t.rng, -1, 1);
      lab_gradcheck_opts o = {.eps = 1e-2, .tol = 1e-3, .train = 1};
      int fails = lab_gradcheck(&t, &o);
      if (fails) fprintf(stderr, "case %s, bias %d\n", gc->what, bias);
      assert_int_equal(fails, 0);
      lab_test_layer_free(&t);
    }
  }
}

static void test_accumulates(void **state) {
  (void)state;
  lab_shape in = {3, 6, 5};
  lab_layer_cfg cfg = conv_cfg(4, 3, 3, 1, 1, 1, 1, 1, 1, 1);
  lab_test_layer t;
  assert_int_equal(lab_test_layer_init(&t, &cfg, &in, 1, 2, NULL), LAB_STATUS_OK);
  assert_true(lab_check_accumulates(&t, 1));
  lab_test_layer_free(&t);
  /* 1x1 at batch 1 takes the in-place GEMM path (dx accumulated by the GEMM's beta = 1). */
  lab_layer_cfg c11 = conv_cfg(3, 1, 1, 1, 1, 0, 0, 0, 0, 1);
  assert_int_equal(lab_test_layer_init(&t, &c11, &in, 1, 1, NULL), LAB_STATUS_OK);
  assert_true(lab_check_accumulates(&t, 1));
  lab_test_layer_free(&t);
}

/* === against a naive direct convolution === */

typedef struct naive_out {
  double *y, *dx, *dw, *db;
} naive_out;

/* Direct convolution in double: y = W * x + b, and the gradients for dy. */
static naive_out naive_conv(const lab_test_layer *t) {
  const lab_conv2d_cfg *c = &t->l.cfg.conv;
  const int n = t->batch, ic = t->l.in[0].c, h = t->l.in[0].h, w = t->l.in[0].w;
  const int oc = c->oc, oh = t->l.out.h, ow = t->l.out.w;
  const size_t nw = (size_t)oc * ic * c->kh * c->kw;
  naive_out r;
  r.y = calloc((size_t)n * oc * oh * ow, sizeof(double));
  r.dx = calloc((size_t)n * ic * h * w, sizeof(double));
  r.dw = calloc(nw, sizeof(double));
  r.db = calloc((size_t)oc, sizeof(double));
  assert_non_null(r.y);
  assert_non_null(r.dx);
  assert_non_null(r.dw);
  assert_non_null(r.db);
  const float *wt = t->l.param, *x = t->x[0], *dy = t->dy;
  /* Weight-stationary loop order: the innermost loop walks one output row, so the check stays
   * fast at the sizes that force several column blocks. */
  for (int s = 0; s < n; s++)
    for (int o = 0; o < oc; o++) {
      const size_t ybase = ((size_t)s * oc + o) * oh * ow;
      for (size_t q = 0; q < (size_t)oh * ow; q++) {
        if (c->bias) r.y[ybase + q] = t->l.param[nw + o];
        if (c->bias) r.db[o] += dy[ybase + q];
      }
      for (int ci = 0; ci < ic; ci++)
        for (int ki = 0; ki < c->kh; ki++)
          for (int kj = 0; kj < c->kw; kj++) {
            const size_t wi = (((size_t)o * ic + ci) * c->kh + ki) * c->kw + kj;
            const double wv = wt[wi];
            double dwv = 0;
            for (int i = 0; i < oh; i++) {
              const int ih = i * c->sh - c->pt + ki;
              if (ih < 0 || ih >= h) continue;
              const size_t xrow = (((size_t)s * ic + ci) * h + ih) * w;
              for (int j = 0; j < ow; j++) {
                const int iw = j * c->sw - c->pl + kj;
                if (iw < 0 || iw >= w) continue;
                const size_t yi = ybase + (size_t)i * ow + j;
                r.y[yi] += wv * x[xrow + iw];
                dwv += (double)dy[yi] * x[xrow + iw];
                r.dx[xrow + iw] += (double)dy[yi] * wv;
              }
            }
            r.dw[wi] += dwv;
          }
    }
  return r;
}

static void compare(const float *got, const double *want, size_t n, double tol, const char *what) {
  float *wf = malloc(n * sizeof(float));
  assert_non_null(wf);
  for (size_t i = 0; i < n; i++) wf[i] = (float)want[i];
  assert_close(got, wf, n, tol, tol, what);
  free(wf);
}

/* split: 1 = the workspace cannot hold the whole batch's columns and GEMM result, so samples
 * are processed in several groups; 2 = it cannot hold one map's columns, so maps are sliced. */
static void check_against_naive(lab_layer_cfg cfg, lab_shape in, int batch, int split) {
  lab_test_layer t;
  lab_error err;
  assert_int_equal(lab_test_layer_init(&t, &cfg, &in, 1, batch, &err), LAB_STATUS_OK);
  const lab_conv2d_cfg *c = &cfg.conv;
  const size_t k = (size_t)in.c * c->kh * c->kw, p = (size_t)t.l.out.h * t.l.out.w;
  if (split == 1) assert_true(t.scratch_floats < (k + (size_t)c->oc) * p * (size_t)batch);
  if (split == 2) assert_true(t.scratch_floats < k * p);
  if (c->bias) lab_test_fill(t.l.param + k * c->oc, (size_t)c->oc, &t.rng, -1, 1);
  lab_test_fill(t.dy, lab_test_layer_out_numel(&t), &t.rng, -1, 1);
  naive_out r = naive_conv(&t);
  lab_test_layer_zero_grads(&t);
  lab_test_layer_forward(&t, 1);
  lab_test_layer_backward(&t);
  compare(t.y, r.y, lab_test_layer_out_numel(&t), 1e-4, "y");
  compare(t.dx[0], r.dx, lab_test_layer_in_numel(&t, 0), 1e-4, "dx");
  compare(t.l.grad, r.dw, k * c->oc, 1e-3, "dW");
  if (c->bias) compare(t.l.grad + k * c->oc, r.db, (size_t)c->oc, 1e-3, "db");
  /* Same inputs, same thread count: bit-identical outputs. */
  float *y1 = malloc(lab_test_layer_out_numel(&t) * sizeof(float));
  assert_non_null(y1);
  memcpy(y1, t.y, lab_test_layer_out_numel(&t) * sizeof(float));
  lab_test_layer_forward(&t, 1);
  assert_memory_equal(y1, t.y, lab_test_layer_out_numel(&t) * sizeof(float));
  free(y1);
  free(r.y);
  free(r.dx);
  free(r.dw);
  free(r.db);
  lab_test_layer_free(&t);
}

/* The layer bounds its im2col workspace, so a large enough K forces several column blocks even
 * at these small sizes; the split checks in check_against_naive prove that it happened. */
static void test_naive_sample_groups(void **state) {
  (void)state;
  /* 17x17 maps, K = 864: several samples per GEMM, several GEMMs. */
  check_against_naive(conv_cfg(2, 3, 3, 1, 1, 1, 1, 1, 1, 1), (lab_shape){96, 17, 17}, 17, 1);
  /* 35x35, 5x5 pad 2, K = 800: a short last group (3 + 2). */
  check_against_naive(conv_cfg(2, 5, 5, 1, 1, 2, 2, 2, 2, 0), (lab_shape){32, 35, 35}, 5, 1);
  /* A 7x1 as in the 17x17 modules (1x7 and the rest are covered by the gradchecks), and a 1x1 on
   * a small map (gathered, not in place). */
  check_against_naive(conv_cfg(2, 7, 1, 1, 1, 3, 3, 0, 0, 1), (lab_shape){112, 17, 17}, 19, 1);
  check_against_naive(conv_cfg(2, 1, 1, 1, 1, 0, 0, 0, 0, 1), (lab_shape){768, 17, 17}, 19, 1);
}

static void test_naive_map_slices(void **state) {
  (void)state;
  /* 90x90 output, K = 576: one map is cut into column slices (slice edges inside rows). */
  check_against_naive(conv_cfg(2, 3, 3, 1, 1, 1, 1, 1, 1, 1), (lab_shape){64, 90, 90}, 1, 2);
  /* Stride 2 on a large map, asymmetric padding: 181 + 1 -> 90; OC = 1 makes every GEMM a
   * matrix-vector product (lab_sgemm's non-BLIS path). */
  check_against_naive(conv_cfg(1, 3, 3, 2, 2, 0, 1, 0, 1, 0), (lab_shape){64, 181, 181}, 1, 2);
  /* 1x1 on a large map: x multiplied in place. */
  check_against_naive(conv_cfg(4, 1, 1, 1, 1, 0, 0, 0, 0, 1), (lab_shape){5, 40, 40}, 3, 0);
}

/* The lowering has three paths: a plane copy (1x1, stride 1, unpadded), an offset table (maps
 * at most 24 wide) and row-by-row copies (wider maps). Every geometry of the gradchecks, on a
 * narrow and on a wide map, against the naive convolution. */
static void test_naive_narrow_and_wide(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof grad_cases / sizeof grad_cases[0]; i++) {
    const grad_case *gc = &grad_cases[i];
    const lab_layer_cfg cfg = conv_cfg(gc->oc, gc->kh, gc->kw, gc->sh, gc->sw, gc->pt, gc->pb, gc->pl, gc->pr, 1);
    check_against_naive(cfg, (lab_shape){gc->in.c, 9, 11}, 3, 0);
    check_against_naive(cfg, (lab_shape){gc->in.c, 7, 61}, 3, 0);
  }
}

static void test_init(void **state) {
  (void)state;
  lab_shape in = {16, 5, 5};
  lab_layer_cfg cfg = conv_cfg(32, 3, 3, 1, 1, 1, 1, 1, 1, 1);
  lab_test_layer t;
  assert_int_equal(lab_test_layer_init(&t, &cfg, &in, 1, 1, NULL), LAB_STATUS_OK);
  const size_t nw = 32 * 16 * 9;
  double s2 = 0;
  for (size_t i = 0; i < nw; i++) s2 += (double)t.l.param[i] * t.l.param[i];
  /* He: std = sqrt(2 / 144) = 0.1179; 4608 draws put the sample std within a few percent. */
  double sd = sqrt(s2 / nw);
  assert_true(fabs(sd - sqrt(2.0 / 144)) < 0.05 * sqrt(2.0 / 144));
  for (size_t i = nw; i < nw + 32; i++) assert_true(t.l.param[i] == 0.0f);
  lab_param_list list = {0};
  t.l.ops->params(&t.l, &list);
  assert_int_equal(list.n, 2);
  assert_non_null(strstr(list.items[0].name, "weight"));
  assert_int_equal(list.items[0].count, nw);
  assert_int_equal(list.items[0].decay, 1);
  assert_non_null(strstr(list.items[1].name, "bias"));
  assert_int_equal(list.items[1].count, 32);
  assert_int_equal(list.items[1].decay, 0);
  lab_param_list_free(&list);
  lab_test_layer_free(&t);
  /* Truncated normal: every weight within 2 std. */
  cfg.conv.init_std = 0.1f;
  cfg.conv.bias = 0;
  assert_int_equal(lab_test_layer_init(&t, &cfg, &in, 1, 1, NULL), LAB_STATUS_OK);
  double mx = 0;
  s2 = 0;
  for (size_t i = 0; i < nw; i++) {
    mx = fmax(mx, fabs(t.l.param[i]));
    s2 += (double)t.l.param[i] * t.l.param[i];
  }
  assert_true(mx <= 0.2 + 1e-6);
  /* A normal truncated at 2 std has std 0.88 of the untruncated one. */
  sd = sqrt(s2 / nw);
  assert_true(fabs(sd - 0.088) < 0.005);
  lab_test_layer_free(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shape_cost_inception),
      cmocka_unit_test(test_shape_errors),
      cmocka_unit_test(test_init),
      cmocka_unit_test(test_gradcheck),
      cmocka_unit_test(test_accumulates),
      cmocka_unit_test(test_naive_sample_groups),
      cmocka_unit_test(test_naive_map_slices),
      cmocka_unit_test(test_naive_narrow_and_wide),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
