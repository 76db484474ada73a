/* test_loss.c: softmax cross-entropy with label smoothing: hand values (with and without
 * smoothing), probabilities, stability for huge logits, eps = 0 equals plain CE, gradient vs
 * finite differences, the weight scales the (accumulated) gradient; top-k counts with the
 * documented tie and NaN rules; an out-of-range label aborts. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lab/loss.h"
#include "lab/rng.h"
#include "testutil.h"

static void assert_near(double a, double b, double tol, const char *what) {
  if (!(fabs(a - b) <= tol)) fprintf(stderr, "%s: %.10g vs %.10g\n", what, a, b);
  assert_true(fabs(a - b) <= tol);
}

static void test_hand_values(void **state) {
  (void)state;
  /* sample 0: logits log(1), log(2), log(3) -> softmax 1/6, 2/6, 3/6, label 2;
   * sample 1: equal logits -> 1/3 each, label 0 (smoothing changes nothing there) */
  const float z[6] = {0.0f, (float)log(2.0), (float)log(3.0), 1, 1, 1};
  const int32_t y[2] = {2, 0};
  float p[6];
  double l0 = lab_loss_xent_forward(z, y, 2, 3, 0.0f, p);
  const float want_p[6] = {1.0f / 6, 2.0f / 6, 3.0f / 6, 1.0f / 3, 1.0f / 3, 1.0f / 3};
  assert_close(p, want_p, 6, 1e-7, 1e-6, "softmax");
  assert_near(l0, (log(2.0) + log(3.0)) / 2, 1e-6, "plain CE");
  /* eps = 0.3: target 0.1 0.1 0.8 for sample 0: -(0.1 log 1/6 + 0.1 log 1/3 + 0.8 log 1/2) */
  double l3 = lab_loss_xent_forward(z, y, 2, 3, 0.3f, p);
  double s0 = -(0.1 * log(1.0 / 6) + 0.1 * log(1.0 / 3) + 0.8 * log(0.5));
  assert_near(l3, (s0 + log(3.0)) / 2, 1e-6, "smoothed CE");
  assert_near(s0, 0.8435549, 1e-6, "sample 0 by hand");

  /* gradient: weight * (p - q) / N */
  float d[6] = {0};
  lab_loss_xent_backward(p, y, 2, 3, 0.3f, 1.0f, d);
  const float want_d[6] = {(1.0f / 6 - 0.1f) / 2, (1.0f / 3 - 0.1f) / 2, (0.5f - 0.8f) / 2,
                           (1.0f / 3 - 0.8f) / 2, (1.0f / 3 - 0.1f) / 2, (1.0f / 3 - 0.1f) / 2};
  assert_close(d, want_d, 6, 1e-7, 1e-6, "dlogits");
}

static void test_stability(void **state) {
  (void)state;
  const float z[4] = {1000, 0, -1000, -1000};
  const int32_t y[2] = {1, 0};
  float p[4];
  double l = lab_loss_xent_forward(z, y, 2, 2, 0.0f, p);
  assert_true(isfinite(l));
  assert_near(l, (1000.0 + log(2.0)) / 2, 1e-9, "huge logits");
  const float want_p[4] = {1, 0, 0.5f, 0.5f};
  assert_close(p, want_p, 4, 1e-30, 0, "saturated softmax");
  /* with smoothing eps, the winning class gets target eps/2: loss of sample 0 = 1000 - 500 eps
   * (900 for eps = 0.2, up to the float rounding of 0.2f) */
  l = lab_loss_xent_forward(z, y, 1, 2, 0.2f, p);
  assert_near(l, 1000.0 - 500.0 * (double)0.2f, 1e-9, "smoothed, saturated");
}

static void random_logits(float *z, int32_t *y, int n, int k, uint64_t seed) {
  lab_rng r;
  lab_rng_seed(&r, seed);
  lab_test_fill(z, (size_t)n * k, &r, -3, 3);
  for (int i = 0; i < n; i++) y[i] = (int32_t)lab_rng_below(&r, (uint32_t)k);
}

static void test_plain_ce(void **state) {
  (void)state;
  enum { N = 4, K = 7 };
  float z[N * K], p[N * K];
  int32_t y[N];
  random_logits(z, y, N, K, 3);
  double l = lab_loss_xent_forward(z, y, N, K, 0.0f, p);
  double want = 0;
  for (int i = 0; i < N; i++) {
    double s = 0;
    for (int j = 0; j < K; j++) s += exp(z[i * K + j]);
    want += -log(exp(z[i * K + y[i]]) / s);
  }
  assert_near(l, want / N, 1e-6, "eps = 0 is plain cross-entropy");
}

static void test_gradient_fd(void **state) {
  (void)state;
  enum { N = 3, K = 5 };
  float z[N * K], p[N * K], d[N * K] = {0};
  int32_t y[N];
  random_logits(z, y, N, K, 9);
  const float eps = 0.1f;
  lab_loss_xent_forward(z, y, N, K, eps, p);
  lab_loss_xent_backward(p, y, N, K, eps, 1.0f, d);
  for (int i = 0; i < N * K; i++) {
    float keep = z[i];
    z[i] = keep + 1e-2f;
    double lp = lab_loss_xent_forward(z, y, N, K, eps, p);
    z[i] = keep - 1e-2f;
    double lm = lab_loss_xent_forward(z, y, N, K, eps, p);
    z[i] = keep;
    double h = (double)(keep + 1e-2f) - (double)(keep - 1e-2f);
    assert_near((lp - lm) / h, d[i], 2e-5, "d loss / d logit vs finite difference");
  }
}

static void test_weight_scales(void **state) {
  (void)state;
  enum { N = 2, K = 4 };
  float z[N * K], p[N * K], d1[N * K] = {0}, d4[N * K] = {0};
  int32_t y[N];
  random_logits(z, y, N, K, 4);
  lab_loss_xent_forward(z, y, N, K, 0.1f, p);
  lab_loss_xent_backward(p, y, N, K, 0.1f, 1.0f, d1);
  lab_loss_xent_backward(p, y, N, K, 0.1f, 0.4f, d4);
  float want[N * K];
  for (int i = 0; i < N * K; i++) want[i] = 0.4f * d1[i];
  assert_close(d4, want, N * K, 1e-8, 1e-6, "weight 0.4 scales the gradient");
  /* accumulates: a second call adds the same again */
  lab_loss_xent_backward(p, y, N, K, 0.1f, 0.4f, d4);
  for (int i = 0; i < N * K; i++) want[i] = 0.8f * d1[i];
  assert_close(d4, want, N * K, 1e-8, 1e-6, "backward accumulates");
  /* every row of dlogits sums to 0 (p and q are distributions) */
  for (int i = 0; i < N; i++) {
    double s = 0;
    for (int j = 0; j < K; j++) s += d1[i * K + j];
    assert_near(s, 0.0, 1e-7, "row sum");
  }
}

static void test_topk(void **state) {
  (void)state;
  enum { K = 4 };
  /* row: 1 3 3 0 -> order (stable, descending): class 1, class 2, class 0, class 3 */
  const float z[K] = {1, 3, 3, 0};
  int32_t y;
  y = 1;
  assert_int_equal(lab_loss_topk_correct(z, &y, 1, K, 1), 1);
  y = 2; /* ties with class 1, which has the lower index and ranks first */
  assert_int_equal(lab_loss_topk_correct(z, &y, 1, K, 1), 0);
  assert_int_equal(lab_loss_topk_correct(z, &y, 1, K, 2), 1);
  y = 0;
  assert_int_equal(lab_loss_topk_correct(z, &y, 1, K, 2), 0);
  assert_int_equal(lab_loss_topk_correct(z, &y, 1, K, 3), 1);
  y = 3;
  assert_int_equal(lab_loss_topk_correct(z, &y, 1, K, 3), 0);
  assert_int_equal(lab_loss_topk_correct(z, &y, 1, K, 4), 1);
  assert_int_equal(lab_loss_topk_correct(z, &y, 1, K, 5), 1);

  /* NaN: a NaN elsewhere ranks first; a NaN label logit is never correct */
  const float zn[K] = {NAN, 2, 1, 0};
  y = 1;
  assert_int_equal(lab_loss_topk_correct(zn, &y, 1, K, 1), 0);
  assert_int_equal(lab_loss_topk_correct(zn, &y, 1, K, 2), 1);
  y = 0;
  assert_int_equal(lab_loss_topk_correct(zn, &y, 1, K, 4), 0);

  /* top-1 and top-5 over a batch of 10 classes */
  enum { N = 3, C = 10 };
  float b[N * C];
  for (int i = 0; i < N; i++)
    for (int j = 0; j < C; j++) b[i * C + j] = (float)((j * 7 + i * 3) % C); /* a permutation */
  /* row i: label ranks: pick labels with value 9 (rank 0), 5 (rank 4), 4 (rank 5) */
  int32_t labels[N];
  for (int i = 0; i < N; i++) {
    float want = i == 0 ? 9 : i == 1 ? 5 : 4;
    for (int j = 0; j < C; j++)
      if (b[i * C + j] == want) labels[i] = j;
  }
  assert_int_equal(lab_loss_topk_correct(b, labels, N, C, 1), 1);
  assert_int_equal(lab_loss_topk_correct(b, labels, N, C, 5), 2);
  assert_int_equal(lab_loss_topk_correct(b, labels, N, C, 6), 3);
}

static void test_bad_label_aborts(void **state) {
  (void)state;
  fflush(stderr);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    const float z[3] = {0, 0, 0};
    const int32_t y = 3; /* K = 3 */
    float p[3];
    lab_loss_xent_forward(z, &y, 1, 3, 0.0f, p);
    _exit(0);
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hand_values),  cmocka_unit_test(test_stability),
      cmocka_unit_test(test_plain_ce),     cmocka_unit_test(test_gradient_fd),
      cmocka_unit_test(test_weight_scales), cmocka_unit_test(test_topk),
      cmocka_unit_test(test_bad_label_aborts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
