/* cli_plot.c: `lab plot DIR` — the figures of a sweep's results folder, rendered by gnuplot
 * from the scripts in plots/ (no plotting in C: STYLE.md):
 *
 *   cumulative     our top-1 error per row (mean +- std over seeds) beside the paper's
 *   cost_error     cost at ImageNet scale vs top-1 error, ours and the paper's, rows labelled
 *   curves         test top-1 error per epoch, one panel per row: mean over seeds, min-max band
 *   stages         MACs per stage (stem, the three grids, aux, head), stacked, per row
 *
 * Each as PNG (pngcairo) and SVG in DIR/plots/, beside the data files the scripts read
 * (rows.tsv, curves.tsv, stages.tsv, data.gp). Everything is rendered into a temporary
 * folder first and moved into place only when every gnuplot call succeeded, so a failure
 * leaves the previous figures as they were.
 *
 * Variables passed to each script: scriptdir, datadir (DIR/plots), out, fmt (png | svg).
 * The scripts are found with --scripts DIR, else $LAB_PLOTS_DIR, else ./plots, else
 * <folder of the lab binary>/../../plots (the build tree's build/bin/lab).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lab/cli.h"
#include "lab/report.h"
#include "lab/runfolder.h"

static const char *const k_scripts[] = {"cumulative", "cost_error", "curves", "stages"};
#define N_SCRIPTS 4

static int scripts_in(const char *dir) {
  char p[PATH_MAX + 64];
  for (int i = 0; i < N_SCRIPTS; i++) {
    snprintf(p, sizeof p, "%s/%s.gp", dir, k_scripts[i]);
    if (access(p, R_OK) != 0) return 0;
  }
  return 1;
}

static int find_scripts(const char *given, char *dir, size_t n) {
  if (given) {
    snprintf(dir, n, "%s", given);
    return scripts_in(dir);
  }
  const char *env = getenv("LAB_PLOTS_DIR");
  if (env && env[0]) {
    snprintf(dir, n, "%s", env);
    return scripts_in(dir);
  }
  if (scripts_in("plots")) {
    snprintf(dir, n, "plots");
    return 1;
  }
  char exe[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len > 0) {
    exe[len] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) *slash = '\0';
    snprintf(dir, n, "%.3000s/../../plots", exe);
    if (scripts_in(dir)) return 1;
  }
  snprintf(dir, n, "plots");
  return 0;
}

/* A gnuplot double-quoted string. */
static void gp_str(lab_strbuf *b, const char *s) {
  lab_strbuf_printf(b, "\"");
  for (; *s; s++) lab_strbuf_printf(b, (*s == '"' || *s == '\\') ? "\\%c" : "%c", *s);
  lab_strbuf_printf(b, "\"");
}

static void tsv_num(lab_strbuf *b, double v) {
  if (isfinite(v))
    lab_strbuf_printf(b, "\t%.6g", v);
  else
    lab_strbuf_printf(b, "\tNaN");
}

/* A tab-free label for a TSV cell. */
static void tsv_label(lab_strbuf *b, const char *s) {
  lab_strbuf_printf(b, "\t");
  for (; *s; s++) lab_strbuf_printf(b, "%c", *s == '\t' || *s == '\n' ? ' ' : *s);
}

static lab_status write_data(const lab_report *r, const char *pdir, lab_error *err) {
  char path[PATH_MAX + 64];
  lab_status st;
  /* data.gp: names and words the scripts print */
  lab_strbuf g = {0};
  lab_strbuf_printf(&g, "# written by lab plot\nexperiment = ");
  gp_str(&g, r->experiment);
  lab_strbuf_printf(&g, "\nscale = ");
  gp_str(&g, r->scale[0] ? r->scale : "per row (see table.md)");
  lab_strbuf_printf(&g, "\nmetric = ");
  gp_str(&g, r->use_ema ? "EMA weights" : "final weights");
  lab_strbuf_printf(&g, "\nnseeds = %d\nnrows = %d\narray rowname[%d]\n", r->n_seeds, r->n_rows, r->n_rows);
  for (int i = 0; i < r->n_rows; i++) {
    lab_strbuf_printf(&g, "rowname[%d] = ", i + 1);
    gp_str(&g, r->rows[i].name);
    lab_strbuf_printf(&g, "\n");
  }
  /* evaluations per row (over its seeds): a panel without any says so instead of plotting */
  lab_strbuf_printf(&g, "array rowpoints[%d]\n", r->n_rows);
  for (int i = 0; i < r->n_rows; i++) {
    int pts = 0;
    for (int sd = 0; sd < r->n_seeds; sd++) pts += r->rows[i].runs[sd].n_points;
    lab_strbuf_printf(&g, "rowpoints[%d] = %d\n", i + 1, pts);
  }
  snprintf(path, sizeof path, "%s/data.gp", pdir);
  st = lab_write_atomic(path, g.s, g.len, err);
  lab_strbuf_free(&g);
  if (st) return st;

  /* rows.tsv: one line per row */
  lab_strbuf b = {0};
  lab_strbuf_printf(&b, "index\tname\ttop1_mean\ttop1_std\tn\tpaper_top1\ttop5_mean\ttop5_std\tpaper_top5\tmacs_bn\t"
                        "paper_cost_bn_ops\tinput_size\n");
  for (int i = 0; i < r->n_rows; i++) {
    const lab_report_row *row = &r->rows[i];
    lab_strbuf_printf(&b, "%d", i + 1);
    tsv_label(&b, row->name);
    tsv_num(&b, row->top1_mean);
    tsv_num(&b, isfinite(row->top1_std) ? row->top1_std : (isfinite(row->top1_mean) ? 0.0 : NAN));
    lab_strbuf_printf(&b, "\t%d", row->n);
    tsv_num(&b, row->paper_top1);
    tsv_num(&b, row->top5_mean);
    tsv_num(&b, isfinite(row->top5_std) ? row->top5_std : (isfinite(row->top5_mean) ? 0.0 : NAN));
    tsv_num(&b, row->paper_top5);
    tsv_num(&b, row->cost.ok ? (double)row->cost.macs / 1e9 : NAN);
    tsv_num(&b, row->paper_cost);
    lab_strbuf_printf(&b, "\t%d\n", row->cost.ok ? row->cost.input_size : 0);
  }
  snprintf(path, sizeof path, "%s/rows.tsv", pdir);
  st = lab_write_atomic(path, b.s, b.len, err);
  lab_strbuf_free(&b);
  if (st) return st;

  /* stages.tsv: Bn MACs per stage, per row */
  lab_strbuf s = {0};
  lab_strbuf_printf(&s, "index\tname");
  for (int k = 0; k < LAB_REPORT_N_STAGES; k++) lab_strbuf_printf(&s, "\t%s", lab_report_stage_names[k]);
  lab_strbuf_printf(&s, "\tinput_size\n");
  for (int i = 0; i < r->n_rows; i++) {
    const lab_report_row *row = &r->rows[i];
    lab_strbuf_printf(&s, "%d", i + 1);
    tsv_label(&s, row->name);
    for (int k = 0; k < LAB_REPORT_N_STAGES; k++)
      tsv_num(&s, row->cost.ok ? (double)row->cost.stage_macs[k] / 1e9 : NAN);
    lab_strbuf_printf(&s, "\t%d\n", row->cost.ok ? row->cost.input_size : 0);
  }
  snprintf(path, sizeof path, "%s/stages.tsv", pdir);
  st = lab_write_atomic(path, s.s, s.len, err);
  lab_strbuf_free(&s);
  if (st) return st;

  /* curves.tsv: one gnuplot data block per row (index i-1): epoch, mean, min, max, n over
   * the seeds that have that epoch (finished or not: an interrupted run's curve is real) */
  lab_strbuf c = {0};
  for (int i = 0; i < r->n_rows; i++) {
    const lab_report_row *row = &r->rows[i];
    lab_strbuf_printf(&c, "# row %d: %s\nepoch\tmean\tmin\tmax\tn\n", i + 1, row->name);
    int max_pts = 0;
    for (int sd = 0; sd < r->n_seeds; sd++)
      if (row->runs[sd].n_points > max_pts) max_pts = row->runs[sd].n_points;
    int wrote = 0;
    for (int p = 0; p < max_pts; p++) {
      double sum = 0, lo = INFINITY, hi = -INFINITY, ep = NAN;
      int k = 0;
      for (int sd = 0; sd < r->n_seeds; sd++) {
        const lab_report_run *run = &row->runs[sd];
        if (p >= run->n_points || !isfinite(run->curve_top1[p])) continue;
        double v = run->curve_top1[p];
        ep = run->epoch[p];
        sum += v;
        lo = fmin(lo, v);
        hi = fmax(hi, v);
        k++;
      }
      if (!k) continue;
      lab_strbuf_printf(&c, "%.6g\t%.6g\t%.6g\t%.6g\t%d\n", ep, sum / k, lo, hi, k);
      wrote = 1;
    }
    /* an empty block would shift gnuplot's block indices: keep one filler line */
    if (!wrote) lab_strbuf_printf(&c, "NaN\tNaN\tNaN\tNaN\t0\n");
    lab_strbuf_printf(&c, "\n\n");
  }
  snprintf(path, sizeof path, "%s/curves.tsv", pdir);
  st = lab_write_atomic(path, c.s, c.len, err);
  lab_strbuf_free(&c);
  return st;
}

/* A gnuplot single-quoted string ('' is a quote). */
static void gp_sq(char *dst, size_t n, const char *s) {
  size_t k = 0;
  if (k + 1 < n) dst[k++] = '\'';
  for (; *s && k + 3 < n; s++) {
    if (*s == '\'') dst[k++] = '\'';
    dst[k++] = *s;
  }
  if (k + 1 < n) dst[k++] = '\'';
  dst[k] = '\0';
}

/* Runs gnuplot on script with the variables the scripts expect; 0 on success. */
static int run_gnuplot(const char *sdir, const char *script, const char *datadir, const char *out, const char *fmt,
                       char *why, size_t why_n) {
  char qd[PATH_MAX * 2 + 8], qo[PATH_MAX * 2 + 8], qs[PATH_MAX * 2 + 8], defs[PATH_MAX * 6 + 64];
  gp_sq(qd, sizeof qd, datadir);
  gp_sq(qo, sizeof qo, out);
  gp_sq(qs, sizeof qs, sdir);
  snprintf(defs, sizeof defs, "scriptdir=%s; datadir=%s; out=%s; fmt='%s'", qs, qd, qo, fmt);
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(why, why_n, "fork failed: %s", strerror(errno));
    return -1;
  }
  if (pid == 0) {
    execlp("gnuplot", "gnuplot", "-e", defs, script, (char *)NULL);
    fprintf(stderr, "lab plot: cannot run gnuplot: %s (install gnuplot-nox)\n", strerror(errno));
    _exit(127);
  }
  int ws;
  while (waitpid(pid, &ws, 0) < 0)
    if (errno != EINTR) {
      snprintf(why, why_n, "waitpid failed: %s", strerror(errno));
      return -1;
    }
  if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
    if (WIFEXITED(ws) && WEXITSTATUS(ws) == 127)
      snprintf(why, why_n, "gnuplot could not be started (is gnuplot installed?)");
    else
      snprintf(why, why_n, "gnuplot exited with status %d on %.1000s (its message is above)",
               WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws), script);
    return -1;
  }
  struct stat sb;
  if (stat(out, &sb) != 0 || sb.st_size == 0) {
    snprintf(why, why_n, "gnuplot wrote no %.1000s from %.1000s", out, script);
    return -1;
  }
  return 0;
}

static void remove_tree_files(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *de;
  char p[PATH_MAX + 300];
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    snprintf(p, sizeof p, "%.3000s/%s", dir, de->d_name);
    remove(p);
  }
  closedir(d);
  rmdir(dir);
}

static void usage(FILE *f) {
  fprintf(f, "usage: lab plot DIR [--scripts PLOTS_DIR]\n"
             "  DIR: a sweep's results folder, <out>/<experiment>. Writes DIR/plots/{cumulative,\n"
             "  cost_error,curves,stages}.{png,svg} with gnuplot, and the data files they plot.\n");
}

int lab_cmd_plot(int argc, char **argv) {
  const char *dir = NULL, *given = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(argv[i], "--scripts") && i + 1 < argc) {
      given = argv[++i];
    } else if (argv[i][0] == '-') {
      fprintf(stderr, "lab plot: unknown option '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    } else if (!dir) {
      dir = argv[i];
    } else {
      fprintf(stderr, "lab plot: one DIR only ('%s' and '%s')\n", dir, argv[i]);
      return 2;
    }
  }
  if (!dir) {
    usage(stderr);
    return 2;
  }
  char sdir[PATH_MAX];
  if (!find_scripts(given, sdir, sizeof sdir)) {
    fprintf(stderr, "lab plot: no gnuplot scripts (cumulative.gp, cost_error.gp, curves.gp, stages.gp) in '%s'%s\n",
            sdir, given ? "" : "; give their folder with --scripts or LAB_PLOTS_DIR");
    return 1;
  }
  lab_error err = {0};
  lab_report *r = NULL;
  lab_status st = lab_report_load(dir, lab_cli_imagenet_cost, NULL, &r, &err);
  if (st) {
    fprintf(stderr, "lab plot: %s\n", err.msg);
    return 1;
  }
  char pdir[PATH_MAX], tdir[PATH_MAX + 64];
  snprintf(pdir, sizeof pdir, "%s/plots", r->dir);
  int rc = 1;
  if ((st = lab_mkdirs(pdir, &err)) || (st = write_data(r, pdir, &err))) {
    fprintf(stderr, "lab plot: %s\n", err.msg);
    lab_report_free(r);
    return 1;
  }
  snprintf(tdir, sizeof tdir, "%s/.tmp-%ld", pdir, (long)getpid());
  if (mkdir(tdir, 0777) != 0) {
    fprintf(stderr, "lab plot: cannot create %s: %s\n", tdir, strerror(errno));
    lab_report_free(r);
    return 1;
  }
  static const char *const fmts[] = {"png", "svg"};
  char why[PATH_MAX + 200] = "";
  int ok = 1;
  for (int i = 0; i < N_SCRIPTS && ok; i++)
    for (int f = 0; f < 2 && ok; f++) {
      char script[PATH_MAX + 64], out[PATH_MAX + 128];
      snprintf(script, sizeof script, "%s/%s.gp", sdir, k_scripts[i]);
      snprintf(out, sizeof out, "%s/%s.%s", tdir, k_scripts[i], fmts[f]);
      ok = run_gnuplot(sdir, script, pdir, out, fmts[f], why, sizeof why) == 0;
    }
  if (ok) {
    /* every figure rendered: move them into place */
    for (int i = 0; i < N_SCRIPTS && ok; i++)
      for (int f = 0; f < 2 && ok; f++) {
        char from[PATH_MAX + 128], to[PATH_MAX + 128];
        snprintf(from, sizeof from, "%s/%s.%s", tdir, k_scripts[i], fmts[f]);
        snprintf(to, sizeof to, "%s/%s.%s", pdir, k_scripts[i], fmts[f]);
        if (rename(from, to) != 0) {
          snprintf(why, sizeof why, "cannot move %.1000s to %.1000s: %s", from, to, strerror(errno));
          ok = 0;
        }
      }
  }
  remove_tree_files(tdir);
  if (ok) {
    fprintf(stderr, "lab plot: %s/{cumulative,cost_error,curves,stages}.{png,svg}\n", pdir);
    rc = 0;
  } else {
    fprintf(stderr, "lab plot: %s; the figures in %s were left as they were\n", why, pdir);
  }
  lab_report_free(r);
  return rc;
}
