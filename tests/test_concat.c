/* test_concat.c: channel concat of 1..n inputs: shapes and errors naming every input, exact
 * layout of the output, slicing backward (accumulating, dx NULL skipped), gradcheck. */
#include <string.h>

#include "gradcheck.h"
#include "lab/layers.h"

static const lab_layer_cfg cat_cfg = {.ops = &lab_concat_ops};

static void test_shape_cost(void **state) {
  (void)state;
  lab_shape in[LAB_MAX_INPUTS + 1], out;
  for (int i = 0; i <= LAB_MAX_INPUTS; i++) in[i] = (lab_shape){i + 1, 5, 5};
  lab_error err;
  assert_int_equal(lab_concat_ops.shape(&cat_cfg, in, 3, &out, &err), LAB_STATUS_OK);
  assert_true(lab_shape_eq(out, (lab_shape){6, 5, 5}));
  assert_int_equal(lab_concat_ops.shape(&cat_cfg, in, 1, &out, &err), LAB_STATUS_OK);
  assert_true(lab_shape_eq(out, in[0]));
  assert_int_equal(lab_concat_ops.shape(&cat_cfg, in, LAB_MAX_INPUTS, &out, &err), LAB_STATUS_OK);
  assert_int_equal(out.c, LAB_MAX_INPUTS * (LAB_MAX_INPUTS + 1) / 2);
  assert_int_equal(lab_concat_ops.shape(&cat_cfg, in, 0, &out, &err), LAB_ERR_SHAPE);
  assert_int_equal(lab_concat_ops.shape(&cat_cfg, in, LAB_MAX_INPUTS + 1, &out, &err), LAB_ERR_SHAPE);

  lab_shape bad[3] = {{2, 5, 5}, {3, 4, 5}, {1, 5, 5}};
  assert_int_equal(lab_concat_ops.shape(&cat_cfg, bad, 3, &out, &err), LAB_ERR_SHAPE);
  assert_non_null(strstr(err.msg, "2x5x5"));
  assert_non_null(strstr(err.msg, "3x4x5"));
  assert_non_null(strstr(err.msg, "1x5x5"));
  bad[1] = (lab_shape){3, 5, 6};
  assert_int_equal(lab_concat_ops.shape(&cat_cfg, bad, 3, &out, &err), LAB_ERR_SHAPE);
  assert_non_null(strstr(err.msg, "3x5x6"));

  lab_test_layer t;
  assert_int_equal(lab_test_layer_init(&t, &cat_cfg, in, 3, 4, &err), LAB_STATUS_OK);
  lab_test_expect_cost(&t, 4, (lab_cost){.act_floats = 150});
  lab_test_layer_free(&t);
}

static void test_forward_backward_hand(void **state) {
  (void)state;
  /* N = 2; a: (1, 1, 2), b: (2, 1, 2) -> (3, 1, 2) */
  lab_shape in[2] = {{1, 1, 2}, {2, 1, 2}};
  lab_test_layer t;
  lab_error err;
  assert_int_equal(lab_test_layer_init(&t, &cat_cfg, in, 2, 2, &err), LAB_STATUS_OK);
  const float a[4] = {1, 2, 3, 4};            /* sample 0: 1 2; sample 1: 3 4 */
  const float b[8] = {10, 11, 12, 13, 20, 21, 22, 23};
  memcpy(t.x[0], a, sizeof a);
  memcpy(t.x[1], b, sizeof b);
  lab_test_layer_forward(&t, 1);
  const float want[12] = {1, 2, 10, 11, 12, 13, 3, 4, 20, 21, 22, 23};
  assert_close(t.y, want, 12, 0, 0, "concat forward");

  for (int i = 0; i < 12; i++) t.dy[i] = (float)(i + 1);
  for (int i = 0; i < 4; i++) t.dx[0][i] = 100.0f;
  lab_test_layer_backward(&t);
  const float want_da[4] = {101, 102, 107, 108};
  const float want_db[8] = {3, 4, 5, 6, 9, 10, 11, 12};
  assert_close(t.dx[0], want_da, 4, 0, 0, "concat backward slice 0 (accumulated)");
  assert_close(t.dx[1], want_db, 8, 0, 0, "concat backward slice 1");

  /* dx[0] NULL: only input 1 receives (a second copy of) its slice */
  float *keep = t.dx[0];
  t.dx[0] = NULL;
  lab_test_layer_backward(&t);
  t.dx[0] = keep;
  float twice_db[8];
  for (int i = 0; i < 8; i++) twice_db[i] = 2 * want_db[i];
  assert_close(t.dx[1], twice_db, 8, 0, 0, "concat backward with dx[0] NULL");
  assert_close(t.dx[0], want_da, 4, 0, 0, "dx[0] untouched");
  lab_test_layer_free(&t);
}

static void test_gradcheck(void **state) {
  (void)state;
  lab_shape in[3] = {{2, 3, 4}, {1, 3, 4}, {3, 3, 4}};
  lab_test_layer t;
  lab_error err;
  assert_int_equal(lab_test_layer_init(&t, &cat_cfg, in, 3, 2, &err), LAB_STATUS_OK);
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
