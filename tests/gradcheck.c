/* gradcheck.c: see gradcheck.h. */
#include "gradcheck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double weighted_sum(const lab_test_layer *t, const float *r) {
  double s = 0;
  size_t n = lab_test_layer_out_numel(t);
  for (size_t i = 0; i < n; i++) s += (double)t->y[i] * (double)r[i];
  return s;
}

static double loss_at(lab_test_layer *t, const float *r, int train) {
  lab_test_layer_forward(t, train);
  return weighted_sum(t, r);
}

/* Checks d loss / d v[i] for all i against ana[i]; returns failures. */
static int check_tensor(lab_test_layer *t, const float *r, float *v, const float *ana, size_t n,
                        const lab_gradcheck_opts *o, int input, const char *what) {
  int fails = 0;
  double worst = -1, worst_num = 0, worst_ana = 0;
  size_t worst_i = 0;
  for (size_t i = 0; i < n; i++) {
    if (input >= 0 && o->skip_input && o->skip_input(t, input, i, o->user)) continue;
    float keep = v[i];
    v[i] = keep + (float)o->eps;
    double lp = loss_at(t, r, o->train);
    v[i] = keep - (float)o->eps;
    double lm = loss_at(t, r, o->train);
    v[i] = keep;
    /* Divide by the step actually taken in float. */
    double h = (double)(keep + (float)o->eps) - (double)(keep - (float)o->eps);
    double num = (lp - lm) / h;
    double a = ana[i];
    double err = fabs(num - a) / fmax(1.0, fabs(num) + fabs(a));
    if (err > o->tol) fails++;
    if (err > worst) {
      worst = err;
      worst_i = i;
      worst_num = num;
      worst_ana = a;
    }
  }
  if (fails)
    fprintf(stderr, "gradcheck %s (%s): %d of %zu entries fail; worst [%zu] numeric %.6g analytic %.6g (err %.3g)\n",
            t->l.ops->type, what, fails, n, worst_i, worst_num, worst_ana, worst);
  return fails;
}

int lab_gradcheck(lab_test_layer *t, const lab_gradcheck_opts *opts) {
  lab_gradcheck_opts o = *opts;
  if (o.eps <= 0) o.eps = 1e-2;
  if (o.tol <= 0) o.tol = 1e-3;
  size_t ny = lab_test_layer_out_numel(t);
  float *r = lab_xmalloc(ny * sizeof(float));
  lab_rng rr;
  lab_rng_seed(&rr, 777);
  lab_test_fill(r, ny, &rr, -1.0f, 1.0f);

  /* Analytic gradients. */
  lab_test_layer_zero_grads(t);
  lab_test_layer_forward(t, o.train);
  memcpy(t->dy, r, ny * sizeof(float));
  lab_test_layer_backward(t);

  int fails = 0;
  for (int i = 0; i < t->l.n_in; i++) {
    size_t n = lab_test_layer_in_numel(t, i);
    float *ana = lab_xmalloc(n * sizeof(float));
    memcpy(ana, t->dx[i], n * sizeof(float));
    char what[32];
    snprintf(what, sizeof what, "input %d", i);
    fails += check_tensor(t, r, t->x[i], ana, n, &o, i, what);
    free(ana);
  }
  size_t np = lab_test_layer_n_params(t);
  if (np) {
    float *ana = lab_xmalloc(np * sizeof(float));
    memcpy(ana, t->l.grad, np * sizeof(float));
    fails += check_tensor(t, r, t->l.param, ana, np, &o, -1, "parameters");
    free(ana);
  }
  free(r);
  return fails;
}

int lab_check_accumulates(lab_test_layer *t, int train) {
  size_t ny = lab_test_layer_out_numel(t), np = lab_test_layer_n_params(t);
  lab_rng rr;
  lab_rng_seed(&rr, 4242);
  lab_test_fill(t->dy, ny, &rr, -1.0f, 1.0f);

  lab_test_layer_zero_grads(t);
  lab_test_layer_forward(t, train);
  lab_test_layer_backward(t);
  size_t total = np;
  for (int i = 0; i < t->l.n_in; i++) total += lab_test_layer_in_numel(t, i);
  float *once = lab_xmalloc((total + 1) * sizeof(float));
  float *twice = lab_xmalloc((total + 1) * sizeof(float));
  size_t off = 0;
  for (int i = 0; i < t->l.n_in; i++) {
    memcpy(once + off, t->dx[i], lab_test_layer_in_numel(t, i) * sizeof(float));
    off += lab_test_layer_in_numel(t, i);
  }
  memcpy(once + off, t->l.grad, np * sizeof(float));
  lab_test_layer_backward(t);
  off = 0;
  for (int i = 0; i < t->l.n_in; i++) {
    memcpy(twice + off, t->dx[i], lab_test_layer_in_numel(t, i) * sizeof(float));
    off += lab_test_layer_in_numel(t, i);
  }
  memcpy(twice + off, t->l.grad, np * sizeof(float));
  for (size_t i = 0; i < total; i++) once[i] *= 2.0f;
  int ok = lab_test_close(twice, once, total, 1e-5, 1e-5, "two backwards = 2x one");
  lab_test_layer_zero_grads(t);
  for (size_t i = 0; i < np; i++)
    if (t->l.grad[i] != 0.0f) ok = 0;
  free(once);
  free(twice);
  return ok;
}
