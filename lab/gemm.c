/* gemm.c: the BLIS wrapper. Debian's BLIS 0.9 takes non-const operand pointers (newer docs
 * show const); the casts that drop const live here and nowhere else. */
#include "lab/gemm.h"

#include <blis.h>

#include "lab/status.h"

/* C = alpha op(A) op(B) + beta C when M or N is 1, without BLIS: BLIS 0.9's kernels read a
 * second row of a single-row A (seen: 1 x 4050 A, the conv layer's dW GEMM for OC = 1, read 8098
 * floats past its start under AddressSanitizer; a linear layer at batch 1 hits the same shape),
 * whatever row stride it is given. These products are matrix-vector work, memory-bound either way.
 * Each output is summed in double by one thread, in order: deterministic. */
static void sgemm_vector(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                         const float *b, int ldb, float beta, float *c, int ldc) {
  const size_t sa_i = trans_a ? 1 : (size_t)lda, sa_p = trans_a ? (size_t)lda : 1;
  const size_t sb_p = trans_b ? 1 : (size_t)ldb, sb_j = trans_b ? (size_t)ldb : 1;
  const long outs = (long)m * n;
#pragma omp parallel for schedule(static) if (outs * (long)k > 65536)
  for (long o = 0; o < outs; o++) {
    const int i = (int)(o / n), j = (int)(o % n);
    const float *ai = a + (size_t)i * sa_i, *bj = b + (size_t)j * sb_j;
    double s = 0;
    for (int p = 0; p < k; p++) s += (double)ai[(size_t)p * sa_p] * (double)bj[(size_t)p * sb_p];
    float *cij = c + (size_t)i * ldc + j;
    /* beta = 0 overwrites, as BLIS does: C may hold garbage or NaN. */
    *cij = (float)(alpha * s) + (beta == 0.0f ? 0.0f : beta * *cij);
  }
}

void lab_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
               const float *b, int ldb, float beta, float *c, int ldc) {
  LAB_ASSERT(m >= 0 && n >= 0 && k >= 0, "negative gemm size %d %d %d", m, n, k);
  if (m == 0 || n == 0) return;
  if (m == 1 || n == 1) {
    sgemm_vector(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  /* Row-major X with row stride ld: element (i, j) at i*ld + j, so rs = ld, cs = 1. A
   * transposed operand swaps the two strides and BLIS reads it as op(X). */
  inc_t rsa = trans_a ? 1 : lda, csa = trans_a ? lda : 1;
  inc_t rsb = trans_b ? 1 : ldb, csb = trans_b ? ldb : 1;
  /* A stride along a dimension of size 1 is never used; give it the value a tight matrix has. */
  if (k == 1) csa = rsa == 1 ? m : 1;
  if (k == 1) rsb = csb == 1 ? n : 1;
  float al = alpha, be = beta;
  bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &al, (float *)a, rsa, csa, (float *)b,
            rsb, csb, &be, c, ldc, 1);
}

void lab_gemm_set_threads(int n) {
  LAB_ASSERT(n >= 1, "thread count %d", n);
  bli_thread_set_num_threads(n);
}

int lab_gemm_threads(void) {
  dim_t n = bli_thread_get_num_threads();
  return n < 1 ? 1 : (int)n;
}
