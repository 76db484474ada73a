/* test_report.c: lab/report (and the strict JSON reader it relies on): a synthetic results
 * folder (manifest + run folders written here) -> aggregated rows, missing / stale / failed
 * runs kept out of the means and shown, the EMA-or-raw choice, paired differences, the four
 * table texts, atomic writes that leave the old table whole on failure, and FILE:LINE:COL
 * errors for malformed summary.json / metrics.tsv / manifest. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lab/json.h"
#include "lab/report.h"
#include "lab/stats.h"
#include "testutil.h"

static int near(double a, double b, double tol, const char *what) {
  if (fabs(a - b) <= tol * fmax(1.0, fabs(b))) return 1;
  print_error("%s: got %.12g, expected %.12g\n", what, a, b);
  return 0;
}
#define assert_near(a, b, tol) assert_true(near((a), (b), (tol), #a))

/* === a synthetic results folder === */

typedef struct fixture {
  char dir[64];
} fixture;

static void put(const fixture *fx, const char *rel, const char *text) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", fx->dir, rel);
  /* mkdir -p of the parent */
  for (char *p = path + strlen(fx->dir) + 1; *p; p++)
    if (*p == '/') {
      *p = '\0';
      mkdir(path, 0777);
      *p = '/';
    }
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static char *slurp(const fixture *fx, const char *rel) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", fx->dir, rel);
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  size_t r = fread(s, 1, (size_t)n, f);
  s[r] = '\0';
  fclose(f);
  return s;
}

static const char *k_manifest =
    "# test manifest\n"
    "experiment: demo\n"
    "description: \"three rows\"\n"
    "file: demo.yaml\n"
    "preset_dir: /nonexistent\n"
    "seeds: [0, 1, 2]\n"
    "rows:\n"
    "  - name: Base\n"
    "    slug: base\n"
    "    paper: {top1: 29.0, top5: 9.2, cost_bn_ops: 1.5}\n"
    "    config_hash: aaaaaaaaaaaaaaaa\n"
    "    config: {network: {preset: x, input_size: 32, width: 0.5}, data: {dataset: fashion-mnist}, train: {epochs: 3}}\n"
    "  - name: Base + Change\n"
    "    slug: base-change\n"
    "    paper: {top1: 26.8, cost_bn_ops: 1.5}\n"
    "    config_hash: bbbbbbbbbbbbbbbb\n"
    "    config: {network: {preset: y, input_size: 32, width: 0.5}, data: {dataset: fashion-mnist}, train: {epochs: 3}}\n"
    "  - name: Third\n"
    "    slug: third\n"
    "    config_hash: cccccccccccccccc\n"
    "    config: {network: {preset: z, input_size: 32, width: 0.5}, data: {dataset: fashion-mnist}, train: {epochs: 3}}\n";

/* A summary.json; ema < 0 writes null EMA numbers. */
static void summary(const fixture *fx, const char *slug, int seed, const char *status, const char *hash, double top1,
                    double top5, double ema1, double ema5) {
  char rel[128], text[1024], e1[32], e5[32], t1[32], t5[32];
  snprintf(rel, sizeof rel, "%s/seed-%d/summary.json", slug, seed);
  /* JSON has no NaN: the trainer writes null */
  const double v[] = {ema1 < 0 ? NAN : ema1, ema1 < 0 ? NAN : ema5, top1, top5};
  char *dst[] = {e1, e5, t1, t5};
  for (int i = 0; i < 4; i++)
    snprintf(dst[i], 32, isnan(v[i]) ? "null" : "%.17g", v[i]);
  snprintf(text, sizeof text,
           "{\"status\": \"%s\", \"experiment\": \"demo\", \"variant\": \"%s\", \"seed\": %d, \"config_hash\": \"%s\",\n"
           " \"epochs\": 3, \"test_top1_error\": %s, \"test_top5_error\": %s, \"ema_test_top1_error\": %s,\n"
           " \"ema_test_top5_error\": %s, \"train_seconds\": 12.5, \"input_size\": 32, \"error\": null}\n",
           status, slug, seed, hash, t1, t5, e1, e5);
  put(fx, rel, text);
}

static void metrics(const fixture *fx, const char *slug, int seed, double e1, double e2, double e3) {
  char rel[128], text[2048];
  snprintf(rel, sizeof rel, "%s/seed-%d/metrics.tsv", slug, seed);
  snprintf(text, sizeof text,
           "epoch\tstep\tlr\ttrain_loss\ttrain_top1_error\ttest_top1_error\ttest_top5_error\tema_test_top1_error\t"
           "ema_test_top5_error\tseconds\timages_per_second\n"
           "1\t10\t0.1\t2.0\t50\t%g\t10\t%g\t9\t1.0\t100\n"
           "2\t20\t0.1\t1.5\t40\t%g\t8\t%g\t7\t2.0\t100\n"
           "3\t30\t0.1\t1.0\t30\t%g\t6\tnan\tnan\t3.0\t100\n",
           e1 + 1, e1, e2 + 1, e2, e3 + 1);
  put(fx, rel, text);
}

static const double A1[3] = {20.0, 22.0, 21.0}, A5[3] = {5.0, 6.0, 5.5}; /* Base, EMA */
static const double B1[3] = {18.0, 21.0, NAN}, B5[3] = {4.0, 5.0, NAN};  /* Base + Change */

static void populate(const fixture *fx, int base_ema) {
  put(fx, "experiment.yaml", k_manifest);
  for (int s = 0; s < 3; s++) {
    /* raw numbers differ from EMA ones by +1 so the test sees which were used */
    summary(fx, "base", s, "finished", "aaaaaaaaaaaaaaaa", A1[s] + 1, A5[s] + 1, base_ema ? A1[s] : -1, A5[s]);
    metrics(fx, "base", s, 30 + s, 25 + s, 20 + s);
  }
  summary(fx, "base-change", 0, "finished", "bbbbbbbbbbbbbbbb", B1[0] + 1, B5[0] + 1, B1[0], B5[0]);
  summary(fx, "base-change", 1, "finished", "bbbbbbbbbbbbbbbb", B1[1] + 1, B5[1] + 1, B1[1], B5[1]);
  /* seed 2 of Base + Change: never trained (no folder) */
  summary(fx, "third", 0, "finished", "cccccccccccccccc", 16.0, 3.0, 15.0, 2.0);
  summary(fx, "third", 1, "finished", "0123456789abcdef", 1.0, 1.0, 1.0, 1.0); /* stale: another config */
  summary(fx, "third", 2, "failed", "cccccccccccccccc", NAN, NAN, -1, -1);
  put(fx, "third/seed-3/log.txt", "not a seed of the manifest\n");
}

static int setup(void **state) {
  fixture *fx = calloc(1, sizeof *fx);
  if (lab_test_mkdtemp(fx->dir, sizeof fx->dir, "test_report")) return -1;
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture *fx = *state;
  int rc = lab_test_rmtree(fx->dir);
  free(fx);
  return rc == 0 ? 0 : -1;
}

/* A fake cost: MACs = 1e9 x (row's input_size / 16); proves the callback's result is used. */
static lab_status fake_cost(const lab_cfg_node *row, const char *preset_dir, void *ctx, lab_report_cost *out,
                            lab_error *err) {
  int *calls = ctx;
  (*calls)++;
  assert_string_equal(preset_dir, "/nonexistent");
  memset(out, 0, sizeof *out);
  const lab_cfg_node *p = lab_cfg_find(row, "network.preset");
  if (!strcmp(p->scalar, "z")) return lab_error_set(err, LAB_ERR_CONFIG, "no preset z here");
  out->ok = 1;
  out->input_size = 299;
  out->macs = !strcmp(p->scalar, "x") ? 1500000000ull : 1600000000ull;
  out->params = 7000000;
  out->stage_macs[LAB_STAGE_STEM] = 100;
  return LAB_STATUS_OK;
}

/* === tests === */

static void test_aggregate(void **state) {
  fixture *fx = *state;
  populate(fx, 1);
  lab_report *r = NULL;
  lab_error err;
  int calls = 0;
  lab_status st = lab_report_load(fx->dir, fake_cost, &calls, &r, &err);
  if (st) print_error("%s\n", err.msg);
  assert_int_equal(st, LAB_STATUS_OK);
  assert_int_equal(calls, 3);
  assert_int_equal(r->n_rows, 3);
  assert_int_equal(r->n_seeds, 3);
  assert_true(r->use_ema);
  assert_string_equal(r->experiment, "demo");

  const lab_report_row *a = &r->rows[0], *b = &r->rows[1], *c = &r->rows[2];
  assert_int_equal(a->n, 3);
  assert_near(a->top1_mean, 21.0, 1e-12);
  assert_near(a->top1_std, 1.0, 1e-12);
  assert_near(a->top5_mean, 5.5, 1e-12);
  assert_true(isnan(a->d_top1.mean) && a->d_top1.n == 0);
  assert_near(a->paper_top1, 29.0, 1e-12);
  assert_true(isnan(a->paper_d_top1));
  assert_int_equal(a->cost.ok, 1);
  assert_true(a->cost.macs == 1500000000ull);

  /* Base + Change: seed 2 missing -> n = 2, paired over seeds 0 and 1 only */
  assert_int_equal(b->n, 2);
  assert_int_equal(b->runs[2].state, LAB_RUN_MISSING);
  assert_true(isnan(b->runs[2].top1));
  assert_near(b->top1_mean, 19.5, 1e-12);
  assert_int_equal(b->d_top1.n, 2);
  assert_near(b->d_top1.mean, ((18.0 - 20.0) + (21.0 - 22.0)) / 2.0, 1e-12);
  lab_paired want = lab_stats_paired(A1, B1, 3, 0.95);
  assert_near(b->d_top1.lo, want.lo, 1e-12);
  assert_near(b->d_top1.hi, want.hi, 1e-12);
  assert_near(b->paper_d_top1, 26.8 - 29.0, 1e-12);
  assert_true(isnan(b->paper_d_top5)); /* the paper gives no top-5 for that row */

  /* Third: one finished, one stale (never averaged in), one failed */
  assert_int_equal(c->n, 1);
  assert_int_equal(c->runs[0].state, LAB_RUN_FINISHED);
  assert_int_equal(c->runs[1].state, LAB_RUN_STALE);
  assert_int_equal(c->runs[2].state, LAB_RUN_FAILED);
  assert_near(c->top1_mean, 15.0, 1e-12);
  assert_true(isnan(c->top1_std));
  assert_int_equal(c->d_top1.n, 1); /* only seed 0 pairs with Base + Change */
  assert_int_equal(c->cost.ok, 0);
  assert_non_null(strstr(c->cost.note, "no preset z"));
  assert_int_equal(r->n_missing, 1);
  assert_int_equal(r->n_stale, 1);
  assert_int_equal(r->n_failed, 1);

  /* learning curves: the EMA column, nan kept as NaN */
  assert_int_equal(a->runs[1].n_points, 3);
  assert_near(a->runs[1].curve_top1[0], 31.0, 1e-12);
  assert_near(a->runs[1].train_loss[2], 1.0, 1e-12);
  assert_true(isnan(a->runs[1].curve_top1[2]));
  /* the scale header comes from the configuration, defaults filled in */
  assert_non_null(strstr(r->scale, "fashion-mnist"));
  assert_non_null(strstr(r->scale, "32x32 input"));
  assert_non_null(strstr(r->scale, "width 0.5"));
  assert_non_null(strstr(r->scale, "3 epochs"));
  lab_report_free(r);
}

static void test_raw_when_ema_missing(void **state) {
  fixture *fx = *state;
  populate(fx, 0); /* Base has no EMA numbers */
  lab_report *r = NULL;
  lab_error err;
  assert_int_equal(lab_report_load(fx->dir, NULL, NULL, &r, &err), LAB_STATUS_OK);
  assert_false(r->use_ema);
  assert_near(r->rows[0].top1_mean, 22.0, 1e-12); /* raw = EMA + 1 */
  assert_near(r->rows[1].top1_mean, 20.5, 1e-12);
  assert_int_equal(r->rows[0].cost.ok, 0); /* no cost callback: no cost */
  char *md = lab_report_markdown(r);
  assert_non_null(strstr(md, "final weights"));
  assert_null(strstr(md, "Bn MACs (input)"));
  free(md);
  lab_report_free(r);
}

static void test_texts(void **state) {
  fixture *fx = *state;
  populate(fx, 1);
  lab_report *r = NULL;
  lab_error err;
  int calls = 0;
  assert_int_equal(lab_report_load(fx->dir, fake_cost, &calls, &r, &err), LAB_STATUS_OK);
  char *md = lab_report_markdown(r);
  /* the header says where our errors come from */
  assert_non_null(strstr(md, "not ImageNet numbers"));
  assert_non_null(strstr(md, "fashion-mnist"));
  assert_non_null(strstr(md, "EMA"));
  /* rows in order, with mean +- std, n, the paired CI and the paper's columns */
  const char *pa = strstr(md, "| 1 | Base |"), *pb = strstr(md, "| 2 | Base + Change |"), *pc = strstr(md, "| 3 | Third |");
  assert_true(pa && pb && pc && pa < pb && pb < pc);
  assert_non_null(strstr(pa, "| 1.50 (299) | 7.00 | 1.5 | 21.00 ± 1.00 |"));
  char ci[128];
  lab_paired d = r->rows[1].d_top1;
  snprintf(ci, sizeof ci, "19.50 ± %.2f | %+.2f [%+.2f, %+.2f] | 26.8 | -2.2 |", r->rows[1].top1_std, d.mean, d.lo, d.hi);
  assert_non_null(strstr(pb, ci));
  assert_non_null(strstr(pb, "2/3 (seed 2 missing)"));
  assert_non_null(strstr(pc, "1/3 (seed 1 stale, seed 2 failed)"));
  assert_non_null(strstr(pc, "| 15.00 |")); /* one run: no std */
  assert_non_null(strstr(md, "cost of row 3 (Third) not computed"));

  /* JSON: valid, NaN as null, missing runs present with their state */
  char *js = lab_report_json(r);
  lab_json *j = NULL;
  lab_status st = lab_json_parse(js, strlen(js), "table.json", &j, &err);
  if (st) print_error("%s\n%s\n", err.msg, js);
  assert_int_equal(st, LAB_STATUS_OK);
  const lab_json *rows = lab_json_get(j, "rows");
  assert_non_null(rows);
  assert_int_equal(rows->n, 3);
  double v = 0;
  assert_int_equal(lab_json_number(rows->items[0], "top1_mean", 1, &v, &err), LAB_STATUS_OK);
  assert_near(v, 21.0, 1e-12);
  assert_int_equal(lab_json_number(rows->items[0], "top1_std", 1, &v, &err), LAB_STATUS_OK);
  assert_near(v, 1.0, 1e-12);
  assert_int_equal(lab_json_number(rows->items[2], "top1_std", 1, &v, &err), LAB_STATUS_OK);
  assert_true(isnan(v)); /* null */
  const lab_json *runs = lab_json_get(rows->items[1], "runs");
  const char *run_state = NULL;
  assert_int_equal(lab_json_string(runs->items[2], "state", 1, &run_state, &err), LAB_STATUS_OK);
  assert_string_equal(run_state, "missing");
  assert_int_equal(lab_json_get(lab_json_get(rows->items[2], "cost"), "macs") == NULL, 1);
  lab_json_free(j);
  free(js);

  /* CSV: a header and one line per row, empty cells for missing values */
  char *csv = lab_report_csv(r);
  int lines = 0;
  for (const char *p = csv; *p; p++) lines += *p == '\n';
  assert_int_equal(lines, 4);
  assert_non_null(strstr(csv, "\n1,\"Base\",299,1.500000,7.000000,"));
  assert_non_null(strstr(csv, "\n3,\"Third\",,,,,,"));
  free(csv);

  /* LaTeX: escaped, plus-minus in math mode */
  char *tex = lab_report_latex(r);
  assert_non_null(strstr(tex, "\\begin{tabular}"));
  assert_non_null(strstr(tex, "$21.00 \\pm 1.00$"));
  assert_non_null(strstr(tex, "95\\% CI"));
  free(tex);
  free(md);
  lab_report_free(r);
}

static void test_write_atomic(void **state) {
  fixture *fx = *state;
  populate(fx, 1);
  lab_report *r = NULL;
  lab_error err;
  assert_int_equal(lab_report_load(fx->dir, NULL, NULL, &r, &err), LAB_STATUS_OK);
  assert_int_equal(lab_report_write_tables(r, &err), LAB_STATUS_OK);
  const char *names[] = {"table.md", "table.csv", "table.json", "table.tex"};
  char *good[4];
  for (int i = 0; i < 4; i++) {
    good[i] = slurp(fx, names[i]);
    assert_non_null(good[i]);
    assert_true(strlen(good[i]) > 100);
  }
  /* A failure while writing (the temp file cannot be created: a folder is in its way) leaves
   * every table whole: the old one, byte for byte. */
  char path[256];
  snprintf(path, sizeof path, "%s/table.json.tmp", fx->dir);
  assert_int_equal(mkdir(path, 0777), 0);
  put(fx, "base/seed-0/summary.json", "{\"status\": \"finished\", \"config_hash\": \"aaaaaaaaaaaaaaaa\", "
                                      "\"test_top1_error\": 90, \"test_top5_error\": 90, \"ema_test_top1_error\": 90, "
                                      "\"ema_test_top5_error\": 90}");
  lab_report_free(r);
  assert_int_equal(lab_report_load(fx->dir, NULL, NULL, &r, &err), LAB_STATUS_OK);
  assert_int_not_equal(lab_report_write_tables(r, &err), LAB_STATUS_OK);
  assert_non_null(strstr(err.msg, "table.json"));
  char *now = slurp(fx, "table.json");
  assert_string_equal(now, good[2]);
  free(now);
  now = slurp(fx, "table.tex");
  assert_string_equal(now, good[3]);
  free(now);
  /* the ones before the failure are whole new tables (never half-written) */
  now = slurp(fx, "table.md");
  assert_non_null(strstr(now, "| 3 | Third |"));
  assert_non_null(strstr(now, "44.33")); /* (90 + 22 + 21) / 3 */
  free(now);
  rmdir(path);
  for (int i = 0; i < 4; i++) free(good[i]);
  lab_report_free(r);
}

/* Rows of different scales (Table 2): no shared header scale, a per-row column instead. */
static void test_scale_per_row(void **state) {
  fixture *fx = *state;
  populate(fx, 1);
  /* the third row trains for 5 epochs instead of 3 */
  char *m = strdup(k_manifest), *p = strrchr(m, '3');
  assert_non_null(p);
  assert_true(p > strstr(m, "name: Third"));
  *p = '5';
  put(fx, "experiment.yaml", m);
  free(m);
  lab_report *r = NULL;
  lab_error err;
  assert_int_equal(lab_report_load(fx->dir, NULL, NULL, &r, &err), LAB_STATUS_OK);
  assert_string_equal(r->scale, "");
  char *md = lab_report_markdown(r);
  assert_non_null(strstr(md, "the rows differ in scale"));
  assert_non_null(strstr(md, "| runs | our scale |"));
  assert_non_null(strstr(r->rows[0].scale, "3 epochs"));
  assert_non_null(strstr(r->rows[2].scale, "5 epochs"));
  assert_non_null(strstr(md, "| fashion-mnist, 32x32 input, width 0.5, 5 epochs, batch 32 |"));
  free(md);
  lab_report_free(r);
}

static void test_bad_input(void **state) {
  fixture *fx = *state;
  lab_report *r = NULL;
  lab_error err;
  /* no manifest */
  assert_int_not_equal(lab_report_load(fx->dir, NULL, NULL, &r, &err), LAB_STATUS_OK);
  assert_null(r);
  assert_non_null(strstr(err.msg, "experiment.yaml"));
  /* a manifest with an unknown key: FILE:LINE:COL and the closest known key */
  put(fx, "experiment.yaml", "experiment: demo\nseeds: [0]\nrowz: []\n");
  assert_int_not_equal(lab_report_load(fx->dir, NULL, NULL, &r, &err), LAB_STATUS_OK);
  assert_non_null(strstr(err.msg, "experiment.yaml:3:1"));
  assert_non_null(strstr(err.msg, "rows"));
  /* a truncated summary.json: named with line and column */
  populate(fx, 1);
  put(fx, "base/seed-1/summary.json", "{\"status\": \"finished\",\n \"config_hash\": ");
  assert_int_not_equal(lab_report_load(fx->dir, NULL, NULL, &r, &err), LAB_STATUS_OK);
  if (!strstr(err.msg, "base/seed-1/summary.json:2:17")) print_error("%s\n", err.msg);
  assert_non_null(strstr(err.msg, "base/seed-1/summary.json:2:17"));
  /* a summary with a string where a number belongs */
  put(fx, "base/seed-1/summary.json", "{\"status\": \"finished\", \"config_hash\": \"aaaaaaaaaaaaaaaa\",\n"
                                      " \"test_top1_error\": \"12\", \"test_top5_error\": 1}");
  assert_int_not_equal(lab_report_load(fx->dir, NULL, NULL, &r, &err), LAB_STATUS_OK);
  assert_non_null(strstr(err.msg, "summary.json:2:21"));
  assert_non_null(strstr(err.msg, "test_top1_error"));
  /* a malformed metrics.tsv number */
  summary(fx, "base", 1, "finished", "aaaaaaaaaaaaaaaa", 23, 7, 22, 6);
  put(fx, "base/seed-1/metrics.tsv", "epoch\ttrain_loss\ttest_top1_error\tema_test_top1_error\n1\t2.0\t3\t4x\n");
  assert_int_not_equal(lab_report_load(fx->dir, NULL, NULL, &r, &err), LAB_STATUS_OK);
  assert_non_null(strstr(err.msg, "metrics.tsv:2:9"));
  assert_non_null(strstr(err.msg, "4x"));
}

static void test_json_strict(void **state) {
  (void)state;
  static const struct {
    const char *text, *where;
  } bad[] = {
      {"{\"a\": 1,}", "1:9"},          /* trailing comma */
      {"{\"a\": NaN}", "1:7"},         /* no NaN literal */
      {"{\"a\": 1} x", "1:10"},        /* trailing content */
      {"{\"a\": 1, \"a\": 2}", "1:10"}, /* duplicate key */
      {"[01]", "1:3"},                 /* leading zero */
      {"{'a': 1}", "1:2"},             /* single quotes */
      {"\"tab\there\"", "1:5"},        /* raw control character */
      {"[1e999]", "1:2"},              /* does not fit a double */
      {"", "1:1"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    lab_json *j = (lab_json *)1;
    lab_error err;
    assert_int_equal(lab_json_parse(bad[i].text, strlen(bad[i].text), "x.json", &j, &err), LAB_ERR_DATA);
    assert_null(j);
    char want[32];
    snprintf(want, sizeof want, "x.json:%s:", bad[i].where);
    if (!strstr(err.msg, want)) print_error("case %zu: '%s' lacks %s\n", i, err.msg, want);
    assert_non_null(strstr(err.msg, want));
  }
  const char *good = " {\"s\": \"a\\u00e9\\n\\\"\", \"n\": -1.5e2, \"t\": true, \"z\": null, \"l\": [1, [], {}]} ";
  lab_json *j = NULL;
  lab_error err;
  assert_int_equal(lab_json_parse(good, strlen(good), "g.json", &j, &err), LAB_STATUS_OK);
  const char *s = NULL;
  assert_int_equal(lab_json_string(j, "s", 1, &s, &err), LAB_STATUS_OK);
  assert_string_equal(s, "a\xc3\xa9\n\"");
  double v = 0;
  assert_int_equal(lab_json_number(j, "n", 1, &v, &err), LAB_STATUS_OK);
  assert_near(v, -150.0, 1e-15);
  assert_int_equal(lab_json_number(j, "z", 1, &v, &err), LAB_STATUS_OK);
  assert_true(isnan(v));
  assert_int_equal(lab_json_number(j, "t", 1, &v, &err), LAB_ERR_DATA);
  assert_non_null(strstr(err.msg, "'t': expected a number"));
  assert_int_equal(lab_json_number(j, "missing", 1, &v, &err), LAB_ERR_DATA);
  v = 7.0;
  assert_int_equal(lab_json_number(j, "missing", 0, &v, &err), LAB_STATUS_OK);
  assert_near(v, 7.0, 0);
  assert_int_equal(lab_json_get(j, "l")->n, 3);
  lab_json_free(j);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_aggregate, setup, teardown),
      cmocka_unit_test_setup_teardown(test_raw_when_ema_missing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_texts, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_atomic, setup, teardown),
      cmocka_unit_test_setup_teardown(test_scale_per_row, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
      cmocka_unit_test(test_json_strict),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
