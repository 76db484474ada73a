/* cli.h: the `lab` subcommands. Each lives in its own cli_<name>.c, parses its own
 * arguments, prints its own errors (it is a `main`), and returns the process exit code. */
#ifndef LAB_CLI_H
#define LAB_CLI_H

#include <stddef.h>

#include "lab/report.h"

int lab_cmd_bench(int argc, char **argv); /* cli_bench.c */
int lab_cmd_cost(int argc, char **argv);  /* cli_cost.c */
int lab_cmd_train(int argc, char **argv); /* cli_train.c */
int lab_cmd_eval(int argc, char **argv);  /* cli_eval.c */
int lab_cmd_sweep(int argc, char **argv);  /* cli_sweep.c */
int lab_cmd_report(int argc, char **argv); /* cli_report.c */
int lab_cmd_plot(int argc, char **argv);   /* cli_plot.c */

/* === shared by the subcommands (cli_common.c) === */
/* The folder holding `file` ("." for a bare name), for presets named beside it. */
void lab_cli_dir_of(const char *file, char *dir, size_t n);
/* A decimal option value in [min, max]; otherwise prints
 * "lab CMD: OPT: expected an integer in [MIN, MAX], found 'S'" and returns 0. */
int lab_cli_parse_long(const char *cmd, const char *opt, const char *s, long min, long max, long *out);
int lab_cli_parse_int(const char *cmd, const char *opt, const char *s, int min, int max, int *out);

/* Exact cost of an experiment row's network at ImageNet scale (3 channels, 1000 classes,
 * width 1.0, the preset's native input size or 299) with MACs per stage: the report's
 * lab_report_cost_fn, shared by lab report and lab plot (cli_report.c). */
lab_status lab_cli_imagenet_cost(const lab_cfg_node *row, const char *preset_dir, void *ctx, lab_report_cost *out,
                                 lab_error *err);

#endif
