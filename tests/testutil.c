/* testutil.c: see testutil.h. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "testutil.h"

#include <ftw.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lab_test_close(const float *a, const float *b, size_t n, double atol, double rtol, const char *what) {
  double max_abs = 0, max_rel = 0;
  size_t first_bad = (size_t)-1;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)a[i] - (double)b[i]);
    double rel = d / (fabs((double)b[i]) + 1e-30);
    if (d > max_abs) max_abs = d;
    if (rel > max_rel && fabs((double)b[i]) > atol) max_rel = rel;
    if (!(d <= atol + rtol * fabs((double)b[i])) && first_bad == (size_t)-1) first_bad = i;
  }
  if (first_bad != (size_t)-1) {
    fprintf(stderr, "%s: mismatch over %zu values: max abs err %.3g, max rel err %.3g; first at [%zu]: %.9g vs %.9g\n",
            what, n, max_abs, max_rel, first_bad, a[first_bad], b[first_bad]);
    return 0;
  }
  return 1;
}

int lab_test_mkdtemp(char *dir, size_t n, const char *name) {
  snprintf(dir, n, "/tmp/%s-XXXXXX", name);
  return mkdtemp(dir) ? 0 : -1;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

int lab_test_rmtree(const char *dir) { return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

void lab_test_fill(float *x, size_t n, lab_rng *rng, float lo, float hi) {
  for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * lab_rng_uniform(rng);
}

size_t lab_test_layer_in_numel(const lab_test_layer *t, int i) {
  return (size_t)t->batch * lab_shape_numel(t->l.in[i]);
}
size_t lab_test_layer_out_numel(const lab_test_layer *t) { return (size_t)t->batch * lab_shape_numel(t->l.out); }

static lab_cost layer_cost(const lab_test_layer *t) {
  lab_cost c;
  memset(&c, 0, sizeof c);
  t->l.ops->cost(&t->l, t->batch, &c);
  return c;
}

size_t lab_test_layer_n_params(const lab_test_layer *t) { return (size_t)layer_cost(t).n_params; }

lab_status lab_test_layer_init(lab_test_layer *t, const lab_layer_cfg *cfg, const lab_shape *in,
                               int n_in, int batch, lab_error *err) {
  memset(t, 0, sizeof *t);
  lab_status st = cfg->ops->shape(cfg, in, n_in, &t->l.out, err);
  if (st != LAB_STATUS_OK) return st;
  t->l.ops = cfg->ops;
  t->l.cfg = *cfg;
  t->l.name = "test";
  t->l.n_in = n_in;
  for (int i = 0; i < n_in; i++) t->l.in[i] = in[i];
  t->l.batch = batch;
  t->batch = batch;
  lab_cost c = layer_cost(t);
  t->l.param = lab_xcalloc(c.n_params + 1, sizeof(float));
  t->l.grad = lab_xcalloc(c.n_params + 1, sizeof(float));
  t->l.buf = lab_xcalloc(c.n_buffers + 1, sizeof(float));
  t->l.cache = lab_xcalloc(c.cache_floats + 1, sizeof(float));
  t->scratch_floats = (size_t)c.scratch_floats;
  t->scratch = lab_xcalloc(c.scratch_floats + 1, sizeof(float));
  lab_rng_seed(&t->rng, 1234);
  if (t->l.ops->init) t->l.ops->init(&t->l, &t->rng);
  for (int i = 0; i < n_in; i++) {
    t->x[i] = lab_xcalloc(lab_test_layer_in_numel(t, i), sizeof(float));
    t->dx[i] = lab_xcalloc(lab_test_layer_in_numel(t, i), sizeof(float));
    lab_test_fill(t->x[i], lab_test_layer_in_numel(t, i), &t->rng, -1.0f, 1.0f);
  }
  t->y = lab_xcalloc(lab_test_layer_out_numel(t), sizeof(float));
  t->dy = lab_xcalloc(lab_test_layer_out_numel(t), sizeof(float));
  t->dropout_seed = 99;
  return LAB_STATUS_OK;
}

void lab_test_layer_forward(lab_test_layer *t, int train) {
  lab_rng_seed(&t->rng, t->dropout_seed);
  t->ctx.train = train;
  t->ctx.batch = t->batch;
  t->ctx.rng = &t->rng;
  t->ctx.scratch = t->scratch;
  t->ctx.scratch_floats = t->scratch_floats;
  t->l.ops->forward(&t->l, (const float *const *)t->x, t->y, &t->ctx);
}

void lab_test_layer_backward(lab_test_layer *t) {
  t->l.ops->backward(&t->l, (const float *const *)t->x, t->y, t->dy, t->dx, &t->ctx);
}

void lab_test_layer_zero_grads(lab_test_layer *t) {
  for (int i = 0; i < t->l.n_in; i++) memset(t->dx[i], 0, lab_test_layer_in_numel(t, i) * sizeof(float));
  memset(t->l.grad, 0, lab_test_layer_n_params(t) * sizeof(float));
}

void lab_test_layer_free(lab_test_layer *t) {
  if (!t) return;
  for (int i = 0; i < t->l.n_in; i++) {
    free(t->x[i]);
    free(t->dx[i]);
  }
  free(t->y);
  free(t->dy);
  free(t->l.param);
  free(t->l.grad);
  free(t->l.buf);
  free(t->l.cache);
  free(t->scratch);
  memset(t, 0, sizeof *t);
}

void lab_test_expect_cost(const lab_test_layer *t, int batch, lab_cost want) {
  lab_cost c;
  t->l.ops->cost(&t->l, batch, &c);
  assert_int_equal(c.n_params, want.n_params);
  assert_int_equal(c.n_buffers, want.n_buffers);
  assert_int_equal(c.macs, want.macs);
  assert_int_equal(c.act_floats, want.act_floats);
  assert_int_equal(c.cache_floats, want.cache_floats);
  assert_int_equal(c.scratch_floats, want.scratch_floats);
}

int lab_test_add(lab_graph *g, const char *name, lab_layer_cfg cfg, int in) {
  lab_error err = {0};
  int id = lab_graph_add(g, name, &cfg, &in, 1, &err);
  if (id < 0) fail_msg("lab_graph_add %s: %s", name, err.msg);
  return id;
}

void lab_test_bars_dataset(lab_dataset *ds, int n, uint64_t seed) {
  lab_error err = {0};
  assert_int_equal(lab_dataset_init_fixed(ds, n, 1, 8, 8, 3, &err), LAB_STATUS_OK);
  lab_rng r;
  lab_rng_seed(&r, seed);
  for (int i = 0; i < n; i++) {
    int cls = (int)lab_rng_below(&r, 3);
    ds->labels[i] = cls;
    uint8_t *p = ds->pixels + (size_t)i * 64;
    for (int j = 0; j < 64; j++) {
      int row = j / 8;
      int on = row / 3 == cls || (cls == 2 && row == 7);
      p[j] = (uint8_t)((on ? 150 : 30) + lab_rng_below(&r, 90));
    }
  }
  snprintf(ds->source, sizeof ds->source, "synthetic");
}
