/* config.c: YAML configuration trees with source positions (see config.h).
 *
 * The only libyaml caller. Loading walks libyaml's event stream (not its document API) so
 * that anchors, aliases, tags and duplicate keys can be refused with their positions, and so
 * that every node records the mark of its own value and every map key the mark of the key.
 * Writing goes through libyaml's emitter, which picks a quoting style per scalar that reads
 * back as the same text; that is what makes write -> load an identity.
 */
#include "lab/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* === nodes === */

static char *cfg_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = lab_xmalloc(n);
  memcpy(d, s, n);
  return d;
}

static void *cfg_realloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  LAB_ASSERT(q != NULL, "out of memory growing a configuration node to %zu bytes", n);
  return q;
}

static lab_cfg_node *node_new(lab_cfg_kind kind, const char *file, int line, int col) {
  lab_cfg_node *n = lab_xcalloc(1, sizeof *n);
  n->kind = kind;
  n->file = cfg_strdup(file ? file : "<code>");
  n->line = line;
  n->col = col;
  n->path = cfg_strdup("");
  return n;
}

/* Arrays grow to 4, 8, 16, ... items: reallocate whenever the count reaches a capacity. */
static void node_grow(lab_cfg_node *n) {
  int c = n->n;
  if (c != 0 && (c < 4 || (c & (c - 1)) != 0)) return;
  size_t cap = c == 0 ? 4 : 2 * (size_t)c;
  n->items = cfg_realloc(n->items, cap * sizeof *n->items);
  if (n->kind == LAB_CFG_MAP) {
    n->keys = cfg_realloc(n->keys, cap * sizeof *n->keys);
    n->key_file = cfg_realloc(n->key_file, cap * sizeof *n->key_file);
    n->key_line = cfg_realloc(n->key_line, cap * sizeof *n->key_line);
    n->key_col = cfg_realloc(n->key_col, cap * sizeof *n->key_col);
  }
}

static char *child_path(const char *parent, const char *key, int index) {
  char ibuf[32];
  size_t lp = strlen(parent);
  if (key) {
    size_t lk = strlen(key);
    char *p = lab_xmalloc(lp + lk + 2);
    if (lp) {
      memcpy(p, parent, lp);
      p[lp] = '.';
      memcpy(p + lp + 1, key, lk + 1);
    } else {
      memcpy(p, key, lk + 1);
    }
    return p;
  }
  snprintf(ibuf, sizeof ibuf, "[%d]", index);
  char *p = lab_xmalloc(lp + strlen(ibuf) + 1);
  memcpy(p, parent, lp);
  memcpy(p + lp, ibuf, strlen(ibuf) + 1);
  return p;
}

/* Rewrites the paths of n and everything under it for n's (new) place `path`. */
static void relabel(lab_cfg_node *n, const char *path) {
  char *p = cfg_strdup(path);
  free(n->path);
  n->path = p;
  for (int i = 0; i < n->n; i++) {
    char *cp = child_path(n->path, n->kind == LAB_CFG_MAP ? n->keys[i] : NULL, i);
    relabel(n->items[i], cp);
    free(cp);
  }
}

static void map_append(lab_cfg_node *map, const char *key, const char *key_file, int key_line, int key_col,
                       lab_cfg_node *child) {
  LAB_ASSERT(map->kind == LAB_CFG_MAP, "map_append on a non-map");
  node_grow(map);
  map->keys[map->n] = cfg_strdup(key);
  map->key_file[map->n] = cfg_strdup(key_file ? key_file : "<code>");
  map->key_line[map->n] = key_line;
  map->key_col[map->n] = key_col;
  map->items[map->n] = child;
  map->n++;
  char *cp = child_path(map->path, key, 0);
  relabel(child, cp);
  free(cp);
}

static void seq_append(lab_cfg_node *seq, lab_cfg_node *child) {
  LAB_ASSERT(seq->kind == LAB_CFG_SEQ, "seq_append on a non-sequence");
  node_grow(seq);
  seq->items[seq->n] = child;
  char *cp = child_path(seq->path, NULL, seq->n);
  relabel(child, cp);
  free(cp);
  seq->n++;
}

/* Frees what n owns, not n itself. */
static void free_contents(lab_cfg_node *n) {
  for (int i = 0; i < n->n; i++) {
    lab_cfg_free(n->items[i]);
    if (n->keys) free(n->keys[i]);
    if (n->key_file) free(n->key_file[i]);
  }
  free(n->items);
  free(n->keys);
  free(n->key_file);
  free(n->key_line);
  free(n->key_col);
  free(n->scalar);
  free(n->path);
  free((char *)n->file);
  memset(n, 0, sizeof *n);
}

void lab_cfg_free(lab_cfg_node *n) {
  if (!n) return;
  free_contents(n);
  free(n);
}

lab_cfg_node *lab_cfg_clone(const lab_cfg_node *n) {
  if (!n) return NULL;
  lab_cfg_node *c = node_new(n->kind, n->file, n->line, n->col);
  free(c->path);
  c->path = cfg_strdup(n->path);
  if (n->scalar) c->scalar = cfg_strdup(n->scalar);
  for (int i = 0; i < n->n; i++) {
    node_grow(c);
    c->items[i] = lab_cfg_clone(n->items[i]);
    if (n->kind == LAB_CFG_MAP) {
      c->keys[i] = cfg_strdup(n->keys[i]);
      c->key_file[i] = cfg_strdup(n->key_file[i]);
      c->key_line[i] = n->key_line[i];
      c->key_col[i] = n->key_col[i];
    }
    c->n++;
  }
  return c;
}

/* Replaces dst's contents by a copy of src, keeping dst's place (path) in its tree. */
static void replace_contents(lab_cfg_node *dst, const lab_cfg_node *src) {
  lab_cfg_node *c = lab_cfg_clone(src);
  char *path = cfg_strdup(dst->path);
  free_contents(dst);
  *dst = *c;
  free(c);
  relabel(dst, path);
  free(path);
}

void lab_cfg_reroot(lab_cfg_node *n) { relabel(n, ""); }

lab_cfg_node *lab_cfg_new_scalar(const char *text, const char *file, int line, int col) {
  lab_cfg_node *n = node_new(LAB_CFG_SCALAR, file, line, col);
  n->scalar = cfg_strdup(text);
  return n;
}

lab_cfg_node *lab_cfg_new_map(const char *file, int line, int col) { return node_new(LAB_CFG_MAP, file, line, col); }

lab_cfg_node *lab_cfg_new_seq(const char *file, int line, int col) { return node_new(LAB_CFG_SEQ, file, line, col); }

void lab_cfg_map_put(lab_cfg_node *map, const char *key, lab_cfg_node *child) {
  LAB_ASSERT(map && map->kind == LAB_CFG_MAP, "lab_cfg_map_put needs a map");
  int i = lab_cfg_index(map, key);
  if (i < 0) {
    map_append(map, key, child->file, child->line, child->col, child);
    return;
  }
  lab_cfg_free(map->items[i]);
  map->items[i] = child;
  free(map->key_file[i]);
  map->key_file[i] = cfg_strdup(child->file);
  map->key_line[i] = child->line;
  map->key_col[i] = child->col;
  char *cp = child_path(map->path, key, 0);
  relabel(child, cp);
  free(cp);
}

void lab_cfg_seq_push(lab_cfg_node *seq, lab_cfg_node *child) {
  LAB_ASSERT(seq && seq->kind == LAB_CFG_SEQ, "lab_cfg_seq_push needs a sequence");
  seq_append(seq, child);
}

/* === errors === */

static const char *kind_name(const lab_cfg_node *n) {
  switch (n->kind) {
    case LAB_CFG_SCALAR: return "scalar";
    case LAB_CFG_MAP: return "map";
    case LAB_CFG_SEQ: return "sequence";
  }
  return "?";
}

char *lab_cfg_where(const lab_cfg_node *n, char *buf, size_t size) {
  snprintf(buf, size, "%s:%d:%d", n->file, n->line, n->col);
  return buf;
}

static lab_status verror_at(lab_error *err, const char *file, int line, int col, const char *path,
                            const char *fmt, va_list ap) {
  if (!err) return LAB_ERR_CONFIG;
  char msg[sizeof err->msg];
  vsnprintf(msg, sizeof msg, fmt, ap);
  if (path && path[0])
    return lab_error_set(err, LAB_ERR_CONFIG, "%s:%d:%d: %s: %s", file, line, col, path, msg);
  return lab_error_set(err, LAB_ERR_CONFIG, "%s:%d:%d: %s", file, line, col, msg);
}

lab_status lab_cfg_error(lab_error *err, const lab_cfg_node *n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lab_status s = verror_at(err, n->file, n->line, n->col, n->path, fmt, ap);
  va_end(ap);
  return s;
}

lab_status lab_cfg_key_error(lab_error *err, const lab_cfg_node *map, int i, const char *fmt, ...) {
  LAB_ASSERT(map->kind == LAB_CFG_MAP && i >= 0 && i < map->n, "key %d of %s", i, map->path);
  va_list ap;
  va_start(ap, fmt);
  lab_status s = verror_at(err, map->key_file[i], map->key_line[i], map->key_col[i], map->path, fmt, ap);
  va_end(ap);
  return s;
}

/* "'text'" for a scalar (shortened when long), "a map" / "a sequence" otherwise. */
static const char *found(const lab_cfg_node *n, char *buf, size_t size) {
  if (n->kind == LAB_CFG_MAP) return "a map";
  if (n->kind == LAB_CFG_SEQ) return "a sequence";
  if (strlen(n->scalar) > 60)
    snprintf(buf, size, "'%.57s...'", n->scalar);
  else
    snprintf(buf, size, "'%s'", n->scalar);
  return buf;
}

/* === loading === */

typedef struct parse_ctx {
  yaml_parser_t parser;
  const char *name;
  int col_base; /* added to columns on line 1 (a value cut out of a "key=value" argument) */
  lab_error *err;
} parse_ctx;

static int mark_line(const yaml_mark_t *m) { return (int)m->line + 1; }
static int mark_col(const parse_ctx *c, const yaml_mark_t *m) {
  return (int)m->column + 1 + (m->line == 0 ? c->col_base : 0);
}

static lab_status parse_error_at(parse_ctx *c, const yaml_mark_t *m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static lab_status parse_error_at(parse_ctx *c, const yaml_mark_t *m, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lab_status s = verror_at(c->err, c->name, mark_line(m), mark_col(c, m), NULL, fmt, ap);
  va_end(ap);
  return s;
}

/* Turns libyaml's error state into "FILE:LINE:COL: malformed YAML: problem (context at L:C)". */
static lab_status yaml_problem(parse_ctx *c) {
  yaml_parser_t *p = &c->parser;
  const char *problem = p->problem ? p->problem : "unknown problem";
  switch (p->error) {
    case YAML_MEMORY_ERROR: return lab_error_set(c->err, LAB_ERR_NOMEM, "%s: out of memory parsing YAML", c->name);
    case YAML_READER_ERROR:
      if (p->problem_value != -1)
        return lab_error_set(c->err, LAB_ERR_CONFIG, "%s: malformed YAML: %s (#%X at byte %zu)", c->name, problem,
                             (unsigned)p->problem_value, p->problem_offset);
      return lab_error_set(c->err, LAB_ERR_CONFIG, "%s: malformed YAML: %s (at byte %zu)", c->name, problem,
                           p->problem_offset);
    default:
      if (p->context)
        return parse_error_at(c, &p->problem_mark, "malformed YAML: %s (%s at line %d, column %d)", problem,
                              p->context, mark_line(&p->context_mark), mark_col(c, &p->context_mark));
      return parse_error_at(c, &p->problem_mark, "malformed YAML: %s", problem);
  }
}

static lab_status next_event(parse_ctx *c, yaml_event_t *ev) {
  if (!yaml_parser_parse(&c->parser, ev)) return yaml_problem(c);
  return LAB_STATUS_OK;
}

/* Anchors and tags are refused wherever they appear (see config.h for why). */
static lab_status check_plain(parse_ctx *c, const yaml_event_t *ev, const yaml_char_t *anchor, const yaml_char_t *tag) {
  if (anchor)
    return parse_error_at(c, &ev->start_mark, "anchors (&%s) are not supported; repeat the value or use extends",
                          anchor);
  if (tag) return parse_error_at(c, &ev->start_mark, "tags (%s) are not supported; write the plain value", tag);
  return LAB_STATUS_OK;
}

/* A sequence or map start: plain, and not nested past LAB_CFG_MAX_DEPTH. */
static lab_status check_container(parse_ctx *c, const yaml_event_t *ev, const yaml_char_t *anchor,
                                  const yaml_char_t *tag, int depth) {
  lab_status s = check_plain(c, ev, anchor, tag);
  if (!s && depth >= LAB_CFG_MAX_DEPTH)
    s = parse_error_at(c, &ev->start_mark, "nested deeper than %d levels", LAB_CFG_MAX_DEPTH);
  return s;
}

static lab_status scalar_text(parse_ctx *c, const yaml_event_t *ev, char **out) {
  if (strlen((const char *)ev->data.scalar.value) != ev->data.scalar.length)
    return parse_error_at(c, &ev->start_mark, "a NUL character inside a scalar is not supported");
  *out = cfg_strdup((const char *)ev->data.scalar.value);
  return LAB_STATUS_OK;
}

/* Builds the node that starts with *ev (consumed: deleted here, whatever happens). */
static lab_status parse_node(parse_ctx *c, yaml_event_t *ev, int depth, lab_cfg_node **out) {
  lab_status s = LAB_STATUS_OK;
  lab_cfg_node *n = NULL;
  yaml_event_t key, val;
  *out = NULL;
  int line = mark_line(&ev->start_mark), col = mark_col(c, &ev->start_mark);
  switch (ev->type) {
    case YAML_ALIAS_EVENT:
      s = parse_error_at(c, &ev->start_mark, "aliases (*%s) are not supported; repeat the value or use extends",
                         ev->data.alias.anchor);
      break;
    case YAML_SCALAR_EVENT:
      if ((s = check_plain(c, ev, ev->data.scalar.anchor, ev->data.scalar.tag))) break;
      n = node_new(LAB_CFG_SCALAR, c->name, line, col);
      s = scalar_text(c, ev, &n->scalar);
      break;
    case YAML_SEQUENCE_START_EVENT:
      if ((s = check_container(c, ev, ev->data.sequence_start.anchor, ev->data.sequence_start.tag, depth))) break;
      n = node_new(LAB_CFG_SEQ, c->name, line, col);
      for (;;) {
        if ((s = next_event(c, &val))) break;
        if (val.type == YAML_SEQUENCE_END_EVENT) {
          yaml_event_delete(&val);
          break;
        }
        lab_cfg_node *item;
        if ((s = parse_node(c, &val, depth + 1, &item))) break;
        seq_append(n, item);
      }
      break;
    case YAML_MAPPING_START_EVENT:
      if ((s = check_container(c, ev, ev->data.mapping_start.anchor, ev->data.mapping_start.tag, depth))) break;
      n = node_new(LAB_CFG_MAP, c->name, line, col);
      for (;;) {
        if ((s = next_event(c, &key))) break;
        if (key.type == YAML_MAPPING_END_EVENT) {
          yaml_event_delete(&key);
          break;
        }
        char *k = NULL;
        if (key.type != YAML_SCALAR_EVENT)
          s = parse_error_at(c, &key.start_mark, "a map key must be a plain scalar, not a %s",
                             key.type == YAML_MAPPING_START_EVENT    ? "map"
                             : key.type == YAML_SEQUENCE_START_EVENT ? "sequence"
                                                                     : "alias");
        if (!s) s = check_plain(c, &key, key.data.scalar.anchor, key.data.scalar.tag);
        if (!s) s = scalar_text(c, &key, &k);
        if (!s) {
          int dup = lab_cfg_index(n, k);
          if (dup >= 0)
            s = parse_error_at(c, &key.start_mark, "duplicate key '%s' (first at %s:%d:%d)", k, c->name,
                               n->key_line[dup], n->key_col[dup]);
        }
        int kl = mark_line(&key.start_mark), kc = mark_col(c, &key.start_mark);
        yaml_event_delete(&key);
        lab_cfg_node *item = NULL;
        if (!s) s = next_event(c, &val);
        if (!s) s = parse_node(c, &val, depth + 1, &item);
        if (!s) map_append(n, k, c->name, kl, kc, item);
        free(k);
        if (s) break;
      }
      break;
    default:
      s = parse_error_at(c, &ev->start_mark, "unexpected YAML event %d", (int)ev->type);
      break;
  }
  yaml_event_delete(ev);
  if (s) {
    lab_cfg_free(n);
    return s;
  }
  *out = n;
  return LAB_STATUS_OK;
}

/* Parses len bytes of text. An empty stream is an empty map, or an empty scalar when
 * empty_scalar (a command-line value "key=" means "no value", not "a map"). */
static lab_status parse_buffer(const char *text, size_t len, const char *name, int col_base, int empty_scalar,
                               lab_cfg_node **root, lab_error *err) {
  parse_ctx c = {.name = name, .col_base = col_base, .err = err};
  lab_cfg_node *n = NULL;
  yaml_event_t ev;
  lab_status s;
  *root = NULL;
  if (!yaml_parser_initialize(&c.parser)) return lab_error_set(err, LAB_ERR_NOMEM, "%s: cannot start libyaml", name);
  yaml_parser_set_input_string(&c.parser, (const unsigned char *)text, len);
  if ((s = next_event(&c, &ev))) goto done; /* STREAM-START */
  yaml_event_delete(&ev);
  if ((s = next_event(&c, &ev))) goto done;
  if (ev.type == YAML_STREAM_END_EVENT) {
    yaml_event_delete(&ev);
    n = empty_scalar ? lab_cfg_new_scalar("", name, 1, 1 + col_base) : node_new(LAB_CFG_MAP, name, 1, 1);
    goto done;
  }
  LAB_ASSERT(ev.type == YAML_DOCUMENT_START_EVENT, "libyaml gave event %d after STREAM-START", (int)ev.type);
  yaml_event_delete(&ev);
  if ((s = next_event(&c, &ev))) goto done;
  if ((s = parse_node(&c, &ev, 0, &n))) goto done;
  if ((s = next_event(&c, &ev))) goto done; /* DOCUMENT-END */
  yaml_event_delete(&ev);
  if ((s = next_event(&c, &ev))) goto done;
  if (ev.type != YAML_STREAM_END_EVENT)
    s = parse_error_at(&c, &ev.start_mark, "a second YAML document; a configuration file holds exactly one");
  yaml_event_delete(&ev);
done:
  yaml_parser_delete(&c.parser);
  if (s) {
    lab_cfg_free(n);
    return s;
  }
  *root = n;
  return LAB_STATUS_OK;
}

lab_status lab_cfg_parse_string(const char *text, const char *name, lab_cfg_node **root, lab_error *err) {
  return parse_buffer(text, strlen(text), name ? name : "<string>", 0, 0, root, err);
}

lab_status lab_cfg_load(const char *path, lab_cfg_node **root, lab_error *err) {
  *root = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return lab_error_set(err, LAB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  char *buf = NULL;
  size_t len = 0, cap = 0;
  lab_status s = LAB_STATUS_OK;
  for (;;) {
    if (cap - len < 4096) {
      cap = cap ? 2 * cap : 8192;
      buf = cfg_realloc(buf, cap);
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (got == 0) break;
  }
  if (ferror(f)) s = lab_error_set(err, LAB_ERR_IO, "%s: read failed: %s", path, strerror(errno));
  fclose(f);
  if (!s) s = parse_buffer(buf, len, path, 0, 0, root, err);
  free(buf);
  return s;
}

/* === lookup and typed reads === */

int lab_cfg_index(const lab_cfg_node *map, const char *key) {
  if (!map || map->kind != LAB_CFG_MAP) return -1;
  for (int i = 0; i < map->n; i++)
    if (strcmp(map->keys[i], key) == 0) return i;
  return -1;
}

const lab_cfg_node *lab_cfg_get(const lab_cfg_node *map, const char *key) {
  int i = lab_cfg_index(map, key);
  return i < 0 ? NULL : map->items[i];
}

int lab_cfg_is_null(const lab_cfg_node *n) {
  return n && n->kind == LAB_CFG_SCALAR &&
         (n->scalar[0] == '\0' || strcmp(n->scalar, "~") == 0 || strcmp(n->scalar, "null") == 0);
}

lab_status lab_cfg_int(const lab_cfg_node *n, long min, long max, long *out, lab_error *err) {
  LAB_ASSERT(n != NULL, "lab_cfg_int of a missing node (the caller checks for absent keys)");
  char fb[80];
  if (n->kind == LAB_CFG_SCALAR && n->scalar[0] && !isspace((unsigned char)n->scalar[0])) {
    char *end;
    errno = 0;
    long v = strtol(n->scalar, &end, 10);
    if (*end == '\0' && errno == 0 && v >= min && v <= max) {
      *out = v;
      return LAB_STATUS_OK;
    }
  }
  return lab_cfg_error(err, n, "expected an integer in [%ld, %ld], found %s", min, max, found(n, fb, sizeof fb));
}

lab_status lab_cfg_double(const lab_cfg_node *n, double min, double max, double *out, lab_error *err) {
  LAB_ASSERT(n != NULL, "lab_cfg_double of a missing node (the caller checks for absent keys)");
  char fb[80];
  if (n->kind == LAB_CFG_SCALAR && n->scalar[0] && !isspace((unsigned char)n->scalar[0])) {
    char *end;
    errno = 0;
    double v = strtod(n->scalar, &end);
    if (*end == '\0' && errno == 0 && isfinite(v) && v >= min && v <= max) {
      *out = v;
      return LAB_STATUS_OK;
    }
  }
  return lab_cfg_error(err, n, "expected a number in [%g, %g], found %s", min, max, found(n, fb, sizeof fb));
}

lab_status lab_cfg_bool(const lab_cfg_node *n, int *out, lab_error *err) {
  LAB_ASSERT(n != NULL, "lab_cfg_bool of a missing node (the caller checks for absent keys)");
  char fb[80];
  if (n->kind == LAB_CFG_SCALAR && (strcmp(n->scalar, "true") == 0 || strcmp(n->scalar, "false") == 0)) {
    *out = n->scalar[0] == 't';
    return LAB_STATUS_OK;
  }
  return lab_cfg_error(err, n, "expected true or false, found %s", found(n, fb, sizeof fb));
}

lab_status lab_cfg_string(const lab_cfg_node *n, const char **out, lab_error *err) {
  LAB_ASSERT(n != NULL, "lab_cfg_string of a missing node (the caller checks for absent keys)");
  char fb[80];
  if (n->kind == LAB_CFG_SCALAR) {
    *out = n->scalar;
    return LAB_STATUS_OK;
  }
  return lab_cfg_error(err, n, "expected a string, found %s", found(n, fb, sizeof fb));
}

lab_status lab_cfg_enum(const lab_cfg_node *n, const char *const *choices, int n_choices, int *out, lab_error *err) {
  LAB_ASSERT(n != NULL, "lab_cfg_enum of a missing node (the caller checks for absent keys)");
  char fb[80], list[700];
  if (n->kind == LAB_CFG_SCALAR)
    for (int i = 0; i < n_choices; i++)
      if (strcmp(n->scalar, choices[i]) == 0) {
        *out = i;
        return LAB_STATUS_OK;
      }
  lab_cfg_suggest(n->kind == LAB_CFG_SCALAR ? n->scalar : "", choices, n_choices, list, sizeof list);
  return lab_cfg_error(err, n, "expected one of %s (closest first), found %s", list, found(n, fb, sizeof fb));
}

lab_status lab_cfg_check_keys(const lab_cfg_node *map, const char *const *known, int n_known, lab_error *err) {
  LAB_ASSERT(map != NULL, "lab_cfg_check_keys of a missing node (the caller checks for absent keys)");
  char fb[80], list[700];
  if (map->kind != LAB_CFG_MAP) return lab_cfg_error(err, map, "expected a map, found %s", found(map, fb, sizeof fb));
  for (int i = 0; i < map->n; i++) {
    int ok = 0;
    for (int j = 0; j < n_known && !ok; j++) ok = strcmp(map->keys[i], known[j]) == 0;
    if (ok) continue;
    lab_cfg_suggest(map->keys[i], known, n_known, list, sizeof list);
    return lab_cfg_key_error(err, map, i, "unknown key '%s' (known: %s)", map->keys[i], list);
  }
  return LAB_STATUS_OK;
}

/* Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
 * adjacent characters each cost 1 ("epohcs" is one step from "epochs", not two). */
static size_t edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  size_t *d = lab_xmalloc((la + 1) * (lb + 1) * sizeof *d);
#define D(i, j) d[(i) * (lb + 1) + (j)]
  for (size_t i = 0; i <= la; i++) D(i, 0) = i;
  for (size_t j = 0; j <= lb; j++) D(0, j) = j;
  for (size_t i = 1; i <= la; i++)
    for (size_t j = 1; j <= lb; j++) {
      size_t cost = a[i - 1] != b[j - 1];
      size_t v = D(i - 1, j) + 1;
      if (D(i, j - 1) + 1 < v) v = D(i, j - 1) + 1;
      if (D(i - 1, j - 1) + cost < v) v = D(i - 1, j - 1) + cost;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && D(i - 2, j - 2) + 1 < v)
        v = D(i - 2, j - 2) + 1;
      D(i, j) = v;
    }
  size_t r = D(la, lb);
#undef D
  free(d);
  return r;
}

void lab_cfg_suggest(const char *name, const char *const *known, int n_known, char *buf, size_t n) {
  if (n == 0) return;
  buf[0] = '\0';
  if (n_known <= 0) {
    snprintf(buf, n, "none");
    return;
  }
  size_t *dist = lab_xmalloc((size_t)n_known * sizeof *dist);
  int *order = lab_xmalloc((size_t)n_known * sizeof *order);
  for (int i = 0; i < n_known; i++) {
    dist[i] = edit_distance(name, known[i]);
    order[i] = i;
  }
  for (int i = 1; i < n_known; i++) { /* insertion sort: stable, lists are short */
    int o = order[i], j = i;
    while (j > 0 && dist[order[j - 1]] > dist[o]) {
      order[j] = order[j - 1];
      j--;
    }
    order[j] = o;
  }
  size_t used = 0;
  for (int i = 0; i < n_known; i++) {
    const char *k = known[order[i]];
    size_t need = strlen(k) + (i ? 2 : 0);
    if (used + need + 4 >= n) { /* keep room for "..." */
      snprintf(buf + used, n - used, "%s", i ? ", ..." : "...");
      break;
    }
    used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? ", " : "", k);
  }
  free(dist);
  free(order);
}

/* === paths === */

typedef struct path_step {
  char *key;  /* map key, or NULL for an index */
  long index; /* sequence index when key is NULL */
} path_step;

static void steps_free(path_step *st, int n) {
  for (int i = 0; i < n; i++) free(st[i].key);
  free(st);
}

/* "a.b[2].c" -> {a} {b} {2} {c}. Keys are non-empty and hold no '.', '[' or ']'. */
static int parse_path(const char *path, path_step **out, int *n_out) {
  path_step *st = NULL;
  int n = 0;
  const char *p = path;
  *out = NULL;
  *n_out = 0;
  if (!*p) return 0;
  for (;;) {
    size_t k = strcspn(p, ".[]");
    if (k > 0) {
      st = cfg_realloc(st, (size_t)(n + 1) * sizeof *st);
      st[n].key = lab_xmalloc(k + 1);
      memcpy(st[n].key, p, k);
      st[n].key[k] = '\0';
      n++;
      p += k;
    } else if (!(*p == '[' && p == path)) {
      goto bad; /* empty key (a leading index is allowed at the root only) */
    }
    while (*p == '[') {
      char *end;
      if (!isdigit((unsigned char)p[1])) goto bad;
      errno = 0;
      long v = strtol(p + 1, &end, 10);
      if (*end != ']' || errno || v > 1000000000L) goto bad;
      st = cfg_realloc(st, (size_t)(n + 1) * sizeof *st);
      st[n].key = NULL;
      st[n].index = v;
      n++;
      p = end + 1;
    }
    if (*p == '\0') break;
    if (*p != '.') goto bad;
    p++;
  }
  *out = st;
  *n_out = n;
  return 1;
bad:
  steps_free(st, n);
  return 0;
}

const lab_cfg_node *lab_cfg_find(const lab_cfg_node *root, const char *path) {
  path_step *st;
  int n;
  if (!root || !parse_path(path, &st, &n) || n == 0) return NULL;
  const lab_cfg_node *cur = root;
  for (int i = 0; i < n && cur; i++) {
    if (st[i].key)
      cur = lab_cfg_get(cur, st[i].key);
    else
      cur = cur->kind == LAB_CFG_SEQ && st[i].index < cur->n ? cur->items[st[i].index] : NULL;
  }
  steps_free(st, n);
  return cur;
}

/* "'network'" or "the top level", for messages about the parent of a missing step. */
static const char *parent_name(const lab_cfg_node *parent, char *buf, size_t size) {
  if (!parent->path[0]) return "the top level";
  snprintf(buf, size, "'%s'", parent->path);
  return buf;
}

static lab_status missing_key(lab_error *err, const char *where, const lab_cfg_node *map, const char *key) {
  char list[600], pb[300];
  const char *const *known = (const char *const *)map->keys;
  lab_cfg_suggest(key, known, map->n, list, sizeof list);
  return lab_error_set(err, LAB_ERR_CONFIG, "%s: no key '%s' in %s (known: %s)", where, key,
                       parent_name(map, pb, sizeof pb), list);
}

/* Walks st[0..n-1) from root; *parent gets the node that holds the last step. */
static lab_status walk_to_parent(lab_cfg_node *root, const path_step *st, int n, const char *where,
                                 lab_cfg_node **parent, lab_error *err) {
  char pb[300];
  lab_cfg_node *cur = root;
  for (int i = 0; i + 1 < n; i++) {
    if (st[i].key) {
      if (cur->kind != LAB_CFG_MAP)
        return lab_error_set(err, LAB_ERR_CONFIG, "%s: %s is a %s, it has no key '%s'", where,
                             parent_name(cur, pb, sizeof pb), kind_name(cur), st[i].key);
      int j = lab_cfg_index(cur, st[i].key);
      if (j < 0) return missing_key(err, where, cur, st[i].key);
      cur = cur->items[j];
    } else {
      if (cur->kind != LAB_CFG_SEQ)
        return lab_error_set(err, LAB_ERR_CONFIG, "%s: %s is a %s, not a sequence", where,
                             parent_name(cur, pb, sizeof pb), kind_name(cur));
      if (st[i].index >= cur->n)
        return lab_error_set(err, LAB_ERR_CONFIG, "%s: index %ld out of range: %s has %d items", where, st[i].index,
                             parent_name(cur, pb, sizeof pb), cur->n);
      cur = cur->items[st[i].index];
    }
  }
  *parent = cur;
  return LAB_STATUS_OK;
}

/* UPDATE: a map over a map goes key by key, each key must exist; the rest replaces. */
static lab_status update_node(lab_cfg_node *dst, const lab_cfg_node *src, lab_error *err) {
  if (dst->kind != LAB_CFG_MAP || src->kind != LAB_CFG_MAP) {
    replace_contents(dst, src);
    return LAB_STATUS_OK;
  }
  for (int i = 0; i < src->n; i++) {
    int j = lab_cfg_index(dst, src->keys[i]);
    if (j < 0) {
      char list[600], pb[300];
      lab_cfg_suggest(src->keys[i], (const char *const *)dst->keys, dst->n, list, sizeof list);
      return lab_cfg_key_error(err, src, i, "no key '%s' in %s (known: %s)", src->keys[i],
                               parent_name(dst, pb, sizeof pb), list);
    }
    lab_status s = update_node(dst->items[j], src->items[i], err);
    if (s) return s;
  }
  return LAB_STATUS_OK;
}

lab_status lab_cfg_set_path(lab_cfg_node *root, const char *path, const lab_cfg_node *value, lab_cfg_set_mode mode,
                            const char *where, lab_error *err) {
  path_step *st;
  int n;
  char pb[300], wb[300];
  lab_cfg_node *parent;
  if (!where) where = path;
  if (!parse_path(path, &st, &n) || n == 0)
    return lab_error_set(err, LAB_ERR_CONFIG, "%s: malformed path '%s' (expected keys separated by '.', indices in [])",
                         where, path);
  lab_status s = walk_to_parent(root, st, n, where, &parent, err);
  if (s) goto done;
  const path_step *last = &st[n - 1];
  if (last->key) {
    if (parent->kind != LAB_CFG_MAP) {
      s = lab_error_set(err, LAB_ERR_CONFIG, "%s: %s is a %s, it has no key '%s'", where,
                        parent_name(parent, pb, sizeof pb), kind_name(parent), last->key);
      goto done;
    }
    int j = lab_cfg_index(parent, last->key);
    if (j >= 0 && mode == LAB_CFG_SET_NEW) {
      s = lab_error_set(err, LAB_ERR_CONFIG, "%s: already exists (at %s); change it with set, not set_new", where,
                        lab_cfg_where(parent->items[j], wb, sizeof wb));
    } else if (j < 0 && (mode == LAB_CFG_SET_REPLACE || mode == LAB_CFG_SET_UPDATE)) {
      s = missing_key(err, where, parent, last->key);
    } else if (j < 0) {
      map_append(parent, last->key, value->file, value->line, value->col, lab_cfg_clone(value));
    } else if (mode == LAB_CFG_SET_UPDATE) {
      s = update_node(parent->items[j], value, err);
    } else {
      replace_contents(parent->items[j], value);
    }
  } else {
    if (parent->kind != LAB_CFG_SEQ) {
      s = lab_error_set(err, LAB_ERR_CONFIG, "%s: %s is a %s, not a sequence", where,
                        parent_name(parent, pb, sizeof pb), kind_name(parent));
      goto done;
    }
    long i = last->index;
    int may_append = mode == LAB_CFG_SET_NEW || mode == LAB_CFG_SET_ANY;
    if (i < parent->n && mode == LAB_CFG_SET_NEW) {
      s = lab_error_set(err, LAB_ERR_CONFIG, "%s: already exists (at %s); change it with set, not set_new", where,
                        lab_cfg_where(parent->items[i], wb, sizeof wb));
    } else if (i > parent->n || (i == parent->n && !may_append)) {
      s = lab_error_set(err, LAB_ERR_CONFIG, "%s: index %ld out of range: %s has %d items", where, i,
                        parent_name(parent, pb, sizeof pb), parent->n);
    } else if (i == parent->n) {
      seq_append(parent, lab_cfg_clone(value));
    } else if (mode == LAB_CFG_SET_UPDATE) {
      s = update_node(parent->items[i], value, err);
    } else {
      replace_contents(parent->items[i], value);
    }
  }
done:
  steps_free(st, n);
  return s;
}

lab_status lab_cfg_unset(lab_cfg_node *root, const char *path, const char *where, lab_error *err) {
  path_step *st;
  int n;
  char pb[300];
  lab_cfg_node *parent;
  if (!where) where = path;
  if (!parse_path(path, &st, &n) || n == 0)
    return lab_error_set(err, LAB_ERR_CONFIG, "%s: malformed path '%s' (expected keys separated by '.', indices in [])",
                         where, path);
  lab_status s = walk_to_parent(root, st, n, where, &parent, err);
  if (s) goto done;
  const path_step *last = &st[n - 1];
  int i;
  if (last->key) {
    i = lab_cfg_index(parent, last->key);
    if (parent->kind != LAB_CFG_MAP) {
      s = lab_error_set(err, LAB_ERR_CONFIG, "%s: %s is a %s, it has no key '%s'", where,
                        parent_name(parent, pb, sizeof pb), kind_name(parent), last->key);
      goto done;
    }
    if (i < 0) {
      s = missing_key(err, where, parent, last->key);
      goto done;
    }
    free(parent->keys[i]);
    free(parent->key_file[i]);
  } else {
    if (parent->kind != LAB_CFG_SEQ || last->index >= parent->n) {
      s = lab_error_set(err, LAB_ERR_CONFIG, "%s: no item [%ld] in %s", where, last->index,
                        parent_name(parent, pb, sizeof pb));
      goto done;
    }
    i = (int)last->index;
  }
  lab_cfg_free(parent->items[i]);
  for (int j = i; j + 1 < parent->n; j++) {
    parent->items[j] = parent->items[j + 1];
    if (parent->keys) {
      parent->keys[j] = parent->keys[j + 1];
      parent->key_file[j] = parent->key_file[j + 1];
      parent->key_line[j] = parent->key_line[j + 1];
      parent->key_col[j] = parent->key_col[j + 1];
    }
  }
  parent->n--;
  if (parent->kind == LAB_CFG_SEQ) { /* later items moved up: their paths change */
    char *pp = cfg_strdup(parent->path);
    relabel(parent, pp);
    free(pp);
  }
done:
  steps_free(st, n);
  return s;
}

lab_status lab_cfg_parse_assignment(const char *assignment, char **path, lab_cfg_node **value, lab_error *err) {
  *path = NULL;
  *value = NULL;
  const char *eq = strchr(assignment, '=');
  if (!eq || eq == assignment)
    return lab_error_set(err, LAB_ERR_CONFIG, "<command line>: '%s': expected KEY=VALUE (e.g. train.epochs=2)",
                         assignment);
  size_t klen = (size_t)(eq - assignment);
  lab_status s = parse_buffer(eq + 1, strlen(eq + 1), "<command line>", (int)klen + 1, 1, value, err);
  if (s) return s;
  *path = lab_xmalloc(klen + 1);
  memcpy(*path, assignment, klen);
  (*path)[klen] = '\0';
  relabel(*value, *path); /* messages about the value name its destination */
  return LAB_STATUS_OK;
}

lab_status lab_cfg_set(lab_cfg_node *root, const char *assignment, int allow_new, lab_error *err) {
  char where[400], *path;
  lab_cfg_node *value;
  lab_status s = lab_cfg_parse_assignment(assignment, &path, &value, err);
  if (s) return s;
  snprintf(where, sizeof where, "<command line>: '%s'", assignment);
  s = lab_cfg_set_path(root, path, value, allow_new ? LAB_CFG_SET_ANY : LAB_CFG_SET_REPLACE, where, err);
  lab_cfg_free(value);
  free(path);
  return s;
}

lab_status lab_cfg_merge(lab_cfg_node *base, const lab_cfg_node *over, lab_error *err) {
  if (base->kind == LAB_CFG_MAP && over->kind == LAB_CFG_MAP) {
    for (int i = 0; i < over->n; i++) {
      int j = lab_cfg_index(base, over->keys[i]);
      if (j < 0) {
        map_append(base, over->keys[i], over->key_file[i], over->key_line[i], over->key_col[i],
                   lab_cfg_clone(over->items[i]));
        continue;
      }
      lab_status s = lab_cfg_merge(base->items[j], over->items[i], err);
      if (s) return s;
    }
    return LAB_STATUS_OK;
  }
  if (base->kind != over->kind && !lab_cfg_is_null(base) && !lab_cfg_is_null(over)) {
    char wb[300];
    return lab_cfg_error(err, over, "a %s cannot replace the %s at %s", kind_name(over), kind_name(base),
                         lab_cfg_where(base, wb, sizeof wb));
  }
  replace_contents(base, over);
  return LAB_STATUS_OK;
}

/* === writing, comparing, hashing === */

static int emit_node(yaml_emitter_t *e, const lab_cfg_node *n) {
  yaml_event_t ev;
  if (n->kind == LAB_CFG_SCALAR) {
    /* Implicit (untagged) either way: the emitter then quotes exactly when plain text would
     * not read back as the same characters. */
    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)n->scalar, (int)strlen(n->scalar), 1, 1,
                                      YAML_ANY_SCALAR_STYLE))
      return 0;
    return yaml_emitter_emit(e, &ev);
  }
  if (n->kind == LAB_CFG_SEQ) {
    int flow = n->n > 0;
    for (int i = 0; i < n->n && flow; i++) flow = n->items[i]->kind == LAB_CFG_SCALAR;
    if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                                              flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE) ||
        !yaml_emitter_emit(e, &ev))
      return 0;
    for (int i = 0; i < n->n; i++)
      if (!emit_node(e, n->items[i])) return 0;
    if (!yaml_sequence_end_event_initialize(&ev)) return 0;
    return yaml_emitter_emit(e, &ev);
  }
  if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) || !yaml_emitter_emit(e, &ev))
    return 0;
  for (int i = 0; i < n->n; i++) {
    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)n->keys[i], (int)strlen(n->keys[i]), 1, 1,
                                      YAML_ANY_SCALAR_STYLE) ||
        !yaml_emitter_emit(e, &ev) || !emit_node(e, n->items[i]))
      return 0;
  }
  if (!yaml_mapping_end_event_initialize(&ev)) return 0;
  return yaml_emitter_emit(e, &ev);
}

lab_status lab_cfg_write(const lab_cfg_node *n, FILE *f, lab_error *err) {
  yaml_emitter_t e;
  yaml_event_t ev;
  if (!yaml_emitter_initialize(&e)) return lab_error_set(err, LAB_ERR_NOMEM, "lab_cfg_write: cannot start libyaml");
  yaml_emitter_set_output_file(&e, f);
  yaml_emitter_set_unicode(&e, 1);
  yaml_emitter_set_indent(&e, 2);
  yaml_emitter_set_width(&e, -1); /* never fold long scalars */
  int ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) && yaml_emitter_emit(&e, &ev) &&
           yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) && yaml_emitter_emit(&e, &ev) &&
           emit_node(&e, n) && yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&e, &ev) &&
           yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&e, &ev) && yaml_emitter_flush(&e);
  lab_status s = LAB_STATUS_OK;
  if (!ok)
    s = lab_error_set(err, LAB_ERR_IO, "writing YAML for '%s': %s", n->path[0] ? n->path : "(root)",
                      e.problem ? e.problem : "libyaml emitter failed");
  else if (fflush(f) != 0 || ferror(f))
    s = lab_error_set(err, LAB_ERR_IO, "writing YAML: %s", strerror(errno));
  yaml_emitter_delete(&e);
  return s;
}

int lab_cfg_equal(const lab_cfg_node *a, const lab_cfg_node *b) {
  if (a->kind != b->kind || a->n != b->n) return 0;
  if (a->kind == LAB_CFG_SCALAR) return strcmp(a->scalar, b->scalar) == 0;
  for (int i = 0; i < a->n; i++) {
    const lab_cfg_node *bi = a->kind == LAB_CFG_MAP ? lab_cfg_get(b, a->keys[i]) : b->items[i];
    if (!bi || !lab_cfg_equal(a->items[i], bi)) return 0;
  }
  return 1;
}

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t fnv_bytes(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) {
    h ^= b[i];
    h *= FNV_PRIME;
  }
  return h;
}

/* Lengths as 8 little-endian bytes, whatever the host's size_t and byte order. */
static uint64_t fnv_len(uint64_t h, uint64_t v) {
  unsigned char b[8];
  for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
  return fnv_bytes(h, b, 8);
}

static uint64_t fnv_str(uint64_t h, const char *s) {
  size_t n = strlen(s);
  return fnv_bytes(fnv_len(h, n), s, n);
}

typedef struct key_item {
  const char *key;
  const lab_cfg_node *value;
} key_item;

static int key_item_cmp(const void *a, const void *b) {
  return strcmp(((const key_item *)a)->key, ((const key_item *)b)->key); /* bytes, as unsigned char */
}

static uint64_t hash_node(uint64_t h, const lab_cfg_node *n) {
  if (n->kind == LAB_CFG_SCALAR) return fnv_str(fnv_bytes(h, "S", 1), n->scalar);
  h = fnv_len(fnv_bytes(h, n->kind == LAB_CFG_MAP ? "M" : "Q", 1), (uint64_t)n->n);
  if (n->kind == LAB_CFG_SEQ) {
    for (int i = 0; i < n->n; i++) h = hash_node(h, n->items[i]);
    return h;
  }
  key_item *ki = lab_xmalloc((size_t)n->n * sizeof *ki);
  for (int i = 0; i < n->n; i++) ki[i] = (key_item){n->keys[i], n->items[i]};
  qsort(ki, (size_t)n->n, sizeof *ki, key_item_cmp);
  for (int i = 0; i < n->n; i++) h = hash_node(fnv_str(h, ki[i].key), ki[i].value);
  free(ki);
  return h;
}

uint64_t lab_cfg_hash(const lab_cfg_node *n) { return hash_node(FNV_OFFSET, n); }

char *lab_cfg_hash_hex(uint64_t h, char *buf) {
  snprintf(buf, 17, "%016llx", (unsigned long long)h);
  return buf;
}
