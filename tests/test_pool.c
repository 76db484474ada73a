/* test_pool.c: max / average / adaptive pooling: output sizes (floor, ceil_mode with
 * PyTorch's last-window rule, asymmetric padding, Inception-v3 and GoogLeNet cases), shape
 * errors, cost, hand forward/backward for max (padding = -inf, first maximum wins on ties)
 * and average (both count_include_pad conventions, ceil_mode windows past the padding),
 * adaptive bins, every pooling code path bit for bit against one reference, gradcheck
 * (max pool on inputs without near-ties) and accumulation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "lab/layers.h"

static lab_layer_cfg pool(lab_pool_kind kind, int k, int s, int pt, int pb, int pl, int pr, int ceil_mode,
                          int count_include_pad) {
  lab_layer_cfg c = {.ops = &lab_pool_ops};
  c.pool = (lab_pool_cfg){.kind = kind, .kh = k, .kw = k, .sh = s, .sw = s, .pt = pt, .pb = pb, .pl = pl,
                          .pr = pr, .ceil_mode = ceil_mode, .count_include_pad = count_include_pad};
  return c;
}

static int imin_t(int a, int b) { return a < b ? a : b; }
static int imax_t(int a, int b) { return a > b ? a : b; }

static lab_layer_cfg apool(int oh, int ow) {
  lab_layer_cfg c = {.ops = &lab_adaptive_pool_ops};
  c.apool = (lab_adaptive_pool_cfg){.oh = oh, .ow = ow};
  return c;
}

/* Output height (square input and kernel) or the status if shape() refuses. */
static int out_size(lab_layer_cfg c, int h) {
  lab_shape in = {2, h, h}, out;
  lab_error err;
  lab_status st = c.ops->shape(&c, &in, 1, &out, &err);
  if (st != LAB_STATUS_OK) return st;
  assert_int_equal(out.c, 2);
  assert_int_equal(out.h, out.w);
  return out.h;
}

/* n distinct values 0.05 apart, shuffled: no two entries of a window within 2 * eps. */
static void fill_distinct(float *x, size_t n, uint64_t seed) {
  lab_rng r;
  lab_rng_seed(&r, seed);
  for (size_t i = 0; i < n; i++) x[i] = ((float)i - (float)(n / 2)) * 0.05f;
  for (size_t i = n - 1; i > 0; i--) {
    size_t j = lab_rng_below(&r, (uint32_t)(i + 1));
    float t = x[i];
    x[i] = x[j];
    x[j] = t;
  }
}

/* === sizes and errors === */

static void test_output_sizes(void **state) {
  (void)state;
  /* Inception-v3: maxpool 3x3/2 147 -> 73, 71 -> 35; grid reductions 35 -> 17, 17 -> 8 */
  assert_int_equal(out_size(pool(LAB_POOL_MAX, 3, 2, 0, 0, 0, 0, 0, 1), 147), 73);
  assert_int_equal(out_size(pool(LAB_POOL_MAX, 3, 2, 0, 0, 0, 0, 0, 1), 71), 35);
  assert_int_equal(out_size(pool(LAB_POOL_MAX, 3, 2, 0, 0, 0, 0, 0, 1), 35), 17);
  assert_int_equal(out_size(pool(LAB_POOL_MAX, 3, 2, 0, 0, 0, 0, 0, 1), 17), 8);
  /* branch pool 3x3/1 pad 1 keeps the size; aux head 5x5/3 on 17 -> 5; 8x8 on 8 -> 1 */
  assert_int_equal(out_size(pool(LAB_POOL_AVG, 3, 1, 1, 1, 1, 1, 0, 1), 35), 35);
  assert_int_equal(out_size(pool(LAB_POOL_AVG, 5, 3, 0, 0, 0, 0, 0, 1), 17), 5);
  assert_int_equal(out_size(pool(LAB_POOL_AVG, 8, 8, 0, 0, 0, 0, 0, 1), 8), 1);
  /* GoogLeNet (torchvision) ceil_mode max pools: 112 -> 56 -> 28 -> 14, 2x2/2 on 14 -> 7 */
  assert_int_equal(out_size(pool(LAB_POOL_MAX, 3, 2, 0, 0, 0, 0, 1, 1), 112), 56);
  assert_int_equal(out_size(pool(LAB_POOL_MAX, 3, 2, 0, 0, 0, 0, 0, 1), 112), 55);
  assert_int_equal(out_size(pool(LAB_POOL_MAX, 3, 2, 0, 0, 0, 0, 1, 1), 56), 28);
  assert_int_equal(out_size(pool(LAB_POOL_MAX, 3, 2, 0, 0, 0, 0, 1, 1), 28), 14);
  assert_int_equal(out_size(pool(LAB_POOL_MAX, 2, 2, 0, 0, 0, 0, 1, 1), 14), 7);
  /* ceil_mode last-window rule: 2x2/2 pad 1 on 5: ceil(5/2) + 1 = 4, but window 3 would start
   * at 6 >= 5 + 1 (in the bottom padding only), so 3 */
  assert_int_equal(out_size(pool(LAB_POOL_MAX, 2, 2, 1, 1, 1, 1, 1, 1), 5), 3);
  assert_int_equal(out_size(pool(LAB_POOL_MAX, 2, 2, 1, 1, 1, 1, 0, 1), 5), 3);
  /* 3x3/2 pad 1 on 4: floor 2, ceil 3 (last window starts at 3 < 4 + 1) */
  assert_int_equal(out_size(pool(LAB_POOL_AVG, 3, 2, 1, 1, 1, 1, 0, 1), 4), 2);
  assert_int_equal(out_size(pool(LAB_POOL_AVG, 3, 2, 1, 1, 1, 1, 1, 1), 4), 3);
  /* TF SAME 3x3/2 on 8: out 4 with pad top 0, bottom 1 */
  assert_int_equal(out_size(pool(LAB_POOL_AVG, 3, 2, 0, 1, 0, 1, 0, 0), 8), 4);

  /* asymmetric geometry: 3x2 kernel, strides 1x2, on 5x6 */
  lab_layer_cfg c = pool(LAB_POOL_MAX, 3, 1, 1, 0, 0, 1, 0, 1);
  c.pool.kw = 2;
  c.pool.sw = 2;
  lab_shape in = {3, 5, 6}, out;
  lab_error err;
  assert_int_equal(lab_pool_ops.shape(&c, &in, 1, &out, &err), LAB_STATUS_OK);
  assert_true(lab_shape_eq(out, (lab_shape){3, 4, 3}));
}

static void test_shape_errors(void **state) {
  (void)state;
  lab_shape in[2] = {{64, 2, 2}, {64, 2, 2}}, out;
  lab_error err;
  lab_layer_cfg c = pool(LAB_POOL_MAX, 3, 1, 0, 0, 0, 0, 0, 1);
  assert_int_equal(lab_pool_ops.shape(&c, in, 1, &out, &err), LAB_ERR_SHAPE); /* 2 - 3 + 1 = 0 */
  assert_non_null(strstr(err.msg, "64x2x2"));
  assert_non_null(strstr(err.msg, "0x0"));
  assert_int_equal(lab_pool_ops.shape(&c, in, 2, &out, &err), LAB_ERR_SHAPE);
  lab_layer_cfg big_pad = pool(LAB_POOL_AVG, 3, 1, 2, 0, 0, 0, 0, 1); /* pad 2 > 3/2 */
  assert_int_equal(lab_pool_ops.shape(&big_pad, in, 1, &out, &err), LAB_ERR_SHAPE);
  assert_non_null(strstr(err.msg, "64x2x2"));
  lab_layer_cfg big_pad_r = pool(LAB_POOL_AVG, 2, 1, 0, 0, 0, 2, 0, 1); /* right pad 2 > 2/2 */
  assert_int_equal(lab_pool_ops.shape(&big_pad_r, in, 1, &out, &err), LAB_ERR_SHAPE);
  lab_layer_cfg neg_pad = pool(LAB_POOL_AVG, 2, 1, -1, 0, 0, 0, 0, 1);
  assert_int_equal(lab_pool_ops.shape(&neg_pad, in, 1, &out, &err), LAB_ERR_SHAPE);
  lab_layer_cfg zero_k = pool(LAB_POOL_MAX, 0, 1, 0, 0, 0, 0, 0, 1);
  assert_int_equal(lab_pool_ops.shape(&zero_k, in, 1, &out, &err), LAB_ERR_SHAPE);
  lab_layer_cfg zero_s = pool(LAB_POOL_MAX, 2, 0, 0, 0, 0, 0, 0, 1);
  assert_int_equal(lab_pool_ops.shape(&zero_s, in, 1, &out, &err), LAB_ERR_SHAPE);
  lab_layer_cfg bad_kind = pool((lab_pool_kind)7, 2, 1, 0, 0, 0, 0, 0, 1);
  assert_int_equal(lab_pool_ops.shape(&bad_kind, in, 1, &out, &err), LAB_ERR_CONFIG);
  lab_shape tall = {1, 1, 9};
  lab_layer_cfg ok = pool(LAB_POOL_MAX, 2, 2, 0, 0, 0, 0, 0, 1);
  assert_int_equal(lab_pool_ops.shape(&ok, &tall, 1, &out, &err), LAB_ERR_SHAPE); /* H: 1 < 2 */
  assert_non_null(strstr(err.msg, "1x1x9"));

  lab_layer_cfg a = apool(0, 1);
  assert_int_equal(lab_adaptive_pool_ops.shape(&a, in, 1, &out, &err), LAB_ERR_SHAPE);
  assert_non_null(strstr(err.msg, "64x2x2"));
  a = apool(1, 1);
  assert_int_equal(lab_adaptive_pool_ops.shape(&a, in, 2, &out, &err), LAB_ERR_SHAPE);
  a = apool(3, 5); /* larger than the input is allowed (overlapping bins), as in PyTorch */
  assert_int_equal(lab_adaptive_pool_ops.shape(&a, in, 1, &out, &err), LAB_STATUS_OK);
  assert_true(lab_shape_eq(out, (lab_shape){64, 3, 5}));
}

static void test_cost(void **state) {
  (void)state;
  lab_shape in = {3, 7, 7};
  lab_error err;
  lab_test_layer t;
  lab_cost k;
  lab_layer_cfg mx = pool(LAB_POOL_MAX, 3, 2, 0, 0, 0, 0, 0, 1); /* -> 3x3x3 */
  assert_int_equal(lab_test_layer_init(&t, &mx, &in, 1, 5, &err), LAB_STATUS_OK);
  lab_pool_ops.cost(&t.l, 5, &k);
  assert_int_equal(k.n_params, 0);
  assert_int_equal(k.n_buffers, 0);
  assert_int_equal(k.macs, 0);
  assert_int_equal(k.act_floats, 27);
  assert_int_equal(k.cache_floats, 5 * 27); /* one int32 argmax per output */
  assert_int_equal(k.scratch_floats, 0);
  lab_test_layer_free(&t);
  lab_layer_cfg av = pool(LAB_POOL_AVG, 3, 2, 0, 0, 0, 0, 0, 1);
  assert_int_equal(lab_test_layer_init(&t, &av, &in, 1, 5, &err), LAB_STATUS_OK);
  lab_pool_ops.cost(&t.l, 5, &k);
  assert_int_equal(k.act_floats, 27);
  assert_int_equal(k.cache_floats, 0);
  lab_test_layer_free(&t);
  lab_layer_cfg ad = apool(2, 3);
  assert_int_equal(lab_test_layer_init(&t, &ad, &in, 1, 5, &err), LAB_STATUS_OK);
  lab_adaptive_pool_ops.cost(&t.l, 5, &k);
  assert_int_equal(k.n_params, 0);
  assert_int_equal(k.macs, 0);
  assert_int_equal(k.act_floats, 18);
  assert_int_equal(k.cache_floats, 0);
  assert_int_equal(k.scratch_floats, 0);
  lab_test_layer_free(&t);
}

/* === max pool by hand === */

/* 1x4x4 input x[r][c] = sign * (4r + c + 1), 3x3/2 pad 1 ceil_mode -> 3x3. Window rows (and
 * columns) cover real indices {0,1}, {1,2,3}, {3}; the third starts at 3, inside the input. */
static void init_4x4(lab_test_layer *t, lab_layer_cfg c, float sign) {
  lab_shape in = {1, 4, 4};
  lab_error err;
  assert_int_equal(lab_test_layer_init(t, &c, &in, 1, 1, &err), LAB_STATUS_OK);
  assert_true(lab_shape_eq(t->l.out, (lab_shape){1, 3, 3}));
  for (int i = 0; i < 16; i++) t->x[0][i] = sign * (float)(i + 1);
}

static void test_max_hand(void **state) {
  (void)state;
  lab_test_layer t;
  init_4x4(&t, pool(LAB_POOL_MAX, 3, 2, 1, 1, 1, 1, 1, 1), 1.0f);
  lab_test_layer_forward(&t, 1);
  const float want[9] = {6, 8, 8, 14, 16, 16, 14, 16, 16};
  assert_close(t.y, want, 9, 0, 0, "max pool forward");
  for (int i = 0; i < 9; i++) t.dy[i] = 1.0f;
  lab_test_layer_backward(&t);
  /* each output sends its gradient to its argmax: 6 once, 8 and 14 twice, 16 four times */
  float want_dx[16] = {0};
  want_dx[5] = 1;
  want_dx[7] = 2;
  want_dx[13] = 2;
  want_dx[15] = 4;
  assert_close(t.dx[0], want_dx, 16, 0, 0, "max pool backward");
  lab_test_layer_free(&t);

  /* all negative: padding must act as -inf, not 0; the max is the top-left real pixel */
  init_4x4(&t, pool(LAB_POOL_MAX, 3, 2, 1, 1, 1, 1, 1, 1), -1.0f);
  lab_test_layer_forward(&t, 1);
  const float want_neg[9] = {-1, -2, -4, -5, -6, -8, -13, -14, -16};
  assert_close(t.y, want_neg, 9, 0, 0, "max pool forward, negative input");
  lab_test_layer_free(&t);
}

static void test_max_ties(void **state) {
  (void)state;
  /* 2x2/2 on 1x2x4: window 0 = {1 3 / 0 3} ties at flat 1 and 5; window 1 = {2 5 / 5 1} ties
   * at 3 and 6. The first in row-major order wins, as in PyTorch. */
  lab_shape in = {1, 2, 4};
  lab_error err;
  lab_test_layer t;
  lab_layer_cfg c = pool(LAB_POOL_MAX, 2, 2, 0, 0, 0, 0, 0, 1);
  assert_int_equal(lab_test_layer_init(&t, &c, &in, 1, 1, &err), LAB_STATUS_OK);
  const float x[8] = {1, 3, 2, 5, 0, 3, 5, 1};
  memcpy(t.x[0], x, sizeof x);
  lab_test_layer_forward(&t, 1);
  const float want[2] = {3, 5};
  assert_close(t.y, want, 2, 0, 0, "tied max");
  t.dy[0] = 10;
  t.dy[1] = 20;
  lab_test_layer_backward(&t);
  const float want_dx[8] = {0, 10, 0, 20, 0, 0, 0, 0};
  assert_close(t.dx[0], want_dx, 8, 0, 0, "ties: gradient to the first maximum");
  /* a NaN in a window wins (propagates), as PyTorch's CPU kernel */
  t.x[0][4] = NAN;
  lab_test_layer_forward(&t, 1);
  assert_true(isnan(t.y[0]));
  lab_test_layer_free(&t);
}

/* === average pool by hand === */

static void test_avg_hand(void **state) {
  (void)state;
  /* Same 4x4 / 3x3/2 pad 1 ceil. Row (and column) windows: padded sizes 3, 3, 2 (the last is
   * clipped at H + PB = 5), real sizes 2, 3, 1. Window sums 14 30 12 / 57 99 36 / 27 45 16. */
  const float include[9] = {14.0f / 9, 30.0f / 9, 12.0f / 6, 57.0f / 9, 99.0f / 9,
                            36.0f / 6, 27.0f / 6, 45.0f / 6, 16.0f / 4};
  const float exclude[9] = {14.0f / 4, 30.0f / 6, 12.0f / 2, 57.0f / 6, 99.0f / 9,
                            36.0f / 3, 27.0f / 2, 45.0f / 3, 16.0f / 1};
  for (int cip = 0; cip <= 1; cip++) {
    lab_test_layer t;
    init_4x4(&t, pool(LAB_POOL_AVG, 3, 2, 1, 1, 1, 1, 1, cip), 1.0f);
    lab_test_layer_forward(&t, 1);
    assert_close(t.y, cip ? include : exclude, 9, 1e-6, 1e-6, "avg pool 4x4 ceil_mode");
    /* backward: pixel (3, 3) lies in windows (1|2, 1|2) */
    for (int i = 0; i < 9; i++) t.dy[i] = 1.0f;
    lab_test_layer_backward(&t);
    float d33 = cip ? 1.0f / 9 + 2.0f / 6 + 1.0f / 4 : 1.0f / 9 + 2.0f / 3 + 1.0f;
    float d00 = cip ? 1.0f / 9 : 1.0f / 4;
    assert_close(&t.dx[0][15], &d33, 1, 1e-6, 1e-6, "avg pool dx[3][3]");
    assert_close(&t.dx[0][0], &d00, 1, 1e-6, 1e-6, "avg pool dx[0][0]");
    lab_test_layer_free(&t);
  }

  /* 3x3/1 pad 1 on 3x3 values 1..9: corner 12, edge 21, centre 45 */
  lab_shape in = {1, 3, 3};
  lab_error err;
  for (int cip = 0; cip <= 1; cip++) {
    lab_test_layer t;
    lab_layer_cfg c = pool(LAB_POOL_AVG, 3, 1, 1, 1, 1, 1, 0, cip);
    assert_int_equal(lab_test_layer_init(&t, &c, &in, 1, 1, &err), LAB_STATUS_OK);
    for (int i = 0; i < 9; i++) t.x[0][i] = (float)(i + 1);
    lab_test_layer_forward(&t, 0);
    const float inc[9] = {12.0f / 9, 21.0f / 9, 16.0f / 9, 27.0f / 9, 5, 33.0f / 9, 24.0f / 9, 39.0f / 9,
                          28.0f / 9};
    const float exc[9] = {3, 3.5f, 4, 4.5f, 5, 5.5f, 6, 6.5f, 7};
    assert_close(t.y, cip ? inc : exc, 9, 1e-6, 1e-6, "avg pool 3x3 pad 1");
    lab_test_layer_free(&t);
  }

  /* TF SAME asymmetric padding: 3x3/2 on 1x4x4, pad bottom/right 1 only -> 2x2; the last
   * window covers rows 2, 3 and one padded row: 6 real pixels of 9 */
  lab_shape in4 = {1, 4, 4};
  for (int cip = 0; cip <= 1; cip++) {
    lab_test_layer t;
    lab_layer_cfg c = pool(LAB_POOL_AVG, 3, 2, 0, 1, 0, 1, 0, cip);
    assert_int_equal(lab_test_layer_init(&t, &c, &in4, 1, 1, &err), LAB_STATUS_OK);
    assert_true(lab_shape_eq(t.l.out, (lab_shape){1, 2, 2}));
    for (int i = 0; i < 16; i++) t.x[0][i] = (float)(i + 1);
    lab_test_layer_forward(&t, 0);
    /* sums: rows {0,1,2} x cols {0,1,2} = 54; {0,1,2} x {2,3} = 45; {2,3} x {0,1,2} = 72;
     * {2,3} x {2,3} = 54 */
    const float inc[4] = {54.0f / 9, 45.0f / 9, 72.0f / 9, 54.0f / 9};
    const float exc[4] = {54.0f / 9, 45.0f / 6, 72.0f / 6, 54.0f / 4};
    assert_close(t.y, cip ? inc : exc, 4, 1e-6, 1e-6, "avg pool SAME padding");
    lab_test_layer_free(&t);
  }
}

/* === every code path against one reference, bit for bit ===
 * The reference is the plain definition in the pool's orders. Max: a window's taps row-major,
 * starting from -inf at its first real pixel, strict > or NaN replaces; backward adds dy to
 * the argmax, outputs in order. Average: a window sums its real taps row-major from 0;
 * backward, each output row i (ascending) hands dy / divisor to its window's pixels tap
 * column by tap column (ascending), into dx that already holds values. The layer picks a
 * padded plane (maps 4 to 7 wide), a per-window loop (narrower) or whole rows (wider); all
 * must equal the reference exactly. */

static float ref_divisor(const lab_pool_cfg *p, int h, int w, int h0, int w0) {
  const int rows = p->count_include_pad ? imin_t(h0 + p->kh, h + p->pb) - h0 : imin_t(h0 + p->kh, h) - imax_t(h0, 0);
  const int cols = p->count_include_pad ? imin_t(w0 + p->kw, w + p->pr) - w0 : imin_t(w0 + p->kw, w) - imax_t(w0, 0);
  return (float)rows * (float)cols;
}

static void ref_pool(const lab_pool_cfg *p, const float *x, int h, int w, int oh, int ow, float *y, const float *dy,
                     float *dx) {
  for (int i = 0; i < oh; i++)
    for (int j = 0; j < ow; j++) {
      const int h0 = i * p->sh - p->pt, w0 = j * p->sw - p->pl;
      float acc = p->kind == LAB_POOL_MAX ? -INFINITY : 0.0f;
      int at = imax_t(h0, 0) * w + imax_t(w0, 0);
      for (int a = imax_t(h0, 0); a < imin_t(h0 + p->kh, h); a++)
        for (int b = imax_t(w0, 0); b < imin_t(w0 + p->kw, w); b++) {
          const float v = x[a * w + b];
          if (p->kind == LAB_POOL_AVG) {
            acc += v;
          } else if (v > acc || v != v) {
            acc = v;
            at = a * w + b;
          }
        }
      if (p->kind == LAB_POOL_MAX) {
        y[i * ow + j] = acc;
        dx[at] += dy[i * ow + j];
      } else {
        y[i * ow + j] = acc / ref_divisor(p, h, w, h0, w0);
      }
    }
  if (p->kind == LAB_POOL_MAX) return;
  for (int i = 0; i < oh; i++) {
    const int h0 = i * p->sh - p->pt;
    for (int a = imax_t(h0, 0); a < imin_t(h0 + p->kh, h); a++)
      for (int b = 0; b < p->kw; b++)
        for (int j = 0; j < ow; j++) {
          const int col = j * p->sw - p->pl + b;
          if (col >= 0 && col < w) dx[a * w + col] += dy[i * ow + j] / ref_divisor(p, h, w, h0, j * p->sw - p->pl);
        }
  }
}

static void test_paths_exact(void **state) {
  (void)state;
  const struct {
    int h, w, k, s, pt, pb, pl, pr, ceil;
  } cases[] = {
      {7, 7, 3, 1, 1, 1, 1, 1, 0},   /* Inception 35x35 pool branch at 75x75 input: padded plane */
      {15, 15, 3, 2, 0, 0, 0, 0, 0}, /* the stem's last max pool at 75x75: padded, stride 2 */
      {3, 3, 3, 1, 1, 1, 1, 1, 0},   /* 17x17 modules at 75x75: per-window loop */
      {1, 1, 3, 1, 1, 1, 1, 1, 0},   /* 8x8 modules at 75x75 */
      {9, 5, 5, 1, 2, 1, 0, 2, 0},   /* asymmetric padding, 5x5 */
      {6, 4, 2, 1, 0, 1, 1, 0, 1},   /* even kernel, ceil_mode */
      {11, 12, 3, 2, 1, 1, 1, 1, 1}, /* stride 2, ceil_mode, padded */
      {8, 10, 3, 2, 0, 0, 0, 0, 0},  /* stride 2, padded: the last input column in no window */
      {12, 13, 3, 1, 1, 1, 1, 1, 0}, /* wide map: row form */
      {35, 35, 3, 1, 1, 1, 1, 1, 0}, /* the 35x35 modules at 299 */
      {20, 20, 3, 2, 0, 1, 0, 1, 0}, /* stride 2, wide: row form */
  };
  lab_rng rng;
  lab_rng_seed(&rng, 7);
  for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++)
    for (int variant = 0; variant < 3; variant++) { /* max, average excluding / including padding */
      const int h = cases[ci].h, w = cases[ci].w, batch = 3, nc = 2;
      const lab_pool_kind kind = variant == 0 ? LAB_POOL_MAX : LAB_POOL_AVG;
      lab_layer_cfg c = pool(kind, cases[ci].k, cases[ci].s, cases[ci].pt, cases[ci].pb, cases[ci].pl, cases[ci].pr,
                             cases[ci].ceil, variant == 2);
      lab_shape in = {nc, h, w};
      lab_error err;
      lab_test_layer t;
      assert_int_equal(lab_test_layer_init(&t, &c, &in, 1, batch, &err), LAB_STATUS_OK);
      const int oh = t.l.out.h, ow = t.l.out.w;
      const size_t nx = (size_t)batch * nc * h * w, ny = (size_t)batch * nc * oh * ow;
      lab_test_fill(t.x[0], nx, &rng, -1.0f, 1.0f);
      if (kind == LAB_POOL_MAX) /* ties (quarter steps), -inf and NaN */
        for (size_t i = 0; i < nx; i++) {
          t.x[0][i] = floorf(t.x[0][i] * 4.0f) / 4.0f;
          if (i % 17 == 5) t.x[0][i] = -INFINITY;
          if (i % 53 == 11) t.x[0][i] = NAN;
        }
      lab_test_fill(t.dy, ny, &rng, -1.0f, 1.0f);
      lab_test_fill(t.dx[0], nx, &rng, -1.0f, 1.0f); /* backward accumulates onto these */
      float *want_y = lab_xmalloc(ny * sizeof(float)), *want_dx = lab_xmalloc(nx * sizeof(float));
      memcpy(want_dx, t.dx[0], nx * sizeof(float));
      for (int q = 0; q < batch * nc; q++)
        ref_pool(&c.pool, t.x[0] + (size_t)q * h * w, h, w, oh, ow, want_y + (size_t)q * oh * ow,
                 t.dy + (size_t)q * oh * ow, want_dx + (size_t)q * h * w);
      lab_test_layer_forward(&t, 1);
      lab_test_layer_backward(&t);
      if (memcmp(t.y, want_y, ny * sizeof(float)) || memcmp(t.dx[0], want_dx, nx * sizeof(float)))
        fail_msg("pool case %zu (%s): forward or backward differs from the reference in some bit", ci,
                 variant == 0 ? "max" : variant == 1 ? "average" : "average, count_include_pad");
      free(want_y);
      free(want_dx);
      lab_test_layer_free(&t);
    }
}

/* === adaptive pool by hand === */

static void test_adaptive_hand(void **state) {
  (void)state;
  /* 1x5x3 -> 3x2. Row bins [0,2) [1,4) [3,5); column bins [0,2) [1,3). x[r][c] = 3r + c + 1,
   * so a bin's mean is 3 * mean(rows) + mean(cols) + 1. */
  lab_shape in = {1, 5, 3};
  lab_error err;
  lab_test_layer t;
  lab_layer_cfg c = apool(3, 2);
  assert_int_equal(lab_test_layer_init(&t, &c, &in, 1, 1, &err), LAB_STATUS_OK);
  for (int i = 0; i < 15; i++) t.x[0][i] = (float)(i + 1);
  lab_test_layer_forward(&t, 1);
  const float want[6] = {3, 4, 7.5f, 8.5f, 12, 13};
  assert_close(t.y, want, 6, 1e-6, 1e-6, "adaptive pool forward");
  for (int i = 0; i < 6; i++) t.dy[i] = 1.0f;
  lab_test_layer_backward(&t);
  /* dx[r][c] = (sum of 1/|row bin| over bins holding r) * (same over columns) */
  const float d11 = (0.5f + 1.0f / 3) * 1.0f, d00 = 0.25f, d42 = 0.25f, d30 = (1.0f / 3 + 0.5f) * 0.5f;
  assert_close(&t.dx[0][4], &d11, 1, 1e-6, 1e-6, "adaptive dx[1][1]");
  assert_close(&t.dx[0][0], &d00, 1, 1e-6, 1e-6, "adaptive dx[0][0]");
  assert_close(&t.dx[0][14], &d42, 1, 1e-6, 1e-6, "adaptive dx[4][2]");
  assert_close(&t.dx[0][9], &d30, 1, 1e-6, 1e-6, "adaptive dx[3][0]");
  lab_test_layer_free(&t);

  /* global average pool: 2 channels of 8x8 */
  lab_shape in8 = {2, 8, 8};
  lab_layer_cfg g = apool(1, 1);
  assert_int_equal(lab_test_layer_init(&t, &g, &in8, 1, 1, &err), LAB_STATUS_OK);
  for (int i = 0; i < 128; i++) t.x[0][i] = (float)(i + 1);
  lab_test_layer_forward(&t, 1);
  const float means[2] = {32.5f, 96.5f};
  assert_close(t.y, means, 2, 1e-5, 1e-6, "global average pool");
  lab_test_layer_free(&t);
}

/* === gradcheck and accumulation === */

static void run_check(lab_layer_cfg c, lab_shape in, int distinct) {
  lab_error err;
  lab_test_layer t;
  lab_status st = lab_test_layer_init(&t, &c, &in, 1, 2, &err);
  if (st != LAB_STATUS_OK) fprintf(stderr, "%s\n", err.msg);
  assert_int_equal(st, LAB_STATUS_OK);
  if (distinct) fill_distinct(t.x[0], lab_test_layer_in_numel(&t, 0), 11);
  lab_gradcheck_opts o = {.train = 1};
  assert_int_equal(lab_gradcheck(&t, &o), 0);
  assert_true(lab_check_accumulates(&t, 1));
  lab_test_layer_free(&t);
}

static void test_gradcheck(void **state) {
  (void)state;
  lab_shape in = {2, 7, 6};
  /* max: overlapping windows, ceil_mode, padding; inputs 0.05 apart so eps = 1e-2 never
   * changes an argmax */
  run_check(pool(LAB_POOL_MAX, 3, 2, 1, 1, 1, 1, 1, 1), in, 1);
  run_check(pool(LAB_POOL_MAX, 2, 1, 0, 1, 1, 0, 0, 1), in, 1);
  for (int cip = 0; cip <= 1; cip++) {
    run_check(pool(LAB_POOL_AVG, 3, 2, 1, 1, 1, 1, 1, cip), in, 0);
    run_check(pool(LAB_POOL_AVG, 3, 2, 0, 1, 1, 0, 0, cip), in, 0);
    run_check(pool(LAB_POOL_AVG, 3, 1, 1, 1, 1, 1, 0, cip), in, 0);
  }
  run_check(apool(3, 4), in, 0);
  run_check(apool(1, 1), in, 0);
  run_check(apool(9, 8), in, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_output_sizes),  cmocka_unit_test(test_shape_errors),
      cmocka_unit_test(test_cost),          cmocka_unit_test(test_max_hand),
      cmocka_unit_test(test_max_ties),      cmocka_unit_test(test_avg_hand),
      cmocka_unit_test(test_paths_exact),
      cmocka_unit_test(test_adaptive_hand), cmocka_unit_test(test_gradcheck),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
