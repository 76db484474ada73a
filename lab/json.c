/* json.c: strict recursive-descent JSON reader (json.h). */
#include "lab/json.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct jp {
  const char *s;
  size_t len, pos;
  int line, col;
  const char *file;
  lab_error *err;
} jp;

static const char *kind_name(lab_json_kind k) {
  static const char *const names[] = {"null", "a boolean", "a number", "a string", "an array", "an object"};
  return names[k];
}

static lab_status jp_fail(jp *p, const char *fmt, const char *what) {
  char msg[512];
  snprintf(msg, sizeof msg, fmt, what);
  return lab_error_set(p->err, LAB_ERR_DATA, "%s:%d:%d: %s", p->file, p->line, p->col, msg);
}

static int peek(const jp *p) { return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1; }

static void advance(jp *p) {
  if (p->s[p->pos] == '\n') {
    p->line++;
    p->col = 1;
  } else {
    p->col++;
  }
  p->pos++;
}

static void skip_ws(jp *p) {
  for (int c = peek(p); c == ' ' || c == '\t' || c == '\n' || c == '\r'; c = peek(p)) advance(p);
}

/* What is at the cursor, for messages. */
static const char *found(const jp *p, char *buf, size_t n) {
  int c = peek(p);
  if (c < 0) return "the end of the file";
  if (c >= 0x20 && c < 0x7f)
    snprintf(buf, n, "'%c'", c);
  else
    snprintf(buf, n, "byte 0x%02x", c);
  return buf;
}

static lab_json *node(const jp *p, lab_json_kind k) {
  lab_json *j = lab_xcalloc(1, sizeof *j);
  j->kind = k;
  j->line = p->line;
  j->col = p->col;
  j->file = p->file;
  return j;
}

static lab_status parse_value(jp *p, int depth, lab_json **out);
static void free_rec(lab_json *j);

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static void put_utf8(char *b, size_t *k, unsigned cp) {
  if (cp < 0x80) {
    b[(*k)++] = (char)cp;
  } else if (cp < 0x800) {
    b[(*k)++] = (char)(0xc0 | (cp >> 6));
    b[(*k)++] = (char)(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    b[(*k)++] = (char)(0xe0 | (cp >> 12));
    b[(*k)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
    b[(*k)++] = (char)(0x80 | (cp & 0x3f));
  } else {
    b[(*k)++] = (char)(0xf0 | (cp >> 18));
    b[(*k)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
    b[(*k)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
    b[(*k)++] = (char)(0x80 | (cp & 0x3f));
  }
}

static lab_status parse_hex4(jp *p, unsigned *cp) {
  *cp = 0;
  for (int i = 0; i < 4; i++) {
    int v = hexval(peek(p));
    if (v < 0) return jp_fail(p, "expected 4 hex digits after \\u%s", "");
    *cp = *cp * 16 + (unsigned)v;
    advance(p);
  }
  return LAB_STATUS_OK;
}

/* The cursor is on the opening quote. The decoded string is never longer than the source. */
static lab_status parse_string(jp *p, char **out) {
  char tmp[64];
  advance(p);
  size_t start = p->pos, k = 0;
  char *b = lab_xmalloc(p->len - start + 1);
  lab_status st = LAB_STATUS_OK;
  for (;;) {
    int c = peek(p);
    if (c < 0) {
      st = jp_fail(p, "unterminated string: found %s", "the end of the file");
      break;
    }
    if (c == '"') {
      advance(p);
      break;
    }
    if (c < 0x20) {
      st = jp_fail(p, "control character %s inside a string (escape it)", found(p, tmp, sizeof tmp));
      break;
    }
    if (c != '\\') {
      b[k++] = (char)c;
      advance(p);
      continue;
    }
    advance(p);
    c = peek(p);
    const char *simple = strchr("\"\\/bfnrt", c < 0 ? 'x' : c);
    if (c > 0 && simple) {
      static const char repl[] = "\"\\/\b\f\n\r\t";
      b[k++] = repl[simple - "\"\\/bfnrt"];
      advance(p);
      continue;
    }
    if (c != 'u') {
      st = jp_fail(p, "unknown escape \\%s in a string", found(p, tmp, sizeof tmp));
      break;
    }
    advance(p);
    unsigned cp, lo;
    if ((st = parse_hex4(p, &cp))) break;
    if (cp >= 0xd800 && cp < 0xdc00) { /* a surrogate pair */
      if (peek(p) != '\\' || p->pos + 1 >= p->len || p->s[p->pos + 1] != 'u') {
        st = jp_fail(p, "a high surrogate \\u escape must be followed by a low one%s", "");
        break;
      }
      advance(p);
      advance(p);
      if ((st = parse_hex4(p, &lo))) break;
      if (lo < 0xdc00 || lo > 0xdfff) {
        st = jp_fail(p, "invalid low surrogate in a \\u escape%s", "");
        break;
      }
      cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    } else if (cp >= 0xdc00 && cp < 0xe000) {
      st = jp_fail(p, "lone low surrogate in a \\u escape%s", "");
      break;
    }
    if (cp == 0) {
      st = jp_fail(p, "\\u0000 is not allowed in a string here%s", "");
      break;
    }
    put_utf8(b, &k, cp);
  }
  if (st) {
    free(b);
    return st;
  }
  b[k] = '\0';
  *out = b;
  return LAB_STATUS_OK;
}

/* JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static lab_status parse_number(jp *p, double *out) {
  char tmp[64];
  size_t s = p->pos;
  const char *t = p->s;
  size_t i = s;
#define DIG(k) ((k) < p->len && t[k] >= '0' && t[k] <= '9')
  if (i < p->len && t[i] == '-') i++;
  if (i < p->len && t[i] == '0')
    i++;
  else if (DIG(i))
    while (DIG(i)) i++;
  else
    return jp_fail(p, "expected a value, found %s", found(p, tmp, sizeof tmp));
  if (i < p->len && t[i] == '.') {
    i++;
    if (!DIG(i)) return jp_fail(p, "expected digits after the decimal point%s", "");
    while (DIG(i)) i++;
  }
  if (i < p->len && (t[i] == 'e' || t[i] == 'E')) {
    i++;
    if (i < p->len && (t[i] == '+' || t[i] == '-')) i++;
    if (!DIG(i)) return jp_fail(p, "expected digits in the exponent%s", "");
    while (DIG(i)) i++;
  }
#undef DIG
  char buf[128];
  if (i - s >= sizeof buf) return jp_fail(p, "number longer than %s characters", "127");
  memcpy(buf, t + s, i - s);
  buf[i - s] = '\0';
  errno = 0;
  double v = strtod(buf, NULL);
  if (errno == ERANGE && fabs(v) > 1.0) return jp_fail(p, "number %s does not fit a double", buf);
  *out = v;
  while (p->pos < i) advance(p);
  return LAB_STATUS_OK;
}

static lab_status expect_word(jp *p, const char *w) {
  size_t n = strlen(w);
  if (p->len - p->pos < n || memcmp(p->s + p->pos, w, n) != 0) {
    char tmp[64];
    return jp_fail(p, "expected a value, found %s", found(p, tmp, sizeof tmp));
  }
  for (size_t i = 0; i < n; i++) advance(p);
  return LAB_STATUS_OK;
}

static lab_status parse_container(jp *p, int depth, lab_json *j) {
  char tmp[64];
  int is_obj = j->kind == LAB_JSON_OBJECT, cap = 0;
  char close = is_obj ? '}' : ']';
  advance(p);
  skip_ws(p);
  if (peek(p) == close) {
    advance(p);
    return LAB_STATUS_OK;
  }
  for (;;) {
    char *key = NULL;
    lab_status st;
    if (is_obj) {
      if (peek(p) != '"') return jp_fail(p, "expected a key in double quotes, found %s", found(p, tmp, sizeof tmp));
      int kl = p->line, kc = p->col;
      if ((st = parse_string(p, &key))) return st;
      for (int i = 0; i < j->n; i++)
        if (!strcmp(j->keys[i], key)) {
          st = lab_error_set(p->err, LAB_ERR_DATA, "%s:%d:%d: duplicate key '%s' (first at %d:%d)", p->file, kl, kc,
                             key, j->items[i]->line, j->items[i]->col);
          free(key);
          return st;
        }
      skip_ws(p);
      if (peek(p) != ':') {
        free(key);
        return jp_fail(p, "expected ':' after the key, found %s", found(p, tmp, sizeof tmp));
      }
      advance(p);
      skip_ws(p);
    }
    lab_json *v = NULL;
    if ((st = parse_value(p, depth + 1, &v))) {
      free(key);
      return st;
    }
    if (j->n == cap) {
      cap = cap ? 2 * cap : 8;
      j->items = realloc(j->items, (size_t)cap * sizeof *j->items);
      LAB_ASSERT(j->items, "out of memory");
      if (is_obj) {
        j->keys = realloc(j->keys, (size_t)cap * sizeof *j->keys);
        LAB_ASSERT(j->keys, "out of memory");
      }
    }
    if (is_obj) j->keys[j->n] = key;
    j->items[j->n++] = v;
    skip_ws(p);
    int c = peek(p);
    if (c == ',') {
      advance(p);
      skip_ws(p);
      if (peek(p) == close) return jp_fail(p, "trailing comma before %s", is_obj ? "'}'" : "']'");
      continue;
    }
    if (c == close) {
      advance(p);
      return LAB_STATUS_OK;
    }
    return jp_fail(p, is_obj ? "expected ',' or '}', found %s" : "expected ',' or ']', found %s",
                   found(p, tmp, sizeof tmp));
  }
}

static lab_status parse_value(jp *p, int depth, lab_json **out) {
  char tmp[64];
  if (depth > LAB_JSON_MAX_DEPTH) return jp_fail(p, "nesting deeper than %s levels", "64");
  skip_ws(p);
  int c = peek(p);
  lab_json *j = NULL;
  lab_status st = LAB_STATUS_OK;
  if (c == '{' || c == '[') {
    j = node(p, c == '{' ? LAB_JSON_OBJECT : LAB_JSON_ARRAY);
    st = parse_container(p, depth, j);
  } else if (c == '"') {
    j = node(p, LAB_JSON_STRING);
    st = parse_string(p, &j->string);
  } else if (c == 't' || c == 'f') {
    j = node(p, LAB_JSON_BOOL);
    j->boolean = c == 't';
    st = expect_word(p, c == 't' ? "true" : "false");
  } else if (c == 'n') {
    j = node(p, LAB_JSON_NULL);
    st = expect_word(p, "null");
  } else if (c == '-' || (c >= '0' && c <= '9')) {
    j = node(p, LAB_JSON_NUMBER);
    st = parse_number(p, &j->number);
  } else {
    return jp_fail(p, "expected a value, found %s", found(p, tmp, sizeof tmp));
  }
  if (st) {
    free_rec(j);
    return st;
  }
  *out = j;
  return LAB_STATUS_OK;
}

lab_status lab_json_parse(const char *text, size_t len, const char *name, lab_json **out, lab_error *err) {
  *out = NULL;
  size_t nl = strlen(name) + 1;
  char *file = lab_xmalloc(nl);
  memcpy(file, name, nl);
  jp p = {text, len, 0, 1, 1, file, err};
  lab_json *j = NULL;
  lab_status st = parse_value(&p, 0, &j);
  if (!st) {
    skip_ws(&p);
    if (p.pos < p.len) {
      char tmp[64];
      st = jp_fail(&p, "expected the end of the file after the value, found %s", found(&p, tmp, sizeof tmp));
      free_rec(j);
      j = NULL;
    }
  }
  if (st) {
    free(file);
    return st;
  }
  /* Every node points at `file`; the root owns it (lab_json_free). */
  *out = j;
  return LAB_STATUS_OK;
}

lab_status lab_json_load(const char *path, lab_json **out, lab_error *err) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return lab_error_set(err, LAB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  size_t cap = 4096, n = 0;
  char *buf = lab_xmalloc(cap);
  for (;;) {
    if (n == cap) {
      cap *= 2;
      buf = realloc(buf, cap);
      LAB_ASSERT(buf, "out of memory");
    }
    size_t r = fread(buf + n, 1, cap - n, f);
    n += r;
    if (r == 0) break;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    free(buf);
    return lab_error_set(err, LAB_ERR_IO, "%s: read error", path);
  }
  lab_status st = lab_json_parse(buf, n, path, out, err);
  free(buf);
  return st;
}

static void free_rec(lab_json *j) {
  if (!j) return;
  for (int i = 0; i < j->n; i++) {
    free_rec(j->items[i]);
    if (j->keys) free(j->keys[i]);
  }
  free(j->items);
  free(j->keys);
  free(j->string);
  free(j);
}

void lab_json_free(lab_json *j) {
  if (!j) return;
  char *file = (char *)j->file;
  free_rec(j);
  free(file);
}

const lab_json *lab_json_get(const lab_json *obj, const char *key) {
  if (!obj || obj->kind != LAB_JSON_OBJECT) return NULL;
  for (int i = 0; i < obj->n; i++)
    if (!strcmp(obj->keys[i], key)) return obj->items[i];
  return NULL;
}

static lab_status member(const lab_json *obj, const char *key, int required, const char *want,
                         const lab_json **m, lab_error *err) {
  if (!obj || obj->kind != LAB_JSON_OBJECT)
    return lab_error_set(err, LAB_ERR_DATA, "%s:%d:%d: expected an object, found %s", obj ? obj->file : "?",
                         obj ? obj->line : 0, obj ? obj->col : 0, obj ? kind_name(obj->kind) : "nothing");
  *m = lab_json_get(obj, key);
  if (!*m && required)
    return lab_error_set(err, LAB_ERR_DATA, "%s:%d:%d: missing key '%s' (%s)", obj->file, obj->line, obj->col, key,
                         want);
  return LAB_STATUS_OK;
}

lab_status lab_json_number(const lab_json *obj, const char *key, int required, double *out, lab_error *err) {
  const lab_json *m = NULL;
  lab_status st = member(obj, key, required, "a number", &m, err);
  if (st || !m) return st;
  if (m->kind == LAB_JSON_NULL) {
    *out = NAN;
    return LAB_STATUS_OK;
  }
  if (m->kind != LAB_JSON_NUMBER)
    return lab_error_set(err, LAB_ERR_DATA, "%s:%d:%d: '%s': expected a number or null, found %s", obj->file, m->line,
                         m->col, key, kind_name(m->kind));
  *out = m->number;
  return LAB_STATUS_OK;
}

lab_status lab_json_string(const lab_json *obj, const char *key, int required, const char **out, lab_error *err) {
  const lab_json *m = NULL;
  lab_status st = member(obj, key, required, "a string", &m, err);
  if (st || !m) return st;
  if (m->kind != LAB_JSON_STRING)
    return lab_error_set(err, LAB_ERR_DATA, "%s:%d:%d: '%s': expected a string, found %s", obj->file, m->line, m->col,
                         key, kind_name(m->kind));
  *out = m->string;
  return LAB_STATUS_OK;
}

void lab_json_write_string(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    if (*c == '"' || *c == '\\')
      fprintf(f, "\\%c", *c);
    else if (*c == '\n')
      fputs("\\n", f);
    else if (*c == '\t')
      fputs("\\t", f);
    else if (*c < 0x20)
      fprintf(f, "\\u%04x", *c);
    else
      fputc(*c, f);
  }
  fputc('"', f);
}
