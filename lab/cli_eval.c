/* cli_eval.c: `lab eval` — top-1/top-5 error of trained runs from their checkpoints, with
 * multi-crop evaluation (the analogue of the paper's Table 4) and ensembles of runs (Table 5's
 * analogue: the average of the members' softmax outputs).
 *
 *   lab eval RUN_DIR... [--crops 1|2|10|12] [--crop-fraction F] [--ensemble] [--batch B]
 *                       [--threads T]
 *
 * A run folder holds config.yaml (the row's configuration; its header names the experiment
 * file, beside which `preset:` networks are found) and checkpoint.bin. The network is rebuilt
 * from the configuration, the raw weights (and BN statistics) and, when the run kept one, the
 * EMA average are loaded, and the test set of the run's data section is evaluated.
 *
 * Crops, on the source image (H x W), each resized to the network's input:
 *   1:  the whole image (what training evaluates);
 *   2:  the whole image and its mirror;
 *   10: five crops of F x the source side (centre and the four corners) and their mirrors,
 *       the classic 10-crop of AlexNet/GoogLeNet;
 *   12: the 10 above plus the whole image and its mirror.
 * Predictions of several crops (and of several runs) are averaged softmax probabilities.
 *
 * BN statistics: those of the checkpoint, or, when the run's train.bn_recalibrate (or
 * --bn-recalibrate N) is > 0, re-estimated for the raw and for the EMA weights over N batches
 * of training images as training's evaluation does (lab/bn_calib.h), so that lab eval
 * reproduces the errors the run reported.
 */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blocks/network.h"
#include "lab/augment.h"
#include "lab/bn_calib.h"
#include "lab/checkpoint.h"
#include "lab/cli.h"
#include "lab/gemm.h"
#include "lab/loss.h"
#include "lab/train.h"

typedef struct eval_opts {
  int crops;
  double crop_fraction;
  int ensemble, batch, threads;
  long bn_recalibrate; /* batches; -1: the run's train.bn_recalibrate */
} eval_opts;

/* One run's predictions: averaged softmax over the crops, (N, K), for raw and EMA weights. */
typedef struct eval_out {
  int n, k;
  float *p_raw, *p_ema; /* p_ema NULL: no EMA kept */
  int32_t *labels;
  char dataset[64];
} eval_out;

static void eval_out_free(eval_out *o) {
  free(o->p_raw);
  free(o->p_ema);
  free(o->labels);
  memset(o, 0, sizeof *o);
}

/* The views of the chosen crop set for an H x W source. Returns the count (<= 12). */
static int make_views(const lab_transform_cfg *tf, int h, int w, const eval_opts *o, lab_view *v) {
  int n = 0;
  if (o->crops == 1 || o->crops == 2 || o->crops == 12) {
    lab_transform_view(tf, h, w, NULL, &v[n]);
    n++;
  }
  if (o->crops == 10 || o->crops == 12) {
    int ch = (int)lround(o->crop_fraction * h), cw = (int)lround(o->crop_fraction * w);
    if (ch < 1) ch = 1;
    if (cw < 1) cw = 1;
    const int tops[5] = {(h - ch) / 2, 0, 0, h - ch, h - ch};
    const int lefts[5] = {(w - cw) / 2, 0, w - cw, 0, w - cw};
    for (int i = 0; i < 5; i++) lab_view_crop(tops[i], lefts[i], ch, cw, &v[n++]);
  }
  if (o->crops != 1) {
    int m = n;
    for (int i = 0; i < m; i++) {
      v[n] = v[i];
      v[n].flip = !v[i].flip;
      n++;
    }
  }
  return n;
}

/* Averaged softmax of the graph's current weights over every view, into p (N, K). */
static void predict(lab_graph *g, int out_id, const lab_dataset *ds, int n_test, int k, int batch,
                    const lab_transform_cfg *tf, const eval_opts *o, float *x, float *pb, float *p) {
  lab_transform_ws ws;
  lab_transform_ws_init(&ws, tf);
  lab_shape in = lab_graph_shape(g, 0);
  size_t per = lab_shape_numel(in);
  memset(p, 0, sizeof(float) * (size_t)n_test * (size_t)k);
  lab_rng unused;
  lab_rng_seed(&unused, 0);
  int n_views = 0;
  for (int i0 = 0; i0 < n_test; i0 += batch) {
    int nb = n_test - i0 < batch ? n_test - i0 : batch;
    lab_view views[12];
    /* every image may have its own size (image folders): views per image */
    int nv = 0;
    for (int v = 0;; v++) {
      for (int j = 0; j < nb; j++) {
        lab_image img = lab_dataset_image(ds, i0 + j);
        nv = make_views(tf, img.h, img.w, o, views);
        lab_transform_render(tf, &img, &views[v], &ws, x + (size_t)j * per);
      }
      lab_ctx ctx = {.train = 0, .batch = nb, .rng = &unused};
      lab_graph_forward(g, x, &ctx);
      lab_softmax(lab_graph_act(g, out_id), nb, k, pb);
      for (size_t t = 0; t < (size_t)nb * (size_t)k; t++) p[(size_t)i0 * k + t] += pb[t];
      if (v + 1 >= nv) break;
    }
    n_views = nv;
  }
  for (size_t t = 0; t < (size_t)n_test * (size_t)k; t++) p[t] /= (float)n_views;
  lab_transform_ws_free(&ws);
}

/* The value of "# KEY: VALUE" in config.yaml's header (experiment_file, seed), or "". */
static void header_value(const char *config_path, const char *key, char *out, size_t n) {
  out[0] = '\0';
  FILE *f = fopen(config_path, "r");
  if (!f) return;
  char line[4096], want[64];
  snprintf(want, sizeof want, "# %s: ", key);
  while (fgets(line, sizeof line, f) && line[0] == '#') {
    if (!strncmp(line, want, strlen(want))) {
      snprintf(out, n, "%s", line + strlen(want));
      out[strcspn(out, "\n")] = '\0';
    }
  }
  fclose(f);
}

static lab_status eval_run(const char *dir, const eval_opts *o, eval_out *out, lab_error *err) {
  char cpath[4200], kpath[4200], efile[4096], pdir[4096];
  snprintf(cpath, sizeof cpath, "%s/config.yaml", dir);
  snprintf(kpath, sizeof kpath, "%s/checkpoint.bin", dir);
  header_value(cpath, "experiment_file", efile, sizeof efile);
  if (efile[0]) lab_cli_dir_of(efile, pdir, sizeof pdir);
  else snprintf(pdir, sizeof pdir, "experiments");
  lab_cfg_node *row = NULL;
  blk_network net;
  memset(&net, 0, sizeof net);
  int have_net = 0;
  lab_dataset train_ds, test_ds;
  memset(&train_ds, 0, sizeof train_ds);
  memset(&test_ds, 0, sizeof test_ds);
  float *x = NULL, *pb = NULL, *ema = NULL;
  int *tr_idx = NULL, *val_idx = NULL;
  lab_loader *cal_ld = NULL;
  lab_status st = lab_cfg_load(cpath, &row, err);
  if (st != LAB_STATUS_OK) goto done;
  lab_data_cfg dc;
  lab_train_cfg tc;
  if ((st = lab_train_cfg_read(row, &dc, &tc, err)) != LAB_STATUS_OK) goto done;
  blk_overrides ov;
  memset(&ov, 0, sizeof ov);
  ov.load_preset = lab_preset_load;
  ov.load_ctx = pdir;
  const lab_cfg_node *netcfg = lab_cfg_get(row, "network");
  if (!netcfg) {
    st = lab_cfg_error(err, row, "no network section");
    goto done;
  }
  if ((st = blk_network_build(netcfg, &ov, &net, err)) != LAB_STATUS_OK) goto done;
  have_net = 1;
  int batch = o->batch > 0 ? o->batch : (int)tc.batch;
  long n_cal = o->bn_recalibrate >= 0 ? o->bn_recalibrate : tc.bn_recalibrate;
  const int planned = n_cal > 0 && tc.batch > batch ? (int)tc.batch : batch; /* recalibration: run's batch */
  if ((st = lab_graph_plan(net.g, planned, err)) != LAB_STATUS_OK) goto done;
  int out_id = lab_graph_output(net.g, "logits");
  if (out_id < 0) {
    st = lab_error_set(err, LAB_ERR_CONFIG, "%s: the network marks no logits output", cpath);
    goto done;
  }
  int k = (int)lab_shape_numel(lab_graph_shape(net.g, out_id));

  /* weights: params and BN statistics, then the EMA average if the run kept one */
  size_t n_params, n_bufs;
  float *params = lab_graph_param_slab(net.g, &n_params);
  float *bufs = lab_graph_buffer_slab(net.g, &n_bufs);
  /* the average holds the parameter tensors (list counts: the slab may be padded) + buffers */
  size_t n_listed = 0;
  const lab_param_list *plist = lab_graph_params(net.g);
  for (int i = 0; i < plist->n; i++) n_listed += plist->items[i].count;
  size_t n_ema = tc.ema ? n_listed + (tc.ema_buffers ? n_bufs : 0) : 0;
  lab_ckpt_section sec[2] = {{.name = "params", .data = params, .nbytes = n_params * sizeof(float), .elem = 4},
                             {.name = "buffers", .data = bufs, .nbytes = n_bufs * sizeof(float), .elem = 4}};
  if ((st = lab_ckpt_read(kpath, sec, n_bufs ? 2 : 1, 1, err)) != LAB_STATUS_OK) goto done;
  if (n_ema) {
    ema = lab_xmalloc(n_ema * sizeof(float));
    lab_ckpt_section es = {.name = "ema", .data = ema, .nbytes = n_ema * sizeof(float), .elem = 4};
    if ((st = lab_ckpt_read(kpath, &es, 1, 1, err)) != LAB_STATUS_OK) goto done;
  }

  /* data: the run's test set, normalised with its training images' statistics */
  if ((st = lab_train_load_data(&dc, 1, &train_ds, err)) != LAB_STATUS_OK) goto done;
  if ((st = lab_train_load_data(&dc, 0, &test_ds, err)) != LAB_STATUS_OK) goto done;
  if (test_ds.n_classes != k) {
    st = lab_error_set(err, LAB_ERR_CONFIG, "%s: the network has %d classes, %s has %d", dir, k, test_ds.source,
                       test_ds.n_classes);
    goto done;
  }
  int n_tr, n_val;
  lab_train_split(&dc, train_ds.n, &tr_idx, &n_tr, &val_idx, &n_val);
  lab_shape in = lab_graph_shape(net.g, 0);
  lab_transform_cfg tf;
  lab_transform_cfg_default(&tf, in.c, in.h, in.w);
  lab_train_norm(&dc, &train_ds, tr_idx, n_tr, in.c, tf.mean, tf.std);
  tf.eval_crop = (float)dc.eval_crop;
  int n_test = test_ds.n;
  if (dc.test_subset > 0 && dc.test_subset < n_test) n_test = (int)dc.test_subset;

  out->n = n_test;
  out->k = k;
  snprintf(out->dataset, sizeof out->dataset, "%s", lab_data_names[dc.dataset]);
  out->labels = lab_xmalloc(sizeof(int32_t) * (size_t)n_test);
  memcpy(out->labels, test_ds.labels, sizeof(int32_t) * (size_t)n_test);
  x = lab_xmalloc(sizeof(float) * (size_t)batch * lab_shape_numel(in));
  pb = lab_xmalloc(sizeof(float) * (size_t)batch * (size_t)k);
  if (n_cal > 0) {
    /* the batches the run's own evaluation used: its seed's order (lab/train.c) */
    char seed[64];
    header_value(cpath, "seed", seed, sizeof seed);
    if ((st = lab_bn_calib_loader(&train_ds, tr_idx, n_tr, (int)tc.batch, (uint64_t)strtoull(seed, NULL, 10), &tf,
                                  &cal_ld, err)) != LAB_STATUS_OK)
      goto done;
    if ((st = lab_bn_recalibrate(net.g, cal_ld, (int)n_cal, err)) != LAB_STATUS_OK) goto done;
  }
  out->p_raw = lab_xmalloc(sizeof(float) * (size_t)n_test * (size_t)k);
  predict(net.g, out_id, &test_ds, n_test, k, batch, &tf, o, x, pb, out->p_raw);
  if (n_ema) {
    /* the average's layout (lab/ema.h): parameter tensors in list order, then the buffers */
    const lab_param_list *pl = lab_graph_params(net.g);
    size_t off = 0;
    for (int i = 0; i < pl->n; i++) {
      memcpy(pl->items[i].value, ema + off, pl->items[i].count * sizeof(float));
      off += pl->items[i].count;
    }
    if (n_ema > off) memcpy(bufs, ema + off, (n_ema - off) * sizeof(float));
    if (cal_ld && (st = lab_bn_recalibrate(net.g, cal_ld, (int)n_cal, err)) != LAB_STATUS_OK) goto done;
    out->p_ema = lab_xmalloc(sizeof(float) * (size_t)n_test * (size_t)k);
    predict(net.g, out_id, &test_ds, n_test, k, batch, &tf, o, x, pb, out->p_ema);
  }
done:
  if (st != LAB_STATUS_OK) lab_error_prefix(err, "%s", dir);
  lab_loader_free(cal_ld);
  free(x);
  free(pb);
  free(ema);
  free(tr_idx);
  free(val_idx);
  lab_dataset_free(&train_ds);
  lab_dataset_free(&test_ds);
  if (have_net) blk_network_free(&net);
  lab_cfg_free(row);
  return st;
}

static void errors(const float *p, const int32_t *labels, int n, int k, double *e1, double *e5) {
  int top5 = k < 5 ? k : 5;
  int c1 = lab_loss_topk_correct(p, labels, n, k, 1), c5 = lab_loss_topk_correct(p, labels, n, k, top5);
  *e1 = 100.0 * (n - c1) / n;
  *e5 = 100.0 * (n - c5) / n;
}

int lab_cmd_eval(int argc, char **argv) {
  eval_opts o = {.crops = 1, .crop_fraction = 0.875, .ensemble = 0, .batch = 0, .threads = 2, .bn_recalibrate = -1};
  const char **dirs = calloc((size_t)argc, sizeof(char *));
  int n_dirs = 0;
  if (!dirs) return 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int more = i + 1 < argc;
    char *end = NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      printf("usage: lab eval RUN_DIR... [--crops 1|2|10|12] [--crop-fraction F] [--ensemble] [--batch B] "
             "[--threads T] [--bn-recalibrate N]\n"
             "Top-1/top-5 test error of raw and EMA weights; crops: 1 whole image, 2 + mirror, 10 = centre and\n"
             "4 corner crops of F (0.875) x the side + mirrors, 12 = 10 + whole image and mirror (softmax averaged).\n"
             "--ensemble: also the average of the runs' softmax (EMA weights where kept, else raw).\n"
             "--bn-recalibrate N: re-estimate BN statistics over N training batches first (0: the checkpoint's;\n"
             "default: the run's train.bn_recalibrate).\n");
      free(dirs);
      return 0;
    } else if (!strcmp(a, "--crops") && more) {
      o.crops = (int)strtol(argv[++i], &end, 10);
      if (*end || (o.crops != 1 && o.crops != 2 && o.crops != 10 && o.crops != 12)) {
        fprintf(stderr, "lab eval: --crops: expected 1, 2, 10 or 12, found '%s'\n", argv[i]);
        free(dirs);
        return 2;
      }
    } else if (!strcmp(a, "--crop-fraction") && more) {
      o.crop_fraction = strtod(argv[++i], &end);
      if (*end || !(o.crop_fraction > 0.1 && o.crop_fraction <= 1.0)) {
        fprintf(stderr, "lab eval: --crop-fraction: expected a number in (0.1, 1], found '%s'\n", argv[i]);
        free(dirs);
        return 2;
      }
    } else if ((!strcmp(a, "--batch") || !strcmp(a, "--threads")) && more) {
      long v = strtol(argv[++i], &end, 10);
      if (*end || v < 1 || v > 4096) {
        fprintf(stderr, "lab eval: %s: expected an integer in [1, 4096], found '%s'\n", a, argv[i]);
        free(dirs);
        return 2;
      }
      if (!strcmp(a, "--batch")) o.batch = (int)v;
      else o.threads = (int)v;
    } else if (!strcmp(a, "--bn-recalibrate") && more) {
      o.bn_recalibrate = strtol(argv[++i], &end, 10);
      if (*end || o.bn_recalibrate < 0 || o.bn_recalibrate > 1000000) {
        fprintf(stderr, "lab eval: --bn-recalibrate: expected an integer in [0, 1000000], found '%s'\n", argv[i]);
        free(dirs);
        return 2;
      }
    } else if (!strcmp(a, "--ensemble")) {
      o.ensemble = 1;
    } else if (a[0] == '-') {
      fprintf(stderr, "lab eval: unknown option '%s'%s\n", a, more ? "" : " (or missing value)");
      free(dirs);
      return 2;
    } else {
      dirs[n_dirs++] = a;
    }
  }
  if (n_dirs == 0) {
    fprintf(stderr, "usage: lab eval RUN_DIR... [--crops 1|2|10|12] [--ensemble]  (lab eval --help)\n");
    free(dirs);
    return 2;
  }
  omp_set_num_threads(o.threads);
  lab_gemm_set_threads(o.threads);
  eval_out *outs = calloc((size_t)n_dirs, sizeof(eval_out));
  int rc = 0;
  printf("run\tcrops\ttop1_error\ttop5_error\tema_top1_error\tema_top5_error\n");
  for (int i = 0; i < n_dirs && !rc; i++) {
    lab_error err = {0};
    if (eval_run(dirs[i], &o, &outs[i], &err) != LAB_STATUS_OK) {
      fprintf(stderr, "lab eval: %s\n", err.msg);
      rc = 1;
      break;
    }
    double e1, e5, m1 = NAN, m5 = NAN;
    errors(outs[i].p_raw, outs[i].labels, outs[i].n, outs[i].k, &e1, &e5);
    if (outs[i].p_ema) errors(outs[i].p_ema, outs[i].labels, outs[i].n, outs[i].k, &m1, &m5);
    printf("%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\n", dirs[i], o.crops, e1, e5, m1, m5);
    fflush(stdout);
  }
  if (!rc && o.ensemble && n_dirs > 1) {
    const eval_out *a = &outs[0];
    for (int i = 1; i < n_dirs && !rc; i++)
      if (outs[i].n != a->n || outs[i].k != a->k || strcmp(outs[i].dataset, a->dataset) ||
          memcmp(outs[i].labels, a->labels, sizeof(int32_t) * (size_t)a->n)) {
        fprintf(stderr, "lab eval: --ensemble: %s and %s were not evaluated on the same test set\n", dirs[0],
                dirs[i]);
        rc = 1;
      }
    if (!rc) {
      size_t nk = (size_t)a->n * (size_t)a->k;
      float *avg = calloc(nk, sizeof(float));
      for (int i = 0; i < n_dirs; i++) {
        const float *p = outs[i].p_ema ? outs[i].p_ema : outs[i].p_raw;
        for (size_t t = 0; t < nk; t++) avg[t] += p[t] / (float)n_dirs;
      }
      double e1, e5;
      errors(avg, a->labels, a->n, a->k, &e1, &e5);
      printf("ensemble of %d (EMA where kept)\t%d\t%.2f\t%.2f\tnan\tnan\n", n_dirs, o.crops, e1, e5);
      free(avg);
    }
  }
  for (int i = 0; i < n_dirs; i++) eval_out_free(&outs[i]);
  free(outs);
  free(dirs);
  return rc;
}
