/* test_flatten.c: flatten shape/cost, the copy and its accumulating backward, gradcheck. */
#include <string.h>

#include "gradcheck.h"
#include "lab/layers.h"

static const lab_layer_cfg flat_cfg = {.ops = &lab_flatten_ops};

static void test_shape_cost(void **state) {
  (void)state;
  lab_shape in[2] = {{3, 4, 5}, {3, 4, 5}}, out;
  lab_error err;
  assert_int_equal(lab_flatten_ops.shape(&flat_cfg, in, 1, &out, &err), LAB_STATUS_OK);
  assert_int_equal(out.c, 60);
  assert_int_equal(out.h, 1);
  assert_int_equal(out.w, 1);
  assert_int_equal(lab_flatten_ops.shape(&flat_cfg, in, 2, &out, &err), LAB_ERR_SHAPE);
  assert_non_null(strstr(err.msg, "got 2"));
  lab_shape empty = {3, 0, 5};
  assert_int_equal(lab_flatten_ops.shape(&flat_cfg, &empty, 1, &out, &err), LAB_ERR_SHAPE);
  assert_non_null(strstr(err.msg, "3x0x5"));

  lab_test_layer t;
  assert_int_equal(lab_test_layer_init(&t, &flat_cfg, in, 1, 4, &err), LAB_STATUS_OK);
  lab_test_expect_cost(&t, 4, (lab_cost){.act_floats = 60});
  lab_test_layer_free(&t);
}

static void test_forward_backward(void **state) {
  (void)state;
  lab_shape in = {2, 3, 2};
  lab_test_layer t;
  lab_error err;
  assert_int_equal(lab_test_layer_init(&t, &flat_cfg, &in, 1, 2, &err), LAB_STATUS_OK);
  size_t n = lab_test_layer_in_numel(&t, 0);
  assert_int_equal(n, 24);
  for (size_t i = 0; i < n; i++) t.x[0][i] = (float)i;
  lab_test_layer_forward(&t, 0);
  /* NCHW per sample is already C*H*W order: (n, c, h, w) -> (n, c*6 + h*2 + w) */
  assert_close(t.y, t.x[0], n, 0, 0, "flatten forward");
  for (size_t i = 0; i < n; i++) {
    t.dy[i] = (float)(2 * i);
    t.dx[0][i] = 1.0f;
  }
  lab_test_layer_backward(&t);
  for (size_t i = 0; i < n; i++) t.dy[i] += 1.0f;
  assert_close(t.dx[0], t.dy, n, 0, 0, "flatten backward accumulates");
  lab_test_layer_free(&t);
}

static void test_gradcheck(void **state) {
  (void)state;
  lab_shape in = {3, 4, 2};
  lab_test_layer t;
  lab_error err;
  assert_int_equal(lab_test_layer_init(&t, &flat_cfg, &in, 1, 2, &err), LAB_STATUS_OK);
  lab_gradcheck_opts o = {.train = 1};
  assert_int_equal(lab_gradcheck(&t, &o), 0);
  assert_true(lab_check_accumulates(&t, 1));
  lab_test_layer_free(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shape_cost),
      cmocka_unit_test(test_forward_backward),
      cmocka_unit_test(test_gradcheck),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
