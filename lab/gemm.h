/* gemm.h: the only door to BLIS. Row-major C = alpha * op(A) * op(B) + beta * C, where
 * op(X) is X or X^T; transposition is expressed through BLIS strides, never by copying.
 *   op(A): (M, K), op(B): (K, N), C: (M, N); lda/ldb/ldc are row strides in floats. */
#ifndef LAB_GEMM_H
#define LAB_GEMM_H

void lab_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
               const float *b, int ldb, float beta, float *c, int ldc);

/* BLIS threads for all later GEMMs (the BLIS runtime holds this; the value comes from the
 * run's configuration and is recorded in its results). n >= 1. */
void lab_gemm_set_threads(int n);
int lab_gemm_threads(void);

#endif
