/* bn_calib.h: "precise BN": re-estimating the batch-norm running statistics of fixed weights.
 *
 * The running statistics that training keeps (momentum 0.1: mostly the last ~10 batches,
 * computed with weights that kept moving) need not match the weights that are evaluated, and
 * those averaged by the EMA (ema_buffers) are an average over other weights altogether.
 * lab_bn_recalibrate replaces every batch-norm layer's running mean and variance by the
 * arithmetic mean, over `batches` batches, of each batch's statistics (variance unbiased, as
 * the running update keeps it) computed with the graph's current weights: training-mode
 * forwards with momentum 1 / (k + 1) for the k-th batch (Wu & Johnson 2021, "Rethinking
 * 'Batch' in BatchNorm", Sect. 3; fvcore's PreciseBN). Parameters are not touched and the
 * momenta are restored.
 *
 * ld delivers the batches (at most the graph's planned batch each): the caller gives a loader
 * over training images with the evaluation transform; it is moved to position (0, 0) first,
 * so the same weights always get the same statistics. Batches past its epoch continue into
 * the next epoch.
 */
#ifndef LAB_BN_CALIB_H
#define LAB_BN_CALIB_H

#include "lab/graph.h"
#include "lab/loader.h"
#include "lab/status.h"

/* Number of batch-norm layers in g (0: nothing to recalibrate). */
int lab_bn_count(const lab_graph *g);

/* The loader a run's evaluation recalibrates over (train.bn_recalibrate): the training items,
 * shuffled by the run's seed, the evaluation transform tf, full batches of `batch`. lab eval
 * builds the same one to reproduce a run's numbers. */
lab_status lab_bn_calib_loader(const lab_dataset *ds, const int *items, int n_items, int batch, uint64_t seed,
                               const lab_transform_cfg *tf, lab_loader **out, lab_error *err);

/* See above. batches >= 1. */
lab_status lab_bn_recalibrate(lab_graph *g, lab_loader *ld, int batches, lab_error *err);

#endif
