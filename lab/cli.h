/* cli.h: the `lab` subcommands. Each lives in its own cli_<name>.c, parses its own
 * arguments, prints its own errors (it is a `main`), and returns the process exit code. */
#ifndef LAB_CLI_H
#define LAB_CLI_H

int lab_cmd_bench(int argc, char **argv); /* cli_bench.c */

#endif
