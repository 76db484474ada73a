/* cli_report.c: `lab report DIR` — the paper-style table of a sweep's results folder
 * (DIR = <out>/<experiment>): table.md, table.csv, table.json, table.tex, each written
 * atomically (lab/report.h says what is in them).
 *
 * The cost columns are exact counts at ImageNet scale: each row's network is built (never
 * planned or trained) with 3 input channels, 1000 classes and width 1.0, at the native input
 * size of the preset the row names (224 for GoogLeNet / BN-Inception, 299 for Inception-v2/v3:
 * the sizes the paper's "Cost Bn Ops" column refers to), or 299 when no preset says. A row
 * that changes the stem's resolution (Table 2) is costed at the input that gives the preset's
 * grid after the stem (imagenet_size).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blocks/network.h"
#include "lab/cli.h"
#include "lab/report.h"
#include "lab/train.h"

#define IMAGENET_DEFAULT_SIZE 299

/* The preset's own input_size (the network's native resolution), or 0; *preset_net gets the
 * preset's network map (caller frees) when there is one. */
static int preset_input_size(const lab_cfg_node *net, const char *preset_dir, lab_cfg_node **preset_net) {
  *preset_net = NULL;
  const lab_cfg_node *p = lab_cfg_get(net, "preset");
  if (!p || p->kind != LAB_CFG_SCALAR) return 0;
  if (lab_preset_load(p->scalar, (void *)preset_dir, preset_net, NULL)) return 0;
  long v = 0;
  const lab_cfg_node *sz = lab_cfg_get(*preset_net, "input_size");
  if (!sz || lab_cfg_int(sz, 1, 100000, &v, NULL)) v = 0;
  return (int)v;
}

/* H x W after the stem (the leading stem_* blocks) of `net` built at ImageNet scale with
 * input size s; -1 when it does not build. */
/* The paper's scale: 3 channels, 1000 classes, full width, at input size s (presets found in
 * preset_dir). */
static blk_overrides imagenet_overrides(const char *preset_dir, int s) {
  blk_overrides ov;
  memset(&ov, 0, sizeof ov);
  ov.image_size = s;
  ov.classes = 1000;
  ov.in_channels = 3;
  ov.width = 1.0;
  ov.load_preset = lab_preset_load;
  ov.load_ctx = (void *)preset_dir;
  return ov;
}

static int stem_grid(const lab_cfg_node *net, const char *preset_dir, int s) {
  blk_overrides ov = imagenet_overrides(preset_dir, s);
  blk_network n;
  if (blk_network_build(net, &ov, &n, NULL)) return -1;
  int h = -1;
  for (int b = 0; b < n.n_blocks && !strncmp(n.blocks[b].def->name, "stem", 4); b++)
    h = lab_graph_shape(n.g, n.blocks[b].out).h;
  blk_network_free(&n);
  return h;
}

/* The ImageNet input size of a row: the preset's native size, unless the row changed the stem
 * so that the grid after it differs there (Table 2's stride-1 stems); then the smallest size
 * giving the preset's grid after the stem, i.e. the same modules at the same cost (the
 * paper's "receptive field" of 151 or 79 for a 299 network). The grid grows with the input,
 * so a bisection finds it. */
static int imagenet_size(const lab_cfg_node *net, const char *preset_dir) {
  lab_cfg_node *pnet = NULL;
  int native = preset_input_size(net, preset_dir, &pnet);
  if (native <= 0) {
    lab_cfg_free(pnet);
    return IMAGENET_DEFAULT_SIZE;
  }
  int want = stem_grid(pnet, preset_dir, native);
  lab_cfg_free(pnet);
  if (want <= 0 || stem_grid(net, preset_dir, native) == want) return native;
  int lo = 8, hi = 2 * native;
  if (stem_grid(net, preset_dir, hi) < want) return native;
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    if (stem_grid(net, preset_dir, mid) >= want)
      hi = mid;
    else
      lo = mid + 1;
  }
  return stem_grid(net, preset_dir, lo) == want ? lo : native;
}

lab_status lab_cli_imagenet_cost(const lab_cfg_node *row, const char *preset_dir, void *ctx, lab_report_cost *out,
                                 lab_error *err) {
  (void)ctx;
  memset(out, 0, sizeof *out);
  const lab_cfg_node *net = lab_cfg_get(row, "network");
  if (!net) return lab_cfg_error(err, row, "the row has no network section");
  blk_overrides ov = imagenet_overrides(preset_dir, imagenet_size(net, preset_dir));
  blk_network n;
  lab_status st = blk_network_build(net, &ov, &n, err);
  if (st) return st;
  blk_totals t = blk_network_totals(&n);
  out->input_size = ov.image_size;
  out->macs = t.macs;
  out->macs_aux = t.macs_aux;
  out->params = t.params;
  out->params_aux = t.params_aux;
  /* Stages by the grid a block works on (the H of its input): the stem is every block before
   * the first grid-level block, then each new input grid opens the next stage. */
  int grid_stage = -1, last_h = lab_graph_shape(n.g, 0).h, in_stem = 1;
  for (int b = 0; b < n.n_blocks; b++) {
    const blk_block_info *bi = &n.blocks[b];
    lab_cost c = blk_network_block_cost(&n, b);
    int stage;
    if (bi->def->role == BLK_ROLE_AUX) {
      stage = LAB_STAGE_AUX;
    } else if (bi->def->role == BLK_ROLE_HEAD) {
      stage = LAB_STAGE_HEAD;
    } else if (in_stem && !strncmp(bi->def->name, "stem", 4)) {
      stage = LAB_STAGE_STEM;
    } else {
      in_stem = 0;
      if (grid_stage < 0 || last_h != out->stage_grid[LAB_STAGE_GRID1 + grid_stage]) {
        /* a block working on a new grid; pools between modules belong to the grid they read */
        if (grid_stage < 2) grid_stage++;
        if (!out->stage_grid[LAB_STAGE_GRID1 + grid_stage]) out->stage_grid[LAB_STAGE_GRID1 + grid_stage] = last_h;
      }
      stage = LAB_STAGE_GRID1 + grid_stage;
    }
    out->stage_macs[stage] += c.macs;
    if (bi->def->role == BLK_ROLE_MAIN) last_h = lab_graph_shape(n.g, bi->out).h;
  }
  blk_network_free(&n);
  out->ok = 1;
  return LAB_STATUS_OK;
}

static void usage(FILE *f) {
  fprintf(f, "usage: lab report DIR [--print]\n"
             "  DIR: a sweep's results folder, <out>/<experiment> (it holds experiment.yaml).\n"
             "  Writes DIR/table.md, table.csv, table.json and table.tex (atomically); --print also\n"
             "  shows table.md on stdout.\n");
}

int lab_cmd_report(int argc, char **argv) {
  const char *dir = NULL;
  int print = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(argv[i], "--print")) {
      print = 1;
    } else if (argv[i][0] == '-') {
      fprintf(stderr, "lab report: unknown option '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    } else if (!dir) {
      dir = argv[i];
    } else {
      fprintf(stderr, "lab report: one DIR only ('%s' and '%s')\n", dir, argv[i]);
      return 2;
    }
  }
  if (!dir) {
    usage(stderr);
    return 2;
  }
  lab_error err = {0};
  lab_report *r = NULL;
  lab_status st = lab_report_load(dir, lab_cli_imagenet_cost, NULL, &r, &err);
  if (!st) {
    for (int i = 0; i < r->n_rows; i++)
      if (!r->rows[i].cost.ok)
        fprintf(stderr, "lab report: warning: no cost for row '%s': %s\n", r->rows[i].name, r->rows[i].cost.note);
    st = lab_report_write_tables(r, &err);
  }
  if (st) {
    fprintf(stderr, "lab report: %s\n", err.msg);
    lab_report_free(r);
    return 1;
  }
  if (print) {
    char *md = lab_report_markdown(r);
    fputs(md, stdout);
    free(md);
  }
  fprintf(stderr, "lab report: %s/table.{md,csv,json,tex}: %d rows x %d seeds (%d missing, %d failed, %d stale)\n",
          r->dir, r->n_rows, r->n_seeds, r->n_missing, r->n_failed, r->n_stale);
  lab_report_free(r);
  return 0;
}
