/* cli_bench.c: `lab bench conv|gemm|train`. conv and gemm (here): how close the convolution
 * layer runs to the BLIS sgemm ceiling on Inception-v3's own layer shapes (facts card 2.2/2.3,
 * 299x299 input). train (cli_bench_train.c): whole training steps of an experiment row's
 * network on random data, for a side-by-side comparison with a PyTorch training loop.
 *
 * For each shape the same run times the conv2d layer's forward and backward (dx and dW) and BLIS
 * sgemm on the whole-batch GEMM the convolution amounts to: forward C (OC, N*OH*OW) =
 * W (OC, K) * col (K, N*OH*OW), K = IC*KH*KW; backward dW = dy col^T plus dcol = W^T dy. The
 * ratio conv / sgemm is what the lowering (im2col, col2im, grouping, scatter) costs. Times are
 * medians over --reps after one warm-up; FLOPs = 2 x MACs (backward: 2 x forward).
 */
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab/cli.h"
#include "lab/gemm.h"
#include "lab/layers.h"

typedef struct bench_opts {
  int threads, batch, reps;
} bench_opts;

typedef struct bench_conv_shape {
  const char *name;
  lab_shape in;
  int oc, kh, kw, sh, sw, pt, pb, pl, pr;
} bench_conv_shape;

/* Inception-v3 (torchvision names) at 299x299: the stem's big maps, every kernel form and
 * every grid size of the modules. */
static const bench_conv_shape bench_shapes[] = {
    {"Conv2d_2a_3x3", {32, 149, 149}, 32, 3, 3, 1, 1, 0, 0, 0, 0},
    {"Conv2d_3b_1x1", {64, 73, 73}, 80, 1, 1, 1, 1, 0, 0, 0, 0},
    {"Conv2d_4a_3x3", {80, 73, 73}, 192, 3, 3, 1, 1, 0, 0, 0, 0},
    {"Mixed_5b.1x1", {192, 35, 35}, 64, 1, 1, 1, 1, 0, 0, 0, 0},
    {"Mixed_5b.5x5", {48, 35, 35}, 64, 5, 5, 1, 1, 2, 2, 2, 2},
    {"Mixed_5b.3x3dbl_2", {64, 35, 35}, 96, 3, 3, 1, 1, 1, 1, 1, 1},
    {"Mixed_6b.1x1", {768, 17, 17}, 192, 1, 1, 1, 1, 0, 0, 0, 0},
    {"Mixed_6c.7x7_2(1x7)", {160, 17, 17}, 160, 1, 7, 1, 1, 0, 0, 3, 3},
    {"Mixed_6c.7x7_3(7x1)", {160, 17, 17}, 192, 7, 1, 1, 1, 3, 3, 0, 0},
    {"Mixed_7a.3x3_2(/2)", {192, 17, 17}, 320, 3, 3, 2, 2, 0, 0, 0, 0},
    {"Mixed_7b.1x1", {1280, 8, 8}, 320, 1, 1, 1, 1, 0, 0, 0, 0},
    {"Mixed_7b.3x3dbl_2", {448, 8, 8}, 384, 3, 3, 1, 1, 1, 1, 1, 1},
    {"Mixed_7b.3x3_2a(1x3)", {384, 8, 8}, 384, 1, 3, 1, 1, 0, 0, 1, 1},
};

static float *bench_alloc(size_t n, lab_rng *rng) {
  float *p = lab_xmalloc((n ? n : 1) * sizeof(float));
  for (size_t i = 0; i < n; i++) p[i] = 2.0f * lab_rng_uniform(rng) - 1.0f;
  return p;
}

/* Median seconds of one sgemm call (after a warm-up). */
static double time_sgemm(int ta, int tb, int m, int n, int k, const float *a, const float *b, float *c,
                         float beta, int reps) {
  double *t = lab_xmalloc((size_t)reps * sizeof(double));
  const int lda = ta ? m : k, ldb = tb ? k : n;
  lab_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, n);
  for (int r = 0; r < reps; r++) {
    double t0 = lab_cli_seconds();
    lab_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, n);
    t[r] = lab_cli_seconds() - t0;
  }
  double med = lab_cli_median(t, reps);
  free(t);
  return med;
}

/* === lab bench conv === */

typedef struct conv_result {
  double flops_fwd;               /* per call, whole batch */
  double fwd_s, bwd_s;            /* conv2d layer, median seconds */
  double gemm_fwd_s, gemm_bwd_s;  /* BLIS on the whole-batch GEMMs, median seconds */
  double ratio_fwd, ratio_bwd;    /* median over reps of sgemm time / conv time in that rep */
} conv_result;

/* The layer and the GEMMs are timed in alternation within each rep, so that load from other
 * processes on a shared machine hits both sides of a ratio alike. */
static lab_status bench_one_conv(const bench_conv_shape *bs, const bench_opts *o, conv_result *res,
                                 lab_error *err) {
  lab_layer_cfg cfg = {.ops = &lab_conv2d_ops};
  cfg.conv = (lab_conv2d_cfg){.oc = bs->oc, .kh = bs->kh, .kw = bs->kw, .sh = bs->sh, .sw = bs->sw,
                              .pt = bs->pt, .pb = bs->pb, .pl = bs->pl, .pr = bs->pr};
  lab_layer l;
  memset(&l, 0, sizeof l);
  lab_status st = lab_conv2d_ops.shape(&cfg, &bs->in, 1, &l.out, err);
  if (st != LAB_STATUS_OK) return lab_error_prefix(err, "%s", bs->name);
  l.ops = &lab_conv2d_ops;
  l.cfg = cfg;
  l.name = bs->name;
  l.n_in = 1;
  l.in[0] = bs->in;
  l.batch = o->batch;
  lab_cost cost;
  lab_conv2d_ops.cost(&l, o->batch, &cost);
  lab_rng rng;
  lab_rng_seed(&rng, 2016);
  l.param = bench_alloc(cost.n_params, &rng);
  l.grad = bench_alloc(cost.n_params, &rng);
  float *scratch = bench_alloc(cost.scratch_floats, &rng);
  const size_t nx = (size_t)o->batch * lab_shape_numel(bs->in), ny = (size_t)o->batch * lab_shape_numel(l.out);
  float *x = bench_alloc(nx, &rng), *dx = bench_alloc(nx, &rng);
  float *y = bench_alloc(ny, &rng), *dy = bench_alloc(ny, &rng);
  lab_conv2d_ops.init(&l, &rng);
  lab_ctx ctx = {.train = 1, .batch = o->batch, .rng = &rng, .scratch = scratch,
                 .scratch_floats = (size_t)cost.scratch_floats};
  const float *xs[1] = {x};
  float *dxs[1] = {dx};

  /* The whole-batch GEMMs: forward (OC, NP) = (OC, K)(K, NP); dW (OC, K) += (OC, NP)(NP, K)^T;
   * dcol (K, NP) = (OC, K)^T (OC, NP). */
  const int m = bs->oc, k = bs->in.c * bs->kh * bs->kw, np = o->batch * l.out.h * l.out.w;
  float *a = bench_alloc((size_t)m * k, &rng), *col = bench_alloc((size_t)k * np, &rng);
  float *c = bench_alloc((size_t)m * np, &rng);

  const int reps = o->reps;
  double *t = lab_xmalloc(6 * (size_t)reps * sizeof(double));
  double *tf = t, *tb = t + reps, *gf = t + 2 * reps, *gb = t + 3 * reps, *rf = t + 4 * reps, *rb = t + 5 * reps;
  for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
    double t0 = lab_cli_seconds();
    lab_conv2d_ops.forward(&l, xs, y, &ctx);
    double t1 = lab_cli_seconds();
    lab_sgemm(0, 0, m, np, k, 1.0f, a, k, col, np, 0.0f, c, np);
    double t2 = lab_cli_seconds();
    lab_conv2d_ops.backward(&l, xs, y, dy, dxs, &ctx);
    double t3 = lab_cli_seconds();
    lab_sgemm(0, 1, m, k, np, 1.0f, c, np, col, np, 1.0f, a, k);
    lab_sgemm(1, 0, k, np, m, 1.0f, a, k, c, np, 0.0f, col, np);
    double t4 = lab_cli_seconds();
    if (r < 0) continue;
    tf[r] = t1 - t0;
    gf[r] = t2 - t1;
    tb[r] = t3 - t2;
    gb[r] = t4 - t3;
    rf[r] = gf[r] / tf[r];
    rb[r] = gb[r] / tb[r];
  }
  res->flops_fwd = 2.0 * (double)cost.macs * o->batch;
  res->fwd_s = lab_cli_median(tf, reps);
  res->bwd_s = lab_cli_median(tb, reps);
  res->gemm_fwd_s = lab_cli_median(gf, reps);
  res->gemm_bwd_s = lab_cli_median(gb, reps);
  res->ratio_fwd = lab_cli_median(rf, reps);
  res->ratio_bwd = lab_cli_median(rb, reps);
  free(t);
  free(a);
  free(col);
  free(c);
  free(x);
  free(dx);
  free(y);
  free(dy);
  free(scratch);
  free(l.param);
  free(l.grad);
  return LAB_STATUS_OK;
}

static int bench_conv(const bench_opts *o) {
  printf("lab bench conv: batch %d, threads %d (BLIS %d, OpenMP %d), median of %d reps\n", o->batch,
         o->threads, lab_gemm_threads(), omp_get_max_threads(), o->reps);
  printf("sgemm = BLIS on the whole-batch GEMM of the same FLOPs (fwd: NN; bwd: dW NT + dX TN), timed\n"
         "in alternation with the layer; ratio = median over reps of sgemm time / conv time\n");
  printf("%-21s %-11s %-11s %5s %7s %7s | %6s %6s %5s | %6s %6s %5s\n", "layer", "in", "out", "K",
         "cols", "GFLOP", "fwd", "sgemm", "ratio", "bwd", "sgemm", "ratio");
  printf("%-21s %-11s %-11s %5s %7s %7s | %6s %6s %5s | %6s %6s %5s\n", "", "", "", "", "", "(fwd)",
         "GF/s", "GF/s", "", "GF/s", "GF/s", "");
  double sum_flops = 0, sum_f = 0, sum_b = 0, sum_gf = 0, sum_gb = 0;
  for (size_t i = 0; i < sizeof bench_shapes / sizeof bench_shapes[0]; i++) {
    const bench_conv_shape *bs = &bench_shapes[i];
    conv_result r = {0, 0, 0, 0, 0, 0, 0};
    lab_error err;
    if (bench_one_conv(bs, o, &r, &err) != LAB_STATUS_OK) {
      fprintf(stderr, "lab bench: %s\n", err.msg);
      return 1;
    }
    lab_shape out = {bs->oc, (bs->in.h + bs->pt + bs->pb - bs->kh) / bs->sh + 1,
                     (bs->in.w + bs->pl + bs->pr - bs->kw) / bs->sw + 1};
    char sin[32], sout[32];
    lab_shape_str(bs->in, sin, sizeof sin);
    lab_shape_str(out, sout, sizeof sout);
    const double f = r.flops_fwd, gf = f / r.fwd_s * 1e-9, gb = 2 * f / r.bwd_s * 1e-9;
    const double sf = f / r.gemm_fwd_s * 1e-9, sb = 2 * f / r.gemm_bwd_s * 1e-9;
    printf("%-21s %-11s %-11s %5d %7d %7.2f | %6.1f %6.1f %5.2f | %6.1f %6.1f %5.2f\n", bs->name, sin, sout,
           bs->in.c * bs->kh * bs->kw, o->batch * out.h * out.w, f * 1e-9, gf, sf, r.ratio_fwd, gb, sb, r.ratio_bwd);
    fflush(stdout);
    sum_flops += f;
    sum_f += r.fwd_s;
    sum_b += r.bwd_s;
    sum_gf += r.gemm_fwd_s;
    sum_gb += r.gemm_bwd_s;
  }
  const double gf = sum_flops / sum_f * 1e-9, gb = 2 * sum_flops / sum_b * 1e-9;
  const double sf = sum_flops / sum_gf * 1e-9, sb = 2 * sum_flops / sum_gb * 1e-9;
  printf("%-21s %-11s %-11s %5s %7s %7.2f | %6.1f %6.1f %5.2f | %6.1f %6.1f %5.2f\n", "all (sum of medians)", "",
         "", "", "", sum_flops * 1e-9, gf, sf, gf / sf, gb, sb, gb / sb);
  return 0;
}

/* === lab bench gemm === */

typedef struct gemm_shape {
  const char *name;
  int ta, tb, m, n, k;
} gemm_shape;

static int bench_gemm(const bench_opts *o) {
  printf("lab bench gemm: BLIS sgemm, threads %d (BLIS %d), median of %d reps\n", o->threads,
         lab_gemm_threads(), o->reps);
  printf("%-28s %2s %2s %6s %7s %6s %8s\n", "shape", "tA", "tB", "M", "N", "K", "GFLOP/s");
  const int b = o->batch;
  const gemm_shape shapes[] = {
      {"square 256", 0, 0, 256, 256, 256},
      {"square 512", 0, 0, 512, 512, 512},
      {"square 1024", 0, 0, 1024, 1024, 1024},
      {"square 2048", 0, 0, 2048, 2048, 2048},
      {"square 1024 (A^T)", 1, 0, 1024, 1024, 1024},
      {"square 1024 (B^T)", 0, 1, 1024, 1024, 1024},
      {"Conv2d_4a fwd", 0, 0, 192, b * 71 * 71, 720},
      {"Conv2d_4a dW", 0, 1, 192, 720, b * 71 * 71},
      {"Conv2d_4a dX", 1, 0, 720, b * 71 * 71, 192},
      {"Mixed_5b.5x5 fwd", 0, 0, 64, b * 35 * 35, 1200},
      {"Mixed_6c.1x7 fwd", 0, 0, 160, b * 17 * 17, 1120},
      {"Mixed_6c.1x7 dW", 0, 1, 160, 1120, b * 17 * 17},
      {"Mixed_6c.1x7 dX", 1, 0, 1120, b * 17 * 17, 160},
      {"Mixed_6b.1x1 fwd (1 sample)", 0, 0, 192, 17 * 17, 768},
      {"Mixed_6b.1x1 fwd (batch)", 0, 0, 192, b * 17 * 17, 768},
      {"Mixed_7b.1x1 fwd (1 sample)", 0, 0, 320, 8 * 8, 1280},
      {"Mixed_7b.1x1 fwd (batch)", 0, 0, 320, b * 8 * 8, 1280},
      {"Mixed_7b.3x3 fwd", 0, 0, 384, b * 8 * 8, 4032},
      {"Mixed_7b.3x3 dW", 0, 1, 384, 4032, b * 8 * 8},
      {"Mixed_7b.3x3 dX", 1, 0, 4032, b * 8 * 8, 384},
  };
  lab_rng rng;
  lab_rng_seed(&rng, 2016);
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    const gemm_shape *s = &shapes[i];
    float *a = bench_alloc((size_t)s->m * s->k, &rng), *bm = bench_alloc((size_t)s->k * s->n, &rng);
    float *c = bench_alloc((size_t)s->m * s->n, &rng);
    double t = time_sgemm(s->ta, s->tb, s->m, s->n, s->k, a, bm, c, 0.0f, o->reps);
    printf("%-28s %2d %2d %6d %7d %6d %8.1f\n", s->name, s->ta, s->tb, s->m, s->n, s->k,
           2.0 * s->m * (double)s->n * s->k / t * 1e-9);
    fflush(stdout);
    free(a);
    free(bm);
    free(c);
  }
  return 0;
}

/* === arguments === */

static void bench_usage(FILE *f) {
  fprintf(f,
          "usage: lab bench conv|gemm [--threads T] [--batch N] [--reps R]\n"
          "       lab bench train FILE [--variant NAME] [--threads T] [--batch N] [--steps S] [--warmup W]\n"
          "                       [--optimizer sgd|recipe] [key=value ...]   (lab bench train --help)\n"
          "  conv  conv2d forward/backward on Inception-v3 shapes vs BLIS sgemm on the same GEMMs\n"
          "  gemm  BLIS sgemm alone: squares and the conv shapes\n"
          "  train whole training steps (lab_train_step) of an experiment row's network on random data\n"
          "conv and gemm options:\n"
          "  --threads T  BLIS and OpenMP threads (default: online CPUs)\n"
          "  --batch N    batch size (default 8)\n"
          "  --reps R     timed repetitions, median reported (default 5)\n");
}

int lab_cmd_bench(int argc, char **argv) {
  if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    bench_usage(stdout);
    return 0;
  }
  if (argc >= 2 && !strcmp(argv[1], "train")) return lab_cmd_bench_train(argc - 1, argv + 1);
  if (argc < 2 || (strcmp(argv[1], "conv") && strcmp(argv[1], "gemm"))) {
    bench_usage(stderr);
    return 2;
  }
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  bench_opts o = {.threads = ncpu > 0 ? (int)ncpu : 1, .batch = 8, .reps = 5};
  for (int i = 2; i < argc; i++) {
    const char *val = i + 1 < argc ? argv[i + 1] : NULL;
    int ok;
    if (!strcmp(argv[i], "--threads")) ok = lab_cli_parse_int("bench", "--threads", val, 1, 1024, &o.threads);
    else if (!strcmp(argv[i], "--batch")) ok = lab_cli_parse_int("bench", "--batch", val, 1, 4096, &o.batch);
    else if (!strcmp(argv[i], "--reps")) ok = lab_cli_parse_int("bench", "--reps", val, 1, 100000, &o.reps);
    else {
      fprintf(stderr, "lab bench: unknown option '%s'\n", argv[i]);
      bench_usage(stderr);
      return 2;
    }
    if (!ok) return 2;
    i++;
  }
  lab_gemm_set_threads(o.threads);
  omp_set_num_threads(o.threads);
  return !strcmp(argv[1], "conv") ? bench_conv(&o) : bench_gemm(&o);
}
