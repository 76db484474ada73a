/* test_gemm.c: the BLIS wrapper lab_sgemm. Row-major C = alpha op(A) op(B) + beta C with
 * transposition by strides: checked against a naive triple loop in double on odd, non-square
 * shapes, all four transpose combinations, alpha/beta away from 0 and 1 and leading dimensions
 * larger than the rows (the padding must stay untouched); large sizes by a random-vector check
 * C t = alpha A (B t) + beta C0 t; beta = 0 must overwrite C (even NaN), k = 0 scales C; a
 * single-row operand is never read past its end. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/gemm.h"
#include "testutil.h"

/* op(X)(i, j) of a row-major X with row stride ld. */
static double at(const float *x, int ld, int trans, int i, int j) {
  return trans ? (double)x[(size_t)j * ld + i] : (double)x[(size_t)i * ld + j];
}

typedef struct gemm_case {
  int m, n, k;
} gemm_case;

static float *filled(size_t n, lab_rng *rng) {
  float *p = malloc((n ? n : 1) * sizeof(float));
  assert_non_null(p);
  lab_test_fill(p, n, rng, -1.0f, 1.0f);
  return p;
}

static void check_small(int ta, int tb, int m, int n, int k, float alpha, float beta, lab_rng *rng) {
  /* Stored shapes: A is (M, K) or, transposed, (K, M); padding of 3, 5, 2 floats per row. */
  const int a_rows = ta ? k : m, a_cols = ta ? m : k, lda = a_cols + 3;
  const int b_rows = tb ? n : k, b_cols = tb ? k : n, ldb = b_cols + 5;
  const int ldc = n + 2;
  float *a = filled((size_t)a_rows * lda, rng), *b = filled((size_t)b_rows * ldb, rng);
  float *c = filled((size_t)m * ldc, rng);
  float *c0 = malloc((size_t)m * ldc * sizeof(float)), *want = malloc((size_t)m * ldc * sizeof(float));
  assert_non_null(c0);
  assert_non_null(want);
  memcpy(c0, c, (size_t)m * ldc * sizeof(float));
  memcpy(want, c, (size_t)m * ldc * sizeof(float)); /* padding columns: must be left as they are */
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      double s = 0;
      for (int p = 0; p < k; p++) s += at(a, lda, ta, i, p) * at(b, ldb, tb, p, j);
      want[(size_t)i * ldc + j] = (float)(alpha * s + beta * (double)c0[(size_t)i * ldc + j]);
    }
  lab_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  char what[96];
  snprintf(what, sizeof what, "sgemm ta=%d tb=%d m=%d n=%d k=%d", ta, tb, m, n, k);
  assert_close(c, want, (size_t)m * ldc, 1e-5, 1e-5, what);
  free(a);
  free(b);
  free(c);
  free(c0);
  free(want);
}

static void test_small_shapes(void **state) {
  (void)state;
  static const gemm_case cases[] = {{1, 1, 1}, {7, 5, 3}, {3, 11, 1}, {13, 17, 11}, {1, 9, 4},
                                    {33, 1, 65}, {64, 70, 129}, {5, 300, 7}, {127, 6, 31}};
  lab_rng rng;
  lab_rng_seed(&rng, 11);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    for (int ta = 0; ta <= 1; ta++)
      for (int tb = 0; tb <= 1; tb++) {
        check_small(ta, tb, cases[i].m, cases[i].n, cases[i].k, 0.7f, -1.3f, &rng);
        check_small(ta, tb, cases[i].m, cases[i].n, cases[i].k, -2.5f, 1.0f, &rng); /* accumulate */
      }
}

static void test_beta_zero_overwrites(void **state) {
  (void)state;
  lab_rng rng;
  lab_rng_seed(&rng, 12);
  const int m = 9, n = 10, k = 7;
  float *a = filled((size_t)m * k, &rng), *b = filled((size_t)k * n, &rng);
  float c[9 * 10], want[9 * 10];
  for (int i = 0; i < m * n; i++) c[i] = NAN; /* uninitialised output must not leak through */
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      double s = 0;
      for (int p = 0; p < k; p++) s += (double)a[i * k + p] * b[p * n + j];
      want[i * n + j] = (float)(1.5 * s);
    }
  lab_sgemm(0, 0, m, n, k, 1.5f, a, k, b, n, 0.0f, c, n);
  assert_close(c, want, (size_t)m * n, 1e-5, 1e-5, "beta 0 over NaN");
  /* k = 0: the product is empty, C = beta C. */
  for (int i = 0; i < m * n; i++) want[i] = -0.5f * c[i];
  lab_sgemm(0, 0, m, n, 0, 1.0f, a, k, b, n, -0.5f, c, n);
  assert_close(c, want, (size_t)m * n, 1e-6, 1e-6, "k = 0 scales C");
  free(a);
  free(b);
}

/* C t against alpha A (B t) + beta C0 t, all in double; |err| <= tol * sum |terms|. */
static void check_big(int ta, int tb, int m, int n, int k, int pad, float alpha, float beta, lab_rng *rng) {
  const int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
  float *a = filled((size_t)(ta ? k : m) * lda, rng), *b = filled((size_t)(tb ? n : k) * ldb, rng);
  float *c = filled((size_t)m * ldc, rng), *t = filled((size_t)n, rng);
  double *c0t = calloc((size_t)m, sizeof(double)), *bt = calloc((size_t)k, sizeof(double));
  double *bta = calloc((size_t)k, sizeof(double));
  assert_non_null(c0t);
  assert_non_null(bt);
  assert_non_null(bta);
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) c0t[i] += (double)c[(size_t)i * ldc + j] * t[j];
  for (int p = 0; p < k; p++)
    for (int j = 0; j < n; j++) {
      bt[p] += at(b, ldb, tb, p, j) * t[j];
      bta[p] += fabs(at(b, ldb, tb, p, j) * t[j]);
    }
  lab_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  int bad = 0;
  double worst = 0;
  for (int i = 0; i < m; i++) {
    double got = 0, want = beta * c0t[i], scale = fabs(beta * c0t[i]);
    for (int j = 0; j < n; j++) got += (double)c[(size_t)i * ldc + j] * t[j];
    for (int p = 0; p < k; p++) {
      want += alpha * at(a, lda, ta, i, p) * bt[p];
      scale += fabs(alpha * at(a, lda, ta, i, p)) * bta[p];
    }
    double err = fabs(got - want) / (scale + 1e-30);
    if (err > worst) worst = err;
    if (err > 1e-5) bad++;
  }
  if (bad) fprintf(stderr, "big sgemm ta=%d tb=%d %dx%dx%d: %d rows off, worst rel %.3g\n", ta, tb, m, n, k, bad, worst);
  assert_int_equal(bad, 0);
  free(a);
  free(b);
  free(c);
  free(t);
  free(c0t);
  free(bt);
  free(bta);
}

static void test_big_random_vector(void **state) {
  (void)state;
  lab_rng rng;
  lab_rng_seed(&rng, 13);
  check_big(0, 0, 1003, 1201, 899, 0, 0.75f, -0.5f, &rng);
  check_big(1, 1, 517, 2049, 771, 13, -1.25f, 1.0f, &rng);
  /* A conv backward shape: dW (OC, K) += dy (OC, cols) col^T, long inner dimension. */
  check_big(0, 1, 96, 576, 9800, 0, 1.0f, 1.0f, &rng);
}

/* A row of a wider matrix passed as a 1 x K operand, ending exactly where its buffer ends (the
 * conv layer's dW GEMM for OC = 1 on a sliced map). BLIS 0.9 reads a second row of a single-row
 * operand, whatever its stride; under AddressSanitizer this test faults if lab_sgemm hands M = 1
 * or N = 1 products to BLIS. */
static void test_single_row_strides(void **state) {
  (void)state;
  lab_rng rng;
  lab_rng_seed(&rng, 15);
  const int n = 576, k = 4050, lda = 8100, ldc = 700;
  float *buf = filled((size_t)lda, &rng), *b = filled((size_t)n * k, &rng);
  float *c = filled((size_t)ldc, &rng), *want = malloc((size_t)ldc * sizeof(float));
  float dot[576], out[576];
  assert_non_null(want);
  const float *a = buf + (lda - k); /* the second half of the row: its last float ends buf */
  memcpy(want, c, (size_t)ldc * sizeof(float));
  for (int j = 0; j < n; j++) {
    double acc = 0;
    for (int p = 0; p < k; p++) acc += (double)a[p] * b[(size_t)j * k + p];
    dot[j] = (float)acc;
    want[j] = (float)(acc + c[j]);
  }
  lab_sgemm(0, 1, 1, n, k, 1.0f, a, lda, b, k, 1.0f, c, ldc);
  assert_close(c, want, (size_t)ldc, 1e-4, 1e-5, "1 x K row with a large stride");
  /* The same row as the single column of op(B) = B^T (n = 1). */
  lab_sgemm(0, 1, n, 1, k, 1.0f, b, k, a, lda, 0.0f, out, 1);
  assert_close(out, dot, (size_t)n, 1e-4, 1e-5, "K x 1 column from a strided row");
  free(buf);
  free(b);
  free(c);
  free(want);
}

static void test_threads(void **state) {
  (void)state;
  const int before = lab_gemm_threads();
  lab_gemm_set_threads(2);
  assert_int_equal(lab_gemm_threads(), 2);
  lab_rng rng;
  lab_rng_seed(&rng, 14);
  check_small(1, 0, 64, 70, 129, 0.7f, -1.3f, &rng); /* threaded GEMM still right */
  check_big(0, 0, 300, 500, 200, 1, 1.0f, 0.0f, &rng);
  lab_gemm_set_threads(before);
  assert_int_equal(lab_gemm_threads(), before);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_small_shapes),
      cmocka_unit_test(test_beta_zero_overwrites),
      cmocka_unit_test(test_big_random_vector),
      cmocka_unit_test(test_single_row_strides),
      cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
