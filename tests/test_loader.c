/* test_loader.c: epochs, batch sizes and labels, shuffling by (seed, epoch), determinism
 * whatever the prefetch depth, thread or consumer timing, and resuming from a saved position. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lab/loader.h"
#include "testutil.h"

enum { N = 50, S = 6 };

/* N images of 1 x S x S; pixel 0 of image i is i (so a sample identifies itself), the rest a
 * pattern; label i % 7. */
static void make_dataset(lab_dataset *ds) {
  lab_error err;
  assert_int_equal(lab_dataset_init_fixed(ds, N, 1, S, S, 7, &err), LAB_STATUS_OK);
  for (int i = 0; i < N; i++) {
    uint8_t *p = ds->pixels + (size_t)i * S * S;
    p[0] = (uint8_t)i;
    for (int q = 1; q < S * S; q++) p[q] = (uint8_t)(i * 5 + q * 3);
    ds->labels[i] = i % 7;
  }
}

static void test_epochs_and_batches(void **state) {
  (void)state;
  lab_dataset ds;
  make_dataset(&ds);
  lab_transform_cfg tf;
  lab_transform_cfg_default(&tf, 1, S, S); /* eval identity: x = p / 255 */
  lab_loader_cfg cfg;
  lab_loader_cfg_default(&cfg, 8, 1234, &tf);
  lab_loader *l;
  lab_error err;
  assert_int_equal(lab_loader_new(&ds, NULL, 0, &cfg, &l, &err), LAB_STATUS_OK);
  assert_int_equal(lab_loader_batches_per_epoch(l), 7); /* 6 x 8 + 2 kept */
  int order[2][N];
  for (int e = 0; e < 2; e++) {
    int seen[N] = {0}, pos = 0;
    for (int b = 0; b < 7; b++) {
      int te, tb;
      lab_loader_tell(l, &te, &tb);
      assert_int_equal(te, e);
      assert_int_equal(tb, b);
      const lab_batch *bt = lab_loader_next(l);
      assert_int_equal(bt->epoch, e);
      assert_int_equal(bt->index, b);
      assert_int_equal(bt->n, b < 6 ? 8 : 2);
      for (int j = 0; j < bt->n; j++) {
        int idx = bt->sample[j];
        assert_true(idx >= 0 && idx < N);
        seen[idx]++;
        order[e][pos++] = idx;
        assert_int_equal(bt->y[j], idx % 7);
        float want[S * S];
        for (int q = 0; q < S * S; q++) want[q] = ds.pixels[(size_t)idx * S * S + q] / 255.0f;
        assert_close(bt->x + (size_t)j * S * S, want, S * S, 1e-7, 0, "sample pixels");
      }
    }
    for (int i = 0; i < N; i++) assert_int_equal(seen[i], 1); /* every item once per epoch */
  }
  assert_memory_not_equal(order[0], order[1], sizeof order[0]); /* reshuffled per epoch */
  int te, tb;
  lab_loader_tell(l, &te, &tb);
  assert_int_equal(te, 2);
  assert_int_equal(tb, 0);
  lab_loader_free(l);

  /* drop_last, no shuffle, a subset of items */
  cfg.drop_last = 1;
  cfg.shuffle = 0;
  const int items[11] = {4, 9, 0, 33, 12, 5, 6, 7, 8, 48, 49};
  assert_int_equal(lab_loader_new(&ds, items, 11, &cfg, &l, &err), LAB_STATUS_OK);
  assert_int_equal(lab_loader_batches_per_epoch(l), 1);
  for (int e = 0; e < 2; e++) {
    const lab_batch *bt = lab_loader_next(l);
    assert_int_equal(bt->n, 8);
    assert_int_equal(bt->epoch, e);
    for (int j = 0; j < 8; j++) assert_int_equal(bt->sample[j], items[j]);
  }
  lab_loader_free(l);

  /* configuration errors */
  assert_int_equal(lab_loader_new(&ds, items, 5, &cfg, &l, &err), LAB_ERR_CONFIG); /* 5 < B, drop_last */
  assert_null(l);
  const int bad[2] = {1, N};
  assert_int_equal(lab_loader_new(&ds, bad, 2, &cfg, &l, &err), LAB_ERR_USAGE);
  cfg.batch = 0;
  assert_int_equal(lab_loader_new(&ds, NULL, 0, &cfg, &l, &err), LAB_ERR_CONFIG);
  lab_dataset_free(&ds);
}

/* Records n_batches batches (x, y, samples) from a loader built with the given knobs, sleeping
 * a pseudo-random few hundred microseconds between some calls to vary the timing. */
typedef struct record {
  float *x;
  int32_t *y, *s;
  int *n;
} record;

static void record_run(const lab_dataset *ds, const lab_loader_cfg *cfg, int n_batches, int jitter, record *r) {
  lab_loader *l;
  lab_error err;
  assert_int_equal(lab_loader_new(ds, NULL, 0, cfg, &l, &err), LAB_STATUS_OK);
  size_t per = (size_t)cfg->batch * cfg->tf.c * cfg->tf.h * cfg->tf.w;
  r->x = calloc((size_t)n_batches * per, sizeof(float));
  r->y = calloc((size_t)n_batches * cfg->batch, sizeof(int32_t));
  r->s = calloc((size_t)n_batches * cfg->batch, sizeof(int32_t));
  r->n = calloc((size_t)n_batches, sizeof(int));
  lab_rng rng;
  lab_rng_seed(&rng, (uint64_t)jitter);
  for (int b = 0; b < n_batches; b++) {
    if (jitter && lab_rng_below(&rng, 2)) {
      struct timespec ts = {0, (long)lab_rng_below(&rng, 400) * 1000};
      nanosleep(&ts, NULL);
    }
    const lab_batch *bt = lab_loader_next(l);
    r->n[b] = bt->n;
    memcpy(r->x + b * per, bt->x, (size_t)bt->n * per / cfg->batch * sizeof(float));
    memcpy(r->y + (size_t)b * cfg->batch, bt->y, (size_t)bt->n * sizeof(int32_t));
    memcpy(r->s + (size_t)b * cfg->batch, bt->sample, (size_t)bt->n * sizeof(int32_t));
  }
  lab_loader_free(l);
}

static void record_free(record *r) {
  free(r->x);
  free(r->y);
  free(r->s);
  free(r->n);
}

static void train_cfg(lab_loader_cfg *cfg, uint64_t seed) {
  lab_transform_cfg tf;
  lab_transform_cfg_default(&tf, 3, 8, 8); /* 6x6 grey -> 8x8x3, padded crop, flip */
  tf.train = 1;
  tf.pad = 2;
  tf.hflip = 1;
  tf.mean[0] = tf.mean[1] = tf.mean[2] = 0.3f;
  tf.std[0] = tf.std[1] = tf.std[2] = 0.4f;
  lab_loader_cfg_default(cfg, 8, seed, &tf);
}

static void test_determinism(void **state) {
  (void)state;
  lab_dataset ds;
  make_dataset(&ds);
  enum { NB = 17 }; /* 2 epochs + 3 batches */
  lab_loader_cfg cfg;
  train_cfg(&cfg, 77);
  size_t xbytes = (size_t)NB * 8 * 3 * 8 * 8 * sizeof(float), ibytes = (size_t)NB * 8 * sizeof(int32_t);
  record ref, r;
  cfg.threaded = 0;
  record_run(&ds, &cfg, NB, 0, &ref);
  const int knobs[4][2] = {{1, 1}, {1, 2}, {1, 5}, {1, 1}}; /* threaded, prefetch */
  for (int k = 0; k < 4; k++) {
    cfg.threaded = knobs[k][0];
    cfg.prefetch = knobs[k][1];
    record_run(&ds, &cfg, NB, k + 1, &r);
    assert_memory_equal(ref.n, r.n, NB * sizeof(int));
    assert_memory_equal(ref.s, r.s, ibytes);
    assert_memory_equal(ref.y, r.y, ibytes);
    assert_memory_equal(ref.x, r.x, xbytes); /* bit-identical inputs */
    record_free(&r);
  }
  /* the loader delivers what the order and the per-sample transform say */
  lab_loader *l;
  lab_error err;
  assert_int_equal(lab_loader_new(&ds, NULL, 0, &cfg, &l, &err), LAB_STATUS_OK);
  lab_transform_ws ws;
  lab_transform_ws_init(&ws, &cfg.tf);
  float one[3 * 8 * 8];
  for (int b = 0; b < NB; b++) {
    int e = b / 7, bi = b % 7, idx[8], n;
    lab_loader_batch_items(l, e, bi, idx, &n);
    assert_int_equal(n, ref.n[b]);
    for (int j = 0; j < n; j++) {
      assert_int_equal(idx[j], ref.s[b * 8 + j]);
      lab_image im = lab_dataset_image(&ds, idx[j]);
      lab_transform_sample(&cfg.tf, &im, cfg.seed, e, idx[j], &ws, one);
      assert_memory_equal(one, ref.x + ((size_t)b * 8 + j) * 3 * 8 * 8, sizeof one);
    }
  }
  lab_transform_ws_free(&ws);
  lab_loader_free(l);
  /* another seed: another order */
  train_cfg(&cfg, 78);
  record_run(&ds, &cfg, NB, 0, &r);
  assert_memory_not_equal(ref.s, r.s, ibytes);
  record_free(&r);
  record_free(&ref);
  lab_dataset_free(&ds);
}

static void test_resume(void **state) {
  (void)state;
  lab_dataset ds;
  make_dataset(&ds);
  enum { NB = 20 };
  lab_loader_cfg cfg;
  train_cfg(&cfg, 5);
  cfg.prefetch = 3;
  record ref;
  record_run(&ds, &cfg, NB, 0, &ref);
  size_t per = 8 * 3 * 8 * 8;
  lab_error err;
  /* an interrupted run: 9 batches, save the position, stop; a new loader seeks there */
  lab_loader *l;
  assert_int_equal(lab_loader_new(&ds, NULL, 0, &cfg, &l, &err), LAB_STATUS_OK);
  for (int b = 0; b < 9; b++) lab_loader_next(l);
  int e, bi;
  lab_loader_tell(l, &e, &bi);
  assert_int_equal(e, 1);
  assert_int_equal(bi, 2);
  lab_loader_free(l);
  assert_int_equal(lab_loader_new(&ds, NULL, 0, &cfg, &l, &err), LAB_STATUS_OK);
  assert_int_equal(lab_loader_seek(l, e, bi, &err), LAB_STATUS_OK);
  for (int b = 9; b < NB; b++) {
    const lab_batch *bt = lab_loader_next(l);
    assert_int_equal(bt->n, ref.n[b]);
    assert_memory_equal(bt->sample, ref.s + b * 8, (size_t)bt->n * sizeof(int32_t));
    assert_memory_equal(bt->x, ref.x + b * per, (size_t)bt->n * per / 8 * sizeof(float));
  }
  /* seeking back while batches are prefetched discards them */
  assert_int_equal(lab_loader_seek(l, 0, 3, &err), LAB_STATUS_OK);
  lab_loader_tell(l, &e, &bi);
  assert_int_equal(e * 7 + bi, 3);
  for (int b = 3; b < 6; b++) {
    const lab_batch *bt = lab_loader_next(l);
    assert_int_equal(bt->epoch * 7 + bt->index, b);
    assert_memory_equal(bt->x, ref.x + b * per, (size_t)bt->n * per / 8 * sizeof(float));
  }
  assert_int_equal(lab_loader_seek(l, 0, 7, &err), LAB_ERR_USAGE); /* batch beyond the epoch */
  assert_int_equal(lab_loader_seek(l, -1, 0, &err), LAB_ERR_USAGE);
  lab_loader_free(l);
  /* freeing a loader whose thread is still prefetching is clean */
  assert_int_equal(lab_loader_new(&ds, NULL, 0, &cfg, &l, &err), LAB_STATUS_OK);
  lab_loader_free(l);
  record_free(&ref);
  lab_dataset_free(&ds);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_epochs_and_batches),
      cmocka_unit_test(test_determinism),
      cmocka_unit_test(test_resume),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
