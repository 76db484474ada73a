/* test_augment.c: the bilinear resize against hand-worked PyTorch values
 * (F.interpolate(mode="bilinear", align_corners=False)), normalisation, channel conversion,
 * flip, padded crop, RandomResizedCrop's boxes and fallback, the evaluation centre crop, and
 * determinism of the per-sample randomness. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lab/augment.h"
#include "testutil.h"

/* Renders a single-channel uint8 image through cfg's deterministic view. */
static void render_eval(const lab_transform_cfg *cfg, const uint8_t *px, int c, int h, int w, float *out) {
  lab_image im = {c, h, w, px};
  lab_transform_ws ws;
  lab_transform_ws_init(&ws, cfg);
  lab_view v;
  lab_transform_view(cfg, h, w, NULL, &v);
  lab_transform_render(cfg, &im, &v, &ws, out);
  lab_transform_ws_free(&ws);
}

static void scale255(float *v, int n) {
  for (int i = 0; i < n; i++) v[i] /= 255.0f;
}

static void test_resize_hand(void **state) {
  (void)state;
  lab_transform_cfg cfg;
  /* 2x2 -> 3x3: scale 2/3, source rows/cols at -1/6 (clamped to 0), 1/2, 7/6 (last pixel).
   * torch: [[0, 50, 100], [100, 85, 70], [200, 120, 40]]. */
  const uint8_t a[4] = {0, 100, 200, 40};
  float out[16], want[16] = {0, 50, 100, 100, 85, 70, 200, 120, 40};
  lab_transform_cfg_default(&cfg, 1, 3, 3);
  render_eval(&cfg, a, 1, 2, 2, out);
  scale255(want, 9);
  assert_close(out, want, 9, 1e-6, 1e-6, "2x2 -> 3x3");
  /* 2x2 -> 2x5: columns at 0 (clamped), 0.1, 0.5, 0.9, 1.3 (last). torch: [[0, 10, 50, 90, 100],
   * [200, 184, 120, 56, 40]]. */
  const float want25[10] = {0, 10, 50, 90, 100, 200, 184, 120, 56, 40};
  memcpy(want, want25, sizeof want25);
  lab_transform_cfg_default(&cfg, 1, 2, 5);
  render_eval(&cfg, a, 1, 2, 2, out);
  scale255(want, 10);
  assert_close(out, want, 10, 1e-6, 1e-6, "2x2 -> 2x5");
  /* 4x4 (10 * i) -> 2x2: source at 0.5 and 2.5, i.e. 2x2 block means: [[25, 45], [105, 125]]. */
  uint8_t b[16];
  for (int i = 0; i < 16; i++) b[i] = (uint8_t)(10 * i);
  const float want22[4] = {25, 45, 105, 125};
  memcpy(want, want22, sizeof want22);
  lab_transform_cfg_default(&cfg, 1, 2, 2);
  render_eval(&cfg, b, 1, 4, 4, out);
  scale255(want, 4);
  assert_close(out, want, 4, 1e-6, 1e-6, "4x4 -> 2x2");
  /* same size: the identity */
  lab_transform_cfg_default(&cfg, 1, 4, 4);
  render_eval(&cfg, b, 1, 4, 4, out);
  for (int i = 0; i < 16; i++) want[i] = b[i] / 255.0f;
  assert_close(out, want, 16, 1e-7, 0, "identity");
}

static void test_normalise_and_channels(void **state) {
  (void)state;
  lab_transform_cfg cfg;
  const uint8_t g[4] = {0, 51, 102, 255};
  float out[12], want[12];
  /* grey -> 3 channels, each with its own mean/std */
  lab_transform_cfg_default(&cfg, 3, 2, 2);
  const float mean[3] = {0.5f, 0.2f, 0.0f}, stdv[3] = {0.5f, 0.25f, 2.0f};
  memcpy(cfg.mean, mean, sizeof mean);
  memcpy(cfg.std, stdv, sizeof stdv);
  render_eval(&cfg, g, 1, 2, 2, out);
  for (int k = 0; k < 3; k++)
    for (int q = 0; q < 4; q++) want[k * 4 + q] = (g[q] / 255.0f - mean[k]) / stdv[k];
  assert_close(out, want, 12, 1e-5, 1e-5, "grey to 3 normalised");
  /* colour -> grey by luma */
  const uint8_t rgb[12] = {255, 0, 10, 20, 0, 255, 30, 40, 0, 0, 255, 60};
  lab_transform_cfg_default(&cfg, 1, 2, 2);
  render_eval(&cfg, rgb, 3, 2, 2, out);
  for (int q = 0; q < 4; q++) want[q] = (0.299f * rgb[q] + 0.587f * rgb[4 + q] + 0.114f * rgb[8 + q]) / 255.0f;
  assert_close(out, want, 4, 1e-6, 1e-5, "colour to grey");
  /* colour -> colour keeps the planes */
  lab_transform_cfg_default(&cfg, 3, 2, 2);
  render_eval(&cfg, rgb, 3, 2, 2, out);
  for (int q = 0; q < 12; q++) want[q] = rgb[q] / 255.0f;
  assert_close(out, want, 12, 1e-7, 0, "colour planes");
}

static void test_flip_and_padded_crop(void **state) {
  (void)state;
  enum { H = 3, W = 4 };
  uint8_t px[H * W];
  for (int i = 0; i < H * W; i++) px[i] = (uint8_t)(1 + 20 * i);
  lab_image im = {1, H, W, px};
  lab_transform_cfg cfg;
  lab_transform_cfg_default(&cfg, 1, H, W);
  cfg.mean[0] = 0.25f;
  cfg.std[0] = 0.5f;
  lab_transform_ws ws;
  lab_transform_ws_init(&ws, &cfg);
  float out[H * W], want[H * W];
  const float fill = (0.0f - 0.25f) / 0.5f; /* padding is pixel value 0 */
  lab_view v;
  /* shift only: out(y, x) = in(y + 1, x - 2) */
  lab_view_crop(0, 0, H, W, &v);
  v.dy = 1;
  v.dx = -2;
  lab_transform_render(&cfg, &im, &v, &ws, out);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      int sy = y + 1, sx = x - 2;
      want[y * W + x] = (sy >= 0 && sy < H && sx >= 0 && sx < W) ? (px[sy * W + sx] / 255.0f - 0.25f) / 0.5f : fill;
    }
  assert_close(out, want, H * W, 1e-6, 1e-6, "padded crop");
  /* flip after the shift: out(y, x) = shifted(y, W - 1 - x) */
  v.flip = 1;
  float flipped[H * W];
  lab_transform_render(&cfg, &im, &v, &ws, flipped);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) want[y * W + x] = out[y * W + (W - 1 - x)];
  assert_close(flipped, want, H * W, 0, 0, "flip");
  /* an integer crop resized at scale 1 is the crop's pixels */
  lab_transform_cfg c2;
  lab_transform_cfg_default(&c2, 1, 2, 2);
  lab_transform_ws ws2;
  lab_transform_ws_init(&ws2, &c2);
  lab_view_crop(1, 2, 2, 2, &v);
  lab_transform_render(&c2, &im, &v, &ws2, out);
  const float crop[4] = {px[1 * W + 2] / 255.0f, px[1 * W + 3] / 255.0f, px[2 * W + 2] / 255.0f,
                         px[2 * W + 3] / 255.0f};
  assert_close(out, crop, 4, 1e-7, 0, "crop");
  lab_transform_ws_free(&ws);
  lab_transform_ws_free(&ws2);
}

static void test_rrc_boxes(void **state) {
  (void)state;
  const float scale[2] = {0.08f, 1.0f}, ratio[2] = {3.0f / 4.0f, 4.0f / 3.0f};
  lab_rng rng;
  lab_rng_seed(&rng, 11);
  int box[4];
  double min_frac = 1, max_frac = 0;
  for (int t = 0; t < 2000; t++) {
    lab_rrc_box(100, 160, scale, ratio, 10, &rng, box);
    assert_true(box[0] >= 0 && box[1] >= 0 && box[2] > 0 && box[3] > 0);
    assert_true(box[0] + box[2] <= 100 && box[1] + box[3] <= 160);
    double frac = (double)box[2] * box[3] / (100.0 * 160.0), r = (double)box[3] / box[2];
    /* rounding w and h to integers moves area and ratio a little beyond the drawn values */
    assert_true(frac > 0.08 * 0.95 && frac < 1.0001);
    assert_true(r > 0.75 * 0.93 && r < 4.0 / 3.0 * 1.07);
    if (frac < min_frac) min_frac = frac;
    if (frac > max_frac) max_frac = frac;
  }
  assert_true(min_frac < 0.1 && max_frac > 0.6); /* the whole scale range is used */
  /* every attempt fails (scale > 1): torchvision's centre-crop fallback */
  const float impossible[2] = {2.0f, 3.0f};
  lab_rrc_box(10, 30, impossible, ratio, 10, &rng, box); /* wide: h = 10, w = round(10 * 4/3) */
  assert_int_equal(box[0], 0);
  assert_int_equal(box[1], 8);
  assert_int_equal(box[2], 10);
  assert_int_equal(box[3], 13);
  lab_rrc_box(30, 10, impossible, ratio, 10, &rng, box); /* tall: w = 10, h = round(10 / 0.75) */
  assert_int_equal(box[0], 8);
  assert_int_equal(box[1], 0);
  assert_int_equal(box[2], 13);
  assert_int_equal(box[3], 10);
  lab_rrc_box(12, 14, impossible, ratio, 10, &rng, box); /* ratio inside the range: whole image */
  assert_int_equal(box[2], 12);
  assert_int_equal(box[3], 14);
  assert_int_equal(box[0] + box[1], 0);
}

static void test_eval_centre_crop(void **state) {
  (void)state;
  lab_transform_cfg cfg;
  uint8_t px[8 * 8];
  for (int i = 0; i < 64; i++) px[i] = (uint8_t)(3 * i);
  float out[8], want[8];
  /* eval_crop 0.5 on an 8x8 source and 4x4 output: resize to 8 (none), centre crop at 2 */
  lab_transform_cfg_default(&cfg, 1, 4, 4);
  cfg.eval_crop = 0.5f;
  float o16[16], w16[16];
  render_eval(&cfg, px, 1, 8, 8, o16);
  for (int y = 0; y < 4; y++)
    for (int x = 0; x < 4; x++) w16[y * 4 + x] = px[(y + 2) * 8 + x + 2] / 255.0f;
  assert_close(o16, w16, 16, 1e-6, 1e-6, "centre crop without resize");
  /* a 4x8 source, 2x2 output, eval_crop 1: Resize(2) gives 2x4 (2x2 block means), then the
   * centre crop keeps resized columns 1 and 2 */
  lab_transform_cfg_default(&cfg, 1, 2, 2);
  cfg.eval_crop = 1.0f;
  render_eval(&cfg, px, 1, 4, 8, out);
  for (int y = 0; y < 2; y++)
    for (int x = 0; x < 2; x++) {
      int r0 = 2 * y, c0 = 2 * (x + 1);
      want[y * 2 + x] = (px[r0 * 8 + c0] + px[r0 * 8 + c0 + 1] + px[(r0 + 1) * 8 + c0] + px[(r0 + 1) * 8 + c0 + 1]) / 4.0f / 255.0f;
    }
  assert_close(out, want, 4, 1e-6, 1e-6, "resize then centre crop");
  /* a fractional scale: 5x9 source, 3x3 output, eval_crop 0.875 -> Resize(3) = 3x5, centre
   * crop at column 1. Values from torch: F.interpolate(bilinear, align_corners=False) then
   * the slice [0:3, 1:4]. */
  uint8_t q[5 * 9];
  for (int y = 0; y < 5; y++)
    for (int x = 0; x < 9; x++) q[y * 9 + x] = (uint8_t)((y * 31 + x * 17 * x) % 256);
  const float torch_ref[9] = {95.3333f, 26.3333f, 124.1333f, 147.0f, 78.0f, 175.8f, 164.5333f, 129.6667f, 176.2666f};
  float w9[9], o9[9];
  for (int i = 0; i < 9; i++) w9[i] = torch_ref[i] / 255.0f;
  lab_transform_cfg_default(&cfg, 1, 3, 3);
  cfg.eval_crop = 0.875f;
  render_eval(&cfg, q, 1, 5, 9, o9);
  assert_close(o9, w9, 9, 1e-6, 1e-5, "torch resize + centre crop");
}

static void test_determinism(void **state) {
  (void)state;
  enum { H = 20, W = 24, OH = 16, OW = 16 };
  uint8_t px[3 * H * W];
  lab_rng rng;
  lab_rng_seed(&rng, 5);
  for (int i = 0; i < 3 * H * W; i++) px[i] = (uint8_t)lab_rng_below(&rng, 256);
  lab_image im = {3, H, W, px};
  lab_transform_cfg cfg;
  lab_transform_cfg_default(&cfg, 3, OH, OW);
  cfg.train = 1;
  cfg.random_resized_crop = 1;
  cfg.pad = 2;
  cfg.hflip = 1;
  lab_error err;
  assert_int_equal(lab_transform_cfg_check(&cfg, &err), LAB_STATUS_OK);
  lab_transform_ws ws;
  lab_transform_ws_init(&ws, &cfg);
  static float a[3 * OH * OW], b[3 * OH * OW];
  int differ_epoch = 0, differ_index = 0, flips = 0;
  for (int idx = 0; idx < 20; idx++) {
    lab_transform_sample(&cfg, &im, 99, 3, idx, &ws, a);
    lab_transform_sample(&cfg, &im, 99, 3, idx, &ws, b);
    assert_memory_equal(a, b, sizeof a); /* same (seed, epoch, index): bit-identical */
    lab_transform_sample(&cfg, &im, 99, 4, idx, &ws, b);
    differ_epoch += memcmp(a, b, sizeof a) != 0;
    lab_transform_sample(&cfg, &im, 99, 3, idx + 1000, &ws, b);
    differ_index += memcmp(a, b, sizeof a) != 0;
    lab_rng r = lab_sample_rng(99, 3, (uint64_t)idx);
    lab_view v;
    lab_transform_view(&cfg, H, W, &r, &v);
    flips += v.flip;
    assert_true(v.dy >= -2 && v.dy <= 2 && v.dx >= -2 && v.dx <= 2);
  }
  assert_true(differ_epoch >= 18 && differ_index >= 18);
  assert_true(flips > 2 && flips < 18); /* p = 0.5 */
  /* evaluation ignores the seed */
  cfg.train = 0;
  lab_transform_sample(&cfg, &im, 1, 0, 0, &ws, a);
  lab_transform_sample(&cfg, &im, 2, 7, 0, &ws, b);
  assert_memory_equal(a, b, sizeof a);
  lab_transform_ws_free(&ws);
  /* bad configurations are refused by name */
  cfg.std[1] = 0;
  assert_int_equal(lab_transform_cfg_check(&cfg, &err), LAB_ERR_CONFIG);
  assert_non_null(strstr(err.msg, "std"));
  cfg.std[1] = 1;
  cfg.c = 2;
  assert_int_equal(lab_transform_cfg_check(&cfg, &err), LAB_ERR_CONFIG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_resize_hand),    cmocka_unit_test(test_normalise_and_channels),
      cmocka_unit_test(test_flip_and_padded_crop), cmocka_unit_test(test_rrc_boxes),
      cmocka_unit_test(test_eval_centre_crop), cmocka_unit_test(test_determinism),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
