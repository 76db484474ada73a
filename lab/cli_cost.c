/* cli_cost.c: `lab cost` — exact parameter and multiply-accumulate counts of a network preset
 * (experiments/networks/NAME.yaml) or of every row of an experiment file, from the same graph
 * that trains, built without allocating any activation memory (build only, never plan).
 *
 *   lab cost FILE [--variant NAME] [--image-size S] [--classes K] [--width W]
 *                 [--per-layer | --per-block] [--format text|md|csv|json]
 *   lab cost --compare A B [...]     A, B: two preset files, or two variants of FILE
 *   lab cost FILE --match-macs X     width multiplier bringing each variant to X MACs
 *   lab cost --list-blocks           the block registry: names, parameters, defaults
 *
 * Counting conventions (printed in every report): MACs = multiply-accumulates of conv and
 * linear layers, forward pass, per image; FLOPs = 2 x MACs; params = trainable weights
 * (conv/linear weights, biases where enabled, BN gamma/beta; BN running statistics are
 * buffers, not counted); activation memory = every layer's output, float32, per image. Aux
 * heads are counted apart and included in the *_with_aux totals.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blocks/network.h"
#include "lab/cli.h"
#include "lab/config.h"
#include "lab/experiment.h"
#include "lab/train.h"

typedef enum cost_format { FMT_TEXT = 0, FMT_MD = 1, FMT_CSV = 2, FMT_JSON = 3 } cost_format;
typedef enum cost_detail { DETAIL_TOTALS = 0, DETAIL_BLOCKS = 1, DETAIL_LAYERS = 2 } cost_detail;

typedef struct cost_variant {
  char name[128];
  char source[512];       /* file (and row) it came from */
  blk_network net;
  double paper_bn_ops;    /* NaN: none */
  char paper_source[128];
  int paper_size;         /* our count at the paper's scale: this input size, 3 channels, */
  uint64_t paper_macs;    /* 1000 classes, width 1, whatever the command line asked */
} cost_variant;

/* Counts v's network again at the paper's scale (ImageNet: 3 x S x S, 1000 classes, full
 * width; S = the preset's paper.input_size, 299 by default), so the Cost column is compared
 * like with like even when the report itself is for a small input or another width. */
static lab_status paper_scale(cost_variant *v, const lab_cfg_node *net, const blk_overrides *ov, lab_error *err) {
  if (isnan(v->paper_bn_ops)) return LAB_STATUS_OK;
  blk_overrides o = *ov;
  o.image_size = v->net.paper_input_size;
  o.in_channels = 3;
  o.classes = 1000;
  o.width = 1.0;
  blk_network n;
  lab_status st = blk_network_build(net, &o, &n, err);
  if (st != LAB_STATUS_OK) return st;
  v->paper_size = o.image_size;
  v->paper_macs = blk_network_totals(&n).macs;
  blk_network_free(&n);
  return LAB_STATUS_OK;
}

typedef struct cost_set {
  cost_variant *v;
  int n;
} cost_set;

static const char *const CONVENTIONS =
    "MACs = multiply-accumulates of conv and linear layers, forward pass, per image; FLOPs = 2 x MACs; "
    "params = trainable weights (conv/linear weights, biases where enabled, BN gamma/beta; BN running "
    "statistics not counted); act = layer outputs, float32, per image; aux heads counted apart and "
    "included in the *_with_aux totals";

/* === loading === */

static cost_variant *push_variant(cost_set *s) {
  cost_variant *v = realloc(s->v, (size_t)(s->n + 1) * sizeof *v);
  LAB_ASSERT(v, "out of memory");
  s->v = v;
  memset(&v[s->n], 0, sizeof v[s->n]);
  v[s->n].paper_bn_ops = NAN;
  return &v[s->n++];
}

static void free_set(cost_set *s) {
  for (int i = 0; i < s->n; i++) blk_network_free(&s->v[i].net);
  free(s->v);
  s->v = NULL;
  s->n = 0;
}

/* Loads FILE (a preset or an experiment) into s: one variant per preset, one per experiment
 * row (only `variant` when non-NULL). */
static lab_status load_file(const char *file, const char *variant, const blk_overrides *ov_in, cost_set *s,
                            lab_error *err) {
  /* `preset: NAME` is looked up beside FILE and in its networks/ folder (lab_preset_load). */
  char pdir[1024];
  lab_cli_dir_of(file, pdir, sizeof pdir);
  blk_overrides ov = *ov_in;
  ov.load_preset = lab_preset_load;
  ov.load_ctx = pdir;
  lab_cfg_node *root;
  lab_status st = lab_cfg_load(file, &root, err);
  if (st != LAB_STATUS_OK) return st;
  int is_experiment = lab_cfg_get(root, "experiment") != NULL;
  const lab_cfg_node *net = lab_cfg_get(root, "network");
  if (!is_experiment) {
    static const char *const root_keys[] = {"network"};
    if ((st = lab_cfg_check_keys(root, root_keys, 1, err)) != LAB_STATUS_OK) goto done;
    if (!net) {
      st = lab_cfg_error(err, root, "neither a network preset (top-level 'network') nor an experiment "
                                    "(top-level 'experiment')");
      goto done;
    }
    cost_variant *v = push_variant(s);
    if ((st = blk_network_build(net, &ov, &v->net, err)) != LAB_STATUS_OK) {
      s->n--;
      goto done;
    }
    snprintf(v->name, sizeof v->name, "%s", v->net.name[0] ? v->net.name : file);
    snprintf(v->source, sizeof v->source, "%s", file);
    if (v->net.paper_cost_bn_ops >= 0) v->paper_bn_ops = v->net.paper_cost_bn_ops;
    snprintf(v->paper_source, sizeof v->paper_source, "%s", v->net.paper_source);
    if ((st = paper_scale(v, net, &ov, err)) != LAB_STATUS_OK) goto done;
    if (variant && strcmp(variant, v->name)) {
      st = lab_error_set(err, LAB_ERR_USAGE, "%s: no variant '%s' (the preset's one variant is '%s')", file,
                         variant, v->name);
      goto done;
    }
    goto done;
  }
  lab_experiment *e = NULL;
  if ((st = lab_experiment_load(file, NULL, 0, &e, err)) != LAB_STATUS_OK) goto done;
  if (variant && lab_experiment_find_row(e, variant) < 0) {
    char buf[1024];
    const char **names = lab_xcalloc((size_t)e->n_rows + 1, sizeof *names);
    for (int i = 0; i < e->n_rows; i++) names[i] = e->rows[i].name;
    lab_cfg_suggest(variant, names, e->n_rows, buf, sizeof buf);
    free(names);
    st = lab_error_set(err, LAB_ERR_USAGE, "%s: no variant '%s' (rows: %s)", file, variant, buf);
    lab_experiment_free(e);
    goto done;
  }
  for (int i = 0; i < e->n_rows; i++) {
    const lab_experiment_row *r = &e->rows[i];
    if (variant && strcmp(variant, r->name)) continue;
    const lab_cfg_node *rn = lab_cfg_get(r->config, "network");
    if (!rn) {
      st = lab_cfg_error(err, r->node, "row '%s' has no 'network' map", r->name);
      break;
    }
    cost_variant *v = push_variant(s);
    if ((st = blk_network_build(rn, &ov, &v->net, err)) != LAB_STATUS_OK) {
      s->n--;
      lab_error_prefix(err, "row '%s'", r->name);
      break;
    }
    snprintf(v->name, sizeof v->name, "%s", r->name);
    snprintf(v->source, sizeof v->source, "%s (row %d)", file, i);
    v->paper_bn_ops = r->paper_cost_bn_ops;
    snprintf(v->paper_source, sizeof v->paper_source, "%s", e->name);
    if ((st = paper_scale(v, rn, &ov, err)) != LAB_STATUS_OK) {
      lab_error_prefix(err, "row '%s'", r->name);
      break;
    }
  }
  lab_experiment_free(e);
done:
  lab_cfg_free(root);
  return st;
}

/* === formatting helpers === */

/* 1234567 -> "1,234,567" (buf of at least 32). */
static const char *grp(uint64_t v, char *buf) {
  char t[32];
  int n = snprintf(t, sizeof t, "%llu", (unsigned long long)v), o = 0;
  for (int i = 0; i < n; i++) {
    if (i && (n - i) % 3 == 0) buf[o++] = ',';
    buf[o++] = t[i];
  }
  buf[o] = '\0';
  return buf;
}

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      fprintf(f, "\\%c", *s);
    else if (*s == '\n')
      fputs("\\n", f);
    else if ((unsigned char)*s < 0x20)
      fprintf(f, "\\u%04x", *s);
    else
      fputc(*s, f);
  }
  fputc('"', f);
}

static double mb(uint64_t floats) { return (double)floats * 4.0 / (1024.0 * 1024.0); }

static const char *shape_s(lab_shape s, char *buf) {
  snprintf(buf, 48, "%dx%dx%d", s.c, s.h, s.w);
  return buf;
}

/* One row of a per-block or per-layer table. */
typedef struct cost_row {
  const char *name, *type;
  lab_shape out;
  uint64_t params, macs, act;
  int aux;
} cost_row;

static int collect_rows(const cost_variant *v, cost_detail d, cost_row **rows) {
  const blk_network *n = &v->net;
  int cap = d == DETAIL_LAYERS ? lab_graph_n_nodes(n->g) : n->n_blocks, k = 0;
  *rows = lab_xcalloc((size_t)cap + 1, sizeof **rows);
  for (int b = 0; b < n->n_blocks; b++) {
    const blk_block_info *bi = &n->blocks[b];
    int aux = bi->def->role == BLK_ROLE_AUX;
    if (d == DETAIL_BLOCKS) {
      lab_cost c = blk_network_block_cost(n, b);
      (*rows)[k++] = (cost_row){bi->name, bi->def->name, lab_graph_shape(n->g, bi->out), c.n_params, c.macs,
                                c.act_floats, aux};
    } else {
      for (int id = bi->first; id < bi->end; id++) {
        const lab_node *nd = lab_graph_node(n->g, id);
        (*rows)[k++] = (cost_row){nd->path, nd->layer.ops->type, nd->out, nd->cost.n_params, nd->cost.macs,
                                  nd->cost.act_floats, aux};
      }
    }
  }
  return k;
}

/* === reports === */

static void print_header(FILE *f, cost_format fmt, const cost_set *s) {
  if (fmt == FMT_TEXT || fmt == FMT_CSV) fprintf(f, "# counting: %s\n", CONVENTIONS);
  if (fmt == FMT_MD) fprintf(f, "Counting: %s.\n\n", CONVENTIONS);
  if (fmt == FMT_JSON) return;
  /* One input line when every variant agrees (the usual case), else one per variant. */
  int same = 1;
  for (int i = 1; i < s->n; i++) {
    const blk_net_opts *a = &s->v[0].net.opt, *b = &s->v[i].net.opt;
    same &= a->in_channels == b->in_channels && a->image_size == b->image_size && a->classes == b->classes &&
            a->width == b->width;
  }
  for (int i = 0; i < (same ? 1 : s->n); i++) {
    const blk_net_opts *o = &s->v[i].net.opt;
    fprintf(f, "%s%s%sinput %dx%dx%d, %d classes, width %g%s", fmt == FMT_MD ? "" : "# ", same ? "" : s->v[i].name,
            same ? "" : ": ", o->in_channels, o->image_size, o->image_size, o->classes, o->width,
            fmt == FMT_MD ? ".  \n" : "\n");
  }
  if (fmt == FMT_MD) fputc('\n', f);
}

static void print_paper(FILE *f, const cost_variant *v) {
  if (isnan(v->paper_bn_ops)) return;
  double ours = (double)v->paper_macs / 1e9;
  fprintf(f, "  paper cost     %.1f Bn ops (%s); ours at 3x%dx%d, 1000 classes: %.3f G MACs = %+.1f%% vs the paper\n",
          v->paper_bn_ops, v->paper_source[0] ? v->paper_source : "paper", v->paper_size, v->paper_size, ours,
          100.0 * (ours / v->paper_bn_ops - 1.0));
}

static void report_text(FILE *f, const cost_set *s, cost_detail d) {
  char a[32], b[32], c[32], sh[48];
  for (int i = 0; i < s->n; i++) {
    const cost_variant *v = &s->v[i];
    blk_totals t = blk_network_totals(&v->net);
    fprintf(f, "\nvariant %s  (%s)\n", v->name, v->source);
    fprintf(f, "  params     %15s   with aux %s (aux %s)\n", grp(t.params, a), grp(t.params + t.params_aux, b),
            grp(t.params_aux, c));
    fprintf(f, "  MACs       %15s   %.3f G; FLOPs %.3f G; with aux %s (aux %s)\n", grp(t.macs, a),
            (double)t.macs / 1e9, 2.0 * (double)t.macs / 1e9, grp(t.macs + t.macs_aux, b), grp(t.macs_aux, c));
    fprintf(f, "  activations %14.1f MB per image (aux %.2f MB)\n", mb(t.act_floats), mb(t.act_floats_aux));
    print_paper(f, v);
    if (v->net.notes[0]) {
      const char *p = v->net.notes;
      while (*p) {
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        fprintf(f, "  note: %.*s\n", len, p);
        p += len + (nl ? 1 : 0);
      }
    }
    if (d == DETAIL_TOTALS) continue;
    cost_row *rows;
    int n = collect_rows(v, d, &rows);
    int w = 24;
    for (int r = 0; r < n; r++)
      if ((int)strlen(rows[r].name) > w) w = (int)strlen(rows[r].name);
    fprintf(f, "  %-*s %-20s %-14s %13s %16s %9s\n", w, d == DETAIL_LAYERS ? "layer" : "block", "type", "output",
            "params", "MACs", "act MB");
    for (int r = 0; r < n; r++)
      fprintf(f, "  %-*s %-20s %-14s %13s %16s %9.3f%s\n", w, rows[r].name, rows[r].type, shape_s(rows[r].out, sh),
              grp(rows[r].params, a), grp(rows[r].macs, b), mb(rows[r].act), rows[r].aux ? "  (aux)" : "");
    free(rows);
  }
}

static void report_md(FILE *f, const cost_set *s, cost_detail d) {
  char a[32], b[32], c[32], e[32], sh[48];
  fprintf(f, "| variant | params | params with aux | MACs | MACs with aux | GMACs | paper Bn ops | act MB |\n");
  fprintf(f, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  for (int i = 0; i < s->n; i++) {
    const cost_variant *v = &s->v[i];
    blk_totals t = blk_network_totals(&v->net);
    char paper[48] = "-";
    if (!isnan(v->paper_bn_ops))
      snprintf(paper, sizeof paper, "%.1f (ours %.2f at %d)", v->paper_bn_ops, (double)v->paper_macs / 1e9,
               v->paper_size);
    fprintf(f, "| %s | %s | %s | %s | %s | %.3f | %s | %.1f |\n", v->name, grp(t.params, a),
            grp(t.params + t.params_aux, b), grp(t.macs, c), grp(t.macs + t.macs_aux, e), (double)t.macs / 1e9,
            paper, mb(t.act_floats));
  }
  for (int i = 0; i < s->n; i++)
    if (s->v[i].net.notes[0]) {
      fprintf(f, "\nNotes for %s:\n\n", s->v[i].name);
      for (const char *p = s->v[i].net.notes; *p;) {
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        fprintf(f, "- %.*s\n", len, p);
        p += len + (nl ? 1 : 0);
      }
    }
  if (d == DETAIL_TOTALS) return;
  for (int i = 0; i < s->n; i++) {
    cost_row *rows;
    int n = collect_rows(&s->v[i], d, &rows);
    fprintf(f, "\n### %s\n\n| %s | type | output | params | MACs | act MB |\n| --- | --- | --- | ---: | ---: | ---: |\n",
            s->v[i].name, d == DETAIL_LAYERS ? "layer" : "block");
    for (int r = 0; r < n; r++)
      fprintf(f, "| %s%s | %s | %s | %s | %s | %.3f |\n", rows[r].name, rows[r].aux ? " (aux)" : "", rows[r].type,
              shape_s(rows[r].out, sh), grp(rows[r].params, a), grp(rows[r].macs, b), mb(rows[r].act));
    free(rows);
  }
}

static void report_csv(FILE *f, const cost_set *s, cost_detail d) {
  if (d == DETAIL_TOTALS) {
    fprintf(f, "variant,params,params_with_aux,macs,macs_with_aux,act_bytes,paper_cost_bn_ops,paper_scale_macs,"
               "paper_scale_input\n");
    for (int i = 0; i < s->n; i++) {
      blk_totals t = blk_network_totals(&s->v[i].net);
      fprintf(f, "%s,%llu,%llu,%llu,%llu,%llu,", s->v[i].name, (unsigned long long)t.params,
              (unsigned long long)(t.params + t.params_aux), (unsigned long long)t.macs,
              (unsigned long long)(t.macs + t.macs_aux), (unsigned long long)(t.act_floats * 4));
      if (!isnan(s->v[i].paper_bn_ops))
        fprintf(f, "%g,%llu,%d", s->v[i].paper_bn_ops, (unsigned long long)s->v[i].paper_macs, s->v[i].paper_size);
      else
        fprintf(f, ",,");
      fputc('\n', f);
    }
    return;
  }
  fprintf(f, "variant,%s,type,c,h,w,params,macs,act_bytes,aux\n", d == DETAIL_LAYERS ? "layer" : "block");
  for (int i = 0; i < s->n; i++) {
    cost_row *rows;
    int n = collect_rows(&s->v[i], d, &rows);
    for (int r = 0; r < n; r++)
      fprintf(f, "%s,%s,%s,%d,%d,%d,%llu,%llu,%llu,%d\n", s->v[i].name, rows[r].name, rows[r].type, rows[r].out.c,
              rows[r].out.h, rows[r].out.w, (unsigned long long)rows[r].params, (unsigned long long)rows[r].macs,
              (unsigned long long)(rows[r].act * 4), rows[r].aux);
    free(rows);
  }
}

static void report_json(FILE *f, const cost_set *s, cost_detail d) {
  fprintf(f, "{\"conventions\": ");
  json_str(f, CONVENTIONS);
  fprintf(f, ",\n \"variants\": [");
  for (int i = 0; i < s->n; i++) {
    const cost_variant *v = &s->v[i];
    const blk_net_opts *o = &v->net.opt;
    blk_totals t = blk_network_totals(&v->net);
    fprintf(f, "%s\n  {\"name\": ", i ? "," : "");
    json_str(f, v->name);
    fprintf(f, ", \"source\": ");
    json_str(f, v->source);
    fprintf(f,
            ", \"input\": [%d, %d, %d], \"classes\": %d, \"width\": %g, \"params\": %llu, \"params_with_aux\": %llu, "
            "\"params_aux\": %llu, \"macs\": %llu, \"macs_with_aux\": %llu, \"macs_aux\": %llu, \"flops\": %llu, "
            "\"act_bytes\": %llu, \"act_bytes_aux\": %llu, \"paper_cost_bn_ops\": ",
            o->in_channels, o->image_size, o->image_size, o->classes, o->width, (unsigned long long)t.params,
            (unsigned long long)(t.params + t.params_aux), (unsigned long long)t.params_aux,
            (unsigned long long)t.macs, (unsigned long long)(t.macs + t.macs_aux), (unsigned long long)t.macs_aux,
            (unsigned long long)(2 * t.macs), (unsigned long long)(4 * t.act_floats),
            (unsigned long long)(4 * t.act_floats_aux));
    if (isnan(v->paper_bn_ops))
      fprintf(f, "null");
    else
      fprintf(f, "%g", v->paper_bn_ops);
    fprintf(f, ", \"paper_scale\": ");
    if (isnan(v->paper_bn_ops))
      fprintf(f, "null");
    else
      fprintf(f, "{\"input_size\": %d, \"classes\": 1000, \"macs\": %llu}", v->paper_size,
              (unsigned long long)v->paper_macs);
    fprintf(f, ", \"notes\": ");
    json_str(f, v->net.notes);
    if (d != DETAIL_TOTALS) {
      cost_row *rows;
      int n = collect_rows(v, d, &rows);
      fprintf(f, ", \"%s\": [", d == DETAIL_LAYERS ? "layers" : "blocks");
      for (int r = 0; r < n; r++) {
        fprintf(f, "%s\n    {\"name\": ", r ? "," : "");
        json_str(f, rows[r].name);
        fprintf(f, ", \"type\": ");
        json_str(f, rows[r].type);
        fprintf(f, ", \"out\": [%d, %d, %d], \"params\": %llu, \"macs\": %llu, \"act_bytes\": %llu, \"aux\": %s}",
                rows[r].out.c, rows[r].out.h, rows[r].out.w, (unsigned long long)rows[r].params,
                (unsigned long long)rows[r].macs, (unsigned long long)(4 * rows[r].act), rows[r].aux ? "true" : "false");
      }
      fprintf(f, "]");
      free(rows);
    }
    fprintf(f, "}");
  }
  fprintf(f, "\n ]}\n");
}

/* === --compare === */

static double pct(uint64_t a, uint64_t b) { return a ? 100.0 * ((double)b - (double)a) / (double)a : 0.0; }

static void report_compare(FILE *f, const cost_variant *A, const cost_variant *B, cost_format fmt) {
  blk_totals ta = blk_network_totals(&A->net), tb = blk_network_totals(&B->net);
  if (fmt == FMT_JSON) {
    fprintf(f, "{\"conventions\": ");
    json_str(f, CONVENTIONS);
    fprintf(f, ", \"a\": ");
    json_str(f, A->name);
    fprintf(f, ", \"b\": ");
    json_str(f, B->name);
    fprintf(f,
            ", \"params_a\": %llu, \"params_b\": %llu, \"macs_a\": %llu, \"macs_b\": %llu, "
            "\"params_change_pct\": %.4f, \"macs_change_pct\": %.4f}\n",
            (unsigned long long)ta.params, (unsigned long long)tb.params, (unsigned long long)ta.macs,
            (unsigned long long)tb.macs, pct(ta.params, tb.params), pct(ta.macs, tb.macs));
    return;
  }
  char a[32], b[32];
  fprintf(f, "# counting: %s\n", CONVENTIONS);
  fprintf(f, "%-10s %-40s %-40s %10s\n", "", A->name, B->name, "B vs A");
  fprintf(f, "%-10s %-40s %-40s %+9.2f%%\n", "params", grp(ta.params, a), grp(tb.params, b), pct(ta.params, tb.params));
  fprintf(f, "%-10s %-40s %-40s %+9.2f%%\n", "MACs", grp(ta.macs, a), grp(tb.macs, b), pct(ta.macs, tb.macs));
  fprintf(f, "%-10s %-40s %-40s %+9.2f%%\n", "aux params", grp(ta.params_aux, a), grp(tb.params_aux, b),
          pct(ta.params_aux, tb.params_aux));
  double dm = pct(ta.macs, tb.macs), dp = pct(ta.params, tb.params);
  fprintf(f, "B %s %.1f%% of A's MACs and %s %.1f%% of its params\n", dm <= 0 ? "saves" : "adds", fabs(dm),
          dp <= 0 ? "saves" : "adds", fabs(dp));
  /* Blocks present in both under the same name whose cost differs: what the swap changed. */
  int header = 0;
  for (int i = 0; i < A->net.n_blocks; i++)
    for (int j = 0; j < B->net.n_blocks; j++) {
      if (strcmp(A->net.blocks[i].name, B->net.blocks[j].name)) continue;
      lab_cost ca = blk_network_block_cost(&A->net, i), cb = blk_network_block_cost(&B->net, j);
      if (ca.macs == cb.macs && ca.n_params == cb.n_params && A->net.blocks[i].def == B->net.blocks[j].def) continue;
      if (!header++) fprintf(f, "blocks (A -> B):\n");
      fprintf(f, "  %-24s %s -> %s: MACs %s -> ", A->net.blocks[i].name, A->net.blocks[i].def->name,
              B->net.blocks[j].def->name, grp(ca.macs, a));
      fprintf(f, "%s (%+.1f%%), params %s -> ", grp(cb.macs, b), pct(ca.macs, cb.macs), grp(ca.n_params, a));
      fprintf(f, "%s (%+.1f%%)\n", grp(cb.n_params, b), pct(ca.n_params, cb.n_params));
    }
  /* Blocks only one side has (a split into two blocks, an added head, ...). */
  for (int side = 0; side < 2; side++) {
    const cost_variant *X = side ? B : A, *Y = side ? A : B;
    for (int i = 0; i < X->net.n_blocks; i++) {
      int found = 0;
      for (int j = 0; j < Y->net.n_blocks && !found; j++) found = !strcmp(X->net.blocks[i].name, Y->net.blocks[j].name);
      if (found) continue;
      lab_cost c = blk_network_block_cost(&X->net, i);
      fprintf(f, "  %-24s %s only in %s: MACs %s, ", X->net.blocks[i].name, X->net.blocks[i].def->name, side ? "B" : "A",
              grp(c.macs, a));
      fprintf(f, "params %s\n", grp(c.n_params, b));
    }
  }
}

/* === --match-macs === */

static lab_status macs_at(const cost_variant *v, const char *file, const char *variant, const blk_overrides *ov0,
                          double width, uint64_t *macs, lab_error *err) {
  blk_overrides ov = *ov0;
  ov.width = width;
  cost_set s = {0};
  lab_status st = load_file(file, variant ? variant : v->name, &ov, &s, err);
  if (st == LAB_STATUS_OK) *macs = blk_network_totals(&s.v[0].net).macs;
  free_set(&s);
  return st;
}

static int parse_count(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || errno || !isfinite(v) || v <= 0) return 0;
  double m = 1;
  if (*end == 'k' || *end == 'K') m = 1e3, end++;
  else if (*end == 'M') m = 1e6, end++;
  else if (*end == 'G' || *end == 'B') m = 1e9, end++;
  else if (*end == 'T') m = 1e12, end++;
  if (*end) return 0;
  *out = v * m;
  return 1;
}

/* Bisection on the width multiplier: MACs grow with width (a step function, widths are
 * integers), so find the largest width whose MACs stay within the budget. */
static int match_macs(const cost_set *s, const char *file, const blk_overrides *ov, double target, cost_format fmt) {
  lab_error err = {0};
  if (fmt == FMT_JSON) printf("{\"target_macs\": %.0f, \"variants\": [", target);
  for (int i = 0; i < s->n; i++) {
    double lo = 1.0 / 64, hi = 8.0;
    uint64_t mlo = 0, mhi = 0;
    if (macs_at(&s->v[i], file, s->n > 1 ? s->v[i].name : NULL, ov, lo, &mlo, &err) ||
        macs_at(&s->v[i], file, s->n > 1 ? s->v[i].name : NULL, ov, hi, &mhi, &err)) {
      fprintf(stderr, "lab cost: %s\n", err.msg);
      return 1;
    }
    for (int it = 0; it < 40; it++) {
      double mid = 0.5 * (lo + hi);
      uint64_t m = 0;
      if (macs_at(&s->v[i], file, s->n > 1 ? s->v[i].name : NULL, ov, mid, &m, &err)) {
        fprintf(stderr, "lab cost: %s\n", err.msg);
        return 1;
      }
      if ((double)m <= target)
        lo = mid, mlo = m;
      else
        hi = mid, mhi = m;
    }
    char a[32], b[32];
    if (fmt == FMT_JSON) {
      printf("%s\n  {\"name\": ", i ? "," : "");
      json_str(stdout, s->v[i].name);
      printf(", \"width\": %.6f, \"macs\": %llu, \"next_width\": %.6f, \"next_macs\": %llu}", lo,
             (unsigned long long)mlo, hi, (unsigned long long)mhi);
    } else {
      printf("%s: width %.6f gives %s MACs (%+.2f%% of the target %.6g); width %.6f gives %s\n", s->v[i].name, lo,
             grp(mlo, a), 100.0 * ((double)mlo / target - 1.0), target, hi, grp(mhi, b));
    }
  }
  if (fmt == FMT_JSON) printf("\n ]}\n");
  return 0;
}

/* === --list-blocks: the registry with every parameter's type, default and doc === */

static void list_blocks(FILE *f) {
  static const char *const roles[] = {"", " [aux head]", " [head]"};
  const blk_def *d;
  for (int i = 0; (d = blk_registry_get(i)); i++) {
    fprintf(f, "%s%s: %s%s\n", d->name, roles[d->role], d->summary,
            d->factorizes ? " (accepts factorization_activation)" : "");
    for (int p = 0; p < d->n_params; p++) {
      const blk_param_def *q = &d->params[p];
      char def[160];
      switch (q->type) {
        case BLK_P_INT: snprintf(def, sizeof def, "int %g (%g..%g)", q->def, q->min, q->max); break;
        case BLK_P_DOUBLE: snprintf(def, sizeof def, "real %g (%g..%g)", q->def, q->min, q->max); break;
        case BLK_P_BOOL: snprintf(def, sizeof def, "bool %s", q->def ? "true" : "false"); break;
        case BLK_P_ENUM: {
          int o = snprintf(def, sizeof def, "%s (", q->choices[(int)q->def]);
          for (int c = 0; c < BLK_MAX_CHOICES && q->choices[c] && o < (int)sizeof def; c++)
            o += snprintf(def + o, sizeof def - (size_t)o, "%s%s", c ? " | " : "", q->choices[c]);
          if (o < (int)sizeof def) snprintf(def + o, sizeof def - (size_t)o, ")");
          break;
        }
      }
      fprintf(f, "    %-16s %-36s %s\n", q->name, def, q->doc);
    }
  }
}

/* === main === */

static void usage(FILE *f) {
  fprintf(f,
          "usage: lab cost FILE [--variant NAME] [--image-size S] [--classes K] [--width W]\n"
          "                     [--per-layer | --per-block] [--format text|md|csv|json]\n"
          "       lab cost --compare A B [--image-size S] ...   (A, B: preset files, or variants of FILE)\n"
          "       lab cost FILE --match-macs X                   (X: 3.8G, 1500M, 5713216096)\n"
          "       lab cost --list-blocks                         (every block, its parameters and defaults)\n"
          "FILE: a network preset (experiments/networks/*.yaml) or an experiment file (every row).\n"
          "counting: %s.\n",
          CONVENTIONS);
}

int lab_cmd_cost(int argc, char **argv) {
  const char *file = NULL, *variant = NULL, *cmp[2] = {NULL, NULL};
  blk_overrides ov = {0};
  cost_detail detail = DETAIL_TOTALS;
  cost_format fmt = FMT_TEXT;
  double target = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int more = i + 1 < argc;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--variant") && more) {
      variant = argv[++i];
    } else if (!strcmp(a, "--image-size") && more) {
      if (!lab_cli_parse_int("cost", a, argv[++i], 1, 8192, &ov.image_size)) return 2;
    } else if (!strcmp(a, "--classes") && more) {
      if (!lab_cli_parse_int("cost", a, argv[++i], 1, 1000000, &ov.classes)) return 2;
    } else if (!strcmp(a, "--width") && more) {
      char *end;
      errno = 0;
      ov.width = strtod(argv[++i], &end);
      if (*end || errno || !(ov.width > 0 && ov.width <= 64)) {
        fprintf(stderr, "lab cost: --width expects a number in (0, 64], found '%s'\n", argv[i]);
        return 2;
      }
    } else if (!strcmp(a, "--list-blocks")) {
      list_blocks(stdout);
      return 0;
    } else if (!strcmp(a, "--per-layer")) {
      detail = DETAIL_LAYERS;
    } else if (!strcmp(a, "--per-block")) {
      detail = DETAIL_BLOCKS;
    } else if (!strcmp(a, "--format") && more) {
      const char *v = argv[++i];
      if (!strcmp(v, "text")) fmt = FMT_TEXT;
      else if (!strcmp(v, "md")) fmt = FMT_MD;
      else if (!strcmp(v, "csv")) fmt = FMT_CSV;
      else if (!strcmp(v, "json")) fmt = FMT_JSON;
      else {
        fprintf(stderr, "lab cost: --format expects text, md, csv or json, found '%s'\n", v);
        return 2;
      }
    } else if (!strcmp(a, "--compare") && i + 2 < argc) {
      cmp[0] = argv[++i];
      cmp[1] = argv[++i];
    } else if (!strcmp(a, "--match-macs") && more) {
      if (!parse_count(argv[++i], &target)) {
        fprintf(stderr, "lab cost: --match-macs expects a positive count (5713216096, 3.8G, 1500M), found '%s'\n",
                argv[i]);
        return 2;
      }
    } else if (a[0] == '-' || file) {
      fprintf(stderr, "lab cost: unexpected argument '%s'\n", a);
      usage(stderr);
      return 2;
    } else {
      file = a;
    }
  }
  if (!file && !cmp[0]) {
    usage(stderr);
    return 2;
  }
  lab_error err = {0};
  if (cmp[0]) {
    cost_set sa = {0}, sb = {0};
    lab_status st = file ? load_file(file, cmp[0], &ov, &sa, &err) : load_file(cmp[0], NULL, &ov, &sa, &err);
    if (st == LAB_STATUS_OK)
      st = file ? load_file(file, cmp[1], &ov, &sb, &err) : load_file(cmp[1], NULL, &ov, &sb, &err);
    if (st == LAB_STATUS_OK) report_compare(stdout, &sa.v[0], &sb.v[0], fmt);
    free_set(&sa);
    free_set(&sb);
    if (st != LAB_STATUS_OK) {
      fprintf(stderr, "lab cost: %s\n", err.msg);
      return 1;
    }
    return 0;
  }
  cost_set s = {0};
  if (load_file(file, variant, &ov, &s, &err) != LAB_STATUS_OK) {
    fprintf(stderr, "lab cost: %s\n", err.msg);
    free_set(&s);
    return 1;
  }
  int rc = 0;
  if (target > 0) {
    rc = match_macs(&s, file, &ov, target, fmt);
  } else {
    print_header(stdout, fmt, &s);
    switch (fmt) {
      case FMT_TEXT: report_text(stdout, &s, detail); break;
      case FMT_MD: report_md(stdout, &s, detail); break;
      case FMT_CSV: report_csv(stdout, &s, detail); break;
      case FMT_JSON: report_json(stdout, &s, detail); break;
    }
  }
  free_set(&s);
  return rc;
}
