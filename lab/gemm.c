/* gemm.c: the BLIS wrapper. Debian's BLIS 0.9 takes non-const operand pointers (newer docs
 * show const); the casts that drop const live here and nowhere else. */
#include "lab/gemm.h"

#include <blis.h>

#include "lab/status.h"

void lab_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
               const float *b, int ldb, float beta, float *c, int ldc) {
  LAB_ASSERT(m >= 0 && n >= 0 && k >= 0, "negative gemm size %d %d %d", m, n, k);
  if (m == 0 || n == 0) return;
  /* Row-major X with row stride ld: element (i, j) at i*ld + j, so rs = ld, cs = 1. A
   * transposed operand swaps the two strides and BLIS reads it as op(X). */
  inc_t rsa = trans_a ? 1 : lda, csa = trans_a ? lda : 1;
  inc_t rsb = trans_b ? 1 : ldb, csb = trans_b ? ldb : 1;
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
