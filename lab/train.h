/* train.h: one training run (paper Sect. 8 recipe) and evaluation of a network on a dataset.
 *
 * The step loop, per batch of the training loader (drop_last: BN on one sample is undefined):
 *   zero grads -> graph forward (train mode) -> label-smoothed cross-entropy on "logits"
 *   (+ aux_weight x the same on "aux_logits" when the graph marks one) -> backward ->
 *   clip by global norm -> optimizer step at lab_lr_at(global step) -> EMA update.
 * Nothing is allocated inside it. After each epoch (every eval_every, and the last): top-1/5
 * error on the test set (and the validation split when configured) with the raw weights and
 * with the EMA weights (swapped in, eval mode, swapped back); then metrics.tsv and
 * checkpoint.bin are rewritten atomically, in that order (a resume drops metric rows beyond the
 * checkpoint's epoch). summary.json at the end or on failure. Files: run-contract.md.
 *
 * Determinism: the seed fixes the initial weights (lab_graph_init), the data order and every
 * augmentation (the loader: (seed, epoch, index)) and dropout (one stream saved in the
 * checkpoint); with a fixed thread count two runs give identical metrics, and a resumed run
 * ends with the metrics of an uninterrupted one.
 *
 * Data-parallel (job->dist of K > 1 ranks, `mpirun -np K lab train`; lab/dist.h): every rank
 * runs the same loader (same seed, same order) and renders only its slice [r*B/K, (r+1)*B/K)
 * of each global batch of B (loader shards); the step above runs on the slice with batch norm
 * synchronised over the ranks and dropout masks drawn for the whole batch (lab_ctx_sync), then
 * the gradient slab is summed over the ranks (one all-reduce) and divided by K: each rank's
 * loss is the mean over its B/K samples, so that is the gradient of the global batch's mean
 * loss. Clipping, optimizer and EMA then run alike on every rank (the parameters, broadcast
 * from rank 0 at the start, stay identical). The step's loss and top-1 count are the global
 * batch's. Evaluation: each rank takes a contiguous slice of the test (and validation) images
 * and the correct counts are summed. Only rank 0 writes files; every rank reads the checkpoint
 * on --resume. A failure on one rank is agreed at the next synchronisation point (setup, each
 * epoch's files) so that no rank waits for ever. K replicas of B/K give the result of one
 * process on B up to summation order (tests/test_dist.c).
 *
 * Errors in percent everywhere (100 - accuracy).
 */
#ifndef LAB_TRAIN_H
#define LAB_TRAIN_H

#include <stdint.h>

#include "lab/config.h"
#include "lab/data.h"
#include "lab/dist.h"
#include "lab/graph.h"
#include "lab/status.h"
#include "lab/train_cfg.h"

typedef struct lab_train_job {
  lab_graph *graph;          /* built, NOT planned: the trainer plans it for train.batch */
  const lab_cfg_node *row;   /* the row's effective configuration (network, data, train) */
  const char *experiment;    /* names, for config.yaml / summary.json */
  const char *variant;
  const char *experiment_file; /* recorded in config.yaml's header (presets are found beside it) */
  long seed;
  const char *out_dir;       /* the run folder (created if missing) */
  int resume;                /* 1: continue from out_dir/checkpoint.bin when present */
  int quiet;                 /* 1: no progress on stderr (log.txt still written) */
  int threads;               /* > 0 overrides train.threads */
  int stop_after_epochs;     /* > 0: return after this many epochs are complete (as if
                                interrupted; no summary), for tests of --resume */
  /* Optional in-memory datasets instead of data.dataset/dir (tests); borrowed. */
  const lab_dataset *train_set, *test_set;
  /* NULL (or size 1): one process. Else this rank's communicator: every rank calls
   * lab_train_run with the same job, and the run is trained data-parallel (above);
   * train.batch must be a multiple of dist->size. Borrowed. lab sweep keeps NULL. */
  const lab_dist *dist;
} lab_train_job;

typedef struct lab_train_result {
  int finished;              /* 1: all epochs done */
  long epochs;               /* epochs completed */
  double test_top1_error, test_top5_error, ema_test_top1_error, ema_test_top5_error;
  double final_train_loss;
  double train_seconds, images_per_second;
  long long nan_step;        /* -1 unless the loss (or gradient) turned non-finite */
  char nan_node[256];
} lab_train_result;

/* === one optimisation step (the loop body, exposed for tests) === */
#include "lab/ema.h"
#include "lab/optim.h"

typedef struct lab_step {
  lab_graph *g;                /* planned */
  int out_logits, out_aux, k;  /* output node ids (out_aux -1: none), classes */
  float label_smoothing, aux_weight;
  double clip_norm;            /* <= 0: no clipping */
  lab_optim *opt;
  lab_ema *ema;                /* NULL: no average */
  lab_rng *rng;                /* dropout stream */
  float *prob, *prob_aux;      /* (planned batch, K) workspace */
  /* Data-parallel: NULL (or size 1) for one process. Else the step's x is this rank's slice
   * of the global batch, sync (required) synchronises BN and dropout over the ranks, and the
   * loss, the top-1 count and the gradients are summed over the ranks. */
  const lab_dist *dist;
  const lab_ctx_sync *sync;
  int bn_frozen;               /* 1: batch norm as in evaluation (lab_ctx.bn_frozen) */
} lab_step;

typedef struct lab_step_result {
  double loss;        /* main loss + aux_weight * aux loss (label-smoothed, (global) batch mean) */
  double grad_norm;   /* before clipping */
  int correct;        /* top-1 correct in the (global) batch (training-mode logits) */
  char bad[256];      /* when non-finite: the first node with non-finite activations, or
                         "<param> (gradient)" */
} lab_step_result;

/* zero grads, forward (train), loss, backward, [sum over ranks], clip, optimizer step at lr,
 * EMA update at global_step. x: (N, input shape), y: (N): N = this rank's samples.
 * LAB_ERR_NUMERIC (no update made) when the loss or the gradient norm is not finite, with
 * res->bad naming where (on every rank alike: the test uses the summed values). A failed
 * all-reduce aborts (the ranks are out of step). Never allocates. */
lab_status lab_train_step(const lab_step *s, const float *x, const int32_t *y, int n, double lr,
                          int64_t global_step, lab_step_result *res);

/* The configuration hash that names a run's configuration: lab_cfg_hash of the row's
 * effective tree (defaults are NOT filled in), as 16 hex digits. hex: >= 17 bytes. */
char *lab_train_config_hash(const lab_cfg_node *row, char *hex);

/* Trains one run (see above). LAB_ERR_NUMERIC for a NaN/Inf loss (summary status "nan"),
 * other errors as returned by the readers (summary status "failed" once the folder exists). */
lab_status lab_train_run(const lab_train_job *job, lab_train_result *res, lab_error *err);

/* Loads data.dataset (train = 1: training set, 0: test set) from data.dir, with its
 * errors naming the file. */
lab_status lab_train_load_data(const lab_data_cfg *d, int train, lab_dataset *ds, lab_error *err);

/* The images a run trains on and validates on, from a training set of n images: the
 * validation split (val_count / val_fraction) and then train_subset, both drawn with fixed
 * seeds (the same for every run seed). Both lists are new (free), ascending. */
void lab_train_split(const lab_data_cfg *d, int n, int **train_idx, int *n_train, int **val_idx, int *n_val);

/* Per-channel normalisation of data cfg d for a network input of c channels: mean/std of the
 * listed training images when d->normalize (grey replicated to 3 channels), else 0/1. */
void lab_train_norm(const lab_data_cfg *d, const lab_dataset *train, const int *idx, int n_idx, int c,
                    float mean[3], float std[3]);

/* A blk_preset_loader (blocks/network.h) for `preset: NAME`: reads the top-level `network` map
 * of DIR/NAME.yaml or DIR/networks/NAME.yaml, ctx = DIR (const char *, NULL = "."). */
lab_status lab_preset_load(const char *name, void *ctx, lab_cfg_node **net, lab_error *err);

/* Softmax of logits (N, K) into p (N, K), in double internally. */
void lab_softmax(const float *logits, int n, int k, float *p);

#endif
