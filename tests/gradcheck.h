/* gradcheck.h: finite-difference proof of a layer's backward (STYLE.md 7.3).
 *
 * loss = sum(y * r) for a fixed random r, summed in double. Every input element and every
 * parameter is perturbed by +-eps (central differences); entries the caller marks as near a
 * kink (ReLU at 0, max-pool ties) are skipped. Pass when |num - ana| <= tol*max(1, |num|+|ana|).
 * Prints the worst entry of each tensor; returns the number of failing entries. */
#ifndef LAB_GRADCHECK_H
#define LAB_GRADCHECK_H

#include "testutil.h"

typedef struct lab_gradcheck_opts {
  double eps;  /* default 1e-2 */
  double tol;  /* default 1e-3 */
  int train;   /* forward mode during the check */
  /* Optional: nonzero to skip input i's element idx (kinks). */
  int (*skip_input)(const lab_test_layer *t, int input, size_t idx, void *user);
  void *user;
} lab_gradcheck_opts;

int lab_gradcheck(lab_test_layer *t, const lab_gradcheck_opts *opts);

/* Accumulation check (STYLE.md 7.4): two backward passes give twice the gradients of one,
 * and zeroing resets them. Returns 1 on success. */
int lab_check_accumulates(lab_test_layer *t, int train);

#endif
