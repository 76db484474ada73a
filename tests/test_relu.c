/* test_relu.c: ReLU shape/cost, hand forward/backward (zero and NaN included), gradcheck on
 * inputs kept away from the kink, accumulation and dx = NULL. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gradcheck.h"
#include "lab/layers.h"

static const lab_layer_cfg relu_cfg = {.ops = &lab_relu_ops};

/* n distinct values (k - n/2) * 0.1 + 0.05, shuffled: |x| >= 0.05, far from 0 for eps = 1e-2. */
static void fill_away_from_zero(float *x, size_t n, uint64_t seed) {
  lab_rng r;
  lab_rng_seed(&r, seed);
  for (size_t i = 0; i < n; i++) x[i] = ((float)i - (float)(n / 2)) * 0.1f + 0.05f;
  for (size_t i = n - 1; i > 0; i--) {
    size_t j = lab_rng_below(&r, (uint32_t)(i + 1));
    float t = x[i];
    x[i] = x[j];
    x[j] = t;
  }
}

static void test_shape_cost(void **state) {
  (void)state;
  lab_shape in[2] = {{3, 4, 5}, {3, 4, 5}}, out;
  lab_error err;
  assert_int_equal(lab_relu_ops.shape(&relu_cfg, in, 1, &out, &err), LAB_STATUS_OK);
  assert_true(lab_shape_eq(out, in[0]));
  assert_int_equal(lab_relu_ops.shape(&relu_cfg, in, 2, &out, &err), LAB_ERR_SHAPE);
  assert_non_null(strstr(err.msg, "got 2"));
  lab_shape empty = {0, 4, 5};
  assert_int_equal(lab_relu_ops.shape(&relu_cfg, &empty, 1, &out, &err), LAB_ERR_SHAPE);
  assert_non_null(strstr(err.msg, "0x4x5"));

  lab_test_layer t;
  assert_int_equal(lab_test_layer_init(&t, &relu_cfg, in, 1, 2, &err), LAB_STATUS_OK);
  lab_test_expect_cost(&t, 2, (lab_cost){.act_floats = 60});
  lab_test_layer_free(&t);
}

static void test_forward_backward_hand(void **state) {
  (void)state;
  lab_shape in = {3, 1, 2};
  lab_test_layer t;
  lab_error err;
  assert_int_equal(lab_test_layer_init(&t, &relu_cfg, &in, 1, 1, &err), LAB_STATUS_OK);
  const float x[6] = {-1.5f, 0.0f, 2.5f, 1e-30f, -1e-30f, NAN};
  memcpy(t.x[0], x, sizeof x);
  lab_test_layer_forward(&t, 1);
  const float want_y[5] = {0.0f, 0.0f, 2.5f, 1e-30f, 0.0f};
  assert_close(t.y, want_y, 5, 0, 0, "relu forward");
  assert_true(isnan(t.y[5]));

  const float dy[6] = {1, 2, 3, 4, 5, 6};
  memcpy(t.dy, dy, sizeof dy);
  for (int i = 0; i < 6; i++) t.dx[0][i] = 0.5f;
  lab_test_layer_backward(&t);
  /* gradient 0 at x = 0 (PyTorch's threshold_backward) and at NaN; accumulated onto 0.5 */
  const float want_dx[6] = {0.5f, 0.5f, 3.5f, 4.5f, 0.5f, 0.5f};
  assert_close(t.dx[0], want_dx, 6, 0, 0, "relu backward");

  float *keep = t.dx[0];
  t.dx[0] = NULL;
  lab_test_layer_backward(&t); /* must not touch anything */
  t.dx[0] = keep;
  assert_close(t.dx[0], want_dx, 6, 0, 0, "relu backward with dx NULL");
  lab_test_layer_free(&t);
}

static void test_gradcheck(void **state) {
  (void)state;
  lab_shape in = {3, 5, 4};
  lab_test_layer t;
  lab_error err;
  assert_int_equal(lab_test_layer_init(&t, &relu_cfg, &in, 1, 2, &err), LAB_STATUS_OK);
  fill_away_from_zero(t.x[0], lab_test_layer_in_numel(&t, 0), 5);
  lab_gradcheck_opts o = {.train = 1};
  assert_int_equal(lab_gradcheck(&t, &o), 0);
  assert_true(lab_check_accumulates(&t, 1));
  lab_test_layer_free(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shape_cost),
      cmocka_unit_test(test_forward_backward_hand),
      cmocka_unit_test(test_gradcheck),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
