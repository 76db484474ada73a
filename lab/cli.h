/* cli.h: the `lab` subcommands. Each lives in its own cli_<name>.c, parses its own
 * arguments, prints its own errors (it is a `main`), and returns the process exit code. */
#ifndef LAB_CLI_H
#define LAB_CLI_H

#include <stddef.h>

#include "blocks/network.h"
#include "lab/experiment.h"
#include "lab/report.h"
#include "lab/train_cfg.h"

int lab_cmd_bench(int argc, char **argv); /* cli_bench.c */
int lab_cmd_cost(int argc, char **argv);  /* cli_cost.c */
int lab_cmd_train(int argc, char **argv); /* cli_train.c */
int lab_cmd_eval(int argc, char **argv);  /* cli_eval.c */
int lab_cmd_sweep(int argc, char **argv);  /* cli_sweep.c */
int lab_cmd_report(int argc, char **argv); /* cli_report.c */
int lab_cmd_plot(int argc, char **argv);   /* cli_plot.c */
int lab_cmd_bench_train(int argc, char **argv); /* cli_bench_train.c: `lab bench train`, via lab_cmd_bench */

/* === shared by the subcommands (cli_common.c) === */
/* The folder holding `file` ("." for a bare name), for presets named beside it. */
void lab_cli_dir_of(const char *file, char *dir, size_t n);
/* Monotonic clock in seconds, for the benchmarks. */
double lab_cli_seconds(void);
/* Median of v[0..n) (n >= 1); sorts v ascending, so v[0] is then the minimum. */
double lab_cli_median(double *v, int n);
/* A decimal option value in [min, max]; otherwise prints
 * "lab CMD: OPT: expected an integer in [MIN, MAX], found 'S'" and returns 0. */
int lab_cli_parse_long(const char *cmd, const char *opt, const char *s, long min, long max, long *out);
int lab_cli_parse_int(const char *cmd, const char *opt, const char *s, int min, int max, int *out);

/* One experiment row, ready to train or time: what `lab train` and `lab bench train` share. */
typedef struct lab_cli_row {
  lab_experiment *exp;  /* owned */
  int row;              /* index into exp->rows */
  lab_cfg_node *cfg;    /* exp->rows[row].config, with the command line's data./train. keys set */
  lab_data_cfg dc;      /* its data: and train: sections, read */
  lab_train_cfg tc;
  blk_network net;      /* built, NOT planned; valid when have_net */
  int have_net;
} lab_cli_row;

/* Loads experiment `file` with the n_kv "KEY=VALUE" overrides, picks row `variant` (NULL: the
 * last), reads its data:/train: sections and builds its network (presets beside the file).
 * Overrides of data./train. keys (lab_train_cfg_known) are set on the chosen row even where the
 * file leaves the key at its default; every other one goes to lab_experiment_load. Returns 0
 * with *r filled (lab_cli_row_free), or prints "lab CMD: ..." and returns the exit code: 2 for
 * an unknown variant (listing the rows), 1 for any other error; *r is then already freed. */
int lab_cli_row_load(const char *cmd, const char *file, const char *variant, const char *const *kv, int n_kv,
                     lab_cli_row *r);
void lab_cli_row_free(lab_cli_row *r);

/* Exact cost of an experiment row's network at ImageNet scale (3 channels, 1000 classes,
 * width 1.0, the preset's native input size or 299) with MACs per stage: the report's
 * lab_report_cost_fn, shared by lab report and lab plot (cli_report.c). */
lab_status lab_cli_imagenet_cost(const lab_cfg_node *row, const char *preset_dir, void *ctx, lab_report_cost *out,
                                 lab_error *err);

#endif
