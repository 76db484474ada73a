/* json.h: a small, strict JSON reader for the files runs write (summary.json).
 *
 * Strict means RFC 8259 and nothing else: no comments, no trailing commas, no single quotes,
 * no NaN/Infinity literals, no duplicate keys in an object, nothing after the value but
 * white space, nesting at most LAB_JSON_MAX_DEPTH. A number that JSON allows but a double
 * cannot hold (1e999) is an error too. Every error says FILE:LINE:COL and what was expected,
 * so a truncated or hand-edited summary is named, not silently read as zeros.
 *
 * Writers in this toolkit store "not measured" as null; lab_json_number reads null as NaN.
 */
#ifndef LAB_JSON_H
#define LAB_JSON_H

#include <stddef.h>
#include <stdio.h>

#include "lab/status.h"

#define LAB_JSON_MAX_DEPTH 64

typedef enum lab_json_kind {
  LAB_JSON_NULL = 0,
  LAB_JSON_BOOL = 1,
  LAB_JSON_NUMBER = 2,
  LAB_JSON_STRING = 3,
  LAB_JSON_ARRAY = 4,
  LAB_JSON_OBJECT = 5
} lab_json_kind;

typedef struct lab_json lab_json;
struct lab_json {
  lab_json_kind kind;
  int line, col;     /* 1-based position of the value */
  double number;     /* NUMBER */
  int boolean;       /* BOOL */
  char *string;      /* STRING: UTF-8, NUL-terminated (an escaped \u0000 is refused) */
  int n;             /* ARRAY / OBJECT: number of items */
  char **keys;       /* OBJECT: keys, in document order */
  lab_json **items;  /* ARRAY items / OBJECT values */
  const char *file;  /* the name given to the parser (shared by all nodes; owned by the root) */
};

/* Parses text[0..len) (`name` is used in messages). On success *out is a new tree
 * (lab_json_free); on failure *out is NULL and err says FILE:LINE:COL (LAB_ERR_DATA). */
lab_status lab_json_parse(const char *text, size_t len, const char *name, lab_json **out, lab_error *err);
/* Reads and parses a file; LAB_ERR_IO when it cannot be read. */
lab_status lab_json_load(const char *path, lab_json **out, lab_error *err);
void lab_json_free(lab_json *j);

/* Object member `key`, or NULL (also when obj is not an object). */
const lab_json *lab_json_get(const lab_json *obj, const char *key);

/* Typed member reads: LAB_ERR_DATA "FILE:LINE:COL: 'key': expected ..., found ..." when the
 * member has the wrong type, or is absent and `required`. An absent optional member leaves
 * *out unchanged. lab_json_number reads null as NaN. */
lab_status lab_json_number(const lab_json *obj, const char *key, int required, double *out, lab_error *err);
lab_status lab_json_string(const lab_json *obj, const char *key, int required, const char **out, lab_error *err);

/* Writes s as a JSON string literal (quotes and escapes included). */
void lab_json_write_string(FILE *f, const char *s);

#endif
