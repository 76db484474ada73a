/* cli_bench_train.c: `lab bench train` — the speed of whole training steps of an experiment
 * row's network, on random data, for a side-by-side comparison with a PyTorch training loop.
 *
 *   lab bench train FILE [--variant NAME] [--threads T] [--batch N] [--steps S] [--warmup W]
 *                        [--optimizer sgd|recipe] [key=value ...]
 *
 * The row (FILE's last without --variant) and its network are loaded exactly as `lab train`
 * loads them (lab_cli_row_load, same key=value overrides). The step timed is the trainer's own,
 * lab_train_step: zero grads, forward (train mode), label-smoothed cross-entropy (+ aux), backward,
 * clipping, optimizer, EMA. Its optimizer:
 *   recipe (default): the row's train: section as lab_train_run sets it up (optimizer and its
 *     hyper-parameters, clip_norm, EMA, label smoothing, aux weight), at the constant rate
 *     train.lr (the schedule changes a number, not the work);
 *   sgd: plain SGD, momentum 0.9, no weight decay, no clipping, no EMA, no label smoothing
 *     (aux weight as configured): the work of PyTorch's
 *     `opt.zero_grad(); loss = CE(m(x), y); loss.backward(); opt.step()` with SGD(lr, 0.9).
 *     lab_train_step still measures the gradient norm (one pass over the gradients).
 * The input is one batch of N(0, 1) pixels with uniform random labels, drawn once (data loading
 * is not timed; PyTorch comparisons use a fixed tensor too). Weights are initialised as
 * lab_train_run does for the experiment's first seed.
 *
 * After each step, one eval-mode forward (ctx.train = 0: BN running statistics, no dropout) of
 * the same batch is timed: the step minus it roughly bounds backward + update. The two
 * alternate so that load from other processes hits both alike. W warm-up rounds, then S timed;
 * median and minimum reported. FLOPs: forward 2 x MACs per image (the aux head included: the
 * graph computes it in both modes), a training step 3 x that (backward ~ 2 x forward).
 */
#include <inttypes.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/cli.h"
#include "lab/ema.h"
#include "lab/gemm.h"
#include "lab/optim.h"
#include "lab/rng.h"
#include "lab/train.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: lab bench train FILE [--variant NAME] [--threads T] [--batch N] [--steps S] [--warmup W]\n"
          "                            [--optimizer sgd|recipe] [key=value ...]\n"
          "Times whole training steps (lab_train_step) of an experiment row's network on one batch of\n"
          "random data, and an eval-mode forward of the same batch after each step.\n"
          "  FILE            an experiment file; without --variant its last row (as lab train)\n"
          "  --threads T     OpenMP and BLIS threads (default: the row's train.threads)\n"
          "  --batch N       batch size, >= 2 (default: the row's train.batch)\n"
          "  --steps S       timed steps, median and minimum reported (default 10)\n"
          "  --warmup W      untimed steps first (default 2)\n"
          "  --profile       time every node of the timed steps: ms per step by layer type and the\n"
          "                  slowest nodes (the rest of the step: loss, clipping, optimizer, EMA)\n"
          "  --optimizer O   recipe: the row's train: section (optimizer, clipping, EMA, label smoothing,\n"
          "                  aux weight; default); sgd: plain SGD momentum 0.9, no weight decay,\n"
          "                  clipping, EMA or smoothing (PyTorch's plain loop)\n"
          "  key=value       overrides as in lab train (network.width=1.0 train.batch=8 ...)\n");
}

/* n with thousands separators: 1403322 -> "1,403,322" (buf: 27 bytes hold any uint64_t). */
static const char *group_digits(uint64_t n, char *buf, size_t size) {
  char digits[24];
  int nd = snprintf(digits, sizeof digits, "%" PRIu64, n);
  size_t j = 0;
  for (int i = 0; i < nd && j + 2 < size; i++) {
    if (i > 0 && (nd - i) % 3 == 0) buf[j++] = ',';
    buf[j++] = digits[i];
  }
  buf[j] = '\0';
  return buf;
}

typedef struct bench_train_opts {
  const char *file, *variant;
  int threads, batch, steps, warmup, recipe; /* threads, batch 0: the row's */
  int profile;                               /* 1: time every node (per layer type, top nodes) */
} bench_train_opts;

/* --profile: the timed steps' node times (seconds summed over `steps`) by layer type, then the
 * 12 slowest nodes, and what the step spent outside the layers. */
static int cmp_desc(const void *a, const void *b) {
  const double *x = a, *y = b;
  return (x[0] < y[0]) - (x[0] > y[0]);
}

static void print_profile(const lab_graph *g, const double *fwd, const double *bwd, int steps, const double *t_step) {
  enum { MAX_TYPES = 32, TOP = 12 };
  const char *types[MAX_TYPES];
  double tf[MAX_TYPES] = {0}, tb[MAX_TYPES] = {0}, total = 0.0, layers = 0.0;
  int n_types = 0;
  const int n = lab_graph_n_nodes(g);
  for (int s = 0; s < steps; s++) total += t_step[s];
  double *order = lab_xmalloc(2 * (size_t)n * sizeof(double)); /* (seconds, node) pairs */
  for (int i = 1; i < n; i++) {
    const char *type = lab_graph_node(g, i)->layer.ops->type;
    int k = 0;
    while (k < n_types && strcmp(types[k], type)) k++;
    if (k == n_types && n_types < MAX_TYPES) types[n_types++] = type;
    if (k < n_types) tf[k] += fwd[i], tb[k] += bwd[i];
    layers += fwd[i] + bwd[i];
    order[2 * (i - 1)] = fwd[i] + bwd[i];
    order[2 * (i - 1) + 1] = i;
  }
  const double per = 1e3 / steps, pct = 100.0 / total;
  printf("profile: ms per training step (forward + backward) by layer type, %% of the step\n");
  for (int k = 0; k < n_types; k++)
    printf("  %-16s %8.2f + %8.2f = %8.2f ms  %5.1f%%\n", types[k], tf[k] * per, tb[k] * per, (tf[k] + tb[k]) * per,
           (tf[k] + tb[k]) * pct);
  printf("  %-16s %30.2f ms  %5.1f%%  (loss, gradient zeroing, clipping, optimizer, EMA)\n", "outside layers",
         (total - layers) * per, (total - layers) * pct);
  qsort(order, (size_t)(n - 1), 2 * sizeof(double), cmp_desc);
  printf("profile: the %d slowest nodes\n", TOP);
  for (int j = 0; j < TOP && j < n - 1; j++) {
    const lab_node *nd = lab_graph_node(g, (int)order[2 * j + 1]);
    char a[48], b[48];
    printf("  %8.2f ms %5.1f%%  %-12s %-14s -> %-14s %s\n", order[2 * j] * per, order[2 * j] * pct, nd->layer.ops->type,
           lab_shape_str(nd->layer.in[0], a, sizeof a), lab_shape_str(nd->out, b, sizeof b), nd->path);
  }
  free(order);
}

/* The timed loop, once the row is loaded. Returns the exit code (errors printed). */
static int bench_train_run(const bench_train_opts *o, lab_cli_row *r) {
  const lab_train_cfg *tc = &r->tc;
  lab_graph *g = r->net.g;
  const int batch = o->batch > 0 ? o->batch : (int)tc->batch;
  const int threads = o->threads > 0 ? o->threads : (int)tc->threads;
  omp_set_num_threads(threads);
  lab_gemm_set_threads(threads);

  lab_error err = {0};
  const int out_logits = lab_graph_output(g, "logits"), out_aux = lab_graph_output(g, "aux_logits");
  if (out_logits < 0) {
    fprintf(stderr, "lab bench train: the network marks no \"logits\" output\n");
    return 1;
  }
  const int k = (int)lab_shape_numel(lab_graph_shape(g, out_logits));
  if (out_aux >= 0 && (int)lab_shape_numel(lab_graph_shape(g, out_aux)) != k) {
    fprintf(stderr, "lab bench train: aux_logits has %zu values per sample, logits %d\n",
            lab_shape_numel(lab_graph_shape(g, out_aux)), k);
    return 1;
  }
  if (lab_graph_plan(g, batch, &err) != LAB_STATUS_OK) {
    fprintf(stderr, "lab bench train: %s\n", err.msg);
    return 1;
  }

  /* the streams of lab_train_run for the experiment's first seed, plus one for the data */
  lab_rng root;
  lab_rng_seed(&root, (uint64_t)r->exp->seeds[0]);
  lab_rng init_rng = lab_rng_split(&root, 1), dropout_rng = lab_rng_split(&root, 2);
  lab_rng data_rng = lab_rng_split(&root, 3);
  lab_graph_init(g, &init_rng);

  lab_optim_cfg oc;
  if (o->recipe) {
    oc = lab_train_optim_cfg(tc);
  } else { /* torch.optim.SGD(params, lr, momentum=0.9) */
    oc = lab_optim_cfg_sgd();
    oc.momentum = 0.9f;
    oc.nesterov = 0;
    oc.weight_decay = 0.0f;
  }
  lab_optim opt;
  lab_ema ema;
  int have_ema = 0, rc = 1;
  if (lab_optim_init(&opt, &oc, lab_graph_params(g), &err) != LAB_STATUS_OK) {
    fprintf(stderr, "lab bench train: %s\n", err.msg);
    return 1;
  }
  if (o->recipe && tc->ema) {
    size_t nb = 0;
    float *bufs = tc->ema_buffers ? lab_graph_buffer_slab(g, &nb) : NULL;
    if (lab_ema_init(&ema, lab_graph_params(g), nb ? bufs : NULL, nb, (float)tc->ema_decay, tc->ema_warmup, &err) !=
        LAB_STATUS_OK) {
      fprintf(stderr, "lab bench train: %s\n", err.msg);
      lab_optim_free(&opt);
      return 1;
    }
    have_ema = 1;
  }

  const lab_shape in = lab_graph_shape(g, 0);
  const size_t nx = (size_t)batch * lab_shape_numel(in);
  float *x = lab_xmalloc(nx * sizeof(float));
  int32_t *y = lab_xmalloc((size_t)batch * sizeof(int32_t));
  for (size_t i = 0; i < nx; i++) x[i] = lab_rng_normal(&data_rng);
  for (int i = 0; i < batch; i++) y[i] = (int32_t)lab_rng_below(&data_rng, (uint32_t)k);
  float *prob = lab_xmalloc(sizeof(float) * (size_t)batch * (size_t)k);
  float *prob_aux = lab_xmalloc(sizeof(float) * (size_t)batch * (size_t)k);
  const double clip = o->recipe ? tc->clip_norm : 0.0;
  const float smoothing = o->recipe ? (float)tc->label_smoothing : 0.0f;
  lab_step step = {.g = g, .out_logits = out_logits, .out_aux = out_aux, .k = k,
                   .label_smoothing = smoothing, .aux_weight = (float)tc->aux_weight,
                   .clip_norm = clip, .opt = &opt, .ema = have_ema ? &ema : NULL,
                   .rng = &dropout_rng, .prob = prob, .prob_aux = prob_aux};
  lab_ctx ectx = {.train = 0, .batch = batch, .rng = &dropout_rng};

  const int n_nodes = lab_graph_n_nodes(g);
  double *prof = o->profile ? lab_xcalloc(2 * (size_t)n_nodes, sizeof(double)) : NULL;
  double *t_step = lab_xmalloc((size_t)o->steps * sizeof(double));
  double *t_fwd = lab_xmalloc((size_t)o->steps * sizeof(double));
  double loss = NAN;
  for (int s = -o->warmup; s < o->steps; s++) {
    const int64_t gstep = s + o->warmup;
    lab_step_result sr;
    if (prof && s >= 0) lab_graph_profile(g, prof, prof + n_nodes);
    double t0 = lab_cli_seconds();
    lab_status st = lab_train_step(&step, x, y, batch, tc->lr, gstep, &sr);
    double t1 = lab_cli_seconds();
    lab_graph_profile(g, NULL, NULL);
    if (st != LAB_STATUS_OK) {
      fprintf(stderr, "lab bench train: non-finite loss at step %" PRId64 ": first non-finite values in %s\n",
              gstep, sr.bad);
      goto done;
    }
    loss = sr.loss;
    lab_graph_forward(g, x, &ectx);
    double t2 = lab_cli_seconds();
    if (s < 0) continue;
    t_step[s] = t1 - t0;
    t_fwd[s] = t2 - t1;
  }

  const lab_cost cost = lab_graph_cost(g, NULL);
  const blk_totals tot = blk_network_totals(&r->net);
  const double macs = (double)cost.macs;
  const double flop_fwd = 2.0 * macs * batch, flop_step = 3.0 * flop_fwd;
  const double step_med = lab_cli_median(t_step, o->steps), step_min = t_step[0];
  const double fwd_med = lab_cli_median(t_fwd, o->steps), fwd_min = t_fwd[0];
  char optname[128], aux[64], pbuf[32];
  if (o->recipe)
    snprintf(optname, sizeof optname, "%s%s%s (recipe: label smoothing %g, lr %g)",
             tc->optimizer == 0 ? "sgd" : "rmsprop", clip > 0 ? "+clip" : "", have_ema ? "+ema" : "",
             (double)smoothing, tc->lr);
  else
    snprintf(optname, sizeof optname, "sgd (plain: momentum 0.9, lr %g)", tc->lr);
  if (out_aux < 0) snprintf(aux, sizeof aux, "no aux head");
  else if (tc->aux_weight > 0) snprintf(aux, sizeof aux, "aux head weight %g", tc->aux_weight);
  else snprintf(aux, sizeof aux, "aux head computed (forward and backward), loss weight 0");
  printf("bench train: %s (%s), input %dx%dx%d, %d classes, batch %d, %d threads, optimizer %s, %s\n",
         r->exp->rows[r->row].name, o->file, in.c, in.h, in.w, k, batch, threads, optname, aux);
  printf("params %s  MACs/image %.1f M (incl. aux head %.2f M)  training FLOP/step (3 x 2 x MACs x batch) %.2f G\n",
         group_digits(cost.n_params, pbuf, sizeof pbuf), macs * 1e-6, (double)tot.macs_aux * 1e-6,
         flop_step * 1e-9);
  printf("step median %.1f ms (min %.1f), %.1f images/s, %.1f GFLOP/s; forward (eval) median %.1f ms (min %.1f), "
         "%.1f images/s, %.1f GFLOP/s; %d timed steps after %d warm-up (last loss %.4f)\n",
         step_med * 1e3, step_min * 1e3, batch / step_med, flop_step / step_med * 1e-9, fwd_med * 1e3,
         fwd_min * 1e3, batch / fwd_med, flop_fwd / fwd_med * 1e-9, o->steps, o->warmup, loss);
  if (prof) print_profile(g, prof, prof + n_nodes, o->steps, t_step);
  rc = 0;
done:
  free(prof);
  free(t_step);
  free(t_fwd);
  free(x);
  free(y);
  free(prob);
  free(prob_aux);
  if (have_ema) lab_ema_free(&ema);
  lab_optim_free(&opt);
  return rc;
}

int lab_cmd_bench_train(int argc, char **argv) {
  bench_train_opts o = {.steps = 10, .warmup = 2, .recipe = 1};
  const char **kv = lab_xcalloc((size_t)argc + 1, sizeof(char *)); /* the KEY=VALUE overrides, in order */
  int n_kv = 0, rc = 2;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
    int ok = 1;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      rc = 0;
      goto out;
    } else if (!strcmp(a, "--threads")) {
      ok = lab_cli_parse_int("bench train", a, val, 1, 1024, &o.threads), i++;
    } else if (!strcmp(a, "--batch")) {
      ok = lab_cli_parse_int("bench train", a, val, 2, 65536, &o.batch), i++;
    } else if (!strcmp(a, "--steps")) {
      ok = lab_cli_parse_int("bench train", a, val, 1, 1000000, &o.steps), i++;
    } else if (!strcmp(a, "--warmup")) {
      ok = lab_cli_parse_int("bench train", a, val, 0, 1000000, &o.warmup), i++;
    } else if (!strcmp(a, "--profile")) {
      o.profile = 1;
    } else if (!strcmp(a, "--variant") && val) {
      o.variant = argv[++i];
    } else if (!strcmp(a, "--optimizer") && val) {
      if (!strcmp(val, "sgd") || !strcmp(val, "recipe")) o.recipe = !strcmp(val, "recipe");
      else {
        fprintf(stderr, "lab bench train: --optimizer: expected sgd or recipe, found '%s'\n", val);
        goto out;
      }
      i++;
    } else if (a[0] == '-') {
      fprintf(stderr, "lab bench train: unknown option '%s'%s\n", a, val ? "" : " (or missing value)");
      usage(stderr);
      goto out;
    } else if (strchr(a, '=')) {
      kv[n_kv++] = a;
    } else if (!o.file) {
      o.file = a;
    } else {
      fprintf(stderr, "lab bench train: one FILE only ('%s' and '%s')\n", o.file, a);
      goto out;
    }
    if (!ok) goto out;
  }
  if (!o.file) {
    usage(stderr);
    goto out;
  }
  lab_cli_row r;
  if ((rc = lab_cli_row_load("bench train", o.file, o.variant, kv, n_kv, &r)) != 0) goto out;
  rc = bench_train_run(&o, &r);
  lab_cli_row_free(&r);
out:
  free(kv);
  return rc;
}
