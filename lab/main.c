/* main.c: `lab <command> [args]`, dispatching to the subcommands declared in cli.h. */
#include <stdio.h>
#include <string.h>

#include "lab/cli.h"

typedef struct lab_command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} lab_command;

static const lab_command commands[] = {
    {"cost", lab_cmd_cost, "exact params and MACs of a network preset or experiment (per layer/block)"},
    {"train", lab_cmd_train, "train one experiment row for one seed into its run folder"},
    {"eval", lab_cmd_eval, "top-1/top-5 of trained runs: raw/EMA weights, multi-crop, ensembles"},
    {"sweep", lab_cmd_sweep, "train every row x seed of an experiment, resumably (--jobs N)"},
    {"report", lab_cmd_report, "the paper-style table of a sweep: table.md/.csv/.json/.tex"},
    {"plot", lab_cmd_plot, "the figures of a sweep (gnuplot): PNG and SVG"},
    {"bench", lab_cmd_bench, "time training steps, layers and GEMMs (images/s, GFLOP/s against BLIS sgemm)"},
};

static void usage(FILE *f) {
  fprintf(f, "usage: lab <command> [options]   (lab <command> --help for details)\n\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "lab: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}
