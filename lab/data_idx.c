/* data_idx.c: the IDX format of MNIST and Fashion-MNIST (LeCun's page), raw or gzipped.
 *
 * Header: two zero bytes, a type byte (0x08 = unsigned byte), the number of dimensions, then
 * one big-endian uint32 per dimension. Images: 0x00000803, (N, H, W); labels: 0x00000801, (N).
 * zlib's gzread reads raw files unchanged, so one path serves both; a gzip stream cut short is
 * reported by gzerror as Z_BUF_ERROR and a file with too few bytes as a short read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "lab/data.h"

typedef struct idx_file {
  gzFile gz;
  const char *path;
  uint32_t dims[3];
  int ndim;
} idx_file;

static lab_status gz_fail(gzFile gz, const char *path, const char *what, size_t want, size_t got,
                          lab_error *err) {
  int zerr = 0;
  const char *zmsg = gzerror(gz, &zerr);
  if (zerr == Z_DATA_ERROR)
    return lab_error_set(err, LAB_ERR_DATA, "'%s': corrupt gzip data while reading %s (%s)", path,
                         what, zmsg);
  if (zerr == Z_ERRNO)
    return lab_error_set(err, LAB_ERR_IO, "'%s': read error in %s: %s", path, what,
                         strerror(errno));
  return lab_error_set(err, LAB_ERR_DATA, "'%s': truncated file: %s: expected %zu bytes, found %zu%s",
                       path, what, want, got, zerr == Z_BUF_ERROR ? " (gzip stream ends early)" : "");
}

/* Reads exactly n bytes or reports which part of the file was cut short. */
static lab_status gz_read_exact(gzFile gz, const char *path, const char *what, void *buf, size_t n,
                                lab_error *err) {
  size_t done = 0;
  while (done < n) {
    size_t chunk = n - done > (1u << 30) ? (1u << 30) : n - done;
    int r = gzread(gz, (unsigned char *)buf + done, (unsigned)chunk);
    if (r <= 0) return gz_fail(gz, path, what, n, done, err);
    done += (size_t)r;
  }
  return LAB_STATUS_OK;
}

static lab_status idx_open(idx_file *f, const char *path, int want_ndim, lab_error *err) {
  memset(f, 0, sizeof *f);
  f->path = path;
  errno = 0;
  f->gz = gzopen(path, "rb");
  if (!f->gz)
    return lab_error_set(err, LAB_ERR_IO, "cannot open '%s': %s", path,
                         errno ? strerror(errno) : "zlib could not allocate");
  unsigned char hdr[4];
  lab_status st = gz_read_exact(f->gz, path, "the IDX header", hdr, 4, err);
  if (st != LAB_STATUS_OK) return st;
  uint32_t magic = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
  uint32_t want = 0x00000800u | (uint32_t)want_ndim;
  if (magic != want)
    return lab_error_set(err, LAB_ERR_DATA,
                         "'%s': wrong magic number 0x%08x, expected 0x%08x (IDX %s file of unsigned "
                         "bytes)",
                         path, magic, want, want_ndim == 3 ? "images" : "labels");
  unsigned char d[12];
  st = gz_read_exact(f->gz, path, "the IDX dimensions", d, (size_t)want_ndim * 4, err);
  if (st != LAB_STATUS_OK) return st;
  f->ndim = want_ndim;
  for (int k = 0; k < want_ndim; k++) {
    const unsigned char *p = d + 4 * k;
    f->dims[k] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    /* IDX counts are uint32; keep them within int (and images within a sane size). */
    if (f->dims[k] > (k == 0 ? 0x7fffffffu : 65535u))
      return lab_error_set(err, LAB_ERR_DATA, "'%s': implausible dimension %d = %u", path, k,
                           f->dims[k]);
  }
  return LAB_STATUS_OK;
}

/* After the payload the file must end: extra bytes mean the header does not describe it. */
static lab_status idx_expect_end(idx_file *f, lab_error *err) {
  unsigned char extra;
  int r = gzread(f->gz, &extra, 1);
  if (r == 1)
    return lab_error_set(err, LAB_ERR_DATA, "'%s': file is longer than its IDX header says", f->path);
  int zerr = 0;
  gzerror(f->gz, &zerr);
  if (r < 0 || (zerr != Z_OK && zerr != Z_STREAM_END))
    return gz_fail(f->gz, f->path, "the end of the data", 0, 0, err);
  return LAB_STATUS_OK;
}

lab_status lab_dataset_load_idx(const char *images_path, const char *labels_path, int n_classes,
                                lab_dataset *ds, lab_error *err) {
  memset(ds, 0, sizeof *ds);
  idx_file fi = {0}, fl = {0};
  unsigned char *lab8 = NULL;
  lab_status st = idx_open(&fi, images_path, 3, err);
  if (st != LAB_STATUS_OK) goto done;
  st = idx_open(&fl, labels_path, 1, err);
  if (st != LAB_STATUS_OK) goto done;
  if (fi.dims[0] != fl.dims[0]) {
    st = lab_error_set(err, LAB_ERR_DATA, "'%s' holds %u images but '%s' holds %u labels",
                       images_path, fi.dims[0], labels_path, fl.dims[0]);
    goto done;
  }
  if (fi.dims[1] == 0 || fi.dims[2] == 0) {
    st = lab_error_set(err, LAB_ERR_DATA, "'%s': empty image size %ux%u", images_path, fi.dims[1],
                       fi.dims[2]);
    goto done;
  }
  int n = (int)fi.dims[0];
  st = lab_dataset_init_fixed(ds, n, 1, (int)fi.dims[1], (int)fi.dims[2], n_classes, err);
  if (st != LAB_STATUS_OK) goto done;
  snprintf(ds->source, sizeof ds->source, "%s", labels_path);
  size_t bytes = (size_t)n * fi.dims[1] * fi.dims[2];
  st = gz_read_exact(fi.gz, images_path, "the pixel data", ds->pixels, bytes, err);
  if (st == LAB_STATUS_OK) st = idx_expect_end(&fi, err);
  if (st != LAB_STATUS_OK) goto done;
  lab8 = lab_xmalloc((size_t)n);
  st = gz_read_exact(fl.gz, labels_path, "the labels", lab8, (size_t)n, err);
  if (st == LAB_STATUS_OK) st = idx_expect_end(&fl, err);
  if (st != LAB_STATUS_OK) goto done;
  int maxl = -1;
  for (int i = 0; i < n; i++) {
    ds->labels[i] = lab8[i];
    if (lab8[i] > maxl) maxl = lab8[i];
  }
  if (n_classes <= 0) ds->n_classes = maxl + 1;
  st = lab_dataset_check_labels(ds, err);
done:
  if (fi.gz) gzclose(fi.gz);
  if (fl.gz) gzclose(fl.gz);
  free(lab8);
  if (st != LAB_STATUS_OK) lab_dataset_free(ds);
  return st;
}
