/* loader.c: the prefetching batch loader (see loader.h).
 *
 * Batches are numbered by an ordinal k = epoch * batches_per_epoch + batch and live in slot
 * k % n_slots. The consumer holds the slot of k = next - 1 until its next call; the worker may
 * fill ordinals [next, next + n_slots - 1), which never touches the held slot. A seek bumps a
 * generation counter so that a batch the worker was rendering for the old position is thrown
 * away instead of published. */
#include "lab/loader.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct lab_loader {
  const lab_dataset *ds;
  lab_loader_cfg cfg;
  int *items; /* (n_items) dataset indices */
  int n_items, bpe, n_slots;
  size_t sample_floats; /* C * H * W */
  lab_batch *slots;     /* (n_slots), pointing into the three buffers below */
  float *xbuf;
  int32_t *ybuf, *sbuf;
  /* Owned by whoever renders (the worker thread, or the caller when not threaded). */
  int *perm;      /* (n_items) order of the epoch perm_epoch */
  int perm_epoch; /* -1: none yet */
  lab_transform_ws ws;
  /* Shared, under mu. */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int64_t next;     /* ordinal handed out by the next lab_loader_next */
  int64_t produced; /* ordinals in [next, produced) are ready in their slots */
  uint64_t gen;     /* bumped by seek */
  int stop, has_thread;
  pthread_t thread;
};

void lab_loader_cfg_default(lab_loader_cfg *cfg, int batch, uint64_t seed, const lab_transform_cfg *tf) {
  memset(cfg, 0, sizeof *cfg);
  cfg->batch = batch;
  cfg->shuffle = 1;
  cfg->seed = seed;
  cfg->prefetch = 2;
  cfg->threaded = 1;
  cfg->tf = *tf;
}

/* Position order of epoch e: a Fisher-Yates shuffle from the (seed, e) stream. The index
 * UINT64_MAX is a stream no sample uses (samples use index + 1 >= 1 after the split tag). */
static void epoch_order(const lab_loader *l, int epoch, int *perm) {
  for (int i = 0; i < l->n_items; i++) perm[i] = i;
  if (!l->cfg.shuffle) return;
  lab_rng rng = lab_sample_rng(l->cfg.seed, (uint64_t)epoch, UINT64_MAX);
  for (int i = l->n_items - 1; i > 0; i--) {
    int j = (int)lab_rng_below(&rng, (uint32_t)(i + 1));
    int t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
}

static int batch_size_at(const lab_loader *l, int b) {
  int start = b * l->cfg.batch, n = l->n_items - start;
  return n < l->cfg.batch ? n : l->cfg.batch;
}

/* Renders ordinal k into its slot. Runs without the lock: only the renderer touches perm, ws
 * and the slots it fills. */
static void render(lab_loader *l, int64_t k) {
  int epoch = (int)(k / l->bpe), b = (int)(k % l->bpe);
  if (l->perm_epoch != epoch) {
    epoch_order(l, epoch, l->perm);
    l->perm_epoch = epoch;
  }
  lab_batch *bt = &l->slots[k % l->n_slots];
  const int first = b * l->cfg.batch + (l->cfg.shard_n ? l->cfg.shard_offset : 0);
  bt->n = l->cfg.shard_n ? l->cfg.shard_n : batch_size_at(l, b);
  bt->epoch = epoch;
  bt->index = b;
  for (int j = 0; j < bt->n; j++) {
    int idx = l->items[l->perm[first + j]];
    lab_image img = lab_dataset_image(l->ds, idx);
    lab_transform_sample(&l->cfg.tf, &img, l->cfg.seed, epoch, idx, &l->ws,
                         bt->x + (size_t)j * l->sample_floats);
    bt->y[j] = l->ds->labels[idx];
    bt->sample[j] = idx;
  }
}

static void *worker_main(void *arg) {
  lab_loader *l = arg;
  pthread_mutex_lock(&l->mu);
  while (!l->stop) {
    if (l->produced < l->next + l->n_slots - 1) {
      int64_t k = l->produced;
      uint64_t gen = l->gen;
      pthread_mutex_unlock(&l->mu);
      render(l, k);
      pthread_mutex_lock(&l->mu);
      if (gen == l->gen) {
        l->produced = k + 1;
        pthread_cond_broadcast(&l->cv);
      }
    } else {
      pthread_cond_wait(&l->cv, &l->mu);
    }
  }
  pthread_mutex_unlock(&l->mu);
  return NULL;
}

lab_status lab_loader_new(const lab_dataset *ds, const int *items, int n_items, const lab_loader_cfg *cfg,
                          lab_loader **out, lab_error *err) {
  *out = NULL;
  lab_status st = lab_transform_cfg_check(&cfg->tf, err);
  if (st != LAB_STATUS_OK) return st;
  if (cfg->batch <= 0 || cfg->prefetch < 1)
    return lab_error_set(err, LAB_ERR_CONFIG, "loader: batch %d and prefetch %d must be >= 1", cfg->batch,
                         cfg->prefetch);
  if (cfg->shard_n && (cfg->shard_n < 0 || cfg->shard_offset < 0 || cfg->shard_offset + cfg->shard_n > cfg->batch ||
                       !cfg->drop_last))
    return lab_error_set(err, LAB_ERR_CONFIG, "loader: shard [%d, %d) of a batch of %d%s", cfg->shard_offset,
                         cfg->shard_offset + cfg->shard_n, cfg->batch,
                         cfg->drop_last ? "" : " needs drop_last");
  if (!items) n_items = ds->n;
  for (int i = 0; items && i < n_items; i++)
    if (items[i] < 0 || items[i] >= ds->n)
      return lab_error_set(err, LAB_ERR_USAGE, "loader: item %d is index %d, outside dataset '%s' of %d",
                           i, items[i], ds->source, ds->n);
  int bpe = cfg->drop_last ? n_items / cfg->batch : (n_items + cfg->batch - 1) / cfg->batch;
  if (bpe <= 0)
    return lab_error_set(err, LAB_ERR_CONFIG, "loader: %d items make no batch of %d%s", n_items,
                         cfg->batch, cfg->drop_last ? " (drop_last)" : "");
  lab_loader *l = lab_xcalloc(1, sizeof *l);
  l->ds = ds;
  l->cfg = *cfg;
  l->n_items = n_items;
  l->bpe = bpe;
  l->n_slots = cfg->threaded ? cfg->prefetch + 1 : 1;
  l->sample_floats = (size_t)cfg->tf.c * (size_t)cfg->tf.h * (size_t)cfg->tf.w;
  l->perm_epoch = -1;
  l->items = lab_xmalloc((size_t)n_items * sizeof(int));
  for (int i = 0; i < n_items; i++) l->items[i] = items ? items[i] : i;
  l->perm = lab_xmalloc((size_t)n_items * sizeof(int));
  const int slot_n = cfg->shard_n ? cfg->shard_n : cfg->batch; /* samples a slot holds */
  size_t per_slot = (size_t)slot_n * l->sample_floats;
  l->xbuf = lab_trymalloc((size_t)l->n_slots * per_slot * sizeof(float));
  l->ybuf = lab_xmalloc((size_t)l->n_slots * (size_t)slot_n * sizeof(int32_t));
  l->sbuf = lab_xmalloc((size_t)l->n_slots * (size_t)slot_n * sizeof(int32_t));
  l->slots = lab_xcalloc((size_t)l->n_slots, sizeof(lab_batch));
  lab_transform_ws_init(&l->ws, &cfg->tf);
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->cv, NULL);
  if (!l->xbuf) {
    st = lab_error_set(err, LAB_ERR_NOMEM, "loader: cannot allocate %d batch buffers of %.1f MiB",
                       l->n_slots, per_slot * sizeof(float) / 1048576.0);
    lab_loader_free(l);
    return st;
  }
  for (int s = 0; s < l->n_slots; s++) {
    l->slots[s].x = l->xbuf + (size_t)s * per_slot;
    l->slots[s].y = l->ybuf + (size_t)s * slot_n;
    l->slots[s].sample = l->sbuf + (size_t)s * slot_n;
  }
  if (cfg->threaded) {
    if (pthread_create(&l->thread, NULL, worker_main, l) != 0) {
      lab_loader_free(l);
      return lab_error_set(err, LAB_ERR_STATE, "loader: cannot start the prefetch thread");
    }
    l->has_thread = 1;
  }
  *out = l;
  return LAB_STATUS_OK;
}

int lab_loader_batches_per_epoch(const lab_loader *l) { return l->bpe; }
int lab_loader_n_items(const lab_loader *l) { return l->n_items; }

const lab_batch *lab_loader_next(lab_loader *l) {
  if (!l->has_thread) {
    int64_t k = l->next++;
    render(l, k);
    return &l->slots[k % l->n_slots];
  }
  pthread_mutex_lock(&l->mu);
  while (l->produced <= l->next) pthread_cond_wait(&l->cv, &l->mu);
  int64_t k = l->next++;
  pthread_cond_broadcast(&l->cv); /* a slot came free for the worker */
  pthread_mutex_unlock(&l->mu);
  return &l->slots[k % l->n_slots];
}

void lab_loader_tell(const lab_loader *l, int *epoch, int *batch) {
  /* next only changes in the caller's own thread, so no lock is needed to read it. */
  *epoch = (int)(l->next / l->bpe);
  *batch = (int)(l->next % l->bpe);
}

lab_status lab_loader_seek(lab_loader *l, int epoch, int batch, lab_error *err) {
  if (epoch < 0 || batch < 0 || batch >= l->bpe)
    return lab_error_set(err, LAB_ERR_USAGE, "loader: position (epoch %d, batch %d) outside [0, %d) batches",
                         epoch, batch, l->bpe);
  pthread_mutex_lock(&l->mu);
  l->next = (int64_t)epoch * l->bpe + batch;
  l->produced = l->next;
  l->gen++;
  pthread_cond_broadcast(&l->cv);
  pthread_mutex_unlock(&l->mu);
  return LAB_STATUS_OK;
}

void lab_loader_batch_items(const lab_loader *l, int epoch, int batch, int *idx, int *n_out) {
  LAB_ASSERT(epoch >= 0 && batch >= 0 && batch < l->bpe, "position (%d, %d) outside %d batches", epoch,
             batch, l->bpe);
  int *perm = lab_xmalloc((size_t)l->n_items * sizeof(int));
  epoch_order(l, epoch, perm);
  *n_out = batch_size_at(l, batch);
  for (int j = 0; j < *n_out; j++) idx[j] = l->items[perm[batch * l->cfg.batch + j]];
  free(perm);
}

void lab_loader_free(lab_loader *l) {
  if (!l) return;
  if (l->has_thread) {
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
  }
  pthread_cond_destroy(&l->cv);
  pthread_mutex_destroy(&l->mu);
  lab_transform_ws_free(&l->ws);
  free(l->items);
  free(l->perm);
  free(l->xbuf);
  free(l->ybuf);
  free(l->sbuf);
  free(l->slots);
  free(l);
}
