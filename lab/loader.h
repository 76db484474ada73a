/* loader.h: the prefetching batch loader: dataset (+ a subset of indices) -> float NCHW batches.
 *
 * Batches are numbered by a position (epoch, batch): epoch e visits the items in an order
 * shuffled by (seed, e) (or in index order), B at a time; the last partial batch is kept or
 * dropped. A background pthread renders the next batches (augment.c) into buffers allocated
 * once at creation (prefetch + 1 of them: one held by the caller, the rest filling), so the
 * step loop never waits on pre-processing and nothing is allocated per step.
 *
 * Determinism: the order comes from (seed, epoch) and every sample's augmentation from
 * (seed, epoch, dataset index), so the batches do not depend on prefetch depth or thread
 * timing. lab_loader_tell / lab_loader_seek save and restore the position so that a resumed
 * run sees exactly the batches an uninterrupted one would.
 *
 * A shard (cfg.shard_offset/shard_n) renders one replica's slice of every batch only, so K
 * data-parallel ranks share the pre-processing instead of each rendering the whole batch.
 *
 * Shape letters: N samples in a batch (<= B), C H W one network input.
 */
#ifndef LAB_LOADER_H
#define LAB_LOADER_H

#include <stdint.h>

#include "lab/augment.h"
#include "lab/data.h"
#include "lab/status.h"

typedef struct lab_loader_cfg {
  int batch;        /* B */
  int drop_last;    /* 1: drop an epoch's last partial batch; 0: keep it (N < B) */
  int shuffle;      /* 1: per-epoch order shuffled by (seed, epoch); 0: the given order */
  uint64_t seed;    /* order and augmentation */
  int prefetch;     /* batches prepared ahead, >= 1 (2 = double buffering behind the held one) */
  int threaded;     /* 1: a background thread; 0: render inside lab_loader_next (same batches) */
  lab_transform_cfg tf;
  /* Data-parallel replicas (lab/train.h): render and deliver only the samples [shard_offset,
   * shard_offset + shard_n) of every batch, with the order and augmentation they have in the
   * whole batch (N = shard_n). shard_n 0: the whole batch. Needs drop_last (full batches). */
  int shard_offset, shard_n;
} lab_loader_cfg;

/* Batch B, keep the last partial batch, shuffle, prefetch 2, threaded, with the given
 * transform. */
void lab_loader_cfg_default(lab_loader_cfg *cfg, int batch, uint64_t seed, const lab_transform_cfg *tf);

typedef struct lab_batch {
  int n;            /* samples (B, or fewer for a kept last partial batch) */
  int epoch, index; /* the position this batch has */
  float *x;         /* (N, C, H, W) network input */
  int32_t *y;       /* (N) labels */
  int32_t *sample;  /* (N) dataset index of each sample */
} lab_batch;

typedef struct lab_loader lab_loader;

/* items: the dataset indices to iterate (copied), NULL for all ds->n. The dataset must outlive
 * the loader and stay unchanged. Starts at position (0, 0). */
lab_status lab_loader_new(const lab_dataset *ds, const int *items, int n_items, const lab_loader_cfg *cfg,
                          lab_loader **out, lab_error *err);
int lab_loader_batches_per_epoch(const lab_loader *l);
int lab_loader_n_items(const lab_loader *l);
/* The batch at the current position, then advances it (epoch e's last batch is followed by
 * (e + 1, 0)). Blocks until it is ready. The batch and its buffers stay valid until the next
 * call to lab_loader_next, lab_loader_seek or lab_loader_free. */
const lab_batch *lab_loader_next(lab_loader *l);
/* The position of the batch the next lab_loader_next returns. */
void lab_loader_tell(const lab_loader *l, int *epoch, int *batch);
/* Moves to (epoch, batch); prefetched work is discarded. LAB_ERR_USAGE if batch is outside
 * [0, batches_per_epoch) or epoch < 0. */
lab_status lab_loader_seek(lab_loader *l, int epoch, int batch, lab_error *err);
/* The dataset indices of batch (epoch, batch) in order: n_out = its size (what the loader will
 * deliver there, before any shard is taken; no rendering). idx: (B), out. Allocates a temporary order (not for the step
 * loop: for tests, logs and checks). */
void lab_loader_batch_items(const lab_loader *l, int epoch, int batch, int *idx, int *n_out);
/* Stops and joins the thread, frees the buffers; accepts NULL. */
void lab_loader_free(lab_loader *l);

#endif
