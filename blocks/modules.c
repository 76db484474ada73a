/* modules.c: Inception modules that keep the grid size (and BN-Inception's stride-2 form).
 *
 *   inception_googlenet  Fig. 4 (GoogLeNet [S8]): 1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | pool -> 1x1.
 *                        c5x5_kernel 5 is the paper; 3 is torchvision's known deviation.
 *   inception_bn         BN-Inception [S9 Fig. 5]: 1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 -> 3x3 |
 *                        avg/max pool -> 1x1; stride 2: no 1x1 branch, the last conv of each
 *                        conv branch has stride 2 and the max pool passes its input through.
 *   inception_35x35      torchvision InceptionA / TF Mixed_5b..5d: 1x1 | 1x1 -> 5x5 |
 *                        1x1 -> 3x3 -> 3x3 | avg pool -> 1x1. `5x5: two_3x3` is Fig. 5
 *                        (every 5x5 replaced by two 3x3); `3x3` is Lucid's single 3x3.
 *   inception_17x17      InceptionC / Fig. 6 with kernel n: 1x1 | 1x1 -> 1xn -> nx1 |
 *                        1x1 -> nx1 -> 1xn -> nx1 -> 1xn | avg pool -> 1x1. factorized: false
 *                        puts one nxn where each (1xn, nx1) pair stands, with the pair's
 *                        output width.
 *   inception_8x8        InceptionE / Fig. 7: 1x1 | 1x1 -> (1x3 || 3x1) |
 *                        1x1 -> 3x3 -> (1x3 || 3x1) | avg pool -> 1x1. split: false replaces each
 *                        parallel (1x3 || 3x1) pair by one 3x3 of the pair's total width.
 *
 * order: torchvision builds (and concatenates) branches in torchvision's order; lucid uses the
 * seed's Lucid order (double-3x3 branch first, 1x1 branch last), which only changes the
 * channel order of the output and the order nodes are listed in.
 * The factorization activation (network or block `factorization_activation: linear`) drops
 * the ReLU after the first conv of every pair that replaces a larger kernel.
 */
#include "blocks/blocks.h"

#include <stdio.h>

#define POOL_CHOICE(d) BLK_PE("pool", d, "pooling branch: avg or max (3x3/1, pad 1)", "avg", "max")

static int lin(const blk_builder *b) { return b->opt.factor_linear; }

/* === GoogLeNet (Fig. 4) === */

static const blk_param_def googlenet_params[] = {
    BLK_PW("c1x1", 64, 1, "1x1 branch"),
    BLK_PW("c3x3_reduce", 96, 1, "1x1 before the 3x3"),
    BLK_PW("c3x3", 128, 1, "3x3 branch"),
    BLK_PW("c5x5_reduce", 16, 1, "1x1 before the 5x5"),
    BLK_PW("c5x5", 32, 1, "5x5 branch"),
    BLK_PW("pool_proj", 32, 1, "1x1 after the 3x3/1 max pool"),
    BLK_PI("c5x5_kernel", 5, 1, 7, "kernel of the '5x5' branch: 5 (paper) or 3 (torchvision)"),
};

static int build_googlenet(blk_builder *b, const blk_args *a, int x) {
  int br[4];
  br[0] = blk_cbr(b, "branch1", x, blk_iarg(a, "c1x1"), 1, 1, 0);
  BLK_TRY(br[0]);
  int t = blk_cbr(b, "branch2_reduce", x, blk_iarg(a, "c3x3_reduce"), 1, 1, 0);
  BLK_TRY(t);
  br[1] = blk_cbr(b, "branch2", t, blk_iarg(a, "c3x3"), 3, 1, 1);
  BLK_TRY(br[1]);
  t = blk_cbr(b, "branch3_reduce", x, blk_iarg(a, "c5x5_reduce"), 1, 1, 0);
  BLK_TRY(t);
  int k = blk_iarg(a, "c5x5_kernel");
  br[2] = blk_cbr_same(b, "branch3", t, blk_iarg(a, "c5x5"), k, k, 0);
  BLK_TRY(br[2]);
  /* torchvision: MaxPool2d(3, 1, 1, ceil_mode=True); ceil has no effect at stride 1. */
  t = blk_pool(b, "branch4_pool", x, 0, 3, 1, 1, 1);
  BLK_TRY(t);
  br[3] = blk_cbr(b, "branch4", t, blk_iarg(a, "pool_proj"), 1, 1, 0);
  BLK_TRY(br[3]);
  return blk_concat(b, "concat", br, 4);
}

/* === BN-Inception === */

static const blk_param_def bn_params[] = {
    BLK_PW("c1x1", 64, 0, "1x1 branch (0: none, as in the stride-2 modules)"),
    BLK_PW("c3x3_reduce", 64, 1, "1x1 before the 3x3"),
    BLK_PW("c3x3", 64, 1, "3x3 branch"),
    BLK_PW("c3x3dbl_reduce", 64, 1, "1x1 before the double 3x3"),
    BLK_PW("c3x3dbl", 96, 1, "both convs of the double 3x3"),
    POOL_CHOICE(0),
    BLK_PW("pool_proj", 32, 0, "1x1 after the pool (0: pass-through)"),
    BLK_PI("stride", 1, 1, 2, "2: the grid-reducing form (3c, 4e)"),
};

static int build_bn(blk_builder *b, const blk_args *a, int x) {
  int s = blk_iarg(a, "stride"), br[4], n = 0;
  if (blk_iarg(a, "c1x1") > 0) {
    br[n] = blk_cbr(b, "1x1", x, blk_iarg(a, "c1x1"), 1, 1, 0);
    BLK_TRY(br[n++]);
  }
  int t = blk_cbr(b, "3x3_reduce", x, blk_iarg(a, "c3x3_reduce"), 1, 1, 0);
  BLK_TRY(t);
  br[n] = blk_cbr(b, "3x3", t, blk_iarg(a, "c3x3"), 3, s, 1);
  BLK_TRY(br[n++]);
  t = blk_cbr(b, "double_3x3_reduce", x, blk_iarg(a, "c3x3dbl_reduce"), 1, 1, 0);
  BLK_TRY(t);
  t = blk_cbr_same(b, "double_3x3_1", t, blk_iarg(a, "c3x3dbl"), 3, 3, lin(b));
  BLK_TRY(t);
  br[n] = blk_cbr(b, "double_3x3_2", t, blk_iarg(a, "c3x3dbl"), 3, s, 1);
  BLK_TRY(br[n++]);
  /* 3x3 pool, pad 1, stride s: at stride 2 it gives the size of the padded stride-2 convs
   * for every input (28 -> 14 as in the paper, also 37 -> 19, where Caffe's unpadded
   * ceil-mode pool would give 18 and fail to concatenate). */
  t = blk_pool(b, "pool", x, blk_iarg(a, "pool") == 0, 3, s, 1, 0);
  BLK_TRY(t);
  if (blk_iarg(a, "pool_proj") > 0) {
    t = blk_cbr(b, "pool_proj", t, blk_iarg(a, "pool_proj"), 1, 1, 0);
    BLK_TRY(t);
  }
  br[n++] = t;
  return blk_concat(b, "concat", br, n);
}

/* === 35x35 (InceptionA / Fig. 5) === */

static const blk_param_def a35_params[] = {
    BLK_PW("c1x1", 64, 1, "1x1 branch"),
    BLK_PW("c5x5_reduce", 48, 1, "1x1 before the 5x5"),
    BLK_PW("c5x5", 64, 1, "5x5 branch (each conv of it when 5x5 = two_3x3)"),
    BLK_PW("c3x3dbl_reduce", 64, 1, "1x1 before the double 3x3"),
    BLK_PW("c3x3dbl", 96, 1, "both 3x3 of the double 3x3"),
    BLK_PW("pool_proj", 32, 1, "1x1 after the pool"),
    POOL_CHOICE(0),
    BLK_PE("5x5", 0, "single: a 5x5 (released); two_3x3: Fig. 5; 3x3: one 3x3 (Lucid)", "single",
           "two_3x3", "3x3"),
    BLK_ORDER_CHOICE,
};

static int a35_5x5(blk_builder *b, const blk_args *a, int x) {
  int t = blk_cbr(b, "branch5x5_1", x, blk_iarg(a, "c5x5_reduce"), 1, 1, 0);
  BLK_TRY(t);
  int c = blk_iarg(a, "c5x5");
  switch (blk_iarg(a, "5x5")) {
    case 0: return blk_cbr_same(b, "branch5x5_2", t, c, 5, 5, 0);
    case 1:
      t = blk_cbr_same(b, "branch5x5_2a", t, c, 3, 3, lin(b));
      BLK_TRY(t);
      return blk_cbr_same(b, "branch5x5_2b", t, c, 3, 3, 0);
    default: return blk_cbr_same(b, "branch5x5_2", t, c, 3, 3, 0);
  }
}

static int a35_dbl(blk_builder *b, const blk_args *a, int x) {
  int t = blk_cbr(b, "branch3x3dbl_1", x, blk_iarg(a, "c3x3dbl_reduce"), 1, 1, 0);
  BLK_TRY(t);
  t = blk_cbr_same(b, "branch3x3dbl_2", t, blk_iarg(a, "c3x3dbl"), 3, 3, lin(b));
  BLK_TRY(t);
  return blk_cbr_same(b, "branch3x3dbl_3", t, blk_iarg(a, "c3x3dbl"), 3, 3, 0);
}

static int pool_branch(blk_builder *b, const blk_args *a, int x, int proj) {
  int t = blk_pool(b, "branch_pool_pool", x, blk_iarg(a, "pool") == 0, 3, 1, 1, 0);
  BLK_TRY(t);
  return blk_cbr(b, "branch_pool", t, proj, 1, 1, 0);
}

static int branch_1x1(blk_builder *b, const blk_args *a, int x) {
  return blk_cbr(b, "branch1x1", x, blk_iarg(a, "c1x1"), 1, 1, 0);
}

static int branch_pool(blk_builder *b, const blk_args *a, int x) {
  return pool_branch(b, a, x, blk_iarg(a, "pool_proj"));
}

typedef int (*branch_fn)(blk_builder *b, const blk_args *a, int x);

/* The four branches of a 35x35 or 17x17 module (1x1, single chain, double chain, pool proj),
 * built and concatenated in torchvision's order or in Lucid's (double, single, pool, 1x1):
 * the build order fixes node and parameter order, which the per-layer fixtures compare. */
static int four_branches(blk_builder *b, const blk_args *a, int x, branch_fn single, branch_fn dbl) {
  static const int lucid_order[4] = {2, 1, 3, 0};
  const branch_fn fns[4] = {branch_1x1, single, dbl, branch_pool};
  int lucid = blk_iarg(a, "order") == 1, br[4];
  for (int i = 0; i < 4; i++) {
    br[i] = fns[lucid ? lucid_order[i] : i](b, a, x);
    BLK_TRY(br[i]);
  }
  return blk_concat(b, "concat", br, 4);
}

static int build_a35(blk_builder *b, const blk_args *a, int x) { return four_branches(b, a, x, a35_5x5, a35_dbl); }

/* === 17x17 (InceptionC / Fig. 6) === */

static const blk_param_def c17_params[] = {
    BLK_PW("c1x1", 192, 1, "1x1 branch"),
    BLK_PW("cn", 128, 1, "width inside both n x n chains (torchvision's c7)"),
    BLK_PW("cn_out", 192, 1, "output width of both chains"),
    BLK_PW("pool_proj", 192, 1, "1x1 after the pool"),
    BLK_PI("n", 7, 1, 15, "kernel n of the 1xn / nx1 pairs"),
    BLK_PB("factorized", 1, "true: 1xn + nx1 chains; false: one nxn per pair, same widths"),
    POOL_CHOICE(0),
    BLK_PE("dbl_first", 0, "first conv of the double chain: nx1 (torchvision) or 1xn (Lucid)", "nx1", "1xn"),
    BLK_ORDER_CHOICE,
};

/* One (1xn, nx1) pair, or (nx1, 1xn) when nx1_first, or one nxn when not factorized;
 * mid is the width between the halves. */
static int pair(blk_builder *b, const blk_args *a, const char *name, int x, int mid, int out, int nx1_first) {
  int n = blk_iarg(a, "n");
  char s[64];
  if (!blk_iarg(a, "factorized")) {
    snprintf(s, sizeof s, "%s_%dx%d", name, n, n);
    return blk_cbr_same(b, s, x, out, n, n, 0);
  }
  int kh1 = nx1_first ? n : 1, kw1 = nx1_first ? 1 : n;
  snprintf(s, sizeof s, "%s_%dx%d", name, kh1, kw1);
  int t = blk_cbr_same(b, s, x, mid, kh1, kw1, lin(b));
  BLK_TRY(t);
  snprintf(s, sizeof s, "%s_%dx%d", name, kw1, kh1);
  return blk_cbr_same(b, s, t, out, kw1, kh1, 0);
}

static int c17_single(blk_builder *b, const blk_args *a, int x) {
  int t = blk_cbr(b, "branch7x7_1", x, blk_iarg(a, "cn"), 1, 1, 0);
  BLK_TRY(t);
  return pair(b, a, "branch7x7_2", t, blk_iarg(a, "cn"), blk_iarg(a, "cn_out"), 0);
}

static int c17_dbl(blk_builder *b, const blk_args *a, int x) {
  int nx1 = blk_iarg(a, "dbl_first") == 0, c = blk_iarg(a, "cn");
  int t = blk_cbr(b, "branch7x7dbl_1", x, c, 1, 1, 0);
  BLK_TRY(t);
  t = pair(b, a, "branch7x7dbl_2", t, c, c, nx1);
  BLK_TRY(t);
  return pair(b, a, "branch7x7dbl_3", t, c, blk_iarg(a, "cn_out"), nx1);
}

static int build_c17(blk_builder *b, const blk_args *a, int x) { return four_branches(b, a, x, c17_single, c17_dbl); }

/* === 8x8 (InceptionE / Fig. 7) === */

static const blk_param_def e8_params[] = {
    BLK_PW("c1x1", 320, 1, "1x1 branch"),
    BLK_PW("c3x3_reduce", 384, 1, "1x1 before the split 3x3"),
    BLK_PW("c3x3", 384, 1, "each of the parallel 1x3 and 3x1"),
    BLK_PW("c3x3dbl_reduce", 448, 1, "1x1 before the double 3x3"),
    BLK_PW("c3x3dbl_mid", 384, 1, "the 3x3 of the double branch"),
    BLK_PW("c3x3dbl", 384, 1, "each of its parallel 1x3 and 3x1"),
    BLK_PW("pool_proj", 192, 1, "1x1 after the pool"),
    BLK_PB("split", 1, "true: parallel 1x3 and 3x1 (Fig. 7); false: one 3x3 of twice the width"),
    POOL_CHOICE(0),
    BLK_ORDER_CHOICE,
};

/* The expanded filter bank on node t: two parallel halves or one 3x3 of the same total width.
 * Writes 1 or 2 nodes into out; returns the count or a negative status. */
static int e8_bank(blk_builder *b, const blk_args *a, const char *name, int t, int c, int *out) {
  char s[64];
  if (!blk_iarg(a, "split")) {
    snprintf(s, sizeof s, "%s_3x3", name);
    blk_conv cv = {.oc = 2 * blk_depth(b, c), .kh = 3, .kw = 3, .same = 1};
    out[0] = blk_conv_unit(b, s, t, &cv);
    BLK_TRY(out[0]);
    return 1;
  }
  snprintf(s, sizeof s, "%sa", name);
  out[0] = blk_cbr_same(b, s, t, c, 1, 3, 0);
  BLK_TRY(out[0]);
  snprintf(s, sizeof s, "%sb", name);
  out[1] = blk_cbr_same(b, s, t, c, 3, 1, 0);
  BLK_TRY(out[1]);
  return 2;
}

static int build_e8(blk_builder *b, const blk_args *a, int x) {
  int one = -1, pool, s3, sd, bank3[2], bankd[2], n3 = 0, nd = 0;
  int lucid = blk_iarg(a, "order") == 1;
  if (!lucid) {
    one = blk_cbr(b, "branch1x1", x, blk_iarg(a, "c1x1"), 1, 1, 0);
    BLK_TRY(one);
    s3 = blk_cbr(b, "branch3x3_1", x, blk_iarg(a, "c3x3_reduce"), 1, 1, 0);
    BLK_TRY(s3);
    n3 = e8_bank(b, a, "branch3x3_2", s3, blk_iarg(a, "c3x3"), bank3);
    BLK_TRY(n3);
  }
  sd = blk_cbr(b, "branch3x3dbl_1", x, blk_iarg(a, "c3x3dbl_reduce"), 1, 1, 0);
  BLK_TRY(sd);
  sd = blk_cbr_same(b, "branch3x3dbl_2", sd, blk_iarg(a, "c3x3dbl_mid"), 3, 3, 0);
  BLK_TRY(sd);
  if (lucid) {
    /* Lucid runs both branch stems before any of the split convs. */
    s3 = blk_cbr(b, "branch3x3_1", x, blk_iarg(a, "c3x3_reduce"), 1, 1, 0);
    BLK_TRY(s3);
  }
  nd = e8_bank(b, a, "branch3x3dbl_3", sd, blk_iarg(a, "c3x3dbl"), bankd);
  BLK_TRY(nd);
  if (lucid) {
    n3 = e8_bank(b, a, "branch3x3_2", s3, blk_iarg(a, "c3x3"), bank3);
    BLK_TRY(n3);
  }
  pool = pool_branch(b, a, x, blk_iarg(a, "pool_proj"));
  BLK_TRY(pool);
  int br[6], n = 0;
  if (lucid) {
    one = blk_cbr(b, "branch1x1", x, blk_iarg(a, "c1x1"), 1, 1, 0);
    BLK_TRY(one);
    for (int i = 0; i < nd; i++) br[n++] = bankd[i];
    for (int i = 0; i < n3; i++) br[n++] = bank3[i];
    br[n++] = pool;
    br[n++] = one;
  } else {
    br[n++] = one;
    for (int i = 0; i < n3; i++) br[n++] = bank3[i];
    for (int i = 0; i < nd; i++) br[n++] = bankd[i];
    br[n++] = pool;
  }
  return blk_concat(b, "concat", br, n);
}

const blk_def blk_defs_modules[] = {
    {"inception_googlenet", "GoogLeNet module (Fig. 4): 1x1 | 3x3 | 5x5 | pool proj", BLK_ROLE_MAIN, 0,
     googlenet_params, BLK_N(googlenet_params), build_googlenet},
    {"inception_bn", "BN-Inception module: double 3x3, avg/max pool, stride-2 pass-through form",
     BLK_ROLE_MAIN, 1, bn_params, BLK_N(bn_params), build_bn},
    {"inception_35x35", "35x35 module (InceptionA; 5x5: single | two_3x3 | 3x3)", BLK_ROLE_MAIN, 1, a35_params,
     BLK_N(a35_params), build_a35},
    {"inception_17x17", "17x17 module (InceptionC / Fig. 6): 1xn + nx1 or nxn", BLK_ROLE_MAIN, 1, c17_params,
     BLK_N(c17_params), build_c17},
    {"inception_8x8", "8x8 module (InceptionE / Fig. 7): expanded, split or not", BLK_ROLE_MAIN, 0, e8_params,
     BLK_N(e8_params), build_e8},
};
const int blk_n_defs_modules = BLK_N(blk_defs_modules);
