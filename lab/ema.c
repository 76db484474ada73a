/* ema.c: exponential moving average of parameters (and optionally buffers); see ema.h. */
#include "lab/ema.h"

#include <stdlib.h>
#include <string.h>

lab_status lab_ema_init(lab_ema *e, const lab_param_list *params, float *extra, size_t n_extra,
                        float decay, int warmup, lab_error *err) {
  memset(e, 0, sizeof *e);
  if (!(decay >= 0.0f && decay < 1.0f))
    return lab_error_set(err, LAB_ERR_CONFIG, "ema: decay must be in [0, 1), found %g", decay);
  LAB_ASSERT(extra || n_extra == 0, "extra slab is NULL but n_extra = %zu", n_extra);
  e->decay = decay;
  e->warmup = warmup;
  e->params = params;
  e->extra = extra;
  e->n_extra = n_extra;
  for (int t = 0; t < params->n; t++) e->n_floats += params->items[t].count;
  e->n_floats += n_extra;
  e->avg = lab_trymalloc(e->n_floats * sizeof(float));
  if (!e->avg)
    return lab_error_set(err, LAB_ERR_NOMEM, "ema: cannot allocate %zu floats of averages", e->n_floats);
  size_t off = 0;
  for (int t = 0; t < params->n; t++) {
    const lab_param *p = &params->items[t];
    memcpy(e->avg + off, p->value, p->count * sizeof(float));
    off += p->count;
  }
  if (n_extra) memcpy(e->avg + off, extra, n_extra * sizeof(float));
  return LAB_STATUS_OK;
}

void lab_ema_free(lab_ema *e) {
  if (!e) return;
  free(e->avg);
  memset(e, 0, sizeof *e);
}

float lab_ema_decay_at(const lab_ema *e, int64_t step) {
  if (!e->warmup) return e->decay;
  if (step < 0) step = 0;
  /* TF computes this ratio in the variables' dtype; rounding the double ratio once to float
   * is within half an ulp of it. */
  float w = (float)((1.0 + (double)step) / (10.0 + (double)step));
  return w < e->decay ? w : e->decay;
}

/* Element-wise: threads over large tensors give bit-identical results. */
static void fold(float *restrict avg, const float *restrict v, size_t n, float one_minus_d) {
#pragma omp parallel for schedule(static) if (n >= 16384)
  for (size_t i = 0; i < n; i++) avg[i] -= one_minus_d * (avg[i] - v[i]);
}

void lab_ema_update(lab_ema *e, int64_t step) {
  LAB_ASSERT(!e->swapped, "EMA update while the averaged weights are swapped in");
  float one_minus_d = 1.0f - lab_ema_decay_at(e, step);
  size_t off = 0;
  for (int t = 0; t < e->params->n; t++) {
    const lab_param *p = &e->params->items[t];
    fold(e->avg + off, p->value, p->count, one_minus_d);
    off += p->count;
  }
  if (e->n_extra) fold(e->avg + off, e->extra, e->n_extra, one_minus_d);
  LAB_ASSERT(off + e->n_extra == e->n_floats, "parameter list changed size after lab_ema_init");
}

static void swap_floats(float *a, float *b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    float t = a[i];
    a[i] = b[i];
    b[i] = t;
  }
}

void lab_ema_swap(lab_ema *e) {
  size_t off = 0;
  for (int t = 0; t < e->params->n; t++) {
    const lab_param *p = &e->params->items[t];
    swap_floats(e->avg + off, p->value, p->count);
    off += p->count;
  }
  if (e->n_extra) swap_floats(e->avg + off, e->extra, e->n_extra);
  LAB_ASSERT(off + e->n_extra == e->n_floats, "parameter list changed size after lab_ema_init");
  e->swapped = !e->swapped;
}

float *lab_ema_state(lab_ema *e, size_t *count) {
  LAB_ASSERT(!e->swapped, "EMA state requested while the averaged weights are swapped in");
  *count = e->n_floats;
  return e->avg;
}
