/* cli_common.c: what the subcommands share: option parsing, and loading one experiment row
 * with its command-line overrides and building its network (lab train, lab bench train). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lab/cli.h"
#include "lab/train.h"

int lab_cli_parse_long(const char *cmd, const char *opt, const char *s, long min, long max, long *out) {
  char *end;
  errno = 0;
  long v = s ? strtol(s, &end, 10) : 0;
  if (!s || errno || end == s || *end || v < min || v > max) {
    fprintf(stderr, "lab %s: %s: expected an integer in [%ld, %ld], found '%s'\n", cmd, opt, min, max,
            s ? s : "");
    return 0;
  }
  *out = v;
  return 1;
}

int lab_cli_parse_int(const char *cmd, const char *opt, const char *s, int min, int max, int *out) {
  long v;
  if (!lab_cli_parse_long(cmd, opt, s, min, max, &v)) return 0;
  *out = (int)v;
  return 1;
}

double lab_cli_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double lab_cli_median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void lab_cli_dir_of(const char *file, char *dir, size_t n) {
  snprintf(dir, n, "%s", file);
  char *slash = strrchr(dir, '/');
  if (slash == dir) slash[1] = '\0';
  else if (slash) *slash = '\0';
  else snprintf(dir, n, ".");
}

void lab_cli_row_free(lab_cli_row *r) {
  if (r->have_net) blk_network_free(&r->net);
  lab_experiment_free(r->exp);
  memset(r, 0, sizeof *r);
}

int lab_cli_row_load(const char *cmd, const char *file, const char *variant, const char *const *kv, int n_kv,
                     lab_cli_row *r) {
  memset(r, 0, sizeof *r);
  /* overrides of data:/train: keys go to the chosen row (set even when the file leaves the key
   * at its default); every other KEY=VALUE to lab_experiment_load */
  const char **ovr = lab_xcalloc((size_t)n_kv + 1, sizeof(char *)), **own = lab_xcalloc((size_t)n_kv + 1, sizeof(char *));
  int n_ovr = 0, n_own = 0;
  for (int i = 0; i < n_kv; i++) {
    const char *eq = strchr(kv[i], '=');
    char key[256];
    snprintf(key, sizeof key, "%.*s", (int)(eq ? eq - kv[i] : (ptrdiff_t)strlen(kv[i])), kv[i]);
    if (lab_train_cfg_known(key)) own[n_own++] = kv[i];
    else ovr[n_ovr++] = kv[i];
  }
  lab_error err = {0};
  int rc = 1;
  lab_status st = lab_experiment_load(file, ovr, n_ovr, &r->exp, &err);
  if (st != LAB_STATUS_OK) goto done;
  lab_experiment *exp = r->exp;
  r->row = exp->n_rows - 1;
  if (variant && (r->row = lab_experiment_find_row(exp, variant)) < 0) {
    fprintf(stderr, "lab %s: %s has no row '%s'; rows:", cmd, file, variant);
    for (int i = 0; i < exp->n_rows; i++) fprintf(stderr, "%s '%s'", i ? "," : "", exp->rows[i].name);
    fprintf(stderr, "\n");
    rc = 2;
    goto done;
  }
  lab_cfg_node *cfg = r->cfg = exp->rows[r->row].config;
  for (int i = 0; i < n_own; i++) {
    const char *sec = !strncmp(own[i], "data.", 5) ? "data" : "train";
    if (!lab_cfg_get(cfg, sec)) lab_cfg_map_put(cfg, sec, lab_cfg_new_map("<command line>", 1, 1));
    if ((st = lab_cfg_set(cfg, own[i], 1, &err)) != LAB_STATUS_OK) goto done;
  }
  /* data/train errors before the (slower) network build */
  if ((st = lab_train_cfg_read(cfg, &r->dc, &r->tc, &err)) != LAB_STATUS_OK) goto done;
  const lab_cfg_node *netcfg = lab_cfg_get(cfg, "network");
  if (!netcfg) {
    st = lab_cfg_error(&err, cfg, "row '%s' has no network section", exp->rows[r->row].name);
    goto done;
  }
  char pdir[4096];
  lab_cli_dir_of(exp->path, pdir, sizeof pdir);
  blk_overrides ov;
  memset(&ov, 0, sizeof ov);
  ov.load_preset = lab_preset_load;
  ov.load_ctx = pdir;
  if ((st = blk_network_build(netcfg, &ov, &r->net, &err)) != LAB_STATUS_OK) goto done;
  r->have_net = 1;
  rc = 0;
done:
  if (st != LAB_STATUS_OK) fprintf(stderr, "lab %s: %s\n", cmd, err.msg);
  if (rc) lab_cli_row_free(r);
  free(ovr);
  free(own);
  return rc;
}
