/* heads.c: classifier heads, auxiliary heads and plain single-layer blocks.
 *
 *   head           global average pool -> dropout -> fc(classes); output "logits".
 *   aux_v3         torchvision InceptionAux / TF-slim AuxLogits: avg pool 5x5/3 -> 1x1 128 ->
 *                  5x5 768 (init std 0.01) -> global pool -> fc(classes) (init std 0.001).
 *                  The 5x5 conv is the head's "fully connected" layer, so bn: all (its BN on)
 *                  is the paper's BN-auxiliary, bn: conv leaves it plain (with a bias).
 *   aux_googlenet  GoogLeNet's side head [S8]: avg pool 5x5/3 (window) or adaptive 4x4
 *                  (torchvision) -> 1x1 128 -> FC 1024 + ReLU -> dropout 0.7 -> fc(classes).
 *   aux_lucid      the seed's Lucid head: adaptive pool 5x5 -> 1x1 128 -> FC 1024 + ReLU ->
 *                  dropout 0.7 -> fc(classes).
 *   bn: none | conv | all for every aux head: no BN; BN after the 1x1 conv; also after the
 *   FC layer (the paper's "BN-auxiliary"). It decides alone, whatever the network's `bn`.
 *
 * Small inputs: a pooling window or conv kernel larger than the map is shrunk to the map
 * (TF-slim's _reduced_kernel_size_for_small_input) and a note says so; an adaptive pool
 * larger than the map is shrunk the same way.
 *
 *   conv, pool     one Conv-BN-ReLU unit / one pool, for hand-written networks and the
 *                  factorization studies (equal-channel 5x5 vs two 3x3 and so on).
 */
#include "blocks/blocks.h"

#include "lab/layers.h"

#define AUX_BN(d) BLK_PE("bn", d, "none; conv: BN after the 1x1; all: also the FC layer (BN-auxiliary)", "none", "conv", "all")

static int imin(int a, int b) { return a < b ? a : b; }

static int global_pool(blk_builder *b, const char *name, int x) {
  lab_layer_cfg cfg = {.ops = &lab_adaptive_pool_ops};
  cfg.apool = (lab_adaptive_pool_cfg){.oh = 1, .ow = 1};
  return lab_graph_add(b->g, name, &cfg, &x, 1, b->err);
}

static int dropout(blk_builder *b, int x, double p) {
  if (p <= 0) return x;
  lab_layer_cfg cfg = {.ops = &lab_dropout_ops};
  cfg.dropout = (lab_dropout_cfg){.p = (float)p};
  return lab_graph_add(b->g, "dropout", &cfg, &x, 1, b->err);
}

/* === main head === */

static const blk_param_def head_params[] = {
    BLK_PD("dropout", 0.5, 0, 0.99, "dropout before the fc (torchvision v3 0.5, TF 0.2, GoogLeNet 0.4)"),
};

static int build_head(blk_builder *b, const blk_args *a, int x) {
  x = global_pool(b, "avgpool", x);
  BLK_TRY(x);
  x = dropout(b, x, blk_arg(a, "dropout"));
  BLK_TRY(x);
  return blk_linear(b, "fc", x, b->opt.classes, 0, 0, 0);
}

/* === aux heads === */

static const blk_param_def aux_v3_params[] = {
    BLK_PW("c_reduce", 128, 1, "1x1 conv width"),
    BLK_PW("c_fc", 768, 1, "width of the 5x5 'fully connected' conv"),
    BLK_PI("pool_kernel", 5, 1, 15, "average pool window"),
    BLK_PI("pool_stride", 3, 1, 15, "average pool stride"),
    BLK_PD("dropout", 0, 0, 0.99, "dropout before the fc (0: none, as released)"),
    AUX_BN(2),
};

static int build_aux_v3(blk_builder *b, const blk_args *a, int x) {
  lab_shape s = lab_graph_shape(b->g, x);
  int k = blk_iarg(a, "pool_kernel"), ks = imin(k, imin(s.h, s.w));
  if (ks != k) blk_note(b, "aux_v3: pool %dx%d shrunk to %dx%d for a %dx%d map", k, k, ks, ks, s.h, s.w);
  x = blk_pool(b, "avgpool", x, 1, ks, blk_iarg(a, "pool_stride"), 0, 0);
  BLK_TRY(x);
  int mode = blk_iarg(a, "bn");
  b->opt.bn = mode >= 1;
  x = blk_cbr(b, "conv0", x, blk_iarg(a, "c_reduce"), 1, 1, 0);
  BLK_TRY(x);
  s = lab_graph_shape(b->g, x);
  int kc = imin(5, imin(s.h, s.w));
  if (kc != 5) blk_note(b, "aux_v3: 5x5 conv shrunk to %dx%d for a %dx%d map", kc, kc, s.h, s.w);
  b->opt.bn = mode == 2;
  blk_conv c = {.oc = blk_depth(b, blk_iarg(a, "c_fc")), .kh = kc, .kw = kc, .init_std = 0.01f};
  x = blk_conv_unit(b, "conv1", x, &c);
  BLK_TRY(x);
  x = global_pool(b, "avgpool_global", x);
  BLK_TRY(x);
  x = dropout(b, x, blk_arg(a, "dropout"));
  BLK_TRY(x);
  return blk_linear(b, "fc", x, b->opt.classes, 0, 0, 0.001f);
}

#define AUX_FC_PARAMS(pool, size, bn)                                                              \
  BLK_PE("pool", pool, "window: avg pool kernel/stride; adaptive: avg pool to pool_size", "window", \
         "adaptive"),                                                                              \
      BLK_PI("pool_kernel", 5, 1, 15, "window size"), BLK_PI("pool_stride", 3, 1, 15, "window stride"), \
      BLK_PI("pool_size", size, 1, 15, "adaptive output size"),                                   \
      BLK_PW("c_reduce", 128, 1, "1x1 conv width"), BLK_PW("c_fc", 1024, 1, "hidden FC width"),     \
      BLK_PD("dropout", 0.7, 0, 0.99, "dropout after the hidden FC"), AUX_BN(bn)

static const blk_param_def aux_googlenet_params[] = {AUX_FC_PARAMS(0, 4, 1)};
static const blk_param_def aux_lucid_params[] = {AUX_FC_PARAMS(1, 5, 1)};

static int build_aux_fc(blk_builder *b, const blk_args *a, int x) {
  lab_shape s = lab_graph_shape(b->g, x);
  int m = imin(s.h, s.w);
  if (blk_iarg(a, "pool") == 0) {
    int k = blk_iarg(a, "pool_kernel"), ks = imin(k, m);
    if (ks != k) blk_note(b, "%s: pool %dx%d shrunk to %dx%d for a %dx%d map", a->def->name, k, k, ks, ks, s.h, s.w);
    x = blk_pool(b, "avgpool", x, 1, ks, blk_iarg(a, "pool_stride"), 0, 0);
  } else {
    int p = blk_iarg(a, "pool_size"), ps = imin(p, m);
    if (ps != p) blk_note(b, "%s: adaptive pool %dx%d shrunk to %dx%d for a %dx%d map", a->def->name, p, p, ps, ps, s.h, s.w);
    lab_layer_cfg cfg = {.ops = &lab_adaptive_pool_ops};
    cfg.apool = (lab_adaptive_pool_cfg){.oh = ps, .ow = ps};
    x = lab_graph_add(b->g, "avgpool", &cfg, &x, 1, b->err);
  }
  BLK_TRY(x);
  int mode = blk_iarg(a, "bn");
  b->opt.bn = mode >= 1;
  x = blk_cbr(b, "conv", x, blk_iarg(a, "c_reduce"), 1, 1, 0);
  BLK_TRY(x);
  x = blk_linear(b, "fc1", x, blk_depth(b, blk_iarg(a, "c_fc")), mode == 2, 1, 0);
  BLK_TRY(x);
  x = dropout(b, x, blk_arg(a, "dropout"));
  BLK_TRY(x);
  return blk_linear(b, "fc2", x, b->opt.classes, 0, 0, 0);
}

/* === plain layers === */

static const blk_param_def conv_params[] = {
    BLK_PW("out", 64, 1, "output channels"),
    BLK_PI("kh", 3, 1, 15, "kernel height"),
    BLK_PI("kw", 3, 1, 15, "kernel width"),
    BLK_PI("stride", 1, 1, 8, "stride"),
    BLK_PE("pad", 0, "same: keep H x W at stride 1 (even kernels pad one more after); valid: none",
           "same", "valid"),
    BLK_PB("linear", 0, "no ReLU after the conv (first half of a linear factorization)"),
};

static int build_conv(blk_builder *b, const blk_args *a, int x) {
  int s = blk_iarg(a, "stride");
  blk_conv c = {.oc = blk_depth(b, blk_iarg(a, "out")), .kh = blk_iarg(a, "kh"), .kw = blk_iarg(a, "kw"),
                .sh = s, .sw = s, .same = blk_iarg(a, "pad") == 0, .linear = blk_iarg(a, "linear")};
  return blk_conv_unit(b, "unit", x, &c);
}

static const blk_param_def pool_params[] = {
    BLK_PE("kind", 0, "max or avg", "max", "avg"),
    BLK_PI("kernel", 3, 1, 15, "window"),
    BLK_PI("stride", 2, 1, 15, "stride"),
    BLK_PI("pad", 0, 0, 7, "padding on every side"),
    BLK_PB("ceil_mode", 0, "round the output size up (Caffe, torchvision GoogLeNet)"),
};

static int build_pool(blk_builder *b, const blk_args *a, int x) {
  return blk_pool(b, "pool", x, blk_iarg(a, "kind") == 1, blk_iarg(a, "kernel"), blk_iarg(a, "stride"),
                  blk_iarg(a, "pad"), blk_iarg(a, "ceil_mode"));
}

/* No aux head at all: nothing is built and the network has no aux output, so train.aux_weight
 * weighs nothing (Sec. 4's "without the auxiliary classifier"; factorization.yaml's aux none). */
static int build_aux_none(blk_builder *b, const blk_args *a, int x) {
  (void)b;
  (void)a;
  return x;
}

const blk_def blk_defs_heads[] = {
    {"head", "global average pool, dropout, fc -> logits", BLK_ROLE_HEAD, 0, head_params, BLK_N(head_params),
     build_head},
    {"aux_v3", "aux head, torchvision/TF form: pool 5x5/3, 1x1 128, 5x5 768, fc", BLK_ROLE_AUX, 0, aux_v3_params,
     BLK_N(aux_v3_params), build_aux_v3},
    {"aux_googlenet", "aux head, GoogLeNet form: pool, 1x1 128, FC 1024, dropout 0.7, fc", BLK_ROLE_AUX, 0,
     aux_googlenet_params, BLK_N(aux_googlenet_params), build_aux_fc},
    {"aux_lucid", "aux head, Lucid form: adaptive pool 5x5, 1x1 128, FC 1024, dropout 0.7, fc", BLK_ROLE_AUX, 0,
     aux_lucid_params, BLK_N(aux_lucid_params), build_aux_fc},
    {"aux_none", "no aux head: builds nothing (the network then has no aux output)", BLK_ROLE_AUX, 0, NULL, 0,
     build_aux_none},
    {"conv", "one Conv-BN-ReLU unit", BLK_ROLE_MAIN, 0, conv_params, BLK_N(conv_params), build_conv},
    {"pool", "one max/avg pool", BLK_ROLE_MAIN, 0, pool_params, BLK_N(pool_params), build_pool},
};
const int blk_n_defs_heads = BLK_N(blk_defs_heads);
