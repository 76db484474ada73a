/* augment.h: one uint8 (C, H, W) image -> one normalised float (C, OH, OW) network input.
 *
 * Every transform is described by a lab_view (which source region is resized onto the output,
 * where the taps are clamped, the padded-crop shift and the flip), and one fused pass renders
 * it: bilinear resize (PyTorch's F.interpolate(mode="bilinear", align_corners=False,
 * antialias=False): half-pixel centres, source coordinate clamped at 0), grey -> 3 channels
 * (or colour -> grey by ITU-R 601 luma), random crop with zero padding, horizontal flip and
 * per-channel normalisation x = (p/255 - mean) / std.
 *
 * Training views (cfg.train = 1), in torchvision's order:
 *   random_resized_crop: RandomResizedCrop(scale [0.08, 1], ratio [3/4, 4/3], 10 attempts,
 *       then the centre-crop fallback) -- Inception-style, for image folders;
 *   else: resize of the whole image to OH x OW;
 *   then RandomCrop(OH x OW, padding=pad, fill=0) and RandomHorizontalFlip(p=0.5).
 * Evaluation views (cfg.train = 0):
 *   eval_crop <= 0: resize of the whole image to OH x OW (fixed-size datasets);
 *   0 < eval_crop <= 1: Resize(shorter side = floor(min(OH, OW) / eval_crop)) then
 *       CenterCrop(OH x OW), as torchvision's ImageNet evaluation (0.875 = 299 of 342).
 *
 * Determinism: the random draws of sample `index` in epoch `epoch` come from
 * lab_sample_rng(seed, epoch, index) alone, never from a shared stream, so prefetch threads
 * and batch order cannot change them.
 */
#ifndef LAB_AUGMENT_H
#define LAB_AUGMENT_H

#include <stdint.h>

#include "lab/data.h"
#include "lab/rng.h"
#include "lab/status.h"

typedef struct lab_transform_cfg {
  int c, h, w;             /* output (C, OH, OW); C is 1 or 3 */
  int train;               /* 1: random augmentation; 0: deterministic evaluation view */
  int random_resized_crop; /* train: Inception-style crop (else resize of the whole image) */
  float rrc_scale[2];      /* fraction of the source area: [0.08, 1] */
  float rrc_ratio[2];      /* aspect ratio w/h: [3/4, 4/3] */
  int rrc_attempts;        /* 10 */
  int pad;                 /* train: random crop with this zero padding; 0 = off */
  int hflip;               /* train: horizontal flip with p = 0.5 */
  float eval_crop;         /* eval: centre-crop fraction (see above); <= 0: whole-image resize */
  float mean[3], std[3];   /* per output channel, in pixel/255 units */
} lab_transform_cfg;

/* Output (c, h, w), evaluation mode, no augmentation, torchvision's RRC constants, whole-image
 * resize in evaluation, mean 0 / std 1 (x = p/255). */
void lab_transform_cfg_default(lab_transform_cfg *cfg, int c, int h, int w);
/* LAB_ERR_CONFIG for impossible values (naming the field). */
lab_status lab_transform_cfg_check(const lab_transform_cfg *cfg, lab_error *err);

/* Which part of the source becomes the output. */
typedef struct lab_view {
  double y0, x0, bh, bw; /* source region (pixels, may be fractional) mapped onto OH x OW */
  int cy0, cx0, cy1, cx1; /* bilinear taps clamped to rows [cy0, cy1], columns [cx0, cx1] */
  int dy, dx;             /* padded crop: out(y, x) = resized(y + dy, x + dx), 0-pixel outside */
  int flip;               /* mirror left-right after the crop */
} lab_view;

/* Per-thread scratch of the renderer (OH + OW tap tables), allocated once. */
typedef struct lab_transform_ws {
  int h, w;
  int *yi0, *yi1, *xi0, *xi1; /* tap indices; yi0[y] < 0: row outside (padding) */
  float *yl, *xl;             /* weights of the second tap */
} lab_transform_ws;

void lab_transform_ws_init(lab_transform_ws *ws, const lab_transform_cfg *cfg);
void lab_transform_ws_free(lab_transform_ws *ws);

/* The per-sample random stream: a hash of (seed, epoch, index), independent of thread timing. */
lab_rng lab_sample_rng(uint64_t seed, uint64_t epoch, uint64_t index);

/* torchvision's RandomResizedCrop.get_params on an H x W source: box = {top, left, h, w}. */
void lab_rrc_box(int src_h, int src_w, const float scale[2], const float ratio[2], int attempts,
                 lab_rng *rng, int box[4]);

/* The view of an src_h x src_w image: random when cfg->train (rng must then be non-NULL),
 * fixed otherwise. */
void lab_transform_view(const lab_transform_cfg *cfg, int src_h, int src_w, lab_rng *rng, lab_view *v);
/* A view that resizes the integer crop {top, left, h, w} of the source onto the output
 * (crop then resize, taps clamped inside the crop), no shift, no flip: the building block of
 * multi-crop evaluation. */
void lab_view_crop(int top, int left, int h, int w, lab_view *v);

/* Renders img through v. img: (C, H, W) uint8, in; out: (cfg->c, cfg->h, cfg->w), out. */
void lab_transform_render(const lab_transform_cfg *cfg, const lab_image *img, const lab_view *v,
                          lab_transform_ws *ws, float *out);

/* View from lab_sample_rng(seed, epoch, index), then render: what the loader does per sample. */
void lab_transform_sample(const lab_transform_cfg *cfg, const lab_image *img, uint64_t seed,
                          int epoch, int index, lab_transform_ws *ws, float *out);

#endif
