/* graph.h: a DAG of layer nodes: build with shape inference, plan memory once for a batch
 * size, then run forward (train or eval) and backward any number of times.
 *
 * Node 0 is the input (N, input shape). Nodes are appended in topological order (a node's
 * inputs must already exist), so forward runs in index order and backward in reverse.
 * Fan-out is free: a node used by several consumers receives the sum of their gradients.
 *
 * Scopes name where a node came from: blocks push "stage3[1] (inception_17x17)" etc., and
 * every node's path is "scope/scope/name". Shape errors quote that path and the shapes.
 *
 * Memory: lab_graph_plan allocates, once, parameters, gradients, buffers, caches, every
 * node's activation and activation gradient, and one scratch workspace (the largest any
 * layer asks for). forward/backward never allocate.
 */
#ifndef LAB_GRAPH_H
#define LAB_GRAPH_H

#include "lab/layer.h"

typedef struct lab_graph lab_graph;

typedef struct lab_node {
  char *path;          /* "stem/conv1", owned by the graph */
  char *scope;         /* "stem" ("" at top level), owned by the graph */
  lab_layer layer;     /* layer.ops == NULL for the input node */
  int inputs[LAB_MAX_INPUTS];
  lab_shape out;
  lab_cost cost;       /* per-sample counts (cache/scratch at batch 1); see lab_graph_plan */
} lab_node;

lab_graph *lab_graph_new(lab_shape input);
void lab_graph_free(lab_graph *g);

/* Scopes nest; push/pop must pair. The formatted name becomes one path component. */
void lab_graph_push_scope(lab_graph *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lab_graph_pop_scope(lab_graph *g);

/* Appends a node computing cfg over `inputs`; returns its id (>= 1), or a negative
 * lab_status with err naming the node path, the layer type and the shapes involved. */
int lab_graph_add(lab_graph *g, const char *name, const lab_layer_cfg *cfg, const int *inputs,
                  int n_in, lab_error *err);

/* Named outputs ("logits", "aux_logits"). A later mark of the same name replaces it. */
void lab_graph_mark_output(lab_graph *g, const char *name, int node);
int lab_graph_output(const lab_graph *g, const char *name); /* -1 if absent */

int lab_graph_n_nodes(const lab_graph *g);
const lab_node *lab_graph_node(const lab_graph *g, int id);
lab_shape lab_graph_shape(const lab_graph *g, int id);
/* Node id's layer, to change its cfg between runs (lab/bn_calib.c sets BN momenta). */
lab_layer *lab_graph_layer(lab_graph *g, int id);
/* Sum of per-sample costs over all nodes (or, with scope_prefix, those whose scope starts
 * with it: a block's cost is the sum of its children). */
lab_cost lab_graph_cost(const lab_graph *g, const char *scope_prefix);

/* Allocates all memory for batches of up to `batch` samples. Once per graph. */
lab_status lab_graph_plan(lab_graph *g, int batch, lab_error *err);
int lab_graph_batch(const lab_graph *g); /* planned batch, 0 before plan */
/* Bytes held after plan, per slab (params, grads, buffers, caches, activations,
 * activation grads, scratch) and in total. */
typedef struct lab_graph_memory {
  size_t params, grads, buffers, caches, acts, dacts, scratch, total;
} lab_graph_memory;
lab_graph_memory lab_graph_memory_used(const lab_graph *g);

/* Every trainable tensor, in node order (valid after plan; owned by the graph). */
const lab_param_list *lab_graph_params(const lab_graph *g);
/* The whole parameter / buffer slabs (for EMA, checkpoints): pointers valid after plan. */
float *lab_graph_param_slab(lab_graph *g, size_t *count);
float *lab_graph_grad_slab(lab_graph *g, size_t *count);
float *lab_graph_buffer_slab(lab_graph *g, size_t *count);

/* Initialises every layer's parameters and buffers. Node i draws from its own stream derived
 * from rng's state and i, so its values depend only on the seed and its index; rng advances once. */
void lab_graph_init(lab_graph *g, lab_rng *rng);

/* Activation and its gradient for node id: (planned batch, node shape) floats. */
float *lab_graph_act(lab_graph *g, int id);
float *lab_graph_dact(lab_graph *g, int id);

/* Runs every node on x: (ctx->batch, input shape), copied into node 0. ctx->scratch is
 * supplied by the graph (callers set train, batch and rng only). */
void lab_graph_forward(lab_graph *g, const float *x, lab_ctx *ctx);
/* Zeroes every activation gradient; call before seeding output gradients. */
void lab_graph_backward_begin(lab_graph *g, int batch);
/* Propagates the seeded output gradients back to every node and accumulates parameter
 * gradients. The input node's gradient is not computed. */
void lab_graph_backward(lab_graph *g, lab_ctx *ctx);
/* Sets every parameter gradient to zero. */
void lab_graph_zero_grad(lab_graph *g);
/* Per-node wall time (lab bench train --profile): with fwd / bwd arrays of lab_graph_n(g)
 * doubles, every forward / backward adds node i's seconds to fwd[i] / bwd[i]; NULL stops it. */
void lab_graph_profile(lab_graph *g, double *fwd, double *bwd);

/* One line per node: path, type, in -> out shape, params, MACs (for `lab cost --per-layer`
 * and build logs) written to f. */
#include <stdio.h>
void lab_graph_print(const lab_graph *g, FILE *f);

#endif
