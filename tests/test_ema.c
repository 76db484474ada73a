/* test_ema.c: TF's warm-up decay min(decay, (1+step)/(10+step)), hand-computed averages,
 * buffers averaged with parameters, in-place swap (bit-exact both ways), a 200-step run
 * against a double-precision reference, configuration errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lab/ema.h"
#include "testutil.h"

typedef struct net {
  lab_param_list list;
  float w[3], b[2], grad[5];
  float bn[2]; /* stands in for BN running statistics */
} net;

static void net_init(net *n) {
  memset(n, 0, sizeof *n);
  lab_param_list_add(&n->list, "fc", "weight", n->w, n->grad, 3, 1);
  lab_param_list_add(&n->list, "fc", "bias", n->b, n->grad + 3, 2, 0);
}

static void test_warmup_decay(void **state) {
  (void)state;
  net n;
  net_init(&n);
  lab_ema e;
  assert_int_equal(lab_ema_init(&e, &n.list, NULL, 0, 0.9999f, 1, NULL), LAB_STATUS_OK);
  float got[5] = {lab_ema_decay_at(&e, 0), lab_ema_decay_at(&e, 1), lab_ema_decay_at(&e, 90),
                  lab_ema_decay_at(&e, 89000), lab_ema_decay_at(&e, 1000000)};
  float want[5] = {0.1f, 2.0f / 11.0f, 0.91f, 89001.0f / 89010.0f, 0.9999f};
  assert_close(got, want, 5, 0, 1e-7, "warm-up decays");
  assert_true(got[3] < 0.9999f);
  lab_ema_free(&e);
  assert_int_equal(lab_ema_init(&e, &n.list, NULL, 0, 0.9999f, 0, NULL), LAB_STATUS_OK);
  float plain = lab_ema_decay_at(&e, 0), d = 0.9999f;
  assert_close(&plain, &d, 1, 0, 0, "no warm-up: constant decay");
  lab_ema_free(&e);
  lab_param_list_free(&n.list);
}

static void test_update_by_hand_with_buffers(void **state) {
  (void)state;
  net n;
  net_init(&n);
  float v0[3] = {1, 2, -1}, b0[2] = {0.5f, 0}, bn0[2] = {10, 20};
  memcpy(n.w, v0, sizeof v0);
  memcpy(n.b, b0, sizeof b0);
  memcpy(n.bn, bn0, sizeof bn0);
  lab_ema e;
  assert_int_equal(lab_ema_init(&e, &n.list, n.bn, 2, 0.9999f, 1, NULL), LAB_STATUS_OK);
  size_t cnt;
  float *avg = lab_ema_state(&e, &cnt);
  assert_int_equal(cnt, 7);
  float init[7] = {1, 2, -1, 0.5f, 0, 10, 20};
  assert_close(avg, init, 7, 0, 0, "average starts as a copy");
  /* step 0: d = 0.1, avg = avg - 0.9 * (avg - v) */
  float v1[3] = {3, 4, 1}, b1[2] = {1.5f, 1}, bn1[2] = {0, 0};
  memcpy(n.w, v1, sizeof v1);
  memcpy(n.b, b1, sizeof b1);
  memcpy(n.bn, bn1, sizeof bn1);
  lab_ema_update(&e, 0);
  float want1[7] = {2.8f, 3.8f, 0.8f, 1.4f, 0.9f, 1.0f, 2.0f};
  assert_close(avg, want1, 7, 1e-6, 1e-6, "after step 0");
  /* step 1: d = 2/11, values 0: avg *= 2/11 */
  memset(n.w, 0, sizeof n.w);
  memset(n.b, 0, sizeof n.b);
  memset(n.bn, 0, sizeof n.bn);
  lab_ema_update(&e, 1);
  float want2[7];
  for (int i = 0; i < 7; i++) want2[i] = want1[i] * 2.0f / 11.0f;
  assert_close(avg, want2, 7, 1e-6, 1e-6, "after step 1");
  lab_ema_free(&e);
  lab_param_list_free(&n.list);
}

static void test_swap_bit_exact(void **state) {
  (void)state;
  net n;
  net_init(&n);
  lab_rng r;
  lab_rng_seed(&r, 7);
  lab_test_fill(n.w, 3, &r, -1, 1);
  lab_test_fill(n.b, 2, &r, -1, 1);
  lab_test_fill(n.bn, 2, &r, 0, 2);
  lab_ema e;
  assert_int_equal(lab_ema_init(&e, &n.list, n.bn, 2, 0.99f, 1, NULL), LAB_STATUS_OK);
  for (int k = 0; k < 5; k++) {
    lab_test_fill(n.w, 3, &r, -1, 1);
    lab_test_fill(n.b, 2, &r, -1, 1);
    lab_test_fill(n.bn, 2, &r, 0, 2);
    lab_ema_update(&e, k);
  }
  float live_w[3], live_b[2], live_bn[2], avg[7];
  memcpy(live_w, n.w, sizeof live_w);
  memcpy(live_b, n.b, sizeof live_b);
  memcpy(live_bn, n.bn, sizeof live_bn);
  size_t cnt;
  memcpy(avg, lab_ema_state(&e, &cnt), sizeof avg);
  lab_ema_swap(&e);
  assert_true(e.swapped);
  assert_memory_equal(n.w, avg, sizeof live_w);
  assert_memory_equal(n.b, avg + 3, sizeof live_b);
  assert_memory_equal(n.bn, avg + 5, sizeof live_bn);
  assert_memory_equal(e.avg, live_w, sizeof live_w);
  lab_ema_swap(&e);
  assert_false(e.swapped);
  assert_memory_equal(n.w, live_w, sizeof live_w);
  assert_memory_equal(n.b, live_b, sizeof live_b);
  assert_memory_equal(n.bn, live_bn, sizeof live_bn);
  assert_memory_equal(lab_ema_state(&e, &cnt), avg, sizeof avg);
  lab_ema_free(&e);
  lab_param_list_free(&n.list);
}

/* 200 steps of drifting values against the formula in double. */
static void test_long_run_vs_double(void **state) {
  (void)state;
  net n;
  net_init(&n);
  lab_rng r;
  lab_rng_seed(&r, 11);
  lab_test_fill(n.w, 3, &r, -1, 1);
  lab_test_fill(n.b, 2, &r, -1, 1);
  double ref[5];
  for (int i = 0; i < 3; i++) ref[i] = n.w[i];
  for (int i = 0; i < 2; i++) ref[3 + i] = n.b[i];
  lab_ema e;
  assert_int_equal(lab_ema_init(&e, &n.list, NULL, 0, 0.999f, 1, NULL), LAB_STATUS_OK);
  for (int64_t k = 0; k < 200; k++) {
    for (int i = 0; i < 3; i++) n.w[i] += 0.01f * (lab_rng_uniform(&r) - 0.3f);
    for (int i = 0; i < 2; i++) n.b[i] += 0.01f * (lab_rng_uniform(&r) - 0.3f);
    lab_ema_update(&e, k);
    double d = fmin(0.999, (1.0 + (double)k) / (10.0 + (double)k));
    for (int i = 0; i < 3; i++) ref[i] = d * ref[i] + (1.0 - d) * n.w[i];
    for (int i = 0; i < 2; i++) ref[3 + i] = d * ref[3 + i] + (1.0 - d) * n.b[i];
  }
  float reff[5];
  for (int i = 0; i < 5; i++) reff[i] = (float)ref[i];
  size_t cnt;
  assert_close(lab_ema_state(&e, &cnt), reff, 5, 1e-5, 1e-5, "200 EMA steps vs double reference");
  lab_ema_free(&e);
  lab_param_list_free(&n.list);
}

static void test_bad_decay(void **state) {
  (void)state;
  net n;
  net_init(&n);
  lab_ema e;
  lab_error err;
  assert_int_equal(lab_ema_init(&e, &n.list, NULL, 0, 1.0f, 1, &err), LAB_ERR_CONFIG);
  assert_non_null(strstr(err.msg, "decay"));
  assert_int_equal(lab_ema_init(&e, &n.list, NULL, 0, -0.5f, 1, &err), LAB_ERR_CONFIG);
  lab_param_list_free(&n.list);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_warmup_decay),
      cmocka_unit_test(test_update_by_hand_with_buffers),
      cmocka_unit_test(test_swap_bit_exact),
      cmocka_unit_test(test_long_run_vs_double),
      cmocka_unit_test(test_bad_decay),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
