/* test_train.c: the training step against PyTorch (SGD and RMSProp-TF, label smoothing, aux
 * weight, clipping, BN statistics; fixture tests/golden/train_steps.txt from
 * tests/golden/make_golden_train.py), and whole runs of lab_train_run: determinism, resume,
 * NaN reporting, data and config errors, a learning test on a Fashion-MNIST subset. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lab/config.h"
#include "lab/graph.h"
#include "lab/layers.h"
#include "lab/runfolder.h"
#include "lab/train.h"
#include "lab/train_cfg.h"
#include "testutil.h"
#include "textfixture.h"

/* === small graphs built node by node === */

static lab_layer_cfg conv(int oc, int k, int s, int p, int bias) {
  lab_layer_cfg c = {.ops = &lab_conv2d_ops};
  c.conv = (lab_conv2d_cfg){.oc = oc, .kh = k, .kw = k, .sh = s, .sw = s, .pt = p, .pb = p, .pl = p, .pr = p,
                            .bias = bias};
  return c;
}
static lab_layer_cfg bn(void) {
  lab_layer_cfg c = {.ops = &lab_batchnorm_ops};
  c.bn = (lab_bn_cfg){.eps = 1e-3f, .momentum = 0.1f};
  return c;
}
static lab_layer_cfg relu(void) { return (lab_layer_cfg){.ops = &lab_relu_ops}; }
static lab_layer_cfg pool(lab_pool_kind kind, int k, int s) {
  lab_layer_cfg c = {.ops = &lab_pool_ops};
  c.pool = (lab_pool_cfg){.kind = kind, .kh = k, .kw = k, .sh = s, .sw = s, .count_include_pad = 1};
  return c;
}
static lab_layer_cfg gap(void) {
  lab_layer_cfg c = {.ops = &lab_adaptive_pool_ops};
  c.apool = (lab_adaptive_pool_cfg){.oh = 1, .ow = 1};
  return c;
}
static lab_layer_cfg linear(int out, float init_std) {
  lab_layer_cfg c = {.ops = &lab_linear_ops};
  c.linear = (lab_linear_cfg){.out = out, .bias = 1, .init_std = init_std};
  return c;
}

/* The fixture's network (make_golden_train.py): conv-bn-relu-maxpool, then conv-relu-gap-fc =
 * logits and, with aux, avgpool-fc = aux_logits. */
static lab_graph *golden_graph(int aux) {
  lab_graph *g = lab_graph_new((lab_shape){2, 8, 8});
  int h = lab_test_add(g, "conv1", conv(4, 3, 1, 1, 0), 0);
  h = lab_test_add(g, "bn1", bn(), h);
  h = lab_test_add(g, "relu1", relu(), h);
  h = lab_test_add(g, "pool1", pool(LAB_POOL_MAX, 2, 2), h);
  int m = lab_test_add(g, "conv2", conv(6, 3, 1, 1, 1), h);
  m = lab_test_add(g, "relu2", relu(), m);
  m = lab_test_add(g, "gap", gap(), m);
  m = lab_test_add(g, "fc", linear(5, 0), m);
  lab_graph_mark_output(g, "logits", m);
  if (aux) {
    int a = lab_test_add(g, "aux_pool", pool(LAB_POOL_AVG, 2, 2), h);
    a = lab_test_add(g, "aux_fc", linear(5, 0), a);
    lab_graph_mark_output(g, "aux_logits", a);
  }
  return g;
}

/* === golden: steps vs PyTorch === */

static void test_golden_steps(void **state) {
  (void)state;
  lab_fx_tokens t;
  lab_fx_open(&t, LAB_GOLDEN_DIR "/train_steps.txt", "tests/golden/make_golden_train.py");
  lab_fx_expect(&t, "LABGOLD");
  lab_fx_expect(&t, "train");
  lab_fx_expect(&t, "1");
  lab_fx_expect(&t, "ncases");
  int ncases = (int)lab_fx_num(&t);
  assert_true(ncases >= 4);
  for (int c = 0; c < ncases; c++) {
    lab_fx_expect(&t, "case");
    char name[64];
    snprintf(name, sizeof name, "%s", lab_fx_tok(&t));
    int aux = (int)lab_fx_num(&t), kind = (int)lab_fx_num(&t);
    lab_optim_cfg oc = kind == 0 ? lab_optim_cfg_sgd() : lab_optim_cfg_rmsprop_tf();
    oc.momentum = (float)lab_fx_num(&t);
    oc.nesterov = (int)lab_fx_num(&t);
    oc.weight_decay = (float)lab_fx_num(&t);
    oc.rms_decay = (float)lab_fx_num(&t);
    oc.rms_eps = (float)lab_fx_num(&t);
    oc.rms_init = (float)lab_fx_num(&t);
    float eps = (float)lab_fx_num(&t), aux_w = (float)lab_fx_num(&t);
    double clip = lab_fx_num(&t);
    int nsteps = (int)lab_fx_num(&t), n = (int)lab_fx_num(&t);
    float lrs[8];
    assert_true(nsteps <= 8);
    lab_fx_expect(&t, "lr");
    lab_fx_floats(&t, lrs, (size_t)nsteps);

    lab_graph *g = golden_graph(aux);
    lab_error err = {0};
    assert_int_equal(lab_graph_plan(g, n, &err), LAB_STATUS_OK);
    lab_rng rng;
    lab_rng_seed(&rng, 1);
    lab_graph_init(g, &rng);
    size_t per = lab_shape_numel(lab_graph_shape(g, 0));
    float *x = lab_xmalloc(sizeof(float) * per * (size_t)n * (size_t)nsteps);
    int32_t *y = lab_xmalloc(sizeof(int32_t) * (size_t)n * (size_t)nsteps);
    for (int s = 0; s < nsteps; s++) {
      lab_fx_expect(&t, "x");
      assert_int_equal((int)lab_fx_num(&t), s);
      lab_fx_floats(&t, x + (size_t)s * per * (size_t)n, per * (size_t)n);
      lab_fx_expect(&t, "y");
      assert_int_equal((int)lab_fx_num(&t), s);
      for (int i = 0; i < n; i++) y[s * n + i] = (int32_t)lab_fx_num(&t);
    }
    const lab_param_list *pl = lab_graph_params(g);
    lab_fx_expect(&t, "nparams");
    assert_int_equal((int)lab_fx_num(&t), pl->n);
    for (int i = 0; i < pl->n; i++) {
      lab_fx_expect(&t, "param");
      const char *pn = lab_fx_tok(&t);
      /* "conv1.weight" is the graph's "conv1.weight": same names, same order */
      if (strcmp(pn, pl->items[i].name) != 0) fail_msg("%s: param %d is %s, graph has %s", name, i, pn, pl->items[i].name);
      assert_int_equal((size_t)lab_fx_num(&t), pl->items[i].count);
      lab_fx_floats(&t, pl->items[i].value, pl->items[i].count);
    }
    lab_optim opt;
    assert_int_equal(lab_optim_init(&opt, &oc, pl, &err), LAB_STATUS_OK);
    float *prob = lab_xmalloc(sizeof(float) * (size_t)n * 5), *prob_aux = lab_xmalloc(sizeof(float) * (size_t)n * 5);
    lab_step st = {.g = g, .out_logits = lab_graph_output(g, "logits"), .out_aux = lab_graph_output(g, "aux_logits"),
                   .k = 5, .label_smoothing = eps, .aux_weight = aux_w, .clip_norm = clip, .opt = &opt,
                   .ema = NULL, .rng = &rng, .prob = prob, .prob_aux = prob_aux};
    float loss[8], norm[8], want_loss[8], want_norm[8];
    for (int s = 0; s < nsteps; s++) {
      lab_step_result sr;
      assert_int_equal(lab_train_step(&st, x + (size_t)s * per * (size_t)n, y + s * n, n, lrs[s], s, &sr),
                       LAB_STATUS_OK);
      loss[s] = (float)sr.loss;
      norm[s] = (float)sr.grad_norm;
    }
    lab_fx_expect(&t, "loss");
    lab_fx_floats(&t, want_loss, (size_t)nsteps);
    lab_fx_expect(&t, "norm");
    lab_fx_floats(&t, want_norm, (size_t)nsteps);
    char what[300];
    snprintf(what, sizeof what, "%s loss", name);
    assert_close(loss, want_loss, (size_t)nsteps, 1e-5, 1e-5, what);
    snprintf(what, sizeof what, "%s grad norm", name);
    assert_close(norm, want_norm, (size_t)nsteps, 1e-5, 1e-4, what);
    for (int i = 0; i < pl->n; i++) {
      lab_fx_expect(&t, "final");
      lab_fx_tok(&t);
      size_t cnt = (size_t)lab_fx_num(&t);
      float *want = lab_xmalloc(sizeof(float) * cnt);
      lab_fx_floats(&t, want, cnt);
      snprintf(what, sizeof what, "%s %s after %d steps", name, pl->items[i].name, nsteps);
      assert_close(pl->items[i].value, want, cnt, 2e-5, 1e-4, what);
      free(want);
    }
    lab_fx_expect(&t, "buffers");
    /* bn1 (node 2): running mean (4), running var (4) */
    const lab_node *bn1 = lab_graph_node(g, 2);
    assert_string_equal(bn1->layer.ops->type, lab_batchnorm_ops.type);
    const float *bufs = bn1->layer.buf;
    assert_int_equal((size_t)lab_fx_num(&t), 8);
    float want_b[8];
    lab_fx_floats(&t, want_b, 8);
    snprintf(what, sizeof what, "%s BN running statistics", name);
    assert_close(bufs, want_b, 8, 1e-5, 1e-4, what);
    lab_optim_free(&opt);
    free(prob);
    free(prob_aux);
    free(x);
    free(y);
    lab_graph_free(g);
  }
  lab_fx_close(&t);
}

/* === whole runs on a synthetic dataset === */


static lab_graph *small_graph(int dropout_aux) {
  lab_graph *g = lab_graph_new((lab_shape){1, 8, 8});
  int h = lab_test_add(g, "conv1", conv(6, 3, 1, 1, 0), 0);
  h = lab_test_add(g, "bn1", bn(), h);
  h = lab_test_add(g, "relu1", relu(), h);
  h = lab_test_add(g, "pool1", pool(LAB_POOL_MAX, 2, 2), h);
  int m = lab_test_add(g, "gap", gap(), h);
  if (dropout_aux) {
    lab_layer_cfg d = {.ops = &lab_dropout_ops};
    d.dropout.p = 0.3f;
    m = lab_test_add(g, "drop", d, m);
  }
  m = lab_test_add(g, "fc", linear(3, 0), m);
  lab_graph_mark_output(g, "logits", m);
  if (dropout_aux) {
    int a = lab_test_add(g, "aux_fc", linear(3, 0), h);
    lab_graph_mark_output(g, "aux_logits", a);
  }
  return g;
}

static lab_cfg_node *row_from(const char *yaml) {
  lab_cfg_node *row = NULL;
  lab_error err = {0};
  if (lab_cfg_parse_string(yaml, "row.yaml", &row, &err) != LAB_STATUS_OK) fail_msg("%s", err.msg);
  return row;
}

static const char *const RUN_YAML = "train:\n"
                                    "  epochs: 2\n"
                                    "  batch: 16\n"
                                    "  threads: 1\n"
                                    "  lr: 0.05\n"
                                    "  ema_decay: 0.99\n"
                                    "  log_every: 1000\n"
                                    "data:\n"
                                    "  pad: 1\n"
                                    "  val_count: 16\n";

typedef struct run_env {
  lab_dataset train, test;
  char root[256];
} run_env;

static int setup_env(void **state) {
  run_env *e = calloc(1, sizeof *e);
  lab_test_bars_dataset(&e->train, 112, 1);
  lab_test_bars_dataset(&e->test, 40, 2);
  snprintf(e->root, sizeof e->root, "/tmp/lab-test-train-%d", (int)getpid());
  *state = e;
  return 0;
}

static int teardown_env(void **state) {
  run_env *e = *state;
  lab_dataset_free(&e->train);
  lab_dataset_free(&e->test);
  if (lab_test_rmtree(e->root) != 0) fprintf(stderr, "could not remove %s\n", e->root);
  free(e);
  return 0;
}

static lab_status run_once(run_env *e, const char *yaml, const char *sub, int resume, int stop_after,
                           lab_train_result *res, lab_error *err) {
  lab_cfg_node *row = row_from(yaml);
  lab_graph *g = small_graph(1);
  char dir[512];
  snprintf(dir, sizeof dir, "%s/%s", e->root, sub);
  lab_train_job job = {.graph = g, .row = row, .experiment = "test", .variant = "small", .seed = 7,
                       .out_dir = dir, .resume = resume, .quiet = 1, .stop_after_epochs = stop_after,
                       .train_set = &e->train, .test_set = &e->test};
  lab_status st = lab_train_run(&job, res, err);
  lab_graph_free(g);
  lab_cfg_free(row);
  return st;
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = lab_xcalloc(1, 1 << 16);
  size_t n = fread(buf, 1, (1 << 16) - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

/* metrics.tsv without the timing columns (seconds, images_per_second: 10th and 11th). */
static char *metrics_without_time(run_env *e, const char *sub) {
  char path[600];
  snprintf(path, sizeof path, "%s/%s/metrics.tsv", e->root, sub);
  char *text = slurp(path);
  assert_non_null(text);
  char *out = lab_xcalloc(1, strlen(text) + 1), *o = out;
  int col = 0;
  for (const char *p = text; *p; p++) {
    if (*p == '\n') col = 0;
    else if (*p == '\t') col++;
    if (col != 9 && col != 10) *o++ = *p;
  }
  free(text);
  return out;
}

static void test_determinism_and_resume(void **state) {
  run_env *e = *state;
  lab_train_result ra, rb, rc;
  lab_error err = {0};
  assert_int_equal(run_once(e, RUN_YAML, "a", 0, 0, &ra, &err), LAB_STATUS_OK);
  assert_int_equal(ra.epochs, 2);
  assert_true(ra.finished);
  assert_int_equal(run_once(e, RUN_YAML, "b", 0, 0, &rb, &err), LAB_STATUS_OK);
  /* interrupted after epoch 1, then resumed */
  assert_int_equal(run_once(e, RUN_YAML, "c", 0, 1, &rc, &err), LAB_STATUS_OK);
  assert_int_equal(rc.epochs, 1);
  assert_false(rc.finished);
  char path[600];
  snprintf(path, sizeof path, "%s/c/summary.json", e->root);
  assert_int_equal(access(path, F_OK), -1); /* not finished: no summary */
  assert_int_equal(run_once(e, RUN_YAML, "c", 1, 0, &rc, &err), LAB_STATUS_OK);
  assert_true(rc.finished);
  assert_int_equal(rc.epochs, 2);

  char *ma = metrics_without_time(e, "a"), *mb = metrics_without_time(e, "b"), *mc = metrics_without_time(e, "c");
  assert_string_equal(ma, mb);
  assert_string_equal(ma, mc);
  /* header + 2 rows, EMA and validation columns measured */
  assert_non_null(strstr(ma, "epoch\tstep\tlr\ttrain_loss\ttrain_top1_error\ttest_top1_error"));
  int lines = 0;
  for (const char *p = ma; *p; p++) lines += *p == '\n';
  assert_int_equal(lines, 3);
  assert_true(isfinite(ra.ema_test_top1_error));
  assert_true(ra.test_top1_error == rc.test_top1_error);
  assert_true(ra.final_train_loss == rc.final_train_loss);

  /* the summary and config files */
  snprintf(path, sizeof path, "%s/c/summary.json", e->root);
  char *sum = slurp(path);
  assert_non_null(sum);
  assert_non_null(strstr(sum, "\"status\": \"finished\""));
  assert_non_null(strstr(sum, "\"threads\": 1"));
  assert_non_null(strstr(sum, "\"epochs\": 2"));
  free(sum);
  snprintf(path, sizeof path, "%s/c/config.yaml", e->root);
  char *cfg = slurp(path);
  assert_non_null(strstr(cfg, "# config_hash: "));
  assert_non_null(strstr(cfg, "epochs: 2"));
  free(cfg);

  /* resuming under another configuration is refused */
  char other[1024];
  snprintf(other, sizeof other, "%s", RUN_YAML);
  char *lr = strstr(other, "lr: 0.05");
  memcpy(lr, "lr: 0.04", 8);
  assert_int_equal(run_once(e, other, "c", 1, 0, &rc, &err), LAB_ERR_CONFIG);
  assert_non_null(strstr(err.msg, "refusing to resume"));
  snprintf(path, sizeof path, "%s/c/summary.json", e->root);
  sum = slurp(path);
  assert_non_null(strstr(sum, "\"status\": \"finished\"")); /* untouched */
  free(sum);

  /* another seed gives other metrics (the comparison above can fail) */
  free(ma);
  free(mb);
  free(mc);
}

/* train.bn_freeze_epochs and train.bn_recalibrate: a step with frozen batch norm leaves the
 * running statistics alone and still trains; the keys are checked; runs with both are
 * deterministic, resume to the same metrics, and differ from the plain recipe's. */
static void test_bn_freeze_and_recalibrate(void **state) {
  run_env *e = *state;
  lab_data_cfg d;
  lab_train_cfg t;
  lab_error err = {0};
  lab_cfg_node *row = row_from("train:\n  epochs: 2\n  bn_freeze_epochs: 2\n");
  assert_int_equal(lab_train_cfg_read(row, &d, &t, &err), LAB_ERR_CONFIG);
  assert_non_null(strstr(err.msg, "row.yaml:3:"));
  assert_non_null(strstr(err.msg, "bn_freeze_epochs"));
  lab_cfg_free(row);

  /* one step frozen, one not */
  lab_graph *g = golden_graph(0);
  const int n = 4;
  assert_int_equal(lab_graph_plan(g, n, &err), LAB_STATUS_OK);
  lab_rng rng;
  lab_rng_seed(&rng, 3);
  lab_graph_init(g, &rng);
  float x[4 * 2 * 8 * 8];
  lab_test_fill(x, sizeof x / sizeof x[0], &rng, -1, 1);
  const int32_t y[4] = {0, 1, 2, 3};
  lab_optim_cfg oc = lab_optim_cfg_sgd();
  lab_optim opt;
  assert_int_equal(lab_optim_init(&opt, &oc, lab_graph_params(g), &err), LAB_STATUS_OK);
  float prob[4 * 5];
  lab_step st = {.g = g, .out_logits = lab_graph_output(g, "logits"), .out_aux = -1, .k = 5, .opt = &opt,
                 .rng = &rng, .prob = prob, .bn_frozen = 1};
  size_t nb, np;
  float *bufs = lab_graph_buffer_slab(g, &nb), *params = lab_graph_param_slab(g, &np);
  float *b0 = lab_xmalloc(nb * sizeof(float)), *p0 = lab_xmalloc(np * sizeof(float));
  memcpy(b0, bufs, nb * sizeof(float));
  memcpy(p0, params, np * sizeof(float));
  lab_step_result sr;
  assert_int_equal(lab_train_step(&st, x, y, n, 0.1, 0, &sr), LAB_STATUS_OK);
  assert_memory_equal(bufs, b0, nb * sizeof(float));
  assert_memory_not_equal(params, p0, np * sizeof(float));
  st.bn_frozen = 0;
  assert_int_equal(lab_train_step(&st, x, y, n, 0.1, 1, &sr), LAB_STATUS_OK);
  assert_memory_not_equal(bufs, b0, nb * sizeof(float));
  free(b0);
  free(p0);
  lab_optim_free(&opt);
  lab_graph_free(g);

  /* whole runs: the last half epoch frozen, statistics recalibrated over 2 batches */
  char yaml[1024];
  const char *at = strstr(RUN_YAML, "  log_every: 1000\n");
  assert_non_null(at);
  snprintf(yaml, sizeof yaml, "%.*s  bn_freeze_epochs: 0.5\n  bn_recalibrate: 2\n%s", (int)(at - RUN_YAML), RUN_YAML,
           at);
  lab_train_result ra, rb, rp;
  assert_int_equal(run_once(e, yaml, "fa", 0, 0, &ra, &err), LAB_STATUS_OK);
  assert_int_equal(run_once(e, yaml, "fb", 0, 1, &rb, &err), LAB_STATUS_OK);
  assert_int_equal(run_once(e, yaml, "fb", 1, 0, &rb, &err), LAB_STATUS_OK);
  assert_int_equal(run_once(e, RUN_YAML, "fp", 0, 0, &rp, &err), LAB_STATUS_OK);
  char *ma = metrics_without_time(e, "fa"), *mb = metrics_without_time(e, "fb"), *mp = metrics_without_time(e, "fp");
  assert_string_equal(ma, mb);
  assert_string_not_equal(ma, mp);
  free(ma);
  free(mb);
  free(mp);
}

static void test_nan_stops(void **state) {
  run_env *e = *state;
  /* two huge linear layers: the logits overflow to Inf at the first step */
  lab_cfg_node *row = row_from(RUN_YAML);
  lab_graph *g = lab_graph_new((lab_shape){1, 8, 8});
  int h = lab_test_add(g, "conv1", conv(4, 3, 1, 1, 0), 0);
  h = lab_test_add(g, "gap", gap(), h);
  h = lab_test_add(g, "fc1", linear(8, 1e30f), h);
  h = lab_test_add(g, "fc2", linear(3, 1e30f), h);
  lab_graph_mark_output(g, "logits", h);
  char dir[512];
  snprintf(dir, sizeof dir, "%s/nan", e->root);
  lab_train_job job = {.graph = g, .row = row, .experiment = "test", .variant = "nan", .seed = 1, .out_dir = dir,
                       .quiet = 1, .train_set = &e->train, .test_set = &e->test};
  lab_train_result res;
  lab_error err = {0};
  assert_int_equal(lab_train_run(&job, &res, &err), LAB_ERR_NUMERIC);
  assert_int_equal(res.nan_step, 0);
  assert_non_null(strstr(err.msg, "fc2"));
  char path[600];
  snprintf(path, sizeof path, "%s/summary.json", dir);
  char *sum = slurp(path);
  assert_non_null(sum);
  assert_non_null(strstr(sum, "\"status\": \"nan\""));
  assert_non_null(strstr(sum, "\"nan_step\": 0"));
  assert_non_null(strstr(sum, "fc2"));
  free(sum);
  lab_graph_free(g);
  lab_cfg_free(row);
}

static void test_bad_data_dir(void **state) {
  run_env *e = *state;
  lab_cfg_node *row = row_from("data:\n  dataset: fashion-mnist\n  dir: /nonexistent/fmnist\ntrain:\n  epochs: 1\n");
  lab_graph *g = small_graph(0);
  char dir[512];
  snprintf(dir, sizeof dir, "%s/bad", e->root);
  lab_train_job job = {.graph = g, .row = row, .experiment = "t", .variant = "v", .seed = 1, .out_dir = dir, .quiet = 1};
  lab_train_result res;
  lab_error err = {0};
  assert_true(lab_train_run(&job, &res, &err) < 0);
  assert_non_null(strstr(err.msg, "/nonexistent/fmnist/"));
  /* the folder says why it holds no run */
  char path[600];
  snprintf(path, sizeof path, "%s/summary.json", dir);
  char *sum = slurp(path);
  assert_non_null(sum);
  assert_non_null(strstr(sum, "\"status\": \"failed\""));
  assert_non_null(strstr(sum, "/nonexistent/fmnist/"));
  free(sum);
  lab_graph_free(g);
  lab_cfg_free(row);
}

static void test_config_errors(void **state) {
  (void)state;
  lab_data_cfg d;
  lab_train_cfg t;
  lab_error err = {0};
  /* defaults: the paper's recipe */
  assert_int_equal(lab_train_cfg_read(NULL, &d, &t, &err), LAB_STATUS_OK);
  assert_true(fabs(t.lr - 0.045) < 1e-12 && fabs(t.lr_decay_rate - 0.94) < 1e-12 && fabs(t.clip_norm - 2.0) < 1e-12);
  assert_true(fabs(t.label_smoothing - 0.1) < 1e-12 && fabs(t.aux_weight - 0.4) < 1e-12);
  assert_true(fabs(t.ema_decay - 0.9999) < 1e-12 && fabs(t.rms_eps - 1.0) < 1e-12 && t.optimizer == 1);
  assert_int_equal(d.dataset, 0);

  lab_cfg_node *row = row_from("train:\n  epochs: 3\n  lr_decay: 0.9\n");
  assert_int_equal(lab_train_cfg_read(row, &d, &t, &err), LAB_ERR_CONFIG);
  assert_non_null(strstr(err.msg, "row.yaml:3:3"));
  assert_non_null(strstr(err.msg, "lr_decay"));
  assert_non_null(strstr(err.msg, "(known: "));
  assert_non_null(strstr(err.msg, "lr_decay_rate"));
  lab_cfg_free(row);

  row = row_from("train:\n  epochs: two\n");
  assert_int_equal(lab_train_cfg_read(row, &d, &t, &err), LAB_ERR_CONFIG);
  assert_non_null(strstr(err.msg, "row.yaml:2:11"));
  lab_cfg_free(row);

  row = row_from("train:\n  optimizer: adam\n");
  assert_int_equal(lab_train_cfg_read(row, &d, &t, &err), LAB_ERR_CONFIG);
  assert_non_null(strstr(err.msg, "rmsprop"));
  lab_cfg_free(row);

  row = row_from("data:\n  pad: -1\n");
  assert_int_equal(lab_train_cfg_read(row, &d, &t, &err), LAB_ERR_CONFIG);
  lab_cfg_free(row);

  row = row_from("trian:\n  epochs: 1\n");
  assert_int_equal(lab_train_cfg_read(row, &d, &t, &err), LAB_ERR_CONFIG);
  assert_non_null(strstr(err.msg, "train"));
  lab_cfg_free(row);

  row = row_from("data:\n  dataset: mnist\n  train_subset: 500\ntrain:\n  optimizer: sgd\n  ema: false\n");
  assert_int_equal(lab_train_cfg_read(row, &d, &t, &err), LAB_STATUS_OK);
  assert_int_equal(d.dataset, 1);
  assert_int_equal(d.train_subset, 500);
  assert_int_equal(t.optimizer, 0);
  assert_int_equal(t.ema, 0);
  lab_cfg_free(row);
}

static void test_slug_and_dir(void **state) {
  (void)state;
  char s[64];
  lab_run_slug("Inception-v2 + RMSProp", s, sizeof s);
  assert_string_equal(s, "inception-v2-rmsprop");
  lab_run_slug("  BN-auxiliary (row 8) ", s, sizeof s);
  assert_string_equal(s, "bn-auxiliary-row-8");
  lab_run_slug("+++", s, sizeof s);
  assert_string_equal(s, "row");
  char dir[256];
  lab_error err;
  assert_int_equal(lab_run_dir("results", "table3", "Label Smoothing", 2, dir, sizeof dir, &err), LAB_STATUS_OK);
  assert_string_equal(dir, "results/table3/label-smoothing/seed-2");
}

/* Learning: a small CNN on 3000 Fashion-MNIST images, 2 epochs, beats 70% test accuracy on
 * 1000 test images (chance: 10%). Skipped when the dataset is not installed. */
static void test_learns_fashion_mnist(void **state) {
  run_env *e = *state;
  if (access(LAB_FASHION_MNIST_DIR, R_OK) != 0) {
    skip();
    return;
  }
  lab_cfg_node *row = row_from("data:\n  train_subset: 3000\n  test_subset: 1000\n  hflip: false\n"
                               "train:\n  epochs: 2\n  batch: 32\n  threads: 1\n  optimizer: sgd\n  lr: 0.1\n"
                               "  lr_schedule: constant\n  label_smoothing: 0.0\n  ema: false\n");
  lab_graph *g = lab_graph_new((lab_shape){1, 28, 28});
  int h = lab_test_add(g, "conv1", conv(8, 3, 2, 1, 0), 0);
  h = lab_test_add(g, "bn1", bn(), h);
  h = lab_test_add(g, "relu1", relu(), h);
  h = lab_test_add(g, "conv2", conv(16, 3, 2, 1, 0), h);
  h = lab_test_add(g, "bn2", bn(), h);
  h = lab_test_add(g, "relu2", relu(), h);
  h = lab_test_add(g, "fc", linear(10, 0), h);
  lab_graph_mark_output(g, "logits", h);
  char dir[512];
  snprintf(dir, sizeof dir, "%s/fmnist", e->root);
  lab_train_job job = {.graph = g, .row = row, .experiment = "t", .variant = "learn", .seed = 3, .out_dir = dir,
                       .quiet = 1};
  lab_train_result res;
  lab_error err = {0};
  lab_status st = lab_train_run(&job, &res, &err);
  if (st != LAB_STATUS_OK) fail_msg("%s", err.msg);
  print_message("fashion-mnist subset: test error %.2f%% after 2 epochs on 3000 images, %.0f img/s\n",
                res.test_top1_error, res.images_per_second);
  assert_true(res.test_top1_error < 30.0);
  lab_graph_free(g);
  lab_cfg_free(row);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_golden_steps),
      cmocka_unit_test(test_config_errors),
      cmocka_unit_test(test_slug_and_dir),
      cmocka_unit_test(test_determinism_and_resume),
      cmocka_unit_test(test_bn_freeze_and_recalibrate),
      cmocka_unit_test(test_nan_stops),
      cmocka_unit_test(test_bad_data_dir),
      cmocka_unit_test(test_learns_fashion_mnist),
  };
  return cmocka_run_group_tests(tests, setup_env, teardown_env);
}
