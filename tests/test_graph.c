/* test_graph.c: the DAG: shape errors name the node path and shapes, costs add up by scope,
 * fan-out sums gradients, backward of a small multi-branch network matches finite
 * differences, zero_grad, and the memory plan covers every node. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/graph.h"
#include "lab/layers.h"
#include "testutil.h"

static lab_layer_cfg conv(int oc, int k, int pad, int stride) {
  lab_layer_cfg c = {.ops = &lab_conv2d_ops};
  c.conv = (lab_conv2d_cfg){.oc = oc, .kh = k, .kw = k, .sh = stride, .sw = stride,
                            .pt = pad, .pb = pad, .pl = pad, .pr = pad, .bias = 1};
  return c;
}
static lab_layer_cfg bn(void) {
  lab_layer_cfg c = {.ops = &lab_batchnorm_ops};
  c.bn = (lab_bn_cfg){.eps = 1e-3f, .momentum = 0.1f};
  return c;
}
static lab_layer_cfg concat(void) { return (lab_layer_cfg){.ops = &lab_concat_ops}; }
static lab_layer_cfg avgpool3(void) {
  lab_layer_cfg c = {.ops = &lab_pool_ops};
  c.pool = (lab_pool_cfg){.kind = LAB_POOL_AVG, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
                          .pt = 1, .pb = 1, .pl = 1, .pr = 1, .count_include_pad = 1};
  return c;
}

/* A three-branch block fed by one stem node (fan-out): conv3x3 -> bn, conv1x1, avg pool,
 * concatenated. No ReLU: its kinks would make finite differences unreliable here (relu has
 * its own gradcheck away from the kink). */
static lab_graph *small_net(int *out) {
  lab_graph *g = lab_graph_new((lab_shape){3, 6, 5});
  int stem = lab_test_add(g, "stem", conv(4, 3, 1, 1), 0);
  lab_graph_push_scope(g, "block (two_branch)");
  int a = lab_test_add(g, "a_conv", conv(3, 3, 1, 1), stem);
  a = lab_test_add(g, "a_bn", bn(), a);
  int b = lab_test_add(g, "b_conv", conv(2, 1, 0, 1), stem);
  int p = lab_test_add(g, "pool", avgpool3(), stem);
  lab_error err;
  int ins[3] = {a, b, p};
  lab_layer_cfg cc = concat();
  *out = lab_graph_add(g, "concat", &cc, ins, 3, &err);
  assert_true(*out > 0);
  lab_graph_pop_scope(g);
  lab_graph_mark_output(g, "logits", *out);
  return g;
}

static void test_shape_error_names_path(void **state) {
  (void)state;
  lab_graph *g = lab_graph_new((lab_shape){3, 4, 4});
  lab_graph_push_scope(g, "stage3[1] (inception_17x17)");
  lab_layer_cfg c = conv(8, 7, 0, 1);
  int in = 0;
  lab_error err;
  int id = lab_graph_add(g, "conv_7x7", &c, &in, 1, &err);
  assert_int_equal(id, LAB_ERR_SHAPE);
  assert_non_null(strstr(err.msg, "stage3[1] (inception_17x17)/conv_7x7"));
  assert_non_null(strstr(err.msg, "3x4x4"));
  lab_graph_pop_scope(g);
  assert_int_equal(lab_graph_n_nodes(g), 1);

  /* Concat of unequal H x W names both shapes. */
  int a = lab_test_add(g, "a", conv(2, 1, 0, 1), 0);
  int b = lab_test_add(g, "b", conv(2, 3, 0, 1), 0);
  int ins[2] = {a, b};
  lab_layer_cfg cc = concat();
  id = lab_graph_add(g, "cat", &cc, ins, 2, &err);
  assert_int_equal(id, LAB_ERR_SHAPE);
  assert_non_null(strstr(err.msg, "2x4x4"));
  assert_non_null(strstr(err.msg, "2x2x2"));
  lab_graph_free(g);
}

static void test_cost_sums_by_scope(void **state) {
  (void)state;
  int out;
  lab_graph *g = small_net(&out);
  assert_int_equal(lab_graph_shape(g, out).c, 3 + 2 + 4);
  lab_cost all = lab_graph_cost(g, NULL), blk = lab_graph_cost(g, "block (two_branch)");
  /* stem conv: 3*4*9+4 params, 30*4*27 MACs; a_conv: 4*3*9+3; bn: 6; b_conv: 4*2+2. */
  assert_int_equal(all.n_params, 112 + 111 + 6 + 10);
  assert_int_equal(blk.n_params, 111 + 6 + 10);
  assert_int_equal(all.macs, 30 * 4 * 27 + 30 * 3 * 36 + 30 * 2 * 4);
  assert_int_equal(blk.macs, 30 * 3 * 36 + 30 * 2 * 4);
  assert_int_equal(lab_graph_cost(g, "block").n_params, 0); /* whole components only */
  lab_graph_free(g);
}

static double graph_loss(lab_graph *g, const float *x, const float *r, int out, int n) {
  lab_rng rng;
  lab_rng_seed(&rng, 5);
  lab_ctx ctx = {.train = 1, .batch = n, .rng = &rng};
  lab_graph_forward(g, x, &ctx);
  const float *y = lab_graph_act(g, out);
  size_t ny = (size_t)n * lab_shape_numel(lab_graph_shape(g, out));
  double s = 0;
  for (size_t i = 0; i < ny; i++) s += (double)y[i] * r[i];
  return s;
}

static void test_backward_matches_finite_differences(void **state) {
  (void)state;
  int out;
  lab_graph *g = small_net(&out);
  const int n = 2;
  lab_error err;
  assert_int_equal(lab_graph_plan(g, n, &err), LAB_STATUS_OK);
  lab_rng rng;
  lab_rng_seed(&rng, 11);
  lab_graph_init(g, &rng);
  size_t nx = (size_t)n * 3 * 6 * 5, ny = (size_t)n * lab_shape_numel(lab_graph_shape(g, out));
  float *x = malloc(nx * sizeof *x), *r = malloc(ny * sizeof *r);
  lab_test_fill(x, nx, &rng, -1, 1);
  lab_test_fill(r, ny, &rng, -1, 1);

  lab_graph_zero_grad(g);
  graph_loss(g, x, r, out, n);
  lab_graph_backward_begin(g, n);
  memcpy(lab_graph_dact(g, out), r, ny * sizeof *r);
  lab_ctx ctx = {.train = 1, .batch = n, .rng = &rng};
  lab_graph_backward(g, &ctx);

  const lab_param_list *pl = lab_graph_params(g);
  assert_int_equal(pl->n, 2 + 2 + 2 + 2); /* stem w/b, a_conv w/b, bn w/b, b_conv w/b */
  int checked = 0, bad = 0;
  for (int p = 0; p < pl->n; p++) {
    const lab_param *prm = &pl->items[p];
    for (size_t i = 0; i < prm->count; i++) {
      float keep = prm->value[i];
      prm->value[i] = keep + 1e-2f;
      double lp = graph_loss(g, x, r, out, n);
      prm->value[i] = keep - 1e-2f;
      double lm = graph_loss(g, x, r, out, n);
      prm->value[i] = keep;
      double num = (lp - lm) / ((double)(keep + 1e-2f) - (double)(keep - 1e-2f));
      double ana = prm->grad[i];
      if (fabs(num - ana) > 1e-3 * fmax(1.0, fabs(num) + fabs(ana))) {
        bad++;
        fprintf(stderr, "%s[%zu]: numeric %.6g analytic %.6g\n", prm->name, i, num, ana);
      }
      checked++;
    }
  }
  assert_true(checked > 50);
  assert_int_equal(bad, 0);

  /* Fan-out: the stem's gradient is the sum over its three consumers, so a second backward
   * with the same seed doubles parameter gradients (accumulation through the whole graph). */
  size_t ng;
  float *grad = lab_graph_grad_slab(g, &ng);
  float *once = malloc(ng * sizeof *once);
  memcpy(once, grad, ng * sizeof *once);
  graph_loss(g, x, r, out, n);
  lab_graph_backward_begin(g, n);
  memcpy(lab_graph_dact(g, out), r, ny * sizeof *r);
  lab_graph_backward(g, &ctx);
  for (size_t i = 0; i < ng; i++) once[i] *= 2;
  assert_close(grad, once, ng, 1e-5, 1e-4, "two backwards accumulate");
  lab_graph_zero_grad(g);
  for (size_t i = 0; i < ng; i++) assert_true(grad[i] == 0.0f);
  free(once);
  free(x);
  free(r);
  lab_graph_free(g);
}

static void test_plan_memory(void **state) {
  (void)state;
  int out;
  lab_graph *g = small_net(&out);
  lab_error err;
  assert_int_equal(lab_graph_plan(g, 4, &err), LAB_STATUS_OK);
  lab_graph_memory m = lab_graph_memory_used(g);
  lab_cost c = lab_graph_cost(g, NULL);
  assert_true(m.params >= c.n_params * sizeof(float));
  assert_true(m.acts >= 4 * (c.act_floats + 3 * 6 * 5) * sizeof(float));
  assert_int_equal(m.total, m.params + m.grads + m.buffers + m.caches + m.acts + m.dacts + m.scratch);
  assert_int_equal(lab_graph_batch(g), 4);
  assert_int_equal(lab_graph_output(g, "logits"), out);
  assert_int_equal(lab_graph_output(g, "aux_logits"), -1);
  lab_graph_free(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shape_error_names_path),
      cmocka_unit_test(test_cost_sums_by_scope),
      cmocka_unit_test(test_backward_matches_finite_differences),
      cmocka_unit_test(test_plan_memory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
