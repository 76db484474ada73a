/* runfolder.c: run folder naming, atomic writes, summary.json (see runfolder.h). */
#include "lab/runfolder.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void lab_run_slug(const char *name, char *out, size_t n) {
  LAB_ASSERT(n > 4, "slug buffer too small");
  size_t k = 0;
  int dash = 0;
  for (const char *p = name; *p && k + 1 < n; p++) {
    char c = *p;
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    int keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_';
    if (keep) {
      if (dash && k > 0 && k + 2 < n) out[k++] = '-';
      dash = 0;
      out[k++] = c;
    } else {
      dash = 1;
    }
  }
  out[k] = '\0';
  /* "." and ".." would name other folders */
  if (k == 0 || !strcmp(out, ".") || !strcmp(out, "..")) snprintf(out, n, "row");
}

lab_status lab_run_dir(const char *out, const char *experiment, const char *row, long seed, char *dir,
                       size_t n, lab_error *err) {
  char e[256], r[256];
  lab_run_slug(experiment, e, sizeof e);
  lab_run_slug(row, r, sizeof r);
  int w = snprintf(dir, n, "%s/%s/%s/seed-%ld", out, e, r, seed);
  if (w < 0 || (size_t)w >= n) return lab_error_set(err, LAB_ERR_USAGE, "run folder path too long: %s/%s/%s", out, e, r);
  return LAB_STATUS_OK;
}

lab_status lab_mkdirs(const char *path, lab_error *err) {
  char buf[4096];
  if (strlen(path) >= sizeof buf) return lab_error_set(err, LAB_ERR_IO, "path too long: %s", path);
  strcpy(buf, path);
  for (char *p = buf + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char c = *p;
      *p = '\0';
      if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return lab_error_set(err, LAB_ERR_IO, "cannot create folder %s: %s", buf, strerror(errno));
      *p = c;
      if (c == '\0') break;
    }
  }
  struct stat sb;
  if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
    return lab_error_set(err, LAB_ERR_IO, "%s exists and is not a folder", path);
  return LAB_STATUS_OK;
}

static void fsync_dir_of(const char *path) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash == dir) slash[1] = '\0';
  else if (slash) *slash = '\0';
  else snprintf(dir, sizeof dir, ".");
  int fd = open(dir, O_RDONLY);
  if (fd >= 0) {
    fsync(fd); /* best effort: some file systems refuse fsync on folders */
    close(fd);
  }
}

lab_status lab_write_atomic(const char *path, const void *data, size_t len, lab_error *err) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  if (!f) return lab_error_set(err, LAB_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
  int ok = fwrite(data, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0;
  int e = errno;
  if (fclose(f) != 0 && ok) {
    ok = 0;
    e = errno;
  }
  if (!ok || rename(tmp, path) != 0) {
    if (ok) e = errno;
    remove(tmp);
    return lab_error_set(err, LAB_ERR_IO, "cannot write %s: %s", path, strerror(e));
  }
  fsync_dir_of(path);
  return LAB_STATUS_OK;
}

void lab_strbuf_printf(lab_strbuf *b, const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->cap - b->len;
    int w = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? room : 0, fmt, ap);
    va_end(ap);
    LAB_ASSERT(w >= 0, "vsnprintf failed");
    if (b->s && (size_t)w < room) {
      b->len += (size_t)w;
      return;
    }
    size_t cap = b->cap ? b->cap * 2 : 1024;
    while (cap < b->len + (size_t)w + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    LAB_ASSERT(s, "out of memory (%zu bytes)", cap);
    b->s = s;
    b->cap = cap;
  }
}

void lab_strbuf_json_string(lab_strbuf *b, const char *s) {
  if (!s) {
    lab_strbuf_printf(b, "null");
    return;
  }
  lab_strbuf_printf(b, "\"");
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') lab_strbuf_printf(b, "\\%c", *p);
    else if (*p == '\n') lab_strbuf_printf(b, "\\n");
    else if (*p < 0x20) lab_strbuf_printf(b, "\\u%04x", *p);
    else lab_strbuf_printf(b, "%c", *p);
  }
  lab_strbuf_printf(b, "\"");
}

void lab_strbuf_json_number(lab_strbuf *b, double v) {
  if (!isfinite(v)) lab_strbuf_printf(b, "null");
  else lab_strbuf_printf(b, "%.17g", v);
}

void lab_strbuf_free(lab_strbuf *b) {
  free(b->s);
  memset(b, 0, sizeof *b);
}

lab_status lab_run_summary_write(const char *path, const lab_run_summary *s, lab_error *err) {
  lab_strbuf b = {0};
#define STR(k, v) (lab_strbuf_printf(&b, "  \"%s\": ", k), lab_strbuf_json_string(&b, v), lab_strbuf_printf(&b, ",\n"))
#define NUM(k, v) (lab_strbuf_printf(&b, "  \"%s\": ", k), lab_strbuf_json_number(&b, v), lab_strbuf_printf(&b, ",\n"))
  lab_strbuf_printf(&b, "{\n");
  STR("status", s->status);
  STR("experiment", s->experiment);
  STR("variant", s->variant);
  lab_strbuf_printf(&b, "  \"seed\": %ld,\n", s->seed);
  STR("config_hash", s->config_hash);
  STR("dataset", s->dataset);
  lab_strbuf_printf(&b, "  \"input_size\": %d,\n", s->input_size);
  lab_strbuf_printf(&b, "  \"epochs\": %ld,\n", s->epochs);
  NUM("test_top1_error", s->test_top1_error);
  NUM("test_top5_error", s->test_top5_error);
  NUM("ema_test_top1_error", s->ema_test_top1_error);
  NUM("ema_test_top5_error", s->ema_test_top5_error);
  NUM("val_top1_error", s->val_top1_error);
  NUM("val_top5_error", s->val_top5_error);
  NUM("ema_val_top1_error", s->ema_val_top1_error);
  NUM("ema_val_top5_error", s->ema_val_top5_error);
  NUM("train_seconds", s->train_seconds);
  NUM("images_per_second", s->images_per_second);
  lab_strbuf_printf(&b, "  \"threads\": %d,\n  \"ranks\": %d,\n  \"batch\": %d,\n", s->threads,
                    s->ranks > 0 ? s->ranks : 1, s->batch);
  lab_strbuf_printf(&b, "  \"params\": %llu,\n  \"macs\": %llu,\n", (unsigned long long)s->params,
                    (unsigned long long)s->macs);
  lab_strbuf_printf(&b, "  \"peak_memory_bytes\": %llu,\n", (unsigned long long)s->peak_memory_bytes);
  STR("error", s->error);
  if (s->nan_step >= 0) lab_strbuf_printf(&b, "  \"nan_step\": %lld,\n", s->nan_step);
  else lab_strbuf_printf(&b, "  \"nan_step\": null,\n");
  lab_strbuf_printf(&b, "  \"nan_node\": ");
  lab_strbuf_json_string(&b, s->nan_node);
  lab_strbuf_printf(&b, "\n}\n");
#undef STR
#undef NUM
  lab_status st = lab_write_atomic(path, b.s, b.len, err);
  lab_strbuf_free(&b);
  return st;
}
