/* golden.c: see golden.h. Decodes bytes explicitly (not by casting structs), so the reader
 * works on any host byte order and never reads past the buffer. */
#include "golden.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef LAB_GOLDEN_DIR
#error "LAB_GOLDEN_DIR must be defined by the build (tests/CMakeLists.txt)"
#endif

static const unsigned char golden_magic[8] = {'L', 'A', 'B', 'G', 'O', 'L', 'D', '\0'};

typedef struct golden_cursor {
  const unsigned char *p;
  size_t left;
} golden_cursor;

static int cursor_u32(golden_cursor *c, uint32_t *v) {
  if (c->left < 4) return 0;
  *v = (uint32_t)c->p[0] | (uint32_t)c->p[1] << 8 | (uint32_t)c->p[2] << 16 | (uint32_t)c->p[3] << 24;
  c->p += 4;
  c->left -= 4;
  return 1;
}

void lab_golden_free(lab_golden *g) {
  if (!g) return;
  for (int i = 0; i < g->n; i++) free(g->tensors[i].data);
  free(g->tensors);
  g->tensors = NULL;
  g->n = 0;
}

/* Reads tensor i at the cursor into t; 0 with err set on malformed input. */
static int parse_tensor(golden_cursor *c, lab_golden_tensor *t, int i, const char *src, lab_error *err) {
  uint32_t len, ndim;
  if (!cursor_u32(c, &len)) {
    lab_error_set(err, LAB_ERR_DATA, "golden %s: tensor %d: truncated before its name length", src, i);
    return 0;
  }
  if (len == 0 || len > LAB_GOLDEN_MAX_NAME) {
    lab_error_set(err, LAB_ERR_DATA, "golden %s: tensor %d: name length %u not in 1..%d", src, i,
                  (unsigned)len, LAB_GOLDEN_MAX_NAME);
    return 0;
  }
  if (c->left < len) {
    lab_error_set(err, LAB_ERR_DATA, "golden %s: tensor %d: truncated inside its name (%u bytes, %zu left)",
                  src, i, (unsigned)len, c->left);
    return 0;
  }
  for (uint32_t k = 0; k < len; k++) {
    if (c->p[k] < 0x20 || c->p[k] > 0x7e) {
      lab_error_set(err, LAB_ERR_DATA, "golden %s: tensor %d: name byte %u is not printable ASCII (0x%02x)",
                    src, i, (unsigned)k, c->p[k]);
      return 0;
    }
  }
  memcpy(t->name, c->p, len);
  t->name[len] = '\0';
  c->p += len;
  c->left -= len;
  if (!cursor_u32(c, &ndim) || ndim < 1 || ndim > LAB_GOLDEN_MAX_NDIM) {
    lab_error_set(err, LAB_ERR_DATA, "golden %s: tensor %d \"%s\": ndim missing or not in 1..%d", src, i,
                  t->name, LAB_GOLDEN_MAX_NDIM);
    return 0;
  }
  t->ndim = (int)ndim;
  size_t numel = 1;
  for (uint32_t d = 0; d < ndim; d++) {
    uint32_t v;
    if (!cursor_u32(c, &v)) {
      lab_error_set(err, LAB_ERR_DATA, "golden %s: tensor %d \"%s\": truncated in dims", src, i, t->name);
      return 0;
    }
    /* 2^28 values (1 GiB) per tensor is far beyond any fixture and keeps numel * 4 from overflowing. */
    if (v == 0 || v > (1u << 28) || numel > ((size_t)1 << 28) / v) {
      lab_error_set(err, LAB_ERR_DATA, "golden %s: tensor %d \"%s\": dim %u = %u is zero or too large", src,
                    i, t->name, (unsigned)d, (unsigned)v);
      return 0;
    }
    t->dims[d] = (int)v;
    numel *= v;
  }
  t->numel = numel;
  if (c->left / 4 < numel) {
    lab_error_set(err, LAB_ERR_DATA, "golden %s: tensor %d \"%s\": needs %zu floats, %zu bytes left", src, i,
                  t->name, numel, c->left);
    return 0;
  }
  t->data = lab_xmalloc(numel * sizeof(float));
  for (size_t k = 0; k < numel; k++) { /* the length check above guarantees every read */
    const unsigned char *q = c->p + 4 * k;
    uint32_t bits = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
    memcpy(&t->data[k], &bits, sizeof bits);
  }
  c->p += 4 * numel;
  c->left -= 4 * numel;
  return 1;
}

lab_status lab_golden_parse(lab_golden *g, const void *bytes, size_t len, const char *source, lab_error *err) {
  memset(g, 0, sizeof *g);
  const char *src = source ? source : "<memory>";
  snprintf(g->source, sizeof g->source, "%s", src);
  golden_cursor c = {bytes, len};
  uint32_t version, count;
  if (len < sizeof golden_magic || memcmp(bytes, golden_magic, sizeof golden_magic) != 0)
    return lab_error_set(err, LAB_ERR_DATA, "golden %s: not a fixture (bad magic; expected \"LABGOLD\\0\")", src);
  c.p += sizeof golden_magic;
  c.left -= sizeof golden_magic;
  if (!cursor_u32(&c, &version) || !cursor_u32(&c, &count))
    return lab_error_set(err, LAB_ERR_DATA, "golden %s: truncated header", src);
  if (version != LAB_GOLDEN_VERSION)
    return lab_error_set(err, LAB_ERR_DATA, "golden %s: version %u, this reader knows %u (regenerate with make_golden.py)",
                         src, (unsigned)version, LAB_GOLDEN_VERSION);
  /* Every tensor takes at least 16 bytes, which bounds a sane count before allocating. */
  if (count == 0 || count > c.left / 16)
    return lab_error_set(err, LAB_ERR_DATA, "golden %s: tensor count %u impossible for %zu bytes", src,
                         (unsigned)count, len);
  g->tensors = lab_xcalloc(count, sizeof *g->tensors);
  for (uint32_t i = 0; i < count; i++) {
    if (!parse_tensor(&c, &g->tensors[i], (int)i, src, err)) {
      free(g->tensors[i].data); /* NULL unless the failure came after allocation */
      lab_golden_free(g);
      return err ? err->status : LAB_ERR_DATA;
    }
    g->n = (int)i + 1;
    for (int k = 0; k < (int)i; k++) {
      if (strcmp(g->tensors[k].name, g->tensors[i].name) == 0) {
        lab_status st = lab_error_set(err, LAB_ERR_DATA, "golden %s: tensor name \"%s\" appears twice", src,
                                      g->tensors[i].name);
        lab_golden_free(g);
        return st;
      }
    }
  }
  if (c.left != 0) {
    lab_golden_free(g);
    return lab_error_set(err, LAB_ERR_DATA, "golden %s: %zu unexpected bytes after the last of %u tensors", src,
                         c.left, (unsigned)count);
  }
  return LAB_STATUS_OK;
}

lab_status lab_golden_load(lab_golden *g, const char *path, lab_error *err) {
  memset(g, 0, sizeof *g);
  FILE *f = fopen(path, "rb");
  if (!f) return lab_error_set(err, LAB_ERR_IO, "golden: cannot open %s: %s", path, strerror(errno));
  lab_status st = LAB_STATUS_OK;
  unsigned char *buf = NULL;
  long size = -1;
  if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
  if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
    st = lab_error_set(err, LAB_ERR_IO, "golden: cannot size %s: %s", path, strerror(errno));
    goto done;
  }
  buf = lab_xmalloc((size_t)size + 1);
  if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
    st = lab_error_set(err, LAB_ERR_IO, "golden: short read of %s (%ld bytes expected)", path, size);
    goto done;
  }
  st = lab_golden_parse(g, buf, (size_t)size, path, err);
done:
  free(buf);
  fclose(f);
  return st;
}

lab_status lab_golden_load_fixture(lab_golden *g, const char *file, lab_error *err) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", LAB_GOLDEN_DIR, file);
  return lab_golden_load(g, path, err);
}

const lab_golden_tensor *lab_golden_find(const lab_golden *g, const char *name) {
  for (int i = 0; i < g->n; i++)
    if (strcmp(g->tensors[i].name, name) == 0) return &g->tensors[i];
  return NULL;
}

const float *lab_golden_get(const lab_golden *g, size_t numel, const char *fmt, ...) {
  char name[LAB_GOLDEN_MAX_NAME + 64];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(name, sizeof name, fmt, ap);
  va_end(ap);
  const lab_golden_tensor *t = lab_golden_find(g, name);
  if (!t) {
    fprintf(stderr, "golden %s: no tensor \"%s\"\n", g->source, name);
    return NULL;
  }
  if (t->numel != numel) {
    fprintf(stderr, "golden %s: tensor \"%s\" has %zu values, the test expects %zu\n", g->source, name,
            t->numel, numel);
    return NULL;
  }
  return t->data;
}
