/* data.c: the in-memory dataset, the deterministic validation split, per-channel statistics,
 * and the named datasets (which files make "fashion-mnist", "cifar-10", ...).
 * The format readers live in data_idx.c, data_cifar.c and data_folder.c. */
#include "lab/data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lab/rng.h"

/* === the in-memory dataset === */
lab_status lab_dataset_init_fixed(lab_dataset *ds, int n, int c, int h, int w, int n_classes,
                                  lab_error *err) {
  memset(ds, 0, sizeof *ds);
  LAB_ASSERT(n >= 0 && c > 0 && h > 0 && w > 0, "bad dataset geometry %d x %dx%dx%d", n, c, h, w);
  size_t bytes = (size_t)n * (size_t)c * (size_t)h * (size_t)w;
  ds->pixels = lab_trymalloc(bytes);
  ds->labels = calloc(n > 0 ? (size_t)n : 1, sizeof(int32_t));
  if (!ds->pixels || !ds->labels) {
    lab_dataset_free(ds);
    return lab_error_set(err, LAB_ERR_NOMEM, "cannot allocate %.1f MiB for %d images of %dx%dx%d",
                         bytes / 1048576.0, n, c, h, w);
  }
  ds->n = n;
  ds->c = c;
  ds->h = h;
  ds->w = w;
  ds->n_classes = n_classes;
  return LAB_STATUS_OK;
}

void lab_dataset_set_class_names(lab_dataset *ds, const char *const *names) {
  if (!names || ds->n_classes <= 0) return;
  if (ds->class_names) {
    for (int k = 0; k < ds->n_classes; k++) free(ds->class_names[k]);
    free(ds->class_names);
  }
  ds->class_names = lab_xcalloc((size_t)ds->n_classes, sizeof(char *));
  for (int k = 0; k < ds->n_classes; k++) {
    size_t len = strlen(names[k]);
    ds->class_names[k] = lab_xmalloc(len + 1);
    memcpy(ds->class_names[k], names[k], len + 1);
  }
}

lab_image lab_dataset_image(const lab_dataset *ds, int i) {
  LAB_ASSERT(i >= 0 && i < ds->n, "image index %d outside [0, %d)", i, ds->n);
  lab_image im;
  im.c = ds->c;
  if (ds->offset) {
    im.h = ds->sizes[2 * i];
    im.w = ds->sizes[2 * i + 1];
    im.data = ds->pixels + ds->offset[i];
  } else {
    im.h = ds->h;
    im.w = ds->w;
    im.data = ds->pixels + (size_t)i * (size_t)ds->c * (size_t)ds->h * (size_t)ds->w;
  }
  return im;
}

void lab_dataset_free(lab_dataset *ds) {
  if (!ds) return;
  if (ds->class_names) {
    for (int k = 0; k < ds->n_classes; k++) free(ds->class_names[k]);
    free(ds->class_names);
  }
  free(ds->pixels);
  free(ds->offset);
  free(ds->sizes);
  free(ds->labels);
  memset(ds, 0, sizeof *ds);
}

lab_status lab_dataset_check_labels(const lab_dataset *ds, lab_error *err) {
  for (int i = 0; i < ds->n; i++) {
    if (ds->labels[i] < 0 || ds->labels[i] >= ds->n_classes)
      return lab_error_set(err, LAB_ERR_DATA, "'%s': label %d of item %d is outside [0, %d)",
                           ds->source, (int)ds->labels[i], i, ds->n_classes);
  }
  return LAB_STATUS_OK;
}

void lab_dataset_channel_stats(const lab_dataset *ds, const int *idx, int n_idx, float *mean,
                               float *std) {
  int n = idx ? n_idx : ds->n;
  for (int ch = 0; ch < ds->c; ch++) {
    /* Integer sums are exact (pixels < 256); the variance is formed once, in double. */
    uint64_t s = 0, s2 = 0, count = 0;
    for (int k = 0; k < n; k++) {
      lab_image im = lab_dataset_image(ds, idx ? idx[k] : k);
      size_t hw = (size_t)im.h * (size_t)im.w;
      const uint8_t *p = im.data + (size_t)ch * hw;
      for (size_t q = 0; q < hw; q++) {
        s += p[q];
        s2 += (uint64_t)p[q] * p[q];
      }
      count += hw;
    }
    double m = count ? (double)s / (double)count : 0.0;
    double v = count ? (double)s2 / (double)count - m * m : 0.0;
    mean[ch] = (float)(m / 255.0);
    std[ch] = (float)(sqrt(v > 0 ? v : 0) / 255.0);
  }
}

/* === validation split === */
int lab_split_n_val(int n, int count, double fraction) {
  double v = count > 0 ? (double)count : floor(fraction * n + 0.5);
  if (v < 0) v = 0;
  if (v > n) v = n;
  return (int)v;
}

void lab_split_indices(int n, int n_val, uint64_t seed, int *train_idx, int *val_idx) {
  LAB_ASSERT(n_val >= 0 && n_val <= n, "n_val %d outside [0, %d]", n_val, n);
  /* A partial Fisher-Yates picks the held-out set; a mark array then emits both lists in
   * ascending order so the split does not reorder the data (the loader shuffles). */
  int *perm = lab_xmalloc((size_t)(n > 0 ? n : 1) * sizeof(int));
  unsigned char *held = lab_xcalloc((size_t)(n > 0 ? n : 1), 1);
  for (int i = 0; i < n; i++) perm[i] = i;
  lab_rng rng;
  lab_rng_seed(&rng, seed ^ 0x5EED5A11D47A0001ull);
  for (int i = 0; i < n_val; i++) {
    int j = i + (int)lab_rng_below(&rng, (uint32_t)(n - i));
    int t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
    held[perm[i]] = 1;
  }
  int nt = 0, nv = 0;
  for (int i = 0; i < n; i++) {
    if (held[i])
      val_idx[nv++] = i;
    else
      train_idx[nt++] = i;
  }
  free(perm);
  free(held);
}

/* === named datasets === */
static int file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int dir_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* dir/base, or dir/base.gz when only the compressed file is there. */
static void pick_file(char *out, size_t n, const char *dir, const char *base) {
  snprintf(out, n, "%s/%s", dir, base);
  if (file_exists(out)) return;
  char gz[4096];
  snprintf(gz, sizeof gz, "%s/%s.gz", dir, base);
  if (file_exists(gz)) snprintf(out, n, "%s", gz);
}

/* Reads up to n_classes lines of a names file (CIFAR's batches.meta.txt); silently keeps
 * the numeric classes when the optional file is absent or short. */
static void load_names_file(lab_dataset *ds, const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return;
  char **names = lab_xcalloc((size_t)ds->n_classes, sizeof(char *));
  char line[256];
  int k = 0;
  while (k < ds->n_classes && fgets(line, sizeof line, f)) {
    size_t len = strcspn(line, "\r\n");
    line[len] = 0;
    if (len == 0) continue;
    names[k] = lab_xmalloc(len + 1);
    memcpy(names[k], line, len + 1);
    k++;
  }
  fclose(f);
  if (k == ds->n_classes) lab_dataset_set_class_names(ds, (const char *const *)names);
  for (int i = 0; i < k; i++) free(names[i]);
  free(names);
}

static const char *const fashion_names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                              "Coat",        "Sandal",  "Shirt",    "Sneaker",
                                              "Bag",         "Ankle boot"};
static const char *const digit_names[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};

lab_status lab_dataset_load(const char *name, const char *dir, int train, lab_dataset *ds,
                            lab_error *err) {
  memset(ds, 0, sizeof *ds);
  char p1[4096], p2[4096];
  int fashion = strcmp(name, "fashion-mnist") == 0;
  if (fashion || strcmp(name, "mnist") == 0) {
    if (!dir) {
      if (!fashion) return lab_error_set(err, LAB_ERR_CONFIG, "dataset 'mnist' needs a directory");
      dir = LAB_FASHION_MNIST_DIR;
    }
    const char *pre = train ? "train" : "t10k";
    char base[64];
    snprintf(base, sizeof base, "%s-images-idx3-ubyte", pre);
    pick_file(p1, sizeof p1, dir, base);
    snprintf(base, sizeof base, "%s-labels-idx1-ubyte", pre);
    pick_file(p2, sizeof p2, dir, base);
    lab_status st = lab_dataset_load_idx(p1, p2, 10, ds, err);
    if (st != LAB_STATUS_OK) return st;
    lab_dataset_set_class_names(ds, fashion ? fashion_names : digit_names);
    return LAB_STATUS_OK;
  }
  if (strcmp(name, "cifar-10") == 0 || strcmp(name, "cifar-100") == 0) {
    if (!dir) return lab_error_set(err, LAB_ERR_CONFIG, "dataset '%s' needs a directory", name);
    int c100 = strcmp(name, "cifar-100") == 0;
    char paths[5][4096];
    const char *ptrs[5];
    int np = 0;
    if (c100) {
      pick_file(paths[np], sizeof paths[np], dir, train ? "train.bin" : "test.bin");
      np++;
    } else if (train) {
      for (int b = 1; b <= 5; b++, np++) {
        char base[64];
        snprintf(base, sizeof base, "data_batch_%d.bin", b);
        pick_file(paths[np], sizeof paths[np], dir, base);
      }
    } else {
      pick_file(paths[np], sizeof paths[np], dir, "test_batch.bin");
      np++;
    }
    for (int i = 0; i < np; i++) ptrs[i] = paths[i];
    lab_status st = lab_dataset_load_cifar(ptrs, np, c100 ? LAB_CIFAR100 : LAB_CIFAR10, 1, ds, err);
    if (st != LAB_STATUS_OK) return st;
    snprintf(p1, sizeof p1, "%s/%s", dir, c100 ? "fine_label_names.txt" : "batches.meta.txt");
    load_names_file(ds, p1);
    return LAB_STATUS_OK;
  }
  if (strcmp(name, "folder") == 0) {
    if (!dir) return lab_error_set(err, LAB_ERR_CONFIG, "dataset 'folder' needs a directory");
    snprintf(p1, sizeof p1, "%s/%s", dir, train ? "train" : "test");
    if (!train && !dir_exists(p1)) snprintf(p1, sizeof p1, "%s/val", dir);
    return lab_dataset_load_folder(p1, 3, ds, err);
  }
  return lab_error_set(err, LAB_ERR_CONFIG,
                       "unknown dataset '%s' (expected fashion-mnist, mnist, cifar-10, cifar-100 "
                       "or folder)",
                       name);
}
