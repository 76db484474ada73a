/* testutil.h: helpers shared by the cmocka suites: float-array comparison and a harness
 * that instantiates one layer outside any graph (its own param/grad/buf/cache/scratch). */
#ifndef LAB_TESTUTIL_H
#define LAB_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lab/data.h"
#include "lab/graph.h"
#include "lab/layer.h"

/* |a - b| <= atol + rtol * |b| for every element; on failure prints `what`, the max abs and
 * rel error and the first failing index, and returns 0. cmocka 1.1.5 has no float asserts. */
int lab_test_close(const float *a, const float *b, size_t n, double atol, double rtol, const char *what);
#define assert_close(a, b, n, atol, rtol, what) assert_true(lab_test_close((a), (b), (n), (atol), (rtol), (what)))

/* A new empty folder "/tmp/<name>-XXXXXX" (mkdtemp) written into dir (n >= 64); 0 on success. */
int lab_test_mkdtemp(char *dir, size_t n, const char *name);
/* Removes dir and everything below it (nftw, no shell); 0 on success. */
int lab_test_rmtree(const char *dir);

/* A synthetic dataset for whole-run tests: n 8x8 grey images of 3 classes, a bright bar in
 * the top, middle or bottom rows (class 2 also the last row) plus noise, from `seed`. */
void lab_test_bars_dataset(lab_dataset *ds, int n, uint64_t seed);

/* Appends cfg over node `in` as `name` (lab_graph_add with one input); a failure fails the
 * test with lab_graph_add's message. Returns the node id. */
int lab_test_add(lab_graph *g, const char *name, lab_layer_cfg cfg, int in);

/* Uniform values in [lo, hi). */
void lab_test_fill(float *x, size_t n, lab_rng *rng, float lo, float hi);

typedef struct lab_test_layer {
  lab_layer l;
  int batch;
  float *x[LAB_MAX_INPUTS], *dx[LAB_MAX_INPUTS]; /* (batch, in[i]) */
  float *y, *dy;                                 /* (batch, out) */
  float *scratch;
  size_t scratch_floats;
  uint64_t dropout_seed; /* the ctx rng is reseeded with this before every forward */
  lab_rng rng;
  lab_ctx ctx;
} lab_test_layer;

/* Shape-checks cfg on `in`, allocates everything the layer's cost asks for, initialises
 * parameters from a fixed seed and fills inputs with U(-1, 1). Returns the shape status. */
lab_status lab_test_layer_init(lab_test_layer *t, const lab_layer_cfg *cfg, const lab_shape *in,
                               int n_in, int batch, lab_error *err);
void lab_test_layer_forward(lab_test_layer *t, int train);
/* Backward of dy into dx / grads (accumulating, as the contract says). */
void lab_test_layer_backward(lab_test_layer *t);
/* Zeroes dx and parameter gradients. */
void lab_test_layer_zero_grads(lab_test_layer *t);
size_t lab_test_layer_in_numel(const lab_test_layer *t, int i);
size_t lab_test_layer_out_numel(const lab_test_layer *t);
size_t lab_test_layer_n_params(const lab_test_layer *t);
void lab_test_layer_free(lab_test_layer *t);
/* Asserts that t's layer reports exactly `want` (every field) for a batch of `batch`. */
void lab_test_expect_cost(const lab_test_layer *t, int batch, lab_cost want);

#endif
