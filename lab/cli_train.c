/* cli_train.c: `lab train` — trains one row of an experiment file for one seed into its run
 * folder (lab/train.h; folder format in README "Runs").
 *
 *   lab train FILE [--variant NAME] [--seed S] [--out DIR] [--resume] [--quiet] [--threads T]
 *                  [key=value ...]
 *
 * FILE is an experiment file (lab/experiment.h). Without --variant the last row trains; without
 * --seed the experiment's first seed. key=value overrides follow lab_experiment_load's rules
 * (train.epochs=2 applies to every row; base.train.lr=0.1 to the document).
 *
 * Under `mpirun -np K` (K > 1) the K processes train the one run data-parallel (lab/dist.h,
 * lab/train.h): train.batch is the global batch (a multiple of K), threads per rank default to
 * train.threads / K, and rank 0 writes the run folder and prints the result. MPI is started
 * here only, and only under mpirun: `lab sweep` under mpirun splits runs by the environment
 * and never becomes data-parallel.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/cli.h"
#include "lab/dist.h"
#include "lab/experiment.h"
#include "lab/runfolder.h"
#include "lab/train.h"
#include "lab/train_cfg.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: lab train FILE [--variant NAME] [--seed S] [--out DIR] [--resume] [--quiet] [--threads T]\n"
          "                      [key=value ...]\n"
          "       lab train --help-keys        (every data:/train: key with its default and bounds)\n"
          "FILE: an experiment file; without --variant its last row, without --seed its first seed.\n"
          "The run folder is DIR/<experiment>/<row>/seed-<S> (DIR default results).\n"
          "Data-parallel: mpirun -np K lab train FILE ... (train.batch a multiple of K).\n");
}

int lab_cmd_train(int argc, char **argv) {
  const char *file = NULL, *variant = NULL, *out = "results";
  long seed = -1, threads = 0;
  int resume = 0, quiet = 0;
  const char **kv = calloc((size_t)argc + 1, sizeof(char *)); /* the KEY=VALUE overrides, in order */
  int n_kv = 0;
  if (!kv) return 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int more = i + 1 < argc;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      free(kv);
      return 0;
    } else if (!strcmp(a, "--help-keys")) {
      lab_train_cfg_print_keys(stdout);
      free(kv);
      return 0;
    } else if (!strcmp(a, "--variant") && more) {
      variant = argv[++i];
    } else if (!strcmp(a, "--seed") && more) {
      if (!lab_cli_parse_long("train", "--seed", argv[++i], 0, LAB_EXPERIMENT_MAX_SEED, &seed)) {
        free(kv);
        return 2;
      }
    } else if (!strcmp(a, "--out") && more) {
      out = argv[++i];
    } else if (!strcmp(a, "--threads") && more) {
      if (!lab_cli_parse_long("train", "--threads", argv[++i], 1, 1024, &threads)) {
        free(kv);
        return 2;
      }
    } else if (!strcmp(a, "--resume")) {
      resume = 1;
    } else if (!strcmp(a, "--quiet")) {
      quiet = 1;
    } else if (a[0] == '-') {
      fprintf(stderr, "lab train: unknown option '%s'%s\n", a, more ? "" : " (or missing value)");
      usage(stderr);
      free(kv);
      return 2;
    } else if (strchr(a, '=')) {
      kv[n_kv++] = a;
    } else if (!file) {
      file = a;
    } else {
      fprintf(stderr, "lab train: one FILE only ('%s' and '%s')\n", file, a);
      free(kv);
      return 2;
    }
  }
  if (!file) {
    usage(stderr);
    free(kv);
    return 2;
  }
  lab_cli_row r;
  int rc = lab_cli_row_load("train", file, variant, kv, n_kv, &r);
  free(kv);
  if (rc) return rc;
  lab_experiment *exp = r.exp;
  if (seed < 0) seed = exp->seeds[0];
  lab_error err = {0};
  char dir[4096];
  rc = 1;
  lab_dist dist;
  lab_status st = lab_dist_init(&dist, NULL, NULL, &err);
  if (st != LAB_STATUS_OK) goto done;
  st = lab_run_dir(out, exp->name, exp->rows[r.row].name, seed, dir, sizeof dir, &err);
  if (st != LAB_STATUS_OK) goto done;
  lab_train_job job;
  memset(&job, 0, sizeof job);
  job.graph = r.net.g;
  job.row = r.cfg;
  job.experiment = exp->name;
  job.variant = exp->rows[r.row].name;
  job.experiment_file = exp->path;
  job.seed = seed;
  job.out_dir = dir;
  job.resume = resume;
  job.quiet = quiet;
  job.threads = (int)threads;
  job.dist = dist.size > 1 ? &dist : NULL;
  lab_train_result res;
  st = lab_train_run(&job, &res, &err);
  if (st == LAB_STATUS_OK && dist.rank == 0) {
    printf("%s: %ld epochs, test error top1 %.2f%% top5 %.2f%%, EMA top1 %.2f%% top5 %.2f%%, %.1f img/s, %.0f s\n",
           dir, res.epochs, res.test_top1_error, res.test_top5_error, res.ema_test_top1_error,
           res.ema_test_top5_error, res.images_per_second, res.train_seconds);
  }
  if (st == LAB_STATUS_OK) rc = 0;
done:
  if (st != LAB_STATUS_OK && dist.size > 1)
    fprintf(stderr, "lab train (rank %d of %d): %s\n", dist.rank, dist.size, err.msg);
  else if (st != LAB_STATUS_OK)
    fprintf(stderr, "lab train: %s\n", err.msg);
  lab_dist_finalize(&dist);
  lab_cli_row_free(&r);
  return rc;
}
