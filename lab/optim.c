/* optim.c: SGD (torch semantics), RMSProp (TensorFlow semantics), gradient clipping by global
 * norm. See optim.h for the exact update rules and the state layout. */
#include "lab/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

lab_optim_cfg lab_optim_cfg_rmsprop_tf(void) {
  lab_optim_cfg c = {.kind = LAB_OPTIM_RMSPROP_TF, .momentum = 0.9f, .nesterov = 0,
                     .weight_decay = 4e-5f, .rms_decay = 0.9f, .rms_eps = 1.0f, .rms_init = 1.0f};
  return c;
}

lab_optim_cfg lab_optim_cfg_sgd(void) {
  lab_optim_cfg c = {.kind = LAB_OPTIM_SGD, .momentum = 0.9f, .nesterov = 0,
                     .weight_decay = 4e-5f, .rms_decay = 0.9f, .rms_eps = 1.0f, .rms_init = 1.0f};
  return c;
}

static lab_status check_cfg(const lab_optim_cfg *c, lab_error *err) {
  if (c->kind != LAB_OPTIM_SGD && c->kind != LAB_OPTIM_RMSPROP_TF)
    return lab_error_set(err, LAB_ERR_CONFIG, "optim: unknown optimizer kind %d", (int)c->kind);
  if (!(c->momentum >= 0.0f && c->momentum < 1.0f))
    return lab_error_set(err, LAB_ERR_CONFIG, "optim: momentum must be in [0, 1), found %g", c->momentum);
  if (!(c->weight_decay >= 0.0f && isfinite(c->weight_decay)))
    return lab_error_set(err, LAB_ERR_CONFIG, "optim: weight_decay must be >= 0, found %g", c->weight_decay);
  if (c->nesterov && (c->kind != LAB_OPTIM_SGD || c->momentum <= 0.0f))
    return lab_error_set(err, LAB_ERR_CONFIG,
                         "optim: nesterov needs SGD with momentum > 0 (as torch requires)");
  if (c->kind == LAB_OPTIM_RMSPROP_TF) {
    if (!(c->rms_decay >= 0.0f && c->rms_decay < 1.0f))
      return lab_error_set(err, LAB_ERR_CONFIG, "optim: rmsprop decay must be in [0, 1), found %g", c->rms_decay);
    if (!(c->rms_eps > 0.0f && isfinite(c->rms_eps)))
      return lab_error_set(err, LAB_ERR_CONFIG, "optim: rmsprop epsilon must be > 0, found %g", c->rms_eps);
    if (!(c->rms_init >= 0.0f && isfinite(c->rms_init)))
      return lab_error_set(err, LAB_ERR_CONFIG, "optim: rmsprop initial mean square must be >= 0, found %g",
                           c->rms_init);
  }
  return LAB_STATUS_OK;
}

static int slots_of(const lab_optim_cfg *c) {
  int mom = c->momentum > 0.0f;
  return c->kind == LAB_OPTIM_RMSPROP_TF ? 1 + mom : mom;
}

lab_status lab_optim_init(lab_optim *opt, const lab_optim_cfg *cfg, const lab_param_list *params,
                          lab_error *err) {
  memset(opt, 0, sizeof *opt);
  lab_status st = check_cfg(cfg, err);
  if (st != LAB_STATUS_OK) return st;
  opt->cfg = *cfg;
  opt->params = params;
  for (int i = 0; i < params->n; i++) opt->n_floats += params->items[i].count;
  opt->n_slots = slots_of(cfg);
  size_t n = (size_t)opt->n_slots * opt->n_floats;
  if (n > 0) {
    opt->state = lab_trymalloc(n * sizeof(float));
    if (!opt->state)
      return lab_error_set(err, LAB_ERR_NOMEM, "optim: cannot allocate %zu floats of optimizer state", n);
  }
  lab_optim_reset(opt);
  return LAB_STATUS_OK;
}

void lab_optim_free(lab_optim *opt) {
  if (!opt) return;
  free(opt->state);
  memset(opt, 0, sizeof *opt);
}

void lab_optim_reset(lab_optim *opt) {
  size_t n = opt->n_floats;
  if (opt->n_slots == 0) return;
  if (opt->cfg.kind == LAB_OPTIM_RMSPROP_TF) {
    for (size_t i = 0; i < n; i++) opt->state[i] = opt->cfg.rms_init;
    if (opt->n_slots == 2) memset(opt->state + n, 0, n * sizeof(float));
  } else {
    memset(opt->state, 0, n * sizeof(float));
  }
}

float *lab_optim_state(lab_optim *opt, size_t *count) {
  *count = (size_t)opt->n_slots * opt->n_floats;
  return opt->state;
}

/* === update kernels: one tensor, `n` floats; wd already 0 for tensors without decay ===
 * Element-wise, so splitting a large tensor across OpenMP threads leaves every result
 * bit-identical whatever the thread count; small tensors (BN, biases) stay on one thread. */
#define LAB_OPTIM_PAR_MIN 16384

static void sgd_tensor(float *restrict p, const float *restrict grad, float *restrict buf, size_t n, float lr,
                       float wd, float momentum, int nesterov) {
#pragma omp parallel for schedule(static) if (n >= LAB_OPTIM_PAR_MIN)
  for (size_t i = 0; i < n; i++) {
    float g = grad[i] + wd * p[i];
    float d = g;
    if (buf) {
      buf[i] = momentum * buf[i] + g;
      d = nesterov ? g + momentum * buf[i] : buf[i];
    }
    p[i] -= lr * d;
  }
}

/* The settings are copied to locals and the arrays marked restrict (they never overlap), so the
 * loops compile to vector instructions. */
static void rmsprop_tf_tensor(float *restrict p, const float *restrict grad, float *restrict ms,
                              float *restrict mom, size_t n, float lr, float wd, const lab_optim_cfg *c) {
  const float one_minus_rho = 1.0f - c->rms_decay, eps = c->rms_eps, momentum = c->momentum;
  if (mom) {
#pragma omp parallel for schedule(static) if (n >= LAB_OPTIM_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
      const float g = grad[i] + wd * p[i];
      /* TF's kernel form of rho*ms + (1-rho)*g^2 (training_ops.cc, ApplyRMSProp). */
      const float m = ms[i] + one_minus_rho * (g * g - ms[i]);
      ms[i] = m;
      const float v = momentum * mom[i] + lr * g / sqrtf(m + eps);
      mom[i] = v;
      p[i] -= v;
    }
  } else {
#pragma omp parallel for schedule(static) if (n >= LAB_OPTIM_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
      const float g = grad[i] + wd * p[i];
      const float m = ms[i] + one_minus_rho * (g * g - ms[i]);
      ms[i] = m;
      p[i] -= lr * g / sqrtf(m + eps);
    }
  }
}

void lab_optim_step(lab_optim *opt, float lr) {
  const lab_param_list *pl = opt->params;
  const lab_optim_cfg *c = &opt->cfg;
  size_t n = opt->n_floats, off = 0;
  for (int t = 0; t < pl->n; t++) {
    const lab_param *p = &pl->items[t];
    float wd = p->decay ? c->weight_decay : 0.0f;
    if (c->kind == LAB_OPTIM_SGD) {
      float *buf = opt->n_slots ? opt->state + off : NULL;
      sgd_tensor(p->value, p->grad, buf, p->count, lr, wd, c->momentum, c->nesterov);
    } else {
      float *mom = opt->n_slots == 2 ? opt->state + n + off : NULL;
      rmsprop_tf_tensor(p->value, p->grad, opt->state + off, mom, p->count, lr, wd, c);
    }
    off += p->count;
  }
  LAB_ASSERT(off == n, "parameter list changed size after lab_optim_init (%zu vs %zu floats)", off, n);
}

/* === gradient clipping === */

/* Sum of squares of one tensor in double, in fixed chunks summed in chunk order: the chunk
 * boundaries depend only on n, so the result is the same for any thread count. */
#define LAB_CLIP_MAX_CHUNKS 256
static double sum_squares(const float *g, size_t n) {
  size_t chunk = n / LAB_CLIP_MAX_CHUNKS + 1;
  if (chunk < LAB_OPTIM_PAR_MIN) chunk = LAB_OPTIM_PAR_MIN;
  int n_chunks = (int)((n + chunk - 1) / chunk);
  double part[LAB_CLIP_MAX_CHUNKS];
#pragma omp parallel for schedule(static) if (n_chunks > 1)
  for (int c = 0; c < n_chunks; c++) {
    size_t lo = (size_t)c * chunk, hi = lo + chunk < n ? lo + chunk : n;
    /* 8 double lanes (element i to lane i % 8), added in lane order: vectorises, fixed order */
    double acc[8] = {0};
    size_t i = lo;
    for (; i + 8 <= hi; i += 8)
      for (int k = 0; k < 8; k++) acc[k] += (double)g[i + k] * (double)g[i + k];
    for (; i < hi; i++) acc[(i - lo) % 8] += (double)g[i] * (double)g[i];
    double s = 0.0;
    for (int k = 0; k < 8; k++) s += acc[k];
    part[c] = s;
  }
  double total = 0.0;
  for (int c = 0; c < n_chunks; c++) total += part[c];
  return total;
}

double lab_clip_grad_norm(const lab_param_list *params, double max_norm) {
  double sumsq = 0.0;
  for (int t = 0; t < params->n; t++) sumsq += sum_squares(params->items[t].grad, params->items[t].count);
  double norm = sqrt(sumsq);
  if (!isfinite(norm) || max_norm <= 0.0 || norm <= max_norm) return norm;
  float scale = (float)(max_norm / norm);
  for (int t = 0; t < params->n; t++) {
    const lab_param *p = &params->items[t];
#pragma omp parallel for schedule(static) if (p->count >= LAB_OPTIM_PAR_MIN)
    for (size_t i = 0; i < p->count; i++) p->grad[i] *= scale;
  }
  return norm;
}
