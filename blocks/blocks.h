/* blocks.h: the block library. A block is a function that, given its typed parameters and an
 * input node, appends layer nodes (conv, bn, relu, pool, concat, linear, dropout) to a
 * lab_graph and returns its output node. Blocks hold no kernels, call no BLIS and touch no
 * files (DESIGN.md); every width is a parameter so that network presets are data.
 *
 * Registry: each block family registers one blk_def per name: the builder plus a typed
 * parameter schema (name, type, default, bounds or choices, one-line doc). The network
 * builder (network.h) reads a YAML block entry against that schema, so an unknown block or
 * parameter is an error with FILE:LINE:COL and the known names, closest first.
 *
 * The basic unit is Conv -> BN -> ReLU (blk_conv_unit): BN can be switched off network-wide
 * (GoogLeNet as published), the conv bias follows `conv_bias` (auto = a bias iff no BN
 * follows, which is what every reference network does), and the first half of a factorized
 * convolution can drop its ReLU (`factorization_activation: linear`, the paper's Fig. 2
 * control).
 *
 * Widths: every conv / hidden FC width d becomes max(int(d * width), min_depth) (TF-slim's
 * depth multiplier); class counts and pass-through pools are never scaled.
 */
#ifndef BLK_BLOCKS_H
#define BLK_BLOCKS_H

#include <stddef.h>

#include "lab/graph.h"
#include "lab/status.h"

/* === options shared by every block of a network === */
typedef enum blk_bias_mode { BLK_BIAS_AUTO = 0, BLK_BIAS_ON = 1, BLK_BIAS_OFF = 2 } blk_bias_mode;

typedef struct blk_net_opts {
  double width;     /* depth multiplier (> 0) */
  int min_depth;    /* floor on every scaled width */
  int classes;      /* logits */
  int in_channels;  /* C of the input image */
  int image_size;   /* H = W of the input image */
  int bn;           /* 1: BatchNorm after every conv of a conv unit */
  double bn_eps, bn_momentum;
  blk_bias_mode conv_bias;
  int factor_linear; /* 1: no ReLU between the halves of a factorized conv */
} blk_net_opts;

/* The state a builder works with. `opt` is the effective option set for the current block
 * (network options overridden by the block's own bn / conv_bias / ... keys). */
typedef struct blk_builder {
  lab_graph *g;
  blk_net_opts opt;
  lab_error *err;
  char *notes;      /* messages such as "aux head shrunk to the map", '\n'-separated */
  size_t notes_cap;
} blk_builder;

/* Appends one line to b->notes (silently truncated when full). */
void blk_note(blk_builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* max(int(d * width), min_depth); d == 0 stays 0 ("branch absent"). */
int blk_depth(const blk_builder *b, int d);

/* === the Conv -> BN -> ReLU unit === */
typedef struct blk_conv {
  int oc;             /* output channels, already scaled (blk_depth) */
  int kh, kw;         /* kernel */
  int sh, sw;         /* stride; 0 means 1 */
  int pt, pb, pl, pr; /* explicit padding, used unless `same` */
  int same;           /* keep H x W at stride 1: pad (k-1)/2 before, the rest after */
  int linear;         /* 1: no ReLU (first half of a factorized conv, when configured) */
  int no_bn;          /* 1: no BN even if the network has BN (a head that wants none) */
  float init_std;     /* conv init; 0 = the layer's default (He normal) */
} blk_conv;

/* Adds scope `name` holding conv [+ bn] [+ relu] on node x; returns the last node or a
 * negative lab_status (b->err says where and which shapes). */
int blk_conv_unit(blk_builder *b, const char *name, int x, const blk_conv *c);
/* Square kernel k, stride s, padding p (symmetric); oc is the UNSCALED width. */
int blk_cbr(blk_builder *b, const char *name, int x, int oc, int k, int s, int p);
/* kh x kw kernel, stride 1, "same" padding; oc UNSCALED; linear = drop the ReLU. */
int blk_cbr_same(blk_builder *b, const char *name, int x, int oc, int kh, int kw, int linear);
/* Max/avg pool with PyTorch semantics (count_include_pad = 1 for avg). */
int blk_pool(blk_builder *b, const char *name, int x, int avg, int k, int s, int p, int ceil_mode);
int blk_concat(blk_builder *b, const char *name, const int *xs, int n);
/* Linear [+ BN] [+ ReLU]; out is NOT scaled here. */
int blk_linear(blk_builder *b, const char *name, int x, int out, int bn, int relu, float init_std);

/* === the registry === */
typedef enum blk_ptype { BLK_P_INT = 0, BLK_P_DOUBLE = 1, BLK_P_BOOL = 2, BLK_P_ENUM = 3 } blk_ptype;

#define BLK_MAX_PARAMS 24
#define BLK_MAX_CHOICES 6

typedef struct blk_param_def {
  const char *name;
  blk_ptype type;
  double def;        /* default (ENUM: index into choices; BOOL: 0/1) */
  double min, max;   /* INT / DOUBLE bounds */
  const char *choices[BLK_MAX_CHOICES]; /* ENUM, NULL-terminated */
  const char *doc;
} blk_param_def;

typedef enum blk_role {
  BLK_ROLE_MAIN = 0, /* output feeds the next block */
  BLK_ROLE_AUX = 1,  /* a side head: marks its own output, the main path continues from its input */
  BLK_ROLE_HEAD = 2  /* the classifier: marks "logits" */
} blk_role;

typedef struct blk_args {
  const struct blk_def *def;
  double v[BLK_MAX_PARAMS]; /* in schema order */
  const char *output;       /* output name for heads ("logits", "aux_logits", ...) */
} blk_args;

typedef struct blk_def {
  const char *name;
  const char *summary;
  blk_role role;
  int factorizes; /* accepts factorization_activation */
  const blk_param_def *params;
  int n_params;
  /* x: input node; returns the output node (>= 1) or a negative lab_status. */
  int (*build)(blk_builder *b, const blk_args *a, int x);
} blk_def;

/* The i-th registered block in a stable (documentation) order; NULL past the end. */
const blk_def *blk_registry_get(int i);
int blk_registry_count(void);
const blk_def *blk_find(const char *name);
/* Index of `name` in def's schema, -1 if absent. */
int blk_param_index(const blk_def *def, const char *name);
/* The schema defaults. */
void blk_args_default(const blk_def *def, blk_args *a);
/* Value of a schema parameter (aborts if the block has no such parameter: a bug). */
double blk_arg(const blk_args *a, const char *name);
int blk_iarg(const blk_args *a, const char *name);

/* Schema rows for the family tables: a width (0 allowed where a branch may be absent),
 * an integer, a real, a boolean, an enumeration (default = index into the choices). */
#define BLK_PW(n, d, lo, doc_) {.name = (n), .type = BLK_P_INT, .def = (d), .min = (lo), .max = 16384, .doc = (doc_)}
#define BLK_PI(n, d, lo, hi, doc_) {.name = (n), .type = BLK_P_INT, .def = (d), .min = (lo), .max = (hi), .doc = (doc_)}
#define BLK_PD(n, d, lo, hi, doc_) {.name = (n), .type = BLK_P_DOUBLE, .def = (d), .min = (lo), .max = (hi), .doc = (doc_)}
#define BLK_PB(n, d, doc_) {.name = (n), .type = BLK_P_BOOL, .def = (d), .min = 0, .max = 1, .doc = (doc_)}
#define BLK_PE(n, d, doc_, ...) {.name = (n), .type = BLK_P_ENUM, .def = (d), .choices = {__VA_ARGS__, NULL}, .doc = (doc_)}
/* The `order` parameter of modules the Lucid code builds in another branch order. */
#define BLK_ORDER_CHOICE \
  BLK_PE("order", 0, "branch order: torchvision or lucid (the seed's code)", "torchvision", "lucid")
#define BLK_N(params) ((int)(sizeof(params) / sizeof(params[0])))
/* Propagates a failed lab_graph_add (a negative node id) out of a builder. */
#define BLK_TRY(x)            \
  do {                        \
    if ((x) < 0) return (x);  \
  } while (0)

/* Family tables (blk_registry_get walks them in this order). */
extern const blk_def blk_defs_stems[];
extern const int blk_n_defs_stems;
extern const blk_def blk_defs_modules[];
extern const int blk_n_defs_modules;
extern const blk_def blk_defs_reductions[];
extern const int blk_n_defs_reductions;
extern const blk_def blk_defs_heads[];
extern const int blk_n_defs_heads;

#endif
