/* augment.c: views (resize / crops / flip) and the fused renderer; see augment.h.
 * Mirrors torchvision.transforms (RandomResizedCrop, RandomCrop(padding), RandomHorizontalFlip,
 * Resize + CenterCrop, Normalize) on top of F.interpolate(bilinear, align_corners=False). */
#include "lab/augment.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void lab_transform_cfg_default(lab_transform_cfg *cfg, int c, int h, int w) {
  memset(cfg, 0, sizeof *cfg);
  cfg->c = c;
  cfg->h = h;
  cfg->w = w;
  cfg->rrc_scale[0] = 0.08f;
  cfg->rrc_scale[1] = 1.0f;
  cfg->rrc_ratio[0] = 3.0f / 4.0f;
  cfg->rrc_ratio[1] = 4.0f / 3.0f;
  cfg->rrc_attempts = 10;
  for (int k = 0; k < 3; k++) {
    cfg->mean[k] = 0.0f;
    cfg->std[k] = 1.0f;
  }
}

lab_status lab_transform_cfg_check(const lab_transform_cfg *cfg, lab_error *err) {
  if (cfg->c != 1 && cfg->c != 3)
    return lab_error_set(err, LAB_ERR_CONFIG, "transform: channels must be 1 or 3, got %d", cfg->c);
  if (cfg->h <= 0 || cfg->w <= 0 || cfg->h > 16384 || cfg->w > 16384)
    return lab_error_set(err, LAB_ERR_CONFIG, "transform: bad output size %dx%d", cfg->h, cfg->w);
  if (!(cfg->rrc_scale[0] > 0 && cfg->rrc_scale[0] <= cfg->rrc_scale[1]))
    return lab_error_set(err, LAB_ERR_CONFIG, "transform: rrc scale [%g, %g] must satisfy 0 < lo <= hi",
                         cfg->rrc_scale[0], cfg->rrc_scale[1]);
  if (!(cfg->rrc_ratio[0] > 0 && cfg->rrc_ratio[0] <= cfg->rrc_ratio[1]))
    return lab_error_set(err, LAB_ERR_CONFIG, "transform: rrc ratio [%g, %g] must satisfy 0 < lo <= hi",
                         cfg->rrc_ratio[0], cfg->rrc_ratio[1]);
  if (cfg->rrc_attempts < 0)
    return lab_error_set(err, LAB_ERR_CONFIG, "transform: rrc attempts %d < 0", cfg->rrc_attempts);
  if (cfg->pad < 0 || cfg->pad > cfg->h || cfg->pad > cfg->w)
    return lab_error_set(err, LAB_ERR_CONFIG, "transform: pad %d outside [0, %d]", cfg->pad,
                         cfg->h < cfg->w ? cfg->h : cfg->w);
  if (cfg->eval_crop > 1.0f)
    return lab_error_set(err, LAB_ERR_CONFIG, "transform: eval_crop %g > 1", cfg->eval_crop);
  for (int k = 0; k < cfg->c; k++)
    if (!(cfg->std[k] > 0) || !isfinite(cfg->mean[k]))
      return lab_error_set(err, LAB_ERR_CONFIG, "transform: channel %d needs std > 0 and a finite mean "
                           "(mean %g, std %g)", k, cfg->mean[k], cfg->std[k]);
  return LAB_STATUS_OK;
}

void lab_transform_ws_init(lab_transform_ws *ws, const lab_transform_cfg *cfg) {
  ws->h = cfg->h;
  ws->w = cfg->w;
  ws->yi0 = lab_xmalloc((size_t)cfg->h * sizeof(int));
  ws->yi1 = lab_xmalloc((size_t)cfg->h * sizeof(int));
  ws->yl = lab_xmalloc((size_t)cfg->h * sizeof(float));
  ws->xi0 = lab_xmalloc((size_t)cfg->w * sizeof(int));
  ws->xi1 = lab_xmalloc((size_t)cfg->w * sizeof(int));
  ws->xl = lab_xmalloc((size_t)cfg->w * sizeof(float));
}

void lab_transform_ws_free(lab_transform_ws *ws) {
  if (!ws) return;
  free(ws->yi0);
  free(ws->yi1);
  free(ws->yl);
  free(ws->xi0);
  free(ws->xi1);
  free(ws->xl);
  memset(ws, 0, sizeof *ws);
}

lab_rng lab_sample_rng(uint64_t seed, uint64_t epoch, uint64_t index) {
  lab_rng r;
  lab_rng_seed(&r, seed);
  lab_rng e = lab_rng_split(&r, epoch + 1);
  return lab_rng_split(&e, index + 1);
}

static float uniform_in(lab_rng *rng, float lo, float hi) { return lo + (hi - lo) * lab_rng_uniform(rng); }

void lab_rrc_box(int src_h, int src_w, const float scale[2], const float ratio[2], int attempts,
                 lab_rng *rng, int box[4]) {
  double area = (double)src_h * src_w;
  float lr0 = logf(ratio[0]), lr1 = logf(ratio[1]);
  for (int a = 0; a < attempts; a++) {
    double target = area * uniform_in(rng, scale[0], scale[1]);
    double aspect = exp(uniform_in(rng, lr0, lr1));
    /* Python's round() is half-to-even, as rint in the default rounding mode. */
    int w = (int)rint(sqrt(target * aspect));
    int h = (int)rint(sqrt(target / aspect));
    if (w > 0 && w <= src_w && h > 0 && h <= src_h) {
      box[0] = (int)lab_rng_below(rng, (uint32_t)(src_h - h + 1));
      box[1] = (int)lab_rng_below(rng, (uint32_t)(src_w - w + 1));
      box[2] = h;
      box[3] = w;
      return;
    }
  }
  /* Fallback: the centre crop of the whole image with the aspect ratio clamped to the range. */
  double in_ratio = (double)src_w / src_h;
  int w = src_w, h = src_h;
  if (in_ratio < ratio[0])
    h = (int)rint(w / (double)ratio[0]);
  else if (in_ratio > ratio[1])
    w = (int)rint(h * (double)ratio[1]);
  box[0] = (src_h - h) / 2;
  box[1] = (src_w - w) / 2;
  box[2] = h;
  box[3] = w;
}

void lab_view_crop(int top, int left, int h, int w, lab_view *v) {
  memset(v, 0, sizeof *v);
  v->y0 = top;
  v->x0 = left;
  v->bh = h;
  v->bw = w;
  v->cy0 = top;
  v->cx0 = left;
  v->cy1 = top + h - 1;
  v->cx1 = left + w - 1;
}

void lab_transform_view(const lab_transform_cfg *cfg, int src_h, int src_w, lab_rng *rng, lab_view *v) {
  if (cfg->train) {
    LAB_ASSERT(rng, "a training view needs an rng");
    if (cfg->random_resized_crop) {
      int box[4];
      lab_rrc_box(src_h, src_w, cfg->rrc_scale, cfg->rrc_ratio, cfg->rrc_attempts, rng, box);
      lab_view_crop(box[0], box[1], box[2], box[3], v);
    } else {
      lab_view_crop(0, 0, src_h, src_w, v);
    }
    if (cfg->pad > 0) { /* torchvision: top = randint(0, 2p + 1) in the padded image */
      v->dy = (int)lab_rng_below(rng, (uint32_t)(2 * cfg->pad + 1)) - cfg->pad;
      v->dx = (int)lab_rng_below(rng, (uint32_t)(2 * cfg->pad + 1)) - cfg->pad;
    }
    if (cfg->hflip) v->flip = lab_rng_uniform(rng) < 0.5f;
    return;
  }
  lab_view_crop(0, 0, src_h, src_w, v);
  if (cfg->eval_crop > 0) {
    /* Resize(s) then CenterCrop(OH, OW), written as one source region: resized pixel r lies at
     * source (r + 0.5) * H / HR - 0.5, so the crop starting at `top` covers
     * [top * H / HR, (top + OH) * H / HR); taps stay clamped to the whole image. */
    int s = (int)floor((cfg->h < cfg->w ? cfg->h : cfg->w) / (double)cfg->eval_crop);
    int hr, wr;
    if (src_h <= src_w) {
      hr = s;
      wr = (int)((double)s * src_w / src_h); /* torchvision truncates the long side */
    } else {
      wr = s;
      hr = (int)((double)s * src_h / src_w);
    }
    int top = (int)rint((hr - cfg->h) / 2.0), left = (int)rint((wr - cfg->w) / 2.0);
    v->y0 = top * (double)src_h / hr;
    v->x0 = left * (double)src_w / wr;
    v->bh = cfg->h * (double)src_h / hr;
    v->bw = cfg->w * (double)src_w / wr;
  }
}

/* Tap table of one axis: output o -> (i0, i1, weight of i1), or i0 = -1 in the padding. */
static void axis_taps(int n_out, double start, double len, int lo, int hi, int shift, int flip,
                      int *i0, int *i1, float *l) {
  double scale = len / n_out;
  for (int o = 0; o < n_out; o++) {
    int r = (flip ? n_out - 1 - o : o) + shift; /* position in the resized (unpadded) image */
    if (r < 0 || r >= n_out) {
      i0[o] = -1;
      i1[o] = -1;
      l[o] = 0;
      continue;
    }
    double src = start + (r + 0.5) * scale - 0.5;
    if (src < lo) src = lo;
    int a = (int)floor(src);
    if (a > hi) a = hi;
    i0[o] = a;
    i1[o] = a < hi ? a + 1 : hi;
    l[o] = (float)(src - a);
  }
}

void lab_transform_render(const lab_transform_cfg *cfg, const lab_image *img, const lab_view *v,
                          lab_transform_ws *ws, float *out) {
  LAB_ASSERT(ws->h == cfg->h && ws->w == cfg->w, "workspace for %dx%d used at %dx%d", ws->h, ws->w,
             cfg->h, cfg->w);
  LAB_ASSERT(v->cy0 >= 0 && v->cy1 < img->h && v->cx0 >= 0 && v->cx1 < img->w && v->cy0 <= v->cy1 &&
                 v->cx0 <= v->cx1,
             "view clamp [%d,%d]x[%d,%d] outside a %dx%d image", v->cy0, v->cy1, v->cx0, v->cx1, img->h,
             img->w);
  int OH = cfg->h, OW = cfg->w;
  axis_taps(OH, v->y0, v->bh, v->cy0, v->cy1, v->dy, 0, ws->yi0, ws->yi1, ws->yl);
  axis_taps(OW, v->x0, v->bw, v->cx0, v->cx1, v->dx, v->flip, ws->xi0, ws->xi1, ws->xl);
  size_t plane = (size_t)img->h * (size_t)img->w, out_plane = (size_t)OH * OW;
  /* x = (p/255 - mean) / std = p * a + b; the padding is pixel value 0, i.e. b. */
  float a[3], b[3];
  for (int oc = 0; oc < cfg->c; oc++) {
    a[oc] = 1.0f / (255.0f * cfg->std[oc]);
    b[oc] = -cfg->mean[oc] / cfg->std[oc];
  }
  /* Each source channel is sampled once per output pixel; a grey source feeds every output
   * channel and colour to grey mixes the three samples with PIL's luma weights. */
  int to_grey = cfg->c == 1 && img->c == 3;
  for (int y = 0; y < OH; y++) {
    size_t row = (size_t)y * OW;
    if (ws->yi0[y] < 0) {
      for (int oc = 0; oc < cfg->c; oc++)
        for (int x = 0; x < OW; x++) out[oc * out_plane + row + (size_t)x] = b[oc];
      continue;
    }
    float ly = ws->yl[y];
    size_t r0 = (size_t)ws->yi0[y] * img->w, r1 = (size_t)ws->yi1[y] * img->w;
    for (int x = 0; x < OW; x++) {
      size_t at = row + (size_t)x;
      if (ws->xi0[x] < 0) {
        for (int oc = 0; oc < cfg->c; oc++) out[oc * out_plane + at] = b[oc];
        continue;
      }
      float lx = ws->xl[x], s[3];
      int x0 = ws->xi0[x], x1 = ws->xi1[x];
      for (int sc = 0; sc < img->c; sc++) {
        const uint8_t *p = img->data + (size_t)sc * plane;
        float top = p[r0 + x0] + lx * (float)(p[r0 + x1] - p[r0 + x0]);
        float bot = p[r1 + x0] + lx * (float)(p[r1 + x1] - p[r1 + x0]);
        s[sc] = top + ly * (bot - top);
      }
      if (to_grey) {
        out[at] = (0.299f * s[0] + 0.587f * s[1] + 0.114f * s[2]) * a[0] + b[0];
      } else {
        for (int oc = 0; oc < cfg->c; oc++) out[oc * out_plane + at] = s[img->c == 1 ? 0 : oc] * a[oc] + b[oc];
      }
    }
  }
}

void lab_transform_sample(const lab_transform_cfg *cfg, const lab_image *img, uint64_t seed,
                          int epoch, int index, lab_transform_ws *ws, float *out) {
  lab_view v;
  if (cfg->train) {
    lab_rng rng = lab_sample_rng(seed, (uint64_t)epoch, (uint64_t)index);
    lab_transform_view(cfg, img->h, img->w, &rng, &v);
  } else {
    lab_transform_view(cfg, img->h, img->w, NULL, &v);
  }
  lab_transform_render(cfg, img, &v, ws, out);
}
