/* reductions.c: blocks that halve the grid (paper Sec. 5, Figs. 9 and 10).
 *
 *   reduction_35x35     Fig. 10 as released (torchvision InceptionB / TF Mixed_6a):
 *                       3x3/2 | 1x1 -> 3x3 -> 3x3/2 | max pool 3x3/2 (pass-through).
 *   reduction_17x17     Fig. 10 as released (InceptionD / Mixed_7a):
 *                       1x1 -> 3x3/2 | 1x1 -> 1xn -> nx1 -> 3x3/2 | max pool 3x3/2.
 *   reduction_pool_conv Fig. 9 left: pool 3x3/2, then a conv to `out` channels (cheap, but a
 *                       representational bottleneck).
 *   reduction_conv_pool Fig. 9 right: a conv to `out` channels on the full grid, then pool
 *                       (no bottleneck, Sec. 5's "3 times more expensive"). With kernel 1 the
 *                       two naive forms cost 2(d/2)^2 k^2 and 2 d^2 k^2, Sec. 5's numbers.
 * All pools and stride-2 convs are unpadded, as released (35 -> 17 -> 8).
 */
#include "blocks/blocks.h"

#define POOL_CHOICE BLK_PE("pool", 0, "reducing pool: max (released) or avg", "max", "avg")

static int reduce_pool(blk_builder *b, const blk_args *a, int x) {
  return blk_pool(b, "branch_pool", x, blk_iarg(a, "pool") == 1, 3, 2, 0, 0);
}

/* === Mixed_6a === */

static const blk_param_def r35_params[] = {
    BLK_PW("c3x3", 384, 1, "3x3/2 branch"),
    BLK_PW("c3x3dbl_reduce", 64, 1, "1x1 before the double 3x3"),
    BLK_PW("c3x3dbl_mid", 96, 1, "padded 3x3 of the double branch"),
    BLK_PW("c3x3dbl", 96, 1, "3x3/2 of the double branch"),
    POOL_CHOICE,
    BLK_ORDER_CHOICE,
};

static int r35_dbl(blk_builder *b, const blk_args *a, int x) {
  int t = blk_cbr(b, "branch3x3dbl_1", x, blk_iarg(a, "c3x3dbl_reduce"), 1, 1, 0);
  BLK_TRY(t);
  t = blk_cbr_same(b, "branch3x3dbl_2", t, blk_iarg(a, "c3x3dbl_mid"), 3, 3, b->opt.factor_linear);
  BLK_TRY(t);
  return blk_cbr(b, "branch3x3dbl_3", t, blk_iarg(a, "c3x3dbl"), 3, 2, 0);
}

static int build_r35(blk_builder *b, const blk_args *a, int x) {
  int br[3], lucid = blk_iarg(a, "order") == 1;
  int i3 = lucid ? 1 : 0, id = lucid ? 0 : 1;
  if (lucid) {
    br[id] = r35_dbl(b, a, x);
    BLK_TRY(br[id]);
  }
  br[i3] = blk_cbr(b, "branch3x3", x, blk_iarg(a, "c3x3"), 3, 2, 0);
  BLK_TRY(br[i3]);
  if (!lucid) {
    br[id] = r35_dbl(b, a, x);
    BLK_TRY(br[id]);
  }
  br[2] = reduce_pool(b, a, x);
  BLK_TRY(br[2]);
  return blk_concat(b, "concat", br, 3);
}

/* === Mixed_7a === */

static const blk_param_def r17_params[] = {
    BLK_PW("c3x3_reduce", 192, 1, "1x1 before the 3x3/2"),
    BLK_PW("c3x3", 320, 1, "3x3/2 branch"),
    BLK_PW("c7x7x3", 192, 1, "every conv of the 1x1 -> 1xn -> nx1 -> 3x3/2 branch"),
    BLK_PI("n", 7, 1, 15, "kernel n"),
    BLK_PB("factorized", 1, "true: 1xn + nx1; false: one nxn"),
    POOL_CHOICE,
    BLK_ORDER_CHOICE,
};

static int r17_7x7(blk_builder *b, const blk_args *a, int x) {
  int c = blk_iarg(a, "c7x7x3"), n = blk_iarg(a, "n");
  int t = blk_cbr(b, "branch7x7x3_1", x, c, 1, 1, 0);
  BLK_TRY(t);
  if (blk_iarg(a, "factorized")) {
    t = blk_cbr_same(b, "branch7x7x3_2", t, c, 1, n, b->opt.factor_linear);
    BLK_TRY(t);
    t = blk_cbr_same(b, "branch7x7x3_3", t, c, n, 1, 0);
  } else {
    t = blk_cbr_same(b, "branch7x7x3_23", t, c, n, n, 0);
  }
  BLK_TRY(t);
  return blk_cbr(b, "branch7x7x3_4", t, c, 3, 2, 0);
}

static int r17_3x3(blk_builder *b, const blk_args *a, int x) {
  int t = blk_cbr(b, "branch3x3_1", x, blk_iarg(a, "c3x3_reduce"), 1, 1, 0);
  BLK_TRY(t);
  return blk_cbr(b, "branch3x3_2", t, blk_iarg(a, "c3x3"), 3, 2, 0);
}

static int build_r17(blk_builder *b, const blk_args *a, int x) {
  int br[3], lucid = blk_iarg(a, "order") == 1;
  br[0] = lucid ? r17_7x7(b, a, x) : r17_3x3(b, a, x);
  BLK_TRY(br[0]);
  br[1] = lucid ? r17_3x3(b, a, x) : r17_7x7(b, a, x);
  BLK_TRY(br[1]);
  br[2] = reduce_pool(b, a, x);
  BLK_TRY(br[2]);
  return blk_concat(b, "concat", br, 3);
}

/* === Fig. 9 naive reductions === */

static const blk_param_def naive_params[] = {
    BLK_PW("out", 640, 1, "output channels (Fig. 9: 320 -> 640)"),
    BLK_PI("kernel", 1, 1, 7, "conv kernel ('same' padded)"),
    POOL_CHOICE,
};

static int build_pool_conv(blk_builder *b, const blk_args *a, int x) {
  x = reduce_pool(b, a, x);
  BLK_TRY(x);
  int k = blk_iarg(a, "kernel");
  return blk_cbr_same(b, "conv", x, blk_iarg(a, "out"), k, k, 0);
}

static int build_conv_pool(blk_builder *b, const blk_args *a, int x) {
  int k = blk_iarg(a, "kernel");
  x = blk_cbr_same(b, "conv", x, blk_iarg(a, "out"), k, k, 0);
  BLK_TRY(x);
  return reduce_pool(b, a, x);
}

const blk_def blk_defs_reductions[] = {
    {"reduction_35x35", "parallel grid reduction (Fig. 10; Mixed_6a)", BLK_ROLE_MAIN, 1, r35_params,
     BLK_N(r35_params), build_r35},
    {"reduction_17x17", "parallel grid reduction (Fig. 10; Mixed_7a)", BLK_ROLE_MAIN, 1, r17_params,
     BLK_N(r17_params), build_r17},
    {"reduction_pool_conv", "naive reduction, pool then conv (Fig. 9 left: bottleneck)", BLK_ROLE_MAIN, 0,
     naive_params, BLK_N(naive_params), build_pool_conv},
    {"reduction_conv_pool", "naive reduction, conv then pool (Fig. 9 right: expensive)", BLK_ROLE_MAIN, 0,
     naive_params, BLK_N(naive_params), build_conv_pool},
};
const int blk_n_defs_reductions = BLK_N(blk_defs_reductions);
