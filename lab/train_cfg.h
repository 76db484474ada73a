/* train_cfg.h: the `data:` and `train:` sections of a run's configuration, read strictly.
 *
 * Every key, its type, default and bounds live in ONE table (train_cfg.c, `lab_train_keys`);
 * `lab train --help-keys` prints it. An unknown key is an error at its FILE:LINE:COL naming
 * the known keys, closest first; a wrong type or out-of-range value names the key, the
 * expected range and the text found. Absent keys take their defaults.
 *
 *   data:
 *     dataset: fashion-mnist   # fashion-mnist | mnist | cifar-10 | cifar-100 | folder
 *     dir: null                # null: the dataset's default folder
 *     train_subset: 0          # > 0: train on this many images (a seeded choice), 0: all
 *     test_subset: 0           # > 0: evaluate on the first this many test images
 *     val_count: 0             # held-out validation images from the training set (count,
 *     val_fraction: 0.0        #   or fraction when val_count is 0), evaluated each epoch
 *     pad: 0                   # training: random crop with this zero padding (output pixels)
 *     hflip: true              # training: horizontal flip p = 0.5
 *     random_resized_crop: false  # training: Inception-style crop (image folders)
 *     eval_crop: 0.0           # evaluation centre-crop fraction; 0: whole-image resize
 *     normalize: true          # per-channel mean/std of the training images; false: p/255
 *     prefetch: 2              # batches the loader prepares ahead
 *   train:
 *     epochs: 10, batch: 32, threads: 2, optimizer: rmsprop (| sgd),
 *     lr: 0.045, lr_schedule: exponential (| constant), lr_decay_rate: 0.94,
 *     lr_decay_epochs: 2.0, warmup_epochs: 0.0, warmup_start: 0.1,
 *     momentum: 0.9, nesterov: false, weight_decay: 4e-5, rms_decay: 0.9, rms_eps: 1.0,
 *     rms_init: 1.0, clip_norm: 2.0 (0: off), label_smoothing: 0.1, aux_weight: 0.4,
 *     ema: true, ema_decay: 0.9999, ema_warmup: true, ema_buffers: true,
 *     bn_freeze_epochs: 0.0 (the last this many epochs train with batch norm frozen: running
 *     statistics, not updated, as evaluation uses them; < epochs),
 *     bn_recalibrate: 0 (> 0: before each evaluation, re-estimate the BN statistics of the
 *     evaluated weights over this many training batches, lab/bn_calib.h),
 *     eval_every: 1 (epochs; the last epoch is always evaluated), log_every: 50 (steps)
 * (paper Sect. 8 values; lab/optim.h, lab/schedule.h, lab/ema.h say what each one does.)
 */
#ifndef LAB_TRAIN_CFG_H
#define LAB_TRAIN_CFG_H

#include <stdio.h>

#include "lab/config.h"
#include "lab/optim.h"
#include "lab/status.h"

typedef struct lab_data_cfg {
  int dataset; /* index into lab_data_names */
  char dir[512]; /* "" = default */
  long train_subset, test_subset, val_count;
  double val_fraction;
  long pad;
  int hflip, random_resized_crop, normalize;
  double eval_crop;
  long prefetch;
} lab_data_cfg;

typedef struct lab_train_cfg {
  long epochs, batch, threads;
  int optimizer;   /* 0 sgd, 1 rmsprop (lab_optim_kind) */
  double lr;
  int lr_schedule; /* 0 constant, 1 exponential (lab_lr_kind) */
  double lr_decay_rate, lr_decay_epochs, warmup_epochs, warmup_start;
  double momentum;
  int nesterov;
  double weight_decay, rms_decay, rms_eps, rms_init;
  double clip_norm, label_smoothing, aux_weight;
  int ema, ema_warmup, ema_buffers;
  double ema_decay;
  double bn_freeze_epochs;
  long bn_recalibrate;
  long eval_every, log_every;
} lab_train_cfg;

extern const char *const lab_data_names[]; /* "fashion-mnist", "mnist", ... (lab_dataset_load names) */

/* Fills both structs with the defaults, then reads row's `data:` and `train:` maps (either
 * may be absent). Also checks the row's top-level keys (network, data, train). row may be
 * NULL (defaults only). */
lab_status lab_train_cfg_read(const lab_cfg_node *row, lab_data_cfg *data, lab_train_cfg *train,
                              lab_error *err);

/* The optimizer the train: section asks for (kind and every hyper-parameter). */
lab_optim_cfg lab_train_optim_cfg(const lab_train_cfg *tc);

/* 1 if path is "data.KEY" or "train.KEY" for a KEY of the table (the CLI sets such keys even
 * where the experiment file leaves them at their defaults). */
int lab_train_cfg_known(const char *path);

/* The key table, one line per key: section.key, type, default, bounds. */
void lab_train_cfg_print_keys(FILE *f);

#endif
