/* test_golden.c: our layers and a small Inception block against PyTorch (STYLE.md 7.2).
 *
 * Fixtures come from tests/golden/make_golden.py (PyTorch 1.13, float64 on float32 inputs;
 * format and regeneration: tests/golden/README.md). Each case gives the layer configuration,
 * inputs, parameters, output, a fixed upstream gradient dy, and the gradients of
 * loss = sum(y * dy); we load the same inputs and parameters, run forward and backward, and
 * compare everything.
 *
 * Tolerance, per tensor: |ours - ref| <= 1e-4 * |ref| + 1e-5 * max|ref|. The relative term is
 * the requirement; the absolute term, scaled to the tensor's largest magnitude, admits
 * float32 rounding on elements that are sums cancelling to near zero (a bug is off by the
 * order of the values themselves, far beyond either term).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "lab/graph.h"
#include "lab/layers.h"
#include "lab/loss.h"
#include "testutil.h"

#define GOLDEN_RTOL 1e-4
#define GOLDEN_ATOL_SCALE 1e-5

/* === helpers === */

static int golden_close(const float *ours, const float *ref, size_t n, const char *what) {
  double max_ref = 0;
  for (size_t i = 0; i < n; i++)
    if (fabs((double)ref[i]) > max_ref) max_ref = fabs((double)ref[i]);
  return lab_test_close(ours, ref, n, GOLDEN_ATOL_SCALE * max_ref, GOLDEN_RTOL, what);
}

static void load_fixture(lab_golden *g, const char *file) {
  lab_error err = {0};
  lab_status st = lab_golden_load_fixture(g, file, &err);
  if (st != LAB_STATUS_OK) fprintf(stderr, "%s\n", err.msg);
  assert_int_equal(st, LAB_STATUS_OK);
}

/* Configuration values are stored as float32; they are small integers (or eps/momentum). */
static int cfg_int(const float *cfg, int i) { return (int)lrintf(cfg[i]); }

static const float *get_cfg(const lab_golden *g, const char *name, size_t n) {
  const float *c = lab_golden_get(g, n, "%s/cfg", name);
  assert_non_null(c);
  return c;
}

/* The case's input x: (N, C, H, W). */
static const lab_golden_tensor *get_x(const lab_golden *g, const char *name) {
  char key[LAB_GOLDEN_MAX_NAME + 1];
  snprintf(key, sizeof key, "%s/x", name);
  const lab_golden_tensor *x = lab_golden_find(g, key);
  if (!x) fprintf(stderr, "golden %s: no tensor \"%s\"\n", g->source, key);
  assert_non_null(x);
  assert_int_equal(x->ndim, 4);
  return x;
}

/* The tensor name ("weight", "bias") after the last '.' of a parameter's "<node>.<tensor>". */
static const char *param_tensor(const lab_param *p) {
  const char *dot = strrchr(p->name, '.');
  return dot ? dot + 1 : p->name;
}

/* Runs one single-layer case: loads x and the parameters (by tensor name: "<case>/weight"),
 * optionally BN running statistics into l->buf, runs forward in `train` mode and backward of
 * the fixture's dy, and compares y, dx and every "<case>/d<tensor>". */
static void run_layer_case(const lab_golden *g, const char *name, const lab_layer_cfg *cfg, int train,
                           int has_running_stats) {
  const lab_golden_tensor *x = get_x(g, name);
  lab_shape in = {x->dims[1], x->dims[2], x->dims[3]};
  const int n = x->dims[0];
  lab_test_layer t;
  lab_error err = {0};
  lab_status st = lab_test_layer_init(&t, cfg, &in, 1, n, &err);
  if (st != LAB_STATUS_OK) fprintf(stderr, "%s: %s\n", name, err.msg);
  assert_int_equal(st, LAB_STATUS_OK);
  const size_t nx = lab_test_layer_in_numel(&t, 0), ny = lab_test_layer_out_numel(&t);
  memcpy(t.x[0], x->data, nx * sizeof(float));

  lab_param_list params = {0};
  if (t.l.ops->params) t.l.ops->params(&t.l, &params);
  for (int i = 0; i < params.n; i++) {
    const float *v = lab_golden_get(g, params.items[i].count, "%s/%s", name, param_tensor(&params.items[i]));
    assert_non_null(v);
    memcpy(params.items[i].value, v, params.items[i].count * sizeof(float));
  }
  int c = 0;
  if (has_running_stats) { /* batchnorm.c: buf = running_mean (C), running_var (C) */
    c = in.c;
    const float *rm = lab_golden_get(g, (size_t)c, "%s/running_mean", name);
    const float *rv = lab_golden_get(g, (size_t)c, "%s/running_var", name);
    assert_non_null(rm);
    assert_non_null(rv);
    memcpy(t.l.buf, rm, (size_t)c * sizeof(float));
    memcpy(t.l.buf + c, rv, (size_t)c * sizeof(float));
  }

  char what[512];
  lab_test_layer_forward(&t, train);
  const float *y = lab_golden_get(g, ny, "%s/y", name);
  assert_non_null(y);
  snprintf(what, sizeof what, "%s: y", name);
  assert_true(golden_close(t.y, y, ny, what));
  if (has_running_stats) {
    const float *rm = lab_golden_get(g, (size_t)c, "%s/running_mean_out", name);
    const float *rv = lab_golden_get(g, (size_t)c, "%s/running_var_out", name);
    assert_non_null(rm);
    assert_non_null(rv);
    snprintf(what, sizeof what, "%s: running_mean", name);
    assert_true(golden_close(t.l.buf, rm, (size_t)c, what));
    snprintf(what, sizeof what, "%s: running_var", name);
    assert_true(golden_close(t.l.buf + c, rv, (size_t)c, what));
  }

  const float *dy = lab_golden_get(g, ny, "%s/dy", name);
  assert_non_null(dy);
  memcpy(t.dy, dy, ny * sizeof(float));
  lab_test_layer_zero_grads(&t);
  lab_test_layer_backward(&t);
  const float *dx = lab_golden_get(g, nx, "%s/dx", name);
  assert_non_null(dx);
  snprintf(what, sizeof what, "%s: dx", name);
  assert_true(golden_close(t.dx[0], dx, nx, what));
  for (int i = 0; i < params.n; i++) {
    const lab_param *p = &params.items[i];
    const float *ref = lab_golden_get(g, p->count, "%s/d%s", name, param_tensor(p));
    assert_non_null(ref);
    snprintf(what, sizeof what, "%s: d%s", name, param_tensor(p));
    assert_true(golden_close(p->grad, ref, p->count, what));
  }
  lab_param_list_free(&params);
  lab_test_layer_free(&t);
}

/* === fixture reader === */

/* A valid two-tensor image: "a" (2,) = {1, -2}, "b" (1, 1) = {0.5}. */
static size_t build_image(unsigned char *b) {
  size_t o = 0;
  memcpy(b + o, "LABGOLD", 8);
  o += 8;
  const uint32_t head[] = {LAB_GOLDEN_VERSION, 2};
  for (int i = 0; i < 2; i++, o += 4) b[o] = (unsigned char)head[i], b[o + 1] = b[o + 2] = b[o + 3] = 0;
  /* tensor "a" */
  const unsigned char ta[] = {1, 0, 0, 0, 'a', 1, 0, 0, 0, 2, 0, 0, 0};
  memcpy(b + o, ta, sizeof ta);
  o += sizeof ta;
  const float va[] = {1.0f, -2.0f};
  for (int i = 0; i < 2; i++) {
    uint32_t bits;
    memcpy(&bits, &va[i], 4);
    for (int k = 0; k < 4; k++) b[o++] = (unsigned char)(bits >> (8 * k));
  }
  /* tensor "b" */
  const unsigned char tb[] = {1, 0, 0, 0, 'b', 2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0};
  memcpy(b + o, tb, sizeof tb);
  o += sizeof tb;
  uint32_t bits;
  const float vb = 0.5f;
  memcpy(&bits, &vb, 4);
  for (int k = 0; k < 4; k++) b[o++] = (unsigned char)(bits >> (8 * k));
  return o;
}

static void expect_bad(const unsigned char *img, size_t len, const char *needle) {
  lab_golden g;
  lab_error err = {0};
  lab_status st = lab_golden_parse(&g, img, len, "test", &err);
  assert_int_equal(st, LAB_ERR_DATA);
  assert_int_equal(g.n, 0);
  assert_null(g.tensors);
  if (!strstr(err.msg, needle)) fprintf(stderr, "message \"%s\" lacks \"%s\"\n", err.msg, needle);
  assert_non_null(strstr(err.msg, needle));
  lab_golden_free(&g);
}

static void test_reader_valid(void **state) {
  (void)state;
  unsigned char img[128];
  size_t len = build_image(img);
  lab_golden g;
  lab_error err = {0};
  assert_int_equal(lab_golden_parse(&g, img, len, "test", &err), LAB_STATUS_OK);
  assert_int_equal(g.n, 2);
  const lab_golden_tensor *a = lab_golden_find(&g, "a");
  assert_non_null(a);
  assert_int_equal(a->ndim, 1);
  assert_int_equal(a->dims[0], 2);
  const float want_a[] = {1.0f, -2.0f};
  assert_close(a->data, want_a, 2, 0, 0, "tensor a");
  const float *b = lab_golden_get(&g, 1, "%s", "b");
  assert_non_null(b);
  const float half = 0.5f;
  assert_close(b, &half, 1, 0, 0, "tensor b");
  assert_null(lab_golden_get(&g, 3, "a")); /* wrong size */
  assert_null(lab_golden_get(&g, 1, "c")); /* absent */
  lab_golden_free(&g);
  lab_golden_free(&g); /* idempotent */
}

static void test_reader_rejects_malformed(void **state) {
  (void)state;
  unsigned char img[128], bad[128];
  size_t len = build_image(img);

  memcpy(bad, img, len);
  bad[0] = 'X';
  expect_bad(bad, len, "bad magic");
  expect_bad(img, 4, "bad magic");

  memcpy(bad, img, len);
  bad[8] = 2; /* version 2 */
  expect_bad(bad, len, "version 2");

  expect_bad(img, 12, "truncated header");

  memcpy(bad, img, len);
  bad[12] = 200; /* count far beyond the bytes */
  expect_bad(bad, len, "tensor count 200");

  for (size_t cut = 17; cut < len; cut += 3) expect_bad(img, cut, "tensor");

  memcpy(bad, img, len);
  bad[len] = 0;
  expect_bad(bad, len + 1, "1 unexpected bytes");

  memcpy(bad, img, len);
  bad[16 + 4 + 1 + 4] = 0; /* tensor "a" dims[0] = 0 */
  expect_bad(bad, len, "dim 0 = 0");

  memcpy(bad, img, len);
  bad[16 + 4 + 1] = 9; /* ndim 9 */
  expect_bad(bad, len, "ndim");

  memcpy(bad, img, len);
  bad[16 + 4] = '\n'; /* unprintable name */
  expect_bad(bad, len, "printable");

  memcpy(bad, img, len);
  bad[16 + 4 + 1 + 4 + 4 + 8 + 4] = 'a'; /* second tensor also called "a" */
  expect_bad(bad, len, "appears twice");
}

static void test_reader_missing_file(void **state) {
  (void)state;
  lab_golden g;
  lab_error err = {0};
  assert_int_equal(lab_golden_load(&g, LAB_GOLDEN_DIR "/no-such-fixture.bin", &err), LAB_ERR_IO);
  assert_non_null(strstr(err.msg, "no-such-fixture.bin"));
  lab_golden_free(&g);
}

/* === single layers === */

typedef struct golden_case {
  const char *file, *name;
} golden_case;

static void test_conv(void **state) {
  const golden_case *gc = *state;
  lab_golden g;
  load_fixture(&g, gc->file);
  const float *c = get_cfg(&g, gc->name, 10); /* oc kh kw sh sw pt pb pl pr bias */
  lab_layer_cfg cfg = {.ops = &lab_conv2d_ops,
                       .conv = {.oc = cfg_int(c, 0), .kh = cfg_int(c, 1), .kw = cfg_int(c, 2),
                                .sh = cfg_int(c, 3), .sw = cfg_int(c, 4), .pt = cfg_int(c, 5),
                                .pb = cfg_int(c, 6), .pl = cfg_int(c, 7), .pr = cfg_int(c, 8),
                                .bias = cfg_int(c, 9)}};
  run_layer_case(&g, gc->name, &cfg, 1, 0);
  lab_golden_free(&g);
}

static void test_batchnorm(void **state) {
  const golden_case *gc = *state;
  lab_golden g;
  load_fixture(&g, gc->file);
  const float *c = get_cfg(&g, gc->name, 2); /* eps momentum */
  lab_layer_cfg cfg = {.ops = &lab_batchnorm_ops, .bn = {.eps = c[0], .momentum = c[1]}};
  run_layer_case(&g, gc->name, &cfg, strcmp(gc->name, "bn_train") == 0, 1);
  lab_golden_free(&g);
}

static void test_linear(void **state) {
  const golden_case *gc = *state;
  lab_golden g;
  load_fixture(&g, gc->file);
  const float *c = get_cfg(&g, gc->name, 2); /* out bias */
  lab_layer_cfg cfg = {.ops = &lab_linear_ops, .linear = {.out = cfg_int(c, 0), .bias = cfg_int(c, 1)}};
  run_layer_case(&g, gc->name, &cfg, 1, 0);
  lab_golden_free(&g);
}

static void test_pool(void **state) {
  const golden_case *gc = *state;
  lab_golden g;
  load_fixture(&g, gc->file);
  /* kind kh kw sh sw pt pb pl pr ceil_mode count_include_pad */
  const float *c = get_cfg(&g, gc->name, 11);
  lab_layer_cfg cfg = {.ops = &lab_pool_ops,
                       .pool = {.kind = cfg_int(c, 0) ? LAB_POOL_AVG : LAB_POOL_MAX, .kh = cfg_int(c, 1),
                                .kw = cfg_int(c, 2), .sh = cfg_int(c, 3), .sw = cfg_int(c, 4),
                                .pt = cfg_int(c, 5), .pb = cfg_int(c, 6), .pl = cfg_int(c, 7),
                                .pr = cfg_int(c, 8), .ceil_mode = cfg_int(c, 9),
                                .count_include_pad = cfg_int(c, 10)}};
  run_layer_case(&g, gc->name, &cfg, 1, 0);
  lab_golden_free(&g);
}

static void test_adaptive_pool(void **state) {
  const golden_case *gc = *state;
  lab_golden g;
  load_fixture(&g, gc->file);
  const float *c = get_cfg(&g, gc->name, 2); /* oh ow */
  lab_layer_cfg cfg = {.ops = &lab_adaptive_pool_ops, .apool = {.oh = cfg_int(c, 0), .ow = cfg_int(c, 1)}};
  run_layer_case(&g, gc->name, &cfg, 1, 0);
  lab_golden_free(&g);
}

/* Label-smoothed softmax cross-entropy: the batch-mean loss and d(loss)/d(logits). */
static void test_xent(void **state) {
  const golden_case *gc = *state;
  lab_golden g;
  load_fixture(&g, gc->file);
  const float *c = get_cfg(&g, gc->name, 1); /* smoothing eps */
  char key[LAB_GOLDEN_MAX_NAME + 1];
  snprintf(key, sizeof key, "%s/logits", gc->name);
  const lab_golden_tensor *lt = lab_golden_find(&g, key);
  assert_non_null(lt);
  assert_int_equal(lt->ndim, 2);
  const int n = lt->dims[0], k = lt->dims[1];
  const size_t nk = (size_t)n * (size_t)k;
  const float *labels_f = lab_golden_get(&g, (size_t)n, "%s/labels", gc->name);
  const float *loss_ref = lab_golden_get(&g, 1, "%s/loss", gc->name);
  const float *dref = lab_golden_get(&g, nk, "%s/dlogits", gc->name);
  assert_non_null(labels_f);
  assert_non_null(loss_ref);
  assert_non_null(dref);
  int32_t *labels = lab_xmalloc((size_t)n * sizeof *labels);
  for (int i = 0; i < n; i++) labels[i] = (int32_t)lrintf(labels_f[i]);
  float *prob = lab_xmalloc(nk * sizeof *prob), *dlogits = lab_xcalloc(nk, sizeof *dlogits);
  float *dref_scaled = lab_xmalloc(nk * sizeof *dref_scaled);

  char what[512];
  const float loss = (float)lab_loss_xent_forward(lt->data, labels, n, k, c[0], prob);
  snprintf(what, sizeof what, "%s: loss", gc->name);
  assert_true(golden_close(&loss, loss_ref, 1, what));
  lab_loss_xent_backward(prob, labels, n, k, c[0], 1.0f, dlogits);
  snprintf(what, sizeof what, "%s: dlogits", gc->name);
  assert_true(golden_close(dlogits, dref, nk, what));
  /* A second, weighted backward accumulates: 1 + 0.4 times the reference. */
  lab_loss_xent_backward(prob, labels, n, k, c[0], 0.4f, dlogits);
  for (size_t i = 0; i < nk; i++) dref_scaled[i] = 1.4f * dref[i];
  snprintf(what, sizeof what, "%s: dlogits accumulated with weight 0.4", gc->name);
  assert_true(golden_close(dlogits, dref_scaled, nk, what));
  free(labels);
  free(prob);
  free(dlogits);
  free(dref_scaled);
  lab_golden_free(&g);
}

/* === an Inception-style block through the graph === */

/* The graph of make_golden.py's Block, node for node (names are the fixture's act names):
 * four branches on the input, every conv unbiased and followed by BN + ReLU, then concat. */
typedef struct block_ids {
  int b1, b2, b3, b4, concat;
} block_ids;

static int add_node(lab_graph *g, const char *name, const lab_layer_cfg *cfg, const int *in, int n_in) {
  lab_error err = {0};
  int id = lab_graph_add(g, name, cfg, in, n_in, &err);
  if (id < 0) fprintf(stderr, "%s: %s\n", name, err.msg);
  assert_true(id > 0);
  return id;
}

static int add_basic_conv(lab_graph *g, const char *prefix, int in, int oc, int k) {
  char name[64];
  const int p = k / 2;
  lab_layer_cfg conv = {.ops = &lab_conv2d_ops,
                        .conv = {.oc = oc, .kh = k, .kw = k, .sh = 1, .sw = 1, .pt = p, .pb = p, .pl = p, .pr = p}};
  lab_layer_cfg bn = {.ops = &lab_batchnorm_ops, .bn = {.eps = 1e-3f, .momentum = 0.1f}};
  lab_layer_cfg relu = {.ops = &lab_relu_ops};
  snprintf(name, sizeof name, "%s_conv", prefix);
  int id = add_node(g, name, &conv, &in, 1);
  snprintf(name, sizeof name, "%s_bn", prefix);
  id = add_node(g, name, &bn, &id, 1);
  snprintf(name, sizeof name, "%s_relu", prefix);
  return add_node(g, name, &relu, &id, 1);
}

static block_ids build_block(lab_graph *g) {
  block_ids b;
  lab_layer_cfg pool = {.ops = &lab_pool_ops,
                        .pool = {.kind = LAB_POOL_AVG, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .pt = 1, .pb = 1,
                                 .pl = 1, .pr = 1, .ceil_mode = 0, .count_include_pad = 0}};
  lab_layer_cfg concat = {.ops = &lab_concat_ops};
  b.b1 = add_basic_conv(g, "b1", 0, 4, 1);
  b.b2 = add_basic_conv(g, "b2b", add_basic_conv(g, "b2a", 0, 3, 1), 4, 3);
  b.b3 = add_basic_conv(g, "b3c", add_basic_conv(g, "b3b", add_basic_conv(g, "b3a", 0, 3, 1), 4, 3), 4, 3);
  const int in0 = 0;
  b.b4 = add_basic_conv(g, "b4", add_node(g, "b4_pool", &pool, &in0, 1), 2, 1);
  const int branches[4] = {b.b1, b.b2, b.b3, b.b4};
  b.concat = add_node(g, "concat", &concat, branches, 4);
  return b;
}

/* Fixture tensors whose names start with prefix, in file order. */
static int golden_with_prefix(const lab_golden *g, const char *prefix, const lab_golden_tensor **out, int cap) {
  int n = 0;
  for (int i = 0; i < g->n; i++)
    if (strncmp(g->tensors[i].name, prefix, strlen(prefix)) == 0) {
      if (n < cap) out[n] = &g->tensors[i];
      n++;
    }
  return n;
}

/* Compares forward activations (compare_grads 0) or their gradients (1) of every node, in
 * node order, so the first failure names the first layer that disagrees. */
static void compare_nodes(const lab_golden *gf, lab_graph *g, int batch, int compare_grads) {
  const lab_golden_tensor *ts[64];
  const char *prefix = compare_grads ? "block/dact/" : "block/act/";
  assert_true(lab_graph_n_nodes(g) - 1 <= 64);
  assert_int_equal(golden_with_prefix(gf, prefix, ts, 64), lab_graph_n_nodes(g) - 1);
  for (int id = 1; id < lab_graph_n_nodes(g); id++) {
    const lab_node *nd = lab_graph_node(g, id);
    const size_t n = (size_t)batch * lab_shape_numel(nd->out);
    const float *ref = lab_golden_get(gf, n, "%s%s", prefix, nd->path);
    assert_non_null(ref);
    char what[512];
    snprintf(what, sizeof what, "block node %s: %s", nd->path, compare_grads ? "activation gradient" : "activation");
    assert_true(golden_close(compare_grads ? lab_graph_dact(g, id) : lab_graph_act(g, id), ref, n, what));
  }
}

static void test_block(void **state) {
  (void)state;
  lab_golden gf;
  load_fixture(&gf, "block.bin");
  const float *x = NULL, *dy = NULL;
  const lab_golden_tensor *xt = lab_golden_find(&gf, "block/x");
  assert_non_null(xt);
  assert_int_equal(xt->ndim, 4);
  const int batch = xt->dims[0];
  lab_graph *g = lab_graph_new((lab_shape){xt->dims[1], xt->dims[2], xt->dims[3]});
  block_ids b = build_block(g);
  lab_error err = {0};
  lab_status st = lab_graph_plan(g, batch, &err);
  if (st != LAB_STATUS_OK) fprintf(stderr, "plan: %s\n", err.msg);
  assert_int_equal(st, LAB_STATUS_OK);
  lab_rng rng;
  lab_rng_seed(&rng, 7);
  lab_graph_init(g, &rng); /* BN running statistics 0 and 1, as PyTorch's */

  /* Parameters: the fixture's block/param/NN/... in order are the graph's list in order. */
  const lab_param_list *pl = lab_graph_params(g);
  const lab_golden_tensor *pv[64], *pg[64];
  assert_true(pl->n <= 64);
  assert_int_equal(golden_with_prefix(&gf, "block/param/", pv, 64), pl->n);
  assert_int_equal(golden_with_prefix(&gf, "block/grad/", pg, 64), pl->n);
  for (int i = 0; i < pl->n; i++) {
    if (pv[i]->numel != pl->items[i].count)
      fprintf(stderr, "param %d %s: %zu values, fixture %s has %zu\n", i, pl->items[i].name, pl->items[i].count,
              pv[i]->name, pv[i]->numel);
    assert_int_equal(pv[i]->numel, pl->items[i].count);
    memcpy(pl->items[i].value, pv[i]->data, pv[i]->numel * sizeof(float));
  }

  const lab_shape out = lab_graph_shape(g, b.concat);
  const size_t nx = (size_t)batch * lab_shape_numel(lab_graph_shape(g, 0));
  const size_t ny = (size_t)batch * lab_shape_numel(out);
  x = lab_golden_get(&gf, nx, "block/x");
  dy = lab_golden_get(&gf, ny, "block/dy");
  assert_non_null(x);
  assert_non_null(dy);

  lab_ctx ctx = {.train = 1, .batch = batch, .rng = &rng};
  lab_graph_forward(g, x, &ctx);
  compare_nodes(&gf, g, batch, 0);

  /* Running statistics after one training step (momentum 0.1 from 0 and 1). */
  for (int id = 1; id < lab_graph_n_nodes(g); id++) {
    const lab_node *nd = lab_graph_node(g, id);
    if (nd->layer.ops != &lab_batchnorm_ops) continue;
    const size_t c = (size_t)nd->out.c;
    const float *rm = lab_golden_get(&gf, c, "block/running_mean_out/%s", nd->path);
    const float *rv = lab_golden_get(&gf, c, "block/running_var_out/%s", nd->path);
    assert_non_null(rm);
    assert_non_null(rv);
    char what[512];
    snprintf(what, sizeof what, "block node %s: running_mean", nd->path);
    assert_true(golden_close(nd->layer.buf, rm, c, what));
    snprintf(what, sizeof what, "block node %s: running_var", nd->path);
    assert_true(golden_close(nd->layer.buf + c, rv, c, what));
  }

  lab_graph_zero_grad(g);
  lab_graph_backward_begin(g, batch);
  memcpy(lab_graph_dact(g, b.concat), dy, ny * sizeof(float));
  lab_graph_backward(g, &ctx);
  compare_nodes(&gf, g, batch, 1);
  for (int i = 0; i < pl->n; i++) {
    assert_int_equal(pg[i]->numel, pl->items[i].count);
    char what[512];
    snprintf(what, sizeof what, "block param %s (fixture %s): gradient", pl->items[i].name, pg[i]->name);
    assert_true(golden_close(pl->items[i].grad, pg[i]->data, pg[i]->numel, what));
  }
  lab_graph_free(g);
  lab_golden_free(&gf);
}

/* === cases === */

typedef struct golden_entry {
  golden_case c;
  CMUnitTestFunction fn;
} golden_entry;

static const golden_entry cases[] = {
    {{"conv2d.bin", "conv_1x1"}, test_conv},
    {{"conv2d.bin", "conv_1x1_s2"}, test_conv},
    {{"conv2d.bin", "conv_1x7"}, test_conv},
    {{"conv2d.bin", "conv_7x1"}, test_conv},
    {{"conv2d.bin", "conv_3x3_p1"}, test_conv},
    {{"conv2d.bin", "conv_3x3_s2"}, test_conv},
    {{"conv2d.bin", "conv_3x3_s2_nobias"}, test_conv},
    {{"conv2d.bin", "conv_3x3_s2_same"}, test_conv},
    {{"conv2d.bin", "conv_asym"}, test_conv},
    {{"conv2d.bin", "conv_5x5_p2"}, test_conv},
    {{"conv2d.bin", "conv_1x1_n1"}, test_conv},
    {{"conv2d.bin", "conv_1x1_large"}, test_conv},
    {{"conv2d.bin", "conv_3x3_sliced"}, test_conv},
    {{"batchnorm.bin", "bn_train"}, test_batchnorm},
    {{"batchnorm.bin", "bn_eval"}, test_batchnorm},
    {{"linear.bin", "linear_bias"}, test_linear},
    {{"linear.bin", "linear_nobias"}, test_linear},
    {{"pool.bin", "avg_3x3_s1_p1_incl"}, test_pool},
    {{"pool.bin", "avg_3x3_s1_p1_excl"}, test_pool},
    {{"pool.bin", "avg_5x5_s3"}, test_pool},
    {{"pool.bin", "avg_3x3_s2_p1_ceil_incl"}, test_pool},
    {{"pool.bin", "avg_3x3_s2_p1_ceil_excl"}, test_pool},
    {{"pool.bin", "max_3x3_s2"}, test_pool},
    {{"pool.bin", "max_3x3_s2_ceil"}, test_pool},
    {{"pool.bin", "max_3x3_s1_p1"}, test_pool},
    {{"pool.bin", "adaptive_17_to_5"}, test_adaptive_pool},
    {{"pool.bin", "adaptive_10x7_to_4x3"}, test_adaptive_pool},
    {{"pool.bin", "adaptive_global"}, test_adaptive_pool},
    {{"loss.bin", "xent_ls0.1"}, test_xent},
    {{"loss.bin", "xent_ls0"}, test_xent},
    {{"loss.bin", "xent_ls0.1_large"}, test_xent},
};
#define N_CASES ((int)(sizeof cases / sizeof cases[0]))

int main(void) {
  /* One cmocka test per fixture case, named after the case. */
  struct CMUnitTest tests[N_CASES + 4] = {
      cmocka_unit_test(test_reader_valid),
      cmocka_unit_test(test_reader_rejects_malformed),
      cmocka_unit_test(test_reader_missing_file),
  };
  int n = 3;
  for (int i = 0; i < N_CASES; i++, n++) {
    tests[n].name = cases[i].c.name;
    tests[n].test_func = cases[i].fn;
    tests[n].initial_state = (void *)&cases[i].c;
  }
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_block);
  return _cmocka_run_group_tests("golden", tests, (size_t)n, NULL, NULL);
}
