/* report.h: a sweep's results folder -> the paper-style table (issue 5, Table 3).
 *
 * The folder <out>/<experiment>/ holds, besides the run folders (run-contract.md), the
 * manifest `experiment.yaml` that `lab sweep` writes before it trains anything:
 *
 *   # header comments (who wrote it, from which file)
 *   experiment: table3          # the experiment's name
 *   description: "..."          # optional
 *   file: experiments/table3.yaml   # the experiment file as given to lab sweep
 *   preset_dir: /abs/experiments    # where `preset: NAME` networks are looked up
 *   seeds: [0, 1, 2]
 *   rows:                       # in the paper's order
 *     - name: GoogLeNet
 *       slug: googlenet         # the run folder name (lab_run_slug)
 *       paper: {top1: 29.0, top5: 9.2, cost_bn_ops: 1.5}   # only the figures given
 *       config_hash: 0123456789abcdef                      # lab_train_config_hash
 *       config: {network: ..., data: ..., train: ...}      # the row's effective configuration
 *
 * The report reads it, then each run's summary.json (strict, lab/json.h) and metrics.tsv.
 * A run counts only when its summary says "finished" AND its config_hash is the row's: a
 * folder from an older configuration is reported as stale, never averaged in. Missing runs
 * stay missing (NaN, never zero) and are listed.
 *
 * Errors: our top-1/top-5 come from the EMA weights when every finished run measured them,
 * else from the raw weights (the table header says which). Mean +- sample std over seeds,
 * and the change from the row above as a paired-by-seed 95% t-interval (lab/stats.h).
 *
 * Costs at ImageNet scale come from a callback (the CLI builds the network with blocks/;
 * lab/ knows no block), so tests can supply their own.
 */
#ifndef LAB_REPORT_H
#define LAB_REPORT_H

#include <stdint.h>

#include "lab/config.h"
#include "lab/status.h"
#include "lab/stats.h"

#define LAB_REPORT_MANIFEST "experiment.yaml"

/* MACs per stage, for the stacked chart: stem, the three grids of Inception modules (35x35,
 * 17x17, 8x8 in Inception-v3; 28x28, 14x14, 7x7 in GoogLeNet), the aux heads, the head. */
enum { LAB_STAGE_STEM = 0, LAB_STAGE_GRID1, LAB_STAGE_GRID2, LAB_STAGE_GRID3, LAB_STAGE_AUX, LAB_STAGE_HEAD,
       LAB_REPORT_N_STAGES };
extern const char *const lab_report_stage_names[LAB_REPORT_N_STAGES];

typedef struct lab_report_cost {
  int ok;                 /* 0: not computed; note says why */
  int input_size;         /* H = W the network was costed at */
  uint64_t macs, macs_aux, params, params_aux; /* per image; aux heads apart (as lab cost) */
  uint64_t stage_macs[LAB_REPORT_N_STAGES];
  int stage_grid[LAB_REPORT_N_STAGES]; /* input H of each grid stage (0: none) */
  char note[1100];
} lab_report_cost;

/* Cost of one row's network at ImageNet scale. row: the row's effective configuration;
 * preset_dir: from the manifest. Fills *out (out->ok = 1) or returns an error. */
typedef lab_status (*lab_report_cost_fn)(const lab_cfg_node *row, const char *preset_dir, void *ctx,
                                         lab_report_cost *out, lab_error *err);

typedef enum lab_run_state {
  LAB_RUN_MISSING = 0,    /* no folder */
  LAB_RUN_INCOMPLETE = 1, /* folder without summary.json (running, or interrupted) */
  LAB_RUN_STALE = 2,      /* summary of another configuration (hash differs) */
  LAB_RUN_FINISHED = 3,
  LAB_RUN_FAILED = 4,
  LAB_RUN_NAN = 5         /* the loss turned non-finite */
} lab_run_state;
extern const char *const lab_run_state_names[6];

typedef struct lab_report_run {
  long seed;
  lab_run_state state;
  double raw_top1, raw_top5, ema_top1, ema_top5; /* from summary.json; NaN: not measured */
  double top1, top5;                             /* the metric the table uses; NaN unless finished */
  double train_seconds;
  long epochs;
  /* metrics.tsv, when present: per evaluation, the table's metric and the training loss */
  int n_points;
  double *epoch, *curve_top1, *train_loss;
} lab_report_run;

typedef struct lab_report_row {
  const char *name, *slug, *config_hash;  /* point into the manifest */
  double paper_top1, paper_top5, paper_cost; /* NaN when absent */
  double paper_d_top1, paper_d_top5;      /* the paper's change from the row above; NaN */
  const lab_cfg_node *config;
  char scale[256];                        /* "fashion-mnist, 32x32 input, width 0.25, 10 epochs" */
  lab_report_cost cost;
  lab_report_run *runs;                   /* one per seed, in the manifest's seed order */
  int n;                                  /* finished runs */
  double top1_mean, top1_std, top5_mean, top5_std;
  lab_paired d_top1, d_top5;              /* vs the row above (row 0: n = 0) */
} lab_report_row;

typedef struct lab_report {
  char *dir;
  const char *experiment, *description, *file;
  long *seeds;
  int n_seeds;
  lab_report_row *rows;
  int n_rows;
  int use_ema;        /* 1: the table's errors are the EMA weights' */
  char metric[128];   /* words for the header */
  char scale[512];    /* the shared scale, or "" when rows differ (then per row) */
  int n_missing, n_failed, n_stale; /* runs not counted */
  lab_cfg_node *manifest;
} lab_report;

/* Reads DIR/experiment.yaml and every run under DIR. cost may be NULL (no cost columns).
 * Errors (LAB_ERR_IO, LAB_ERR_CONFIG for the manifest, LAB_ERR_DATA for a malformed
 * summary.json or metrics.tsv) name the file, line and column. */
lab_status lab_report_load(const char *dir, lab_report_cost_fn cost, void *ctx, lab_report **out, lab_error *err);
void lab_report_free(lab_report *r);

/* Writes DIR/table.md, table.csv, table.json and table.tex, each atomically (a reader sees
 * the old table or the new one, never half of one). */
lab_status lab_report_write_tables(const lab_report *r, lab_error *err);

/* The texts themselves (new strings, caller frees): for tests and for lab plot. */
char *lab_report_markdown(const lab_report *r);
char *lab_report_csv(const lab_report *r);
char *lab_report_json(const lab_report *r);
char *lab_report_latex(const lab_report *r);

/* Reads a metrics.tsv: the columns named in `cols` (n_cols) into new arrays out[c] of *n_rows
 * values each (NaN for "nan"). A missing column or a malformed number is LAB_ERR_DATA with
 * FILE:LINE:COL. */
lab_status lab_report_read_tsv(const char *path, const char *const *cols, int n_cols, double **out, int *n_rows,
                               lab_error *err);

#endif
