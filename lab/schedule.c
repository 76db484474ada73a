/* schedule.c: learning-rate schedules; see schedule.h for the formulas. */
#include "lab/schedule.h"

#include <math.h>

lab_lr_schedule lab_lr_schedule_paper(int64_t steps_per_epoch) {
  lab_lr_schedule s = {.kind = LAB_LR_STAIRCASE, .base_lr = 0.045, .decay_rate = 0.94,
                       .decay_epochs = 2.0, .steps_per_epoch = steps_per_epoch,
                       .warmup_epochs = 0.0, .warmup_start = 0.0};
  return s;
}

lab_status lab_lr_schedule_check(const lab_lr_schedule *s, lab_error *err) {
  if (s->kind != LAB_LR_CONSTANT && s->kind != LAB_LR_STAIRCASE)
    return lab_error_set(err, LAB_ERR_CONFIG, "schedule: unknown learning-rate schedule %d", (int)s->kind);
  if (!(s->base_lr > 0.0 && isfinite(s->base_lr)))
    return lab_error_set(err, LAB_ERR_CONFIG, "schedule: learning rate must be > 0, found %g", s->base_lr);
  if (s->steps_per_epoch <= 0)
    return lab_error_set(err, LAB_ERR_CONFIG, "schedule: steps per epoch must be > 0, found %lld",
                         (long long)s->steps_per_epoch);
  if (s->kind == LAB_LR_STAIRCASE) {
    if (!(s->decay_rate > 0.0 && s->decay_rate <= 1.0))
      return lab_error_set(err, LAB_ERR_CONFIG, "schedule: decay rate must be in (0, 1], found %g", s->decay_rate);
    if (!(s->decay_epochs > 0.0 && isfinite(s->decay_epochs)))
      return lab_error_set(err, LAB_ERR_CONFIG, "schedule: decay period must be > 0 epochs, found %g",
                           s->decay_epochs);
  }
  if (!(s->warmup_epochs >= 0.0 && isfinite(s->warmup_epochs)))
    return lab_error_set(err, LAB_ERR_CONFIG, "schedule: warm-up must be >= 0 epochs, found %g", s->warmup_epochs);
  if (!(s->warmup_start >= 0.0 && s->warmup_start <= 1.0))
    return lab_error_set(err, LAB_ERR_CONFIG, "schedule: warm-up start factor must be in [0, 1], found %g",
                         s->warmup_start);
  return LAB_STATUS_OK;
}

/* floor(epochs * steps_per_epoch) as TF-slim's int(...) (positive values only). */
static int64_t epochs_to_steps(double epochs, int64_t steps_per_epoch) {
  return (int64_t)floor(epochs * (double)steps_per_epoch);
}

double lab_lr_at(const lab_lr_schedule *s, int64_t step) {
  if (step < 0) step = 0;
  double lr = s->base_lr;
  if (s->kind == LAB_LR_STAIRCASE) {
    int64_t decay_steps = epochs_to_steps(s->decay_epochs, s->steps_per_epoch);
    if (decay_steps < 1) decay_steps = 1;
    lr *= pow(s->decay_rate, (double)(step / decay_steps));
  }
  int64_t warmup_steps = epochs_to_steps(s->warmup_epochs, s->steps_per_epoch);
  if (step < warmup_steps)
    lr *= s->warmup_start + (1.0 - s->warmup_start) * (double)step / (double)warmup_steps;
  return lr;
}
