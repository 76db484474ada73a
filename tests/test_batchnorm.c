/* test_batchnorm.c: batch norm: shape/cost/params/init, hand forward in training (batch
 * statistics, biased variance) and evaluation (running statistics), the running-average
 * update (unbiased variance) over two steps, (C,1,1) inputs (BN after a linear layer),
 * precision with a large offset, gradcheck in both modes, accumulation, dx = NULL, and
 * frozen batch norm (ctx->bn_frozen: training calls that are evaluation's bit for bit). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "lab/layers.h"

static lab_layer_cfg bn(float eps, float momentum) {
  lab_layer_cfg c = {.ops = &lab_batchnorm_ops};
  c.bn = (lab_bn_cfg){.eps = eps, .momentum = momentum};
  return c;
}

static void test_shape_cost_params(void **state) {
  (void)state;
  lab_shape in[2] = {{4, 5, 6}, {4, 5, 6}}, out;
  lab_error err;
  lab_layer_cfg c = bn(1e-3f, 0.1f);
  assert_int_equal(lab_batchnorm_ops.shape(&c, in, 1, &out, &err), LAB_STATUS_OK);
  assert_true(lab_shape_eq(out, in[0]));
  assert_int_equal(lab_batchnorm_ops.shape(&c, in, 2, &out, &err), LAB_ERR_SHAPE);
  lab_shape empty = {0, 5, 6};
  assert_int_equal(lab_batchnorm_ops.shape(&c, &empty, 1, &out, &err), LAB_ERR_SHAPE);
  assert_non_null(strstr(err.msg, "0x5x6"));
  lab_layer_cfg bad_eps = bn(0.0f, 0.1f), bad_mom = bn(1e-3f, 1.5f);
  assert_int_equal(lab_batchnorm_ops.shape(&bad_eps, in, 1, &out, &err), LAB_ERR_CONFIG);
  assert_non_null(strstr(err.msg, "4x5x6"));
  assert_int_equal(lab_batchnorm_ops.shape(&bad_mom, in, 1, &out, &err), LAB_ERR_CONFIG);

  lab_test_layer t;
  assert_int_equal(lab_test_layer_init(&t, &c, in, 1, 8, &err), LAB_STATUS_OK);
  lab_cost k;
  lab_batchnorm_ops.cost(&t.l, 8, &k);
  assert_int_equal(k.n_params, 8);
  assert_int_equal(k.n_buffers, 8);
  assert_int_equal(k.macs, 0);
  assert_int_equal(k.act_floats, 120);
  assert_int_equal(k.cache_floats, 8);
  assert_int_equal(k.scratch_floats, 0);

  lab_param_list list = {0};
  lab_batchnorm_ops.params(&t.l, &list);
  assert_int_equal(list.n, 2);
  assert_string_equal(list.items[0].name, "test.weight");
  assert_string_equal(list.items[1].name, "test.bias");
  for (int i = 0; i < 2; i++) {
    assert_int_equal(list.items[i].count, 4);
    assert_int_equal(list.items[i].decay, 0);
    assert_ptr_equal(list.items[i].value, t.l.param + 4 * i);
    assert_ptr_equal(list.items[i].grad, t.l.grad + 4 * i);
  }
  lab_param_list_free(&list);
  const float want_p[8] = {1, 1, 1, 1, 0, 0, 0, 0};
  const float want_b[8] = {0, 0, 0, 0, 1, 1, 1, 1};
  assert_close(t.l.param, want_p, 8, 0, 0, "gamma = 1, beta = 0");
  assert_close(t.l.buf, want_b, 8, 0, 0, "running mean 0, running var 1");
  lab_test_layer_free(&t);
}

static void test_forward_hand_and_running_stats(void **state) {
  (void)state;
  /* N = 2, C = 2, 1x2. Channel 0 holds 1 2 | 3 4: mean 2.5, biased var 1.25, unbiased 5/3.
   * Channel 1 holds 10 10 | 10 14: mean 11, biased var 3, unbiased 4. */
  lab_shape in = {2, 1, 2};
  lab_error err;
  lab_test_layer t;
  lab_layer_cfg c = bn(1e-3f, 0.1f);
  assert_int_equal(lab_test_layer_init(&t, &c, &in, 1, 2, &err), LAB_STATUS_OK);
  const float x[8] = {1, 2, 10, 10, 3, 4, 10, 14};
  memcpy(t.x[0], x, sizeof x);
  const float p[4] = {2.0f, 0.5f, 0.5f, -1.0f}; /* gamma, beta */
  memcpy(t.l.param, p, sizeof p);
  lab_test_layer_forward(&t, 1);
  const float s0 = 2.0f / sqrtf(1.25f + 1e-3f), s1 = 0.5f / sqrtf(3.0f + 1e-3f);
  const float want[8] = {-1.5f * s0 + 0.5f, -0.5f * s0 + 0.5f, -1 * s1 - 1, -1 * s1 - 1,
                         0.5f * s0 + 0.5f,  1.5f * s0 + 0.5f,  -1 * s1 - 1, 3 * s1 - 1};
  assert_close(t.y, want, 8, 1e-6, 1e-6, "bn train forward");
  /* running = 0.9 * running + 0.1 * batch (variance unbiased) */
  const float run1[4] = {0.25f, 1.1f, 0.9f + 0.1f * 5.0f / 3.0f, 0.9f + 0.1f * 4.0f};
  assert_close(t.l.buf, run1, 4, 1e-7, 1e-6, "running stats after one step");
  lab_test_layer_forward(&t, 1);
  const float run2[4] = {0.475f, 2.09f, 0.9f * run1[2] + 0.1f * 5.0f / 3.0f, 0.9f * 1.3f + 0.4f};
  assert_close(t.l.buf, run2, 4, 1e-7, 1e-6, "running stats after two steps");

  /* evaluation: running statistics, buffers untouched */
  float before[4];
  memcpy(before, t.l.buf, sizeof before);
  lab_test_layer_forward(&t, 0);
  float want_eval[8];
  for (int i = 0; i < 8; i++) {
    int ch = (i / 2) % 2;
    want_eval[i] = p[ch] * (x[i] - run2[ch]) / sqrtf(run2[2 + ch] + 1e-3f) + p[2 + ch];
  }
  assert_close(t.y, want_eval, 8, 1e-6, 1e-6, "bn eval forward");
  assert_close(t.l.buf, before, 4, 0, 0, "eval leaves running stats alone");

  /* eval backward is the affine map's: dx = gamma * inv_std * dy, dbeta = sum dy,
   * dgamma = sum dy * (x - mean) * inv_std */
  for (int i = 0; i < 8; i++) t.dy[i] = (float)(i + 1);
  lab_test_layer_zero_grads(&t);
  lab_test_layer_backward(&t);
  float want_dx[8], want_g[4] = {0, 0, 0, 0};
  for (int i = 0; i < 8; i++) {
    int ch = (i / 2) % 2;
    float inv = 1.0f / sqrtf(run2[2 + ch] + 1e-3f);
    want_dx[i] = p[ch] * inv * t.dy[i];
    want_g[ch] += t.dy[i] * (x[i] - run2[ch]) * inv;
    want_g[2 + ch] += t.dy[i];
  }
  assert_close(t.dx[0], want_dx, 8, 1e-6, 1e-5, "bn eval dx");
  assert_close(t.l.grad, want_g, 4, 1e-5, 1e-5, "bn eval dgamma, dbeta");
  lab_test_layer_free(&t);
}

/* Gamma and beta away from their init so that their gradients are exercised in general. */
static void perturb_params(lab_test_layer *t, int with_running) {
  lab_rng r;
  lab_rng_seed(&r, 31);
  int c = t->l.in[0].c;
  lab_test_fill(t->l.param, (size_t)c, &r, 0.5f, 1.5f);
  lab_test_fill(t->l.param + c, (size_t)c, &r, -0.5f, 0.5f);
  if (with_running) {
    lab_test_fill(t->l.buf, (size_t)c, &r, -0.5f, 0.5f);
    lab_test_fill(t->l.buf + c, (size_t)c, &r, 0.5f, 1.5f);
  }
}

static void test_gradcheck_train_eval(void **state) {
  (void)state;
  lab_shape in = {3, 3, 4};
  lab_error err;
  for (int train = 1; train >= 0; train--) {
    lab_test_layer t;
    lab_layer_cfg c = bn(1e-3f, 0.1f);
    assert_int_equal(lab_test_layer_init(&t, &c, &in, 1, 2, &err), LAB_STATUS_OK);
    perturb_params(&t, !train);
    lab_gradcheck_opts o = {.train = train};
    assert_int_equal(lab_gradcheck(&t, &o), 0);
    assert_true(lab_check_accumulates(&t, train));
    lab_test_layer_free(&t);
  }
}

/* ctx->bn_frozen (train.bn_freeze_epochs): training-mode forward and backward give exactly
 * evaluation's output and gradients and leave the running statistics alone; finite
 * differences agree with that backward; the fused ReLU too. */
static void test_frozen(void **state) {
  (void)state;
  lab_shape in = {3, 3, 4};
  lab_error err;
  for (int relu = 0; relu <= 1; relu++) {
    lab_test_layer t;
    lab_layer_cfg c = bn(1e-3f, 0.1f);
    c.bn.relu = relu;
    assert_int_equal(lab_test_layer_init(&t, &c, &in, 1, 2, &err), LAB_STATUS_OK);
    perturb_params(&t, 1);
    size_t ny = lab_test_layer_out_numel(&t), nx = lab_test_layer_in_numel(&t, 0), np = lab_test_layer_n_params(&t);
    float buf0[6], *ye = malloc(ny * sizeof(float)), *dxe = malloc(nx * sizeof(float)), *ge = malloc(np * sizeof(float));
    memcpy(buf0, t.l.buf, sizeof buf0);
    lab_rng r;
    lab_rng_seed(&r, 8);
    lab_test_fill(t.dy, ny, &r, -1, 1);
    lab_test_layer_forward(&t, 0);
    memcpy(ye, t.y, ny * sizeof(float));
    lab_test_layer_zero_grads(&t);
    lab_test_layer_backward(&t);
    memcpy(dxe, t.dx[0], nx * sizeof(float));
    memcpy(ge, t.l.grad, np * sizeof(float));

    t.ctx.bn_frozen = 1;
    lab_test_layer_forward(&t, 1);
    assert_memory_equal(t.y, ye, ny * sizeof(float));
    assert_memory_equal(t.l.buf, buf0, sizeof buf0);
    lab_test_layer_zero_grads(&t);
    lab_test_layer_backward(&t);
    assert_memory_equal(t.dx[0], dxe, nx * sizeof(float));
    assert_memory_equal(t.l.grad, ge, np * sizeof(float));
    if (!relu) {
      lab_gradcheck_opts o = {.train = 1};
      assert_int_equal(lab_gradcheck(&t, &o), 0);
      assert_true(lab_check_accumulates(&t, 1));
    }
    free(ye);
    free(dxe);
    free(ge);
    lab_test_layer_free(&t);
  }
}

/* cfg.bn.relu: the fused ReLU gives exactly BN then a ReLU layer, forward and backward, in
 * training and evaluation (inputs with exact zeros and a NaN-free spread across 0). */
static void test_fused_relu(void **state) {
  (void)state;
  lab_shape in = {4, 3, 5};
  lab_error err;
  for (int train = 1; train >= 0; train--) {
    lab_layer_cfg cf = bn(1e-3f, 0.1f), cb = bn(1e-3f, 0.1f), cr = {.ops = &lab_relu_ops};
    cf.bn.relu = 1;
    lab_test_layer f, b, r;
    assert_int_equal(lab_test_layer_init(&f, &cf, &in, 1, 3, &err), LAB_STATUS_OK);
    assert_int_equal(lab_test_layer_init(&b, &cb, &in, 1, 3, &err), LAB_STATUS_OK);
    assert_int_equal(lab_test_layer_init(&r, &cr, &in, 1, 3, &err), LAB_STATUS_OK);
    perturb_params(&f, 1);
    perturb_params(&b, 1);
    const size_t n = lab_test_layer_in_numel(&f, 0);
    assert_memory_equal(f.x[0], b.x[0], n * sizeof(float));
    lab_rng rng;
    lab_rng_seed(&rng, 77);
    lab_test_fill(f.dy, n, &rng, -1, 1);
    memcpy(r.dy, f.dy, n * sizeof(float));
    lab_test_layer_zero_grads(&f);
    lab_test_layer_zero_grads(&b);
    lab_test_layer_zero_grads(&r);
    lab_test_layer_forward(&f, train);
    lab_test_layer_forward(&b, train);
    memcpy(r.x[0], b.y, n * sizeof(float));
    lab_test_layer_forward(&r, train);
    size_t zeros = 0;
    for (size_t i = 0; i < n; i++) zeros += f.y[i] == 0.0f;
    assert_true(zeros > n / 4 && zeros < 3 * n / 4); /* the ReLU cuts a real share */
    assert_memory_equal(f.y, r.y, n * sizeof(float));
    lab_test_layer_backward(&f);
    lab_test_layer_backward(&r);
    memcpy(b.dy, r.dx[0], n * sizeof(float));
    lab_test_layer_backward(&b);
    assert_memory_equal(f.dx[0], b.dx[0], n * sizeof(float));
    assert_memory_equal(f.l.grad, b.l.grad, lab_test_layer_n_params(&f) * sizeof(float));
    lab_test_layer_free(&f);
    lab_test_layer_free(&b);
    lab_test_layer_free(&r);
  }
}

static void test_bn1d(void **state) {
  (void)state;
  /* BN after a linear layer: (C, 1, 1), statistics over the batch only */
  lab_shape in = {3, 1, 1};
  lab_error err;
  lab_test_layer t;
  lab_layer_cfg c = bn(1e-3f, 0.1f);
  assert_int_equal(lab_test_layer_init(&t, &c, &in, 1, 4, &err), LAB_STATUS_OK);
  const float x[12] = {1, -2, 0.5f, 3, 0, 0.5f, 5, 2, 1.5f, 7, 4, 1.5f};
  memcpy(t.x[0], x, sizeof x);
  lab_test_layer_forward(&t, 1);
  /* channel 0: 1 3 5 7 (mean 4, var 5); channel 1: -2 0 2 4 (mean 1, var 5);
   * channel 2: 0.5 0.5 1.5 1.5 (mean 1, var 0.25) */
  const float a = 1.0f / sqrtf(5.001f), b = 1.0f / sqrtf(0.251f);
  const float want[12] = {-3 * a, -3 * a, -0.5f * b, -1 * a, -1 * a, -0.5f * b,
                          1 * a,  1 * a,  0.5f * b,  3 * a,  3 * a,  0.5f * b};
  assert_close(t.y, want, 12, 1e-6, 1e-6, "bn1d train forward");
  const float run[6] = {0.4f, 0.1f, 0.1f, 0.9f + 0.1f * 20.0f / 3.0f, 0.9f + 0.1f * 20.0f / 3.0f,
                        0.9f + 0.1f * 1.0f / 3.0f};
  assert_close(t.l.buf, run, 6, 1e-7, 1e-6, "bn1d running stats");
  perturb_params(&t, 0);
  lab_gradcheck_opts o = {.train = 1};
  assert_int_equal(lab_gradcheck(&t, &o), 0);
  o.train = 0;
  assert_int_equal(lab_gradcheck(&t, &o), 0);
  assert_true(lab_check_accumulates(&t, 1));
  lab_test_layer_free(&t);
}

static void test_precision_large_offset(void **state) {
  (void)state;
  /* 1000 + U(-1, 1): a one-pass float variance would lose most digits here */
  lab_shape in = {2, 7, 7};
  lab_error err;
  lab_test_layer t;
  lab_layer_cfg c = bn(1e-5f, 0.1f);
  assert_int_equal(lab_test_layer_init(&t, &c, &in, 1, 2, &err), LAB_STATUS_OK);
  size_t n = lab_test_layer_in_numel(&t, 0);
  for (size_t i = 0; i < n; i++) t.x[0][i] += 1000.0f;
  lab_test_layer_forward(&t, 1);
  for (int ch = 0; ch < 2; ch++) {
    double s = 0, ss = 0, ys = 0, yss = 0;
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 49; j++) s += t.x[0][(i * 2 + ch) * 49 + j];
    double mean = s / 98;
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 49; j++) {
        double d = t.x[0][(i * 2 + ch) * 49 + j] - mean;
        ss += d * d;
        ys += t.y[(i * 2 + ch) * 49 + j];
        yss += (double)t.y[(i * 2 + ch) * 49 + j] * t.y[(i * 2 + ch) * 49 + j];
      }
    double var = ss / 98;
    assert_true(fabs(ys / 98) < 1e-4);
    assert_true(fabs(yss / 98 - var / (var + 1e-5)) < 1e-4);
  }
  lab_test_layer_free(&t);
}

static void test_dx_null(void **state) {
  (void)state;
  lab_shape in = {2, 2, 3};
  lab_error err;
  lab_test_layer t;
  lab_layer_cfg c = bn(1e-3f, 0.1f);
  assert_int_equal(lab_test_layer_init(&t, &c, &in, 1, 2, &err), LAB_STATUS_OK);
  lab_rng r;
  lab_rng_seed(&r, 5);
  lab_test_fill(t.dy, lab_test_layer_out_numel(&t), &r, -1, 1);
  lab_test_layer_forward(&t, 1);
  lab_test_layer_zero_grads(&t);
  lab_test_layer_backward(&t);
  float g[4];
  memcpy(g, t.l.grad, sizeof g);
  lab_test_layer_zero_grads(&t);
  float *keep = t.dx[0];
  t.dx[0] = NULL;
  lab_test_layer_backward(&t);
  t.dx[0] = keep;
  assert_close(t.l.grad, g, 4, 0, 0, "param grads do not depend on dx being asked for");
  lab_test_layer_free(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shape_cost_params),
      cmocka_unit_test(test_forward_hand_and_running_stats),
      cmocka_unit_test(test_gradcheck_train_eval),
      cmocka_unit_test(test_frozen),
      cmocka_unit_test(test_fused_relu),
      cmocka_unit_test(test_bn1d),
      cmocka_unit_test(test_precision_large_offset),
      cmocka_unit_test(test_dx_null),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
