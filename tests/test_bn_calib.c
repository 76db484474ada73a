/* test_bn_calib.c: precise BN (lab/bn_calib.h). After lab_bn_recalibrate over K batches,
 * every batch-norm layer's running mean and variance are the mean over those batches of each
 * batch's own statistics (variance unbiased), recomputed here in double from the activations
 * that reach the layer, including across an epoch boundary; parameters and momenta are
 * unchanged, and the result is the same on a second call. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lab/bn_calib.h"
#include "lab/layers.h"
#include "testutil.h"

static lab_layer_cfg bn(float momentum) {
  lab_layer_cfg c = {.ops = &lab_batchnorm_ops};
  c.bn = (lab_bn_cfg){.eps = 1e-3f, .momentum = momentum};
  return c;
}

static void test_recalibrate_is_mean_of_batch_stats(void **state) {
  (void)state;
  enum { B = 8, K = 7, C = 4 };
  lab_graph *g = lab_graph_new((lab_shape){1, 8, 8});
  lab_layer_cfg cv = {.ops = &lab_conv2d_ops};
  cv.conv = (lab_conv2d_cfg){.oc = C, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .pt = 1, .pb = 1, .pl = 1, .pr = 1};
  int conv = lab_test_add(g, "conv", cv, 0);
  int bn1 = lab_test_add(g, "bn1", bn(0.1f), conv);
  int bn2 = lab_test_add(g, "bn2", bn(0.3f), bn1); /* sees bn1's batch-normalised output */
  lab_error err;
  assert_int_equal(lab_graph_plan(g, B, &err), LAB_STATUS_OK);
  lab_rng rng;
  lab_rng_seed(&rng, 5);
  lab_graph_init(g, &rng);
  assert_int_equal(lab_bn_count(g), 2);

  lab_dataset ds;
  lab_test_bars_dataset(&ds, 40, 3); /* 5 batches per epoch: K = 7 crosses into epoch 1 */
  lab_transform_cfg tf;
  lab_transform_cfg_default(&tf, 1, 8, 8);
  lab_loader_cfg lc;
  lab_loader_cfg_default(&lc, B, 9, &tf);
  lc.drop_last = 1;
  lab_loader *ld = NULL;
  assert_int_equal(lab_loader_new(&ds, NULL, ds.n, &lc, &ld, &err), LAB_STATUS_OK);

  /* the reference: each batch's statistics of the inputs of bn1 (= conv) and bn2 (= bn1) */
  const int ins[2] = {conv, bn1};
  double sum_mean[2][C] = {{0}}, sum_var[2][C] = {{0}};
  assert_int_equal(lab_loader_seek(ld, 0, 0, &err), LAB_STATUS_OK);
  lab_rng drop;
  lab_rng_seed(&drop, 1);
  for (int k = 0; k < K; k++) {
    const lab_batch *bt = lab_loader_next(ld);
    assert_int_equal(bt->n, B);
    lab_ctx ctx = {.train = 1, .batch = B, .rng = &drop};
    lab_graph_forward(g, bt->x, &ctx);
    for (int j = 0; j < 2; j++) {
      const float *a = lab_graph_act(g, ins[j]);
      const int hw = 4 * 4, m = B * hw;
      for (int c = 0; c < C; c++) {
        double s = 0, ss = 0;
        for (int n = 0; n < B; n++)
          for (int i = 0; i < hw; i++) s += a[((size_t)n * C + c) * hw + i];
        double mu = s / m;
        for (int n = 0; n < B; n++)
          for (int i = 0; i < hw; i++) {
            double d = a[((size_t)n * C + c) * hw + i] - mu;
            ss += d * d;
          }
        sum_mean[j][c] += mu;
        sum_var[j][c] += ss / (m - 1);
      }
    }
  }

  size_t np, nb;
  float *params = lab_graph_param_slab(g, &np);
  float *p0 = malloc(np * sizeof *p0);
  memcpy(p0, params, np * sizeof *p0);
  lab_graph_buffer_slab(g, &nb);
  assert_int_equal(lab_bn_recalibrate(g, ld, K, &err), LAB_STATUS_OK);
  const int bns[2] = {bn1, bn2};
  for (int j = 0; j < 2; j++) {
    const lab_layer *l = &lab_graph_node(g, bns[j])->layer;
    for (int c = 0; c < C; c++) {
      double want_m = sum_mean[j][c] / K, want_v = sum_var[j][c] / K;
      assert_true(fabs(l->buf[c] - want_m) <= 1e-5 * (1 + fabs(want_m)));
      assert_true(fabs(l->buf[C + c] - want_v) <= 1e-5 * (1 + fabs(want_v)));
    }
  }
  assert_float_equal(lab_graph_node(g, bn1)->layer.cfg.bn.momentum, 0.1f, 0.0f);
  assert_float_equal(lab_graph_node(g, bn2)->layer.cfg.bn.momentum, 0.3f, 0.0f);
  assert_memory_equal(params, p0, np * sizeof *p0);

  /* the same weights get the same statistics, whatever the buffers held before */
  float *b1 = malloc(nb * sizeof *b1);
  float *bufs = lab_graph_buffer_slab(g, &nb);
  memcpy(b1, bufs, nb * sizeof *b1);
  for (int j = 0; j < 2; j++)
    for (int i = 0; i < 2 * C; i++) lab_graph_layer(g, bns[j])->buf[i] = 7.0f;
  assert_int_equal(lab_bn_recalibrate(g, ld, K, &err), LAB_STATUS_OK);
  assert_memory_equal(bufs, b1, nb * sizeof *b1);

  free(b1);
  free(p0);
  lab_loader_free(ld);
  lab_dataset_free(&ds);
  lab_graph_free(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_recalibrate_is_mean_of_batch_stats),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
