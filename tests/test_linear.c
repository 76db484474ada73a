/* test_linear.c: fully connected layer: shape/cost/params, both initialisations, hand forward
 * and backward (weight, bias, input), gradcheck with and without bias, accumulation. */
#include <math.h>
#include <string.h>

#include "gradcheck.h"
#include "lab/layers.h"

static lab_layer_cfg linear(int out, int bias, float init_std) {
  lab_layer_cfg c = {.ops = &lab_linear_ops};
  c.linear = (lab_linear_cfg){.out = out, .bias = bias, .init_std = init_std};
  return c;
}

static void test_shape_cost_params(void **state) {
  (void)state;
  lab_shape in[2] = {{3, 2, 2}, {3, 2, 2}}, out;
  lab_error err;
  lab_layer_cfg c5 = linear(5, 1, 0);
  assert_int_equal(lab_linear_ops.shape(&c5, in, 1, &out, &err), LAB_STATUS_OK);
  assert_true(lab_shape_eq(out, (lab_shape){5, 1, 1}));
  assert_int_equal(lab_linear_ops.shape(&c5, in, 2, &out, &err), LAB_ERR_SHAPE);
  lab_layer_cfg c0 = linear(0, 1, 0);
  assert_int_equal(lab_linear_ops.shape(&c0, in, 1, &out, &err), LAB_ERR_SHAPE);
  assert_non_null(strstr(err.msg, "3x2x2"));
  lab_layer_cfg cneg = linear(5, 1, -0.1f);
  assert_int_equal(lab_linear_ops.shape(&cneg, in, 1, &out, &err), LAB_ERR_CONFIG);

  lab_test_layer t;
  assert_int_equal(lab_test_layer_init(&t, &c5, in, 1, 8, &err), LAB_STATUS_OK);
  lab_test_expect_cost(&t, 8, (lab_cost){.n_params = 12 * 5 + 5, .macs = 60, .act_floats = 5});
  lab_param_list list = {0};
  lab_linear_ops.params(&t.l, &list);
  assert_int_equal(list.n, 2);
  assert_string_equal(list.items[0].name, "test.weight");
  assert_int_equal(list.items[0].count, 60);
  assert_int_equal(list.items[0].decay, 1);
  assert_ptr_equal(list.items[0].value, t.l.param);
  assert_string_equal(list.items[1].name, "test.bias");
  assert_int_equal(list.items[1].count, 5);
  assert_int_equal(list.items[1].decay, 0);
  assert_ptr_equal(list.items[1].grad, t.l.grad + 60);
  lab_param_list_free(&list);
  lab_test_layer_free(&t);

  lab_layer_cfg nb = linear(5, 0, 0);
  assert_int_equal(lab_test_layer_init(&t, &nb, in, 1, 8, &err), LAB_STATUS_OK);
  lab_test_expect_cost(&t, 8, (lab_cost){.n_params = 60, .macs = 60, .act_floats = 5});
  lab_linear_ops.params(&t.l, &list);
  assert_int_equal(list.n, 1);
  lab_param_list_free(&list);
  lab_test_layer_free(&t);
}

static void stats(const float *v, size_t n, double *mean, double *std, double *maxabs) {
  double s = 0, ss = 0, m = 0;
  for (size_t i = 0; i < n; i++) {
    s += v[i];
    if (fabs(v[i]) > m) m = fabs(v[i]);
  }
  *mean = s / n;
  for (size_t i = 0; i < n; i++) ss += (v[i] - *mean) * (v[i] - *mean);
  *std = sqrt(ss / n);
  *maxabs = m;
}

static void test_init(void **state) {
  (void)state;
  lab_shape in = {100, 1, 1};
  lab_error err;
  lab_test_layer t;
  double mean, std, maxabs;
  /* PyTorch default: U(-1/sqrt(100), 1/sqrt(100)) = U(-0.1, 0.1), std 0.1/sqrt(3) */
  lab_layer_cfg def = linear(50, 1, 0);
  assert_int_equal(lab_test_layer_init(&t, &def, &in, 1, 1, &err), LAB_STATUS_OK);
  stats(t.l.param, 5000, &mean, &std, &maxabs);
  assert_true(maxabs <= 0.1 && maxabs > 0.099);
  assert_true(fabs(mean) < 0.004);
  assert_true(fabs(std - 0.1 / sqrt(3.0)) < 0.003);
  stats(t.l.param + 5000, 50, &mean, &std, &maxabs);
  assert_true(maxabs <= 0.1 && maxabs > 0.05);
  lab_test_layer_free(&t);

  /* truncated normal(0, 0.1) at +-2 std: std of the truncated law = 0.1 * 0.8796 */
  lab_layer_cfg tn = linear(50, 1, 0.1f);
  assert_int_equal(lab_test_layer_init(&t, &tn, &in, 1, 1, &err), LAB_STATUS_OK);
  stats(t.l.param, 5000, &mean, &std, &maxabs);
  assert_true(maxabs <= 0.2f && maxabs > 0.19);
  assert_true(fabs(mean) < 0.005);
  assert_true(fabs(std - 0.08796) < 0.003);
  /* the bias keeps PyTorch's default U(-0.1, 0.1) (torchvision re-initialises weights only) */
  stats(t.l.param + 5000, 50, &mean, &std, &maxabs);
  assert_true(maxabs <= 0.1);
  lab_test_layer_free(&t);
}

static void test_forward_backward_hand(void **state) {
  (void)state;
  lab_shape in = {1, 1, 3};
  lab_error err;
  lab_test_layer t;
  lab_layer_cfg c = linear(2, 1, 0);
  assert_int_equal(lab_test_layer_init(&t, &c, &in, 1, 2, &err), LAB_STATUS_OK);
  const float p[8] = {1, 2, 3, 4, 5, 6, 0.5f, -1}; /* W = [[1 2 3] [4 5 6]], b = [0.5 -1] */
  memcpy(t.l.param, p, sizeof p);
  const float x[6] = {1, 0, -1, 2, 1, 0};
  memcpy(t.x[0], x, sizeof x);
  lab_test_layer_forward(&t, 1);
  const float want_y[4] = {-1.5f, -3.0f, 4.5f, 12.0f};
  assert_close(t.y, want_y, 4, 1e-6, 0, "linear forward");

  const float dy[4] = {1, 0, 0, 2};
  memcpy(t.dy, dy, sizeof dy);
  lab_test_layer_zero_grads(&t);
  lab_test_layer_backward(&t);
  /* dW = dy^T x, db = column sums of dy, dx = dy W */
  const float want_grad[8] = {1, 0, -1, 4, 2, 0, 1, 2};
  const float want_dx[6] = {1, 2, 3, 8, 10, 12};
  assert_close(t.l.grad, want_grad, 8, 1e-6, 0, "linear dW, db");
  assert_close(t.dx[0], want_dx, 6, 1e-6, 0, "linear dx");

  /* dx NULL: parameter gradients still accumulate */
  float *keep = t.dx[0];
  t.dx[0] = NULL;
  lab_test_layer_backward(&t);
  t.dx[0] = keep;
  float twice[8];
  for (int i = 0; i < 8; i++) twice[i] = 2 * want_grad[i];
  assert_close(t.l.grad, twice, 8, 1e-6, 0, "linear grads with dx NULL");
  assert_close(t.dx[0], want_dx, 6, 1e-6, 0, "dx untouched");

  /* without bias the output is x W^T alone */
  lab_test_layer_free(&t);
  lab_layer_cfg nb = linear(2, 0, 0);
  assert_int_equal(lab_test_layer_init(&t, &nb, &in, 1, 2, &err), LAB_STATUS_OK);
  memcpy(t.l.param, p, 6 * sizeof(float));
  memcpy(t.x[0], x, sizeof x);
  lab_test_layer_forward(&t, 0);
  const float want_nb[4] = {-2.0f, -2.0f, 4.0f, 13.0f};
  assert_close(t.y, want_nb, 4, 1e-6, 0, "linear forward without bias");
  lab_test_layer_free(&t);
}

static void test_gradcheck(void **state) {
  (void)state;
  lab_shape in = {2, 3, 2};
  lab_error err;
  for (int bias = 0; bias <= 1; bias++) {
    lab_test_layer t;
    lab_layer_cfg c = linear(3, bias, 0);
    assert_int_equal(lab_test_layer_init(&t, &c, &in, 1, 2, &err), LAB_STATUS_OK);
    lab_gradcheck_opts o = {.train = 1};
    assert_int_equal(lab_gradcheck(&t, &o), 0);
    assert_true(lab_check_accumulates(&t, 1));
    lab_test_layer_free(&t);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shape_cost_params),
      cmocka_unit_test(test_init),
      cmocka_unit_test(test_forward_backward_hand),
      cmocka_unit_test(test_gradcheck),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
