/* checkpoint.c: named, CRC-checked sections written atomically; see checkpoint.h for the
 * file layout and the guarantees. */
#include "lab/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static const unsigned char ckpt_magic[8] = {'L', 'A', 'B', 'C', 'K', 'P', 'T', '\0'};
#define HDR_BYTES 16
#define TOC_ENTRY_BYTES 64
#define CHUNK_BYTES (1u << 20)

/* === little-endian encoding === */

static void put_u32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
  return v;
}
static uint64_t get_u64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

/* Float payloads are the host's bytes: only little-endian hosts agree with the format. */
static int host_is_le(void) {
  uint16_t x = 1;
  unsigned char c;
  memcpy(&c, &x, 1);
  return c == 1;
}

static uint32_t crc_update(uint32_t crc, const void *p, size_t n) {
  return (uint32_t)crc32_z(crc, (const Bytef *)p, (z_size_t)n);
}

/* "(N floats)" for 4-byte elements, "" otherwise. */
static const char *units(char *buf, size_t cap, uint64_t nbytes, size_t elem) {
  if (elem > 1)
    snprintf(buf, cap, " (%llu values of %zu bytes)", (unsigned long long)(nbytes / elem), elem);
  else
    buf[0] = '\0';
  return buf;
}

/* === writing === */

static lab_status fsync_dir_of(const char *path, lab_error *err) {
  size_t len = strlen(path);
  char *dir = lab_xmalloc(len + 2);
  const char *slash = strrchr(path, '/');
  if (!slash) {
    strcpy(dir, ".");
  } else if (slash == path) {
    strcpy(dir, "/");
  } else {
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
  }
  lab_status st = LAB_STATUS_OK;
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd < 0) {
    st = lab_error_set(err, LAB_ERR_IO, "checkpoint '%s': cannot open folder '%s' to sync it: %s", path, dir,
                       strerror(errno));
  } else {
    /* Some file systems cannot fsync a directory (EINVAL): the rename is then as durable as
     * they make it. */
    if (fsync(fd) != 0 && errno != EINVAL)
      st = lab_error_set(err, LAB_ERR_IO, "checkpoint '%s': fsync of folder '%s' failed: %s", path, dir,
                         strerror(errno));
    close(fd);
  }
  free(dir);
  return st;
}

lab_status lab_ckpt_write(const char *path, const lab_ckpt_section *s, int n, lab_error *err) {
  LAB_ASSERT(n >= 0 && n <= LAB_CKPT_MAX_SECTIONS, "%d sections (at most %d)", n, LAB_CKPT_MAX_SECTIONS);
  if (!host_is_le())
    return lab_error_set(err, LAB_ERR_STATE, "checkpoint '%s': the format stores little-endian floats; "
                         "this host is big-endian", path);
  unsigned char head[HDR_BYTES + TOC_ENTRY_BYTES * LAB_CKPT_MAX_SECTIONS + 4];
  size_t toc_end = HDR_BYTES + (size_t)TOC_ENTRY_BYTES * (size_t)n;
  memset(head, 0, sizeof head);
  memcpy(head, ckpt_magic, 8);
  put_u32(head + 8, LAB_CKPT_VERSION);
  put_u32(head + 12, (uint32_t)n);
  uint64_t off = toc_end + 4;
  for (int i = 0; i < n; i++) {
    size_t len = strlen(s[i].name);
    LAB_ASSERT(len > 0 && len < LAB_CKPT_NAME_MAX, "section name '%s' must have 1..%d characters", s[i].name,
               LAB_CKPT_NAME_MAX - 1);
    for (int j = 0; j < i; j++) LAB_ASSERT(strcmp(s[i].name, s[j].name) != 0, "duplicate section '%s'", s[i].name);
    LAB_ASSERT(s[i].data || s[i].nbytes == 0, "section '%s' has no data", s[i].name);
    unsigned char *e = head + HDR_BYTES + (size_t)TOC_ENTRY_BYTES * (size_t)i;
    memcpy(e, s[i].name, len);
    put_u64(e + 40, off);
    put_u64(e + 48, (uint64_t)s[i].nbytes);
    put_u32(e + 56, s[i].nbytes ? crc_update(0, s[i].data, s[i].nbytes) : 0);
    off += s[i].nbytes;
  }
  put_u32(head + toc_end, crc_update(0, head, toc_end));

  size_t plen = strlen(path);
  char *tmp = lab_xmalloc(plen + 5);
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, ".tmp", 5);
  lab_status st = LAB_STATUS_OK;
  int renamed = 0;
  FILE *f = fopen(tmp, "wb");
  if (!f) {
    st = lab_error_set(err, LAB_ERR_IO, "checkpoint '%s': section 'header': cannot create temp file '%s': %s",
                       path, tmp, strerror(errno));
    goto done;
  }
  if (fwrite(head, 1, toc_end + 4, f) != toc_end + 4) {
    st = lab_error_set(err, LAB_ERR_IO, "checkpoint '%s': section 'header': writing '%s' failed: %s", path, tmp,
                       strerror(errno));
    goto done;
  }
  /* Flushing after each section attributes a failure (disk full, size limit) to it. */
  for (int i = 0; i < n; i++) {
    if ((s[i].nbytes && fwrite(s[i].data, 1, s[i].nbytes, f) != s[i].nbytes) || fflush(f) != 0) {
      st = lab_error_set(err, LAB_ERR_IO, "checkpoint '%s': section '%s': writing %zu bytes to '%s' failed: %s",
                         path, s[i].name, s[i].nbytes, tmp, strerror(errno));
      goto done;
    }
  }
  if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
    st = lab_error_set(err, LAB_ERR_IO, "checkpoint '%s': flushing '%s' to disk failed: %s", path, tmp,
                       strerror(errno));
    goto done;
  }
  int rc = fclose(f);
  f = NULL;
  if (rc != 0) {
    st = lab_error_set(err, LAB_ERR_IO, "checkpoint '%s': closing '%s' failed: %s", path, tmp, strerror(errno));
    goto done;
  }
  if (rename(tmp, path) != 0) {
    st = lab_error_set(err, LAB_ERR_IO, "checkpoint '%s': renaming '%s' over it failed: %s", path, tmp,
                       strerror(errno));
    goto done;
  }
  renamed = 1;
  st = fsync_dir_of(path, err);
done:
  if (f) fclose(f);
  if (!renamed) unlink(tmp);
  free(tmp);
  return st;
}

/* === reading === */

typedef struct toc_entry {
  char name[LAB_CKPT_NAME_MAX];
  uint64_t off, nbytes;
  uint32_t crc;
} toc_entry;

typedef struct ckpt_file {
  const char *path;
  FILE *f;
  uint64_t size;
  int n;
  toc_entry toc[LAB_CKPT_MAX_SECTIONS];
} ckpt_file;

static lab_status corrupt(lab_error *err, const ckpt_file *cf, const char *section, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static lab_status corrupt(lab_error *err, const ckpt_file *cf, const char *section, const char *fmt, ...) {
  char what[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return lab_error_set(err, LAB_ERR_DATA, "checkpoint '%s': section '%s': %s", cf->path, section, what);
}

static lab_status read_at(ckpt_file *cf, uint64_t off, void *buf, size_t n, const char *section, lab_error *err) {
  if (n == 0) return LAB_STATUS_OK;
  if (fseeko(cf->f, (off_t)off, SEEK_SET) != 0 || fread(buf, 1, n, cf->f) != n)
    return lab_error_set(err, LAB_ERR_IO, "checkpoint '%s': section '%s': reading %zu bytes at offset %llu failed: %s",
                         cf->path, section, n, (unsigned long long)off,
                         ferror(cf->f) ? strerror(errno) : "unexpected end of file");
  return LAB_STATUS_OK;
}

/* Opens the file and checks header, table of contents and section bounds. */
static lab_status open_and_parse(ckpt_file *cf, const char *path, lab_error *err) {
  memset(cf, 0, sizeof *cf);
  cf->path = path;
  if (!host_is_le())
    return lab_error_set(err, LAB_ERR_STATE, "checkpoint '%s': the format stores little-endian floats; "
                         "this host is big-endian", path);
  cf->f = fopen(path, "rb");
  if (!cf->f) return lab_error_set(err, LAB_ERR_IO, "checkpoint '%s': cannot open: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fileno(cf->f), &sb) != 0)
    return lab_error_set(err, LAB_ERR_IO, "checkpoint '%s': cannot stat: %s", path, strerror(errno));
  cf->size = (uint64_t)sb.st_size;
  if (cf->size < HDR_BYTES)
    return corrupt(err, cf, "header", "truncated: the file has %llu bytes, the header needs %d",
                   (unsigned long long)cf->size, HDR_BYTES);
  unsigned char head[HDR_BYTES + TOC_ENTRY_BYTES * LAB_CKPT_MAX_SECTIONS + 4];
  lab_status st = read_at(cf, 0, head, HDR_BYTES, "header", err);
  if (st != LAB_STATUS_OK) return st;
  if (memcmp(head, ckpt_magic, 8) != 0)
    return corrupt(err, cf, "header", "bad magic number: not an inception-lab checkpoint");
  uint32_t version = get_u32(head + 8);
  if (version != LAB_CKPT_VERSION)
    return corrupt(err, cf, "header", "format version %u, this build reads version %d", version, LAB_CKPT_VERSION);
  uint32_t n = get_u32(head + 12);
  if (n > LAB_CKPT_MAX_SECTIONS)
    return corrupt(err, cf, "header", "corrupt: %u sections (at most %d)", n, LAB_CKPT_MAX_SECTIONS);
  cf->n = (int)n;
  size_t toc_end = HDR_BYTES + (size_t)TOC_ENTRY_BYTES * n;
  if (cf->size < toc_end + 4)
    return corrupt(err, cf, "toc", "truncated: the file has %llu bytes, the table of %u sections needs %zu",
                   (unsigned long long)cf->size, n, toc_end + 4);
  st = read_at(cf, HDR_BYTES, head + HDR_BYTES, toc_end + 4 - HDR_BYTES, "toc", err);
  if (st != LAB_STATUS_OK) return st;
  uint32_t stored = get_u32(head + toc_end), computed = crc_update(0, head, toc_end);
  if (stored != computed)
    return corrupt(err, cf, "toc", "CRC mismatch (stored 0x%08x, computed 0x%08x): the header or the table "
                   "of contents is corrupt", stored, computed);
  uint64_t expect_off = toc_end + 4;
  for (int i = 0; i < cf->n; i++) {
    const unsigned char *e = head + HDR_BYTES + (size_t)TOC_ENTRY_BYTES * (size_t)i;
    toc_entry *t = &cf->toc[i];
    memcpy(t->name, e, LAB_CKPT_NAME_MAX);
    if (t->name[LAB_CKPT_NAME_MAX - 1] != '\0' || t->name[0] == '\0') {
      /* CRC-protected, so only a writer bug gets here; name the slot instead. */
      snprintf(t->name, sizeof t->name, "#%d", i);
      return corrupt(err, cf, t->name, "invalid section name in the table of contents");
    }
    t->off = get_u64(e + 40);
    t->nbytes = get_u64(e + 48);
    t->crc = get_u32(e + 56);
    for (int j = 0; j < i; j++)
      if (strcmp(t->name, cf->toc[j].name) == 0) return corrupt(err, cf, t->name, "appears twice");
    if (t->off != expect_off)
      return corrupt(err, cf, t->name, "corrupt table entry: offset %llu, expected %llu",
                     (unsigned long long)t->off, (unsigned long long)expect_off);
    if (t->off > cf->size || t->nbytes > cf->size - t->off)
      return corrupt(err, cf, t->name, "truncated: its %llu bytes end at offset %llu but the file has %llu bytes",
                     (unsigned long long)t->nbytes, (unsigned long long)(t->off + t->nbytes),
                     (unsigned long long)cf->size);
    expect_off = t->off + t->nbytes;
  }
  if (expect_off != cf->size)
    return corrupt(err, cf, cf->n ? cf->toc[cf->n - 1].name : "toc",
                   "the file has %llu unexpected bytes after this last section",
                   (unsigned long long)(cf->size - expect_off));
  return LAB_STATUS_OK;
}

static const toc_entry *find_entry(const ckpt_file *cf, const char *name) {
  for (int i = 0; i < cf->n; i++)
    if (strcmp(cf->toc[i].name, name) == 0) return &cf->toc[i];
  return NULL;
}

/* Streams a section through the CRC (dst NULL: check only; else also copy into dst). */
static lab_status check_crc(ckpt_file *cf, const toc_entry *t, unsigned char *chunk, unsigned char *dst,
                            lab_error *err) {
  uint32_t crc = 0;
  for (uint64_t done = 0; done < t->nbytes;) {
    size_t k = (size_t)(t->nbytes - done < CHUNK_BYTES ? t->nbytes - done : CHUNK_BYTES);
    unsigned char *buf = dst ? dst + done : chunk;
    lab_status st = read_at(cf, t->off + done, buf, k, t->name, err);
    if (st != LAB_STATUS_OK) return st;
    crc = crc_update(crc, buf, k);
    done += k;
  }
  if (crc != t->crc) {
    if (dst)
      return lab_error_set(err, LAB_ERR_IO, "checkpoint '%s': section '%s': the file changed while being read "
                           "(CRC 0x%08x, validated as 0x%08x); the loaded state is incomplete",
                           cf->path, t->name, crc, t->crc);
    return corrupt(err, cf, t->name, "CRC mismatch (stored 0x%08x, computed 0x%08x): the data is corrupt",
                   t->crc, crc);
  }
  return LAB_STATUS_OK;
}

lab_status lab_ckpt_read(const char *path, lab_ckpt_section *s, int n, int partial, lab_error *err) {
  ckpt_file cf;
  unsigned char *chunk = NULL;
  const toc_entry *match[LAB_CKPT_MAX_SECTIONS];
  LAB_ASSERT(n >= 0 && n <= LAB_CKPT_MAX_SECTIONS, "%d sections requested", n);
  lab_status st = open_and_parse(&cf, path, err);
  if (st != LAB_STATUS_OK) goto done;
  for (int i = 0; i < n; i++) {
    const toc_entry *t = find_entry(&cf, s[i].name);
    if (!t) {
      char have[512] = "";
      size_t used = 0;
      for (int j = 0; j < cf.n && used < sizeof have; j++)
        used += (size_t)snprintf(have + used, sizeof have - used, "%s%s", j ? ", " : "", cf.toc[j].name);
      st = corrupt(err, &cf, s[i].name, "missing (the file holds: %s)", cf.n ? have : "nothing");
      goto done;
    }
    char u1[64], u2[64];
    if (s[i].variable ? t->nbytes > s[i].nbytes : t->nbytes != s[i].nbytes) {
      st = corrupt(err, &cf, s[i].name, "size mismatch: the file holds %llu bytes%s, the current run %s %zu bytes%s",
                   (unsigned long long)t->nbytes, units(u1, sizeof u1, t->nbytes, s[i].elem),
                   s[i].variable ? "accepts at most" : "needs", s[i].nbytes,
                   units(u2, sizeof u2, s[i].nbytes, s[i].elem));
      goto done;
    }
    match[i] = t;
  }
  if (!partial) {
    for (int j = 0; j < cf.n; j++) {
      int wanted = 0;
      for (int i = 0; i < n; i++) wanted |= strcmp(cf.toc[j].name, s[i].name) == 0;
      if (!wanted) {
        st = corrupt(err, &cf, cf.toc[j].name, "is in the file but not expected by the current run");
        goto done;
      }
    }
  }
  chunk = lab_trymalloc(CHUNK_BYTES);
  if (!chunk) {
    st = lab_error_set(err, LAB_ERR_NOMEM, "checkpoint '%s': cannot allocate a read buffer", path);
    goto done;
  }
  for (int j = 0; j < cf.n; j++) {
    st = check_crc(&cf, &cf.toc[j], chunk, NULL, err);
    if (st != LAB_STATUS_OK) goto done;
  }
  for (int i = 0; i < n; i++) {
    st = check_crc(&cf, match[i], chunk, s[i].data, err);
    if (st != LAB_STATUS_OK) goto done;
    s[i].got = (size_t)match[i]->nbytes;
  }
done:
  free(chunk);
  if (cf.f) fclose(cf.f);
  return st;
}

/* === the training state === */

#define POS_BYTES 24
#define RNG_BYTES 32

static void encode_pos(unsigned char *b, const lab_ckpt_position *p) {
  put_u64(b, p->epoch);
  put_u64(b + 8, p->step_in_epoch);
  put_u64(b + 16, p->global_step);
}
static void decode_pos(const unsigned char *b, lab_ckpt_position *p) {
  p->epoch = get_u64(b);
  p->step_in_epoch = get_u64(b + 8);
  p->global_step = get_u64(b + 16);
}

/* "name count decay\n" per tensor; returns a heap string (caller frees), length in *len. */
static char *names_text(const lab_param_list *pl, size_t *len) {
  size_t cap = 1;
  for (int i = 0; i < pl->n; i++) cap += strlen(pl->items[i].name) + 48;
  char *t = lab_xmalloc(cap);
  size_t used = 0;
  t[0] = '\0';
  for (int i = 0; i < pl->n; i++)
    used += (size_t)snprintf(t + used, cap - used, "%s %zu %d\n", pl->items[i].name, pl->items[i].count,
                             pl->items[i].decay);
  *len = used;
  return t;
}

typedef struct state_sections {
  lab_ckpt_section s[8];
  int n;
  unsigned char pos[POS_BYTES];
  unsigned char *rng;
  char *names;
  size_t names_len;
  char hash[LAB_CKPT_HASH_MAX];
} state_sections;

static void add_section(state_sections *ss, const char *name, void *data, size_t nbytes, size_t elem, int variable) {
  lab_ckpt_section *x = &ss->s[ss->n++];
  memset(x, 0, sizeof *x);
  x->name = name;
  x->data = data;
  x->nbytes = nbytes;
  x->elem = elem;
  x->variable = variable;
}

/* The section list for s. for_read: hash/position/rng/param_names read into staging buffers
 * (names with room to spare, so that a longer list in the file is still shown). */
static void state_sections_build(state_sections *ss, const lab_ckpt_state *s, int for_read) {
  memset(ss, 0, sizeof *ss);
  if (for_read)
    add_section(ss, "config_hash", ss->hash, LAB_CKPT_HASH_MAX - 1, 1, 1);
  else
    add_section(ss, "config_hash", (void *)s->config_hash, strnlen(s->config_hash, LAB_CKPT_HASH_MAX - 1), 1, 0);
  if (!for_read) encode_pos(ss->pos, &s->pos);
  add_section(ss, "position", ss->pos, POS_BYTES, 8, 0);
  add_section(ss, "params", s->params, s->n_params * sizeof(float), sizeof(float), 0);
  if (s->param_list) {
    size_t len;
    char *want = names_text(s->param_list, &len);
    if (for_read) {
      ss->names_len = 2 * len + 4096;
      ss->names = lab_xmalloc(ss->names_len + 1);
      free(want);
    } else {
      ss->names = want;
      ss->names_len = len;
    }
    add_section(ss, "param_names", ss->names, ss->names_len, 1, for_read);
  }
  add_section(ss, "buffers", s->buffers, s->n_buffers * sizeof(float), sizeof(float), 0);
  add_section(ss, "optim", s->optim, s->n_optim * sizeof(float), sizeof(float), 0);
  if (s->ema) add_section(ss, "ema", s->ema, s->n_ema * sizeof(float), sizeof(float), 0);
  size_t nr = (size_t)(s->n_rngs > 0 ? s->n_rngs : 0);
  ss->rng = lab_xmalloc(nr * RNG_BYTES + 1);
  if (!for_read)
    for (size_t i = 0; i < nr; i++)
      for (int k = 0; k < 4; k++) put_u64(ss->rng + i * RNG_BYTES + 8 * (size_t)k, s->rngs[i].s[k]);
  add_section(ss, "rng", ss->rng, nr * RNG_BYTES, 8, 0);
}

static void state_sections_free(state_sections *ss) {
  free(ss->rng);
  free(ss->names);
}

lab_status lab_ckpt_save(const char *path, const lab_ckpt_state *s, lab_error *err) {
  state_sections ss;
  state_sections_build(&ss, s, 0);
  lab_status st = lab_ckpt_write(path, ss.s, ss.n, err);
  state_sections_free(&ss);
  return st;
}

static const lab_ckpt_section *section_named(const state_sections *ss, const char *name) {
  for (int i = 0; i < ss->n; i++)
    if (strcmp(ss->s[i].name, name) == 0) return &ss->s[i];
  return NULL;
}

/* Compares the file's tensor list with the network's; LAB_ERR_DATA naming the first difference. */
static lab_status compare_names(const char *path, const char *file, size_t file_len, const lab_param_list *pl,
                                lab_error *err) {
  size_t len;
  char *want = names_text(pl, &len);
  lab_status st = LAB_STATUS_OK;
  if (len != file_len || memcmp(want, file, len) != 0) {
    const char *a = file, *b = want, *a_end = file + file_len, *b_end = want + len;
    int line = 0;
    while (a < a_end && b < b_end) {
      const char *an = memchr(a, '\n', (size_t)(a_end - a)), *bn = memchr(b, '\n', (size_t)(b_end - b));
      if (!an) an = a_end;
      if (!bn) bn = b_end;
      if (an - a != bn - b || memcmp(a, b, (size_t)(an - a)) != 0) break;
      a = an < a_end ? an + 1 : an;
      b = bn < b_end ? bn + 1 : bn;
      line++;
    }
    int na = (int)strcspn(a, "\n"), nb = (int)strcspn(b, "\n");
    if (a >= a_end || b >= b_end)
      st = lab_error_set(err, LAB_ERR_DATA, "checkpoint '%s': section 'param_names': the file lists %s tensors "
                         "than the network (first difference at tensor %d: file '%.*s', network '%.*s')",
                         path, a >= a_end ? "fewer" : "more", line, na, a, nb, b);
    else
      st = lab_error_set(err, LAB_ERR_DATA, "checkpoint '%s': section 'param_names': tensor %d is '%.*s' "
                         "(name count decay) in the file but '%.*s' in the network",
                         path, line, na, a, nb, b);
  }
  free(want);
  return st;
}

lab_status lab_ckpt_peek(const char *path, char hash[LAB_CKPT_HASH_MAX], lab_ckpt_position *pos,
                         lab_error *err) {
  char h[LAB_CKPT_HASH_MAX];
  unsigned char pb[POS_BYTES];
  lab_ckpt_section s[2] = {
      {.name = "config_hash", .data = h, .nbytes = LAB_CKPT_HASH_MAX - 1, .elem = 1, .variable = 1},
      {.name = "position", .data = pb, .nbytes = POS_BYTES, .elem = 8},
  };
  lab_status st = lab_ckpt_read(path, s, 2, 1, err);
  if (st != LAB_STATUS_OK) return st;
  memcpy(hash, h, s[0].got);
  hash[s[0].got] = '\0';
  decode_pos(pb, pos);
  return LAB_STATUS_OK;
}

lab_status lab_ckpt_load(const char *path, lab_ckpt_state *s, lab_error *err) {
  state_sections ss;
  state_sections_build(&ss, s, 1);
  /* Pass 1: the small sections only, the whole file validated; nothing of s touched yet. */
  lab_ckpt_section small[3];
  int n_small = 0;
  small[n_small++] = *section_named(&ss, "config_hash");
  if (s->param_list) small[n_small++] = *section_named(&ss, "param_names");
  lab_status st = lab_ckpt_read(path, small, n_small, 1, err);
  if (st != LAB_STATUS_OK) goto done;
  ss.hash[small[0].got] = '\0';
  if (strcmp(ss.hash, s->config_hash) != 0) {
    st = lab_error_set(err, LAB_ERR_CONFIG, "checkpoint '%s': section 'config_hash': the file was written under "
                       "configuration '%s', the current configuration is '%s'", path, ss.hash, s->config_hash);
    goto done;
  }
  if (s->param_list) {
    ss.names[small[1].got] = '\0';
    st = compare_names(path, ss.names, small[1].got, s->param_list, err);
    if (st != LAB_STATUS_OK) goto done;
  }
  /* Pass 2: every section, exact sizes, nothing extra; copies only after full validation. */
  st = lab_ckpt_read(path, ss.s, ss.n, 0, err);
  if (st != LAB_STATUS_OK) goto done;
  decode_pos(ss.pos, &s->pos);
  for (int i = 0; i < s->n_rngs; i++)
    for (int k = 0; k < 4; k++) s->rngs[i].s[k] = get_u64(ss.rng + (size_t)i * RNG_BYTES + 8 * (size_t)k);
done:
  state_sections_free(&ss);
  return st;
}
