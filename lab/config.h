/* config.h: YAML configuration trees that remember where every value came from.
 *
 * lab/config.c is the only libyaml caller. A document is loaded into a tree of plain nodes
 * (scalar text, maps, sequences) that keep their source position, so every later error, in
 * whichever module validates the value, can say FILE:LINE:COLUMN, the key path and what was
 * expected. Values stay text until an owner reads them with a typed reader (lab_cfg_int, ...),
 * which range-checks with strtol/strtod; there are no silent conversions.
 *
 * The YAML subset (anything else is an error with its position):
 *   - one document per file; an empty file is an empty map;
 *   - map keys are scalars, unique within their map (a duplicate names both positions);
 *   - no anchors, aliases or explicit tags: a configuration is read by people comparing
 *     runs, and `<<: *defaults` or `!!float` would make two equal-looking files differ (or
 *     two different-looking files equal); `extends:` in experiment files covers reuse;
 *   - nesting at most LAB_CFG_MAX_DEPTH levels (the tree is walked recursively);
 *   - scalars keep their text only: `1`, '1' and "1" are the same value, as are `~`, `null`
 *     and an empty value for lab_cfg_is_null.
 *
 * Paths: the root has path ""; a map child "a.b", a sequence item "a.b[2]". Assignment paths
 * (lab_cfg_set and friends) use the same syntax: keys separated by '.', indices in [].
 */
#ifndef LAB_CONFIG_H
#define LAB_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lab/status.h"

#define LAB_CFG_MAX_DEPTH 64

typedef enum lab_cfg_kind { LAB_CFG_SCALAR = 0, LAB_CFG_MAP = 1, LAB_CFG_SEQ = 2 } lab_cfg_kind;

typedef struct lab_cfg_node lab_cfg_node;
struct lab_cfg_node {
  lab_cfg_kind kind;
  const char *file;        /* source file name (or "<command line>"), owned by the node */
  int line, col;           /* 1-based position of the node's value */
  char *path;              /* "network.stages[2].n" : dotted path from the root, for messages */
  char *scalar;            /* SCALAR: the text (NULL otherwise) */
  int n;                   /* MAP: number of keys; SEQ: number of items */
  char **keys;             /* MAP: keys (NULL for SEQ) */
  char **key_file;         /* MAP: the file each key was written in (keys merged by extends, a
                            * row's set_new or the command line come from other files) */
  int *key_line, *key_col; /* MAP: positions of the keys themselves */
  lab_cfg_node **items;    /* MAP values / SEQ items */
};

/* === loading and ownership === */

/* Parses a file / a string (`name` is used in positions). Malformed YAML gives LAB_ERR_CONFIG
 * with libyaml's problem text at FILE:LINE:COL; an unreadable file gives LAB_ERR_IO. On
 * success *root is a new tree the caller frees with lab_cfg_free. */
lab_status lab_cfg_load(const char *path, lab_cfg_node **root, lab_error *err);
lab_status lab_cfg_parse_string(const char *text, const char *name, lab_cfg_node **root, lab_error *err);
/* Deep copy (positions and paths included). */
lab_cfg_node *lab_cfg_clone(const lab_cfg_node *n);
/* Makes n (typically a copy of a subtree) a root: its path becomes "" and the paths under it
 * are rewritten accordingly; positions are kept. */
void lab_cfg_reroot(lab_cfg_node *n);
/* Frees n and everything under it; accepts NULL. */
void lab_cfg_free(lab_cfg_node *n);

/* Building trees in code (e.g. the runner adding `seed:` to an effective configuration).
 * The new node has path "" until it is attached; file may be NULL ("<code>"). */
lab_cfg_node *lab_cfg_new_scalar(const char *text, const char *file, int line, int col);
lab_cfg_node *lab_cfg_new_map(const char *file, int line, int col);
lab_cfg_node *lab_cfg_new_seq(const char *file, int line, int col);
/* Attaches `child` (ownership passes to map) under `key`, replacing (and freeing) any value
 * the key had; the key position is the child's. Paths under child are rewritten. */
void lab_cfg_map_put(lab_cfg_node *map, const char *key, lab_cfg_node *child);
/* Appends `child` (ownership passes to seq). */
void lab_cfg_seq_push(lab_cfg_node *seq, lab_cfg_node *child);

/* === lookup and typed reads === */

/* Map lookup: NULL if absent (or n is not a map). */
const lab_cfg_node *lab_cfg_get(const lab_cfg_node *map, const char *key);
/* Index of key in map, or -1. */
int lab_cfg_index(const lab_cfg_node *map, const char *key);
/* Lookup by assignment path ("train.epochs", "stages[1].n"); NULL if any step is missing
 * or the path is malformed. */
const lab_cfg_node *lab_cfg_find(const lab_cfg_node *root, const char *path);
/* 1 for a scalar that is empty, "~" or "null". */
int lab_cfg_is_null(const lab_cfg_node *n);

/* Typed reads. Each fails with LAB_ERR_CONFIG and a message
 *   "FILE:LINE:COL: PATH: expected an integer in [MIN, MAX], found 'TEXT'"
 * (wrong kind, trailing junk, out of range; strtol/strtod with end and range checks).
 * Integers are decimal (an optional sign, digits); doubles are whatever strtod takes except
 * NaN and infinities, and values that over- or underflow a double. */
lab_status lab_cfg_int(const lab_cfg_node *n, long min, long max, long *out, lab_error *err);
lab_status lab_cfg_double(const lab_cfg_node *n, double min, double max, double *out, lab_error *err);
lab_status lab_cfg_bool(const lab_cfg_node *n, int *out, lab_error *err);          /* true/false */
lab_status lab_cfg_string(const lab_cfg_node *n, const char **out, lab_error *err); /* scalar text */
/* One of `choices` (n_choices); *out = its index; error lists the choices, closest first. */
lab_status lab_cfg_enum(const lab_cfg_node *n, const char *const *choices, int n_choices, int *out, lab_error *err);
/* Every key of `map` must be in `known`; else "FILE:LINE:COL: PATH: unknown key 'k' (known: a, b, c)"
 * with the known names ordered closest first (edit distance); the position is the key's, the
 * first unknown key in document order is reported. Also errors if map is not a map. */
lab_status lab_cfg_check_keys(const lab_cfg_node *map, const char *const *known, int n_known, lab_error *err);
/* Names ordered by edit distance to `name` (optimal string alignment: a swap of two adjacent
 * letters costs 1; ties keep the order of `known`), written comma-separated into buf
 * (truncated with "..." when it does not fit). */
void lab_cfg_suggest(const char *name, const char *const *known, int n_known, char *buf, size_t n);
/* An error at node n: prefixes "FILE:LINE:COL: PATH: " to the formatted message (the
 * "PATH: " part is left out for the root). Returns LAB_ERR_CONFIG. */
lab_status lab_cfg_error(lab_error *err, const lab_cfg_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same at the position of map->keys[i] (PATH = the map's path, as lab_cfg_check_keys). */
lab_status lab_cfg_key_error(lab_error *err, const lab_cfg_node *map, int i, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "FILE:LINE:COL" of a node into buf; returns buf. */
char *lab_cfg_where(const lab_cfg_node *n, char *buf, size_t size);

/* === changing trees === */

/* Overrides "a.b[2].c=value" (value parsed as YAML, so "[0,1]" is a list): replaces the node
 * at the path; the path must exist unless `allow_new` (then parents must exist; a new key is
 * appended to its map, index n appends to a sequence). File "<command line>", line 1, the
 * column of the value in the assignment. Errors name the assignment and, for a missing key,
 * the keys that exist there (closest first). */
lab_status lab_cfg_set(lab_cfg_node *root, const char *assignment, int allow_new, lab_error *err);

/* Splits "a.b[2]=VALUE" into a new path string and a new value node (VALUE parsed as YAML
 * as in lab_cfg_set; an empty VALUE is an empty scalar); the caller frees both. */
lab_status lab_cfg_parse_assignment(const char *assignment, char **path, lab_cfg_node **value, lab_error *err);

typedef enum lab_cfg_set_mode {
  LAB_CFG_SET_REPLACE = 0, /* the path must exist; its value is replaced */
  LAB_CFG_SET_UPDATE = 1,  /* the path must exist; a map value updates a map key by key
                              (recursively, every key must exist), anything else replaces */
  LAB_CFG_SET_NEW = 2,     /* the path must not exist; its parent map must */
  LAB_CFG_SET_ANY = 3      /* replace if it exists, else add (parents must exist) */
} lab_cfg_set_mode;
/* Sets a copy of `value` (its positions kept: they say where the value came from) at
 * `path`. Errors start with `where` (e.g. "exp.yaml:12:9: rows[2].set", the place the
 * assignment was written); nested UPDATE errors point at the offending key of `value`. */
lab_status lab_cfg_set_path(lab_cfg_node *root, const char *path, const lab_cfg_node *value,
                            lab_cfg_set_mode mode, const char *where, lab_error *err);
/* Removes the key (or sequence item) at path, which must exist. */
lab_status lab_cfg_unset(lab_cfg_node *root, const char *path, const char *where, lab_error *err);

/* Deep merge: maps merge key by key (recursively, keys only in `over` are appended); scalars
 * and sequences in `over` replace. Replacing one kind by another (a map by a scalar, ...) is
 * an error naming both positions, unless one side is null (lab_cfg_is_null). */
lab_status lab_cfg_merge(lab_cfg_node *base, const lab_cfg_node *over, lab_error *err);

/* === writing, comparing, hashing === */

/* Writes the tree back as YAML (for results/<run>/config.yaml): block maps, sequences of
 * scalars in flow style, scalars quoted only where needed; keys in tree order. Loading the
 * output gives an equal tree (lab_cfg_equal) with the same key order. LAB_ERR_IO on failure. */
lab_status lab_cfg_write(const lab_cfg_node *n, FILE *f, lab_error *err);
/* Structural equality: same kinds, same scalar text, same sequence order, same key sets with
 * equal values. Key ORDER is ignored, positions and paths too (like lab_cfg_hash). */
int lab_cfg_equal(const lab_cfg_node *a, const lab_cfg_node *b);
/* A stable 64-bit hash: FNV-1a 64 over a canonical serialisation (kind byte, lengths as 8
 * little-endian bytes, scalar bytes; map entries sorted by key bytes). So the same tree gives
 * the same hash on every run and machine; key order, positions and file names do not matter;
 * sequence order does. lab_cfg_equal(a, b) implies equal hashes. Changing this function
 * orphans every results folder named by it (a test pins known values). */
uint64_t lab_cfg_hash(const lab_cfg_node *n);
/* The hash as 16 lower-case hex digits (buf: at least 17 bytes); returns buf. */
char *lab_cfg_hash_hex(uint64_t h, char *buf);

#endif
