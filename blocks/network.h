/* network.h: assembles a network from its YAML description (a preset in
 * experiments/networks/, or the `network:` map of an experiment variant).
 *
 *   network:
 *     name: inception-v3               # for reports
 *     description: "..."               # free text
 *     paper: {cost_bn_ops: 4.8, source: "Table 3 row 8", input_size: 299}
 *                                      # optional, printed beside ours; input_size: the
 *                                      # resolution the paper's figure is at (default 299)
 *     input_size: 299                  # H = W
 *     input_channels: 3
 *     classes: 1000
 *     width: 1.0                       # every width d -> max(int(d * width), min_depth)
 *     min_depth: 16
 *     bn: true                         # BN after every conv of a conv unit
 *     bn_eps: 0.001
 *     bn_momentum: 0.1
 *     conv_bias: auto                  # auto (bias iff no BN follows) | true | false
 *     factorization_activation: relu   # relu | linear (Fig. 2's control)
 *     blocks:                          # built in order; each pushes the graph scope "name (block)"
 *       - {block: stem_v3, name: stem}
 *       - {block: inception_35x35, name: mixed_5b, pool_proj: 32}
 *       - {block: aux_v3, name: aux}   # a side head: the next block still reads mixed_6e
 *       - {block: head, name: head, dropout: 0.5}
 *
 * A block entry holds `block`, an optional `name` (default "blocks[i]", unique), the block's
 * parameters (`lab cost --list-blocks`) and the per-block overrides conv_bias,
 * bn_eps and (for blocks that factorize) factorization_activation; heads take `output`
 * (default "logits" / "aux_logits"). Anything else is an error at its FILE:LINE:COL with the
 * known names, closest first.
 *
 * Reuse (experiment rows): `preset: NAME` starts from preset NAME's network map; every other
 * key given beside it replaces the preset's; `override: {BLOCK_NAME: {key: value, ...}}` sets
 * keys of the named block entries (a `block:` key there swaps the block type, e.g.
 * {stem: {block: stem_v3}} for Table 3's "Factorized 7x7"). Values keep their own positions,
 * so errors point at the line that set them.
 */
#ifndef BLK_NETWORK_H
#define BLK_NETWORK_H

#include <stdint.h>

#include "blocks/blocks.h"
#include "lab/config.h"
#include "lab/graph.h"

typedef struct blk_block_info {
  char name[64];
  char scope[128];    /* the graph scope of the block: "mixed_5b (inception_35x35)" */
  const blk_def *def;
  int out;            /* output node */
  int first, end;     /* its nodes are ids [first, end) */
} blk_block_info;

typedef struct blk_network {
  lab_graph *g;
  char name[96];
  blk_net_opts opt;
  blk_block_info *blocks;
  int n_blocks;
  double paper_cost_bn_ops; /* < 0: the preset quotes no paper cost */
  char paper_source[128];
  int paper_input_size;     /* resolution of the paper's figure (299 unless the preset says) */
  char notes[2048];         /* '\n'-separated builder notes (shrunk aux heads, ...) */
} blk_network;

/* Reads the `network` map of preset NAME into *net, a new tree that blk_network_build frees
 * with lab_cfg_free. Supplied by lab/ code (cli_cost.c's looks in the naming file's folder
 * and its networks/ subfolder): blocks never touch files. */
typedef lab_status (*blk_preset_loader)(const char *name, void *ctx, lab_cfg_node **net, lab_error *err);

/* Command-line overrides (0 keeps the file's value) and the preset loader (may be NULL when
 * no network uses `preset:`). */
typedef struct blk_overrides {
  int image_size, classes, in_channels;
  double width;
  blk_preset_loader load_preset;
  void *load_ctx;
} blk_overrides;

/* Builds the network described by the map `net` (the value of `network:`). On error returns
 * a negative status with err giving FILE:LINE:COL, the config path and what is wrong (for a
 * shape error, the block path and the shapes); *out is left freed. */
lab_status blk_network_build(const lab_cfg_node *net, const blk_overrides *ov, blk_network *out, lab_error *err);
/* Loads a preset file (top-level key `network`) and builds it. */
lab_status blk_network_load(const char *path, const blk_overrides *ov, blk_network *out, lab_error *err);
void blk_network_free(blk_network *n);

/* Counts per image; the aux heads (blocks with role AUX) are counted apart. */
typedef struct blk_totals {
  uint64_t params, params_aux;   /* main path; aux heads only */
  uint64_t macs, macs_aux;
  uint64_t act_floats, act_floats_aux;
} blk_totals;
blk_totals blk_network_totals(const blk_network *n);
/* Cost of block i (sum of its nodes). */
lab_cost blk_network_block_cost(const blk_network *n, int i);

#endif
