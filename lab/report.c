/* report.c: results folder -> table.md / .csv / .json / .tex (see report.h).
 *
 * Reading is strict (a malformed summary.json or metrics.tsv stops the report with its
 * FILE:LINE:COL) but absence is normal: a run not yet trained is shown as missing.
 */
#include "lab/report.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lab/json.h"
#include "lab/runfolder.h"
#include "lab/train_cfg.h"

const char *const lab_report_stage_names[LAB_REPORT_N_STAGES] = {"stem", "grid 1", "grid 2", "grid 3", "aux",
                                                                 "head"};
const char *const lab_run_state_names[6] = {"missing", "incomplete", "stale", "finished", "failed", "nan"};

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* === metrics.tsv === */

lab_status lab_report_read_tsv(const char *path, const char *const *cols, int n_cols, double **out, int *n_rows,
                               lab_error *err) {
  for (int c = 0; c < n_cols; c++) out[c] = NULL;
  *n_rows = 0;
  FILE *f = fopen(path, "r");
  if (!f) return lab_error_set(err, LAB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  lab_status st = LAB_STATUS_OK;
  char *line = NULL;
  size_t cap = 0;
  int idx[64], n_head = 0, lineno = 0, rows_cap = 0;
  LAB_ASSERT(n_cols <= 64, "too many columns");
  for (int c = 0; c < n_cols; c++) idx[c] = -1;
  ssize_t len;
  while ((len = getline(&line, &cap, f)) >= 0) {
    lineno++;
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
    if (lineno == 1) {
      /* the header: find each wanted column */
      int col = 0;
      for (char *tok = line, *next; tok; tok = next, col++) {
        next = strchr(tok, '\t');
        if (next) *next++ = '\0';
        for (int c = 0; c < n_cols; c++)
          if (!strcmp(tok, cols[c])) idx[c] = col;
      }
      n_head = col;
      for (int c = 0; c < n_cols; c++)
        if (idx[c] < 0) {
          st = lab_error_set(err, LAB_ERR_DATA, "%s:1:1: no column '%s' in the header", path, cols[c]);
          goto done;
        }
      continue;
    }
    if (len == 0) continue;
    if (*n_rows == rows_cap) {
      rows_cap = rows_cap ? 2 * rows_cap : 64;
      for (int c = 0; c < n_cols; c++) {
        out[c] = realloc(out[c], (size_t)rows_cap * sizeof *out[c]);
        LAB_ASSERT(out[c], "out of memory");
      }
    }
    int col = 0;
    for (char *tok = line, *next; tok; tok = next, col++) {
      next = strchr(tok, '\t');
      if (next) *next++ = '\0';
      for (int c = 0; c < n_cols; c++) {
        if (idx[c] != col) continue;
        double v;
        if (!strcmp(tok, "nan") || !strcmp(tok, "NaN")) {
          v = NAN;
        } else {
          char *end;
          errno = 0;
          v = strtod(tok, &end);
          if (end == tok || *end || errno == ERANGE || !isfinite(v)) {
            st = lab_error_set(err, LAB_ERR_DATA, "%s:%d:%d: column '%s': expected a number or nan, found '%s'", path,
                               lineno, (int)(tok - line) + 1, cols[c], tok);
            goto done;
          }
        }
        out[c][*n_rows] = v;
      }
    }
    if (col != n_head) {
      st = lab_error_set(err, LAB_ERR_DATA, "%s:%d:1: %d fields, the header has %d", path, lineno, col, n_head);
      goto done;
    }
    (*n_rows)++;
  }
  if (lineno == 0) st = lab_error_set(err, LAB_ERR_DATA, "%s:1:1: empty file (expected a header row)", path);
done:
  free(line);
  fclose(f);
  if (st) {
    for (int c = 0; c < n_cols; c++) {
      free(out[c]);
      out[c] = NULL;
    }
    *n_rows = 0;
  }
  return st;
}

/* === the manifest === */

static int exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

static lab_status read_paper(const lab_cfg_node *p, lab_report_row *row, lab_error *err) {
  static const char *const keys[] = {"top1", "top5", "cost_bn_ops"};
  double *dst[] = {&row->paper_top1, &row->paper_top5, &row->paper_cost};
  lab_status st = lab_cfg_check_keys(p, keys, 3, err);
  for (int i = 0; i < 3 && !st; i++) {
    const lab_cfg_node *v = lab_cfg_get(p, keys[i]);
    if (v) st = lab_cfg_double(v, 0.0, 1e6, dst[i], err);
  }
  return st;
}

/* Effective data/train values for the header: H9's reader fills in the defaults. */
static void describe_scale(lab_report_row *row, int trained_size) {
  lab_data_cfg d;
  lab_train_cfg t;
  lab_error e;
  lab_cfg_node *copy = lab_cfg_clone(row->config);
  /* the network is not this reader's: check data/train only */
  lab_cfg_node *only = lab_cfg_new_map(NULL, 1, 1);
  for (int i = 0; i < copy->n; i++)
    if (strcmp(copy->keys[i], "network")) lab_cfg_map_put(only, copy->keys[i], lab_cfg_clone(copy->items[i]));
  lab_cfg_free(copy);
  lab_status st = lab_train_cfg_read(only, &d, &t, &e);
  lab_cfg_free(only);
  const lab_cfg_node *net = lab_cfg_get(row->config, "network");
  const lab_cfg_node *w = lab_cfg_get(net, "width"), *sz = lab_cfg_get(net, "input_size");
  char size[32] = "preset's", width[32] = "preset's";
  if (trained_size > 0)
    snprintf(size, sizeof size, "%dx%d", trained_size, trained_size);
  else if (sz && sz->kind == LAB_CFG_SCALAR)
    snprintf(size, sizeof size, "%sx%s", sz->scalar, sz->scalar);
  if (w && w->kind == LAB_CFG_SCALAR) snprintf(width, sizeof width, "%s", w->scalar);
  if (st) {
    snprintf(row->scale, sizeof row->scale, "%s input, width %s (data/train unreadable: %.120s)", size, width, e.msg);
    return;
  }
  char subset[64] = "";
  if (d.train_subset > 0) snprintf(subset, sizeof subset, " (%ld training images)", d.train_subset);
  snprintf(row->scale, sizeof row->scale, "%s%s, %s input, width %s, %ld epoch%s, batch %ld",
           lab_data_names[d.dataset], subset, size, width, t.epochs, t.epochs == 1 ? "" : "s", t.batch);
}

static lab_status load_manifest(lab_report *r, lab_error *err) {
  static const char *const k_top[] = {"experiment", "description", "file", "preset_dir", "seeds", "rows"};
  static const char *const k_row[] = {"name", "slug", "paper", "config_hash", "config"};
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", r->dir, LAB_REPORT_MANIFEST);
  if (!exists(path))
    return lab_error_set(err, LAB_ERR_IO,
                         "%s: no such file: '%s' is not a sweep's results folder (lab sweep writes the manifest "
                         "%s there before training)",
                         path, r->dir, LAB_REPORT_MANIFEST);
  lab_status st = lab_cfg_load(path, &r->manifest, err);
  if (st) return st;
  const lab_cfg_node *m = r->manifest;
  if ((st = lab_cfg_check_keys(m, k_top, N_OF(k_top), err))) return st;
  const char *names[] = {"experiment", "seeds", "rows"};
  for (int i = 0; i < 3; i++)
    if (!lab_cfg_get(m, names[i])) return lab_cfg_error(err, m, "missing key '%s'", names[i]);
  if ((st = lab_cfg_string(lab_cfg_get(m, "experiment"), &r->experiment, err))) return st;
  if (lab_cfg_get(m, "description") && (st = lab_cfg_string(lab_cfg_get(m, "description"), &r->description, err)))
    return st;
  if (lab_cfg_get(m, "file") && (st = lab_cfg_string(lab_cfg_get(m, "file"), &r->file, err))) return st;
  const lab_cfg_node *seeds = lab_cfg_get(m, "seeds"), *rows = lab_cfg_get(m, "rows");
  if (seeds->kind != LAB_CFG_SEQ || seeds->n == 0) return lab_cfg_error(err, seeds, "expected a non-empty list of seeds");
  if (rows->kind != LAB_CFG_SEQ || rows->n == 0) return lab_cfg_error(err, rows, "expected a non-empty list of rows");
  r->n_seeds = seeds->n;
  r->seeds = lab_xcalloc((size_t)seeds->n, sizeof *r->seeds);
  for (int i = 0; i < seeds->n; i++)
    if ((st = lab_cfg_int(seeds->items[i], 0, 2147483647L, &r->seeds[i], err))) return st;
  r->rows = lab_xcalloc((size_t)rows->n, sizeof *r->rows);
  r->n_rows = rows->n;
  for (int i = 0; i < rows->n; i++) {
    lab_report_row *row = &r->rows[i];
    const lab_cfg_node *rn = rows->items[i];
    row->paper_top1 = row->paper_top5 = row->paper_cost = row->paper_d_top1 = row->paper_d_top5 = NAN;
    row->top1_mean = row->top1_std = row->top5_mean = row->top5_std = NAN;
    row->runs = lab_xcalloc((size_t)r->n_seeds, sizeof *row->runs);
    if ((st = lab_cfg_check_keys(rn, k_row, N_OF(k_row), err))) return st;
    const char *need[] = {"name", "slug", "config_hash", "config"};
    for (int k = 0; k < 4; k++)
      if (!lab_cfg_get(rn, need[k])) return lab_cfg_error(err, rn, "missing key '%s'", need[k]);
    if ((st = lab_cfg_string(lab_cfg_get(rn, "name"), &row->name, err))) return st;
    if ((st = lab_cfg_string(lab_cfg_get(rn, "slug"), &row->slug, err))) return st;
    if ((st = lab_cfg_string(lab_cfg_get(rn, "config_hash"), &row->config_hash, err))) return st;
    if (!row->slug[0] || strchr(row->slug, '/') || !strcmp(row->slug, ".") || !strcmp(row->slug, ".."))
      return lab_cfg_error(err, lab_cfg_get(rn, "slug"), "'%s' is not a folder name", row->slug);
    row->config = lab_cfg_get(rn, "config");
    if (row->config->kind != LAB_CFG_MAP) return lab_cfg_error(err, row->config, "expected the row's configuration map");
    if (lab_cfg_get(rn, "paper") && (st = read_paper(lab_cfg_get(rn, "paper"), row, err))) return st;
  }
  return LAB_STATUS_OK;
}

/* === runs === */

static lab_status load_run(const lab_report *r, const lab_report_row *row, lab_report_run *run, int *trained_size,
                           lab_error *err) {
  char dir[4200], path[4300];
  run->raw_top1 = run->raw_top5 = run->ema_top1 = run->ema_top5 = NAN;
  run->top1 = run->top5 = run->train_seconds = NAN;
  snprintf(dir, sizeof dir, "%s/%s/seed-%ld", r->dir, row->slug, run->seed);
  if (!exists(dir)) {
    run->state = LAB_RUN_MISSING;
    return LAB_STATUS_OK;
  }
  snprintf(path, sizeof path, "%s/summary.json", dir);
  if (!exists(path)) {
    run->state = LAB_RUN_INCOMPLETE;
  } else {
    lab_json *j;
    lab_status st = lab_json_load(path, &j, err);
    if (st) return st;
    const char *status = NULL, *hash = NULL;
    double ep = NAN, size = NAN;
    if (!(st = lab_json_string(j, "status", 1, &status, err)) && !(st = lab_json_string(j, "config_hash", 1, &hash, err)) &&
        !(st = lab_json_number(j, "test_top1_error", 1, &run->raw_top1, err)) &&
        !(st = lab_json_number(j, "test_top5_error", 1, &run->raw_top5, err)) &&
        !(st = lab_json_number(j, "ema_test_top1_error", 0, &run->ema_top1, err)) &&
        !(st = lab_json_number(j, "ema_test_top5_error", 0, &run->ema_top5, err)) &&
        !(st = lab_json_number(j, "train_seconds", 0, &run->train_seconds, err)) &&
        !(st = lab_json_number(j, "epochs", 0, &ep, err)) && !(st = lab_json_number(j, "input_size", 0, &size, err))) {
      run->epochs = isfinite(ep) ? (long)ep : 0;
      if (isfinite(size) && size > 0) *trained_size = (int)size;
      if (strcmp(hash, row->config_hash) != 0)
        run->state = LAB_RUN_STALE;
      else if (!strcmp(status, "finished"))
        run->state = LAB_RUN_FINISHED;
      else if (!strcmp(status, "nan"))
        run->state = LAB_RUN_NAN;
      else if (!strcmp(status, "failed"))
        run->state = LAB_RUN_FAILED;
      else
        st = lab_error_set(err, LAB_ERR_DATA, "%s: 'status': expected finished, failed or nan, found '%s'", path, status);
    }
    lab_json_free(j);
    if (st) return st;
  }
  return LAB_STATUS_OK;
}

/* The learning curve of the table's metric (after the EMA choice is made). */
static lab_status load_curve(const lab_report *r, const lab_report_row *row, lab_report_run *run, lab_error *err) {
  char path[4300];
  snprintf(path, sizeof path, "%s/%s/seed-%ld/metrics.tsv", r->dir, row->slug, run->seed);
  if (run->state == LAB_RUN_STALE || run->state == LAB_RUN_MISSING || !exists(path)) return LAB_STATUS_OK;
  const char *cols[] = {"epoch", r->use_ema ? "ema_test_top1_error" : "test_top1_error", "train_loss"};
  double *out[3];
  lab_status st = lab_report_read_tsv(path, cols, 3, out, &run->n_points, err);
  if (st) return st;
  run->epoch = out[0];
  run->curve_top1 = out[1];
  run->train_loss = out[2];
  return LAB_STATUS_OK;
}

static void aggregate(lab_report *r) {
  double *a1 = lab_xcalloc((size_t)r->n_seeds * 4, sizeof *a1), *a5 = a1 + r->n_seeds, *b1 = a5 + r->n_seeds,
         *b5 = b1 + r->n_seeds;
  for (int i = 0; i < r->n_rows; i++) {
    lab_report_row *row = &r->rows[i];
    for (int s = 0; s < r->n_seeds; s++) {
      b1[s] = row->runs[s].top1;
      b5[s] = row->runs[s].top5;
    }
    row->n = lab_stats_count(b1, r->n_seeds);
    row->top1_mean = lab_stats_mean(b1, r->n_seeds);
    row->top1_std = lab_stats_std(b1, r->n_seeds);
    row->top5_mean = lab_stats_mean(b5, r->n_seeds);
    row->top5_std = lab_stats_std(b5, r->n_seeds);
    if (i > 0) {
      row->d_top1 = lab_stats_paired(a1, b1, r->n_seeds, 0.95);
      row->d_top5 = lab_stats_paired(a5, b5, r->n_seeds, 0.95);
      row->paper_d_top1 = row->paper_top1 - r->rows[i - 1].paper_top1;
      row->paper_d_top5 = row->paper_top5 - r->rows[i - 1].paper_top5;
    } else {
      row->d_top1 = lab_stats_paired(a1, b1, 0, 0.95);
      row->d_top5 = row->d_top1;
    }
    memcpy(a1, b1, (size_t)r->n_seeds * sizeof *a1);
    memcpy(a5, b5, (size_t)r->n_seeds * sizeof *a5);
  }
  free(a1);
}

lab_status lab_report_load(const char *dir, lab_report_cost_fn cost, void *ctx, lab_report **out, lab_error *err) {
  *out = NULL;
  lab_report *r = lab_xcalloc(1, sizeof *r);
  size_t dl = strlen(dir);
  while (dl > 1 && dir[dl - 1] == '/') dl--;
  r->dir = lab_xmalloc(dl + 1);
  memcpy(r->dir, dir, dl);
  r->dir[dl] = '\0';
  lab_status st = load_manifest(r, err);
  if (st) goto fail;
  int n_finished = 0, n_ema = 0;
  for (int i = 0; i < r->n_rows; i++) {
    lab_report_row *row = &r->rows[i];
    int trained_size = 0;
    for (int s = 0; s < r->n_seeds; s++) {
      row->runs[s].seed = r->seeds[s];
      if ((st = load_run(r, row, &row->runs[s], &trained_size, err))) goto fail;
      lab_report_run *run = &row->runs[s];
      if (run->state == LAB_RUN_FINISHED) {
        n_finished++;
        n_ema += isfinite(run->ema_top1) && isfinite(run->ema_top5);
      } else if (run->state == LAB_RUN_FAILED || run->state == LAB_RUN_NAN) {
        r->n_failed++;
      } else if (run->state == LAB_RUN_STALE) {
        r->n_stale++;
      } else {
        r->n_missing++;
      }
    }
    describe_scale(row, trained_size);
    if (cost) {
      lab_error cerr;
      if (cost(row->config, lab_cfg_get(r->manifest, "preset_dir") ? lab_cfg_get(r->manifest, "preset_dir")->scalar
                                                                    : ".",
               ctx, &row->cost, &cerr)) {
        row->cost.ok = 0;
        snprintf(row->cost.note, sizeof row->cost.note, "%.1023s", cerr.msg);
      }
    }
  }
  /* One metric for the whole table: mixing EMA and raw weights would make the paired
   * differences compare different things. */
  r->use_ema = n_finished > 0 && n_ema == n_finished;
  snprintf(r->metric, sizeof r->metric, "%s",
           r->use_ema ? "EMA of the weights (the paper's evaluation weights)" : "final weights (no EMA numbers in every run)");
  for (int i = 0; i < r->n_rows; i++)
    for (int s = 0; s < r->n_seeds; s++) {
      lab_report_run *run = &r->rows[i].runs[s];
      if (run->state == LAB_RUN_FINISHED) {
        run->top1 = r->use_ema ? run->ema_top1 : run->raw_top1;
        run->top5 = r->use_ema ? run->ema_top5 : run->raw_top5;
      }
      if ((st = load_curve(r, &r->rows[i], run, err))) goto fail;
    }
  aggregate(r);
  /* the shared scale, if every row has the same */
  snprintf(r->scale, sizeof r->scale, "%s", r->rows[0].scale);
  for (int i = 1; i < r->n_rows; i++)
    if (strcmp(r->rows[i].scale, r->scale)) r->scale[0] = '\0';
  *out = r;
  return LAB_STATUS_OK;
fail:
  lab_error_prefix(err, "report of %s", r->dir);
  lab_report_free(r);
  return st;
}

void lab_report_free(lab_report *r) {
  if (!r) return;
  for (int i = 0; i < r->n_rows; i++) {
    for (int s = 0; s < r->n_seeds && r->rows[i].runs; s++) {
      free(r->rows[i].runs[s].epoch);
      free(r->rows[i].runs[s].curve_top1);
      free(r->rows[i].runs[s].train_loss);
    }
    free(r->rows[i].runs);
  }
  free(r->rows);
  free(r->seeds);
  lab_cfg_free(r->manifest);
  free(r->dir);
  free(r);
}

/* === formatting === */

static void fmt_num(char *b, size_t n, double v, int prec) {
  if (isfinite(v))
    snprintf(b, n, "%.*f", prec, v);
  else
    snprintf(b, n, "–");
}

static void fmt_signed(char *b, size_t n, double v, int prec) {
  if (isfinite(v))
    snprintf(b, n, "%+.*f", prec, v);
  else
    snprintf(b, n, "–");
}

/* "12.34 ± 0.56" / "12.34" (one run) / "missing" */
static void fmt_mean(char *b, size_t n, double mean, double std, const char *pm) {
  if (!isfinite(mean))
    snprintf(b, n, "missing");
  else if (!isfinite(std))
    snprintf(b, n, "%.2f", mean);
  else
    snprintf(b, n, "%.2f %s %.2f", mean, pm, std);
}

/* "-0.41 [-0.80, -0.02]" / "-0.41 (1 pair)" / "–" */
static void fmt_delta(char *b, size_t n, const lab_paired *p) {
  if (p->n == 0)
    snprintf(b, n, "–");
  else if (p->n < 2)
    snprintf(b, n, "%+.2f (1 pair)", p->mean);
  else
    snprintf(b, n, "%+.2f [%+.2f, %+.2f]", p->mean, p->lo, p->hi);
}

static void fmt_cost(char *b, size_t n, const lab_report_cost *c, int with_size) {
  if (!c->ok)
    snprintf(b, n, "–");
  else if (with_size)
    snprintf(b, n, "%.2f (%d)", (double)c->macs / 1e9, c->input_size);
  else
    snprintf(b, n, "%.2f", (double)c->macs / 1e9);
}

/* "3/3", "2/3 (seed 2 missing)", ... */
static void fmt_runs(char *b, size_t n, const lab_report *r, const lab_report_row *row) {
  int k = snprintf(b, n, "%d/%d", row->n, r->n_seeds);
  int first = 1;
  for (int s = 0; s < r->n_seeds && k > 0 && (size_t)k < n; s++) {
    const lab_report_run *run = &row->runs[s];
    if (run->state == LAB_RUN_FINISHED) continue;
    k += snprintf(b + k, n - (size_t)k, "%sseed %ld %s", first ? " (" : ", ", run->seed,
                  lab_run_state_names[run->state]);
    first = 0;
  }
  if (!first && k > 0 && (size_t)k + 1 < n) snprintf(b + k, n - (size_t)k, ")");
}

/* One table row's cells, in column order: our cost (Bn MACs, M params), the paper's cost, then
 * top-1 (ours, our change, paper, paper change), top-5 alike, and the runs. Shared by the
 * Markdown and LaTeX tables (which leave out the first two without costs). */
typedef struct row_cells {
  char cell[12][512];
} row_cells;

static void format_row(const lab_report *r, const lab_report_row *row, row_cells *rc) {
  const size_t n = sizeof rc->cell[0];
  fmt_cost(rc->cell[0], n, &row->cost, 1);
  fmt_num(rc->cell[1], n, row->cost.ok ? (double)row->cost.params / 1e6 : NAN, 2);
  fmt_num(rc->cell[2], n, row->paper_cost, 1);
  fmt_mean(rc->cell[3], n, row->top1_mean, row->top1_std, "±");
  fmt_delta(rc->cell[4], n, &row->d_top1);
  fmt_num(rc->cell[5], n, row->paper_top1, 1);
  fmt_signed(rc->cell[6], n, row->paper_d_top1, 1);
  fmt_mean(rc->cell[7], n, row->top5_mean, row->top5_std, "±");
  fmt_delta(rc->cell[8], n, &row->d_top5);
  fmt_num(rc->cell[9], n, row->paper_top5, 1);
  fmt_signed(rc->cell[10], n, row->paper_d_top5, 1);
  fmt_runs(rc->cell[11], n, r, row);
}

static int any_cost(const lab_report *r) {
  for (int i = 0; i < r->n_rows; i++)
    if (r->rows[i].cost.ok) return 1;
  return 0;
}

char *lab_report_markdown(const lab_report *r) {
  lab_strbuf b = {0};
  int costs = any_cost(r);
  lab_strbuf_printf(&b, "# %s: Table 3 ablation, reproduced\n\n", r->experiment);
  if (r->description) lab_strbuf_printf(&b, "%s\n\n", r->description);
  lab_strbuf_printf(&b, "**Our error columns are not ImageNet numbers.** They were measured at small scale");
  if (r->scale[0])
    lab_strbuf_printf(&b, " on %s", r->scale);
  else
    lab_strbuf_printf(&b, " (the rows differ in scale: see the column 'our scale')");
  lab_strbuf_printf(&b,
                    "; errors in %% on the test set with the %s; mean ± sample std over the finished seeds (n in "
                    "'runs', of %d seeds). Δ = change from the row above, paired by seed, with its 95%% t-interval. "
                    "The paper's columns are ImageNet single-crop errors (Szegedy et al. 2016, Table 3).\n\n",
                    r->metric, r->n_seeds);
  if (costs)
    lab_strbuf_printf(&b,
                      "**Cost at ImageNet scale** (3 channels, 1000 classes, width 1.0, each network at its native "
                      "input size, in brackets; a row that changes the stem's resolution at the input that gives the "
                      "same grid after the stem): Bn MACs = multiply-accumulates of conv and linear layers per image "
                      "(forward, aux head excluded); M params = trainable weights (aux head excluded). The paper's "
                      "\"Cost Bn Ops\" beside.\n\n");
  lab_strbuf_printf(&b, "| # | row |");
  if (costs) lab_strbuf_printf(&b, " Bn MACs (input) | M params |");
  lab_strbuf_printf(&b, " paper Bn ops | top-1 err | Δ top-1 [95%% CI] | paper top-1 | paper Δ | top-5 err | "
                        "Δ top-5 [95%% CI] | paper top-5 | paper Δ | runs |%s\n",
                    r->scale[0] ? "" : " our scale |");
  lab_strbuf_printf(&b, "|---:|---|");
  if (costs) lab_strbuf_printf(&b, "---:|---:|");
  lab_strbuf_printf(&b, "---:|---:|---:|---:|---:|---:|---:|---:|---:|---|%s\n", r->scale[0] ? "" : "---|");
  for (int i = 0; i < r->n_rows; i++) {
    const lab_report_row *row = &r->rows[i];
    row_cells rc;
    format_row(r, row, &rc);
    lab_strbuf_printf(&b, "| %d | %s |", i + 1, row->name);
    for (int k = costs ? 0 : 2; k < N_OF(rc.cell); k++) lab_strbuf_printf(&b, " %s |", rc.cell[k]);
    if (!r->scale[0]) lab_strbuf_printf(&b, " %s |", row->scale);
    lab_strbuf_printf(&b, "\n");
  }
  int notes = 0;
  for (int i = 0; i < r->n_rows; i++)
    if (!r->rows[i].cost.ok && r->rows[i].cost.note[0]) {
      if (!notes++) lab_strbuf_printf(&b, "\n");
      lab_strbuf_printf(&b, "- cost of row %d (%s) not computed: %s\n", i + 1, r->rows[i].name, r->rows[i].cost.note);
    }
  if (r->n_missing || r->n_failed || r->n_stale)
    lab_strbuf_printf(&b,
                      "\nNot counted: %d missing or incomplete run(s), %d failed or diverged, %d stale (trained under "
                      "another configuration). Missing values are shown as 'missing' or '–', never as zero.\n",
                      r->n_missing, r->n_failed, r->n_stale);
  return b.s;
}

static void csv_num(lab_strbuf *b, double v, int prec) {
  if (isfinite(v))
    lab_strbuf_printf(b, ",%.*f", prec, v);
  else
    lab_strbuf_printf(b, ",");
}

static void csv_str(lab_strbuf *b, const char *s, int comma) {
  lab_strbuf_printf(b, "%s\"", comma ? "," : "");
  for (; *s; s++) lab_strbuf_printf(b, *s == '"' ? "\"\"" : "%c", *s);
  lab_strbuf_printf(b, "\"");
}

char *lab_report_csv(const lab_report *r) {
  lab_strbuf b = {0};
  lab_strbuf_printf(&b, "index,row,input_size,macs_bn,params_m,macs_aux_bn,params_aux_m,paper_cost_bn_ops,n,seeds,"
                        "top1_mean,top1_std,d_top1_mean,d_top1_lo,d_top1_hi,d_top1_pairs,paper_top1,paper_d_top1,"
                        "top5_mean,top5_std,d_top5_mean,d_top5_lo,d_top5_hi,d_top5_pairs,paper_top5,paper_d_top5,"
                        "metric,scale\n");
  for (int i = 0; i < r->n_rows; i++) {
    const lab_report_row *row = &r->rows[i];
    const lab_report_cost *c = &row->cost;
    lab_strbuf_printf(&b, "%d", i + 1);
    csv_str(&b, row->name, 1);
    if (c->ok)
      lab_strbuf_printf(&b, ",%d,%.6f,%.6f,%.6f,%.6f", c->input_size, (double)c->macs / 1e9, (double)c->params / 1e6,
                        (double)c->macs_aux / 1e9, (double)c->params_aux / 1e6);
    else
      lab_strbuf_printf(&b, ",,,,,");
    csv_num(&b, row->paper_cost, 2);
    lab_strbuf_printf(&b, ",%d,%d", row->n, r->n_seeds);
    const double *v1[] = {&row->top1_mean, &row->top1_std, &row->d_top1.mean, &row->d_top1.lo, &row->d_top1.hi};
    for (int k = 0; k < 5; k++) csv_num(&b, *v1[k], 4);
    lab_strbuf_printf(&b, ",%d", row->d_top1.n);
    csv_num(&b, row->paper_top1, 2);
    csv_num(&b, row->paper_d_top1, 2);
    const double *v5[] = {&row->top5_mean, &row->top5_std, &row->d_top5.mean, &row->d_top5.lo, &row->d_top5.hi};
    for (int k = 0; k < 5; k++) csv_num(&b, *v5[k], 4);
    lab_strbuf_printf(&b, ",%d", row->d_top5.n);
    csv_num(&b, row->paper_top5, 2);
    csv_num(&b, row->paper_d_top5, 2);
    csv_str(&b, r->use_ema ? "ema" : "raw", 1);
    csv_str(&b, row->scale, 1);
    lab_strbuf_printf(&b, "\n");
  }
  return b.s;
}

static void json_kv(lab_strbuf *b, const char *k, double v, int last) {
  lab_strbuf_printf(b, "\"%s\": ", k);
  lab_strbuf_json_number(b, v);
  lab_strbuf_printf(b, last ? "" : ", ");
}

static void json_paired(lab_strbuf *b, const char *k, const lab_paired *p) {
  lab_strbuf_printf(b, "\"%s\": {\"pairs\": %d, ", k, p->n);
  json_kv(b, "mean", p->mean, 0);
  json_kv(b, "std", p->std, 0);
  json_kv(b, "ci95_lo", p->lo, 0);
  json_kv(b, "ci95_hi", p->hi, 1);
  lab_strbuf_printf(b, "}");
}

char *lab_report_json(const lab_report *r) {
  lab_strbuf b = {0};
  lab_strbuf_printf(&b, "{\n  \"experiment\": ");
  lab_strbuf_json_string(&b, r->experiment);
  lab_strbuf_printf(&b, ",\n  \"description\": ");
  lab_strbuf_json_string(&b, r->description);
  lab_strbuf_printf(&b, ",\n  \"metric\": \"%s\",\n  \"scale\": ", r->use_ema ? "ema" : "raw");
  lab_strbuf_json_string(&b, r->scale[0] ? r->scale : NULL);
  lab_strbuf_printf(&b, ",\n  \"note\": \"errors in percent at small scale, not ImageNet; paper columns are ImageNet "
                        "single-crop (Table 3); costs at ImageNet scale, per image, aux head apart\",\n  \"seeds\": [");
  for (int s = 0; s < r->n_seeds; s++) lab_strbuf_printf(&b, "%s%ld", s ? ", " : "", r->seeds[s]);
  lab_strbuf_printf(&b, "],\n  \"rows\": [\n");
  for (int i = 0; i < r->n_rows; i++) {
    const lab_report_row *row = &r->rows[i];
    const lab_report_cost *c = &row->cost;
    lab_strbuf_printf(&b, "    {\"index\": %d, \"name\": ", i + 1);
    lab_strbuf_json_string(&b, row->name);
    lab_strbuf_printf(&b, ", \"slug\": ");
    lab_strbuf_json_string(&b, row->slug);
    lab_strbuf_printf(&b, ", \"config_hash\": ");
    lab_strbuf_json_string(&b, row->config_hash);
    lab_strbuf_printf(&b, ", \"scale\": ");
    lab_strbuf_json_string(&b, row->scale);
    lab_strbuf_printf(&b, ",\n     \"cost\": ");
    if (c->ok) {
      lab_strbuf_printf(&b,
                        "{\"input_size\": %d, \"macs\": %llu, \"macs_aux\": %llu, \"params\": %llu, \"params_aux\": "
                        "%llu, \"stage_macs\": {",
                        c->input_size, (unsigned long long)c->macs, (unsigned long long)c->macs_aux,
                        (unsigned long long)c->params, (unsigned long long)c->params_aux);
      for (int k = 0; k < LAB_REPORT_N_STAGES; k++)
        lab_strbuf_printf(&b, "%s\"%s\": %llu", k ? ", " : "", lab_report_stage_names[k],
                          (unsigned long long)c->stage_macs[k]);
      lab_strbuf_printf(&b, "}, \"stage_grid\": [%d, %d, %d]}", c->stage_grid[LAB_STAGE_GRID1],
                        c->stage_grid[LAB_STAGE_GRID2], c->stage_grid[LAB_STAGE_GRID3]);
    } else {
      lab_strbuf_printf(&b, "null");
    }
    lab_strbuf_printf(&b, ",\n     \"paper\": {");
    json_kv(&b, "top1", row->paper_top1, 0);
    json_kv(&b, "top5", row->paper_top5, 0);
    json_kv(&b, "cost_bn_ops", row->paper_cost, 0);
    json_kv(&b, "d_top1", row->paper_d_top1, 0);
    json_kv(&b, "d_top5", row->paper_d_top5, 1);
    lab_strbuf_printf(&b, "},\n     \"n\": %d, ", row->n);
    json_kv(&b, "top1_mean", row->top1_mean, 0);
    json_kv(&b, "top1_std", row->top1_std, 0);
    json_kv(&b, "top5_mean", row->top5_mean, 0);
    json_kv(&b, "top5_std", row->top5_std, 0);
    lab_strbuf_printf(&b, "\n     ");
    json_paired(&b, "d_top1", &row->d_top1);
    lab_strbuf_printf(&b, ", ");
    json_paired(&b, "d_top5", &row->d_top5);
    lab_strbuf_printf(&b, ",\n     \"runs\": [");
    for (int s = 0; s < r->n_seeds; s++) {
      const lab_report_run *run = &row->runs[s];
      lab_strbuf_printf(&b, "%s\n       {\"seed\": %ld, \"state\": \"%s\", ", s ? "," : "", run->seed,
                        lab_run_state_names[run->state]);
      json_kv(&b, "top1", run->top1, 0);
      json_kv(&b, "top5", run->top5, 0);
      json_kv(&b, "raw_top1", run->raw_top1, 0);
      json_kv(&b, "raw_top5", run->raw_top5, 0);
      json_kv(&b, "ema_top1", run->ema_top1, 0);
      json_kv(&b, "ema_top5", run->ema_top5, 0);
      json_kv(&b, "train_seconds", run->train_seconds, 1);
      lab_strbuf_printf(&b, "}");
    }
    lab_strbuf_printf(&b, "]}%s\n", i + 1 < r->n_rows ? "," : "");
  }
  lab_strbuf_printf(&b, "  ]\n}\n");
  return b.s;
}

static void tex_str(lab_strbuf *b, const char *s) {
  for (; *s; s++) {
    if (strchr("&%$#_{}", *s))
      lab_strbuf_printf(b, "\\%c", *s);
    else if (*s == '~')
      lab_strbuf_printf(b, "\\textasciitilde{}");
    else if (*s == '^')
      lab_strbuf_printf(b, "\\textasciicircum{}");
    else if (*s == '\\')
      lab_strbuf_printf(b, "\\textbackslash{}");
    else
      lab_strbuf_printf(b, "%c", *s);
  }
}

static void tex_cell(lab_strbuf *b, const char *s) {
  lab_strbuf_printf(b, " & ");
  /* the en dash of missing values and the plus-minus of means, in LaTeX spelling */
  if (!strcmp(s, "–")) {
    lab_strbuf_printf(b, "--");
    return;
  }
  const char *pm = strstr(s, "±");
  if (pm) {
    char head[64];
    snprintf(head, sizeof head, "%.*s", (int)(pm - s), s);
    lab_strbuf_printf(b, "$%s\\pm%s$", head, pm + strlen("±"));
    return;
  }
  tex_str(b, s);
}

char *lab_report_latex(const lab_report *r) {
  lab_strbuf b = {0};
  int costs = any_cost(r);
  lab_strbuf_printf(&b, "%% %s: Table 3 ablation reproduced (generated by lab report; do not edit)\n", r->experiment);
  lab_strbuf_printf(&b, "%% Our errors: small scale, NOT ImageNet: %s", r->scale[0] ? r->scale : "per row (see table.md)");
  lab_strbuf_printf(&b, "; %s; mean +- std over seeds; Delta: paired by seed, 95%% t-interval.\n", r->metric);
  lab_strbuf_printf(&b, "\\begin{tabular}{rl%sr|rrrr|rrrr|l}\n\\hline\n", costs ? "rr" : "");
  lab_strbuf_printf(&b, "\\# & Network%s & Paper Bn ops & Top-1 err. & $\\Delta$ [95\\%% CI] & Paper & Paper $\\Delta$"
                        " & Top-5 err. & $\\Delta$ [95\\%% CI] & Paper & Paper $\\Delta$ & Runs \\\\\n\\hline\n",
                    costs ? " & Bn MACs (input) & M params" : "");
  for (int i = 0; i < r->n_rows; i++) {
    const lab_report_row *row = &r->rows[i];
    row_cells rc;
    format_row(r, row, &rc);
    lab_strbuf_printf(&b, "%d & ", i + 1);
    tex_str(&b, row->name);
    for (int k = costs ? 0 : 2; k < N_OF(rc.cell); k++) tex_cell(&b, rc.cell[k]);
    lab_strbuf_printf(&b, " \\\\\n");
  }
  lab_strbuf_printf(&b, "\\hline\n\\end{tabular}\n");
  return b.s;
}

lab_status lab_report_write_tables(const lab_report *r, lab_error *err) {
  static const char *const names[] = {"table.md", "table.csv", "table.json", "table.tex"};
  char *text[4] = {lab_report_markdown(r), lab_report_csv(r), lab_report_json(r), lab_report_latex(r)};
  lab_status st = LAB_STATUS_OK;
  /* All four texts exist before the first rename, so a failure leaves every old table whole. */
  for (int i = 0; i < 4 && !st; i++) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", r->dir, names[i]);
    st = lab_write_atomic(path, text[i], strlen(text[i]), err);
  }
  for (int i = 0; i < 4; i++) free(text[i]);
  return st;
}
