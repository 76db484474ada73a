/* stems.c: the layers between the image and the first Inception module.
 *
 *   stem_googlenet     GoogLeNet [S8 Table 1]: 7x7/2 conv, 3x3/2 max pool, 1x1, 3x3, pool
 *                      (Caffe/torchvision ceil_mode pools; the LRN layers are left out, as
 *                      torchvision does).
 *   stem_bn_inception  BN-Inception [S9 Fig. 5]: same layers and widths; its first conv is a
 *                      depthwise-separable 7x7 (multiplier 8) in the paper, built here as a
 *                      plain 7x7 because the layer set has no grouped conv (facts card 5 counts
 *                      it the same way).
 *   stem_v3            released Inception-v3 (torchvision Conv2d_1a..4a, TF-slim): 3x3/2 32,
 *                      3x3 32, 3x3 pad 64, max pool, 1x1 80, 3x3 192, max pool. Parameters
 *                      cover the paper's other stems: first = 7x7 replaces the three 3x3 by one
 *                      7x7/2 (Table 3 "before Factorized 7x7"), stride 1 and pool1 false give
 *                      the low-resolution stems of Table 2.
 *   stem_v2            stem_v3 with first = 7x7 by default.
 *   stem_lowres        stem_v3 with stride 1 by default (Table 2 151x151; pool1: false for 79x79).
 *   stem_v3_table1     the paper's Table 1 rows 1-7 as printed: 3x3/2, 3x3, 3x3 padded, pool
 *                      3x3/2, 3x3, 3x3/2, 3x3 -> 35x35x288. Row 7 as printed (unpadded 3x3/1 on
 *                      35x35) cannot give the 35x35 input of row 8; we resolve it by padding
 *                      row 7 (the one change that makes every printed size hold; Lucid does
 *                      the same).
 *   stem_lucid         the seed's Lucid code: like stem_v3_table1 but row 5 is a 1x1, so the
 *                      "35x35" stage runs at 36x36.
 */
#include "blocks/blocks.h"

/* === GoogLeNet / BN-Inception === */

static const blk_param_def googlenet_params[] = {
    BLK_PW("conv1", 64, 1, "7x7/2 conv width"),
    BLK_PW("conv2_reduce", 64, 1, "1x1 conv width"),
    BLK_PW("conv2", 192, 1, "3x3 conv width"),
    BLK_PB("ceil_mode", 1, "pools round up (Caffe, torchvision) rather than down"),
};

static int build_googlenet(blk_builder *b, const blk_args *a, int x) {
  int ceil = blk_iarg(a, "ceil_mode");
  x = blk_cbr(b, "conv1", x, blk_iarg(a, "conv1"), 7, 2, 3);
  BLK_TRY(x);
  x = blk_pool(b, "maxpool1", x, 0, 3, 2, 0, ceil);
  BLK_TRY(x);
  x = blk_cbr(b, "conv2", x, blk_iarg(a, "conv2_reduce"), 1, 1, 0);
  BLK_TRY(x);
  x = blk_cbr(b, "conv3", x, blk_iarg(a, "conv2"), 3, 1, 1);
  BLK_TRY(x);
  return blk_pool(b, "maxpool2", x, 0, 3, 2, 0, ceil);
}

/* === released Inception-v3 and its 7x7 / low-resolution variants === */

#define V3_STEM_PARAMS(first, stride)                                                              \
  BLK_PW("conv1a", 32, 1, "first 3x3/2 conv width"), BLK_PW("conv2a", 32, 1, "second 3x3 width"), \
      BLK_PW("conv2b", 64, 1, "padded 3x3 width (also the 7x7's width when first = 7x7)"),          \
      BLK_PW("conv3b", 80, 1, "1x1 width"), BLK_PW("conv4a", 192, 1, "last 3x3 width"),             \
      BLK_PE("first", first, "factorized: three 3x3 (released); 7x7: one unpadded 7x7 conv",      \
             "factorized", "7x7"),                                                                 \
      BLK_PI("stride", stride, 1, 2, "stride of the first conv (1 for Table 2's low resolution)"), \
      BLK_PB("pool1", 1, "max pool after the first conv group (false: Table 2's 79x79 setup)")

static const blk_param_def v3_params[] = {V3_STEM_PARAMS(0, 2)};
static const blk_param_def v2_params[] = {V3_STEM_PARAMS(1, 2)};
static const blk_param_def lowres_params[] = {V3_STEM_PARAMS(0, 1)};

static int build_v3(blk_builder *b, const blk_args *a, int x) {
  int s = blk_iarg(a, "stride");
  if (blk_iarg(a, "first") == 1) {
    /* 7x7 with the stride of the first 3x3 and no padding: 299 -> 147, the size the three
     * factorized convs reach, so everything after it is unchanged. */
    x = blk_cbr(b, "Conv2d_1a_7x7", x, blk_iarg(a, "conv2b"), 7, s, 0);
    BLK_TRY(x);
  } else {
    x = blk_cbr(b, "Conv2d_1a_3x3", x, blk_iarg(a, "conv1a"), 3, s, 0);
    BLK_TRY(x);
    x = blk_cbr(b, "Conv2d_2a_3x3", x, blk_iarg(a, "conv2a"), 3, 1, 0);
    BLK_TRY(x);
    x = blk_cbr(b, "Conv2d_2b_3x3", x, blk_iarg(a, "conv2b"), 3, 1, 1);
    BLK_TRY(x);
  }
  if (blk_iarg(a, "pool1")) {
    x = blk_pool(b, "maxpool1", x, 0, 3, 2, 0, 0);
    BLK_TRY(x);
  }
  x = blk_cbr(b, "Conv2d_3b_1x1", x, blk_iarg(a, "conv3b"), 1, 1, 0);
  BLK_TRY(x);
  x = blk_cbr(b, "Conv2d_4a_3x3", x, blk_iarg(a, "conv4a"), 3, 1, 0);
  BLK_TRY(x);
  return blk_pool(b, "maxpool2", x, 0, 3, 2, 0, 0);
}

/* === paper Table 1 and Lucid === */

#define T1_STEM_PARAMS(k4)                                                                         \
  BLK_PW("conv1", 32, 1, "row 1: 3x3/2"), BLK_PW("conv2", 32, 1, "row 2: 3x3"),                   \
      BLK_PW("conv3", 64, 1, "row 3: 3x3 padded"), BLK_PW("conv4", 80, 1, "row 5 width"),        \
      BLK_PI("conv4_kernel", k4, 1, 3, "row 5 kernel: 3 in Table 1, 1 in Lucid"),               \
      BLK_PW("conv5", 192, 1, "row 6: 3x3/2"),                                                      \
      BLK_PW("conv6", 288, 1, "row 7: 3x3, padded (Table 1's inconsistency resolved so)")

static const blk_param_def table1_params[] = {T1_STEM_PARAMS(3)};
static const blk_param_def lucid_params[] = {T1_STEM_PARAMS(1)};

static int build_table1(blk_builder *b, const blk_args *a, int x) {
  x = blk_cbr(b, "conv1", x, blk_iarg(a, "conv1"), 3, 2, 0);
  BLK_TRY(x);
  x = blk_cbr(b, "conv2", x, blk_iarg(a, "conv2"), 3, 1, 0);
  BLK_TRY(x);
  x = blk_cbr(b, "conv3", x, blk_iarg(a, "conv3"), 3, 1, 1);
  BLK_TRY(x);
  x = blk_pool(b, "maxpool", x, 0, 3, 2, 0, 0);
  BLK_TRY(x);
  x = blk_cbr(b, "conv4", x, blk_iarg(a, "conv4"), blk_iarg(a, "conv4_kernel"), 1, 0);
  BLK_TRY(x);
  x = blk_cbr(b, "conv5", x, blk_iarg(a, "conv5"), 3, 2, 0);
  BLK_TRY(x);
  return blk_cbr(b, "conv6", x, blk_iarg(a, "conv6"), 3, 1, 1);
}

const blk_def blk_defs_stems[] = {
    {"stem_googlenet", "GoogLeNet stem: 7x7/2, pool, 1x1, 3x3, pool", BLK_ROLE_MAIN, 0, googlenet_params,
     BLK_N(googlenet_params), build_googlenet},
    {"stem_bn_inception", "BN-Inception stem (separable 7x7 built as a plain 7x7)", BLK_ROLE_MAIN, 0,
     googlenet_params, BLK_N(googlenet_params), build_googlenet},
    {"stem_v3", "released Inception-v3 stem (factorized 7x7)", BLK_ROLE_MAIN, 0, v3_params, BLK_N(v3_params),
     build_v3},
    {"stem_v2", "Inception-v3 stem before 'Factorized 7x7': one 7x7/2", BLK_ROLE_MAIN, 0, v2_params,
     BLK_N(v2_params), build_v3},
    {"stem_lowres", "Table 2 low-resolution stem: stride-1 first conv, pool1 optional", BLK_ROLE_MAIN, 0,
     lowres_params, BLK_N(lowres_params), build_v3},
    {"stem_v3_table1", "paper Table 1 rows 1-7 as printed (row 7 padded)", BLK_ROLE_MAIN, 0, table1_params,
     BLK_N(table1_params), build_table1},
    {"stem_lucid", "Lucid's Inception-v3 stem (1x1 at row 5; 36x36 out)", BLK_ROLE_MAIN, 0, lucid_params,
     BLK_N(lucid_params), build_table1},
};
const int blk_n_defs_stems = BLK_N(blk_defs_stems);
