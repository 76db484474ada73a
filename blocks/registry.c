/* registry.c: the block registry (name -> builder + parameter schema) and the layer helpers
 * every block is written with: the Conv -> BN -> ReLU unit, pools, concat, linear. */
#include "blocks/blocks.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lab/layers.h"

/* === helpers === */

void blk_note(blk_builder *b, const char *fmt, ...) {
  if (!b->notes || b->notes_cap == 0) return;
  size_t len = strlen(b->notes);
  if (len + 2 >= b->notes_cap) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(b->notes + len, b->notes_cap - len - 1, fmt, ap);
  va_end(ap);
  len = strlen(b->notes);
  b->notes[len] = '\n';
  b->notes[len + 1] = '\0';
}

int blk_depth(const blk_builder *b, int d) {
  if (d <= 0) return 0;
  int s = (int)(d * b->opt.width);
  return s > b->opt.min_depth ? s : b->opt.min_depth;
}

static int add(blk_builder *b, const char *name, const lab_layer_cfg *cfg, const int *in, int n) {
  return lab_graph_add(b->g, name, cfg, in, n, b->err);
}

int blk_conv_unit(blk_builder *b, const char *name, int x, const blk_conv *c) {
  LAB_ASSERT(c->oc > 0 && c->kh > 0 && c->kw > 0, "%s: conv oc %d kernel %dx%d", name, c->oc, c->kh, c->kw);
  int bn = b->opt.bn && !c->no_bn;
  int bias = b->opt.conv_bias == BLK_BIAS_ON || (b->opt.conv_bias == BLK_BIAS_AUTO && !bn);
  lab_layer_cfg cfg = {.ops = &lab_conv2d_ops};
  cfg.conv = (lab_conv2d_cfg){.oc = c->oc, .kh = c->kh, .kw = c->kw, .sh = c->sh ? c->sh : 1,
                              .sw = c->sw ? c->sw : 1, .pt = c->pt, .pb = c->pb, .pl = c->pl,
                              .pr = c->pr, .bias = bias, .init_std = c->init_std};
  if (c->same) {
    /* An even kernel pads one more at the bottom/right, as PyTorch's padding='same'. */
    cfg.conv.pt = (c->kh - 1) / 2;
    cfg.conv.pb = c->kh - 1 - cfg.conv.pt;
    cfg.conv.pl = (c->kw - 1) / 2;
    cfg.conv.pr = c->kw - 1 - cfg.conv.pl;
  }
  lab_graph_push_scope(b->g, "%s", name);
  int y = add(b, "conv", &cfg, &x, 1);
  if (y > 0 && bn) { /* BN with the unit's ReLU fused in (batchnorm.c), unless linear */
    lab_layer_cfg bcfg = {.ops = &lab_batchnorm_ops};
    bcfg.bn = (lab_bn_cfg){.eps = (float)b->opt.bn_eps, .momentum = (float)b->opt.bn_momentum, .relu = !c->linear};
    y = add(b, "bn", &bcfg, &y, 1);
  }
  if (y > 0 && !bn && !c->linear) {
    lab_layer_cfg rcfg = {.ops = &lab_relu_ops};
    y = add(b, "relu", &rcfg, &y, 1);
  }
  lab_graph_pop_scope(b->g);
  return y;
}

int blk_cbr(blk_builder *b, const char *name, int x, int oc, int k, int s, int p) {
  blk_conv c = {.oc = blk_depth(b, oc), .kh = k, .kw = k, .sh = s, .sw = s, .pt = p, .pb = p, .pl = p, .pr = p};
  return blk_conv_unit(b, name, x, &c);
}

int blk_cbr_same(blk_builder *b, const char *name, int x, int oc, int kh, int kw, int linear) {
  blk_conv c = {.oc = blk_depth(b, oc), .kh = kh, .kw = kw, .same = 1, .linear = linear};
  return blk_conv_unit(b, name, x, &c);
}

int blk_pool(blk_builder *b, const char *name, int x, int avg, int k, int s, int p, int ceil_mode) {
  lab_layer_cfg cfg = {.ops = &lab_pool_ops};
  cfg.pool = (lab_pool_cfg){.kind = avg ? LAB_POOL_AVG : LAB_POOL_MAX, .kh = k, .kw = k, .sh = s, .sw = s,
                            .pt = p, .pb = p, .pl = p, .pr = p, .ceil_mode = ceil_mode,
                            .count_include_pad = 1};
  return add(b, name, &cfg, &x, 1);
}

int blk_concat(blk_builder *b, const char *name, const int *xs, int n) {
  lab_layer_cfg cfg = {.ops = &lab_concat_ops};
  return add(b, name, &cfg, xs, n);
}

int blk_linear(blk_builder *b, const char *name, int x, int out, int bn, int relu, float init_std) {
  lab_layer_cfg cfg = {.ops = &lab_linear_ops};
  /* A batch-normalized FC needs no bias (BN's beta is one), as for convs; a plain FC has one. */
  int bias = !bn || b->opt.conv_bias == BLK_BIAS_ON;
  cfg.linear = (lab_linear_cfg){.out = out, .bias = bias, .init_std = init_std};
  lab_graph_push_scope(b->g, "%s", name);
  int y = add(b, "fc", &cfg, &x, 1);
  if (y > 0 && bn) {
    lab_layer_cfg bcfg = {.ops = &lab_batchnorm_ops};
    bcfg.bn = (lab_bn_cfg){.eps = (float)b->opt.bn_eps, .momentum = (float)b->opt.bn_momentum};
    y = add(b, "bn", &bcfg, &y, 1);
  }
  if (y > 0 && relu) {
    lab_layer_cfg rcfg = {.ops = &lab_relu_ops};
    y = add(b, "relu", &rcfg, &y, 1);
  }
  lab_graph_pop_scope(b->g);
  return y;
}

/* === registry === */

typedef struct family {
  const blk_def *defs;
  const int *n;
} family;

const blk_def *blk_registry_get(int i) {
  const family fams[] = {{blk_defs_stems, &blk_n_defs_stems},
                         {blk_defs_modules, &blk_n_defs_modules},
                         {blk_defs_reductions, &blk_n_defs_reductions},
                         {blk_defs_heads, &blk_n_defs_heads}};
  if (i < 0) return NULL;
  for (size_t f = 0; f < sizeof fams / sizeof fams[0]; f++) {
    if (i < *fams[f].n) return &fams[f].defs[i];
    i -= *fams[f].n;
  }
  return NULL;
}

int blk_registry_count(void) {
  int n = 0;
  while (blk_registry_get(n)) n++;
  return n;
}

const blk_def *blk_find(const char *name) {
  const blk_def *d;
  for (int i = 0; (d = blk_registry_get(i)); i++)
    if (!strcmp(d->name, name)) return d;
  return NULL;
}

int blk_param_index(const blk_def *def, const char *name) {
  for (int i = 0; i < def->n_params; i++)
    if (!strcmp(def->params[i].name, name)) return i;
  return -1;
}

void blk_args_default(const blk_def *def, blk_args *a) {
  memset(a, 0, sizeof *a);
  a->def = def;
  for (int i = 0; i < def->n_params; i++) a->v[i] = def->params[i].def;
  a->output = def->role == BLK_ROLE_HEAD ? "logits" : def->role == BLK_ROLE_AUX ? "aux_logits" : NULL;
}

double blk_arg(const blk_args *a, const char *name) {
  int i = blk_param_index(a->def, name);
  LAB_ASSERT(i >= 0, "block %s has no parameter '%s'", a->def->name, name);
  return a->v[i];
}

int blk_iarg(const blk_args *a, const char *name) { return (int)blk_arg(a, name); }
