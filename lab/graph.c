/* graph.c: the layer DAG: build-time shape inference, one-time memory plan, forward and
 * backward passes. See graph.h for the contract. */
#include "lab/graph.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LAB_MAX_SCOPE_DEPTH 16

struct lab_graph {
  lab_node *nodes;
  int n, cap;
  char *scopes[LAB_MAX_SCOPE_DEPTH];
  int depth;
  struct {
    char *name;
    int node;
  } outputs[8];
  int n_outputs;
  /* Set by plan. */
  int batch;
  lab_arena params, grads, buffers, caches, acts, dacts, scratch;
  float **act, **dact;
  lab_param_list plist;
  double *prof_fwd, *prof_bwd; /* lab_graph_profile: seconds per node, or NULL */
};

/* === build === */

lab_graph *lab_graph_new(lab_shape input) {
  lab_graph *g = lab_xcalloc(1, sizeof *g);
  g->cap = 64;
  g->nodes = lab_xcalloc((size_t)g->cap, sizeof *g->nodes);
  lab_node *in = &g->nodes[g->n++];
  in->path = strdup("input");
  in->scope = strdup("");
  LAB_ASSERT(in->path && in->scope, "out of memory");
  in->out = input;
  in->cost.act_floats = lab_shape_numel(input);
  return g;
}

void lab_graph_free(lab_graph *g) {
  if (!g) return;
  for (int i = 0; i < g->n; i++) {
    free(g->nodes[i].path);
    free(g->nodes[i].scope);
  }
  for (int i = 0; i < g->depth; i++) free(g->scopes[i]);
  for (int i = 0; i < g->n_outputs; i++) free(g->outputs[i].name);
  free(g->nodes);
  lab_arena_free(&g->params);
  lab_arena_free(&g->grads);
  lab_arena_free(&g->buffers);
  lab_arena_free(&g->caches);
  lab_arena_free(&g->acts);
  lab_arena_free(&g->dacts);
  lab_arena_free(&g->scratch);
  free(g->act);
  free(g->dact);
  lab_param_list_free(&g->plist);
  free(g);
}

void lab_graph_push_scope(lab_graph *g, const char *fmt, ...) {
  LAB_ASSERT(g->depth < LAB_MAX_SCOPE_DEPTH, "scope nesting deeper than %d", LAB_MAX_SCOPE_DEPTH);
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  g->scopes[g->depth] = strdup(buf);
  LAB_ASSERT(g->scopes[g->depth], "out of memory");
  g->depth++;
}

void lab_graph_pop_scope(lab_graph *g) {
  LAB_ASSERT(g->depth > 0, "pop without push");
  free(g->scopes[--g->depth]);
}

/* Joins the open scopes with '/' into a new string. */
static char *scope_string(const lab_graph *g) {
  size_t len = 1;
  for (int i = 0; i < g->depth; i++) len += strlen(g->scopes[i]) + 1;
  char *s = lab_xmalloc(len);
  s[0] = '\0';
  for (int i = 0; i < g->depth; i++) {
    if (i) strcat(s, "/");
    strcat(s, g->scopes[i]);
  }
  return s;
}

int lab_graph_add(lab_graph *g, const char *name, const lab_layer_cfg *cfg, const int *inputs,
                  int n_in, lab_error *err) {
  LAB_ASSERT(cfg && cfg->ops, "layer config without ops");
  LAB_ASSERT(g->batch == 0, "lab_graph_add after lab_graph_plan");
  char *scope = scope_string(g);
  size_t plen = strlen(scope) + strlen(name) + 2;
  char *path = lab_xmalloc(plen);
  snprintf(path, plen, "%s%s%s", scope, scope[0] ? "/" : "", name);

  lab_status st = LAB_STATUS_OK;
  lab_shape in[LAB_MAX_INPUTS];
  if (n_in < 1 || n_in > LAB_MAX_INPUTS) {
    st = lab_error_set(err, LAB_ERR_SHAPE, "%s (%s): %d inputs (1..%d allowed)", path, cfg->ops->type,
                       n_in, LAB_MAX_INPUTS);
    goto fail;
  }
  for (int i = 0; i < n_in; i++) {
    LAB_ASSERT(inputs[i] >= 0 && inputs[i] < g->n, "%s: input node %d does not exist", path, inputs[i]);
    in[i] = g->nodes[inputs[i]].out;
  }
  lab_shape out;
  st = cfg->ops->shape(cfg, in, n_in, &out, err);
  if (st != LAB_STATUS_OK) {
    lab_error_prefix(err, "%s (%s)", path, cfg->ops->type);
    goto fail;
  }
  if (g->n == g->cap) {
    g->cap *= 2;
    lab_node *nodes = realloc(g->nodes, (size_t)g->cap * sizeof *nodes);
    LAB_ASSERT(nodes, "out of memory growing graph to %d nodes", g->cap);
    g->nodes = nodes;
  }
  lab_node *node = &g->nodes[g->n];
  memset(node, 0, sizeof *node);
  node->path = path;
  node->scope = scope;
  node->out = out;
  for (int i = 0; i < n_in; i++) node->inputs[i] = inputs[i];
  lab_layer *l = &node->layer;
  l->ops = cfg->ops;
  l->cfg = *cfg;
  l->name = node->path;
  l->n_in = n_in;
  for (int i = 0; i < n_in; i++) l->in[i] = in[i];
  l->out = out;
  l->ops->cost(l, 1, &node->cost);
  return g->n++;

fail:
  free(path);
  free(scope);
  return (int)st;
}

void lab_graph_mark_output(lab_graph *g, const char *name, int node) {
  LAB_ASSERT(node >= 0 && node < g->n, "output '%s': node %d does not exist", name, node);
  for (int i = 0; i < g->n_outputs; i++)
    if (!strcmp(g->outputs[i].name, name)) {
      g->outputs[i].node = node;
      return;
    }
  LAB_ASSERT(g->n_outputs < (int)(sizeof g->outputs / sizeof g->outputs[0]), "too many outputs");
  g->outputs[g->n_outputs].name = strdup(name);
  LAB_ASSERT(g->outputs[g->n_outputs].name, "out of memory");
  g->outputs[g->n_outputs++].node = node;
}

int lab_graph_output(const lab_graph *g, const char *name) {
  for (int i = 0; i < g->n_outputs; i++)
    if (!strcmp(g->outputs[i].name, name)) return g->outputs[i].node;
  return -1;
}

int lab_graph_n_nodes(const lab_graph *g) { return g->n; }

const lab_node *lab_graph_node(const lab_graph *g, int id) {
  LAB_ASSERT(id >= 0 && id < g->n, "node %d of %d", id, g->n);
  return &g->nodes[id];
}

lab_shape lab_graph_shape(const lab_graph *g, int id) { return lab_graph_node(g, id)->out; }

lab_layer *lab_graph_layer(lab_graph *g, int id) {
  LAB_ASSERT(id >= 0 && id < g->n, "node %d of %d", id, g->n);
  return &g->nodes[id].layer;
}

static int scope_matches(const char *scope, const char *prefix) {
  size_t n = strlen(prefix);
  if (n == 0) return 1;
  return strncmp(scope, prefix, n) == 0 && (scope[n] == '\0' || scope[n] == '/');
}

lab_cost lab_graph_cost(const lab_graph *g, const char *scope_prefix) {
  lab_cost sum;
  memset(&sum, 0, sizeof sum);
  for (int i = 1; i < g->n; i++) {
    const lab_node *nd = &g->nodes[i];
    if (scope_prefix && !scope_matches(nd->scope, scope_prefix)) continue;
    sum.n_params += nd->cost.n_params;
    sum.n_buffers += nd->cost.n_buffers;
    sum.macs += nd->cost.macs;
    sum.act_floats += nd->cost.act_floats;
    sum.cache_floats += nd->cost.cache_floats;
    if (nd->cost.scratch_floats > sum.scratch_floats) sum.scratch_floats = nd->cost.scratch_floats;
  }
  return sum;
}

/* === plan === */

lab_status lab_graph_plan(lab_graph *g, int batch, lab_error *err) {
  LAB_ASSERT(g->batch == 0, "graph planned twice");
  if (batch < 1) return lab_error_set(err, LAB_ERR_CONFIG, "batch size %d (must be >= 1)", batch);
  size_t np = 0, nb = 0, nc = 0, na = 0, ns = 0;
  for (int i = 0; i < g->n; i++) {
    lab_node *nd = &g->nodes[i];
    na += lab_arena_round((size_t)batch * lab_shape_numel(nd->out));
    if (i == 0) continue;
    nd->layer.batch = batch;
    lab_cost c;
    memset(&c, 0, sizeof c);
    nd->layer.ops->cost(&nd->layer, batch, &c);
    np += lab_arena_round(c.n_params);
    nb += lab_arena_round(c.n_buffers);
    nc += lab_arena_round(c.cache_floats);
    if (c.scratch_floats > ns) ns = c.scratch_floats;
  }
  lab_status st;
  if ((st = lab_arena_init(&g->params, np, err)) || (st = lab_arena_init(&g->grads, np, err)) ||
      (st = lab_arena_init(&g->buffers, nb, err)) || (st = lab_arena_init(&g->caches, nc, err)) ||
      (st = lab_arena_init(&g->acts, na, err)) || (st = lab_arena_init(&g->dacts, na, err)) ||
      (st = lab_arena_init(&g->scratch, ns, err))) {
    lab_error_prefix(err, "planning memory for batch %d", batch);
    return st;
  }
  g->act = lab_xcalloc((size_t)g->n, sizeof *g->act);
  g->dact = lab_xcalloc((size_t)g->n, sizeof *g->dact);
  for (int i = 0; i < g->n; i++) {
    lab_node *nd = &g->nodes[i];
    g->act[i] = lab_arena_take(&g->acts, (size_t)batch * lab_shape_numel(nd->out));
    g->dact[i] = lab_arena_take(&g->dacts, (size_t)batch * lab_shape_numel(nd->out));
    if (i == 0) continue;
    lab_cost c;
    memset(&c, 0, sizeof c);
    nd->layer.ops->cost(&nd->layer, batch, &c);
    nd->layer.param = lab_arena_take(&g->params, c.n_params);
    nd->layer.grad = lab_arena_take(&g->grads, c.n_params);
    nd->layer.buf = lab_arena_take(&g->buffers, c.n_buffers);
    nd->layer.cache = lab_arena_take(&g->caches, c.cache_floats);
    if (nd->layer.ops->params) nd->layer.ops->params(&nd->layer, &g->plist);
  }
  g->batch = batch;
  return LAB_STATUS_OK;
}

int lab_graph_batch(const lab_graph *g) { return g->batch; }

lab_graph_memory lab_graph_memory_used(const lab_graph *g) {
  lab_graph_memory m;
  m.params = g->params.cap * sizeof(float);
  m.grads = g->grads.cap * sizeof(float);
  m.buffers = g->buffers.cap * sizeof(float);
  m.caches = g->caches.cap * sizeof(float);
  m.acts = g->acts.cap * sizeof(float);
  m.dacts = g->dacts.cap * sizeof(float);
  m.scratch = g->scratch.cap * sizeof(float);
  m.total = m.params + m.grads + m.buffers + m.caches + m.acts + m.dacts + m.scratch;
  return m;
}

const lab_param_list *lab_graph_params(const lab_graph *g) {
  LAB_ASSERT(g->batch > 0, "parameters exist only after lab_graph_plan");
  return &g->plist;
}

float *lab_graph_param_slab(lab_graph *g, size_t *count) {
  LAB_ASSERT(g->batch > 0, "not planned");
  *count = g->params.cap;
  return g->params.base;
}

float *lab_graph_grad_slab(lab_graph *g, size_t *count) {
  LAB_ASSERT(g->batch > 0, "not planned");
  *count = g->grads.cap;
  return g->grads.base;
}

float *lab_graph_buffer_slab(lab_graph *g, size_t *count) {
  LAB_ASSERT(g->batch > 0, "not planned");
  *count = g->buffers.cap;
  return g->buffers.base;
}

/* === run === */

void lab_graph_init(lab_graph *g, lab_rng *rng) {
  LAB_ASSERT(g->batch > 0, "not planned");
  /* One stream per node, derived from the caller's rng and the node index, so a node's
   * initial values depend only on the seed and its position. */
  lab_rng base = *rng;
  for (int i = 1; i < g->n; i++) {
    lab_layer *l = &g->nodes[i].layer;
    if (!l->ops->init) continue;
    lab_rng r = base;
    lab_rng node_rng = lab_rng_split(&r, (uint64_t)i);
    l->ops->init(l, &node_rng);
  }
  lab_rng_u64(rng);
}

float *lab_graph_act(lab_graph *g, int id) {
  LAB_ASSERT(g->batch > 0 && id >= 0 && id < g->n, "node %d (planned: %d)", id, g->batch > 0);
  return g->act[id];
}

float *lab_graph_dact(lab_graph *g, int id) {
  LAB_ASSERT(g->batch > 0 && id >= 0 && id < g->n, "node %d (planned: %d)", id, g->batch > 0);
  return g->dact[id];
}

static void bind_ctx(lab_graph *g, lab_ctx *ctx) {
  LAB_ASSERT(g->batch > 0, "not planned");
  LAB_ASSERT(ctx->batch >= 1 && ctx->batch <= g->batch, "batch %d, planned %d", ctx->batch, g->batch);
  ctx->scratch = g->scratch.base;
  ctx->scratch_floats = g->scratch.cap;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void lab_graph_forward(lab_graph *g, const float *x, lab_ctx *ctx) {
  bind_ctx(g, ctx);
  memcpy(g->act[0], x, (size_t)ctx->batch * lab_shape_numel(g->nodes[0].out) * sizeof(float));
  const float *xs[LAB_MAX_INPUTS];
  for (int i = 1; i < g->n; i++) {
    lab_node *nd = &g->nodes[i];
    for (int k = 0; k < nd->layer.n_in; k++) xs[k] = g->act[nd->inputs[k]];
    const double t0 = g->prof_fwd ? now_s() : 0.0;
    nd->layer.ops->forward(&nd->layer, xs, g->act[i], ctx);
    if (g->prof_fwd) g->prof_fwd[i] += now_s() - t0;
  }
}

void lab_graph_backward_begin(lab_graph *g, int batch) {
  LAB_ASSERT(g->batch > 0 && batch >= 1 && batch <= g->batch, "batch %d, planned %d", batch, g->batch);
  for (int i = 0; i < g->n; i++)
    memset(g->dact[i], 0, (size_t)batch * lab_shape_numel(g->nodes[i].out) * sizeof(float));
}

void lab_graph_backward(lab_graph *g, lab_ctx *ctx) {
  bind_ctx(g, ctx);
  const float *xs[LAB_MAX_INPUTS];
  float *dxs[LAB_MAX_INPUTS];
  for (int i = g->n - 1; i >= 1; i--) {
    lab_node *nd = &g->nodes[i];
    for (int k = 0; k < nd->layer.n_in; k++) {
      xs[k] = g->act[nd->inputs[k]];
      dxs[k] = nd->inputs[k] == 0 ? NULL : g->dact[nd->inputs[k]];
    }
    const double t0 = g->prof_bwd ? now_s() : 0.0;
    nd->layer.ops->backward(&nd->layer, xs, g->act[i], g->dact[i], dxs, ctx);
    if (g->prof_bwd) g->prof_bwd[i] += now_s() - t0;
  }
}

void lab_graph_profile(lab_graph *g, double *fwd, double *bwd) {
  g->prof_fwd = fwd;
  g->prof_bwd = bwd;
}

void lab_graph_zero_grad(lab_graph *g) {
  LAB_ASSERT(g->batch > 0, "not planned");
  if (g->grads.cap) memset(g->grads.base, 0, g->grads.cap * sizeof(float));
}

void lab_graph_print(const lab_graph *g, FILE *f) {
  char a[48], b[48];
  for (int i = 1; i < g->n; i++) {
    const lab_node *nd = &g->nodes[i];
    fprintf(f, "%-48s %-12s %-14s -> %-14s %10llu params %14llu MACs\n", nd->path, nd->layer.ops->type,
            lab_shape_str(nd->layer.in[0], a, sizeof a), lab_shape_str(nd->out, b, sizeof b),
            (unsigned long long)nd->cost.n_params, (unsigned long long)nd->cost.macs);
  }
}
