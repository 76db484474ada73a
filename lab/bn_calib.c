/* bn_calib.c: precise BN (see bn_calib.h). */
#include "lab/bn_calib.h"

#include <stdlib.h>

#include "lab/layers.h"
#include "lab/rng.h"

static int is_bn(const lab_node *nd) { return nd->layer.ops == &lab_batchnorm_ops; }

int lab_bn_count(const lab_graph *g) {
  int c = 0;
  for (int i = 0; i < lab_graph_n_nodes(g); i++) c += is_bn(lab_graph_node(g, i));
  return c;
}

lab_status lab_bn_calib_loader(const lab_dataset *ds, const int *items, int n_items, int batch, uint64_t seed,
                               const lab_transform_cfg *tf, lab_loader **out, lab_error *err) {
  lab_loader_cfg cc;
  lab_loader_cfg_default(&cc, batch, seed, tf);
  cc.drop_last = 1;
  return lab_loader_new(ds, items, n_items, &cc, out, err);
}

lab_status lab_bn_recalibrate(lab_graph *g, lab_loader *ld, int batches, lab_error *err) {
  LAB_ASSERT(batches >= 1, "bn recalibration over %d batches", batches);
  const int n_bn = lab_bn_count(g);
  if (n_bn == 0) return LAB_STATUS_OK;
  lab_layer **bn = lab_xmalloc(sizeof(lab_layer *) * (size_t)n_bn);
  float *saved = lab_xmalloc(sizeof(float) * (size_t)n_bn);
  for (int i = 0, j = 0; i < lab_graph_n_nodes(g); i++)
    if (is_bn(lab_graph_node(g, i))) {
      bn[j] = lab_graph_layer(g, i);
      saved[j] = bn[j]->cfg.bn.momentum;
      j++;
    }
  lab_status st = lab_loader_seek(ld, 0, 0, err);
  if (st == LAB_STATUS_OK) {
    lab_rng rng; /* dropout masks: a fixed stream, so the training streams are left alone */
    lab_rng_seed(&rng, 0x6e5ca1ULL);
    for (int k = 0; k < batches; k++) {
      const lab_batch *bt = lab_loader_next(ld);
      for (int j = 0; j < n_bn; j++) bn[j]->cfg.bn.momentum = 1.0f / (float)(k + 1);
      lab_ctx ctx = {.train = 1, .batch = bt->n, .rng = &rng};
      lab_graph_forward(g, bt->x, &ctx);
    }
  }
  for (int j = 0; j < n_bn; j++) bn[j]->cfg.bn.momentum = saved[j];
  free(bn);
  free(saved);
  return st;
}
