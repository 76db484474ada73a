/* test_blocks.c: the block registry and builders: hand-computed shapes, params and MACs of each
 * block family and switch, the width multiplier, the factorization activation, small-input
 * aux heads, and the errors a bad network file gives (position, names, closest first). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blocks/network.h"
#include "lab/layers.h"
#include "lab/config.h"
#include "testutil.h"

/* Builds `yaml` (a document with a `network` map); returns the status, err filled. */
static lab_status build(const char *yaml, blk_network *n, lab_error *err, const blk_overrides *ov) {
  lab_cfg_node *root;
  lab_status st = lab_cfg_parse_string(yaml, "<test>", &root, err);
  assert_int_equal(st, LAB_STATUS_OK);
  st = blk_network_build(lab_cfg_get(root, "network"), ov, n, err);
  lab_cfg_free(root);
  return st;
}

static void build_ok(const char *yaml, blk_network *n) {
  lab_error err = {0};
  lab_status st = build(yaml, n, &err, NULL);
  if (st != LAB_STATUS_OK) fprintf(stderr, "%s\n", err.msg);
  assert_int_equal(st, LAB_STATUS_OK);
}

static lab_shape out_shape(const blk_network *n) { return lab_graph_shape(n->g, n->blocks[n->n_blocks - 1].out); }

static int count_type(const blk_network *n, int block, const char *type) {
  int k = 0;
  for (int id = n->blocks[block].first; id < n->blocks[block].end; id++)
    k += !strcmp(lab_graph_node(n->g, id)->layer.ops->type, type);
  return k;
}

/* ReLUs in a block: relu nodes and batch norms with the ReLU fused in. */
static int count_relus(const blk_network *n, int block) {
  int k = count_type(n, block, "relu");
  for (int id = n->blocks[block].first; id < n->blocks[block].end; id++) {
    const lab_node *nd = lab_graph_node(n->g, id);
    k += nd->layer.ops == &lab_batchnorm_ops && nd->layer.cfg.bn.relu;
  }
  return k;
}

/* conv + BN params and MACs of one kh x kw conv, IC -> OC, on an OH x OW output. */
#define CONV_P(kh, kw, ic, oc) ((uint64_t)(kh) * (kw) * (ic) * (oc) + 2 * (oc))
#define CONV_M(kh, kw, ic, oc, hw) ((uint64_t)(kh) * (kw) * (ic) * (oc) * (hw))

/* === registry === */

static void test_registry_schema(void **state) {
  (void)state;
  int n = blk_registry_count();
  assert_true(n >= 20);
  for (int i = 0; i < n; i++) {
    const blk_def *d = blk_registry_get(i);
    assert_non_null(d->build);
    assert_ptr_equal(blk_find(d->name), d);
    for (int j = 0; j < i; j++) assert_string_not_equal(blk_registry_get(j)->name, d->name);
    for (int p = 0; p < d->n_params; p++) {
      const blk_param_def *q = &d->params[p];
      assert_int_equal(blk_param_index(d, q->name), p);
      assert_non_null(q->doc);
      if (q->type == BLK_P_ENUM) {
        int nc = 0;
        while (nc < BLK_MAX_CHOICES && q->choices[nc]) nc++;
        assert_true(nc >= 2 && q->def >= 0 && q->def < nc);
      } else {
        assert_true(q->def >= q->min && q->def <= q->max);
      }
    }
  }
  assert_null(blk_find("inception_35"));
  assert_null(blk_registry_get(n));
}

/* === stems: output shapes of every stem (facts card 2.2, 2.5; the seed README) === */

static void test_stem_shapes(void **state) {
  (void)state;
  struct {
    const char *block;
    int size;
    lab_shape want;
  } cases[] = {
      {"stem_v3", 299, {192, 35, 35}},        {"stem_v2", 299, {192, 35, 35}},
      {"stem_lowres", 151, {192, 35, 35}},    {"stem_v3_table1", 299, {288, 35, 35}},
      {"stem_lucid", 299, {288, 36, 36}},     {"stem_googlenet", 224, {192, 28, 28}},
      {"stem_bn_inception", 224, {192, 28, 28}},
  };
  char yaml[512];
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    snprintf(yaml, sizeof yaml, "network: {input_size: %d, blocks: [{block: %s}]}", cases[i].size, cases[i].block);
    blk_network n;
    build_ok(yaml, &n);
    lab_shape s = out_shape(&n);
    if (!lab_shape_eq(s, cases[i].want)) fprintf(stderr, "%s: %dx%dx%d\n", cases[i].block, s.c, s.h, s.w);
    assert_true(lab_shape_eq(s, cases[i].want));
    blk_network_free(&n);
  }
  /* Table 2's 79x79 setup: stride 1, no pool after the first layer -> 36x36. */
  blk_network n;
  build_ok("network: {input_size: 79, blocks: [{block: stem_lowres, pool1: false}]}", &n);
  assert_true(lab_shape_eq(out_shape(&n), (lab_shape){192, 36, 36}));
  blk_network_free(&n);
  /* The released stem, params by hand: 3->32, 32->32, 32->64, 64->80 (1x1), 80->192. */
  build_ok("network: {blocks: [{block: stem_v3}]}", &n);
  assert_int_equal(blk_network_totals(&n).params, CONV_P(3, 3, 3, 32) + CONV_P(3, 3, 32, 32) + CONV_P(3, 3, 32, 64) +
                                                       CONV_P(1, 1, 64, 80) + CONV_P(3, 3, 80, 192));
  blk_network_free(&n);
}

/* === modules === */

static void test_inception_35x35(void **state) {
  (void)state;
  blk_network n;
  const uint64_t hw = 35 * 35;
  build_ok("network: {input_size: 35, input_channels: 192, blocks: [{block: inception_35x35, pool_proj: 32}]}", &n);
  uint64_t p = CONV_P(1, 1, 192, 64) + CONV_P(1, 1, 192, 48) + CONV_P(5, 5, 48, 64) + CONV_P(1, 1, 192, 64) +
               CONV_P(3, 3, 64, 96) + CONV_P(3, 3, 96, 96) + CONV_P(1, 1, 192, 32);
  uint64_t m = CONV_M(1, 1, 192, 64, hw) + CONV_M(1, 1, 192, 48, hw) + CONV_M(5, 5, 48, 64, hw) +
               CONV_M(1, 1, 192, 64, hw) + CONV_M(3, 3, 64, 96, hw) + CONV_M(3, 3, 96, 96, hw) +
               CONV_M(1, 1, 192, 32, hw);
  assert_int_equal(blk_network_totals(&n).params, p);
  assert_int_equal(p, 255904); /* Mixed_5b, facts card 2.4 */
  assert_int_equal(blk_network_totals(&n).macs, m);
  assert_true(lab_shape_eq(out_shape(&n), (lab_shape){256, 35, 35}));
  blk_network_free(&n);
  /* Fig. 5: the 5x5 becomes 3x3 (48 -> 64) then 3x3 (64 -> 64). */
  build_ok("network: {input_size: 35, input_channels: 192, blocks: [{block: inception_35x35, pool_proj: 32, "
           "5x5: two_3x3}]}",
           &n);
  uint64_t p2 = p - CONV_P(5, 5, 48, 64) + CONV_P(3, 3, 48, 64) + CONV_P(3, 3, 64, 64);
  assert_int_equal(blk_network_totals(&n).params, p2);
  assert_int_equal(blk_network_totals(&n).macs,
                   m - CONV_M(5, 5, 48, 64, hw) + CONV_M(3, 3, 48, 64, hw) + CONV_M(3, 3, 64, 64, hw));
  blk_network_free(&n);
}

static void test_inception_17x17_factorized(void **state) {
  (void)state;
  blk_network n;
  const uint64_t hw = 17 * 17;
  const char *base = "network: {input_size: 17, input_channels: 768, blocks: [{block: inception_17x17, cn: 128, "
                     "factorized: %s}]}";
  char yaml[256];
  snprintf(yaml, sizeof yaml, base, "true");
  build_ok(yaml, &n);
  uint64_t common = CONV_M(1, 1, 768, 192, hw) + 2 * CONV_M(1, 1, 768, 128, hw) + CONV_M(1, 1, 768, 192, hw);
  assert_int_equal(blk_network_totals(&n).macs, common + CONV_M(1, 7, 128, 128, hw) + CONV_M(7, 1, 128, 192, hw) +
                                                    3 * CONV_M(7, 1, 128, 128, hw) + CONV_M(1, 7, 128, 192, hw));
  assert_int_equal(blk_network_totals(&n).params, 1297408); /* Mixed_6b, facts card 2.4 */
  assert_true(lab_shape_eq(out_shape(&n), (lab_shape){768, 17, 17}));
  blk_network_free(&n);
  /* Not factorized: one 7x7 per (1x7, 7x1) pair, with the pair's output width. */
  snprintf(yaml, sizeof yaml, base, "false");
  build_ok(yaml, &n);
  assert_int_equal(blk_network_totals(&n).macs,
                   common + CONV_M(7, 7, 128, 192, hw) + CONV_M(7, 7, 128, 128, hw) + CONV_M(7, 7, 128, 192, hw));
  assert_int_equal(count_type(&n, 0, "conv2d"), 7);
  blk_network_free(&n);
}

static void test_inception_8x8_split(void **state) {
  (void)state;
  blk_network n;
  const uint64_t hw = 64;
  build_ok("network: {input_size: 8, input_channels: 1280, blocks: [{block: inception_8x8}]}", &n);
  assert_int_equal(blk_network_totals(&n).params, 5044608); /* Mixed_7b, facts card 2.4 */
  assert_true(lab_shape_eq(out_shape(&n), (lab_shape){2048, 8, 8}));
  blk_network_free(&n);
  build_ok("network: {input_size: 8, input_channels: 1280, blocks: [{block: inception_8x8, split: false}]}", &n);
  uint64_t m = CONV_M(1, 1, 1280, 320, hw) + CONV_M(1, 1, 1280, 384, hw) + CONV_M(3, 3, 384, 768, hw) +
               CONV_M(1, 1, 1280, 448, hw) + CONV_M(3, 3, 448, 384, hw) + CONV_M(3, 3, 384, 768, hw) +
               CONV_M(1, 1, 1280, 192, hw);
  assert_int_equal(blk_network_totals(&n).macs, m);
  assert_true(lab_shape_eq(out_shape(&n), (lab_shape){2048, 8, 8}));
  blk_network_free(&n);
}

static void test_googlenet_and_bn_modules(void **state) {
  (void)state;
  blk_network n;
  const uint64_t hw = 28 * 28;
  /* Inception (3a) as published: no BN, conv biases, true 5x5: 159K params, 128M ops (S8). */
  build_ok("network: {input_size: 28, input_channels: 192, bn: false, blocks: [{block: inception_googlenet}]}", &n);
  uint64_t p = 192 * 64 + 64 + 192 * 96 + 96 + 9 * 96 * 128 + 128 + 192 * 16 + 16 + 25 * 16 * 32 + 32 + 192 * 32 + 32;
  assert_int_equal(blk_network_totals(&n).params, p);
  assert_int_equal(blk_network_totals(&n).macs, (p - (64 + 96 + 128 + 16 + 32 + 32)) * hw);
  assert_int_equal(count_type(&n, 0, "batchnorm"), 0);
  blk_network_free(&n);
  /* BN-Inception 3c (stride 2, pass-through): 320 -> 160 + 96 + 320 = 576 at 14x14. */
  build_ok("network: {input_size: 28, input_channels: 320, blocks: [{block: inception_bn, c1x1: 0, c3x3_reduce: 128, "
           "c3x3: 160, c3x3dbl_reduce: 64, c3x3dbl: 96, pool: max, pool_proj: 0, stride: 2}]}",
           &n);
  assert_true(lab_shape_eq(out_shape(&n), (lab_shape){576, 14, 14}));
  blk_network_free(&n);
}

static void test_reductions(void **state) {
  (void)state;
  blk_network n;
  build_ok("network: {input_size: 35, input_channels: 288, blocks: [{block: reduction_35x35}]}", &n);
  assert_int_equal(blk_network_totals(&n).params, 1153280); /* Mixed_6a */
  assert_true(lab_shape_eq(out_shape(&n), (lab_shape){768, 17, 17}));
  blk_network_free(&n);
  build_ok("network: {input_size: 17, input_channels: 768, blocks: [{block: reduction_17x17}]}", &n);
  assert_int_equal(blk_network_totals(&n).params, 1698304); /* Mixed_7a */
  assert_true(lab_shape_eq(out_shape(&n), (lab_shape){1280, 8, 8}));
  blk_network_free(&n);
  /* Fig. 9 with a 1x1 conv, 320 -> 640 (Sec. 5): conv-then-pool costs d^2/(d/2)^2 times more. */
  build_ok("network: {input_size: 35, input_channels: 320, blocks: [{block: reduction_pool_conv, out: 640}]}", &n);
  uint64_t cheap = blk_network_totals(&n).macs;
  assert_int_equal(cheap, 17ULL * 17 * 320 * 640);
  assert_true(lab_shape_eq(out_shape(&n), (lab_shape){640, 17, 17}));
  blk_network_free(&n);
  build_ok("network: {input_size: 35, input_channels: 320, blocks: [{block: reduction_conv_pool, out: 640}]}", &n);
  assert_int_equal(blk_network_totals(&n).macs, 35ULL * 35 * 320 * 640);
  assert_true(lab_shape_eq(out_shape(&n), (lab_shape){640, 17, 17}));
  blk_network_free(&n);
}

/* === heads === */

static void test_aux_heads(void **state) {
  (void)state;
  blk_network n;
  /* torchvision's AuxLogits on Mixed_6e: 3,326,696 params (facts card 2.4). The main path
   * continues from the aux head's input. */
  build_ok("network: {input_size: 17, input_channels: 768, blocks: [{block: aux_v3}, {block: head}]}", &n);
  blk_totals t = blk_network_totals(&n);
  assert_int_equal(t.params_aux, 3326696);
  assert_int_equal(t.params, 768 * 1000 + 1000);
  assert_int_equal(lab_graph_node(n.g, n.blocks[1].first)->inputs[0], 0);
  assert_true(lab_graph_output(n.g, "aux_logits") == n.blocks[0].out);
  assert_true(lab_graph_output(n.g, "logits") == n.blocks[1].out);
  assert_string_equal(n.notes, "");
  blk_network_free(&n);
  /* bn: conv drops the BN of the 5x5 'FC' conv, which gets a bias instead: -2*768 + 768. */
  build_ok("network: {input_size: 17, input_channels: 768, blocks: [{block: aux_v3, bn: conv}]}", &n);
  assert_int_equal(blk_network_totals(&n).params_aux, 3326696 - 768);
  blk_network_free(&n);
  /* Small map: the 5x5/3 pool stays on 8x8 (-> 2x2), the 5x5 conv shrinks to 2x2; on 3x3 the
   * pool shrinks too. Both say so. */
  build_ok("network: {input_size: 8, input_channels: 768, blocks: [{block: aux_v3}]}", &n);
  assert_non_null(strstr(n.notes, "5x5 conv shrunk to 2x2"));
  assert_int_equal(blk_network_totals(&n).macs_aux, 4ULL * 768 * 128 + 4ULL * 128 * 768 + 768ULL * 1000);
  blk_network_free(&n);
  build_ok("network: {input_size: 3, input_channels: 768, blocks: [{block: aux_v3}]}", &n);
  assert_non_null(strstr(n.notes, "pool 5x5 shrunk to 3x3"));
  blk_network_free(&n);
  /* GoogLeNet's head with BN on everything (BN-auxiliary): the FC loses its bias, gains BN. */
  build_ok("network: {input_size: 14, input_channels: 512, blocks: [{block: aux_googlenet, bn: all}]}", &n);
  assert_int_equal(blk_network_totals(&n).params_aux,
                   512 * 128 + 2 * 128 + 2048 * 1024 + 2 * 1024 + 1024 * 1000 + 1000);
  blk_network_free(&n);
  build_ok("network: {input_size: 4, input_channels: 768, blocks: [{block: aux_lucid}]}", &n);
  assert_non_null(strstr(n.notes, "adaptive pool 5x5 shrunk to 4x4"));
  blk_network_free(&n);
}

/* === global options === */

static void test_width_and_options(void **state) {
  (void)state;
  blk_network n;
  /* width 0.25: 64 -> 16, 48 -> 12 -> 16 (min_depth), 96 -> 24, 32 -> 8 -> 16. */
  build_ok("network: {input_size: 35, input_channels: 192, width: 0.25, blocks: [{block: inception_35x35}]}", &n);
  assert_int_equal(out_shape(&n).c, 16 + 16 + 24 + 16);
  blk_network_free(&n);
  blk_overrides ov = {.width = 0.5, .image_size = 17, .classes = 10};
  lab_error err = {0};
  assert_int_equal(build("network: {input_size: 35, input_channels: 768, blocks: [{block: inception_17x17}, "
                         "{block: head}]}",
                         &n, &err, &ov),
                   LAB_STATUS_OK);
  assert_true(lab_shape_eq(lab_graph_shape(n.g, n.blocks[0].out), (lab_shape){384, 17, 17}));
  assert_int_equal(lab_graph_shape(n.g, lab_graph_output(n.g, "logits")).c, 10);
  blk_network_free(&n);
  /* factorization_activation: linear drops the ReLU after the first conv of each of the 3
   * (1x7, 7x1) pairs. */
  build_ok("network: {input_size: 17, input_channels: 768, blocks: [{block: inception_17x17}]}", &n);
  assert_int_equal(count_relus(&n, 0), 10);
  blk_network_free(&n);
  build_ok("network: {input_size: 17, input_channels: 768, factorization_activation: linear, blocks: "
           "[{block: inception_17x17}]}",
           &n);
  assert_int_equal(count_relus(&n, 0), 7);
  blk_network_free(&n);
  /* conv_bias per block: Lucid's biased convs beside BN. */
  build_ok("network: {input_size: 8, input_channels: 4, min_depth: 1, blocks: [{block: conv, out: 8, conv_bias: true}, "
           "{block: conv, out: 8}]}",
           &n);
  assert_int_equal(blk_network_block_cost(&n, 0).n_params, 9 * 4 * 8 + 8 + 16);
  assert_int_equal(blk_network_block_cost(&n, 1).n_params, 9 * 8 * 8 + 16);
  blk_network_free(&n);
}

/* === preset and override (experiment rows) === */

static lab_status test_loader(const char *name, void *ctx, lab_cfg_node **net, lab_error *err) {
  (void)ctx;
  if (strcmp(name, "tiny")) return lab_error_set(err, LAB_ERR_IO, "no preset %s", name);
  lab_cfg_node *root;
  lab_status st = lab_cfg_parse_string(
      "network: {blocks: [{block: stem_v2, name: stem}, {block: conv, name: c, out: 768, kh: 1, kw: 1}, "
      "{block: inception_17x17, name: m}, {block: aux_v3, name: aux, bn: conv}, {block: head, name: head}]}",
      "tiny.yaml", &root, err);
  if (st) return st;
  *net = lab_cfg_clone(lab_cfg_get(root, "network"));
  lab_cfg_free(root);
  return LAB_STATUS_OK;
}

static void test_preset_override(void **state) {
  (void)state;
  blk_overrides ov = {.load_preset = test_loader};
  blk_network n;
  lab_error err = {0};
  lab_status st = build("network: {preset: tiny, input_size: 299, override: {stem: {block: stem_v3}, "
                        "m: {cn: 160}, aux: {bn: all}}}",
                        &n, &err, &ov);
  if (st) fprintf(stderr, "%s\n", err.msg);
  assert_int_equal(st, LAB_STATUS_OK);
  assert_ptr_equal(n.blocks[0].def, blk_find("stem_v3"));
  assert_int_equal(blk_network_block_cost(&n, 2).n_params, 1691008); /* Mixed_6c (c7 160) */
  assert_int_equal(blk_network_totals(&n).params_aux, 3326696);
  blk_network_free(&n);
  /* Another block in a slot drops the old block's settings (aux_v3's bn), keeps the name;
   * aux_none builds nothing and marks no aux output. */
  st = build("network: {preset: tiny, input_size: 299, override: {aux: {block: aux_none}}}", &n, &err, &ov);
  if (st) fprintf(stderr, "%s\n", err.msg);
  assert_int_equal(st, LAB_STATUS_OK);
  assert_string_equal(n.blocks[3].name, "aux");
  assert_int_equal(n.blocks[3].end, n.blocks[3].first);
  assert_int_equal(blk_network_totals(&n).params_aux, 0);
  assert_int_equal(lab_graph_output(n.g, "aux_logits"), -1);
  assert_true(lab_graph_output(n.g, "logits") > 0);
  blk_network_free(&n);
  st = build("network: {preset: tiny, override: {mm: {cn: 160}}}", &n, &err, &ov);
  assert_int_equal(st, LAB_ERR_CONFIG);
  assert_non_null(strstr(err.msg, "<test>:1:"));
  assert_non_null(strstr(err.msg, "no block named 'mm' (blocks: m,"));
  st = build("network: {preset: tiny}", &n, &err, NULL);
  assert_int_equal(st, LAB_ERR_CONFIG);
}

/* === bad input === */

static void test_errors(void **state) {
  (void)state;
  blk_network n;
  lab_error err = {0};
  lab_status st = build("network:\n  blocks:\n    - {block: stem_v3}\n    - {block: inception_35, pool_proj: 32}\n",
                        &n, &err, NULL);
  assert_int_equal(st, LAB_ERR_CONFIG);
  assert_non_null(strstr(err.msg, "<test>:4:"));
  assert_non_null(strstr(err.msg, "unknown block 'inception_35' (known: inception_35x35,"));
  assert_null(n.g);

  st = build("network:\n  blocks:\n    - {block: inception_35x35, pool_prj: 32}\n", &n, &err, NULL);
  assert_int_equal(st, LAB_ERR_CONFIG);
  assert_non_null(strstr(err.msg, "<test>:3:"));
  assert_non_null(strstr(err.msg, "pool_prj"));
  assert_non_null(strstr(err.msg, "known: pool_proj,"));

  st = build("network: {blocks: [{block: inception_35x35, c1x1: many}]}", &n, &err, NULL);
  assert_int_equal(st, LAB_ERR_CONFIG);
  assert_non_null(strstr(err.msg, "many"));

  st = build("network: {blocks: [{block: conv, name: a}, {block: conv, name: a}]}", &n, &err, NULL);
  assert_int_equal(st, LAB_ERR_CONFIG);
  assert_non_null(strstr(err.msg, "already used"));

  st = build("network: {widht: 2, blocks: [{block: conv}]}", &n, &err, NULL);
  assert_int_equal(st, LAB_ERR_CONFIG);
  assert_non_null(strstr(err.msg, "known: width,"));

  /* factorization_activation only where a block factorizes. */
  st = build("network: {blocks: [{block: inception_8x8, factorization_activation: linear}]}", &n, &err, NULL);
  assert_int_equal(st, LAB_ERR_CONFIG);

  /* A shape error names the block path and the shapes: a 35x35 reduction on a 2x2 map. */
  st = build("network:\n  input_size: 2\n  blocks:\n    - {block: conv, name: 'stage3[0]'}\n"
             "    - {block: reduction_35x35, name: 'stage3[1]'}\n",
             &n, &err, NULL);
  assert_int_equal(st, LAB_ERR_SHAPE);
  assert_non_null(strstr(err.msg, "<test>:5:"));
  assert_non_null(strstr(err.msg, "stage3[1] (reduction_35x35)/"));
  assert_non_null(strstr(err.msg, "64x2x2"));
  assert_null(n.g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_registry_schema),        cmocka_unit_test(test_stem_shapes),
      cmocka_unit_test(test_inception_35x35),        cmocka_unit_test(test_inception_17x17_factorized),
      cmocka_unit_test(test_inception_8x8_split),    cmocka_unit_test(test_googlenet_and_bn_modules),
      cmocka_unit_test(test_reductions),             cmocka_unit_test(test_aux_heads),
      cmocka_unit_test(test_width_and_options),      cmocka_unit_test(test_preset_override),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
