/* test_dist.c: data-parallel training (lab/dist.h, train.h "Data-parallel") against one process.
 *
 * Run under `mpirun -np 2` (ctest test_dist_mpi2), every rank runs the same tests in the same
 * order, and every collective comes before the assertions of its test (a failed assertion on
 * one rank must not leave the other waiting). Checked there:
 *   - training steps (synchronised BN in conv and (C,1,1) layers, dropout, aux head, label
 *     smoothing, clipping, RMSProp, EMA) on K replicas x B/K against one process on B: loss,
 *     top-1 count, gradient norm, parameters, BN running statistics, EMA;
 *   - whole runs (lab_train_run: loader shards, sliced evaluation, rank 0's files) against one
 *     process, the replicas' parameters bit-identical to rank 0's, and a run interrupted after
 *     an epoch and resumed (--resume) identical to the uninterrupted one;
 *   - a batch that does not split over the ranks fails on every rank with the reason, and a
 *     non-finite loss stops every rank at the same step.
 * Run alone (ctest test_dist, size 1), the synchronised code paths (lab_ctx_sync with one
 * replica) are checked against the local ones, and the multi-rank tests are skipped.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lab/config.h"
#include "lab/dist.h"
#include "lab/graph.h"
#include "lab/layers.h"
#include "lab/train.h"
#include "testutil.h"

static lab_dist g_dist; /* this rank; set by main before the tests run */

/* === a small network with everything the synchronisation touches === */

static lab_layer_cfg conv(int oc, int bias) {
  lab_layer_cfg c = {.ops = &lab_conv2d_ops};
  c.conv = (lab_conv2d_cfg){.oc = oc, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .pt = 1, .pb = 1, .pl = 1, .pr = 1,
                            .bias = bias};
  return c;
}
static lab_layer_cfg bn(void) {
  lab_layer_cfg c = {.ops = &lab_batchnorm_ops};
  c.bn = (lab_bn_cfg){.eps = 1e-3f, .momentum = 0.1f};
  return c;
}
static lab_layer_cfg relu(void) { return (lab_layer_cfg){.ops = &lab_relu_ops}; }
static lab_layer_cfg maxpool(void) {
  lab_layer_cfg c = {.ops = &lab_pool_ops};
  c.pool = (lab_pool_cfg){.kind = LAB_POOL_MAX, .kh = 2, .kw = 2, .sh = 2, .sw = 2};
  return c;
}
static lab_layer_cfg gap(void) {
  lab_layer_cfg c = {.ops = &lab_adaptive_pool_ops};
  c.apool = (lab_adaptive_pool_cfg){.oh = 1, .ow = 1};
  return c;
}
static lab_layer_cfg linear(int out) {
  lab_layer_cfg c = {.ops = &lab_linear_ops};
  c.linear = (lab_linear_cfg){.out = out, .bias = 1};
  return c;
}
static lab_layer_cfg dropout(float p) {
  lab_layer_cfg c = {.ops = &lab_dropout_ops};
  c.dropout.p = p;
  return c;
}

/* conv-bn-relu-pool, then conv-bn+relu (fused)-gap-dropout-fc = logits, and an aux head
 * fc-bn(C,1,1)-relu-dropout-fc = aux_logits (BN over N only, dropout on features). */
static lab_graph *net(int c_in, int hw, int classes) {
  lab_graph *g = lab_graph_new((lab_shape){c_in, hw, hw});
  int h = lab_test_add(g, "conv1", conv(4, 0), 0);
  h = lab_test_add(g, "bn1", bn(), h);
  h = lab_test_add(g, "relu1", relu(), h);
  h = lab_test_add(g, "pool1", maxpool(), h);
  int m = lab_test_add(g, "conv2", conv(6, 1), h);
  lab_layer_cfg bn_relu = bn(); /* the fused BN + ReLU of the blocks' conv units */
  bn_relu.bn.relu = 1;
  m = lab_test_add(g, "bn2", bn_relu, m);
  m = lab_test_add(g, "gap", gap(), m);
  m = lab_test_add(g, "drop", dropout(0.3f), m);
  m = lab_test_add(g, "fc", linear(classes), m);
  lab_graph_mark_output(g, "logits", m);
  int a = lab_test_add(g, "aux_fc1", linear(7), h);
  a = lab_test_add(g, "aux_bn", bn(), a);
  a = lab_test_add(g, "aux_relu", relu(), a);
  a = lab_test_add(g, "aux_drop", dropout(0.25f), a);
  a = lab_test_add(g, "aux_fc2", linear(classes), a);
  lab_graph_mark_output(g, "aux_logits", a);
  return g;
}

/* === the synchronised paths with one replica equal the local ones (any rank count) === */

static void sum_nothing(void *user, double *x, size_t n) {
  (void)x;
  (void)n;
  (*(int *)user)++; /* counts the calls: one replica, the sums are already global */
}

static void test_sync_single_replica(void **state) {
  (void)state;
  const int b = 6, k = 5;
  lab_graph *ga = net(2, 8, k), *gb = net(2, 8, k);
  lab_error err = {0};
  assert_int_equal(lab_graph_plan(ga, b, &err), LAB_STATUS_OK);
  assert_int_equal(lab_graph_plan(gb, b, &err), LAB_STATUS_OK);
  lab_rng r1, r2;
  lab_rng_seed(&r1, 3);
  lab_rng_seed(&r2, 3);
  lab_graph_init(ga, &r1);
  lab_graph_init(gb, &r2);
  size_t per = lab_shape_numel(lab_graph_shape(ga, 0)), np, nb;
  float *x = lab_xmalloc(sizeof(float) * per * (size_t)b);
  lab_rng dr;
  lab_rng_seed(&dr, 11);
  lab_test_fill(x, per * (size_t)b, &dr, -1.0f, 1.0f);
  double work[64];
  int calls = 0;
  lab_ctx_sync sync = {.sum = sum_nothing, .user = &calls, .work = work, .work_len = 64, .sample_offset = 0,
                       .global_batch = b};
  lab_rng da, db;
  lab_rng_seed(&da, 5);
  lab_rng_seed(&db, 5);
  lab_ctx ca = {.train = 1, .batch = b, .rng = &da}, cb = {.train = 1, .batch = b, .rng = &db, .sync = &sync};
  lab_graph_forward(ga, x, &ca);
  lab_graph_forward(gb, x, &cb);
  assert_int_equal(calls, 2 * 3); /* two sums per BN forward */
  int outs[2] = {lab_graph_output(ga, "logits"), lab_graph_output(ga, "aux_logits")};
  for (int o = 0; o < 2; o++)
    assert_close(lab_graph_act(gb, outs[o]), lab_graph_act(ga, outs[o]), (size_t)b * k, 1e-6, 1e-5, "sync forward");
  /* the dropout stream advanced alike */
  assert_true(lab_rng_u64(&da) == lab_rng_u64(&db));
  lab_graph_zero_grad(ga);
  lab_graph_zero_grad(gb);
  lab_graph_backward_begin(ga, b);
  lab_graph_backward_begin(gb, b);
  for (int o = 0; o < 2; o++) {
    float *ya = lab_graph_dact(ga, outs[o]), *yb = lab_graph_dact(gb, outs[o]);
    lab_test_fill(ya, (size_t)b * k, &dr, -1.0f, 1.0f);
    memcpy(yb, ya, sizeof(float) * (size_t)b * k);
  }
  lab_graph_backward(ga, &ca);
  lab_graph_backward(gb, &cb);
  assert_int_equal(calls, 2 * 3 + 3); /* and one per BN backward */
  float *gra = lab_graph_grad_slab(ga, &np), *grb = lab_graph_grad_slab(gb, &np);
  assert_close(grb, gra, np, 1e-6, 1e-5, "sync backward: parameter gradients");
  for (int id = 1; id < lab_graph_n_nodes(ga); id++) {
    size_t cnt = (size_t)b * lab_shape_numel(lab_graph_shape(ga, id));
    if (id != outs[0] && id != outs[1])
      assert_close(lab_graph_dact(gb, id), lab_graph_dact(ga, id), cnt, 1e-6, 1e-5, lab_graph_node(ga, id)->path);
  }
  float *ba = lab_graph_buffer_slab(ga, &nb), *bb = lab_graph_buffer_slab(gb, &nb);
  assert_close(bb, ba, nb, 1e-7, 1e-6, "sync forward: BN running statistics");
  free(x);
  lab_graph_free(ga);
  lab_graph_free(gb);
}

/* === K replicas x B/K against one process x B: training steps === */

enum { STEPS = 5, B = 8, K_CLASSES = 5 };

typedef struct stepper {
  lab_graph *g;
  lab_optim opt;
  lab_ema ema;
  lab_rng drop;
  float *prob, *prob_aux;
  double *work;
  lab_ctx_sync sync;
  lab_step step;
} stepper;

/* A graph of the test network planned for n samples, initialised from seed 1, RMSProp-TF, EMA
 * with BN buffers; dist NULL: one process. */
static void stepper_init(stepper *s, int n, const lab_dist *dist) {
  memset(s, 0, sizeof *s);
  s->g = net(2, 8, K_CLASSES);
  lab_error err = {0};
  assert_int_equal(lab_graph_plan(s->g, n, &err), LAB_STATUS_OK);
  lab_rng r;
  lab_rng_seed(&r, 1);
  lab_graph_init(s->g, &r);
  lab_rng_seed(&s->drop, 2);
  lab_optim_cfg oc = lab_optim_cfg_rmsprop_tf();
  oc.weight_decay = 1e-3f;
  assert_int_equal(lab_optim_init(&s->opt, &oc, lab_graph_params(s->g), &err), LAB_STATUS_OK);
  size_t nb;
  float *bufs = lab_graph_buffer_slab(s->g, &nb);
  assert_int_equal(lab_ema_init(&s->ema, lab_graph_params(s->g), bufs, nb, 0.9f, 0, &err), LAB_STATUS_OK);
  s->prob = lab_xmalloc(sizeof(float) * (size_t)n * K_CLASSES);
  s->prob_aux = lab_xmalloc(sizeof(float) * (size_t)n * K_CLASSES);
  s->work = lab_xmalloc(sizeof(double) * 64);
  if (dist)
    s->sync = (lab_ctx_sync){.sum = lab_dist_sum_hook, .user = (void *)dist, .work = s->work, .work_len = 64,
                             .sample_offset = dist->rank * n, .global_batch = n * dist->size};
  s->step = (lab_step){.g = s->g, .out_logits = lab_graph_output(s->g, "logits"),
                       .out_aux = lab_graph_output(s->g, "aux_logits"), .k = K_CLASSES, .label_smoothing = 0.1f,
                       .aux_weight = 0.4f, .clip_norm = 0.5, .opt = &s->opt, .ema = &s->ema, .rng = &s->drop,
                       .prob = s->prob, .prob_aux = s->prob_aux, .dist = dist, .sync = dist ? &s->sync : NULL};
}

static void stepper_free(stepper *s) {
  lab_ema_free(&s->ema);
  lab_optim_free(&s->opt);
  free(s->prob);
  free(s->prob_aux);
  free(s->work);
  lab_graph_free(s->g);
}

static void test_steps_match_one_process(void **state) {
  (void)state;
  const int ranks = g_dist.size;
  if (ranks < 2) skip();
  assert_int_equal(B % ranks, 0);
  const int n = B / ranks;
  size_t per = 2 * 8 * 8;
  float *x = lab_xmalloc(sizeof(float) * per * B * STEPS);
  int32_t *y = lab_xmalloc(sizeof(int32_t) * B * STEPS);
  lab_rng dr;
  lab_rng_seed(&dr, 9);
  lab_test_fill(x, per * B * STEPS, &dr, -1.0f, 1.0f);
  for (int i = 0; i < B * STEPS; i++) y[i] = (int32_t)lab_rng_below(&dr, K_CLASSES);

  /* the replicas first: every collective before any assertion */
  stepper d;
  stepper_init(&d, n, &g_dist);
  lab_step_result rd[STEPS];
  lab_status sd[STEPS];
  for (int s = 0; s < STEPS; s++) {
    size_t off = (size_t)s * B + (size_t)g_dist.rank * n;
    sd[s] = lab_train_step(&d.step, x + off * per, y + off, n, 0.05, s, &rd[s]);
  }
  /* the replicas hold rank 0's parameters bit for bit */
  size_t np;
  float *pd = lab_graph_param_slab(d.g, &np);
  float *p0 = lab_xmalloc(sizeof(float) * np);
  memcpy(p0, pd, sizeof(float) * np);
  lab_error err = {0};
  lab_status bst = lab_dist_broadcast(&g_dist, p0, sizeof(float) * np, 0, &err);

  /* one process on the whole batch */
  stepper o;
  stepper_init(&o, B, NULL);
  lab_step_result ro[STEPS];
  for (int s = 0; s < STEPS; s++)
    assert_int_equal(lab_train_step(&o.step, x + (size_t)s * B * per, y + (size_t)s * B, B, 0.05, s, &ro[s]),
                     LAB_STATUS_OK);

  assert_int_equal(bst, LAB_STATUS_OK);
  assert_memory_equal(pd, p0, sizeof(float) * np);
  int clipped = 0;
  for (int s = 0; s < STEPS; s++) {
    assert_int_equal(sd[s], LAB_STATUS_OK);
    char what[64];
    snprintf(what, sizeof what, "step %d loss", s);
    float l1 = (float)rd[s].loss, l2 = (float)ro[s].loss;
    assert_close(&l1, &l2, 1, 1e-6, 1e-5, what);
    snprintf(what, sizeof what, "step %d gradient norm", s);
    float n1 = (float)rd[s].grad_norm, n2 = (float)ro[s].grad_norm;
    assert_close(&n1, &n2, 1, 1e-6, 1e-4, what);
    assert_int_equal(rd[s].correct, ro[s].correct);
    clipped += ro[s].grad_norm > 0.5;
  }
  assert_true(clipped > 0); /* the clipping path ran */
  float *po = lab_graph_param_slab(o.g, &np);
  assert_close(pd, po, np, 1e-6, 1e-4, "parameters after the steps");
  size_t nb, ne;
  float *bd = lab_graph_buffer_slab(d.g, &nb), *bo = lab_graph_buffer_slab(o.g, &nb);
  assert_close(bd, bo, nb, 1e-6, 1e-4, "BN running statistics");
  float *ed = lab_ema_state(&d.ema, &ne), *eo = lab_ema_state(&o.ema, &ne);
  assert_close(ed, eo, ne, 1e-6, 1e-4, "EMA");
  /* the dropout streams moved alike */
  assert_true(lab_rng_u64(&d.drop) == lab_rng_u64(&o.drop));
  free(p0);
  free(x);
  free(y);
  stepper_free(&d);
  stepper_free(&o);
}

/* === whole runs === */


/* The pad-1 random crops and flips run through the loader shards; 41 test images and 13
 * validation ones split unevenly over the ranks. */
static const char *const RUN_YAML = "train:\n"
                                    "  epochs: 2\n"
                                    "  batch: 8\n"
                                    "  threads: 2\n"
                                    "  lr: 0.05\n"
                                    "  clip_norm: 1.0\n"
                                    "  ema_decay: 0.99\n"
                                    "  log_every: 1000\n"
                                    "data:\n"
                                    "  pad: 1\n"
                                    "  val_count: 13\n";

typedef struct run_out {
  lab_status st;
  lab_error err;
  lab_train_result res;
  float *params; /* copy of the final parameters */
  size_t n_params;
} run_out;

/* resume, stop_after: as lab_train_job's */
static void train_once(const char *yaml, const char *dir, const lab_dist *dist, const lab_dataset *tr,
                       const lab_dataset *te, int resume, int stop_after, run_out *out) {
  lab_cfg_node *row = NULL;
  lab_error err = {0};
  if (lab_cfg_parse_string(yaml, "row.yaml", &row, &err) != LAB_STATUS_OK) fail_msg("%s", err.msg);
  lab_graph *g = net(1, 8, 3);
  lab_train_job job = {.graph = g, .row = row, .experiment = "test", .variant = "dist", .seed = 4, .out_dir = dir,
                       .quiet = 1, .train_set = tr, .test_set = te, .dist = dist, .resume = resume,
                       .stop_after_epochs = stop_after};
  memset(out, 0, sizeof *out);
  out->st = lab_train_run(&job, &out->res, &out->err);
  if (lab_graph_batch(g) > 0) {
    float *p = lab_graph_param_slab(g, &out->n_params);
    out->params = lab_xmalloc(sizeof(float) * out->n_params);
    memcpy(out->params, p, sizeof(float) * out->n_params);
  }
  lab_graph_free(g);
  lab_cfg_free(row);
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

/* Column col (0-based) of data row `row` (1-based: after the header) of a metrics.tsv. */
static double tsv_value(const char *text, int row, int col) {
  const char *p = text;
  for (int r = 0; r < row; r++) {
    p = strchr(p, '\n');
    assert_non_null(p);
    p++;
  }
  for (int c = 0; c < col; c++) {
    p = strchr(p, '\t');
    assert_non_null(p);
    p++;
  }
  return strtod(p, NULL);
}

/* A temporary folder made by rank 0 and named to every rank ("" if mkdtemp failed there).
 * Collective. */
static lab_status shared_tmpdir(char *root, size_t n, const char *name, lab_error *err) {
  root[0] = '\0';
  if (g_dist.rank == 0 && lab_test_mkdtemp(root, n, name) != 0) root[0] = '\0';
  return lab_dist_broadcast(&g_dist, root, n, 0, err);
}

static void test_run_matches_one_process(void **state) {
  (void)state;
  if (g_dist.size < 2) skip();
  lab_dataset tr, te;
  lab_test_bars_dataset(&tr, 77, 1);
  lab_test_bars_dataset(&te, 41, 2);
  lab_error err = {0};
  /* one folder for the data-parallel run, named by rank 0 */
  char root[128];
  lab_status bst = shared_tmpdir(root, sizeof root, "lab-test-dist", &err);
  char dir[256];
  snprintf(dir, sizeof dir, "%s/dp", root);
  run_out d, c1, c2;
  train_once(RUN_YAML, dir, &g_dist, &tr, &te, 0, 0, &d);
  /* interrupted after epoch 1, then resumed: every rank reads rank 0's checkpoint */
  char dir_c[256];
  snprintf(dir_c, sizeof dir_c, "%s/dp-resumed", root);
  train_once(RUN_YAML, dir_c, &g_dist, &tr, &te, 0, 1, &c1);
  train_once(RUN_YAML, dir_c, &g_dist, &tr, &te, 1, 0, &c2);
  float *p0 = lab_xmalloc(sizeof(float) * (d.n_params ? d.n_params : 1));
  if (d.params) memcpy(p0, d.params, sizeof(float) * d.n_params);
  lab_status pst = lab_dist_broadcast(&g_dist, p0, sizeof(float) * d.n_params, 0, &err);
  /* the data-parallel run's files are complete before anyone reads them */
  lab_status wst = lab_dist_barrier(&g_dist, &err);

  /* one process, in this rank's own folder */
  char own[128];
  assert_int_equal(lab_test_mkdtemp(own, sizeof own, "lab-test-dist-ref"), 0);
  run_out o;
  train_once(RUN_YAML, own, NULL, &tr, &te, 0, 0, &o);

  assert_int_equal(bst, LAB_STATUS_OK);
  assert_int_equal(pst, LAB_STATUS_OK);
  assert_int_equal(wst, LAB_STATUS_OK);
  assert_true(root[0] == '/');
  if (d.st != LAB_STATUS_OK) fail_msg("data-parallel run: %s", d.err.msg);
  if (o.st != LAB_STATUS_OK) fail_msg("one-process run: %s", o.err.msg);
  assert_true(d.res.finished);
  assert_int_equal(d.res.epochs, 2);
  assert_int_equal(d.n_params, o.n_params);
  assert_memory_equal(d.params, p0, sizeof(float) * d.n_params); /* replicas identical */
  assert_int_equal(c1.st, LAB_STATUS_OK);
  assert_int_equal(c1.res.epochs, 1);
  assert_false(c1.res.finished);
  assert_int_equal(c2.st, LAB_STATUS_OK);
  assert_true(c2.res.finished);
  assert_int_equal(c2.n_params, d.n_params);
  assert_memory_equal(c2.params, d.params, sizeof(float) * d.n_params); /* resumed = uninterrupted */
  assert_true(c2.res.final_train_loss == d.res.final_train_loss);
  assert_close(d.params, o.params, d.n_params, 1e-6, 1e-4, "parameters after 2 epochs");
  float l1 = (float)d.res.final_train_loss, l2 = (float)o.res.final_train_loss;
  assert_close(&l1, &l2, 1, 1e-6, 1e-4, "final train loss");
  /* evaluation is per sample: the same counts (ties at 1e-4 aside, none here) */
  assert_true(d.res.test_top1_error == o.res.test_top1_error);
  assert_true(d.res.ema_test_top5_error == o.res.ema_test_top5_error);

  /* rank 0's metrics.tsv against the one process's: every non-timing column. Rank 0 reads
   * the shared folder alone (it removes it at the end, whatever the other ranks do). */
  char path[400];
  snprintf(path, sizeof path, "%s/metrics.tsv", g_dist.rank == 0 ? dir : own); /* others: a self-check */
  char *md = slurp(path);
  snprintf(path, sizeof path, "%s/metrics.tsv", own);
  char *mo = slurp(path);
  assert_non_null(md);
  assert_non_null(mo);
  for (int r = 1; r <= 2; r++)
    for (int c = 0; c < 15; c++) {
      if (c == 9 || c == 10) continue; /* seconds, images_per_second */
      float a = (float)tsv_value(md, r, c), b = (float)tsv_value(mo, r, c);
      char what[64];
      snprintf(what, sizeof what, "metrics.tsv row %d column %d", r, c);
      assert_close(&a, &b, 1, 1e-5, 1e-4, what);
    }
  if (g_dist.rank == 0) {
    snprintf(path, sizeof path, "%s/summary.json", dir);
    char *sum = slurp(path);
    assert_non_null(sum);
    char want[32];
    snprintf(want, sizeof want, "\"ranks\": %d", g_dist.size);
    assert_non_null(strstr(sum, want));
    assert_non_null(strstr(sum, "\"threads\": 1")); /* train.threads 2 over 2+ ranks */
    free(sum);
  }
  snprintf(path, sizeof path, "%s/summary.json", own);
  char *sum = slurp(path);
  assert_non_null(strstr(sum, "\"ranks\": 1"));
  free(sum);
  free(md);
  free(mo);
  free(p0);
  free(d.params);
  free(c1.params);
  free(c2.params);
  free(o.params);
  lab_dataset_free(&tr);
  lab_dataset_free(&te);
  lab_test_rmtree(own);
  /* only rank 0 wrote into root, and every rank is past its last look at it (the barrier) */
  if (g_dist.rank == 0) lab_test_rmtree(root);
}

static void test_batch_must_split(void **state) {
  (void)state;
  if (g_dist.size < 2) skip();
  lab_dataset tr, te;
  lab_test_bars_dataset(&tr, 40, 1);
  lab_test_bars_dataset(&te, 10, 2);
  lab_error err = {0};
  char root[128];
  lab_status bst = shared_tmpdir(root, sizeof root, "lab-test-dist-bad", &err);
  char yaml[256];
  snprintf(yaml, sizeof yaml, "train:\n  epochs: 1\n  batch: %d\n", 2 * g_dist.size + 1);
  run_out d;
  train_once(yaml, root, &g_dist, &tr, &te, 0, 0, &d);
  lab_status wst = lab_dist_barrier(&g_dist, &err);
  assert_int_equal(bst, LAB_STATUS_OK);
  assert_int_equal(wst, LAB_STATUS_OK);
  assert_int_equal(d.st, LAB_ERR_CONFIG);
  assert_non_null(strstr(d.err.msg, "does not split over"));
  free(d.params);
  lab_dataset_free(&tr);
  lab_dataset_free(&te);
  if (g_dist.rank == 0) lab_test_rmtree(root);
}

/* LeakSanitizer (sanitizer builds): Open MPI keeps what MPI_Init allocates (and its
 * components' and progress threads' allocations) past MPI_Finalize. Only stacks through MPI are
 * excused; the test's ctest entry turns on full stack unwinding so that they show. Unused in
 * other builds. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
  return "leak:lab_dist_init\nleak:lab_dist_finalize\nleak:libmpi.so\nleak:libopen-pal.so\n"
         "leak:libopen-rte.so\nleak:libevent\n";
}

/* Logits overflow at the first step: every rank stops there with LAB_ERR_NUMERIC (the
 * decision is taken on the summed loss, so no rank goes on into the next collective), and
 * rank 0 leaves a "nan" summary. */
static void test_nan_stops_every_rank(void **state) {
  (void)state;
  if (g_dist.size < 2) skip();
  lab_dataset tr, te;
  lab_test_bars_dataset(&tr, 40, 1);
  lab_test_bars_dataset(&te, 10, 2);
  lab_error err = {0};
  char root[128];
  lab_status bst = shared_tmpdir(root, sizeof root, "lab-test-dist-nan", &err);
  lab_cfg_node *row = NULL;
  if (lab_cfg_parse_string("train:\n  epochs: 1\n  batch: 8\n", "row.yaml", &row, &err) != LAB_STATUS_OK)
    fail_msg("%s", err.msg);
  lab_graph *g = lab_graph_new((lab_shape){1, 8, 8});
  int h = lab_test_add(g, "conv1", conv(4, 0), 0);
  h = lab_test_add(g, "bn1", bn(), h);
  h = lab_test_add(g, "gap", gap(), h);
  lab_layer_cfg big = linear(8);
  big.linear.init_std = 1e30f;
  h = lab_test_add(g, "fc1", big, h);
  big.linear.out = 3;
  h = lab_test_add(g, "fc2", big, h);
  lab_graph_mark_output(g, "logits", h);
  lab_train_job job = {.graph = g, .row = row, .experiment = "test", .variant = "nan", .seed = 1, .out_dir = root,
                       .quiet = 1, .train_set = &tr, .test_set = &te, .dist = &g_dist};
  lab_train_result res;
  lab_status st = lab_train_run(&job, &res, &err);
  lab_status wst = lab_dist_barrier(&g_dist, &err);
  assert_int_equal(bst, LAB_STATUS_OK);
  assert_int_equal(wst, LAB_STATUS_OK);
  assert_int_equal(st, LAB_ERR_NUMERIC);
  assert_int_equal(res.nan_step, 0);
  if (g_dist.rank == 0) {
    char path[300];
    snprintf(path, sizeof path, "%s/summary.json", root);
    char *sum = slurp(path);
    assert_non_null(sum);
    assert_non_null(strstr(sum, "\"status\": \"nan\""));
    free(sum);
    lab_test_rmtree(root);
  }
  lab_graph_free(g);
  lab_cfg_free(row);
  lab_dataset_free(&tr);
  lab_dataset_free(&te);
}

int main(int argc, char **argv) {
  lab_error err = {0};
  if (lab_dist_init(&g_dist, &argc, &argv, &err) != LAB_STATUS_OK) {
    fprintf(stderr, "test_dist: %s\n", err.msg);
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sync_single_replica),
      cmocka_unit_test(test_steps_match_one_process),
      cmocka_unit_test(test_run_matches_one_process),
      cmocka_unit_test(test_batch_must_split),
      cmocka_unit_test(test_nan_stops_every_rank),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  lab_dist_finalize(&g_dist);
  return rc;
}
