/* cli_train.c: `lab train` — trains one row of an experiment file for one seed into its run
 * folder (lab/train.h; folder format in README "Runs").
 *
 *   lab train FILE [--variant NAME] [--seed S] [--out DIR] [--resume] [--quiet] [--threads T]
 *                  [key=value ...]
 *
 * FILE is an experiment file (lab/experiment.h). Without --variant the last row trains; without
 * --seed the experiment's first seed. key=value overrides follow lab_experiment_load's rules
 * (train.epochs=2 applies to every row; base.train.lr=0.1 to the document).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blocks/network.h"
#include "lab/cli.h"
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
          "The run folder is DIR/<experiment>/<row>/seed-<S> (DIR default results).\n");
}

int lab_cmd_train(int argc, char **argv) {
  const char *file = NULL, *variant = NULL, *out = "results";
  long seed = -1, threads = 0;
  int resume = 0, quiet = 0;
  /* overrides of data:/train: keys go to the chosen row (set even when the file leaves the key
   * at its default); every other KEY=VALUE to lab_experiment_load */
  const char **ovr = calloc((size_t)argc + 1, sizeof(char *)), **own = calloc((size_t)argc + 1, sizeof(char *));
  int n_ovr = 0, n_own = 0;
  if (!ovr || !own) return 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int more = i + 1 < argc;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      free(ovr);
      free(own);
      return 0;
    } else if (!strcmp(a, "--help-keys")) {
      lab_train_cfg_print_keys(stdout);
      free(ovr);
      free(own);
      return 0;
    } else if (!strcmp(a, "--variant") && more) {
      variant = argv[++i];
    } else if (!strcmp(a, "--seed") && more) {
      if (!lab_cli_parse_long("train", "--seed", argv[++i], 0, LAB_EXPERIMENT_MAX_SEED, &seed)) {
        free(ovr);
        free(own);
        return 2;
      }
    } else if (!strcmp(a, "--out") && more) {
      out = argv[++i];
    } else if (!strcmp(a, "--threads") && more) {
      if (!lab_cli_parse_long("train", "--threads", argv[++i], 1, 1024, &threads)) {
        free(ovr);
        free(own);
        return 2;
      }
    } else if (!strcmp(a, "--resume")) {
      resume = 1;
    } else if (!strcmp(a, "--quiet")) {
      quiet = 1;
    } else if (a[0] == '-') {
      fprintf(stderr, "lab train: unknown option '%s'%s\n", a, more ? "" : " (or missing value)");
      usage(stderr);
      free(ovr);
      free(own);
      return 2;
    } else if (strchr(a, '=')) {
      char key[256];
      snprintf(key, sizeof key, "%.*s", (int)(strchr(a, '=') - a), a);
      if (lab_train_cfg_known(key)) own[n_own++] = a;
      else ovr[n_ovr++] = a;
    } else if (!file) {
      file = a;
    } else {
      fprintf(stderr, "lab train: one FILE only ('%s' and '%s')\n", file, a);
      free(ovr);
      free(own);
      return 2;
    }
  }
  if (!file) {
    usage(stderr);
    free(ovr);
    free(own);
    return 2;
  }
  lab_error err = {0};
  lab_experiment *exp = NULL;
  blk_network net;
  memset(&net, 0, sizeof net);
  int have_net = 0, rc = 1;
  lab_status st = lab_experiment_load(file, ovr, n_ovr, &exp, &err);
  if (st != LAB_STATUS_OK) goto done;
  int row = exp->n_rows - 1;
  if (variant && (row = lab_experiment_find_row(exp, variant)) < 0) {
    fprintf(stderr, "lab train: %s has no row '%s'; rows:", file, variant);
    for (int i = 0; i < exp->n_rows; i++) fprintf(stderr, "%s '%s'", i ? "," : "", exp->rows[i].name);
    fprintf(stderr, "\n");
    rc = 2;
    goto done;
  }
  if (seed < 0) seed = exp->seeds[0];
  lab_cfg_node *cfg = exp->rows[row].config;
  for (int i = 0; i < n_own; i++) {
    const char *sec = !strncmp(own[i], "data.", 5) ? "data" : "train";
    if (!lab_cfg_get(cfg, sec)) lab_cfg_map_put(cfg, sec, lab_cfg_new_map("<command line>", 1, 1));
    if ((st = lab_cfg_set(cfg, own[i], 1, &err)) != LAB_STATUS_OK) goto done;
  }
  /* data/train errors before the (slower) network build */
  lab_data_cfg dc;
  lab_train_cfg tc;
  if ((st = lab_train_cfg_read(cfg, &dc, &tc, &err)) != LAB_STATUS_OK) goto done;
  const lab_cfg_node *netcfg = lab_cfg_get(cfg, "network");
  if (!netcfg) {
    st = lab_cfg_error(&err, cfg, "row '%s' has no network section", exp->rows[row].name);
    goto done;
  }
  char dir[4096], pdir[4096];
  lab_cli_dir_of(exp->path, pdir, sizeof pdir);
  blk_overrides ov;
  memset(&ov, 0, sizeof ov);
  ov.load_preset = lab_preset_load;
  ov.load_ctx = pdir;
  if ((st = blk_network_build(netcfg, &ov, &net, &err)) != LAB_STATUS_OK) goto done;
  have_net = 1;
  if ((st = lab_run_dir(out, exp->name, exp->rows[row].name, seed, dir, sizeof dir, &err)) != LAB_STATUS_OK) goto done;
  lab_train_job job;
  memset(&job, 0, sizeof job);
  job.graph = net.g;
  job.row = cfg;
  job.experiment = exp->name;
  job.variant = exp->rows[row].name;
  job.experiment_file = exp->path;
  job.seed = seed;
  job.out_dir = dir;
  job.resume = resume;
  job.quiet = quiet;
  job.threads = (int)threads;
  lab_train_result res;
  st = lab_train_run(&job, &res, &err);
  if (st == LAB_STATUS_OK) {
    printf("%s: %ld epochs, test error top1 %.2f%% top5 %.2f%%, EMA top1 %.2f%% top5 %.2f%%, %.1f img/s, %.0f s\n",
           dir, res.epochs, res.test_top1_error, res.test_top5_error, res.ema_test_top1_error,
           res.ema_test_top5_error, res.images_per_second, res.train_seconds);
    rc = 0;
  }
done:
  if (st != LAB_STATUS_OK) fprintf(stderr, "lab train: %s\n", err.msg);
  if (have_net) blk_network_free(&net);
  lab_experiment_free(exp);
  free(ovr);
  free(own);
  return rc;
}
