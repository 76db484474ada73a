/* optim.h: the parameter updates of training (paper Sect. 8): SGD with momentum as
 * torch.optim.SGD computes it, RMSProp as TensorFlow's ApplyRMSProp kernel computes it, the
 * L2 weight decay of TF-slim's regularizer, and gradient clipping by global norm
 * (tf.clip_by_global_norm).
 *
 * Everything walks one lab_param_list (lab/layer.h): value and grad of `count` floats per
 * tensor, `decay` = 1 where weight decay applies. The optimizer state lives in one slab,
 * allocated once by lab_optim_init; lab_optim_step never allocates.
 *
 * Update rules, per element, g = grad + wd * value if the tensor's decay flag is set, else grad
 * (weight decay is an L2 term wd/2 * sum(w^2) added to the loss, i.e. coupled: it goes through
 * momentum and through RMSProp's normalisation, as in TF-slim and torch's weight_decay; it is
 * NOT AdamW-style decoupled decay):
 *
 *   SGD (torch.optim.SGD, dampening 0):
 *     buf = momentum * buf + g                (buf starts at 0, so step 1 gives buf = g)
 *     d   = nesterov ? g + momentum * buf : buf      (d = g when momentum == 0)
 *     p  -= lr * d
 *
 *   RMSProp, TensorFlow semantics (tf.train.RMSPropOptimizer, centered = False):
 *     ms  += (1 - rms_decay) * (g*g - ms)     (= rms_decay*ms + (1-rms_decay)*g^2, TF's form)
 *     mom  = momentum * mom + lr * g / sqrt(ms + eps)
 *     p   -= mom
 *   ms starts at rms_init = 1.0 (TF's ones initializer), mom at 0. eps (1.0 in the paper) is
 *   inside the square root. torch.optim.RMSprop differs on both counts (ms starts at 0, eps is
 *   added after the square root) and also scales by lr after the momentum buffer: do not
 *   compare the two directly (tests/test_optim.c shows the difference).
 *
 * Order in the step loop: zero grads, forward, backward, lab_clip_grad_norm, lab_optim_step,
 * lab_ema_update. The L2 term is added inside lab_optim_step, so it is not part of the clipped
 * norm (in TF-slim the regularisation gradient is inside the clipped total; with wd = 4e-5
 * the difference is negligible, and keeping it out makes the reported norm the loss's own).
 *
 * State slab layout (lab_optim_state): slot-major, i.e. all tensors' slot 0 in list order,
 * then all tensors' slot 1. SGD: slot 0 = momentum buffer (none when momentum == 0).
 * RMSProp: slot 0 = ms, slot 1 = mom (none when momentum == 0).
 */
#ifndef LAB_OPTIM_H
#define LAB_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "lab/layer.h"
#include "lab/status.h"

/* Stored in checkpoints' config hashes through the config: values are append-only. */
typedef enum lab_optim_kind { LAB_OPTIM_SGD = 0, LAB_OPTIM_RMSPROP_TF = 1 } lab_optim_kind;

typedef struct lab_optim_cfg {
  lab_optim_kind kind;
  float momentum;     /* SGD and RMSProp; 0 disables the momentum slot */
  int nesterov;       /* SGD only: 1 = Nesterov momentum as torch computes it */
  float weight_decay; /* L2 coefficient for tensors with decay = 1 (TF-slim: 4e-5) */
  float rms_decay;    /* RMSProp: 0.9 */
  float rms_eps;      /* RMSProp: 1.0, inside the square root */
  float rms_init;     /* RMSProp: initial mean square, 1.0 as TF */
} lab_optim_cfg;

/* The paper's best setting: RMSProp decay 0.9, eps 1.0, momentum 0.9, weight decay 4e-5. */
lab_optim_cfg lab_optim_cfg_rmsprop_tf(void);
/* SGD with momentum 0.9, no Nesterov, weight decay 4e-5. */
lab_optim_cfg lab_optim_cfg_sgd(void);

typedef struct lab_optim {
  lab_optim_cfg cfg;
  const lab_param_list *params; /* borrowed; must outlive the optimizer, same tensors each step */
  size_t n_floats;              /* sum of the tensors' counts */
  int n_slots;                  /* state floats = n_slots * n_floats */
  float *state;                 /* owned slab */
} lab_optim;

/* Checks cfg (LAB_ERR_CONFIG with the offending value), allocates the state slab for
 * `params` and sets it to its initial values. `params` is borrowed. */
lab_status lab_optim_init(lab_optim *opt, const lab_optim_cfg *cfg, const lab_param_list *params,
                          lab_error *err);
void lab_optim_free(lab_optim *opt);

/* One update of every tensor in the list with learning rate lr (from lab/schedule.h), using
 * the gradients as they are (clip first). Neither zeroes nor reads anything but value/grad. */
void lab_optim_step(lab_optim *opt, float lr);

/* The state slab for checkpoints: *count floats (0 and maybe NULL when stateless: SGD with
 * momentum 0). Valid until lab_optim_free. */
float *lab_optim_state(lab_optim *opt, size_t *count);
/* Back to the initial state (ms = rms_init, momentum buffers 0). */
void lab_optim_reset(lab_optim *opt);

/* Global L2 norm of all gradients, summed in double in list order (deterministic). If it
 * exceeds max_norm > 0, every gradient is multiplied by (float)(max_norm / norm) (TF's
 * clip_by_global_norm: no epsilon; unlike torch's clip_grad_norm_, which adds 1e-6).
 * max_norm <= 0 only measures. A non-finite norm leaves the gradients untouched: the caller
 * must check the returned value (isfinite) and stop the run. Returns the pre-clip norm. */
double lab_clip_grad_norm(const lab_param_list *params, double max_norm);

#endif
