/* data_cifar.c: the CIFAR-10 / CIFAR-100 "binary version" batches (Krizhevsky's page).
 *
 * A file is a run of fixed-size records: CIFAR-10 = 1 label byte + 3072 pixel bytes, CIFAR-100
 * = coarse label byte + fine label byte + 3072 pixel bytes. The pixels are already (C, H, W) =
 * (3, 32, 32), red plane first, so they are copied unchanged. Files may be gzipped. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "lab/data.h"

#define CIFAR_PIXELS 3072

/* Reads a whole (possibly gzipped) file; *buf is heap memory the caller frees. */
static lab_status read_all(const char *path, unsigned char **buf, size_t *len, lab_error *err) {
  *buf = NULL;
  *len = 0;
  errno = 0;
  gzFile gz = gzopen(path, "rb");
  if (!gz)
    return lab_error_set(err, LAB_ERR_IO, "cannot open '%s': %s", path,
                         errno ? strerror(errno) : "zlib could not allocate");
  size_t cap = 1 << 20, n = 0;
  unsigned char *b = lab_xmalloc(cap);
  for (;;) {
    if (cap - n < (1 << 16)) {
      cap *= 2;
      unsigned char *nb = realloc(b, cap);
      if (!nb) {
        free(b);
        gzclose(gz);
        return lab_error_set(err, LAB_ERR_NOMEM, "'%s': cannot grow the read buffer to %zu bytes",
                             path, cap);
      }
      b = nb;
    }
    int r = gzread(gz, b + n, (unsigned)(cap - n));
    if (r > 0) {
      n += (size_t)r;
      continue;
    }
    /* End of input: clean, cut short (a gzip stream that stops mid-way leaves Z_BUF_ERROR
     * pending), corrupt, or a system error. */
    int zerr = 0;
    const char *zmsg = gzerror(gz, &zerr);
    lab_status st = LAB_STATUS_OK;
    if (zerr == Z_BUF_ERROR)
      st = lab_error_set(err, LAB_ERR_DATA,
                         "'%s': truncated file (gzip stream ends early after %zu bytes)", path, n);
    else if (zerr == Z_ERRNO)
      st = lab_error_set(err, LAB_ERR_IO, "'%s': read error: %s", path, strerror(errno));
    else if (r < 0 || (zerr != Z_OK && zerr != Z_STREAM_END))
      st = lab_error_set(err, LAB_ERR_DATA, "'%s': corrupt gzip data (%s)", path, zmsg);
    if (st != LAB_STATUS_OK) {
      free(b);
      gzclose(gz);
      return st;
    }
    break;
  }
  gzclose(gz);
  *buf = b;
  *len = n;
  return LAB_STATUS_OK;
}

lab_status lab_dataset_load_cifar(const char *const *paths, int n_paths, lab_cifar_kind kind,
                                  int fine, lab_dataset *ds, lab_error *err) {
  memset(ds, 0, sizeof *ds);
  LAB_ASSERT(kind == LAB_CIFAR10 || kind == LAB_CIFAR100, "bad CIFAR kind %d", (int)kind);
  int n_label_bytes = kind == LAB_CIFAR10 ? 1 : 2;
  size_t rec = (size_t)n_label_bytes + CIFAR_PIXELS;
  int n_classes = kind == LAB_CIFAR10 ? 10 : (fine ? 100 : 20);
  int label_at = kind == LAB_CIFAR10 ? 0 : (fine ? 1 : 0);
  unsigned char **bufs = lab_xcalloc((size_t)(n_paths > 0 ? n_paths : 1), sizeof *bufs);
  size_t *lens = lab_xcalloc((size_t)(n_paths > 0 ? n_paths : 1), sizeof *lens);
  lab_status st = LAB_STATUS_OK;
  size_t total = 0;
  if (n_paths <= 0) {
    st = lab_error_set(err, LAB_ERR_USAGE, "no CIFAR files given");
    goto done;
  }
  /* Read and check every file before allocating the dataset. */
  for (int f = 0; f < n_paths; f++) {
    st = read_all(paths[f], &bufs[f], &lens[f], err);
    if (st != LAB_STATUS_OK) goto done;
    if (lens[f] == 0) {
      st = lab_error_set(err, LAB_ERR_DATA, "'%s': empty file, expected %zu-byte CIFAR-%d records",
                         paths[f], rec, (int)kind);
      goto done;
    }
    if (lens[f] % rec != 0) {
      st = lab_error_set(err, LAB_ERR_DATA,
                         "'%s': truncated file: %zu bytes is not a whole number of %zu-byte CIFAR-%d "
                         "records (the last one has %zu bytes)",
                         paths[f], lens[f], rec, (int)kind, lens[f] % rec);
      goto done;
    }
    size_t nrec = lens[f] / rec;
    for (size_t r = 0; r < nrec; r++) {
      int y = bufs[f][r * rec + (size_t)label_at];
      if (y >= n_classes) {
        st = lab_error_set(err, LAB_ERR_DATA, "'%s': label %d of record %zu is outside [0, %d)",
                           paths[f], y, r, n_classes);
        goto done;
      }
    }
    total += nrec;
  }
  if (total > 0x7fffffff) {
    st = lab_error_set(err, LAB_ERR_DATA, "'%s': too many records (%zu)", paths[0], total);
    goto done;
  }
  st = lab_dataset_init_fixed(ds, (int)total, 3, 32, 32, n_classes, err);
  if (st != LAB_STATUS_OK) goto done;
  snprintf(ds->source, sizeof ds->source, "%s%s", paths[0], n_paths > 1 ? " (and more)" : "");
  size_t i = 0;
  for (int f = 0; f < n_paths; f++) {
    for (size_t r = 0; r < lens[f] / rec; r++, i++) {
      const unsigned char *p = bufs[f] + r * rec;
      ds->labels[i] = p[label_at];
      memcpy(ds->pixels + i * CIFAR_PIXELS, p + n_label_bytes, CIFAR_PIXELS);
    }
  }
done:
  for (int f = 0; f < n_paths; f++) free(bufs[f]);
  free(bufs);
  free(lens);
  if (st != LAB_STATUS_OK) lab_dataset_free(ds);
  return st;
}
