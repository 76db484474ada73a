/* experiment.c: experiment files -> cumulative rows of resolved configurations (see
 * experiment.h for the schema). This module checks only its own keys; what a network, data
 * or train section may hold is for their owners to check in each row's configuration.
 */
/* realpath (to detect extends cycles whatever the spelling of a path) is XSI in glibc. */
#define _XOPEN_SOURCE 700
#include "lab/experiment.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_top[] = {"experiment", "extends", "description", "seeds", "base", "rows"};
static const char *const k_row[] = {"name", "description", "paper", "unset", "set_new", "set"};
static const char *const k_paper[] = {"top1", "top5", "cost_bn_ops"};
#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

static char *exp_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = lab_xmalloc(n);
  memcpy(d, s, n);
  return d;
}

/* === loading a file and its extends chain === */

typedef struct chain {
  char *real[LAB_EXPERIMENT_MAX_EXTENDS + 1]; /* canonical paths, to find cycles */
  char *shown[LAB_EXPERIMENT_MAX_EXTENDS + 1]; /* paths as opened, for the message */
  int n;
} chain;

/* `rel` relative to the folder of `from` (unless absolute). */
static char *relative_to(const char *from, const char *rel) {
  const char *slash = strrchr(from, '/');
  if (rel[0] == '/' || !slash) return exp_strdup(rel);
  size_t d = (size_t)(slash - from) + 1, r = strlen(rel);
  char *p = lab_xmalloc(d + r + 1);
  memcpy(p, from, d);
  memcpy(p + d, rel, r + 1);
  return p;
}

/* A name that becomes a results folder: non-empty, short, no '/', no control characters. */
static lab_status check_name(const lab_cfg_node *n, const char *what, const char **out, lab_error *err) {
  lab_status s = lab_cfg_string(n, out, err);
  if (s) return s;
  size_t len = strlen(*out);
  int bad = len == 0 || len > 100 || strcmp(*out, ".") == 0 || strcmp(*out, "..") == 0;
  for (const unsigned char *p = (const unsigned char *)*out; *p && !bad; p++)
    bad = *p == '/' || *p < 0x20 || *p == 0x7f;
  if (bad)
    return lab_cfg_error(err, n,
                         "%s '%s' must be 1 to 100 characters without '/' or control characters (it names a folder)",
                         what, *out);
  return LAB_STATUS_OK;
}

static lab_status load_doc(const char *path, const lab_cfg_node *from, chain *ch, lab_cfg_node **out, lab_error *err) {
  lab_cfg_node *doc = NULL, *parent = NULL;
  lab_status s = LAB_STATUS_OK;
  *out = NULL;
  char *real = realpath(path, NULL);
  if (!real) {
    if (from) return lab_cfg_error(err, from, "cannot open '%s': %s", path, strerror(errno));
    return lab_error_set(err, LAB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  }
  for (int i = 0; i < ch->n; i++) {
    if (strcmp(ch->real[i], real) != 0) continue;
    char cyc[700] = "";
    for (int j = i; j < ch->n; j++) {
      strncat(cyc, ch->shown[j], sizeof cyc - strlen(cyc) - 1);
      strncat(cyc, " -> ", sizeof cyc - strlen(cyc) - 1);
    }
    strncat(cyc, path, sizeof cyc - strlen(cyc) - 1);
    free(real);
    return lab_cfg_error(err, from, "extends cycle: %s", cyc);
  }
  if (ch->n > LAB_EXPERIMENT_MAX_EXTENDS) {
    free(real);
    return lab_cfg_error(err, from, "extends chain longer than %d files", LAB_EXPERIMENT_MAX_EXTENDS);
  }
  ch->real[ch->n] = real;
  ch->shown[ch->n] = exp_strdup(path);
  ch->n++;

  if ((s = lab_cfg_load(path, &doc, err))) goto done;
  if (doc->kind != LAB_CFG_MAP) {
    s = lab_cfg_error(err, doc, "an experiment file is a map (experiment, seeds, base, rows, ...), found a %s",
                      doc->kind == LAB_CFG_SEQ ? "sequence" : "scalar");
    goto done;
  }
  if ((s = lab_cfg_check_keys(doc, k_top, N_OF(k_top), err))) goto done;
  if (!lab_cfg_get(doc, "experiment")) {
    s = lab_cfg_error(err, doc, "missing key 'experiment' (the experiment's name; every file names itself, "
                                "even one that extends another)");
    goto done;
  }
  const lab_cfg_node *ext = lab_cfg_get(doc, "extends");
  if (ext) {
    const char *rel;
    if ((s = lab_cfg_string(ext, &rel, err))) goto done;
    if (!rel[0]) {
      s = lab_cfg_error(err, ext, "expected the path of another experiment file, found ''");
      goto done;
    }
    char *ppath = relative_to(path, rel);
    s = load_doc(ppath, ext, ch, &parent, err);
    free(ppath);
    if (s) goto done;
    if ((s = lab_cfg_unset(doc, "extends", path, err))) goto done;
    if ((s = lab_cfg_merge(parent, doc, err))) goto done;
    /* The merged root stands for this file: messages about a missing key point here. */
    free((char *)parent->file);
    parent->file = exp_strdup(doc->file);
    parent->line = doc->line;
    parent->col = doc->col;
    lab_cfg_free(doc);
    doc = parent;
    parent = NULL;
  }
done:
  lab_cfg_free(parent);
  if (s) {
    lab_cfg_free(doc);
    return s;
  }
  *out = doc;
  return LAB_STATUS_OK;
}

/* === overrides === */

static int is_doc_key(const char *path, size_t *seg_len) {
  size_t k = strcspn(path, ".[");
  *seg_len = k;
  for (int i = 0; i < N_OF(k_top); i++)
    if (strlen(k_top[i]) == k && strncmp(path, k_top[i], k) == 0) return 1;
  return 0;
}

/* Document-level overrides (seeds=..., base.x=..., rows[2].set.y=...): before rows resolve. */
static lab_status apply_doc_overrides(lab_cfg_node *doc, const char *const *ov, int n_ov, lab_error *err) {
  for (int i = 0; i < n_ov; i++) {
    char where[400], *path;
    size_t seg;
    lab_cfg_node *value;
    lab_status s = lab_cfg_parse_assignment(ov[i], &path, &value, err);
    if (s) return s;
    if (is_doc_key(path, &seg)) {
      snprintf(where, sizeof where, "<command line>: '%s'", ov[i]);
      if (strncmp(path, "extends", seg) == 0 && seg == strlen("extends"))
        s = lab_error_set(err, LAB_ERR_CONFIG, "%s: extends cannot be overridden; write a file that extends this one",
                          where);
      else
        s = lab_cfg_set_path(doc, path, value,
                             path[seg] == '\0' && !lab_cfg_get(doc, path) ? LAB_CFG_SET_NEW : LAB_CFG_SET_UPDATE, where,
                             err);
    }
    lab_cfg_free(value);
    free(path);
    if (s) return s;
  }
  return LAB_STATUS_OK;
}

/* Row-level overrides (train.epochs=2): on every row where the path exists, after its sets. */
static lab_status apply_row_overrides(lab_experiment *e, const char *const *ov, int n_ov, lab_error *err) {
  for (int i = 0; i < n_ov; i++) {
    char where[400], *path;
    size_t seg;
    lab_cfg_node *value;
    lab_status s = lab_cfg_parse_assignment(ov[i], &path, &value, err);
    if (s) return s;
    if (!is_doc_key(path, &seg)) {
      snprintf(where, sizeof where, "<command line>: '%s'", ov[i]);
      int applied = 0;
      for (int r = 0; r < e->n_rows && !s; r++) {
        if (!lab_cfg_find(e->rows[r].config, path)) continue;
        s = lab_cfg_set_path(e->rows[r].config, path, value, LAB_CFG_SET_UPDATE, where, err);
        applied++;
      }
      if (!s && !applied) {
        /* No row has it: let a throwaway copy of the first row explain what is missing. */
        lab_cfg_node *probe = lab_cfg_clone(e->rows[0].config);
        s = lab_cfg_set_path(probe, path, value, LAB_CFG_SET_REPLACE, where, err);
        lab_cfg_free(probe);
        LAB_ASSERT(s != LAB_STATUS_OK, "override '%s' found by set but not by find", ov[i]);
        lab_error_prefix(err, "no row of the experiment has this key");
      }
    }
    lab_cfg_free(value);
    free(path);
    if (s) return s;
  }
  return LAB_STATUS_OK;
}

/* === rows === */

static lab_status read_paper(const lab_cfg_node *paper, lab_experiment_row *row, lab_error *err) {
  row->paper_top1 = row->paper_top5 = row->paper_cost_bn_ops = NAN;
  if (!paper) return LAB_STATUS_OK;
  lab_status s = lab_cfg_check_keys(paper, k_paper, N_OF(k_paper), err);
  const lab_cfg_node *n;
  if (!s && (n = lab_cfg_get(paper, "top1"))) s = lab_cfg_double(n, 0, 100, &row->paper_top1, err);
  if (!s && (n = lab_cfg_get(paper, "top5"))) s = lab_cfg_double(n, 0, 100, &row->paper_top5, err);
  if (!s && (n = lab_cfg_get(paper, "cost_bn_ops"))) s = lab_cfg_double(n, 0, 1e6, &row->paper_cost_bn_ops, err);
  return s;
}

static void key_where(const lab_cfg_node *map, int i, char *buf, size_t size) {
  snprintf(buf, size, "%s:%d:%d: %s: '%s'", map->key_file[i], map->key_line[i], map->key_col[i], map->path,
           map->keys[i]);
}

/* Applies a row's unset, set_new and set to cfg (a copy of the row above's configuration). */
static lab_status apply_row_changes(const lab_cfg_node *rn, lab_cfg_node *cfg, lab_error *err) {
  char where[900], fb[300];
  lab_status s;
  const lab_cfg_node *unset = lab_cfg_get(rn, "unset");
  if (unset) {
    if (unset->kind != LAB_CFG_SEQ) return lab_cfg_error(err, unset, "expected a sequence of paths, found a %s",
                                                         unset->kind == LAB_CFG_MAP ? "map" : "scalar");
    for (int i = 0; i < unset->n; i++) {
      const char *p;
      if ((s = lab_cfg_string(unset->items[i], &p, err))) return s;
      snprintf(where, sizeof where, "%s: %s: '%s'", lab_cfg_where(unset->items[i], fb, sizeof fb), unset->path, p);
      if ((s = lab_cfg_unset(cfg, p, where, err))) return s;
    }
  }
  static const char *const which[2] = {"set_new", "set"};
  for (int w = 0; w < 2; w++) {
    const lab_cfg_node *m = lab_cfg_get(rn, which[w]);
    if (!m) continue;
    if (m->kind != LAB_CFG_MAP)
      return lab_cfg_error(err, m, "expected a map of path: value, found a %s",
                           m->kind == LAB_CFG_SEQ ? "sequence" : "scalar");
    for (int i = 0; i < m->n; i++) {
      key_where(m, i, where, sizeof where);
      s = lab_cfg_set_path(cfg, m->keys[i], m->items[i], w == 0 ? LAB_CFG_SET_NEW : LAB_CFG_SET_UPDATE, where, err);
      if (s) return s;
    }
  }
  return LAB_STATUS_OK;
}

static lab_status read_rows(lab_experiment *e, lab_error *err) {
  char wb[300];
  const lab_cfg_node *base = lab_cfg_get(e->doc, "base"), *rows = lab_cfg_get(e->doc, "rows");
  if (!base) return lab_cfg_error(err, e->doc, "missing key 'base' (the configuration every row starts from)");
  if (base->kind != LAB_CFG_MAP) return lab_cfg_error(err, base, "expected a map (network, data, train, ...)");
  if (!rows)
    return lab_cfg_error(err, e->doc, "missing key 'rows' (the variants, each the row above plus its changes)");
  if (rows->kind != LAB_CFG_SEQ || rows->n == 0)
    return lab_cfg_error(err, rows, "expected a non-empty sequence of rows");
  e->rows = lab_xcalloc((size_t)rows->n, sizeof *e->rows);
  for (int r = 0; r < rows->n; r++) {
    const lab_cfg_node *rn = rows->items[r];
    lab_experiment_row *row = &e->rows[r];
    lab_status s;
    e->n_rows = r + 1; /* so that lab_experiment_free releases what is filled so far */
    row->node = rn;
    row->paper_top1 = row->paper_top5 = row->paper_cost_bn_ops = NAN;
    if (rn->kind != LAB_CFG_MAP) return lab_cfg_error(err, rn, "expected a row (a map with name, set, ...)");
    if ((s = lab_cfg_check_keys(rn, k_row, N_OF(k_row), err))) return s;
    const lab_cfg_node *nn = lab_cfg_get(rn, "name"), *dn = lab_cfg_get(rn, "description");
    const char *name, *desc;
    if (!nn) return lab_cfg_error(err, rn, "missing key 'name'");
    if ((s = check_name(nn, "row name", &name, err))) return s;
    for (int q = 0; q < r; q++)
      if (strcmp(e->rows[q].name, name) == 0)
        return lab_cfg_error(err, nn, "duplicate row name '%s' (first at %s)", name,
                             lab_cfg_where(lab_cfg_get(e->rows[q].node, "name"), wb, sizeof wb));
    row->name = exp_strdup(name);
    if (dn) {
      if ((s = lab_cfg_string(dn, &desc, err))) return s;
      row->description = exp_strdup(desc);
    }
    if ((s = read_paper(lab_cfg_get(rn, "paper"), row, err))) return s;
    row->config = lab_cfg_clone(r == 0 ? base : e->rows[r - 1].config);
    lab_cfg_reroot(row->config); /* paths relative to the row: "train.lr", not "base.train.lr" */
    if ((s = apply_row_changes(rn, row->config, err))) return s;
  }
  return LAB_STATUS_OK;
}

static lab_status read_header(lab_experiment *e, lab_error *err) {
  char wb[300];
  const char *s_name, *desc;
  lab_status s;
  /* Top-level keys were checked file by file in load_doc (overrides add only known ones). */
  if ((s = check_name(lab_cfg_get(e->doc, "experiment"), "experiment name", &s_name, err))) return s;
  e->name = exp_strdup(s_name);
  const lab_cfg_node *dn = lab_cfg_get(e->doc, "description"), *sn = lab_cfg_get(e->doc, "seeds");
  if (dn) {
    if ((s = lab_cfg_string(dn, &desc, err))) return s;
    e->description = exp_strdup(desc);
  }
  if (!sn) return lab_cfg_error(err, e->doc, "missing key 'seeds' (e.g. seeds: [0, 1, 2])");
  if (sn->kind != LAB_CFG_SEQ || sn->n == 0)
    return lab_cfg_error(err, sn, "expected a non-empty sequence of seeds, e.g. [0, 1, 2]");
  e->seeds = lab_xmalloc((size_t)sn->n * sizeof *e->seeds);
  for (int i = 0; i < sn->n; i++) {
    if ((s = lab_cfg_int(sn->items[i], 0, LAB_EXPERIMENT_MAX_SEED, &e->seeds[i], err))) return s;
    for (int j = 0; j < i; j++)
      if (e->seeds[j] == e->seeds[i])
        return lab_cfg_error(err, sn->items[i], "duplicate seed %ld (first at %s)", e->seeds[i],
                             lab_cfg_where(sn->items[j], wb, sizeof wb));
    e->n_seeds = i + 1;
  }
  return LAB_STATUS_OK;
}

lab_status lab_experiment_load(const char *path, const char *const *overrides, int n_overrides, lab_experiment **out,
                               lab_error *err) {
  chain ch = {.n = 0};
  lab_experiment *e = lab_xcalloc(1, sizeof *e);
  *out = NULL;
  e->path = exp_strdup(path);
  lab_status s = load_doc(path, NULL, &ch, &e->doc, err);
  for (int i = 0; i < ch.n; i++) {
    free(ch.real[i]);
    free(ch.shown[i]);
  }
  if (!s) s = apply_doc_overrides(e->doc, overrides, n_overrides, err);
  if (!s) s = read_header(e, err);
  if (!s) s = read_rows(e, err);
  if (!s) s = apply_row_overrides(e, overrides, n_overrides, err);
  if (s) {
    lab_experiment_free(e);
    return s;
  }
  *out = e;
  return LAB_STATUS_OK;
}

void lab_experiment_free(lab_experiment *e) {
  if (!e) return;
  for (int r = 0; r < e->n_rows; r++) {
    free(e->rows[r].name);
    free(e->rows[r].description);
    lab_cfg_free(e->rows[r].config);
  }
  free(e->rows);
  free(e->seeds);
  free(e->name);
  free(e->description);
  free(e->path);
  lab_cfg_free(e->doc);
  free(e);
}

int lab_experiment_find_row(const lab_experiment *e, const char *name) {
  for (int r = 0; r < e->n_rows; r++)
    if (strcmp(e->rows[r].name, name) == 0) return r;
  return -1;
}
