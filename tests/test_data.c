/* test_data.c: the dataset readers (IDX raw/gz, CIFAR-10/100, PNG/JPEG folders), their error
 * messages, the named datasets, the validation split and channel statistics. Every fixture is
 * written by the test itself into a mkdtemp folder; the real Fashion-MNIST is read when
 * installed and the test is skipped otherwise. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <jpeglib.h>
#include <png.h>

#include "lab/data.h"
#include "testutil.h"

/* === fixture helpers === */
static char g_tmp[256];

static void rm_rf(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    DIR *d = opendir(path);
    if (d) {
      struct dirent *e;
      char sub[1024];
      while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        rm_rf(sub);
      }
      closedir(d);
    }
    rmdir(path);
  } else {
    unlink(path);
  }
}

static int setup_tmp(void **state) {
  (void)state;
  snprintf(g_tmp, sizeof g_tmp, "/tmp/lab_test_data_XXXXXX");
  return mkdtemp(g_tmp) ? 0 : -1;
}

static int teardown_tmp(void **state) {
  (void)state;
  rm_rf(g_tmp);
  return 0;
}

static const char *tmp_path(char *buf, const char *name) {
  snprintf(buf, 512, "%s/%s", g_tmp, name);
  return buf;
}

static void mkdir_p(const char *path) { assert_true(mkdir(path, 0755) == 0); }

static void write_bytes(const char *path, const void *data, size_t n, int gz) {
  if (gz) {
    gzFile f = gzopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(gzwrite(f, data, (unsigned)n), (int)n);
    assert_int_equal(gzclose(f), Z_OK);
  } else {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
  }
}

static size_t file_size(const char *path) {
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  return (size_t)st.st_size;
}

static void truncate_to(const char *path, size_t n) { assert_int_equal(truncate(path, (off_t)n), 0); }

static void put_be32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

static uint8_t idx_pixel(int i, int y, int x) { return (uint8_t)(i * 37 + y * 11 + x * 3 + 1); }

/* IDX images: n images of h x w with idx_pixel; extra appends junk bytes. */
static void write_idx_images(const char *path, int n, int h, int w, int gz, uint32_t magic, int extra) {
  size_t len = 16 + (size_t)n * h * w + (size_t)extra;
  unsigned char *b = calloc(len, 1);
  put_be32(b, magic);
  put_be32(b + 4, (uint32_t)n);
  put_be32(b + 8, (uint32_t)h);
  put_be32(b + 12, (uint32_t)w);
  for (int i = 0; i < n; i++)
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) b[16 + ((size_t)i * h + y) * w + x] = idx_pixel(i, y, x);
  write_bytes(path, b, len, gz);
  free(b);
}

static void write_idx_labels(const char *path, int n, const uint8_t *labels, int gz) {
  unsigned char *b = calloc(8 + (size_t)n, 1);
  put_be32(b, 0x00000801);
  put_be32(b + 4, (uint32_t)n);
  memcpy(b + 8, labels, (size_t)n);
  write_bytes(path, b, 8 + (size_t)n, gz);
  free(b);
}

/* The error's status and that its message names `needle` (a file) and `what`. */
static void expect_error(lab_status st, const lab_error *err, lab_status want, const char *needle,
                         const char *what) {
  if (getenv("LAB_TEST_SHOW_ERRORS")) fprintf(stderr, "  [%s] %s\n", lab_status_str(st), err->msg);
  if (st != want || !strstr(err->msg, needle) || (what && !strstr(err->msg, what)))
    fprintf(stderr, "got status %d (want %d), message: %s\n  expected to contain '%s' and '%s'\n", st, want,
            err->msg, needle, what ? what : "");
  assert_int_equal(st, want);
  assert_non_null(strstr(err->msg, needle));
  if (what) assert_non_null(strstr(err->msg, what));
}

/* === IDX === */
static void check_idx_dataset(const lab_dataset *ds, int n, int h, int w, const uint8_t *labels) {
  assert_int_equal(ds->n, n);
  assert_int_equal(ds->c, 1);
  assert_int_equal(ds->h, h);
  assert_int_equal(ds->w, w);
  for (int i = 0; i < n; i++) {
    lab_image im = lab_dataset_image(ds, i);
    assert_int_equal(im.h, h);
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) assert_int_equal(im.data[y * w + x], idx_pixel(i, y, x));
    assert_int_equal(ds->labels[i], labels[i]);
  }
}

static void test_idx_raw_and_gz(void **state) {
  (void)state;
  const uint8_t labels[5] = {3, 0, 4, 1, 3};
  char pi[512], pl[512];
  for (int gz = 0; gz <= 1; gz++) {
    tmp_path(pi, gz ? "a-images.gz" : "a-images");
    tmp_path(pl, gz ? "a-labels.gz" : "a-labels");
    write_idx_images(pi, 5, 3, 4, gz, 0x00000803, 0);
    write_idx_labels(pl, 5, labels, gz);
    lab_dataset ds;
    lab_error err;
    /* n_classes 0: inferred as max label + 1 */
    assert_int_equal(lab_dataset_load_idx(pi, pl, gz ? 7 : 0, &ds, &err), LAB_STATUS_OK);
    check_idx_dataset(&ds, 5, 3, 4, labels);
    assert_int_equal(ds.n_classes, gz ? 7 : 5);
    assert_null(ds.class_names);
    lab_dataset_free(&ds);
  }
}

static void test_idx_errors(void **state) {
  (void)state;
  const uint8_t labels[5] = {3, 0, 4, 1, 3};
  char pi[512], pl[512], px[512];
  lab_dataset ds;
  lab_error err;
  tmp_path(pi, "e-images");
  tmp_path(pl, "e-labels");
  write_idx_images(pi, 5, 3, 4, 0, 0x00000803, 0);
  write_idx_labels(pl, 5, labels, 0);

  /* missing file */
  tmp_path(px, "no-such-file");
  expect_error(lab_dataset_load_idx(px, pl, 0, &ds, &err), &err, LAB_ERR_IO, px, "No such file");
  assert_null(ds.pixels);
  /* wrong magic: a labels file where images are expected, and a wrong images magic */
  expect_error(lab_dataset_load_idx(pl, pl, 0, &ds, &err), &err, LAB_ERR_DATA, pl, "magic");
  tmp_path(px, "e-badmagic");
  write_idx_images(px, 5, 3, 4, 0, 0x00000903, 0);
  expect_error(lab_dataset_load_idx(px, pl, 0, &ds, &err), &err, LAB_ERR_DATA, px, "0x00000903");
  /* dimension mismatch: 4 labels for 5 images; the message names both files */
  tmp_path(px, "e-labels4");
  write_idx_labels(px, 4, labels, 0);
  expect_error(lab_dataset_load_idx(pi, px, 0, &ds, &err), &err, LAB_ERR_DATA, px, pi);
  /* truncated raw pixel data, truncated labels, and a file cut inside the header */
  tmp_path(px, "e-short");
  write_idx_images(px, 5, 3, 4, 0, 0x00000803, 0);
  truncate_to(px, file_size(px) - 7);
  expect_error(lab_dataset_load_idx(px, pl, 0, &ds, &err), &err, LAB_ERR_DATA, px, "truncated");
  tmp_path(px, "e-short-labels");
  write_idx_labels(px, 5, labels, 0);
  truncate_to(px, file_size(px) - 1);
  expect_error(lab_dataset_load_idx(pi, px, 0, &ds, &err), &err, LAB_ERR_DATA, px, "truncated");
  tmp_path(px, "e-short-header");
  write_idx_images(px, 5, 3, 4, 0, 0x00000803, 0);
  truncate_to(px, 10);
  expect_error(lab_dataset_load_idx(px, pl, 0, &ds, &err), &err, LAB_ERR_DATA, px, "truncated");
  /* a gzip stream cut in the middle */
  tmp_path(px, "e-short.gz");
  write_idx_images(px, 200, 8, 8, 1, 0x00000803, 0);
  truncate_to(px, file_size(px) / 2);
  uint8_t many[200] = {0};
  char pl200[512];
  tmp_path(pl200, "e-labels200.gz");
  write_idx_labels(pl200, 200, many, 1);
  expect_error(lab_dataset_load_idx(px, pl200, 0, &ds, &err), &err, LAB_ERR_DATA, px, "truncated");
  /* trailing bytes the header does not account for */
  tmp_path(px, "e-long");
  write_idx_images(px, 5, 3, 4, 0, 0x00000803, 3);
  expect_error(lab_dataset_load_idx(px, pl, 0, &ds, &err), &err, LAB_ERR_DATA, px, "longer");
  /* labels out of range for the declared class count */
  expect_error(lab_dataset_load_idx(pi, pl, 4, &ds, &err), &err, LAB_ERR_DATA, pl, "label 4");
  assert_null(ds.pixels);
}

/* === CIFAR === */
static uint8_t cifar_pixel(int rec, int k) { return (uint8_t)(rec * 13 + k * 7); }

static void write_cifar(const char *path, int n, int label_bytes, const uint8_t *lab, int rec0, int gz) {
  size_t rec = (size_t)label_bytes + 3072;
  unsigned char *b = calloc(rec * (size_t)n, 1);
  for (int r = 0; r < n; r++) {
    for (int k = 0; k < label_bytes; k++) b[r * rec + (size_t)k] = lab[r * label_bytes + k];
    for (int k = 0; k < 3072; k++) b[r * rec + (size_t)label_bytes + (size_t)k] = cifar_pixel(rec0 + r, k);
  }
  write_bytes(path, b, rec * (size_t)n, gz);
  free(b);
}

static void test_cifar(void **state) {
  (void)state;
  char p1[512], p2[512];
  const uint8_t l10a[3] = {9, 0, 5}, l10b[2] = {1, 2};
  write_cifar(tmp_path(p1, "c10_a.bin"), 3, 1, l10a, 0, 0);
  write_cifar(tmp_path(p2, "c10_b.bin.gz"), 2, 1, l10b, 3, 1);
  const char *paths[2] = {p1, p2};
  lab_dataset ds;
  lab_error err;
  assert_int_equal(lab_dataset_load_cifar(paths, 2, LAB_CIFAR10, 1, &ds, &err), LAB_STATUS_OK);
  assert_int_equal(ds.n, 5);
  assert_int_equal(ds.c, 3);
  assert_int_equal(ds.h, 32);
  assert_int_equal(ds.w, 32);
  assert_int_equal(ds.n_classes, 10);
  const int want[5] = {9, 0, 5, 1, 2};
  for (int i = 0; i < 5; i++) {
    assert_int_equal(ds.labels[i], want[i]);
    lab_image im = lab_dataset_image(&ds, i);
    /* plane order R, G, B: byte k of the record is channel k / 1024 */
    for (int k = 0; k < 3072; k += 97) assert_int_equal(im.data[k], cifar_pixel(i, k));
    assert_int_equal(im.data[2 * 1024 + 31 * 32 + 31], cifar_pixel(i, 3071));
  }
  lab_dataset_free(&ds);

  /* CIFAR-100: coarse and fine labels */
  const uint8_t l100[4] = {19, 99, 3, 42};
  write_cifar(tmp_path(p1, "c100.bin"), 2, 2, l100, 0, 0);
  assert_int_equal(lab_dataset_load_cifar(paths, 1, LAB_CIFAR100, 1, &ds, &err), LAB_STATUS_OK);
  assert_int_equal(ds.n_classes, 100);
  assert_int_equal(ds.labels[0], 99);
  assert_int_equal(ds.labels[1], 42);
  lab_dataset_free(&ds);
  assert_int_equal(lab_dataset_load_cifar(paths, 1, LAB_CIFAR100, 0, &ds, &err), LAB_STATUS_OK);
  assert_int_equal(ds.n_classes, 20);
  assert_int_equal(ds.labels[0], 19);
  assert_int_equal(ds.labels[1], 3);
  lab_image im = lab_dataset_image(&ds, 1);
  assert_int_equal(im.data[1000], cifar_pixel(1, 1000));
  lab_dataset_free(&ds);
}

static void test_cifar_errors(void **state) {
  (void)state;
  char p[512];
  const char *paths[1] = {p};
  lab_dataset ds;
  lab_error err;
  const uint8_t lab[3] = {1, 2, 3};
  tmp_path(p, "c-missing.bin");
  expect_error(lab_dataset_load_cifar(paths, 1, LAB_CIFAR10, 1, &ds, &err), &err, LAB_ERR_IO, p, "No such file");
  write_cifar(tmp_path(p, "c-short.bin"), 3, 1, lab, 0, 0);
  truncate_to(p, file_size(p) - 100);
  expect_error(lab_dataset_load_cifar(paths, 1, LAB_CIFAR10, 1, &ds, &err), &err, LAB_ERR_DATA, p, "truncated");
  uint8_t lab30[30] = {0};
  write_cifar(tmp_path(p, "c-short.bin.gz"), 30, 1, lab30, 0, 1);
  truncate_to(p, file_size(p) / 2);
  expect_error(lab_dataset_load_cifar(paths, 1, LAB_CIFAR10, 1, &ds, &err), &err, LAB_ERR_DATA, p, "truncated");
  const uint8_t bad[3] = {1, 10, 3};
  write_cifar(tmp_path(p, "c-badlabel.bin"), 3, 1, bad, 0, 0);
  expect_error(lab_dataset_load_cifar(paths, 1, LAB_CIFAR10, 1, &ds, &err), &err, LAB_ERR_DATA, p, "label 10");
  const uint8_t bad100[2] = {20, 5};
  write_cifar(tmp_path(p, "c100-badcoarse.bin"), 1, 2, bad100, 0, 0);
  expect_error(lab_dataset_load_cifar(paths, 1, LAB_CIFAR100, 0, &ds, &err), &err, LAB_ERR_DATA, p, "label 20");
  write_bytes(tmp_path(p, "c-empty.bin"), "", 0, 0);
  expect_error(lab_dataset_load_cifar(paths, 1, LAB_CIFAR10, 1, &ds, &err), &err, LAB_ERR_DATA, p, "empty");
}

/* === image folders === */
static void write_png8(const char *path, int w, int h, int color, int alpha, const uint8_t *px) {
  png_image im;
  memset(&im, 0, sizeof im);
  im.version = PNG_IMAGE_VERSION;
  im.width = (png_uint_32)w;
  im.height = (png_uint_32)h;
  im.format = (color ? PNG_FORMAT_FLAG_COLOR : 0) | (alpha ? PNG_FORMAT_FLAG_ALPHA : 0);
  assert_true(png_image_write_to_file(&im, path, 0, px, 0, NULL));
}

static void write_png16(const char *path, int w, int h) {
  png_image im;
  memset(&im, 0, sizeof im);
  im.version = PNG_IMAGE_VERSION;
  im.width = (png_uint_32)w;
  im.height = (png_uint_32)h;
  im.format = PNG_FORMAT_LINEAR_Y;
  uint16_t *px = calloc((size_t)w * h, sizeof(uint16_t));
  assert_true(png_image_write_to_file(&im, path, 0, px, 0, NULL));
  free(px);
}

static void write_jpeg(const char *path, int w, int h, int comps, const uint8_t *px) {
  struct jpeg_compress_struct c;
  struct jpeg_error_mgr jerr;
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  c.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&c);
  jpeg_stdio_dest(&c, f);
  c.image_width = (JDIMENSION)w;
  c.image_height = (JDIMENSION)h;
  c.input_components = comps;
  c.in_color_space = comps == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 100, TRUE);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = (JSAMPROW)(px + (size_t)c.next_scanline * (size_t)w * (size_t)comps);
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  fclose(f);
}

/* A folder with classes "cat" (an RGB PNG 5x4, a grey+alpha PNG 5x4) and "dog" (a solid RGB
 * JPEG 16x8, a solid grey JPEG 16x8). The readers see "cat" < "dog", files sorted. */
static uint8_t rgb_px[4 * 5 * 3], ga_px[4 * 5 * 2], jrgb[8 * 16 * 3], jgrey[8 * 16];

static void make_folder(const char *root) {
  char p[512];
  mkdir_p(root);
  snprintf(p, sizeof p, "%s/dog", root);
  mkdir_p(p);
  snprintf(p, sizeof p, "%s/cat", root);
  mkdir_p(p);
  for (int i = 0; i < 4 * 5 * 3; i++) rgb_px[i] = (uint8_t)(i * 17 + 3);
  for (int i = 0; i < 4 * 5; i++) {
    ga_px[2 * i] = (uint8_t)(i * 9);
    ga_px[2 * i + 1] = (uint8_t)(i * 13); /* alpha: dropped, not composited */
  }
  for (int i = 0; i < 8 * 16; i++) {
    jrgb[3 * i] = 200;
    jrgb[3 * i + 1] = 40;
    jrgb[3 * i + 2] = 90;
    jgrey[i] = 77;
  }
  snprintf(p, sizeof p, "%s/cat/a.png", root);
  write_png8(p, 5, 4, 1, 0, rgb_px);
  snprintf(p, sizeof p, "%s/cat/b.png", root);
  write_png8(p, 5, 4, 0, 1, ga_px);
  snprintf(p, sizeof p, "%s/dog/x.jpg", root);
  write_jpeg(p, 16, 8, 3, jrgb);
  snprintf(p, sizeof p, "%s/dog/y.jpeg", root);
  write_jpeg(p, 16, 8, 1, jgrey);
  snprintf(p, sizeof p, "%s/dog/.hidden", root); /* skipped, like .DS_Store */
  write_bytes(p, "junk", 4, 0);
}

static void test_folder(void **state) {
  (void)state;
  char root[512];
  tmp_path(root, "folder");
  make_folder(root);
  lab_dataset ds;
  lab_error err;
  assert_int_equal(lab_dataset_load_folder(root, 3, &ds, &err), LAB_STATUS_OK);
  assert_int_equal(ds.n, 4);
  assert_int_equal(ds.c, 3);
  assert_int_equal(ds.n_classes, 2);
  assert_string_equal(ds.class_names[0], "cat");
  assert_string_equal(ds.class_names[1], "dog");
  assert_int_equal(ds.h, 0); /* two sizes: stored per image */
  const int want_lab[4] = {0, 0, 1, 1};
  for (int i = 0; i < 4; i++) assert_int_equal(ds.labels[i], want_lab[i]);
  lab_image a = lab_dataset_image(&ds, 0), b = lab_dataset_image(&ds, 1), x = lab_dataset_image(&ds, 2),
            y = lab_dataset_image(&ds, 3);
  assert_int_equal(a.h, 4);
  assert_int_equal(a.w, 5);
  assert_int_equal(x.h, 8);
  assert_int_equal(x.w, 16);
  for (int k = 0; k < 3; k++)
    for (int q = 0; q < 20; q++) {
      assert_int_equal(a.data[k * 20 + q], rgb_px[3 * q + k]); /* PNG: exact, planar */
      assert_int_equal(b.data[k * 20 + q], ga_px[2 * q]);      /* grey replicated, alpha dropped */
    }
  const int jc[3] = {200, 40, 90};
  for (int k = 0; k < 3; k++)
    for (int q = 0; q < 128; q++) {
      assert_true(abs(x.data[k * 128 + q] - jc[k]) <= 3); /* JPEG at quality 100, solid colour */
      assert_true(abs(y.data[k * 128 + q] - 77) <= 1);
    }
  lab_dataset_free(&ds);

  /* one channel: colour through PIL's luma, grey as is */
  assert_int_equal(lab_dataset_load_folder(root, 1, &ds, &err), LAB_STATUS_OK);
  a = lab_dataset_image(&ds, 0);
  for (int q = 0; q < 20; q++) {
    const uint8_t *p = rgb_px + 3 * q;
    int want = (int)((p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16);
    assert_int_equal(a.data[q], want);
  }
  lab_dataset_free(&ds);

  /* equal sizes: a common-size dataset; the named "folder" dataset reads DIR/train */
  char p[512];
  tmp_path(p, "named");
  mkdir_p(p);
  tmp_path(p, "named/train");
  mkdir_p(p);
  tmp_path(p, "named/train/only");
  mkdir_p(p);
  tmp_path(p, "named/train/only/1.png");
  write_png8(p, 5, 4, 1, 0, rgb_px);
  tmp_path(p, "named/train/only/2.png");
  write_png8(p, 5, 4, 1, 0, rgb_px);
  assert_int_equal(lab_dataset_load("folder", tmp_path(p, "named"), 1, &ds, &err), LAB_STATUS_OK);
  assert_int_equal(ds.n, 2);
  assert_int_equal(ds.h, 4);
  assert_int_equal(ds.w, 5);
  assert_null(ds.offset);
  assert_int_equal(lab_dataset_image(&ds, 1).data[7], rgb_px[3 * 7]);
  lab_dataset_free(&ds);
}

static void test_folder_errors(void **state) {
  (void)state;
  char root[512], p[1024];
  lab_dataset ds;
  lab_error err;
  /* missing folder; a folder without class sub-folders */
  tmp_path(root, "f-missing");
  expect_error(lab_dataset_load_folder(root, 3, &ds, &err), &err, LAB_ERR_IO, root, "No such file");
  tmp_path(root, "f-flat");
  mkdir_p(root);
  expect_error(lab_dataset_load_folder(root, 3, &ds, &err), &err, LAB_ERR_DATA, root, "no class");
  /* an empty class folder */
  tmp_path(root, "f-empty");
  make_folder(root);
  snprintf(p, sizeof p, "%s/emu", root);
  mkdir_p(p);
  expect_error(lab_dataset_load_folder(root, 3, &ds, &err), &err, LAB_ERR_DATA, p, "empty");
  assert_null(ds.pixels);
  /* a file that is neither PNG nor JPEG */
  tmp_path(root, "f-text");
  make_folder(root);
  snprintf(p, sizeof p, "%s/cat/notes.txt", root);
  write_bytes(p, "hello, not an image", 19, 0);
  expect_error(lab_dataset_load_folder(root, 3, &ds, &err), &err, LAB_ERR_DATA, p, "unsupported image format");
  /* 16-bit PNG */
  tmp_path(root, "f-16");
  make_folder(root);
  snprintf(p, sizeof p, "%s/dog/deep.png", root);
  write_png16(p, 3, 3);
  expect_error(lab_dataset_load_folder(root, 3, &ds, &err), &err, LAB_ERR_DATA, p, "bit depth 16");
  /* JPEGs cut in the entropy-coded data (libjpeg only warns) and in the headers */
  tmp_path(root, "f-cutjpg");
  make_folder(root);
  snprintf(p, sizeof p, "%s/dog/noisy.jpg", root);
  uint8_t noisy[64 * 64 * 3];
  lab_rng rng;
  lab_rng_seed(&rng, 7);
  for (size_t i = 0; i < sizeof noisy; i++) noisy[i] = (uint8_t)lab_rng_below(&rng, 256);
  write_jpeg(p, 64, 64, 3, noisy);
  truncate_to(p, file_size(p) * 6 / 10);
  expect_error(lab_dataset_load_folder(root, 3, &ds, &err), &err, LAB_ERR_DATA, p, "truncated JPEG");
  tmp_path(root, "f-cutjpghdr");
  make_folder(root);
  snprintf(p, sizeof p, "%s/dog/x.jpg", root);
  truncate_to(p, 300);
  expect_error(lab_dataset_load_folder(root, 3, &ds, &err), &err, LAB_ERR_DATA, p, "JPEG");
  tmp_path(root, "f-cutpng");
  make_folder(root);
  snprintf(p, sizeof p, "%s/cat/a.png", root);
  truncate_to(p, file_size(p) - 20);
  expect_error(lab_dataset_load_folder(root, 3, &ds, &err), &err, LAB_ERR_DATA, p, "PNG");
}

/* === named datasets, split, statistics === */
static void test_named(void **state) {
  (void)state;
  char dir[512], p[1024];
  tmp_path(dir, "mnist");
  mkdir_p(dir);
  const uint8_t tr[6] = {1, 2, 3, 4, 5, 9}, te[2] = {7, 0};
  snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", dir);
  write_idx_images(p, 6, 2, 3, 1, 0x00000803, 0);
  snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte.gz", dir);
  write_idx_labels(p, 6, tr, 1);
  snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte", dir); /* raw works too */
  write_idx_images(p, 2, 2, 3, 0, 0x00000803, 0);
  snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte", dir);
  write_idx_labels(p, 2, te, 0);
  lab_dataset ds;
  lab_error err;
  assert_int_equal(lab_dataset_load("fashion-mnist", dir, 1, &ds, &err), LAB_STATUS_OK);
  check_idx_dataset(&ds, 6, 2, 3, tr);
  assert_int_equal(ds.n_classes, 10);
  assert_string_equal(ds.class_names[9], "Ankle boot");
  lab_dataset_free(&ds);
  assert_int_equal(lab_dataset_load("mnist", dir, 0, &ds, &err), LAB_STATUS_OK);
  check_idx_dataset(&ds, 2, 2, 3, te);
  assert_string_equal(ds.class_names[7], "7");
  lab_dataset_free(&ds);
  expect_error(lab_dataset_load("imagenet-21k", dir, 1, &ds, &err), &err, LAB_ERR_CONFIG, "imagenet-21k", NULL);
  /* CIFAR-10 by name: five training batches, names from batches.meta.txt */
  tmp_path(dir, "cifar");
  mkdir_p(dir);
  const uint8_t l[1] = {4};
  for (int b = 1; b <= 5; b++) {
    snprintf(p, sizeof p, "%s/data_batch_%d.bin", dir, b);
    write_cifar(p, 1, 1, l, b, 0);
  }
  snprintf(p, sizeof p, "%s/batches.meta.txt", dir);
  const char *meta = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";
  write_bytes(p, meta, strlen(meta), 0);
  assert_int_equal(lab_dataset_load("cifar-10", dir, 1, &ds, &err), LAB_STATUS_OK);
  assert_int_equal(ds.n, 5);
  assert_string_equal(ds.class_names[4], "deer");
  assert_int_equal(lab_dataset_image(&ds, 4).data[5], cifar_pixel(5, 5));
  lab_dataset_free(&ds);
  snprintf(p, sizeof p, "%s/test_batch.bin", dir);
  expect_error(lab_dataset_load("cifar-10", dir, 0, &ds, &err), &err, LAB_ERR_IO, p, NULL);
}

static void test_split(void **state) {
  (void)state;
  enum { N = 1000 };
  int tr[N], va[N], tr2[N], va2[N];
  int nv = lab_split_n_val(N, 0, 0.1);
  assert_int_equal(nv, 100);
  assert_int_equal(lab_split_n_val(N, 37, 0.5), 37);
  assert_int_equal(lab_split_n_val(N, 5000, 0), N);
  lab_split_indices(N, nv, 42, tr, va);
  int seen[N] = {0};
  for (int i = 0; i < N - nv; i++) {
    seen[tr[i]]++;
    if (i) assert_true(tr[i - 1] < tr[i]);
  }
  for (int i = 0; i < nv; i++) {
    seen[va[i]]++;
    if (i) assert_true(va[i - 1] < va[i]);
  }
  for (int i = 0; i < N; i++) assert_int_equal(seen[i], 1); /* a partition */
  /* not just the first or last indices: held-out items spread over the range */
  assert_true(va[0] < N / 4 && va[nv - 1] > 3 * N / 4);
  lab_split_indices(N, nv, 42, tr2, va2);
  assert_memory_equal(va, va2, sizeof(int) * nv);
  assert_memory_equal(tr, tr2, sizeof(int) * (N - nv));
  lab_split_indices(N, nv, 43, tr2, va2);
  assert_memory_not_equal(va, va2, sizeof(int) * nv);
}

static void test_channel_stats(void **state) {
  (void)state;
  lab_dataset ds;
  lab_error err;
  assert_int_equal(lab_dataset_init_fixed(&ds, 2, 2, 1, 2, 3, &err), LAB_STATUS_OK);
  /* image 0: ch0 {0, 255}, ch1 {51, 51}; image 1: ch0 {255, 255}, ch1 {102, 0} */
  const uint8_t px[8] = {0, 255, 51, 51, 255, 255, 102, 0};
  memcpy(ds.pixels, px, 8);
  float mean[2], std[2];
  lab_dataset_channel_stats(&ds, NULL, 0, mean, std);
  const float want_mean[2] = {0.75f, 0.2f};
  const float want_std[2] = {0.4330127f, 0.1414214f}; /* population std of {0,1,1,1} and {.2,.2,.4,0} */
  assert_close(mean, want_mean, 2, 1e-6, 1e-6, "mean");
  assert_close(std, want_std, 2, 1e-6, 1e-5, "std");
  const int only1[1] = {1};
  lab_dataset_channel_stats(&ds, only1, 1, mean, std);
  const float want_mean1[2] = {1.0f, 0.2f}, want_std1[2] = {0.0f, 0.2f};
  assert_close(mean, want_mean1, 2, 1e-6, 1e-6, "mean of image 1");
  assert_close(std, want_std1, 2, 1e-6, 1e-5, "std of image 1");
  ds.labels[1] = 3; /* n_classes is 3 */
  expect_error(lab_dataset_check_labels(&ds, &err), &err, LAB_ERR_DATA, "item 1", "label 3");
  lab_dataset_free(&ds);
}

static void test_real_fashion_mnist(void **state) {
  (void)state;
  char p[512];
  snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte.gz", LAB_FASHION_MNIST_DIR);
  if (access(p, R_OK) != 0) {
    fprintf(stderr, "Fashion-MNIST not installed at %s: skipped\n", LAB_FASHION_MNIST_DIR);
    skip();
  }
  lab_dataset ds;
  lab_error err = {0};
  lab_status st = lab_dataset_load("fashion-mnist", NULL, 1, &ds, &err);
  if (st != LAB_STATUS_OK) fprintf(stderr, "%s\n", err.msg);
  assert_int_equal(st, LAB_STATUS_OK);
  assert_int_equal(ds.n, 60000);
  assert_int_equal(ds.h, 28);
  assert_int_equal(ds.w, 28);
  assert_int_equal(ds.n_classes, 10);
  const int first[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
  for (int i = 0; i < 10; i++) assert_int_equal(ds.labels[i], first[i]);
  long sum = 0;
  for (int q = 0; q < 784; q++) sum += ds.pixels[q];
  assert_int_equal(sum, 76247); /* zcat train-images... | od: the first image's pixel sum */
  int count[10] = {0};
  for (int i = 0; i < ds.n; i++) count[ds.labels[i]]++;
  for (int k = 0; k < 10; k++) assert_int_equal(count[k], 6000); /* balanced classes */
  lab_dataset_free(&ds);
  assert_int_equal(lab_dataset_load("fashion-mnist", NULL, 0, &ds, &err), LAB_STATUS_OK);
  assert_int_equal(ds.n, 10000);
  const int tfirst[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
  for (int i = 0; i < 10; i++) assert_int_equal(ds.labels[i], tfirst[i]);
  assert_string_equal(ds.class_names[0], "T-shirt/top");
  lab_dataset_free(&ds);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_idx_raw_and_gz), cmocka_unit_test(test_idx_errors),
      cmocka_unit_test(test_cifar),          cmocka_unit_test(test_cifar_errors),
      cmocka_unit_test(test_folder),         cmocka_unit_test(test_folder_errors),
      cmocka_unit_test(test_named),          cmocka_unit_test(test_split),
      cmocka_unit_test(test_channel_stats),  cmocka_unit_test(test_real_fashion_mnist),
  };
  return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
