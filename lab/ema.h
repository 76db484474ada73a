/* ema.h: exponential moving average of the parameters, used for evaluation (paper Sect. 8:
 * "a running average of the parameters computed over time"; TF's Inception trainer,
 * tf.train.ExponentialMovingAverage(0.9999, num_updates=global_step)).
 *
 * The average covers every tensor of a lab_param_list plus, optionally, one extra float slab:
 * pass the BN running statistics there to average them too, as TF's trainer does
 * (trainable variables + moving-average variables) and timm's ModelEma does (the whole
 * state dict).
 *
 *   d   = warmup ? min(decay, (1 + step) / (10 + step)) : decay
 *   avg = avg - (1 - d) * (avg - value)          (TF's assign_moving_average form)
 *
 * The average starts as a copy of the values at lab_ema_init (TF initialises the shadow
 * variable with the variable's value). With the warm-up, step 0 gives d = 0.1, and the full
 * 0.9999 is reached at step 89991: short runs still get a meaningful average.
 *
 * Evaluation: lab_ema_swap exchanges the averaged and the live values in place (no
 * allocation, bit-exact both ways); call it again to restore. While swapped, updates are a
 * bug (asserted).
 */
#ifndef LAB_EMA_H
#define LAB_EMA_H

#include <stddef.h>
#include <stdint.h>

#include "lab/layer.h"
#include "lab/status.h"

typedef struct lab_ema {
  float decay;  /* 0.9999 */
  int warmup;   /* 1: TF's num_updates warm-up */
  const lab_param_list *params; /* borrowed */
  float *extra;                 /* borrowed, may be NULL (BN running statistics) */
  size_t n_extra;
  size_t n_floats;              /* params' floats + n_extra */
  float *avg;                   /* owned slab: params in list order, then extra */
  int swapped;                  /* 1 while the averages are in the network */
} lab_ema;

/* Checks decay in [0, 1) (LAB_ERR_CONFIG), allocates the average slab and copies the current
 * values into it. params and extra are borrowed. */
lab_status lab_ema_init(lab_ema *e, const lab_param_list *params, float *extra, size_t n_extra,
                        float decay, int warmup, lab_error *err);
void lab_ema_free(lab_ema *e);

/* The decay used at 0-based step `step` (see the formula above). */
float lab_ema_decay_at(const lab_ema *e, int64_t step);

/* Folds the current values into the average; step = 0-based index of the optimizer step
 * just applied (the trainer's global step before incrementing it). */
void lab_ema_update(lab_ema *e, int64_t step);

/* Exchanges averages and live values (in: evaluate with averages; again: back to training). */
void lab_ema_swap(lab_ema *e);

/* The average slab for checkpoints (*count floats). Asserts the averages are not swapped in. */
float *lab_ema_state(lab_ema *e, size_t *count);

#endif
