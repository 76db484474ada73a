/* test_checkpoint.c: bit-exact round trip of the training state, atomic writes (the old file
 * survives a failed write: file-size limit mid-write, blocked temp path, read-only folder when
 * not root), and every corruption case (magic, version, table, truncation at every length,
 * a flipped byte in every section, trailing bytes, size mismatches, missing/unexpected
 * sections, config hash, tensor names) reported with the file and the section, without
 * touching the caller's state. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lab/checkpoint.h"
#include "testutil.h"

/* === fixtures: a fake training state with slabs filled from a seed === */

#define NP 37
#define NB 6
#define NO 74
#define NE 43
#define NR 3

typedef struct fake {
  float params[NP], buffers[NB], optim[NO], ema[NE];
  float grads[NP];
  lab_rng rngs[NR];
  lab_param_list list;
  lab_ckpt_state st;
} fake;

static void fake_init(fake *f, uint64_t seed, int with_ema, int with_names) {
  memset(f, 0, sizeof *f);
  lab_rng r;
  lab_rng_seed(&r, seed);
  lab_test_fill(f->params, NP, &r, -1, 1);
  lab_test_fill(f->buffers, NB, &r, 0, 3);
  lab_test_fill(f->optim, NO, &r, 0, 1);
  lab_test_fill(f->ema, NE, &r, -1, 1);
  f->params[0] = -0.0f; /* signs, subnormals, NaN payloads survive byte for byte */
  f->params[1] = 1e-40f;
  f->params[2] = NAN;
  for (int i = 0; i < NR; i++) f->rngs[i] = lab_rng_split(&r, (uint64_t)i);
  lab_param_list_add(&f->list, "stem/conv1", "weight", f->params, f->grads, 27, 1);
  lab_param_list_add(&f->list, "fc", "weight", f->params + 27, f->grads + 27, 8, 1);
  lab_param_list_add(&f->list, "fc", "bias", f->params + 35, f->grads + 35, 2, 0);
  snprintf(f->st.config_hash, sizeof f->st.config_hash, "cfg-%016llx", (unsigned long long)seed);
  f->st.pos.epoch = 3;
  f->st.pos.step_in_epoch = 17;
  f->st.pos.global_step = 3 * 100 + 17;
  f->st.params = f->params;
  f->st.n_params = NP;
  f->st.param_list = with_names ? &f->list : NULL;
  f->st.buffers = f->buffers;
  f->st.n_buffers = NB;
  f->st.optim = f->optim;
  f->st.n_optim = NO;
  f->st.ema = with_ema ? f->ema : NULL;
  f->st.n_ema = with_ema ? NE : 0;
  f->st.rngs = f->rngs;
  f->st.n_rngs = NR;
}

/* A destination with the same shapes, every slab set to a sentinel. */
static void fake_blank(fake *f, const fake *like) {
  fake_init(f, 999, like->st.ema != NULL, like->st.param_list != NULL);
  memset(f->params, 0x5a, sizeof f->params);
  memset(f->buffers, 0x5a, sizeof f->buffers);
  memset(f->optim, 0x5a, sizeof f->optim);
  memset(f->ema, 0x5a, sizeof f->ema);
  memset(f->rngs, 0x5a, sizeof f->rngs);
  memset(&f->st.pos, 0x5a, sizeof f->st.pos);
  memcpy(f->st.config_hash, like->st.config_hash, sizeof f->st.config_hash);
}

static int fake_untouched(const fake *f) {
  unsigned char s[sizeof f->optim]; /* the largest slab */
  memset(s, 0x5a, sizeof s);
  return memcmp(f->params, s, sizeof f->params) == 0 && memcmp(f->buffers, s, sizeof f->buffers) == 0 &&
         memcmp(f->optim, s, sizeof f->optim) == 0 && memcmp(f->ema, s, sizeof f->ema) == 0 &&
         memcmp(f->rngs, s, sizeof f->rngs) == 0 && memcmp(&f->st.pos, s, sizeof f->st.pos) == 0;
}

static void fake_free(fake *f) { lab_param_list_free(&f->list); }

static void assert_same_state(const fake *a, const fake *b) {
  assert_memory_equal(a->params, b->params, sizeof a->params);
  assert_memory_equal(a->buffers, b->buffers, sizeof a->buffers);
  assert_memory_equal(a->optim, b->optim, sizeof a->optim);
  if (a->st.ema) assert_memory_equal(a->ema, b->ema, sizeof a->ema);
  assert_memory_equal(a->rngs, b->rngs, sizeof a->rngs);
  assert_memory_equal(&a->st.pos, &b->st.pos, sizeof a->st.pos);
}

/* === file helpers === */

typedef struct tmpdir {
  char dir[64];
  char path[128];
} tmpdir;

/* In /dev/shm where available: fsync on tmpfs is free, so the suite stays well under 2 s
 * (on a disk each atomic save costs two real fsyncs). */
static void tmpdir_make(tmpdir *t) {
  struct stat sb;
  int shm = stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) && access("/dev/shm", W_OK) == 0;
  snprintf(t->dir, sizeof t->dir, "%s/lab_ckpt_XXXXXX", shm ? "/dev/shm" : "/tmp");
  assert_non_null(mkdtemp(t->dir));
  snprintf(t->path, sizeof t->path, "%s/checkpoint.bin", t->dir);
}

static void tmpdir_remove(tmpdir *t) {
  char p[160];
  unlink(t->path);
  snprintf(p, sizeof p, "%s.tmp", t->path);
  unlink(p);
  rmdir(p);
  assert_int_equal(rmdir(t->dir), 0);
}

static unsigned char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = lab_xmalloc(*n + 1);
  assert_int_equal(fread(b, 1, *n, f), *n);
  fclose(f);
  return b;
}

static void spit(const char *path, const unsigned char *b, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(b, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
}

static int exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

/* The message names the file and the section. */
static void assert_names(const lab_error *err, const char *path, const char *section) {
  char want[96];
  snprintf(want, sizeof want, "section '%s'", section);
  if (!strstr(err->msg, path) || !strstr(err->msg, want))
    fail_msg("message does not name '%s' and %s: %s", path, want, err->msg);
}

/* === round trip === */

static void test_round_trip_bit_exact(void **state) {
  (void)state;
  tmpdir t;
  tmpdir_make(&t);
  for (int variant = 0; variant < 3; variant++) {
    fake a, b;
    fake_init(&a, 42 + (uint64_t)variant, variant != 1, variant != 2);
    lab_error err;
    assert_int_equal(lab_ckpt_save(t.path, &a.st, &err), LAB_STATUS_OK);
    fake_blank(&b, &a);
    lab_status st = lab_ckpt_load(t.path, &b.st, &err);
    if (st != LAB_STATUS_OK) fail_msg("load: %s", err.msg);
    assert_same_state(&a, &b);
    char hash[LAB_CKPT_HASH_MAX];
    lab_ckpt_position pos;
    assert_int_equal(lab_ckpt_peek(t.path, hash, &pos, &err), LAB_STATUS_OK);
    assert_string_equal(hash, a.st.config_hash);
    assert_int_equal(pos.global_step, 317);
    /* Saving what was loaded gives the same bytes. */
    size_t n1, n2;
    unsigned char *f1 = slurp(t.path, &n1);
    assert_int_equal(lab_ckpt_save(t.path, &b.st, &err), LAB_STATUS_OK);
    unsigned char *f2 = slurp(t.path, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(f1, f2, n1);
    /* Drawing from the restored generators continues the same streams. */
    for (int i = 0; i < NR; i++) assert_true(lab_rng_u64(&a.rngs[i]) == lab_rng_u64(&b.rngs[i]));
    free(f1);
    free(f2);
    fake_free(&a);
    fake_free(&b);
  }
  tmpdir_remove(&t);
}

/* === atomicity === */

static void test_failed_write_keeps_old_file(void **state) {
  (void)state;
  tmpdir t;
  tmpdir_make(&t);
  fake a, b;
  fake_init(&a, 1, 1, 1);
  lab_error err;
  assert_int_equal(lab_ckpt_save(t.path, &a.st, &err), LAB_STATUS_OK);
  size_t n0;
  unsigned char *old = slurp(t.path, &n0);
  fake_init(&b, 2, 1, 1); /* different contents for the failed writes */
  char tmp[160];
  snprintf(tmp, sizeof tmp, "%s.tmp", t.path);

  /* 1. The file system refuses mid-write: a file-size limit below the checkpoint's size. */
  struct rlimit old_lim, lim;
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &old_lim), 0);
  void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
  lim = old_lim;
  lim.rlim_cur = (rlim_t)(n0 / 2);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
  lab_status st = lab_ckpt_save(t.path, &b.st, &err);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &old_lim), 0);
  signal(SIGXFSZ, old_handler);
  assert_int_equal(st, LAB_ERR_IO);
  assert_non_null(strstr(err.msg, t.path));
  assert_non_null(strstr(err.msg, "section '"));
  fprintf(stderr, "file-size limit: %s\n", err.msg);
  assert_false(exists(tmp));

  /* 2. The temp file cannot be created (a folder in its way). */
  assert_int_equal(mkdir(tmp, 0700), 0);
  assert_int_equal(lab_ckpt_save(t.path, &b.st, &err), LAB_ERR_IO);
  assert_non_null(strstr(err.msg, tmp));
  assert_int_equal(rmdir(tmp), 0);

  /* 3. A read-only folder (only meaningful when not root: root writes anyway). */
  if (geteuid() != 0) {
    assert_int_equal(chmod(t.dir, 0500), 0);
    st = lab_ckpt_save(t.path, &b.st, &err);
    assert_int_equal(chmod(t.dir, 0700), 0);
    assert_int_equal(st, LAB_ERR_IO);
  }

  size_t n1;
  unsigned char *now = slurp(t.path, &n1);
  assert_int_equal(n0, n1);
  assert_memory_equal(old, now, n0);
  fake c;
  fake_blank(&c, &a);
  assert_int_equal(lab_ckpt_load(t.path, &c.st, &err), LAB_STATUS_OK);
  assert_same_state(&a, &c);
  /* And a write that can succeed replaces it. */
  assert_int_equal(lab_ckpt_save(t.path, &b.st, &err), LAB_STATUS_OK);
  fake_free(&c);
  fake_blank(&c, &b);
  assert_int_equal(lab_ckpt_load(t.path, &c.st, &err), LAB_STATUS_OK);
  assert_same_state(&b, &c);
  free(old);
  free(now);
  fake_free(&a);
  fake_free(&b);
  fake_free(&c);
  tmpdir_remove(&t);
}

static void test_missing_file_and_folder(void **state) {
  (void)state;
  fake a, b;
  fake_init(&a, 3, 1, 1);
  fake_blank(&b, &a);
  lab_error err;
  const char *p = "/nonexistent-lab-dir/checkpoint.bin";
  assert_int_equal(lab_ckpt_save(p, &a.st, &err), LAB_ERR_IO);
  assert_non_null(strstr(err.msg, p));
  assert_int_equal(lab_ckpt_load(p, &b.st, &err), LAB_ERR_IO);
  assert_non_null(strstr(err.msg, p));
  assert_true(fake_untouched(&b));
  fake_free(&a);
  fake_free(&b);
}

/* === corruption === */

typedef struct corrupt_env {
  tmpdir t;
  fake a;
  unsigned char *good;
  size_t n;
} corrupt_env;

static void env_open(corrupt_env *e) {
  tmpdir_make(&e->t);
  fake_init(&e->a, 5, 1, 1);
  assert_int_equal(lab_ckpt_save(e->t.path, &e->a.st, NULL), LAB_STATUS_OK);
  e->good = slurp(e->t.path, &e->n);
}

static void env_close(corrupt_env *e) {
  free(e->good);
  fake_free(&e->a);
  tmpdir_remove(&e->t);
}

/* Writes `bytes` as the checkpoint, loads it into a blank state, expects `status`, a message
 * naming the file and `section` (and `also`, if given) and an untouched state. */
static void expect_load_error(corrupt_env *e, const unsigned char *bytes, size_t n, lab_status status,
                              const char *section, const char *also) {
  spit(e->t.path, bytes, n);
  fake b;
  fake_blank(&b, &e->a);
  lab_error err;
  lab_status st = lab_ckpt_load(e->t.path, &b.st, &err);
  if (st != status) fail_msg("expected status %d, got %d (%s)", status, st, st ? err.msg : "ok");
  assert_names(&err, e->t.path, section);
  if (also && !strstr(err.msg, also)) fail_msg("message lacks '%s': %s", also, err.msg);
  assert_true(fake_untouched(&b));
  fake_free(&b);
}

static uint64_t le64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

static void test_bad_magic_and_version(void **state) {
  (void)state;
  corrupt_env e;
  env_open(&e);
  unsigned char *b = lab_xmalloc(e.n);
  memcpy(b, e.good, e.n);
  b[0] ^= 0x20;
  expect_load_error(&e, b, e.n, LAB_ERR_DATA, "header", "magic");
  memcpy(b, e.good, e.n);
  b[8] = 2;
  expect_load_error(&e, b, e.n, LAB_ERR_DATA, "header", "version 2");
  memcpy(b, e.good, e.n);
  b[12] = 200;
  expect_load_error(&e, b, e.n, LAB_ERR_DATA, "header", "200 sections");
  memcpy(b, e.good, e.n);
  b[16 + 3] ^= 1; /* a section's name in the table */
  expect_load_error(&e, b, e.n, LAB_ERR_DATA, "toc", "CRC mismatch");
  free(b);
  env_close(&e);
}

static void test_truncation_at_every_length(void **state) {
  (void)state;
  corrupt_env e;
  env_open(&e);
  int n_section_named = 0;
  for (size_t len = 0; len < e.n; len++) {
    spit(e.t.path, e.good, len);
    fake b;
    fake_blank(&b, &e.a);
    lab_error err;
    lab_status st = lab_ckpt_load(e.t.path, &b.st, &err);
    if (st != LAB_ERR_DATA) fail_msg("length %zu of %zu: status %d (%s)", len, e.n, st, err.msg);
    assert_non_null(strstr(err.msg, e.t.path));
    assert_non_null(strstr(err.msg, "section '"));
    assert_non_null(strstr(err.msg, "truncated"));
    assert_true(fake_untouched(&b));
    n_section_named += strstr(err.msg, "section 'params'") != NULL;
    fake_free(&b);
  }
  assert_true(n_section_named >= (int)(NP * sizeof(float))); /* cuts inside the params payload */
  env_close(&e);
}

static void test_flipped_byte_in_every_section(void **state) {
  (void)state;
  corrupt_env e;
  env_open(&e);
  int n_sections = (int)e.good[12];
  unsigned char *b = lab_xmalloc(e.n);
  int n_checked = 0;
  for (int i = 0; i < n_sections; i++) {
    const unsigned char *entry = e.good + 16 + 64 * i;
    uint64_t off = le64(entry + 40), nbytes = le64(entry + 48);
    if (nbytes == 0) continue;
    memcpy(b, e.good, e.n);
    b[off + nbytes / 2] ^= 0x10;
    expect_load_error(&e, b, e.n, LAB_ERR_DATA, (const char *)entry, "CRC mismatch");
    n_checked++;
  }
  assert_int_equal(n_checked, 8); /* config_hash position params param_names buffers optim ema rng */
  /* Trailing bytes after the last section. */
  memcpy(b, e.good, e.n);
  unsigned char *longer = lab_xmalloc(e.n + 3);
  memcpy(longer, e.good, e.n);
  memset(longer + e.n, 0, 3);
  expect_load_error(&e, longer, e.n + 3, LAB_ERR_DATA, "rng", "3 unexpected bytes");
  free(longer);
  free(b);
  env_close(&e);
}

static void test_size_and_section_mismatches(void **state) {
  (void)state;
  corrupt_env e;
  env_open(&e);
  lab_error err;
  fake b;

  /* The current network has one more buffer float than the file. */
  fake_blank(&b, &e.a);
  b.st.n_buffers = NB - 1;
  assert_int_equal(lab_ckpt_load(e.t.path, &b.st, &err), LAB_ERR_DATA);
  assert_names(&err, e.t.path, "buffers");
  char sizes[128];
  snprintf(sizes, sizeof sizes, "holds %zu bytes", NB * sizeof(float));
  assert_non_null(strstr(err.msg, sizes));
  snprintf(sizes, sizeof sizes, "needs %zu bytes", (NB - 1) * sizeof(float));
  assert_non_null(strstr(err.msg, sizes));
  fprintf(stderr, "size mismatch: %s\n", err.msg);
  assert_true(fake_untouched(&b));
  fake_free(&b);

  /* Optimizer state of another optimizer (fewer slots). */
  fake_blank(&b, &e.a);
  b.st.n_optim = NO / 2;
  assert_int_equal(lab_ckpt_load(e.t.path, &b.st, &err), LAB_ERR_DATA);
  assert_names(&err, e.t.path, "optim");
  assert_true(fake_untouched(&b));
  fake_free(&b);

  /* Params: without the name list, the size check says it. */
  fake_blank(&b, &e.a);
  b.st.n_params = NP - 2;
  b.st.param_list = NULL;
  assert_int_equal(lab_ckpt_load(e.t.path, &b.st, &err), LAB_ERR_DATA);
  assert_names(&err, e.t.path, "params");
  snprintf(sizes, sizeof sizes, "holds %zu bytes (%d values", NP * sizeof(float), NP);
  assert_non_null(strstr(err.msg, sizes));
  assert_true(fake_untouched(&b));
  fake_free(&b);

  /* A different tensor list: the first differing tensor is named. */
  fake_blank(&b, &e.a);
  snprintf(b.list.items[1].name, sizeof b.list.items[1].name, "head/fc.weight");
  assert_int_equal(lab_ckpt_load(e.t.path, &b.st, &err), LAB_ERR_DATA);
  assert_names(&err, e.t.path, "param_names");
  assert_non_null(strstr(err.msg, "head/fc.weight"));
  assert_non_null(strstr(err.msg, "tensor 1"));
  fprintf(stderr, "names: %s\n", err.msg);
  assert_true(fake_untouched(&b));
  fake_free(&b);

  /* The run keeps no EMA but the file has one, and the other way round. */
  fake_blank(&b, &e.a);
  b.st.ema = NULL;
  b.st.n_ema = 0;
  assert_int_equal(lab_ckpt_load(e.t.path, &b.st, &err), LAB_ERR_DATA);
  assert_names(&err, e.t.path, "ema");
  assert_non_null(strstr(err.msg, "not expected"));
  fake_free(&b);
  fake no_ema;
  fake_init(&no_ema, 5, 0, 1);
  assert_int_equal(lab_ckpt_save(e.t.path, &no_ema.st, NULL), LAB_STATUS_OK);
  fake_blank(&b, &e.a);
  assert_int_equal(lab_ckpt_load(e.t.path, &b.st, &err), LAB_ERR_DATA);
  assert_names(&err, e.t.path, "ema");
  assert_non_null(strstr(err.msg, "missing"));
  assert_true(fake_untouched(&b));
  fake_free(&b);
  fake_free(&no_ema);

  /* A different configuration: reported with both hashes, nothing loaded. */
  spit(e.t.path, e.good, e.n);
  fake_blank(&b, &e.a);
  snprintf(b.st.config_hash, sizeof b.st.config_hash, "another-config");
  assert_int_equal(lab_ckpt_load(e.t.path, &b.st, &err), LAB_ERR_CONFIG);
  assert_names(&err, e.t.path, "config_hash");
  assert_non_null(strstr(err.msg, "another-config"));
  assert_non_null(strstr(err.msg, e.a.st.config_hash));
  assert_true(fake_untouched(&b));
  fake_free(&b);
  env_close(&e);
}

/* The generic layer: a partial read ignores other sections; a variable section reports its size. */
static void test_generic_sections(void **state) {
  (void)state;
  tmpdir t;
  tmpdir_make(&t);
  char text[] = "hello";
  uint32_t nums[3] = {1, 2, 3};
  lab_ckpt_section w[2] = {{.name = "text", .data = text, .nbytes = 5}, {.name = "nums", .data = nums, .nbytes = 12}};
  lab_error err;
  assert_int_equal(lab_ckpt_write(t.path, w, 2, &err), LAB_STATUS_OK);
  char got[32];
  memset(got, 0, sizeof got);
  lab_ckpt_section r[1] = {{.name = "text", .data = got, .nbytes = sizeof got, .variable = 1}};
  assert_int_equal(lab_ckpt_read(t.path, r, 1, 1, &err), LAB_STATUS_OK);
  assert_int_equal(r[0].got, 5);
  assert_string_equal(got, "hello");
  assert_int_equal(lab_ckpt_read(t.path, r, 1, 0, &err), LAB_ERR_DATA);
  assert_names(&err, t.path, "nums");
  tmpdir_remove(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip_bit_exact),
      cmocka_unit_test(test_failed_write_keeps_old_file),
      cmocka_unit_test(test_missing_file_and_folder),
      cmocka_unit_test(test_bad_magic_and_version),
      cmocka_unit_test(test_truncation_at_every_length),
      cmocka_unit_test(test_flipped_byte_in_every_section),
      cmocka_unit_test(test_size_and_section_mismatches),
      cmocka_unit_test(test_generic_sections),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
