/* train.c: the training run and its evaluation (see train.h; paper Sect. 8; run folder format:
 * /work/notes/run-contract.md and README "Runs"), on one process or data-parallel over the
 * ranks of a lab_dist (train.h "Data-parallel").
 *
 * Shape letters: N samples in a batch (<= B, the planned batch), K classes. Data-parallel:
 * B is the global batch, the graph is planned for this rank's B / ranks.
 */
#include "lab/train.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "lab/augment.h"
#include "lab/checkpoint.h"
#include "lab/bn_calib.h"
#include "lab/ema.h"
#include "lab/gemm.h"
#include "lab/layers.h"
#include "lab/loader.h"
#include "lab/loss.h"
#include "lab/optim.h"
#include "lab/runfolder.h"
#include "lab/schedule.h"

/* The validation split and train_subset use fixed seeds, not the run's: every seed of an
 * experiment then trains and validates on the same images, and only init/order/augmentation
 * vary between seeds. */
#define SPLIT_SEED 0x5eed0001u
#define SUBSET_SEED 0x5eed0002u

static const char *const METRIC_COLS[] = {
    "epoch", "step", "lr", "train_loss", "train_top1_error", "test_top1_error", "test_top5_error",
    "ema_test_top1_error", "ema_test_top5_error", "seconds", "images_per_second", "val_top1_error",
    "val_top5_error", "ema_val_top1_error", "ema_val_top5_error"};
#define N_METRIC_COLS ((int)(sizeof METRIC_COLS / sizeof METRIC_COLS[0]))

/* One metrics.tsv line, in METRIC_COLS order. */
typedef struct metric_row {
  double v[N_METRIC_COLS];
} metric_row;
enum { M_EPOCH, M_STEP, M_LR, M_LOSS, M_TRAIN1, M_T1, M_T5, M_E1, M_E5, M_SEC, M_IPS, M_V1, M_V5, M_EV1, M_EV5 };

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

char *lab_train_config_hash(const lab_cfg_node *row, char *hex) {
  return lab_cfg_hash_hex(lab_cfg_hash(row), hex);
}

lab_status lab_preset_load(const char *name, void *ctx, lab_cfg_node **net, lab_error *err) {
  const char *dir = ctx ? (const char *)ctx : ".";
  char path[1200];
  const char *forms[] = {"%s/%s.yaml", "%s/networks/%s.yaml"};
  FILE *probe = NULL;
  for (size_t i = 0; i < 2 && !probe; i++) {
    snprintf(path, sizeof path, forms[i], dir, name);
    probe = fopen(path, "r");
  }
  if (!probe)
    return lab_error_set(err, LAB_ERR_IO, "no preset file %s/%s.yaml or %s/networks/%s.yaml", dir, name, dir,
                         name);
  fclose(probe);
  lab_cfg_node *root;
  lab_status st = lab_cfg_load(path, &root, err);
  if (st != LAB_STATUS_OK) return st;
  const lab_cfg_node *n = lab_cfg_get(root, "network");
  if (!n) {
    st = lab_cfg_error(err, root, "a network preset has a top-level 'network' map");
    lab_cfg_free(root);
    return st;
  }
  *net = lab_cfg_clone(n);
  lab_cfg_free(root);
  return LAB_STATUS_OK;
}

/* === data === */

lab_status lab_train_load_data(const lab_data_cfg *d, int train, lab_dataset *ds, lab_error *err) {
  return lab_dataset_load(lab_data_names[d->dataset], d->dir[0] ? d->dir : NULL, train, ds, err);
}

void lab_train_split(const lab_data_cfg *d, int n, int **train_idx, int *n_train, int **val_idx, int *n_val) {
  int nv = lab_split_n_val(n, (int)d->val_count, d->val_fraction);
  int *tr = lab_xmalloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
  *val_idx = lab_xmalloc(sizeof(int) * (size_t)(nv > 0 ? nv : 1));
  lab_split_indices(n, nv, SPLIT_SEED, tr, *val_idx);
  *n_val = nv;
  int n_tr = n - nv;
  if (d->train_subset > 0 && d->train_subset < n_tr) {
    int s = (int)d->train_subset;
    int *rest = lab_xmalloc(sizeof(int) * (size_t)(n_tr - s));
    int *pick = lab_xmalloc(sizeof(int) * (size_t)s);
    lab_split_indices(n_tr, s, SUBSET_SEED, rest, pick);
    *train_idx = lab_xmalloc(sizeof(int) * (size_t)s);
    for (int i = 0; i < s; i++) (*train_idx)[i] = tr[pick[i]];
    free(rest);
    free(pick);
    free(tr);
    n_tr = s;
  } else {
    *train_idx = tr;
  }
  *n_train = n_tr;
}

void lab_train_norm(const lab_data_cfg *d, const lab_dataset *train, const int *idx, int n_idx, int c,
                    float mean[3], float std[3]) {
  for (int i = 0; i < 3; i++) {
    mean[i] = 0.0f;
    std[i] = 1.0f;
  }
  if (!d->normalize) return;
  float m[3] = {0, 0, 0}, s[3] = {1, 1, 1};
  lab_dataset_channel_stats(train, idx, n_idx, m, s);
  for (int i = 0; i < c; i++) {
    /* grey source, colour network: the grey value is replicated, and so are its statistics;
     * colour source, grey network: luma statistics are not the channels' (approximate with
     * the channel means' luma and the mean std). */
    if (train->c == c) {
      mean[i] = m[i];
      std[i] = s[i];
    } else if (train->c == 1) {
      mean[i] = m[0];
      std[i] = s[0];
    } else {
      mean[i] = 0.299f * m[0] + 0.587f * m[1] + 0.114f * m[2];
      std[i] = (s[0] + s[1] + s[2]) / 3.0f;
    }
    if (!(std[i] > 1e-6f)) std[i] = 1.0f;
  }
}

void lab_softmax(const float *logits, int n, int k, float *p) {
  for (int i = 0; i < n; i++) {
    const float *z = logits + (size_t)i * k;
    float *q = p + (size_t)i * k;
    double mx = z[0], sum = 0.0;
    for (int j = 1; j < k; j++)
      if (z[j] > mx) mx = z[j];
    for (int j = 0; j < k; j++) sum += exp((double)z[j] - mx);
    for (int j = 0; j < k; j++) q[j] = (float)(exp((double)z[j] - mx) / sum);
  }
}

/* === the run's state === */

typedef struct run {
  const lab_train_job *job;
  const lab_dist *dist;   /* NULL: one process */
  int ranks, rank;        /* 1, 0 for one process */
  int local_batch;        /* B / ranks: this rank's share of every batch */
  int writer;             /* rank 0: writes the run folder and reports progress */
  lab_ctx_sync sync;      /* BN/dropout synchronisation (ranks > 1) */
  double *sync_work;
  lab_data_cfg dc;
  lab_train_cfg tc;
  lab_graph *g;
  int out_logits, out_aux, k, batch, threads;
  lab_shape in;
  lab_dataset own_train, own_test;
  const lab_dataset *train_ds, *test_ds;
  int *train_idx, *val_idx, *test_idx;
  int n_train, n_val, n_test;
  lab_loader *train_ld, *val_ld, *test_ld;
  lab_loader *cal_ld;     /* train.bn_recalibrate: training images, evaluation transform */
  float *cal_save;        /* the buffers kept aside while recalibrated ones evaluate */
  lab_optim opt;
  int have_opt;
  lab_ema ema;
  int have_ema;
  lab_lr_schedule sched;
  lab_rng dropout_rng;
  float *prob, *prob_aux; /* (B, K) */
  metric_row *rows;
  int n_rows;
  char hash[17];
  char dir[4096];
  char path_ckpt[4200], path_metrics[4200], path_summary[4200], path_config[4200];
  FILE *log;
  int tty;
  int folder_ok; /* the run folder exists: failures leave a summary */
} run;

static void logf_(run *r, int to_stderr, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void logf_(run *r, int to_stderr, const char *fmt, ...) {
  va_list ap;
  if (r->log) {
    va_start(ap, fmt);
    vfprintf(r->log, fmt, ap);
    va_end(ap);
    fflush(r->log);
  }
  if (to_stderr && !r->job->quiet && r->writer) {
    va_start(ap, fmt);
    if (r->tty) fputs("\r\033[K", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
  }
}

static lab_status setup_data(run *r, lab_error *err) {
  const lab_train_job *job = r->job;
  lab_status st;
  if (job->train_set) {
    r->train_ds = job->train_set;
  } else {
    if ((st = lab_train_load_data(&r->dc, 1, &r->own_train, err)) != LAB_STATUS_OK) return st;
    r->train_ds = &r->own_train;
  }
  if (job->test_set) {
    r->test_ds = job->test_set;
  } else {
    if ((st = lab_train_load_data(&r->dc, 0, &r->own_test, err)) != LAB_STATUS_OK) return st;
    r->test_ds = &r->own_test;
  }
  lab_train_split(&r->dc, r->train_ds->n, &r->train_idx, &r->n_train, &r->val_idx, &r->n_val);
  r->n_test = r->test_ds->n;
  if (r->dc.test_subset > 0 && r->dc.test_subset < r->n_test) r->n_test = (int)r->dc.test_subset;
  r->test_idx = lab_xmalloc(sizeof(int) * (size_t)(r->n_test > 0 ? r->n_test : 1));
  for (int i = 0; i < r->n_test; i++) r->test_idx[i] = i;

  if (r->train_ds->n_classes != r->k || r->test_ds->n_classes != r->k)
    return lab_error_set(err, LAB_ERR_CONFIG,
                         "the network has %d classes but the data (%s) has %d: set network.classes: %d", r->k,
                         r->train_ds->source, r->train_ds->n_classes, r->train_ds->n_classes);
  if (r->n_train < r->batch)
    return lab_error_set(err, LAB_ERR_CONFIG, "train.batch %d is larger than the %d training images (%s)",
                         r->batch, r->n_train, r->train_ds->source);
  if (r->n_test < 1) return lab_error_set(err, LAB_ERR_DATA, "%s: no test images", r->test_ds->source);

  lab_transform_cfg tf;
  lab_transform_cfg_default(&tf, r->in.c, r->in.h, r->in.w);
  lab_train_norm(&r->dc, r->train_ds, r->train_idx, r->n_train, r->in.c, tf.mean, tf.std);
  tf.eval_crop = (float)r->dc.eval_crop;
  lab_transform_cfg ttf = tf;
  ttf.train = 1;
  ttf.pad = (int)r->dc.pad;
  ttf.hflip = r->dc.hflip;
  ttf.random_resized_crop = r->dc.random_resized_crop;
  if ((st = lab_transform_cfg_check(&ttf, err)) != LAB_STATUS_OK) return st;
  lab_loader_cfg lc;
  lab_loader_cfg_default(&lc, r->batch, (uint64_t)job->seed, &ttf);
  lc.drop_last = 1;
  lc.prefetch = (int)r->dc.prefetch;
  if (r->ranks > 1) {
    /* the whole batch's order and augmentation, this rank's samples only */
    lc.shard_offset = r->rank * r->local_batch;
    lc.shard_n = r->local_batch;
  }
  if ((st = lab_loader_new(r->train_ds, r->train_idx, r->n_train, &lc, &r->train_ld, err)) != LAB_STATUS_OK)
    return st;
  /* evaluation: a contiguous slice of the images per rank (none for a rank beyond them) */
  lab_loader_cfg ec;
  lab_loader_cfg_default(&ec, r->local_batch, (uint64_t)job->seed, &tf);
  ec.shuffle = 0;
  ec.drop_last = 0;
  ec.prefetch = (int)r->dc.prefetch;
  int t0 = (int)((long long)r->n_test * r->rank / r->ranks), t1 = (int)((long long)r->n_test * (r->rank + 1) / r->ranks);
  if (t1 > t0 &&
      (st = lab_loader_new(r->test_ds, r->test_idx + t0, t1 - t0, &ec, &r->test_ld, err)) != LAB_STATUS_OK)
    return st;
  int v0 = (int)((long long)r->n_val * r->rank / r->ranks), v1 = (int)((long long)r->n_val * (r->rank + 1) / r->ranks);
  if (v1 > v0 && (st = lab_loader_new(r->train_ds, r->val_idx + v0, v1 - v0, &ec, &r->val_ld, err)) != LAB_STATUS_OK)
    return st;
  if (r->tc.bn_recalibrate > 0) {
    /* every rank the same batches (no shard): the same statistics without communication */
    if ((st = lab_bn_calib_loader(r->train_ds, r->train_idx, r->n_train, r->local_batch, (uint64_t)job->seed, &tf,
                                  &r->cal_ld, err)) != LAB_STATUS_OK)
      return st;
  }
  return LAB_STATUS_OK;
}

/* Top-1 / top-5 error (%) of the graph's current weights on every batch of ld (epoch 0),
 * summed over the ranks (each evaluates its slice; ld NULL: an empty slice). Collective. */
static lab_status evaluate(run *r, lab_loader *ld, double *e1, double *e5, lab_error *err) {
  double counts[3] = {0, 0, 0}; /* top-1 correct, top-5 correct, images: exact in double */
  int top5 = r->k < 5 ? r->k : 5;
  if (ld) {
    lab_status st = lab_loader_seek(ld, 0, 0, err);
    LAB_ASSERT(st == LAB_STATUS_OK, "%s", err->msg);
    int nb = lab_loader_batches_per_epoch(ld);
    for (int b = 0; b < nb; b++) {
      const lab_batch *bt = lab_loader_next(ld);
      lab_ctx ctx = {.train = 0, .batch = bt->n, .rng = &r->dropout_rng};
      lab_graph_forward(r->g, bt->x, &ctx);
      const float *z = lab_graph_act(r->g, r->out_logits);
      counts[0] += lab_loss_topk_correct(z, bt->y, bt->n, r->k, 1);
      counts[1] += lab_loss_topk_correct(z, bt->y, bt->n, r->k, top5);
      counts[2] += bt->n;
    }
  }
  if (r->dist) {
    lab_status st = lab_dist_sum_double(r->dist, counts, 3, err);
    if (st != LAB_STATUS_OK) return st;
  }
  *e1 = 100.0 * (counts[2] - counts[0]) / counts[2];
  *e5 = 100.0 * (counts[2] - counts[1]) / counts[2];
  return LAB_STATUS_OK;
}

/* Test (and validation) errors of the graph's current weights into v[t1], v[t5] (v[v1],
 * v[v5]). With train.bn_recalibrate the BN statistics are re-estimated for these weights
 * first (lab/bn_calib.h) and the training ones put back after, so training is unaffected. */
static lab_status evaluate_weights(run *r, double *v, int t1, int t5, int v1, int v5, lab_error *err) {
  size_t nb = 0;
  float *bufs = r->cal_ld ? lab_graph_buffer_slab(r->g, &nb) : NULL;
  lab_status st = LAB_STATUS_OK;
  if (nb) {
    memcpy(r->cal_save, bufs, nb * sizeof(float));
    st = lab_bn_recalibrate(r->g, r->cal_ld, (int)r->tc.bn_recalibrate, err);
  }
  if (st == LAB_STATUS_OK) st = evaluate(r, r->test_ld, &v[t1], &v[t5], err);
  if (st == LAB_STATUS_OK && r->n_val > 0) st = evaluate(r, r->val_ld, &v[v1], &v[v5], err);
  if (nb) memcpy(bufs, r->cal_save, nb * sizeof(float));
  return st;
}

/* Raw and EMA errors on the test set (and validation split) into row. Collective. */
static lab_status evaluate_all(run *r, metric_row *row, lab_error *err) {
  lab_status st = evaluate_weights(r, row->v, M_T1, M_T5, M_V1, M_V5, err);
  if (st == LAB_STATUS_OK && r->have_ema) {
    lab_ema_swap(&r->ema);
    st = evaluate_weights(r, row->v, M_E1, M_E5, M_EV1, M_EV5, err);
    lab_ema_swap(&r->ema);
  }
  return st;
}

/* The ranks agree on failure: returns st, or when st is OK but another rank failed,
 * LAB_ERR_STATE saying so (that rank reports its own error). Collective; called after every
 * step that can fail on some ranks only (rank 0's files), before the next collective. */
static lab_status agree(run *r, lab_status st, lab_error *err) {
  if (!r->dist || r->ranks <= 1) return st;
  double failed = st != LAB_STATUS_OK;
  lab_error e2;
  lab_status cst = lab_dist_sum_double(r->dist, &failed, 1, &e2);
  if (st != LAB_STATUS_OK) return st;
  if (cst != LAB_STATUS_OK) {
    *err = e2;
    return cst;
  }
  if (failed > 0)
    return lab_error_set(err, LAB_ERR_STATE, "rank %d of %d: stopping because %g other rank(s) failed", r->rank,
                         r->ranks, failed);
  return LAB_STATUS_OK;
}

/* === files === */

static lab_status write_metrics(run *r, lab_error *err) {
  lab_strbuf b = {0};
  for (int j = 0; j < N_METRIC_COLS; j++) lab_strbuf_printf(&b, "%s%c", METRIC_COLS[j], j + 1 < N_METRIC_COLS ? '\t' : '\n');
  for (int i = 0; i < r->n_rows; i++)
    for (int j = 0; j < N_METRIC_COLS; j++) {
      double v = r->rows[i].v[j];
      char sep = j + 1 < N_METRIC_COLS ? '\t' : '\n';
      if (j == M_EPOCH || j == M_STEP) lab_strbuf_printf(&b, "%.0f%c", v, sep);
      else if (isnan(v)) lab_strbuf_printf(&b, "nan%c", sep);
      else lab_strbuf_printf(&b, "%.9g%c", v, sep);
    }
  lab_status st = lab_write_atomic(r->path_metrics, b.s, b.len, err);
  lab_strbuf_free(&b);
  return st;
}

/* Reads back the rows of metrics.tsv with epoch <= max_epoch (resume). */
static lab_status read_metrics(run *r, long max_epoch, lab_error *err) {
  FILE *f = fopen(r->path_metrics, "r");
  r->n_rows = 0;
  if (!f) {
    if (max_epoch == 0) return LAB_STATUS_OK;
    return lab_error_set(err, LAB_ERR_IO, "cannot resume: %s: %s", r->path_metrics, strerror(errno));
  }
  char line[4096];
  int lineno = 0;
  lab_status st = LAB_STATUS_OK;
  while (fgets(line, sizeof line, f)) {
    if (++lineno == 1) continue; /* header */
    metric_row row;
    char *p = line;
    for (int j = 0; j < N_METRIC_COLS; j++) {
      char *end;
      row.v[j] = strtod(p, &end);
      if (end == p || (*end != '\t' && *end != '\n' && *end != '\0')) {
        st = lab_error_set(err, LAB_ERR_DATA, "%s:%d: column %s is not a number", r->path_metrics, lineno,
                           METRIC_COLS[j]);
        goto done;
      }
      p = *end ? end + 1 : end;
    }
    if (row.v[M_EPOCH] <= (double)max_epoch && r->n_rows < r->tc.epochs) r->rows[r->n_rows++] = row;
  }
  if (r->n_rows != max_epoch)
    st = lab_error_set(err, LAB_ERR_DATA, "cannot resume: %s holds %d rows for the checkpoint's %ld epochs",
                       r->path_metrics, r->n_rows, max_epoch);
done:
  fclose(f);
  return st;
}

static lab_status write_config(run *r, lab_error *err) {
  char *text = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&text, &len);
  if (!m) return lab_error_set(err, LAB_ERR_NOMEM, "open_memstream: %s", strerror(errno));
  fprintf(m, "# effective configuration of one run (lab train)\n");
  fprintf(m, "# experiment: %s\n# variant: %s\n# seed: %ld\n# config_hash: %s\n", r->job->experiment,
          r->job->variant, r->job->seed, r->hash);
  if (r->job->experiment_file) fprintf(m, "# experiment_file: %s\n", r->job->experiment_file);
  lab_status st = lab_cfg_write(r->job->row, m, err);
  fclose(m);
  if (st == LAB_STATUS_OK) st = lab_write_atomic(r->path_config, text, len, err);
  free(text);
  return st;
}

static lab_ckpt_state ckpt_state(run *r, int64_t epoch, int64_t global_step) {
  lab_ckpt_state s;
  memset(&s, 0, sizeof s);
  snprintf(s.config_hash, sizeof s.config_hash, "%s", r->hash);
  s.pos.epoch = (uint64_t)epoch;
  s.pos.step_in_epoch = 0;
  s.pos.global_step = (uint64_t)global_step;
  s.params = lab_graph_param_slab(r->g, &s.n_params);
  s.param_list = lab_graph_params(r->g);
  s.buffers = lab_graph_buffer_slab(r->g, &s.n_buffers);
  s.optim = lab_optim_state(&r->opt, &s.n_optim);
  if (r->have_ema) s.ema = lab_ema_state(&r->ema, &s.n_ema);
  s.rngs = &r->dropout_rng;
  s.n_rngs = 1;
  return s;
}

static void fill_summary(run *r, lab_run_summary *s, const char *status) {
  memset(s, 0, sizeof *s);
  s->status = status;
  s->experiment = r->job->experiment;
  s->variant = r->job->variant;
  s->seed = r->job->seed;
  s->config_hash = r->hash;
  s->dataset = lab_data_names[r->dc.dataset];
  s->input_size = r->in.h;
  s->epochs = r->n_rows;
  s->test_top1_error = s->test_top5_error = s->ema_test_top1_error = s->ema_test_top5_error = NAN;
  s->val_top1_error = s->val_top5_error = s->ema_val_top1_error = s->ema_val_top5_error = NAN;
  /* the last evaluated row */
  for (int i = r->n_rows - 1; i >= 0; i--)
    if (!isnan(r->rows[i].v[M_T1])) {
      const double *v = r->rows[i].v;
      s->test_top1_error = v[M_T1];
      s->test_top5_error = v[M_T5];
      s->ema_test_top1_error = v[M_E1];
      s->ema_test_top5_error = v[M_E5];
      s->val_top1_error = v[M_V1];
      s->val_top5_error = v[M_V5];
      s->ema_val_top1_error = v[M_EV1];
      s->ema_val_top5_error = v[M_EV5];
      break;
    }
  s->train_seconds = r->n_rows ? r->rows[r->n_rows - 1].v[M_SEC] : 0.0;
  long long imgs = r->train_ld ? (long long)r->n_rows * lab_loader_batches_per_epoch(r->train_ld) * r->batch : 0;
  s->images_per_second = s->train_seconds > 0 ? (double)imgs / s->train_seconds : NAN;
  s->threads = r->threads;
  s->ranks = r->ranks;
  s->batch = r->batch;
  lab_cost c = lab_graph_cost(r->g, NULL);
  s->params = c.n_params;
  s->macs = c.macs;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  s->peak_memory_bytes = (uint64_t)ru.ru_maxrss * 1024u;
  s->nan_step = -1;
}

/* === NaN/Inf diagnosis === */

static int first_nonfinite_node(lab_graph *g, int n) {
  for (int id = 0; id < lab_graph_n_nodes(g); id++) {
    const float *a = lab_graph_act(g, id);
    size_t cnt = (size_t)n * lab_shape_numel(lab_graph_shape(g, id));
    for (size_t i = 0; i < cnt; i++)
      if (!isfinite(a[i])) return id;
  }
  return -1;
}

static const char *first_nonfinite_grad(lab_graph *g) {
  const lab_param_list *pl = lab_graph_params(g);
  for (int i = 0; i < pl->n; i++)
    for (size_t j = 0; j < pl->items[i].count; j++)
      if (!isfinite(pl->items[i].grad[j])) return pl->items[i].name;
  return "(gradient norm)";
}

/* === the step === */

lab_status lab_train_step(const lab_step *s, const float *x, const int32_t *y, int n, double lr,
                          int64_t global_step, lab_step_result *res) {
  lab_graph *g = s->g;
  const int ranks = s->dist ? s->dist->size : 1;
  LAB_ASSERT(ranks == 1 || (s->sync && s->sync->global_batch == n * ranks), "data-parallel step without sync");
  lab_ctx ctx = {.train = 1, .batch = n, .rng = s->rng, .sync = ranks > 1 ? s->sync : NULL, .bn_frozen = s->bn_frozen};
  int aux = s->out_aux >= 0 && s->aux_weight > 0.0f;
  lab_error err;
  res->bad[0] = '\0';
  res->grad_norm = NAN;
  res->correct = 0;
  lab_graph_zero_grad(g);
  lab_graph_forward(g, x, &ctx);
  const float *z = lab_graph_act(g, s->out_logits);
  res->loss = lab_loss_xent_forward(z, y, n, s->k, s->label_smoothing, s->prob);
  if (aux)
    res->loss += (double)s->aux_weight *
                 lab_loss_xent_forward(lab_graph_act(g, s->out_aux), y, n, s->k, s->label_smoothing, s->prob_aux);
  res->correct = isfinite(res->loss) ? lab_loss_topk_correct(z, y, n, s->k, 1) : 0;
  if (ranks > 1) {
    /* the global batch's mean loss (equal shares) and count; a non-finite loss on any rank
     * makes the sum non-finite, so every rank takes the same branch below */
    double v[2] = {res->loss, (double)res->correct};
    lab_status st = lab_dist_sum_double(s->dist, v, 2, &err);
    LAB_ASSERT(st == LAB_STATUS_OK, "training step: %s", err.msg);
    res->loss = v[0] / ranks;
    res->correct = (int)v[1];
  }
  if (!isfinite(res->loss)) {
    int id = first_nonfinite_node(g, n);
    snprintf(res->bad, sizeof res->bad, "%s", id >= 0 ? lab_graph_node(g, id)->path : "(loss)");
    return LAB_ERR_NUMERIC;
  }
  lab_graph_backward_begin(g, n);
  lab_loss_xent_backward(s->prob, y, n, s->k, s->label_smoothing, 1.0f, lab_graph_dact(g, s->out_logits));
  if (aux) lab_loss_xent_backward(s->prob_aux, y, n, s->k, s->label_smoothing, s->aux_weight, lab_graph_dact(g, s->out_aux));
  lab_graph_backward(g, &ctx);
  if (ranks > 1) {
    /* each rank's gradient is that of its own B/K-sample mean: the global batch mean's is
     * their sum over ranks / K */
    size_t ng;
    float *grad = lab_graph_grad_slab(g, &ng);
    lab_status st = lab_dist_sum_float(s->dist, grad, ng, &err);
    LAB_ASSERT(st == LAB_STATUS_OK, "training step: %s", err.msg);
    const float inv = 1.0f / (float)ranks;
    for (size_t i = 0; i < ng; i++) grad[i] *= inv;
  }
  res->grad_norm = lab_clip_grad_norm(lab_graph_params(g), s->clip_norm);
  if (!isfinite(res->grad_norm)) {
    snprintf(res->bad, sizeof res->bad, "%s (gradient)", first_nonfinite_grad(g));
    return LAB_ERR_NUMERIC;
  }
  lab_optim_step(s->opt, (float)lr);
  if (s->ema) lab_ema_update(s->ema, global_step);
  return LAB_STATUS_OK;
}

/* === the run === */

static void progress(run *r, long epoch, int step, int n_steps, double loss, double ips, double eta) {
  if (r->job->quiet || !r->writer) return;
  int eta_m = (int)(eta / 60.0), eta_s = (int)fmod(eta, 60.0);
  if (r->tty)
    fprintf(stderr, "\r\033[Kepoch %ld/%ld step %d/%d loss %.4f %.1f img/s ETA %d:%02d", epoch + 1, r->tc.epochs,
            step, n_steps, loss, ips, eta_m, eta_s);
  else
    fprintf(stderr, "epoch %ld/%ld step %d/%d loss %.4f %.1f img/s ETA %d:%02d\n", epoch + 1, r->tc.epochs, step,
            n_steps, loss, ips, eta_m, eta_s);
}

static lab_status setup(run *r, lab_error *err) {
  const lab_train_job *job = r->job;
  lab_status st;
  /* the folder first, so that every later failure can leave a summary saying why */
  lab_train_config_hash(job->row, r->hash);
  snprintf(r->dir, sizeof r->dir, "%s", job->out_dir);
  if (r->writer) {
    if ((st = lab_mkdirs(r->dir, err)) != LAB_STATUS_OK) return st;
    r->folder_ok = 1;
  }
  snprintf(r->path_ckpt, sizeof r->path_ckpt, "%s/checkpoint.bin", r->dir);
  snprintf(r->path_metrics, sizeof r->path_metrics, "%s/metrics.tsv", r->dir);
  snprintf(r->path_summary, sizeof r->path_summary, "%s/summary.json", r->dir);
  snprintf(r->path_config, sizeof r->path_config, "%s/config.yaml", r->dir);
  r->g = job->graph;
  r->in = lab_graph_shape(r->g, 0);
  if ((st = lab_train_cfg_read(job->row, &r->dc, &r->tc, err)) != LAB_STATUS_OK) return st;
  r->batch = (int)r->tc.batch;
  if (r->batch % r->ranks != 0)
    return lab_error_set(err, LAB_ERR_CONFIG,
                         "train.batch %d does not split over %d ranks: data-parallel training needs a multiple of "
                         "the rank count (e.g. train.batch=%d)",
                         r->batch, r->ranks, (r->batch / r->ranks + 1) * r->ranks);
  r->local_batch = r->batch / r->ranks;
  /* the machine's cores are shared by the ranks on it */
  r->threads = job->threads > 0 ? job->threads : (int)r->tc.threads / r->ranks;
  if (r->threads < 1) r->threads = 1;
  omp_set_num_threads(r->threads);
  lab_gemm_set_threads(r->threads);
  r->out_logits = lab_graph_output(r->g, "logits");
  r->out_aux = lab_graph_output(r->g, "aux_logits");
  if (r->out_logits < 0) return lab_error_set(err, LAB_ERR_CONFIG, "the network marks no \"logits\" output");
  lab_shape ls = lab_graph_shape(r->g, r->out_logits);
  r->k = (int)lab_shape_numel(ls);
  if (r->out_aux >= 0 && (int)lab_shape_numel(lab_graph_shape(r->g, r->out_aux)) != r->k)
    return lab_error_set(err, LAB_ERR_CONFIG, "aux_logits has %zu values per sample, logits %d",
                         lab_shape_numel(lab_graph_shape(r->g, r->out_aux)), r->k);
  if ((st = setup_data(r, err)) != LAB_STATUS_OK) return st;
  if (lab_graph_batch(r->g) == 0 && (st = lab_graph_plan(r->g, r->local_batch, err)) != LAB_STATUS_OK) return st;
  LAB_ASSERT(lab_graph_batch(r->g) >= r->local_batch, "graph planned for %d < batch %d", lab_graph_batch(r->g),
             r->local_batch);
  if (r->cal_ld) {
    size_t nb;
    lab_graph_buffer_slab(r->g, &nb);
    r->cal_save = lab_xmalloc((nb ? nb : 1) * sizeof(float));
  }
  if (r->ranks > 1) {
    /* workspace for synchronised BN: 2C + 1 doubles for the widest batchnorm */
    size_t work = 1;
    for (int id = 1; id < lab_graph_n_nodes(r->g); id++) {
      const lab_node *nd = lab_graph_node(r->g, id);
      if (nd->layer.ops == &lab_batchnorm_ops && 2 * (size_t)nd->layer.in[0].c + 1 > work)
        work = 2 * (size_t)nd->layer.in[0].c + 1;
    }
    r->sync_work = lab_xmalloc(work * sizeof(double));
    r->sync = (lab_ctx_sync){.sum = lab_dist_sum_hook, .user = (void *)r->dist, .work = r->sync_work,
                             .work_len = work, .sample_offset = r->rank * r->local_batch,
                             .global_batch = r->batch};
  }

  lab_rng root;
  lab_rng_seed(&root, (uint64_t)job->seed);
  lab_rng init_rng = lab_rng_split(&root, 1);
  r->dropout_rng = lab_rng_split(&root, 2);
  lab_graph_init(r->g, &init_rng);

  lab_optim_cfg oc = lab_train_optim_cfg(&r->tc);
  if ((st = lab_optim_init(&r->opt, &oc, lab_graph_params(r->g), err)) != LAB_STATUS_OK) return st;
  r->have_opt = 1;
  if (r->tc.ema) {
    size_t nb = 0;
    float *bufs = r->tc.ema_buffers ? lab_graph_buffer_slab(r->g, &nb) : NULL;
    if ((st = lab_ema_init(&r->ema, lab_graph_params(r->g), nb ? bufs : NULL, nb, (float)r->tc.ema_decay,
                           r->tc.ema_warmup, err)) != LAB_STATUS_OK)
      return st;
    r->have_ema = 1;
  }
  r->sched.kind = r->tc.lr_schedule == 0 ? LAB_LR_CONSTANT : LAB_LR_STAIRCASE;
  r->sched.base_lr = r->tc.lr;
  r->sched.decay_rate = r->tc.lr_decay_rate;
  r->sched.decay_epochs = r->tc.lr_decay_epochs;
  r->sched.steps_per_epoch = lab_loader_batches_per_epoch(r->train_ld);
  r->sched.warmup_epochs = r->tc.warmup_epochs;
  r->sched.warmup_start = r->tc.warmup_start;
  if ((st = lab_lr_schedule_check(&r->sched, err)) != LAB_STATUS_OK) return st;

  r->prob = lab_xmalloc(sizeof(float) * (size_t)r->local_batch * (size_t)r->k);
  r->prob_aux = lab_xmalloc(sizeof(float) * (size_t)r->local_batch * (size_t)r->k);
  r->rows = lab_xcalloc((size_t)r->tc.epochs, sizeof(metric_row));

  return LAB_STATUS_OK;
}

/* Rank 0's initial parameters and buffers to every rank: identical by the seed already, the
 * copy makes it so whatever each rank's build. Collective. */
static lab_status share_initial(run *r, lab_error *err) {
  if (r->ranks <= 1) return LAB_STATUS_OK;
  size_t np, nb;
  float *params = lab_graph_param_slab(r->g, &np), *bufs = lab_graph_buffer_slab(r->g, &nb);
  lab_status st = lab_dist_broadcast(r->dist, params, np * sizeof(float), 0, err);
  if (st == LAB_STATUS_OK && nb) st = lab_dist_broadcast(r->dist, bufs, nb * sizeof(float), 0, err);
  return st;
}

static void teardown(run *r) {
  if (r->log) fclose(r->log);
  lab_loader_free(r->train_ld);
  lab_loader_free(r->test_ld);
  lab_loader_free(r->val_ld);
  lab_loader_free(r->cal_ld);
  free(r->cal_save);
  if (r->have_ema) lab_ema_free(&r->ema);
  if (r->have_opt) lab_optim_free(&r->opt);
  free(r->prob);
  free(r->prob_aux);
  free(r->sync_work);
  free(r->rows);
  free(r->train_idx);
  free(r->val_idx);
  free(r->test_idx);
  lab_dataset_free(&r->own_train);
  lab_dataset_free(&r->own_test);
}

/* Loads the checkpoint when resuming; returns the epochs already done through *epoch0. */
static lab_status maybe_resume(run *r, long *epoch0, int64_t *gstep, lab_error *err) {
  *epoch0 = 0;
  *gstep = 0;
  FILE *probe = r->job->resume ? fopen(r->path_ckpt, "rb") : NULL;
  if (!probe) return read_metrics(r, 0, err); /* fresh start: no rows */
  fclose(probe);
  char hash[LAB_CKPT_HASH_MAX];
  lab_ckpt_position pos;
  lab_status st = lab_ckpt_peek(r->path_ckpt, hash, &pos, err);
  if (st != LAB_STATUS_OK) return st;
  if (strcmp(hash, r->hash) != 0) {
    r->folder_ok = 0; /* the folder belongs to another configuration: leave its files alone */
    return lab_error_set(err, LAB_ERR_CONFIG,
                         "refusing to resume %s: it was trained with configuration %s, this one is %s "
                         "(move the folder aside or train without --resume)",
                         r->dir, hash, r->hash);
  }
  lab_ckpt_state s = ckpt_state(r, 0, 0);
  if ((st = lab_ckpt_load(r->path_ckpt, &s, err)) != LAB_STATUS_OK) return st;
  if ((long)s.pos.epoch > r->tc.epochs)
    return lab_error_set(err, LAB_ERR_CONFIG, "%s holds %llu epochs, more than train.epochs = %ld", r->path_ckpt,
                         (unsigned long long)s.pos.epoch, r->tc.epochs);
  *epoch0 = (long)s.pos.epoch;
  *gstep = (int64_t)s.pos.global_step;
  return read_metrics(r, *epoch0, err);
}

lab_status lab_train_run(const lab_train_job *job, lab_train_result *res, lab_error *err) {
  run r;
  memset(&r, 0, sizeof r);
  r.job = job;
  memset(res, 0, sizeof *res);
  res->nan_step = -1;
  res->test_top1_error = res->test_top5_error = res->ema_test_top1_error = res->ema_test_top5_error = NAN;
  r.tty = isatty(2);
  r.dist = job->dist && job->dist->size > 1 ? job->dist : NULL;
  r.ranks = r.dist ? r.dist->size : 1;
  r.rank = r.dist ? r.dist->rank : 0;
  r.writer = r.rank == 0;
  /* every rank passes each agree() below, failed or not: a rank never waits for ever in a
   * collective that another one skipped */
  lab_status st = agree(&r, setup(&r, err), err);
  long epoch0 = 0;
  int64_t gstep = 0;
  if (st == LAB_STATUS_OK) {
    st = share_initial(&r, err);
    if (st == LAB_STATUS_OK) st = maybe_resume(&r, &epoch0, &gstep, err);
    st = agree(&r, st, err);
  }
  const int all_ok = st == LAB_STATUS_OK; /* the same on every rank */
  if (all_ok && r.writer) {
    char lp[4200];
    snprintf(lp, sizeof lp, "%s/log.txt", r.dir);
    r.log = fopen(lp, epoch0 > 0 ? "a" : "w");
    if (!r.log) st = lab_error_set(err, LAB_ERR_IO, "cannot write %s: %s", lp, strerror(errno));
    if (st == LAB_STATUS_OK) st = write_config(&r, err);
    if (st == LAB_STATUS_OK && epoch0 == 0) {
      /* a fresh run: an old summary would claim a finished state, an old checkpoint would be
       * resumed by a later --resume against these new metrics */
      remove(r.path_summary);
      remove(r.path_ckpt);
      st = write_metrics(&r, err);
    }
  }
  if (all_ok) st = agree(&r, st, err); /* rank 0's files */
  if (st != LAB_STATUS_OK) goto fail;

  lab_cost cost = lab_graph_cost(r.g, NULL);
  char par[96] = "";
  if (r.ranks > 1)
    snprintf(par, sizeof par, " (data-parallel: %d ranks x %d)", r.ranks, r.local_batch);
  logf_(&r, 1, "train: %s / %s seed %ld: %s, input %dx%dx%d, %d classes, %d train / %d val / %d test images, "
               "batch %d%s, %d threads%s, %llu params, %.1f MMACs/image%s\n",
        job->experiment, job->variant, job->seed, lab_data_names[r.dc.dataset], r.in.c, r.in.h, r.in.w, r.k,
        r.n_train, r.n_val, r.n_test, r.batch, par, r.threads, r.ranks > 1 ? " per rank" : "",
        (unsigned long long)cost.n_params, (double)cost.macs / 1e6, epoch0 > 0 ? " (resumed)" : "");
  if (epoch0 > 0) logf_(&r, 1, "train: resumed after epoch %ld (step %lld)\n", epoch0, (long long)gstep);
  if ((st = lab_loader_seek(r.train_ld, (int)epoch0, 0, err)) != LAB_STATUS_OK) goto fail;

  int n_steps = lab_loader_batches_per_epoch(r.train_ld);
  lab_step step = {.g = r.g, .out_logits = r.out_logits, .out_aux = r.out_aux, .k = r.k,
                   .label_smoothing = (float)r.tc.label_smoothing, .aux_weight = (float)r.tc.aux_weight,
                   .clip_norm = r.tc.clip_norm, .opt = &r.opt, .ema = r.have_ema ? &r.ema : NULL,
                   .rng = &r.dropout_rng, .prob = r.prob, .prob_aux = r.prob_aux, .dist = r.dist,
                   .sync = r.dist ? &r.sync : NULL};
  /* the last train.bn_freeze_epochs train with batch norm frozen (from this global step on) */
  const int64_t bn_freeze_step = (int64_t)llround((double)(r.tc.epochs - r.tc.bn_freeze_epochs) * n_steps);
  double cum_sec = epoch0 > 0 ? r.rows[epoch0 - 1].v[M_SEC] : 0.0;
  long stop_at = job->stop_after_epochs > 0 ? job->stop_after_epochs : r.tc.epochs;
  for (long epoch = epoch0; epoch < r.tc.epochs && epoch < stop_at; epoch++) {
    double t0 = now_s(), last_print = t0;
    double loss_sum = 0.0;
    long long correct = 0, seen = 0;
    for (int s = 0; s < n_steps; s++) {
      const lab_batch *b = lab_loader_next(r.train_ld);
      LAB_ASSERT(b->epoch == epoch && b->index == s, "loader at (%d, %d), expected (%ld, %d)", b->epoch, b->index,
                 epoch, s);
      int n = b->n;
      lab_step_result sr;
      const char *bad = NULL;
      double lr = lab_lr_at(&r.sched, gstep);
      step.bn_frozen = gstep >= bn_freeze_step;
      if (lab_train_step(&step, b->x, b->y, n, lr, gstep, &sr) != LAB_STATUS_OK) bad = sr.bad;
      double loss = sr.loss;
      if (bad) {
        res->nan_step = (long long)gstep;
        snprintf(res->nan_node, sizeof res->nan_node, "%s", bad);
        logf_(&r, 1, "train: non-finite loss %g at step %lld (epoch %ld, batch %d): first non-finite values in %s; "
                     "the last good checkpoint is kept\n",
              loss, (long long)gstep, epoch + 1, s, bad);
        lab_run_summary sm;
        fill_summary(&r, &sm, "nan");
        char msg[400];
        snprintf(msg, sizeof msg, "non-finite loss at step %lld: %s", (long long)gstep, bad);
        sm.error = msg;
        sm.nan_step = (long long)gstep;
        sm.nan_node = bad;
        lab_error e2;
        if (r.writer) lab_run_summary_write(r.path_summary, &sm, &e2);
        st = lab_error_set(err, LAB_ERR_NUMERIC, "%s: non-finite loss at step %lld (epoch %ld): first non-finite "
                                                 "values in %s",
                           r.dir, (long long)gstep, epoch + 1, bad);
        res->epochs = r.n_rows;
        teardown(&r);
        return st;
      }
      correct += sr.correct;
      seen += (long long)n * r.ranks; /* the global batch's: the loss and count are summed */
      gstep++;
      loss_sum += loss * n * r.ranks;
      double t = now_s();
      if ((s + 1) % r.tc.log_every == 0 || (r.tty && t - last_print > 0.5) || s + 1 == n_steps) {
        double ips = (double)seen / (t - t0);
        double eta = (double)(n_steps - s - 1 + (r.tc.epochs - epoch - 1) * (double)n_steps) * r.batch / ips;
        if ((s + 1) % r.tc.log_every == 0 || !r.tty) {
          if (r.log) {
            fprintf(r.log, "epoch %ld step %d/%d loss %.4f %.1f img/s\n", epoch + 1, s + 1, n_steps,
                    loss_sum / (double)seen, ips);
            fflush(r.log);
          }
        }
        if ((s + 1) % r.tc.log_every == 0 || r.tty) progress(&r, epoch, s + 1, n_steps, loss_sum / (double)seen, ips, eta);
        last_print = t;
      }
    }
    double t_train = now_s() - t0;
    cum_sec += t_train;
    metric_row *row = &r.rows[r.n_rows];
    for (int j = 0; j < N_METRIC_COLS; j++) row->v[j] = NAN;
    row->v[M_EPOCH] = (double)(epoch + 1);
    row->v[M_STEP] = (double)gstep;
    row->v[M_LR] = lab_lr_at(&r.sched, gstep - 1);
    row->v[M_LOSS] = loss_sum / (double)seen;
    row->v[M_TRAIN1] = 100.0 * (double)(seen - correct) / (double)seen;
    row->v[M_SEC] = cum_sec;
    row->v[M_IPS] = (double)seen / t_train;
    if (((epoch + 1) % r.tc.eval_every == 0 || epoch + 1 == r.tc.epochs) &&
        (st = evaluate_all(&r, row, err)) != LAB_STATUS_OK)
      goto fail;
    r.n_rows++;
    logf_(&r, 1, "epoch %ld/%ld: loss %.4f train err %.2f%% | test err top1 %.2f%% top5 %.2f%% | EMA top1 %.2f%% "
                 "top5 %.2f%% | %.1f img/s, %.0f s (eval %.1f s)\n",
          epoch + 1, r.tc.epochs, row->v[M_LOSS], row->v[M_TRAIN1], row->v[M_T1], row->v[M_T5], row->v[M_E1],
          row->v[M_E5], row->v[M_IPS], cum_sec, now_s() - t0 - t_train);
    if (r.writer && (st = write_metrics(&r, err)) == LAB_STATUS_OK) {
      lab_ckpt_state cs = ckpt_state(&r, epoch + 1, gstep);
      st = lab_ckpt_save(r.path_ckpt, &cs, err);
    }
    if ((st = agree(&r, st, err)) != LAB_STATUS_OK) goto fail;
  }
  res->epochs = r.n_rows;
  res->finished = r.n_rows == r.tc.epochs;
  {
    lab_run_summary sm;
    fill_summary(&r, &sm, "finished");
    res->test_top1_error = sm.test_top1_error;
    res->test_top5_error = sm.test_top5_error;
    res->ema_test_top1_error = sm.ema_test_top1_error;
    res->ema_test_top5_error = sm.ema_test_top5_error;
    res->train_seconds = sm.train_seconds;
    res->images_per_second = sm.images_per_second;
    res->final_train_loss = r.n_rows ? r.rows[r.n_rows - 1].v[M_LOSS] : NAN;
    if (res->finished && r.writer && (st = lab_run_summary_write(r.path_summary, &sm, err)) != LAB_STATUS_OK)
      goto fail;
  }
  teardown(&r);
  return LAB_STATUS_OK;

fail:
  if (r.folder_ok) {
    lab_run_summary sm;
    fill_summary(&r, &sm, "failed");
    sm.error = err ? err->msg : "error";
    lab_error e2;
    lab_run_summary_write(r.path_summary, &sm, &e2);
  }
  res->epochs = r.n_rows;
  teardown(&r);
  return st;
}
