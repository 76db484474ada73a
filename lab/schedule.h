/* schedule.h: learning rate as a pure function of the global step (paper Sect. 8: 0.045,
 * decayed every two epochs by an exponential rate of 0.94).
 *
 * step is 0-based: the index of the update about to be made; epoch = step / steps_per_epoch.
 *
 *   constant:   lr(step) = base_lr
 *   staircase:  lr(step) = base_lr * decay_rate ^ floor(step / decay_steps),
 *               decay_steps = max(1, floor(decay_epochs * steps_per_epoch))
 *               (tf.train.exponential_decay(staircase=True) with TF-slim's
 *               decay_steps = int(steps_per_epoch * num_epochs_per_decay))
 *
 * Optional linear warm-up over warmup_steps = floor(warmup_epochs * steps_per_epoch) steps,
 * multiplying the schedule above (torch's LinearLR chained with the decay):
 *   lr(step) *= warmup_start + (1 - warmup_start) * step / warmup_steps   for step < warmup_steps
 * so step 0 uses warmup_start * lr and the factor reaches 1 at step warmup_steps. The decay
 * counts steps from 0, not from the end of the warm-up.
 *
 * A pure function of the step: resuming from a checkpoint needs only the global step.
 */
#ifndef LAB_SCHEDULE_H
#define LAB_SCHEDULE_H

#include <stdint.h>

#include "lab/status.h"

/* Values are append-only (configs name them: "constant", "exponential"). */
typedef enum lab_lr_kind { LAB_LR_CONSTANT = 0, LAB_LR_STAIRCASE = 1 } lab_lr_kind;

typedef struct lab_lr_schedule {
  lab_lr_kind kind;
  double base_lr;          /* 0.045 */
  double decay_rate;       /* staircase: 0.94 */
  double decay_epochs;     /* staircase: 2.0 */
  int64_t steps_per_epoch; /* > 0: optimizer steps in one epoch (ceil or floor: the loop's choice) */
  double warmup_epochs;    /* 0: no warm-up */
  double warmup_start;     /* factor at step 0 of the warm-up, in [0, 1] */
} lab_lr_schedule;

/* The paper's schedule: 0.045 * 0.94^floor(epoch / 2), no warm-up. */
lab_lr_schedule lab_lr_schedule_paper(int64_t steps_per_epoch);

/* LAB_ERR_CONFIG naming the offending field and value. */
lab_status lab_lr_schedule_check(const lab_lr_schedule *s, lab_error *err);

/* Learning rate for 0-based global step `step` (>= 0). Computed in double. */
double lab_lr_at(const lab_lr_schedule *s, int64_t step);

#endif
