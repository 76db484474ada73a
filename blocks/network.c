/* network.c: YAML network description -> lab_graph, through the block registry.
 * Strict: every key is checked against the network keys or the block's schema, and every
 * error carries FILE:LINE:COL (see network.h for the format). */
#include "blocks/network.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const net_keys[] = {
    "name", "description", "paper", "input_size", "input_channels", "classes", "width", "min_depth", "bn",
    "bn_eps", "bn_momentum", "conv_bias", "factorization_activation", "blocks", "preset", "override"};
static const char *const bias_choices[] = {"auto", "true", "false"};
static const char *const act_choices[] = {"relu", "linear"};
/* Keys every block entry may carry besides its schema (factorization_activation only where
 * the block factorizes, output only for heads). */
static const char *const entry_common[] = {"block", "name", "conv_bias", "bn_eps", "factorization_activation",
                                           "output"};

/* Reads optional global keys of `net` into o (defaults already there). */
static lab_status read_globals(const lab_cfg_node *net, blk_net_opts *o, lab_error *err) {
  const lab_cfg_node *v;
  long l;
  double d;
  int i;
  lab_status st = LAB_STATUS_OK;
#define GET_INT(key, lo, hi, dst)                                        \
  if ((v = lab_cfg_get(net, key))) {                                     \
    if ((st = lab_cfg_int(v, lo, hi, &l, err)) != LAB_STATUS_OK) return st; \
    dst = (int)l;                                                        \
  }
#define GET_DBL(key, lo, hi, dst)                                           \
  if ((v = lab_cfg_get(net, key))) {                                        \
    if ((st = lab_cfg_double(v, lo, hi, &d, err)) != LAB_STATUS_OK) return st; \
    dst = d;                                                                \
  }
  GET_INT("input_size", 1, 8192, o->image_size);
  GET_INT("input_channels", 1, 4096, o->in_channels);
  GET_INT("classes", 1, 1000000, o->classes);
  GET_INT("min_depth", 1, 4096, o->min_depth);
  GET_DBL("width", 1e-3, 64, o->width);
  GET_DBL("bn_eps", 0, 1, o->bn_eps);
  GET_DBL("bn_momentum", 0, 1, o->bn_momentum);
#undef GET_INT
#undef GET_DBL
  if ((v = lab_cfg_get(net, "bn")) && (st = lab_cfg_bool(v, &o->bn, err)) != LAB_STATUS_OK) return st;
  if ((v = lab_cfg_get(net, "conv_bias"))) {
    if ((st = lab_cfg_enum(v, bias_choices, 3, &i, err)) != LAB_STATUS_OK) return st;
    o->conv_bias = (blk_bias_mode)i;
  }
  if ((v = lab_cfg_get(net, "factorization_activation"))) {
    if ((st = lab_cfg_enum(v, act_choices, 2, &o->factor_linear, err)) != LAB_STATUS_OK) return st;
  }
  return st;
}

/* Reads one block entry's schema parameters and overrides into a / o. */
static lab_status read_entry(const lab_cfg_node *e, const blk_def *def, blk_args *a, blk_net_opts *o,
                             lab_error *err) {
  const char *known[BLK_MAX_PARAMS + 8];
  int nk = 0;
  for (size_t i = 0; i < sizeof entry_common / sizeof entry_common[0]; i++) {
    const char *k = entry_common[i];
    if (!strcmp(k, "factorization_activation") && !def->factorizes) continue;
    if (!strcmp(k, "output") && def->role == BLK_ROLE_MAIN) continue;
    known[nk++] = k;
  }
  for (int i = 0; i < def->n_params; i++) known[nk++] = def->params[i].name;
  lab_status st = lab_cfg_check_keys(e, known, nk, err);
  if (st != LAB_STATUS_OK) return st;
  blk_args_default(def, a);
  for (int i = 0; i < def->n_params; i++) {
    const blk_param_def *p = &def->params[i];
    const lab_cfg_node *v = lab_cfg_get(e, p->name);
    if (!v) continue;
    long l;
    int k;
    switch (p->type) {
      case BLK_P_INT:
        st = lab_cfg_int(v, (long)p->min, (long)p->max, &l, err);
        a->v[i] = (double)l;
        break;
      case BLK_P_DOUBLE: st = lab_cfg_double(v, p->min, p->max, &a->v[i], err); break;
      case BLK_P_BOOL:
        st = lab_cfg_bool(v, &k, err);
        a->v[i] = k;
        break;
      case BLK_P_ENUM: {
        int nc = 0;
        while (nc < BLK_MAX_CHOICES && p->choices[nc]) nc++;
        st = lab_cfg_enum(v, p->choices, nc, &k, err);
        a->v[i] = k;
        break;
      }
    }
    if (st != LAB_STATUS_OK) return st;
  }
  const lab_cfg_node *v;
  int k;
  if ((v = lab_cfg_get(e, "conv_bias"))) {
    if ((st = lab_cfg_enum(v, bias_choices, 3, &k, err)) != LAB_STATUS_OK) return st;
    o->conv_bias = (blk_bias_mode)k;
  }
  if ((v = lab_cfg_get(e, "bn_eps")) && (st = lab_cfg_double(v, 0, 1, &o->bn_eps, err)) != LAB_STATUS_OK)
    return st;
  if ((v = lab_cfg_get(e, "factorization_activation")) &&
      (st = lab_cfg_enum(v, act_choices, 2, &o->factor_linear, err)) != LAB_STATUS_OK)
    return st;
  if ((v = lab_cfg_get(e, "output")) && (st = lab_cfg_string(v, &a->output, err)) != LAB_STATUS_OK) return st;
  return LAB_STATUS_OK;
}

/* Known block names, closest first: names that extend what was typed ("inception_35" ->
 * inception_35x35) lead, then the rest by edit distance. */
static lab_status unknown_block(const lab_cfg_node *v, const char *name, lab_error *err) {
  int n = blk_registry_count(), np = 0, nr = 0;
  const char **pre = lab_xmalloc((size_t)n * sizeof *pre), **rest = lab_xmalloc((size_t)n * sizeof *rest);
  for (int i = 0; i < n; i++) {
    const char *k = blk_registry_get(i)->name;
    if (name[0] && strstr(k, name) == k)
      pre[np++] = k;
    else
      rest[nr++] = k;
  }
  char a[768] = "", b[768] = "";
  if (np) lab_cfg_suggest(name, pre, np, a, sizeof a);
  if (nr) lab_cfg_suggest(name, rest, nr, b, sizeof b);
  free(pre);
  free(rest);
  return lab_cfg_error(err, v, "unknown block '%s' (known: %s%s%s)", name, a, np && nr ? ", " : "", b);
}

/* === preset and override resolution === */

/* Applies net's `override` map to the block entries of r (a resolved network map). */
static lab_status apply_override(lab_cfg_node *r, const lab_cfg_node *ovr, lab_error *err) {
  if (ovr->kind != LAB_CFG_MAP) return lab_cfg_error(err, ovr, "expected a map {block name: {key: value}}");
  const lab_cfg_node *blocks = lab_cfg_get(r, "blocks");
  if (!blocks || blocks->kind != LAB_CFG_SEQ) return lab_cfg_error(err, ovr, "no 'blocks' list to override");
  for (int i = 0; i < ovr->n; i++) {
    lab_cfg_node *entry = NULL;
    const char **names = lab_xcalloc((size_t)blocks->n + 1, sizeof *names);
    for (int j = 0; j < blocks->n; j++) {
      const lab_cfg_node *nm = lab_cfg_get(blocks->items[j], "name");
      names[j] = nm && nm->kind == LAB_CFG_SCALAR ? nm->scalar : "";
      if (!strcmp(names[j], ovr->keys[i])) entry = blocks->items[j];
    }
    if (!entry || entry->kind != LAB_CFG_MAP) {
      char buf[768];
      lab_cfg_suggest(ovr->keys[i], names, blocks->n, buf, sizeof buf);
      free(names);
      return lab_cfg_key_error(err, ovr, i, "no block named '%s' (blocks: %s)", ovr->keys[i], buf);
    }
    free(names);
    const lab_cfg_node *set = ovr->items[i];
    if (set->kind != LAB_CFG_MAP) return lab_cfg_error(err, set, "expected a map of block keys");
    /* Another block in the slot: the old block's settings belong to its schema, not the new
     * one's, so only the slot's name is kept. */
    const lab_cfg_node *nb = lab_cfg_get(set, "block"), *ob = lab_cfg_get(entry, "block");
    if (nb && ob && nb->kind == LAB_CFG_SCALAR && ob->kind == LAB_CFG_SCALAR && strcmp(nb->scalar, ob->scalar))
      for (int k = entry->n - 1; k >= 0; k--) {
        if (!strcmp(entry->keys[k], "name")) continue;
        char key[256];
        snprintf(key, sizeof key, "%s", entry->keys[k]);
        lab_status st = lab_cfg_unset(entry, key, NULL, err);
        if (st) return st;
      }
    for (int k = 0; k < set->n; k++) lab_cfg_map_put(entry, set->keys[k], lab_cfg_clone(set->items[k]));
  }
  return LAB_STATUS_OK;
}

/* A new network map: the preset's (when `preset:` is given) with net's other keys replacing
 * its keys, then `override` applied. */
static lab_status resolve(const lab_cfg_node *net, const blk_overrides *ov, lab_cfg_node **out, lab_error *err) {
  *out = NULL;
  const lab_cfg_node *pv = lab_cfg_get(net, "preset");
  lab_cfg_node *r = NULL;
  lab_status st;
  if (pv) {
    const char *name;
    if ((st = lab_cfg_string(pv, &name, err)) != LAB_STATUS_OK) return st;
    if (!ov || !ov->load_preset) return lab_cfg_error(err, pv, "'preset' cannot be resolved here");
    if ((st = ov->load_preset(name, ov->load_ctx, &r, err)) != LAB_STATUS_OK) {
      char where[256];
      lab_error_prefix(err, "%s: preset '%s'", lab_cfg_where(pv, where, sizeof where), name);
      return st;
    }
    if (r->kind != LAB_CFG_MAP || lab_cfg_get(r, "preset")) {
      lab_cfg_free(r);
      return lab_cfg_error(err, pv, "preset '%s' is not a plain network map", name);
    }
  } else {
    r = lab_cfg_new_map(net->file, net->line, net->col);
  }
  for (int i = 0; i < net->n; i++)
    if (strcmp(net->keys[i], "preset") && strcmp(net->keys[i], "override"))
      lab_cfg_map_put(r, net->keys[i], lab_cfg_clone(net->items[i]));
  const lab_cfg_node *ovr = lab_cfg_get(net, "override");
  if (ovr && (st = apply_override(r, ovr, err)) != LAB_STATUS_OK) {
    lab_cfg_free(r);
    return st;
  }
  *out = r;
  return LAB_STATUS_OK;
}

static lab_status build_resolved(const lab_cfg_node *net, const blk_overrides *ov, blk_network *out,
                                 lab_error *err);

lab_status blk_network_build(const lab_cfg_node *net, const blk_overrides *ov, blk_network *out, lab_error *err) {
  memset(out, 0, sizeof *out);
  lab_status st = lab_cfg_check_keys(net, net_keys, (int)(sizeof net_keys / sizeof net_keys[0]), err);
  if (st != LAB_STATUS_OK) return st;
  if (!lab_cfg_get(net, "preset") && !lab_cfg_get(net, "override")) return build_resolved(net, ov, out, err);
  lab_cfg_node *r;
  if ((st = resolve(net, ov, &r, err)) != LAB_STATUS_OK) return st;
  st = build_resolved(r, ov, out, err);
  lab_cfg_free(r);
  return st;
}

static lab_status build_resolved(const lab_cfg_node *net, const blk_overrides *ov, blk_network *out,
                                 lab_error *err) {
  memset(out, 0, sizeof *out);
  out->paper_cost_bn_ops = -1;
  out->paper_input_size = 299;
  lab_status st = lab_cfg_check_keys(net, net_keys, (int)(sizeof net_keys / sizeof net_keys[0]), err);
  if (st != LAB_STATUS_OK) return st;
  blk_net_opts o = {.width = 1.0, .min_depth = 16, .classes = 1000, .in_channels = 3, .image_size = 299,
                    .bn = 1, .bn_eps = 1e-3, .bn_momentum = 0.1, .conv_bias = BLK_BIAS_AUTO};
  if ((st = read_globals(net, &o, err)) != LAB_STATUS_OK) return st;
  if (ov) {
    if (ov->image_size > 0) o.image_size = ov->image_size;
    if (ov->classes > 0) o.classes = ov->classes;
    if (ov->in_channels > 0) o.in_channels = ov->in_channels;
    if (ov->width > 0) o.width = ov->width;
  }
  out->opt = o;
  const lab_cfg_node *v;
  const char *s;
  if ((v = lab_cfg_get(net, "name"))) {
    if ((st = lab_cfg_string(v, &s, err)) != LAB_STATUS_OK) return st;
    snprintf(out->name, sizeof out->name, "%s", s);
  }
  if ((v = lab_cfg_get(net, "description")) && (st = lab_cfg_string(v, &s, err)) != LAB_STATUS_OK) return st;
  if ((v = lab_cfg_get(net, "paper"))) {
    static const char *const paper_keys[] = {"cost_bn_ops", "source", "input_size"};
    if ((st = lab_cfg_check_keys(v, paper_keys, 3, err)) != LAB_STATUS_OK) return st;
    long l;
    const lab_cfg_node *ps = lab_cfg_get(v, "input_size");
    if (ps && (st = lab_cfg_int(ps, 1, 8192, &l, err)) != LAB_STATUS_OK) return st;
    if (ps) out->paper_input_size = (int)l;
    const lab_cfg_node *c = lab_cfg_get(v, "cost_bn_ops");
    if (c && (st = lab_cfg_double(c, 0, 1e6, &out->paper_cost_bn_ops, err)) != LAB_STATUS_OK) return st;
    if ((c = lab_cfg_get(v, "source"))) {
      if ((st = lab_cfg_string(c, &s, err)) != LAB_STATUS_OK) return st;
      snprintf(out->paper_source, sizeof out->paper_source, "%s", s);
    }
  }
  const lab_cfg_node *blocks = lab_cfg_get(net, "blocks");
  if (!blocks || blocks->kind != LAB_CFG_SEQ || blocks->n == 0)
    return lab_cfg_error(err, blocks ? blocks : net, "expected a non-empty list of blocks under 'blocks'");

  out->g = lab_graph_new((lab_shape){o.in_channels, o.image_size, o.image_size});
  out->blocks = lab_xcalloc((size_t)blocks->n, sizeof *out->blocks);
  blk_builder b = {.g = out->g, .err = err, .notes = out->notes, .notes_cap = sizeof out->notes};
  int x = 0;
  for (int i = 0; i < blocks->n; i++) {
    const lab_cfg_node *e = blocks->items[i];
    if (e->kind != LAB_CFG_MAP) {
      st = lab_cfg_error(err, e, "expected a map with a 'block' key");
      goto fail;
    }
    const lab_cfg_node *bv = lab_cfg_get(e, "block");
    if (!bv) {
      st = lab_cfg_error(err, e, "missing key 'block'");
      goto fail;
    }
    const char *type;
    if ((st = lab_cfg_string(bv, &type, err)) != LAB_STATUS_OK) goto fail;
    const blk_def *def = blk_find(type);
    if (!def) {
      st = unknown_block(bv, type, err);
      goto fail;
    }
    blk_block_info *bi = &out->blocks[i];
    bi->def = def;
    snprintf(bi->name, sizeof bi->name, "blocks[%d]", i);
    if ((v = lab_cfg_get(e, "name"))) {
      if ((st = lab_cfg_string(v, &s, err)) != LAB_STATUS_OK) goto fail;
      if (!s[0] || strchr(s, '/') || strlen(s) >= sizeof bi->name) {
        st = lab_cfg_error(err, v, "a block name is 1..%zu characters without '/'", sizeof bi->name - 1);
        goto fail;
      }
      snprintf(bi->name, sizeof bi->name, "%s", s);
    }
    for (int j = 0; j < i; j++)
      if (!strcmp(out->blocks[j].name, bi->name)) {
        st = lab_cfg_error(err, v ? v : e, "block name '%s' is already used by blocks[%d]", bi->name, j);
        goto fail;
      }
    blk_args a;
    b.opt = o;
    if ((st = read_entry(e, def, &a, &b.opt, err)) != LAB_STATUS_OK) goto fail;
    snprintf(bi->scope, sizeof bi->scope, "%s (%s)", bi->name, def->name);
    bi->first = lab_graph_n_nodes(out->g);
    lab_graph_push_scope(out->g, "%s", bi->scope);
    int y = def->build(&b, &a, x);
    lab_graph_pop_scope(out->g);
    bi->end = lab_graph_n_nodes(out->g);
    if (y < 0) {
      char where[256];
      lab_error_prefix(err, "%s: %s", lab_cfg_where(e, where, sizeof where), e->path);
      st = (lab_status)y;
      goto fail;
    }
    bi->out = y;
    /* a head marks its output; aux_none builds nothing and marks none */
    if (def->role != BLK_ROLE_MAIN && bi->end > bi->first) lab_graph_mark_output(out->g, a.output, y);
    if (def->role != BLK_ROLE_AUX) x = y;
    out->n_blocks = i + 1;
  }
  return LAB_STATUS_OK;

fail:
  blk_network_free(out);
  return st;
}

lab_status blk_network_load(const char *path, const blk_overrides *ov, blk_network *out, lab_error *err) {
  memset(out, 0, sizeof *out);
  lab_cfg_node *root = NULL;
  lab_status st = lab_cfg_load(path, &root, err);
  if (st != LAB_STATUS_OK) return st;
  static const char *const root_keys[] = {"network"};
  if ((st = lab_cfg_check_keys(root, root_keys, 1, err)) == LAB_STATUS_OK) {
    const lab_cfg_node *net = lab_cfg_get(root, "network");
    if (!net)
      st = lab_cfg_error(err, root, "a network preset has a top-level 'network' map");
    else
      st = blk_network_build(net, ov, out, err);
  }
  lab_cfg_free(root);
  return st;
}

void blk_network_free(blk_network *n) {
  if (!n) return;
  lab_graph_free(n->g);
  free(n->blocks);
  n->g = NULL;
  n->blocks = NULL;
  n->n_blocks = 0;
}

lab_cost blk_network_block_cost(const blk_network *n, int i) {
  LAB_ASSERT(i >= 0 && i < n->n_blocks, "block %d of %d", i, n->n_blocks);
  lab_cost c;
  memset(&c, 0, sizeof c);
  for (int id = n->blocks[i].first; id < n->blocks[i].end; id++) {
    const lab_cost *k = &lab_graph_node(n->g, id)->cost;
    c.n_params += k->n_params;
    c.n_buffers += k->n_buffers;
    c.macs += k->macs;
    c.act_floats += k->act_floats;
    c.cache_floats += k->cache_floats;
    if (k->scratch_floats > c.scratch_floats) c.scratch_floats = k->scratch_floats;
  }
  return c;
}

blk_totals blk_network_totals(const blk_network *n) {
  blk_totals t;
  memset(&t, 0, sizeof t);
  for (int i = 0; i < n->n_blocks; i++) {
    lab_cost c = blk_network_block_cost(n, i);
    if (n->blocks[i].def->role == BLK_ROLE_AUX) {
      t.params_aux += c.n_params;
      t.macs_aux += c.macs;
      t.act_floats_aux += c.act_floats;
    } else {
      t.params += c.n_params;
      t.macs += c.macs;
      t.act_floats += c.act_floats;
    }
  }
  return t;
}
