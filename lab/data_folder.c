/* data_folder.c: an image folder as torchvision's ImageFolder reads it: DIR/<class>/<image>,
 * classes = sub-folder names in sorted order (label = rank), images in sorted order.
 *
 * PNG through libpng's simplified API, JPEG through libjpeg(-turbo). Images keep their own
 * size (ImageNet-style data is cropped per sample by augment.c); when every image has the same
 * size the dataset is stored as a common-size one. Alpha is dropped and colour is turned into
 * grey (or grey into colour) as PIL's convert("RGB") / convert("L") do: alpha discarded, luma
 * with PIL's fixed-point ITU-R 601 weights. 16-bit PNGs and CMYK JPEGs are refused rather
 * than silently converted. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <png.h>

#include "lab/data.h"

/* === directory listing === */
typedef struct name_list {
  char **v;
  int n, cap;
} name_list;

static void names_free(name_list *l) {
  for (int i = 0; i < l->n; i++) free(l->v[i]);
  free(l->v);
  memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted non-hidden entries of dir that are directories (want_dir) or regular files. */
static lab_status list_dir(const char *dir, int want_dir, name_list *out, lab_error *err) {
  memset(out, 0, sizeof *out);
  DIR *d = opendir(dir);
  if (!d) return lab_error_set(err, LAB_ERR_IO, "cannot open folder '%s': %s", dir, strerror(errno));
  struct dirent *e;
  char path[4096];
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue; /* ".", "..", and hidden files such as .DS_Store */
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    struct stat st;
    if (stat(path, &st) != 0) continue;
    if (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) continue;
    if (out->n == out->cap) {
      out->cap = out->cap ? 2 * out->cap : 64;
      char **nv = realloc(out->v, (size_t)out->cap * sizeof(char *));
      LAB_ASSERT(nv, "out of memory listing '%s'", dir);
      out->v = nv;
    }
    size_t len = strlen(e->d_name);
    out->v[out->n] = lab_xmalloc(len + 1);
    memcpy(out->v[out->n++], e->d_name, len + 1);
  }
  closedir(d);
  if (out->n > 1) qsort(out->v, (size_t)out->n, sizeof(char *), cmp_str);
  return LAB_STATUS_OK;
}

/* === decoders: both return interleaved (H, W, nat) 8-bit pixels, nat = 1 or 3 === */
typedef struct decoded {
  unsigned char *px;
  int h, w, nat;
} decoded;

static lab_status decode_png(const char *path, decoded *out, lab_error *err) {
  png_image im;
  memset(&im, 0, sizeof im);
  im.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&im, path))
    return lab_error_set(err, LAB_ERR_DATA, "'%s': cannot read PNG: %s", path, im.message);
  if (im.format & PNG_FORMAT_FLAG_LINEAR) {
    png_image_free(&im);
    return lab_error_set(err, LAB_ERR_DATA,
                         "'%s': unsupported PNG bit depth 16 (only 8-bit or lower images are read)", path);
  }
  int color = (im.format & PNG_FORMAT_FLAG_COLOR) != 0;
  int alpha = (im.format & PNG_FORMAT_FLAG_ALPHA) != 0;
  /* Read alpha as a channel and drop it ourselves: the simplified API would composite it. */
  im.format = (color ? PNG_FORMAT_FLAG_COLOR : 0) | (alpha ? PNG_FORMAT_FLAG_ALPHA : 0);
  int ch = (color ? 3 : 1) + alpha;
  size_t n = (size_t)im.width * im.height;
  unsigned char *buf = lab_trymalloc(n * (size_t)ch);
  if (!buf) {
    png_image_free(&im);
    return lab_error_set(err, LAB_ERR_NOMEM, "'%s': cannot allocate a %ux%u image", path, im.width,
                         im.height);
  }
  if (!png_image_finish_read(&im, NULL, buf, 0, NULL)) {
    free(buf);
    return lab_error_set(err, LAB_ERR_DATA, "'%s': cannot decode PNG (corrupt or truncated): %s", path,
                         im.message);
  }
  out->nat = color ? 3 : 1;
  if (alpha) /* compact in place: drop every ch-th byte */
    for (size_t i = 0; i < n; i++)
      for (int k = 0; k < out->nat; k++) buf[i * (size_t)out->nat + (size_t)k] = buf[i * (size_t)ch + (size_t)k];
  out->px = buf;
  out->h = (int)im.height;
  out->w = (int)im.width;
  return LAB_STATUS_OK;
}

typedef struct jpeg_err {
  struct jpeg_error_mgr mgr;
  jmp_buf jump;
  char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void jpeg_on_error(j_common_ptr cinfo) {
  jpeg_err *e = (jpeg_err *)cinfo->err;
  (*cinfo->err->format_message)(cinfo, e->msg);
  longjmp(e->jump, 1);
}

/* Warnings (level -1, e.g. "Premature end of JPEG file") are remembered, not printed: a
 * truncated JPEG decodes to grey padding, which we refuse below. */
static void jpeg_on_message(j_common_ptr cinfo, int level) {
  jpeg_err *e = (jpeg_err *)cinfo->err;
  if (level < 0) {
    if (cinfo->err->num_warnings == 0) (*cinfo->err->format_message)(cinfo, e->msg);
    cinfo->err->num_warnings++;
  }
}

static lab_status decode_jpeg(const char *path, decoded *out, lab_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f) return lab_error_set(err, LAB_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  struct jpeg_decompress_struct cinfo;
  jpeg_err je;
  unsigned char *volatile buf = NULL;
  cinfo.err = jpeg_std_error(&je.mgr);
  je.mgr.error_exit = jpeg_on_error;
  je.mgr.emit_message = jpeg_on_message;
  je.msg[0] = 0;
  if (setjmp(je.jump)) {
    jpeg_destroy_decompress(&cinfo);
    fclose(f);
    free(buf);
    return lab_error_set(err, LAB_ERR_DATA, "'%s': cannot decode JPEG: %s", path, je.msg);
  }
  jpeg_create_decompress(&cinfo);
  jpeg_stdio_src(&cinfo, f);
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK ||
      cinfo.num_components == 4) {
    jpeg_destroy_decompress(&cinfo);
    fclose(f);
    return lab_error_set(err, LAB_ERR_DATA,
                         "'%s': unsupported JPEG colour space (CMYK/YCCK); only grey and RGB are read", path);
  }
  int grey = cinfo.jpeg_color_space == JCS_GRAYSCALE;
  cinfo.out_color_space = grey ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  int nat = (int)cinfo.output_components;
  size_t stride = (size_t)cinfo.output_width * (size_t)nat;
  buf = lab_trymalloc(stride * cinfo.output_height);
  if (!buf) {
    jpeg_destroy_decompress(&cinfo);
    fclose(f);
    return lab_error_set(err, LAB_ERR_NOMEM, "'%s': cannot allocate a %ux%u image", path,
                         cinfo.output_width, cinfo.output_height);
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = buf + (size_t)cinfo.output_scanline * stride;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  long warnings = je.mgr.num_warnings;
  out->h = (int)cinfo.output_height;
  out->w = (int)cinfo.output_width;
  out->nat = nat;
  jpeg_destroy_decompress(&cinfo);
  fclose(f);
  if (warnings > 0) {
    free(buf);
    return lab_error_set(err, LAB_ERR_DATA, "'%s': corrupt or truncated JPEG: %s", path, je.msg);
  }
  out->px = buf;
  return LAB_STATUS_OK;
}

static lab_status decode_file(const char *path, decoded *out, lab_error *err) {
  unsigned char sig[8] = {0};
  FILE *f = fopen(path, "rb");
  if (!f) return lab_error_set(err, LAB_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  size_t got = fread(sig, 1, sizeof sig, f);
  fclose(f);
  static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (got == 8 && memcmp(sig, png_sig, 8) == 0) return decode_png(path, out, err);
  if (got >= 3 && sig[0] == 0xFF && sig[1] == 0xD8 && sig[2] == 0xFF) return decode_jpeg(path, out, err);
  return lab_error_set(err, LAB_ERR_DATA, "'%s': unsupported image format (only PNG and JPEG are read)",
                       path);
}

/* (H, W, nat) interleaved -> (channels, H, W) planar, converting grey <-> colour. */
static void to_planar(const decoded *d, int channels, uint8_t *dst) {
  size_t hw = (size_t)d->h * (size_t)d->w;
  for (size_t q = 0; q < hw; q++) {
    const unsigned char *p = d->px + q * (size_t)d->nat;
    if (channels == d->nat) {
      for (int k = 0; k < channels; k++) dst[(size_t)k * hw + q] = p[k];
    } else if (channels == 3) { /* grey -> RGB */
      dst[q] = dst[hw + q] = dst[2 * hw + q] = p[0];
    } else { /* RGB -> L, PIL's rounding: (R*19595 + G*38470 + B*7471 + 0x8000) >> 16 */
      dst[q] = (uint8_t)((p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16);
    }
  }
}

/* === the folder reader === */
lab_status lab_dataset_load_folder(const char *dir, int channels, lab_dataset *ds, lab_error *err) {
  memset(ds, 0, sizeof *ds);
  LAB_ASSERT(channels == 1 || channels == 3, "channels must be 1 or 3, got %d", channels);
  name_list classes = {0}, files = {0};
  decoded d = {0};
  size_t cap_px = 0, used_px = 0;
  int cap_n = 0;
  char cdir[4096], path[4096 + 512]; /* + "/" + a file name (NAME_MAX 255) */
  lab_status st = list_dir(dir, 1, &classes, err);
  if (st != LAB_STATUS_OK) goto done;
  if (classes.n == 0) {
    st = lab_error_set(err, LAB_ERR_DATA, "'%s': no class sub-folders (expected DIR/<class>/<image>)", dir);
    goto done;
  }
  ds->c = channels;
  ds->n_classes = classes.n;
  snprintf(ds->source, sizeof ds->source, "%s", dir);
  for (int k = 0; k < classes.n; k++) {
    snprintf(cdir, sizeof cdir, "%s/%s", dir, classes.v[k]);
    names_free(&files);
    st = list_dir(cdir, 0, &files, err);
    if (st != LAB_STATUS_OK) goto done;
    if (files.n == 0) {
      st = lab_error_set(err, LAB_ERR_DATA, "'%s': class folder is empty (class %d of %d)", cdir, k,
                         classes.n);
      goto done;
    }
    for (int i = 0; i < files.n; i++) {
      snprintf(path, sizeof path, "%s/%s", cdir, files.v[i]);
      st = decode_file(path, &d, err);
      if (st != LAB_STATUS_OK) goto done;
      size_t bytes = (size_t)channels * (size_t)d.h * (size_t)d.w;
      if (used_px + bytes > cap_px || ds->n == cap_n) { /* amortised growth, load time only */
        while (used_px + bytes > cap_px) cap_px = cap_px ? 2 * cap_px : (1u << 20);
        if (ds->n == cap_n) cap_n = cap_n ? 2 * cap_n : 256;
        uint8_t *np = realloc(ds->pixels, cap_px);
        size_t *no = realloc(ds->offset, (size_t)cap_n * sizeof(size_t));
        int32_t *ns = realloc(ds->sizes, (size_t)cap_n * 2 * sizeof(int32_t));
        int32_t *nl = realloc(ds->labels, (size_t)cap_n * sizeof(int32_t));
        if (np) ds->pixels = np;
        if (no) ds->offset = no;
        if (ns) ds->sizes = ns;
        if (nl) ds->labels = nl;
        if (!np || !no || !ns || !nl) {
          st = lab_error_set(err, LAB_ERR_NOMEM, "'%s': out of memory after %d images (%.1f MiB)", dir,
                             ds->n, used_px / 1048576.0);
          goto done;
        }
      }
      to_planar(&d, channels, ds->pixels + used_px);
      ds->offset[ds->n] = used_px;
      ds->sizes[2 * ds->n] = d.h;
      ds->sizes[2 * ds->n + 1] = d.w;
      ds->labels[ds->n] = k;
      ds->n++;
      used_px += bytes;
      free(d.px);
      d.px = NULL;
    }
  }
  lab_dataset_set_class_names(ds, (const char *const *)classes.v);
  /* A folder of equal-size images (a CIFAR-like export) becomes a common-size dataset. */
  int same = 1;
  for (int i = 1; i < ds->n && same; i++)
    same = ds->sizes[2 * i] == ds->sizes[0] && ds->sizes[2 * i + 1] == ds->sizes[1];
  if (same) {
    ds->h = ds->sizes[0];
    ds->w = ds->sizes[1];
    free(ds->offset);
    free(ds->sizes);
    ds->offset = NULL;
    ds->sizes = NULL;
  }
done:
  free(d.px);
  names_free(&classes);
  names_free(&files);
  if (st != LAB_STATUS_OK) lab_dataset_free(ds);
  return st;
}
