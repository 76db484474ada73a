/* cli_sweep.c: `lab sweep` — trains every row x seed of an experiment file, resumably, into
 * <out>/<experiment>/<row>/seed-<s> (run-contract.md), then says how to build the table.
 *
 *   lab sweep FILE [--jobs N] [--threads T] [--out DIR] [--variant NAME]... [--dry-run] [key=value ...]
 *
 * Before anything trains, every row's configuration is checked (data/train keys, the network
 * built at its training scale) and each distinct dataset is opened, so a typo or a missing
 * dataset fails in a second with FILE:LINE:COL instead of after hours of training. Then the
 * manifest <out>/<experiment>/experiment.yaml (report.h) is written, each run folder is
 * inspected (sweep.h: finished runs skipped, interrupted ones resumed, stale ones moved
 * aside) and the remaining runs train in N worker processes.
 *
 * Open MPI: under `mpirun -np K`, rank r of K takes runs r, r+K, r+2K, ... (sweep.h); rank 0
 * alone writes the manifest.
 */
/* realpath is XSI in glibc. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blocks/network.h"
#include "lab/cli.h"
#include "lab/config.h"
#include "lab/experiment.h"
#include "lab/report.h"
#include "lab/runfolder.h"
#include "lab/sweep.h"
#include "lab/train.h"
#include "lab/train_cfg.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: lab sweep FILE [--jobs N] [--threads T] [--out DIR] [--variant NAME]... [--dry-run]\n"
          "                 [key=value ...]\n"
          "  Trains every row x seed of the experiment FILE into DIR/<experiment>/<row>/seed-<s>\n"
          "  (DIR default results). Run it again to continue: finished runs are skipped,\n"
          "  interrupted ones resume from their checkpoint, runs of a changed configuration\n"
          "  are moved aside to <folder>.stale-<hash> and retrained.\n"
          "  --jobs N     runs at once, in worker processes (default 1)\n"
          "  --threads T  threads in all, shared by the workers (default: the machine's cores)\n"
          "  --variant NAME  only this row (repeat for several; default every row)\n"
          "  --dry-run    check everything and list what would train, train nothing\n"
          "  key=value    overrides: seeds=[0], train.epochs=2, base.data.train_subset=1000, ...\n"
          "  Under mpirun -np K each rank takes every K-th run (Open MPI environment variables).\n"
          "  Then: lab report DIR/<experiment> and lab plot DIR/<experiment>.\n");
}

typedef struct sweep_ctx {
  const lab_experiment *e;
  const char *preset_dir;
  int quiet;
} sweep_ctx;

/* === the manifest === */

static lab_cfg_node *scalar(const char *text) { return lab_cfg_new_scalar(text, NULL, 1, 1); }

static lab_cfg_node *number(double v) {
  char b[64];
  snprintf(b, sizeof b, "%.17g", v);
  return scalar(b);
}

static lab_status write_manifest(const lab_experiment *e, const char *file, const char *preset_dir,
                                 const char *exp_dir, char (*hashes)[17], lab_error *err) {
  lab_cfg_node *m = lab_cfg_new_map(NULL, 1, 1);
  lab_cfg_map_put(m, "experiment", scalar(e->name));
  if (e->description) lab_cfg_map_put(m, "description", scalar(e->description));
  lab_cfg_map_put(m, "file", scalar(file));
  lab_cfg_map_put(m, "preset_dir", scalar(preset_dir));
  lab_cfg_node *seeds = lab_cfg_new_seq(NULL, 1, 1);
  for (int s = 0; s < e->n_seeds; s++) {
    char b[32];
    snprintf(b, sizeof b, "%ld", e->seeds[s]);
    lab_cfg_seq_push(seeds, scalar(b));
  }
  lab_cfg_map_put(m, "seeds", seeds);
  lab_cfg_node *rows = lab_cfg_new_seq(NULL, 1, 1);
  for (int i = 0; i < e->n_rows; i++) {
    const lab_experiment_row *r = &e->rows[i];
    lab_cfg_node *rn = lab_cfg_new_map(NULL, 1, 1);
    char slug[256];
    lab_run_slug(r->name, slug, sizeof slug);
    lab_cfg_map_put(rn, "name", scalar(r->name));
    lab_cfg_map_put(rn, "slug", scalar(slug));
    if (isfinite(r->paper_top1) || isfinite(r->paper_top5) || isfinite(r->paper_cost_bn_ops)) {
      lab_cfg_node *p = lab_cfg_new_map(NULL, 1, 1);
      if (isfinite(r->paper_top1)) lab_cfg_map_put(p, "top1", number(r->paper_top1));
      if (isfinite(r->paper_top5)) lab_cfg_map_put(p, "top5", number(r->paper_top5));
      if (isfinite(r->paper_cost_bn_ops)) lab_cfg_map_put(p, "cost_bn_ops", number(r->paper_cost_bn_ops));
      lab_cfg_map_put(rn, "paper", p);
    }
    lab_cfg_map_put(rn, "config_hash", scalar(hashes[i]));
    lab_cfg_map_put(rn, "config", lab_cfg_clone(r->config));
    lab_cfg_seq_push(rows, rn);
  }
  lab_cfg_map_put(m, "rows", rows);
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  LAB_ASSERT(f, "open_memstream failed");
  fprintf(f, "# Written by lab sweep from %s: the experiment as it was run (rows in order, seeds,\n"
             "# the paper's figures, each row's effective configuration and its hash).\n"
             "# lab report / lab plot read it; editing it changes nothing that trained.\n",
          file);
  lab_status st = lab_cfg_write(m, f, err);
  fclose(f);
  lab_cfg_free(m);
  if (!st) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", exp_dir, LAB_REPORT_MANIFEST);
    st = lab_write_atomic(path, text, len, err);
  }
  free(text);
  return st;
}

/* === one run, inside a worker === */

static int train_one(const lab_sweep_run *r, int threads, void *vctx) {
  const sweep_ctx *c = vctx;
  const lab_experiment_row *row = &c->e->rows[r->row];
  blk_overrides ov;
  memset(&ov, 0, sizeof ov);
  ov.load_preset = lab_preset_load;
  ov.load_ctx = (void *)c->preset_dir;
  blk_network net;
  memset(&net, 0, sizeof net);
  lab_error err = {0};
  lab_status st = blk_network_build(lab_cfg_get(row->config, "network"), &ov, &net, &err);
  if (st) {
    fprintf(stderr, "lab sweep: %s: %s\n", r->name, err.msg);
    return 1;
  }
  lab_train_job job;
  memset(&job, 0, sizeof job);
  job.graph = net.g;
  job.row = row->config;
  job.experiment = c->e->name;
  job.variant = row->name;
  job.experiment_file = c->e->path;
  job.seed = r->seed;
  job.out_dir = r->dir;
  job.resume = 1;
  job.quiet = c->quiet;
  job.threads = threads;
  lab_train_result res;
  st = lab_train_run(&job, &res, &err);
  blk_network_free(&net);
  if (st == LAB_ERR_NUMERIC) {
    fprintf(stderr, "lab sweep: %s: %s\n", r->name, err.msg);
    return LAB_SWEEP_EXIT_NAN;
  }
  if (st) {
    fprintf(stderr, "lab sweep: %s: %s\n", r->name, err.msg);
    return 1;
  }
  if (!res.finished) {
    fprintf(stderr, "lab sweep: %s: stopped after %ld epochs\n", r->name, res.epochs);
    return 1;
  }
  return 0;
}

/* === checks before training === */

/* Every row's data/train keys, its network at training scale, and each distinct dataset.
 * weights[i] = the row's training MACs per image x epochs x training images (for the ETA). */
static lab_status preflight(const lab_experiment *e, const char *preset_dir, double *weights, lab_error *err) {
  lab_data_cfg prev_d;
  int have_prev = 0;
  for (int i = 0; i < e->n_rows; i++) {
    const lab_experiment_row *row = &e->rows[i];
    lab_data_cfg d;
    lab_train_cfg t;
    lab_status st = lab_train_cfg_read(row->config, &d, &t, err);
    if (st) return lab_error_prefix(err, "row '%s'", row->name);
    const lab_cfg_node *netcfg = lab_cfg_get(row->config, "network");
    if (!netcfg) return lab_cfg_error(err, row->node, "row '%s' has no network section", row->name);
    blk_overrides ov;
    memset(&ov, 0, sizeof ov);
    ov.load_preset = lab_preset_load;
    ov.load_ctx = (void *)preset_dir;
    blk_network net;
    if ((st = blk_network_build(netcfg, &ov, &net, err))) return lab_error_prefix(err, "row '%s'", row->name);
    blk_totals tot = blk_network_totals(&net);
    blk_network_free(&net);
    /* the dataset, opened once per distinct data section (test split: small and enough to
     * prove the files are there and readable) */
    lab_dataset ds;
    memset(&ds, 0, sizeof ds);
    int n_train = d.train_subset > 0 ? (int)d.train_subset : 60000;
    if (!have_prev || memcmp(&prev_d, &d, sizeof d) != 0) {
      if ((st = lab_train_load_data(&d, 0, &ds, err))) {
        /* the reader names the files; say which lines chose them */
        const lab_cfg_node *where = lab_cfg_find(row->config, "data.dir");
        if (!where) where = lab_cfg_find(row->config, "data.dataset");
        char pos[512] = "the default data section";
        if (where) lab_cfg_where(where, pos, sizeof pos);
        return lab_error_prefix(err, "%s: row '%s': %s", pos, row->name, where ? where->path : "data");
      }
      lab_dataset_free(&ds);
      prev_d = d;
      have_prev = 1;
    }
    weights[i] = (double)(tot.macs + tot.macs_aux) * 3.0 * (double)t.epochs * (double)n_train;
  }
  return LAB_STATUS_OK;
}

int lab_cmd_sweep(int argc, char **argv) {
  const char *file = NULL, *out = "results";
  long jobs = 1, threads = 0;
  int dry = 0, quiet = -1;
  const char **ovr = lab_xcalloc((size_t)argc + 1, sizeof *ovr), **only = lab_xcalloc((size_t)argc + 1, sizeof *only);
  int n_ovr = 0, n_only = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int more = i + 1 < argc;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      free(ovr);
      free(only);
      return 0;
    } else if (!strcmp(a, "--jobs") && more) {
      if (!lab_cli_parse_long("sweep", "--jobs", argv[++i], 1, 256, &jobs)) {
        free(ovr);
        free(only);
        return 2;
      }
    } else if (!strcmp(a, "--threads") && more) {
      if (!lab_cli_parse_long("sweep", "--threads", argv[++i], 1, 1024, &threads)) {
        free(ovr);
        free(only);
        return 2;
      }
    } else if (!strcmp(a, "--out") && more) {
      out = argv[++i];
    } else if (!strcmp(a, "--variant") && more) {
      only[n_only++] = argv[++i];
    } else if (!strcmp(a, "--dry-run")) {
      dry = 1;
    } else if (!strcmp(a, "--quiet")) {
      quiet = 1;
    } else if (!strcmp(a, "--verbose")) {
      quiet = 0;
    } else if (a[0] == '-') {
      fprintf(stderr, "lab sweep: unknown option '%s'%s\n", a, more ? "" : " (or missing value)");
      usage(stderr);
      free(ovr);
      free(only);
      return 2;
    } else if (strchr(a, '=')) {
      ovr[n_ovr++] = a;
    } else if (!file) {
      file = a;
    } else {
      fprintf(stderr, "lab sweep: one FILE only ('%s' and '%s')\n", file, a);
      free(ovr);
      free(only);
      return 2;
    }
  }
  if (!file) {
    usage(stderr);
    free(ovr);
    free(only);
    return 2;
  }
  if (threads == 0) {
    long nc = sysconf(_SC_NPROCESSORS_ONLN);
    threads = nc > 0 ? nc : 1;
  }
  /* one worker's epoch lines are readable; several interleaved are not */
  if (quiet < 0) quiet = jobs > 1;

  lab_error err = {0};
  lab_experiment *e = NULL;
  lab_sweep_run *runs = NULL;
  char(*hashes)[17] = NULL;
  double *weights = NULL;
  int *selected = NULL;
  int rc = 1, rank = 0, size = 1, lock_fd = -1;
  lab_status st = lab_sweep_mpi_env(&rank, &size, &err);
  if (st) goto done;
  if ((st = lab_experiment_load(file, ovr, n_ovr, &e, &err))) goto done;
  char pdir_rel[4096], preset_dir[PATH_MAX], exp_dir[4096], eslug[256];
  lab_cli_dir_of(e->path, pdir_rel, sizeof pdir_rel);
  if (!realpath(pdir_rel, preset_dir)) snprintf(preset_dir, sizeof preset_dir, "%s", pdir_rel);
  weights = lab_xcalloc((size_t)e->n_rows, sizeof *weights);
  if ((st = preflight(e, preset_dir, weights, &err))) goto done;
  hashes = lab_xcalloc((size_t)e->n_rows, sizeof *hashes);
  for (int i = 0; i < e->n_rows; i++) lab_train_config_hash(e->rows[i].config, hashes[i]);
  /* --variant: the rows to run (every row is still checked above and listed in the manifest) */
  selected = lab_xcalloc((size_t)e->n_rows, sizeof *selected);
  for (int i = 0; i < e->n_rows; i++) selected[i] = n_only == 0;
  for (int k = 0; k < n_only; k++) {
    int row = lab_experiment_find_row(e, only[k]);
    if (row < 0) {
      fprintf(stderr, "lab sweep: %s has no row '%s'; rows:", file, only[k]);
      for (int i = 0; i < e->n_rows; i++) fprintf(stderr, "%s '%s'", i ? "," : "", e->rows[i].name);
      fprintf(stderr, "\n");
      rc = 2;
      goto done;
    }
    selected[row] = 1;
  }

  lab_run_slug(e->name, eslug, sizeof eslug);
  snprintf(exp_dir, sizeof exp_dir, "%s/%s", out, eslug);
  if (!dry) {
    if ((st = lab_mkdirs(exp_dir, &err))) goto done;
    if (rank == 0 && (st = write_manifest(e, file, preset_dir, exp_dir, hashes, &err))) goto done;
  }

  /* One sweep per results folder (and rank) at a time: two writers in one run folder would
   * corrupt each other. The lock goes away with the process, however it ends. */
  if (!dry) {
    char lock[4200];
    snprintf(lock, sizeof lock, "%s/.sweep-rank%d.lock", exp_dir, rank);
    lock_fd = open(lock, O_RDWR | O_CREAT, 0666);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (lock_fd < 0 || fcntl(lock_fd, F_SETLK, &fl) != 0) {
      st = lab_error_set(&err, LAB_ERR_STATE, "%s: %s", lock,
                         lock_fd < 0 ? strerror(errno) : "another lab sweep is running on this results folder");
      goto done;
    }
  }

  /* the runs, row-major (every seed of row 1, then row 2, ...), this rank's share */
  int n_rows_sel = 0, n = 0;
  for (int i = 0; i < e->n_rows; i++) n_rows_sel += selected[i];
  int n_all = n_rows_sel * e->n_seeds;
  runs = lab_xcalloc((size_t)n_all, sizeof *runs);
  for (int i = 0, index = 0; i < e->n_rows; i++)
    for (int s = 0; s < e->n_seeds && selected[i]; s++, index++) {
      if (index % size != rank) continue;
      lab_sweep_run *r = &runs[n++];
      r->row = i;
      r->seed_index = s;
      r->seed = e->seeds[s];
      r->weight = weights[i] > 0 ? weights[i] : 1.0;
      snprintf(r->name, sizeof r->name, "%s seed %ld", e->rows[i].name, r->seed);
      snprintf(r->hash, sizeof r->hash, "%s", hashes[i]);
      if ((st = lab_run_dir(out, e->name, e->rows[i].name, r->seed, r->dir, sizeof r->dir, &err))) goto done;
    }
  int n_done = 0, n_resume = 0, n_new = 0, n_nan = 0;
  for (int k = 0; k < n; k++) {
    char moved[1200];
    lab_sweep_run *r = &runs[k];
    if (dry) {
      char old[80];
      if (lab_sweep_folder_hash(r->dir, old, sizeof old) && strcmp(old, r->hash)) {
        fprintf(stderr, "lab sweep: %s: %s holds configuration %s, now %s: would be moved aside and retrained\n",
                r->name, r->dir, old, r->hash);
        r->state = LAB_SWEEP_TRAIN;
      } else if ((st = lab_sweep_inspect(r, moved, sizeof moved, &err))) {
        goto done;
      }
    } else {
      if ((st = lab_sweep_inspect(r, moved, sizeof moved, &err))) goto done;
      if (moved[0])
        fprintf(stderr, "lab sweep: %s: the folder held another configuration; moved aside to %s\n", r->name, moved);
    }
    n_done += r->state == LAB_SWEEP_DONE;
    n_nan += r->state == LAB_SWEEP_DIVERGED;
    n_resume += r->state == LAB_SWEEP_RESUME;
    n_new += r->state == LAB_SWEEP_TRAIN;
  }
  fprintf(stderr,
          "lab sweep: %s: %d rows x %d seeds = %d runs%s; %d finished, %d diverged (kept), %d to resume, %d to "
          "train; %ld job%s x %ld thread%s -> %s\n",
          e->name, n_rows_sel, e->n_seeds, n_all, size > 1 ? " (this rank's share)" : "", n_done, n_nan, n_resume,
          n_new, jobs, jobs > 1 ? "s" : "", threads / jobs > 0 ? threads / jobs : 1, threads / jobs > 1 ? "s" : "",
          exp_dir);
  if (size > 1) fprintf(stderr, "lab sweep: Open MPI rank %d of %d: %d of the %d runs\n", rank, size, n, n_all);
  if (dry) {
    for (int k = 0; k < n; k++)
      printf("%-8s %s -> %s\n",
             runs[k].state == LAB_SWEEP_DONE       ? "done"
             : runs[k].state == LAB_SWEEP_DIVERGED ? "diverged"
             : runs[k].state == LAB_SWEEP_RESUME   ? "resume"
                                                   : "train",
             runs[k].name, runs[k].dir);
    rc = 0;
    goto done;
  }
  sweep_ctx ctx = {e, preset_dir, quiet};
  lab_sweep_opts o = {(int)jobs, (int)threads, stderr};
  int bad = lab_sweep_execute(runs, n, &o, train_one, &ctx);
  int n_diverged = n_nan;
  for (int k = 0; k < n; k++) n_diverged += runs[k].exit_code == LAB_SWEEP_EXIT_NAN;
  if (bad)
    fprintf(stderr, "lab sweep: %d run(s) did not finish (%d diverged); run the same command to retry the failed ones\n",
            bad, n_diverged - n_nan);
  else
    fprintf(stderr, "lab sweep: all runs finished%s. Next: lab report %s && lab plot %s\n",
            n_nan ? " (some diverged earlier)" : "", exp_dir, exp_dir);
  rc = bad ? 1 : 0;
done:
  if (st) fprintf(stderr, "lab sweep: %s\n", err.msg);
  if (lock_fd >= 0) close(lock_fd);
  free(runs);
  free(hashes);
  free(weights);
  free(selected);
  lab_experiment_free(e);
  free(ovr);
  free(only);
  return rc;
}
