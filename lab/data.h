/* data.h: datasets held in memory as uint8 images + int labels, their readers, and the
 * deterministic train/validation split.
 *
 * Images stay uint8 (C, H, W) in memory, back to back: Fashion-MNIST train is 47 MB this way
 * (188 MB as float). Conversion to float NCHW batches happens per batch in augment.c.
 * Readers (one file each): data_idx.c (IDX raw or .gz: MNIST, Fashion-MNIST), data_cifar.c
 * (CIFAR-10/100 binary), data_folder.c (one sub-folder per class, PNG/JPEG; ImageNet-style).
 * Every reader error is a lab_status with a message that names the file and what is wrong.
 *
 * Shape letters: N images, C channels, H W height/width of one image.
 */
#ifndef LAB_DATA_H
#define LAB_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "lab/status.h"

/* Where Debian's dataset-fashion-mnist installs the embedded default dataset. */
#define LAB_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

typedef struct lab_dataset {
  int n, c;             /* images, channels (1 or 3) */
  int h, w;             /* common size of every image, or 0 when sizes vary (image folders) */
  uint8_t *pixels;      /* all images, each (C, H, W), back to back */
  size_t *offset;       /* NULL for a common size; else n byte offsets into pixels */
  int32_t *sizes;       /* NULL for a common size; else 2n: h, w of image i at [2i], [2i+1] */
  int32_t *labels;      /* n labels in [0, n_classes) */
  int n_classes;
  char **class_names;   /* n_classes strings, or NULL when the format does not name them */
  char source[512];     /* what it was read from (for messages) */
} lab_dataset;

/* A read-only view of one image: data is (C, H, W) uint8. */
typedef struct lab_image {
  int c, h, w;
  const uint8_t *data;
} lab_image;

/* === the in-memory dataset === */
/* Allocates n images of a common (c, h, w), zeroed labels, no class names. */
lab_status lab_dataset_init_fixed(lab_dataset *ds, int n, int c, int h, int w, int n_classes,
                                  lab_error *err);
/* Copies n_classes names (the dataset owns the copies); names may be NULL (no-op). */
void lab_dataset_set_class_names(lab_dataset *ds, const char *const *names);
lab_image lab_dataset_image(const lab_dataset *ds, int i);
/* Frees everything and zeroes the struct; accepts a zeroed struct. */
void lab_dataset_free(lab_dataset *ds);
/* LAB_ERR_DATA naming ds->source and the first index whose label is outside [0, n_classes). */
lab_status lab_dataset_check_labels(const lab_dataset *ds, lab_error *err);
/* Per-channel mean and standard deviation of pixel/255 over the listed images (all when
 * idx is NULL), in double; for the normalisation of lab_transform_cfg. mean, std: (C). */
void lab_dataset_channel_stats(const lab_dataset *ds, const int *idx, int n_idx, float *mean,
                               float *std);

/* === validation split === */
/* Number held out: count when count > 0, else round(fraction * n); clamped to [0, n]. */
int lab_split_n_val(int n, int count, double fraction);
/* Holds out n_val of the indices 0..n-1, chosen by a seeded shuffle; both lists come back in
 * ascending order. train_idx: (n - n_val), val_idx: (n_val), out, caller-allocated. The same
 * (n, n_val, seed) always gives the same split. */
void lab_split_indices(int n, int n_val, uint64_t seed, int *train_idx, int *val_idx);

/* === readers === */
/* IDX images (magic 0x00000803, uint8, N x H x W) + labels (0x00000801, N), raw or gzip
 * (zlib reads both). n_classes > 0: labels must be below it; 0: max label + 1. */
lab_status lab_dataset_load_idx(const char *images_path, const char *labels_path, int n_classes,
                                lab_dataset *ds, lab_error *err);
/* CIFAR binary batches (raw or gzip). CIFAR-10 records: 1 label byte + 3072 pixel bytes;
 * CIFAR-100: coarse byte, fine byte, 3072 pixels (fine = 1: 100 fine classes, 0: 20 coarse). */
typedef enum lab_cifar_kind { LAB_CIFAR10 = 10, LAB_CIFAR100 = 100 } lab_cifar_kind;
lab_status lab_dataset_load_cifar(const char *const *paths, int n_paths, lab_cifar_kind kind,
                                  int fine, lab_dataset *ds, lab_error *err);
/* Image folder: one sub-folder per class (class = sorted sub-folder name, as torchvision's
 * ImageFolder), every non-hidden file in it a PNG or JPEG (told by content, not name).
 * channels 1 or 3: grey is replicated to 3, colour to 1 by ITU-R 601 luma (as PIL's "L"). */
lab_status lab_dataset_load_folder(const char *dir, int channels, lab_dataset *ds, lab_error *err);

/* A named dataset from a directory (dir NULL: the default for that name):
 *   "fashion-mnist" (default LAB_FASHION_MNIST_DIR), "mnist": {train,t10k}-{images-idx3,
 *       labels-idx1}-ubyte[.gz], 10 classes;
 *   "cifar-10": data_batch_{1..5}.bin / test_batch.bin (+ batches.meta.txt names);
 *   "cifar-100": train.bin / test.bin, fine labels (+ fine_label_names.txt);
 *   "folder": DIR/train and DIR/test (or DIR/val), 3 channels.
 * train: 1 the training set, 0 the test set. */
lab_status lab_dataset_load(const char *name, const char *dir, int train, lab_dataset *ds,
                            lab_error *err);

#endif
