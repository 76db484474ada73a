/* cli.h: the `lab` subcommands. Each lives in its own cli_<name>.c, parses its own
 * arguments, prints its own errors (it is a `main`), and returns the process exit code. */
#ifndef LAB_CLI_H
#define LAB_CLI_H

int lab_cmd_bench(int argc, char **argv); /* cli_bench.c */
int lab_cmd_cost(int argc, char **argv);  /* cli_cost.c */
int lab_cmd_train(int argc, char **argv); /* cli_train.c */
int lab_cmd_eval(int argc, char **argv);  /* cli_eval.c */

/* The folder holding `file` ("." for a bare name), for presets named beside it (cli_train.c). */
#include <stddef.h>
void lab_cli_dir_of(const char *file, char *dir, size_t n);

#endif
