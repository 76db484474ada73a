/* layer.h: the layer contract (STYLE.md section 3) shared by every layer type.
 *
 * A layer type is one `const lab_layer_ops` object (lab_conv2d_ops, lab_batchnorm_ops, ...)
 * declared in layers.h and defined in the type's own .c file. A layer instance is created by
 * the graph from a lab_layer_cfg (which names its ops) and never allocates: the graph plans
 * the sizes each layer reports through `cost`, allocates one slab each for parameters,
 * gradients, buffers and caches, and points the layer's fields into them.
 *
 * Order of calls: shape (build) -> cost (build, and at plan for the batch size) -> graph sets
 * param/grad/buf/cache -> params, init -> forward/backward many times.
 */
#ifndef LAB_LAYER_H
#define LAB_LAYER_H

#include <stddef.h>
#include <stdint.h>

#include "lab/rng.h"
#include "lab/status.h"
#include "lab/tensor.h"

typedef struct lab_layer lab_layer;
typedef struct lab_layer_ops lab_layer_ops;

/* === per-type configuration === */
/* Convolution. Padding is asymmetric (PT PB PL PR); out = floor((H + PT + PB - KH)/SH) + 1. */
typedef struct lab_conv2d_cfg {
  int oc, kh, kw, sh, sw, pt, pb, pl, pr;
  int bias;       /* 1: a per-OC bias parameter */
  float init_std; /* > 0: truncated normal(0, init_std); 0: He normal, fan_in = IC*KH*KW */
} lab_conv2d_cfg;

/* Batch norm over N, H, W per channel. Running stats follow PyTorch's convention:
 * running = (1 - momentum) * running + momentum * batch (variance unbiased, N*H*W - 1). */
typedef struct lab_bn_cfg {
  float eps, momentum;
  int relu; /* 1: y = max(BN(x), 0), the ReLU that follows fused in (one pass, one buffer) */
} lab_bn_cfg;

typedef enum lab_pool_kind { LAB_POOL_MAX = 0, LAB_POOL_AVG = 1 } lab_pool_kind;

/* Max / average pool. count_include_pad (avg only): 1 = padded zeros are counted in the divisor
 * (PyTorch's default), 0 = only real input pixels (TensorFlow's SAME). ceil_mode as PyTorch:
 * the last window may start inside the right/bottom padding but never beyond the input. */
typedef struct lab_pool_cfg {
  lab_pool_kind kind;
  int kh, kw, sh, sw, pt, pb, pl, pr;
  int ceil_mode, count_include_pad;
} lab_pool_cfg;

/* Adaptive average pool to OH x OW with PyTorch's bins: [floor(i*H/OH), ceil((i+1)*H/OH)).
 * Global average pool = adaptive to 1x1. */
typedef struct lab_adaptive_pool_cfg {
  int oh, ow;
} lab_adaptive_pool_cfg;

/* Fully connected on the flattened C*H*W input; output shape (out, 1, 1). */
typedef struct lab_linear_cfg {
  int out;
  int bias;
  float init_std; /* > 0: truncated normal(0, init_std); 0: PyTorch's default U(+-1/sqrt(fan_in)) */
} lab_linear_cfg;

/* Inverted dropout: in training, y = x * mask / (1 - p); identity in evaluation. */
typedef struct lab_dropout_cfg {
  float p;
} lab_dropout_cfg;

typedef struct lab_layer_cfg {
  const lab_layer_ops *ops;
  union {
    lab_conv2d_cfg conv;
    lab_bn_cfg bn;
    lab_pool_cfg pool;
    lab_adaptive_pool_cfg apool;
    lab_linear_cfg linear;
    lab_dropout_cfg dropout;
  };
} lab_layer_cfg;

/* === cost, parameters, execution context === */
typedef struct lab_cost {
  uint64_t n_params;       /* trainable floats (conv W, bias iff enabled, BN gamma/beta) */
  uint64_t n_buffers;      /* non-trainable state floats (BN running mean/var) */
  uint64_t macs;           /* forward multiply-accumulates per sample (conv and linear only) */
  uint64_t act_floats;     /* output floats per sample */
  uint64_t cache_floats;   /* forward->backward cache for the whole planned batch */
  uint64_t scratch_floats; /* shared workspace needed for the whole planned batch */
} lab_cost;

typedef struct lab_param {
  char name[160];     /* "<node path>.<tensor>", e.g. "stem/conv1.weight" */
  float *value, *grad;
  size_t count;
  int decay;          /* 1: weight decay applies (conv/linear weights), 0: biases, BN */
} lab_param;

typedef struct lab_param_list {
  lab_param *items;
  int n, cap;
} lab_param_list;

void lab_param_list_add(lab_param_list *list, const char *owner, const char *tensor, float *value,
                        float *grad, size_t count, int decay);
void lab_param_list_free(lab_param_list *list);

/* Data-parallel training (lab/dist.h, lab/train.h): this process holds samples
 * [sample_offset, sample_offset + ctx->batch) of a global batch of global_batch samples
 * spread over replicas that run the same graph in lockstep. Training-mode batch norm sums
 * its per-channel statistics over every replica through `sum` (synchronised BN), and dropout
 * draws the masks of the whole global batch and keeps its own samples', so the replicas
 * compute what one process would on the global batch. */
typedef struct lab_ctx_sync {
  /* In-place sum of x (n) over every replica; all replicas call it in the same order. */
  void (*sum)(void *user, double *x, size_t n);
  void *user;
  double *work;         /* workspace for the sums: work_len doubles */
  size_t work_len;      /* >= 2 * C + 1 for every batchnorm layer of the graph */
  int sample_offset;    /* this replica's first sample in the global batch */
  int global_batch;     /* samples in the global batch (every replica's ctx->batch summed) */
} lab_ctx_sync;

typedef struct lab_ctx {
  int train;            /* 1: batch statistics, dropout on; 0: running statistics, dropout off */
  int batch;            /* N of this call, 1 <= N <= the planned batch */
  lab_rng *rng;         /* dropout masks */
  float *scratch;       /* shared workspace, at least every layer's scratch_floats */
  size_t scratch_floats;
  const lab_ctx_sync *sync; /* NULL: this process holds the whole batch (see lab_ctx_sync) */
  int bn_frozen;        /* with train: batch norm normalises with its running statistics and
                           leaves them unchanged, as in evaluation; dropout stays on
                           (train.bn_freeze_epochs) */
} lab_ctx;

/* === the instance and the ops table === */
struct lab_layer {
  const lab_layer_ops *ops;
  lab_layer_cfg cfg;
  const char *name; /* the node path, owned by the graph */
  int n_in;
  lab_shape in[LAB_MAX_INPUTS];
  lab_shape out;
  int batch;        /* planned (largest) batch */
  float *param, *grad; /* n_params floats each, grad accumulated by backward */
  float *buf;          /* n_buffers floats */
  float *cache;        /* cache_floats floats */
};

struct lab_layer_ops {
  const char *type; /* "conv2d", "batchnorm", ... */
  /* Output shape for the given inputs, or LAB_ERR_SHAPE with a message giving the
   * input shape(s) and the offending setting (the graph adds the node path). Pure. */
  lab_status (*shape)(const lab_layer_cfg *cfg, const lab_shape *in, int n_in, lab_shape *out,
                      lab_error *err);
  /* Sizes for l->cfg/in/out at batch size `batch` (batch only affects cache and scratch). */
  void (*cost)(const lab_layer *l, int batch, lab_cost *cost);
  /* Appends the trainable tensors (slices of l->param / l->grad); NULL if none. */
  void (*params)(lab_layer *l, lab_param_list *list);
  /* Fills l->param and l->buf from rng; NULL if nothing to initialise. */
  void (*init)(lab_layer *l, lab_rng *rng);
  /* x[i]: (N, in[i]), in; y: (N, out), out (overwritten). N = ctx->batch. */
  void (*forward)(lab_layer *l, const float *const *x, float *y, lab_ctx *ctx);
  /* dy: (N, out), in; dx[i]: (N, in[i]), accumulated (+=), dx[i] may be NULL;
   * parameter gradients accumulated into l->grad. Called after forward on the same x. */
  void (*backward)(lab_layer *l, const float *const *x, const float *y, const float *dy,
                   float *const *dx, lab_ctx *ctx);
};

#endif
