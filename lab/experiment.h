/* experiment.h: experiment files, i.e. a cumulative ablation (the paper's Table 3) as YAML.
 *
 * The schema (every key below is checked; unknown keys are errors naming the closest known):
 *
 *   experiment: table3-quick      # required, in the file itself (never inherited through
 *                                 #   extends: two files must not share a results folder)
 *   extends: table3.yaml          # optional: another experiment file, relative to this file's
 *                                 #   folder; loaded first (recursively, cycles are errors) and
 *                                 #   this file deep-merged over it (lab_cfg_merge: maps key by
 *                                 #   key, scalars and sequences replace, so `rows:` here
 *                                 #   replaces all the parent's rows)
 *   description: "..."            # optional
 *   seeds: [0, 1, 2]              # required, non-empty, distinct integers in [0, 2^31 - 1]
 *   base:                         # required map: the configuration every row starts from;
 *     network: {...}              #   its sections belong to their owners (blocks/, data,
 *     train: {...}                #   training), which validate them: not this module
 *   rows:                         # required, non-empty sequence of maps, cumulative:
 *     - name: GoogLeNet           #   required, unique, no '/', at most 100 characters
 *       description: "..."        #   optional
 *       paper: {top1: 29.0, top5: 9.2, cost_bn_ops: 1.5}
 *                                 #   optional; errors in percent [0, 100], Bn ops [0, 1e6];
 *                                 #   absent figures are NaN
 *       unset: [train.warmup]     #   optional: paths removed from the row above's config
 *       set_new: {network.aux.bn: all}
 *                                 #   optional: paths that must NOT exist yet (their parent
 *                                 #   map must): for maps with free keys, such as a block's
 *                                 #   parameters
 *       set: {network.preset: bn-googlenet, train: {optimizer: rmsprop}}
 *                                 #   optional: paths that MUST exist in the row above; a
 *                                 #   map value updates key by key (each key must exist), any
 *                                 #   other value replaces
 *
 * Row i's configuration = row i-1's configuration (row 0: base), then its unset, set_new and
 * set, in that order. Paths are "a.b.c" with "[i]" for sequence items (config.h). A path
 * that does not exist is an error at the key's FILE:LINE:COL listing the keys that do exist
 * there, closest first.
 *
 * Command-line overrides ("KEY=VALUE", VALUE parsed as YAML) are applied in order:
 *   - KEY starting with an experiment key (experiment, description, seeds, base, rows), e.g.
 *     seeds=[0], base.train.epochs=2, rows[3].set.train.lr=0.1: to the document after
 *     extends and before rows are resolved (rows still override base values they set);
 *     the path must exist, except a missing top-level key (description=...);
 *   - any other KEY, e.g. train.epochs=2: to every row's resolved configuration, last, so it
 *     wins over base and rows (as `set`: a map value updates). It applies to the rows where
 *     the path exists, and is an error if no row has it. `extends` cannot be overridden.
 *
 * Each resolved configuration keeps, per node, the file:line:col its value came from (the
 * base section, a row's set, or "<command line>") and paths relative to the row ("train.lr"),
 * so owners' errors point at the line to edit. It is the run's effective configuration:
 * write it with lab_cfg_write, identify it with lab_cfg_hash.
 */
#ifndef LAB_EXPERIMENT_H
#define LAB_EXPERIMENT_H

#include <stdint.h>

#include "lab/config.h"
#include "lab/status.h"

#define LAB_EXPERIMENT_MAX_EXTENDS 16
#define LAB_EXPERIMENT_MAX_SEED 2147483647L

typedef struct lab_experiment_row {
  char *name;
  char *description; /* NULL when absent */
  double paper_top1, paper_top5, paper_cost_bn_ops; /* the paper's figures; NaN when absent */
  lab_cfg_node *config;      /* the resolved configuration, owned by the experiment */
  const lab_cfg_node *node;  /* the row's map in doc, for messages about the row */
} lab_experiment_row;

typedef struct lab_experiment {
  char *path;        /* the file loaded */
  char *name;
  char *description; /* NULL when absent */
  long *seeds;
  int n_seeds;
  lab_experiment_row *rows;
  int n_rows;
  lab_cfg_node *doc; /* the merged document (extends and overrides applied) */
} lab_experiment;

/* Loads `path`, resolves extends, applies the n_overrides "KEY=VALUE" strings (may be NULL
 * when 0) and resolves every row. On success *out is a new experiment (lab_experiment_free);
 * on failure *out is NULL and err says where and why (LAB_ERR_CONFIG, LAB_ERR_IO). */
lab_status lab_experiment_load(const char *path, const char *const *overrides, int n_overrides,
                               lab_experiment **out, lab_error *err);
void lab_experiment_free(lab_experiment *e);

/* Index of the row called name, or -1. */
int lab_experiment_find_row(const lab_experiment *e, const char *name);

#endif
