/* test_dropout.c: inverted dropout: shape/cost and bad p, kept fraction ~ 1 - p, the 1/(1-p)
 * scale, identity in evaluation, same seed -> same mask, backward through the mask,
 * gradcheck (the harness reseeds the rng before each forward) and accumulation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "lab/layers.h"

static lab_layer_cfg dropout(float p) {
  lab_layer_cfg c = {.ops = &lab_dropout_ops};
  c.dropout.p = p;
  return c;
}

static void test_shape_cost(void **state) {
  (void)state;
  lab_shape in[2] = {{4, 3, 3}, {4, 3, 3}}, out;
  lab_error err;
  lab_layer_cfg c = dropout(0.3f);
  assert_int_equal(lab_dropout_ops.shape(&c, in, 1, &out, &err), LAB_STATUS_OK);
  assert_true(lab_shape_eq(out, in[0]));
  assert_int_equal(lab_dropout_ops.shape(&c, in, 2, &out, &err), LAB_ERR_SHAPE);
  const float bad[3] = {1.0f, -0.1f, NAN};
  for (int i = 0; i < 3; i++) {
    lab_layer_cfg b = dropout(bad[i]);
    assert_int_equal(lab_dropout_ops.shape(&b, in, 1, &out, &err), LAB_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "4x3x3"));
  }
  lab_test_layer t;
  assert_int_equal(lab_test_layer_init(&t, &c, in, 1, 5, &err), LAB_STATUS_OK);
  lab_cost k;
  lab_dropout_ops.cost(&t.l, 5, &k);
  assert_int_equal(k.n_params, 0);
  assert_int_equal(k.n_buffers, 0);
  assert_int_equal(k.macs, 0);
  assert_int_equal(k.act_floats, 36);
  assert_int_equal(k.cache_floats, 5 * 36);
  assert_int_equal(k.scratch_floats, 0);
  lab_test_layer_free(&t);
}

static void test_train_mask(void **state) {
  (void)state;
  const float p = 0.3f;
  lab_shape in = {1, 100, 100};
  lab_error err;
  lab_test_layer t;
  lab_layer_cfg c = dropout(p);
  assert_int_equal(lab_test_layer_init(&t, &c, &in, 1, 2, &err), LAB_STATUS_OK);
  size_t n = lab_test_layer_in_numel(&t, 0);
  for (size_t i = 0; i < n; i++) t.x[0][i] = 1.0f + (float)(i % 7);
  lab_test_layer_forward(&t, 1);
  size_t kept = 0;
  float scale = 1.0f / (1.0f - p);
  for (size_t i = 0; i < n; i++) {
    if (t.y[i] != 0.0f) {
      kept++;
      float want = t.x[0][i] * scale;
      assert_close(&t.y[i], &want, 1, 0, 1e-7, "kept element scaled by 1/(1-p)");
    }
  }
  /* 20000 Bernoulli(0.7): std of the fraction 0.0032, so +-0.015 is > 4 std */
  double frac = (double)kept / n;
  assert_true(fabs(frac - 0.7) < 0.015);

  /* same seed, same mask; another seed, another mask */
  float *first = lab_xmalloc(n * sizeof(float));
  memcpy(first, t.y, n * sizeof(float));
  lab_test_layer_forward(&t, 1);
  assert_close(t.y, first, n, 0, 0, "same seed gives the same output");
  t.dropout_seed = 100;
  lab_test_layer_forward(&t, 1);
  size_t differ = 0;
  for (size_t i = 0; i < n; i++) differ += (t.y[i] != first[i]);
  assert_true(differ > n / 10);

  /* backward: dx += dy * mask (dy = 1 -> dx = y / x) */
  for (size_t i = 0; i < n; i++) t.dy[i] = 1.0f;
  lab_test_layer_zero_grads(&t);
  lab_test_layer_backward(&t);
  for (size_t i = 0; i < n; i++) first[i] = t.y[i] / t.x[0][i];
  assert_close(t.dx[0], first, n, 0, 1e-6, "dropout backward uses the forward mask");
  free(first);
  lab_test_layer_free(&t);
}

static void test_eval_identity_and_p0(void **state) {
  (void)state;
  lab_shape in = {3, 4, 4};
  lab_error err;
  lab_test_layer t;
  lab_layer_cfg c = dropout(0.8f);
  assert_int_equal(lab_test_layer_init(&t, &c, &in, 1, 2, &err), LAB_STATUS_OK);
  size_t n = lab_test_layer_in_numel(&t, 0);
  lab_test_layer_forward(&t, 0);
  assert_close(t.y, t.x[0], n, 0, 0, "eval is the identity");
  for (size_t i = 0; i < n; i++) {
    t.dy[i] = (float)i;
    t.dx[0][i] = 1.0f;
  }
  lab_test_layer_backward(&t);
  for (size_t i = 0; i < n; i++) t.dy[i] += 1.0f;
  assert_close(t.dx[0], t.dy, n, 0, 0, "eval backward passes dy through (accumulating)");
  lab_test_layer_free(&t);

  lab_layer_cfg z = dropout(0.0f);
  assert_int_equal(lab_test_layer_init(&t, &z, &in, 1, 2, &err), LAB_STATUS_OK);
  lab_test_layer_forward(&t, 1);
  assert_close(t.y, t.x[0], n, 0, 0, "p = 0 trains as the identity");
  lab_test_layer_free(&t);
}

static void test_gradcheck(void **state) {
  (void)state;
  lab_shape in = {3, 4, 4};
  lab_error err;
  lab_test_layer t;
  lab_layer_cfg c = dropout(0.5f);
  assert_int_equal(lab_test_layer_init(&t, &c, &in, 1, 2, &err), LAB_STATUS_OK);
  lab_gradcheck_opts o = {.train = 1};
  assert_int_equal(lab_gradcheck(&t, &o), 0);
  assert_true(lab_check_accumulates(&t, 1));
  assert_true(lab_check_accumulates(&t, 0));
  lab_test_layer_free(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shape_cost),
      cmocka_unit_test(test_train_mask),
      cmocka_unit_test(test_eval_identity_and_p0),
      cmocka_unit_test(test_gradcheck),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
