/* test_config.c: lab/config: YAML loading with positions, the refused YAML features, typed
 * reads and their messages, suggestions, overrides, merge, write -> load round trips and the
 * stable hash. Every error test checks the exact FILE:LINE:COL and the key in the message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab/config.h"
#include "lab/rng.h"

/* === helpers === */

static lab_cfg_node *parse_ok(const char *text) {
  lab_cfg_node *root = NULL;
  lab_error err = {0};
  lab_status s = lab_cfg_parse_string(text, "t.yaml", &root, &err);
  if (s) fprintf(stderr, "unexpected error: %s\n", err.msg);
  assert_int_equal(s, LAB_STATUS_OK);
  assert_non_null(root);
  return root;
}

/* Parsing must fail with LAB_ERR_CONFIG and a message containing every given fragment. */
static void parse_fails(const char *text, const char *frag1, const char *frag2) {
  lab_cfg_node *root = (lab_cfg_node *)1;
  lab_error err = {0};
  assert_int_equal(lab_cfg_parse_string(text, "t.yaml", &root, &err), LAB_ERR_CONFIG);
  assert_null(root);
  if (!strstr(err.msg, frag1) || (frag2 && !strstr(err.msg, frag2)))
    fprintf(stderr, "message '%s' lacks '%s' / '%s'\n", err.msg, frag1, frag2 ? frag2 : "");
  assert_non_null(strstr(err.msg, frag1));
  if (frag2) assert_non_null(strstr(err.msg, frag2));
}

static void msg_is(const lab_error *err, const char *want) {
  if (strcmp(err->msg, want) != 0) fprintf(stderr, "got:  %s\nwant: %s\n", err->msg, want);
  assert_string_equal(err->msg, want);
}

static void msg_has(const lab_error *err, const char *frag) {
  if (!strstr(err->msg, frag)) fprintf(stderr, "message '%s' lacks '%s'\n", err->msg, frag);
  assert_non_null(strstr(err->msg, frag));
}

static const lab_cfg_node *at(const lab_cfg_node *root, const char *path) {
  const lab_cfg_node *n = lab_cfg_find(root, path);
  if (!n) fprintf(stderr, "no node at '%s'\n", path);
  assert_non_null(n);
  return n;
}

/* Writes the tree to a memory buffer (the caller frees). */
static char *write_str(const lab_cfg_node *n) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  lab_error err = {0};
  assert_int_equal(lab_cfg_write(n, f, &err), LAB_STATUS_OK);
  fclose(f);
  return buf;
}

/* === loading and positions === */

static const char *k_doc =
    "network:\n"                     /* 1 */
    "  width: 0.25\n"                /* 2 */
    "  stages:\n"                    /* 3 */
    "    - {block: a, n: 3}\n"       /* 4 */
    "    - block: b\n"               /* 5 */
    "      n: 4\n"                   /* 6 */
    "train: {epochs: 10, lr: 0.1}\n" /* 7 */
    "seeds: [0, 1, 2]\n";            /* 8 */

static void test_positions_and_paths(void **state) {
  (void)state;
  lab_cfg_node *r = parse_ok(k_doc);
  assert_int_equal(r->kind, LAB_CFG_MAP);
  assert_int_equal(r->n, 3);
  assert_string_equal(r->keys[1], "train");
  assert_int_equal(r->key_line[1], 7);
  assert_int_equal(r->key_col[1], 1);

  const lab_cfg_node *w = at(r, "network.width");
  assert_int_equal(w->kind, LAB_CFG_SCALAR);
  assert_string_equal(w->scalar, "0.25");
  assert_string_equal(w->file, "t.yaml");
  assert_int_equal(w->line, 2);
  assert_int_equal(w->col, 10);
  assert_string_equal(w->path, "network.width");

  const lab_cfg_node *n1 = at(r, "network.stages[1].n");
  assert_int_equal(n1->line, 6);
  assert_int_equal(n1->col, 10);
  assert_string_equal(n1->path, "network.stages[1].n");
  const lab_cfg_node *st1 = at(r, "network.stages[1]");
  assert_int_equal(st1->kind, LAB_CFG_MAP);
  assert_int_equal(st1->key_line[1], 6);
  assert_int_equal(st1->key_col[1], 7);

  const lab_cfg_node *n0 = at(r, "network.stages[0].n");
  assert_int_equal(n0->line, 4);
  assert_int_equal(n0->col, 21);
  const lab_cfg_node *seeds = at(r, "seeds");
  assert_int_equal(seeds->kind, LAB_CFG_SEQ);
  assert_int_equal(seeds->n, 3);
  assert_string_equal(seeds->items[2]->path, "seeds[2]");
  assert_int_equal(seeds->items[2]->col, 15);
  assert_ptr_equal(lab_cfg_get(r, "train"), at(r, "train"));
  assert_null(lab_cfg_get(r, "nope"));
  assert_null(lab_cfg_get(w, "x")); /* not a map */
  assert_null(lab_cfg_find(r, "network.stages[2]"));
  assert_null(lab_cfg_find(r, "network..width"));
  assert_null(lab_cfg_find(r, "seeds.x"));
  assert_int_equal(lab_cfg_index(r, "seeds"), 2);
  lab_cfg_free(r);
}

static void test_load_file_and_missing_file(void **state) {
  (void)state;
  char dir[] = "/tmp/lab-test-config-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof path, "%s/c.yaml", dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("# comment\na:\n  b: [x, y]\n", f);
  fclose(f);
  lab_cfg_node *r;
  lab_error err = {0};
  assert_int_equal(lab_cfg_load(path, &r, &err), LAB_STATUS_OK);
  const lab_cfg_node *y = at(r, "a.b[1]");
  assert_string_equal(y->file, path);
  assert_int_equal(y->line, 3);
  assert_int_equal(y->col, 10);
  lab_cfg_free(r);
  remove(path);
  r = (lab_cfg_node *)1;
  assert_int_equal(lab_cfg_load(path, &r, &err), LAB_ERR_IO);
  assert_null(r);
  msg_has(&err, path);
  msg_has(&err, "No such file");
  rmdir(dir);
}

static void test_empty_document_is_empty_map(void **state) {
  (void)state;
  lab_cfg_node *r = parse_ok("# nothing here\n");
  assert_int_equal(r->kind, LAB_CFG_MAP);
  assert_int_equal(r->n, 0);
  lab_cfg_free(r);
}

static void test_malformed_yaml(void **state) {
  (void)state;
  /* libyaml's problem text at its position, with the context it was parsing. */
  parse_fails("a: [1, 2\nb: 3\n", "t.yaml:2:2: malformed YAML: did not find expected ',' or ']'",
              "while parsing a flow sequence at line 1, column 4");
  parse_fails("a: 1\n b: 2\n", "t.yaml:2:3: malformed YAML: mapping values are not allowed", NULL);
  parse_fails("a:\n  b: 1\n c: 2\n", "t.yaml:3:2: malformed YAML: did not find expected key", NULL);
  parse_fails("\ta: 1\n", "t.yaml:1:1: malformed YAML: found character that cannot start any token", NULL);
  parse_fails("a: 1\n---\nb: 2\n", "t.yaml:2:1: a second YAML document", NULL);
  /* Invalid UTF-8 is a reader error: no line, but the byte offset. */
  parse_fails("a: \xff\n", "t.yaml: malformed YAML: invalid leading UTF-8 octet", "at byte 3");
}

static void test_duplicate_keys_name_both_positions(void **state) {
  (void)state;
  parse_fails("train:\n  lr: 0.1\n  epochs: 3\n  lr: 0.2\n", "t.yaml:4:3: duplicate key 'lr' (first at t.yaml:2:3)", NULL);
  parse_fails("{a: 1, b: 2, a: 3}\n", "t.yaml:1:14: duplicate key 'a' (first at t.yaml:1:2)", NULL);
}

static void test_refused_features(void **state) {
  (void)state;
  parse_fails("a: &x 1\nb: *x\n", "t.yaml:1:4: anchors (&x) are not supported", NULL);
  parse_fails("a: [1]\nb: *x\n", "t.yaml:2:4: aliases (*x) are not supported", NULL);
  parse_fails("a:\n  b: !!float 1\n", "t.yaml:2:6: tags (tag:yaml.org,2002:float) are not supported", NULL);
  parse_fails("a: !custom {x: 1}\n", "t.yaml:1:4: tags (!custom) are not supported", NULL);
  parse_fails("? [a, b]\n: 1\n", "t.yaml:1:3: a map key must be a plain scalar, not a sequence", NULL);
  parse_fails("a: \"x\\0y\"\n", "t.yaml:1:4: a NUL character inside a scalar", NULL);
  char deep[200];
  memset(deep, '[', 70);
  memset(deep + 70, ']', 70);
  deep[140] = '\0';
  parse_fails(deep, "t.yaml:1:65: nested deeper than 64 levels", NULL);
}

/* === typed reads === */

static void test_int_reads(void **state) {
  (void)state;
  lab_cfg_node *r = parse_ok(
      "ok: 12\nneg: -7\nplus: +3\nzero: 0\njunk: 12abc\nfloat: 1.5\nbig: 99999999999999999999\n"
      "lead: ' 4'\nempty: ''\nmap: {a: 1}\nseq: [1]\nhex: 0x10\n");
  lab_error err = {0};
  long v = -1;
  assert_int_equal(lab_cfg_int(at(r, "ok"), 0, 100, &v, &err), LAB_STATUS_OK);
  assert_int_equal(v, 12);
  assert_int_equal(lab_cfg_int(at(r, "neg"), -10, 10, &v, &err), LAB_STATUS_OK);
  assert_int_equal(v, -7);
  assert_int_equal(lab_cfg_int(at(r, "plus"), 0, 10, &v, &err), LAB_STATUS_OK);
  assert_int_equal(v, 3);
  assert_int_equal(lab_cfg_int(at(r, "ok"), 13, 100, &v, &err), LAB_ERR_CONFIG);
  msg_is(&err, "t.yaml:1:5: ok: expected an integer in [13, 100], found '12'");
  assert_int_equal(lab_cfg_int(at(r, "zero"), 1, 5, &v, &err), LAB_ERR_CONFIG);
  msg_is(&err, "t.yaml:4:7: zero: expected an integer in [1, 5], found '0'");
  assert_int_equal(lab_cfg_int(at(r, "junk"), 0, 100, &v, &err), LAB_ERR_CONFIG);
  msg_is(&err, "t.yaml:5:7: junk: expected an integer in [0, 100], found '12abc'");
  assert_int_equal(lab_cfg_int(at(r, "float"), 0, 100, &v, &err), LAB_ERR_CONFIG);
  msg_has(&err, "found '1.5'");
  assert_int_equal(lab_cfg_int(at(r, "big"), LONG_MIN, LONG_MAX, &v, &err), LAB_ERR_CONFIG); /* ERANGE */
  msg_has(&err, "t.yaml:7:6: big:");
  assert_int_equal(lab_cfg_int(at(r, "lead"), 0, 100, &v, &err), LAB_ERR_CONFIG);
  assert_int_equal(lab_cfg_int(at(r, "empty"), 0, 100, &v, &err), LAB_ERR_CONFIG);
  msg_has(&err, "found ''");
  assert_int_equal(lab_cfg_int(at(r, "map"), 0, 100, &v, &err), LAB_ERR_CONFIG);
  msg_is(&err, "t.yaml:10:6: map: expected an integer in [0, 100], found a map");
  assert_int_equal(lab_cfg_int(at(r, "seq"), 0, 100, &v, &err), LAB_ERR_CONFIG);
  msg_has(&err, "found a sequence");
  assert_int_equal(lab_cfg_int(at(r, "hex"), 0, 100, &v, &err), LAB_ERR_CONFIG); /* decimal only */
  assert_int_equal(v, 3); /* failures leave the output alone */
  lab_cfg_free(r);
}

static void test_double_bool_string_reads(void **state) {
  (void)state;
  lab_cfg_node *r = parse_ok(
      "lr: 1e-3\nhalf: .5\nnan: nan\ninf: inf\nhuge: 1e999\ntiny: 1e-999\njunk: 0.1x\n"
      "t: true\nf: false\nyes: yes\nname: googlenet\nnum: 3\nm: {a: 1}\n");
  lab_error err = {0};
  double d = -1;
  assert_int_equal(lab_cfg_double(at(r, "lr"), 0, 1, &d, &err), LAB_STATUS_OK);
  assert_true(fabs(d - 1e-3) < 1e-15);
  assert_int_equal(lab_cfg_double(at(r, "half"), 0, 1, &d, &err), LAB_STATUS_OK);
  assert_true(fabs(d - 0.5) < 1e-15);
  assert_int_equal(lab_cfg_double(at(r, "lr"), 0.01, 1, &d, &err), LAB_ERR_CONFIG);
  msg_is(&err, "t.yaml:1:5: lr: expected a number in [0.01, 1], found '1e-3'");
  assert_int_equal(lab_cfg_double(at(r, "nan"), -INFINITY, INFINITY, &d, &err), LAB_ERR_CONFIG);
  msg_has(&err, "t.yaml:3:6: nan: expected a number");
  assert_int_equal(lab_cfg_double(at(r, "inf"), -INFINITY, INFINITY, &d, &err), LAB_ERR_CONFIG);
  assert_int_equal(lab_cfg_double(at(r, "huge"), -INFINITY, INFINITY, &d, &err), LAB_ERR_CONFIG);
  assert_int_equal(lab_cfg_double(at(r, "tiny"), -1, 1, &d, &err), LAB_ERR_CONFIG);
  assert_int_equal(lab_cfg_double(at(r, "junk"), 0, 1, &d, &err), LAB_ERR_CONFIG);
  msg_has(&err, "found '0.1x'");
  assert_true(fabs(d - 0.5) < 1e-15);

  int b = -1;
  assert_int_equal(lab_cfg_bool(at(r, "t"), &b, &err), LAB_STATUS_OK);
  assert_int_equal(b, 1);
  assert_int_equal(lab_cfg_bool(at(r, "f"), &b, &err), LAB_STATUS_OK);
  assert_int_equal(b, 0);
  assert_int_equal(lab_cfg_bool(at(r, "yes"), &b, &err), LAB_ERR_CONFIG);
  msg_is(&err, "t.yaml:10:6: yes: expected true or false, found 'yes'");

  const char *s = NULL;
  assert_int_equal(lab_cfg_string(at(r, "name"), &s, &err), LAB_STATUS_OK);
  assert_string_equal(s, "googlenet");
  assert_int_equal(lab_cfg_string(at(r, "num"), &s, &err), LAB_STATUS_OK); /* text is text */
  assert_string_equal(s, "3");
  assert_int_equal(lab_cfg_string(at(r, "m"), &s, &err), LAB_ERR_CONFIG);
  msg_is(&err, "t.yaml:13:4: m: expected a string, found a map");
  lab_cfg_free(r);
}

static void test_enum_lists_choices_closest_first(void **state) {
  (void)state;
  static const char *const acts[] = {"sigmoid", "relu", "linear"};
  lab_cfg_node *r = parse_ok("act: relu\nbad: liner\nm: [relu]\n");
  lab_error err = {0};
  int i = -1;
  assert_int_equal(lab_cfg_enum(at(r, "act"), acts, 3, &i, &err), LAB_STATUS_OK);
  assert_int_equal(i, 1);
  assert_int_equal(lab_cfg_enum(at(r, "bad"), acts, 3, &i, &err), LAB_ERR_CONFIG);
  msg_is(&err, "t.yaml:2:6: bad: expected one of linear, relu, sigmoid (closest first), found 'liner'");
  assert_int_equal(lab_cfg_enum(at(r, "m"), acts, 3, &i, &err), LAB_ERR_CONFIG);
  msg_has(&err, "t.yaml:3:4: m: expected one of");
  msg_has(&err, "found a sequence");
  assert_int_equal(i, 1);
  lab_cfg_free(r);
}

static void test_check_keys_unknown_key_suggestions(void **state) {
  (void)state;
  static const char *const known[] = {"optimizer", "lr", "batch_size", "epochs"};
  lab_cfg_node *r = parse_ok("train:\n  lr: 0.1\n  epohcs: 3\n  batchsize: 2\nx: 1\n");
  lab_error err = {0};
  assert_int_equal(lab_cfg_check_keys(at(r, "train"), known, 4, &err), LAB_ERR_CONFIG);
  /* The first unknown key, at the key's own position; a swap of two letters costs 1. */
  msg_is(&err, "t.yaml:3:3: train: unknown key 'epohcs' (known: epochs, lr, optimizer, batch_size)");
  static const char *const top[] = {"train", "y"};
  assert_int_equal(lab_cfg_check_keys(r, top, 2, &err), LAB_ERR_CONFIG);
  msg_is(&err, "t.yaml:5:1: unknown key 'x' (known: y, train)"); /* the root has no path */
  static const char *const all[] = {"lr", "epohcs", "batchsize"};
  assert_int_equal(lab_cfg_check_keys(at(r, "train"), all, 3, &err), LAB_STATUS_OK);
  assert_int_equal(lab_cfg_check_keys(at(r, "x"), all, 3, &err), LAB_ERR_CONFIG);
  msg_is(&err, "t.yaml:5:4: x: expected a map, found '1'");
  lab_cfg_free(r);
}

static void test_suggest_order_ties_and_truncation(void **state) {
  (void)state;
  static const char *const known[] = {"width", "depth", "stem", "classes", "image_size", "widht"};
  char buf[200];
  lab_cfg_suggest("with", known, 6, buf, sizeof buf);
  /* width 1, widht 2 (delete h... then swap), depth 3, stem 4: ties keep the table order */
  assert_string_equal(buf, "width, widht, depth, stem, classes, image_size");
  lab_cfg_suggest("classe", known, 6, buf, sizeof buf);
  assert_string_equal(buf, "classes, stem, width, depth, widht, image_size");
  char small[16];
  lab_cfg_suggest("with", known, 6, small, sizeof small);
  assert_string_equal(small, "width, ...");
  lab_cfg_suggest("x", known, 0, buf, sizeof buf);
  assert_string_equal(buf, "none");
}

/* === changing trees === */

static void test_set_overrides(void **state) {
  (void)state;
  lab_cfg_node *r = parse_ok(k_doc);
  lab_error err = {0};
  assert_int_equal(lab_cfg_set(r, "train.epochs=2", 0, &err), LAB_STATUS_OK);
  const lab_cfg_node *e = at(r, "train.epochs");
  assert_string_equal(e->scalar, "2");
  assert_string_equal(e->file, "<command line>");
  assert_int_equal(e->line, 1);
  assert_int_equal(e->col, 14); /* the column of the value inside the argument */
  assert_string_equal(e->path, "train.epochs");

  /* A list value replaces a list (or a scalar). */
  assert_int_equal(lab_cfg_set(r, "seeds=[5, 6]", 0, &err), LAB_STATUS_OK);
  const lab_cfg_node *s = at(r, "seeds");
  assert_int_equal(s->kind, LAB_CFG_SEQ);
  assert_int_equal(s->n, 2);
  assert_string_equal(s->items[1]->scalar, "6");
  assert_string_equal(s->items[1]->path, "seeds[1]");
  assert_int_equal(s->items[1]->col, 11);
  assert_int_equal(lab_cfg_set(r, "network.stages[0]={block: c, n: 1}", 0, &err), LAB_STATUS_OK);
  const lab_cfg_node *blk = at(r, "network.stages[0].block");
  assert_string_equal(blk->scalar, "c");
  assert_int_equal(blk->col, 27); /* "network.stages[0]={block: " is 26 characters */
  assert_string_equal(blk->path, "network.stages[0].block");
  assert_int_equal(lab_cfg_set(r, "network.stages[1].n=7", 0, &err), LAB_STATUS_OK);
  assert_string_equal(at(r, "network.stages[1].n")->scalar, "7");
  assert_int_equal(lab_cfg_set(r, "train.lr=", 0, &err), LAB_STATUS_OK);
  assert_true(lab_cfg_is_null(at(r, "train.lr")));

  /* Missing keys: the assignment, the key, where it was looked for, what exists there. */
  assert_int_equal(lab_cfg_set(r, "train.epohcs=2", 0, &err), LAB_ERR_CONFIG);
  msg_is(&err, "<command line>: 'train.epohcs=2': no key 'epohcs' in 'train' (known: epochs, lr)");
  assert_int_equal(lab_cfg_set(r, "trian.lr=2", 0, &err), LAB_ERR_CONFIG);
  msg_is(&err, "<command line>: 'trian.lr=2': no key 'trian' in the top level (known: train, seeds, network)");
  assert_int_equal(lab_cfg_set(r, "network.stages[2].n=1", 0, &err), LAB_ERR_CONFIG);
  msg_has(&err, "index 2 out of range: 'network.stages' has 2 items");
  assert_int_equal(lab_cfg_set(r, "network.width.x=1", 1, &err), LAB_ERR_CONFIG);
  msg_has(&err, "'network.width' is a scalar, it has no key 'x'");
  assert_int_equal(lab_cfg_set(r, "train..lr=1", 0, &err), LAB_ERR_CONFIG);
  msg_has(&err, "malformed path 'train..lr'");
  assert_int_equal(lab_cfg_set(r, "train.lr", 0, &err), LAB_ERR_CONFIG);
  msg_has(&err, "expected KEY=VALUE");
  assert_int_equal(lab_cfg_set(r, "train.lr=[1", 0, &err), LAB_ERR_CONFIG);
  msg_has(&err, "<command line>:");
  msg_has(&err, "malformed YAML");
  msg_has(&err, "flow sequence at line 1, column 10"); /* the '[' in the argument */

  /* allow_new: the key may be new, its parents must exist. */
  assert_int_equal(lab_cfg_set(r, "train.momentum=0.9", 0, &err), LAB_ERR_CONFIG);
  assert_int_equal(lab_cfg_set(r, "train.momentum=0.9", 1, &err), LAB_STATUS_OK);
  assert_string_equal(at(r, "train.momentum")->path, "train.momentum");
  assert_int_equal(lab_cfg_set(r, "optim.momentum=0.9", 1, &err), LAB_ERR_CONFIG);
  msg_has(&err, "no key 'optim' in the top level");
  assert_int_equal(lab_cfg_set(r, "seeds[2]=9", 1, &err), LAB_STATUS_OK); /* index n appends */
  assert_int_equal(at(r, "seeds")->n, 3);
  lab_cfg_free(r);
}

static void test_set_path_modes_and_unset(void **state) {
  (void)state;
  lab_cfg_node *r = parse_ok(k_doc);
  lab_cfg_node *v = parse_ok("{lr: 0.5, extra: {a: 1}}");
  lab_cfg_node *bad = parse_ok("{lr: 0.5,\n epochz: 1}");
  lab_error err = {0};
  /* UPDATE with a map: key by key, the others stay. */
  lab_cfg_node *v1 = parse_ok("{lr: 0.5}");
  assert_int_equal(lab_cfg_set_path(r, "train", v1, LAB_CFG_SET_UPDATE, "here", &err), LAB_STATUS_OK);
  assert_string_equal(at(r, "train.lr")->scalar, "0.5");
  assert_string_equal(at(r, "train.epochs")->scalar, "10");
  assert_string_equal(at(r, "train.lr")->path, "train.lr");
  /* UPDATE: a nested missing key points at that key in the value. */
  assert_int_equal(lab_cfg_set_path(r, "train", bad, LAB_CFG_SET_UPDATE, "here", &err), LAB_ERR_CONFIG);
  msg_is(&err, "t.yaml:2:2: no key 'epochz' in 'train' (known: epochs, lr)");
  /* REPLACE: the whole map goes. */
  assert_int_equal(lab_cfg_set_path(r, "train", v, LAB_CFG_SET_REPLACE, "here", &err), LAB_STATUS_OK);
  assert_null(lab_cfg_find(r, "train.epochs"));
  assert_string_equal(at(r, "train.extra.a")->path, "train.extra.a");
  /* NEW: refuses an existing key, adds a missing one under an existing parent. */
  assert_int_equal(lab_cfg_set_path(r, "train.lr", v1, LAB_CFG_SET_NEW, "w", &err), LAB_ERR_CONFIG);
  msg_is(&err, "w: already exists (at t.yaml:1:6); change it with set, not set_new");
  assert_int_equal(lab_cfg_set_path(r, "train.extra.b", v1, LAB_CFG_SET_NEW, "w", &err), LAB_STATUS_OK);
  assert_string_equal(at(r, "train.extra.b.lr")->scalar, "0.5");
  assert_int_equal(lab_cfg_set_path(r, "nope.b", v1, LAB_CFG_SET_NEW, "w", &err), LAB_ERR_CONFIG);
  /* unset: keys and sequence items; later items get their new paths. */
  assert_int_equal(lab_cfg_unset(r, "train.extra", "w", &err), LAB_STATUS_OK);
  assert_null(lab_cfg_find(r, "train.extra"));
  assert_int_equal(lab_cfg_unset(r, "train.extra", "w", &err), LAB_ERR_CONFIG);
  msg_is(&err, "w: no key 'extra' in 'train' (known: lr)");
  assert_int_equal(lab_cfg_unset(r, "network.stages[0]", "w", &err), LAB_STATUS_OK);
  assert_string_equal(at(r, "network.stages[0].block")->scalar, "b");
  assert_string_equal(at(r, "network.stages[0].block")->path, "network.stages[0].block");
  assert_int_equal(lab_cfg_unset(r, "network.stages[1]", "w", &err), LAB_ERR_CONFIG);
  lab_cfg_free(v);
  lab_cfg_free(v1);
  lab_cfg_free(bad);
  lab_cfg_free(r);
}

static void test_merge(void **state) {
  (void)state;
  lab_cfg_node *base = parse_ok("net: {w: 1, stages: [a, b]}\ntrain:\n  lr: 0.1\n  aux:\nname: x\n");
  lab_cfg_node *over = NULL;
  lab_error err = {0};
  assert_int_equal(lab_cfg_parse_string("net:\n  stages: [c]\n  d: 4\ntrain: {aux: {bn: all}}\n", "o.yaml", &over, &err),
                   LAB_STATUS_OK);
  assert_int_equal(lab_cfg_merge(base, over, &err), LAB_STATUS_OK);
  assert_string_equal(at(base, "net.w")->scalar, "1"); /* kept */
  const lab_cfg_node *st = at(base, "net.stages");      /* sequences replace */
  assert_int_equal(st->n, 1);
  assert_string_equal(st->items[0]->scalar, "c");
  assert_string_equal(st->items[0]->file, "o.yaml"); /* and say where they came from */
  assert_string_equal(st->items[0]->path, "net.stages[0]");
  const lab_cfg_node *d = at(base, "net.d"); /* new keys are appended */
  assert_int_equal(d->line, 3);
  assert_int_equal(at(base, "net")->key_line[2], 3);
  assert_string_equal(at(base, "train.aux.bn")->scalar, "all"); /* a null is replaced by a map */
  assert_string_equal(at(base, "train.aux.bn")->path, "train.aux.bn");
  lab_cfg_free(over);
  /* A map over a scalar is a mistake, named with both positions. */
  assert_int_equal(lab_cfg_parse_string("x: 1\nname: {a: 1}\n", "o.yaml", &over, &err), LAB_STATUS_OK);
  assert_int_equal(lab_cfg_merge(base, over, &err), LAB_ERR_CONFIG);
  msg_is(&err, "o.yaml:2:7: name: a map cannot replace the scalar at t.yaml:5:7");
  lab_cfg_free(over);
  lab_cfg_free(base);
}

/* === write, equality, hash === */

static void test_write_load_round_trip(void **state) {
  (void)state;
  lab_cfg_node *r = parse_ok(
      "z: 1\n"
      "a: {y: 'a: b', x: ' lead', w: 'trail ', v: '', u: \"multi\\nline\", t: '~', s: 'null', r: '#x'}\n"
      "'key: odd': [a, 'b, c', '', '[x]', \"tab\\there\", \"\\u00e9t\\u00e9\"]\n"
      "nested: [{a: 1, b: [1, 2]}, [x, [y]], {}, []]\n"
      "empty: {}\n"
      "quotes: [\"it's\", 'say \"hi\"', '- dash', '? q', '@at', '%pct', '!bang', '&amp', '*star', '|pipe', '>gt']\n"
      "long: '" "aaaaaaaaaa bbbbbbbbbb cccccccccc dddddddddd eeeeeeeeee ffffffffff gggggggggg hhhhhhhhhh iiiiiiiiii"
      "'\n");
  char *text = write_str(r);
  lab_cfg_node *back = NULL;
  lab_error err = {0};
  if (lab_cfg_parse_string(text, "back.yaml", &back, &err)) fprintf(stderr, "%s\n---\n%s\n", err.msg, text);
  assert_non_null(back);
  assert_true(lab_cfg_equal(r, back));
  assert_int_equal(back->n, r->n);
  for (int i = 0; i < r->n; i++) assert_string_equal(back->keys[i], r->keys[i]); /* order kept */
  assert_string_equal(at(back, "a.u")->scalar, "multi\nline");
  assert_string_equal(at(back, "a.v")->scalar, "");
  char *again = write_str(back); /* a fixed point */
  assert_string_equal(text, again);
  assert_true(lab_cfg_hash(r) == lab_cfg_hash(back));
  /* Sequences of scalars are written in flow style; maps in block style. */
  assert_non_null(strstr(text, "z: 1\n"));
  assert_non_null(strstr(text, "\n  b: [1, 2]\n"));
  free(text);
  free(again);
  lab_cfg_free(back);
  lab_cfg_free(r);
}

/* Random keys and scalars over ASCII 1..127 plus multi-byte UTF-8 (control characters,
 * quotes, indicators, spaces at the ends, line breaks): write -> load is the identity. */
static void test_write_load_random_strings(void **state) {
  (void)state;
  static const char *const wide[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xc2\xa0", "\xef\xbb\xbf"};
  lab_rng rng;
  lab_rng_seed(&rng, 20261204);
  for (int doc = 0; doc < 20; doc++) {
    lab_cfg_node *root = lab_cfg_new_map(NULL, 0, 0);
    lab_cfg_node *seq = lab_cfg_new_seq(NULL, 0, 0);
    for (int i = 0; i < 40; i++) {
      char text[64];
      size_t len = 0, want = lab_rng_below(&rng, 12);
      while (len < want) {
        if (lab_rng_below(&rng, 6) == 0) {
          const char *w = wide[lab_rng_below(&rng, 5)];
          memcpy(text + len, w, strlen(w));
          len += strlen(w);
        } else {
          text[len++] = (char)(1 + lab_rng_below(&rng, 127));
        }
      }
      text[len] = '\0';
      char key[80];
      snprintf(key, sizeof key, "%s%d", text, i); /* unique keys */
      lab_cfg_map_put(root, key, lab_cfg_new_scalar(text, NULL, 0, 0));
      lab_cfg_seq_push(seq, lab_cfg_new_scalar(text, NULL, 0, 0));
    }
    lab_cfg_map_put(root, "seq", seq);
    char *out = write_str(root);
    lab_cfg_node *back = NULL;
    lab_error err = {0};
    if (lab_cfg_parse_string(out, "back.yaml", &back, &err)) fprintf(stderr, "doc %d: %s\n", doc, err.msg);
    assert_non_null(back);
    assert_true(lab_cfg_equal(root, back));
    for (int i = 0; i < root->n; i++) assert_string_equal(root->keys[i], back->keys[i]);
    free(out);
    lab_cfg_free(back);
    lab_cfg_free(root);
  }
}

static void test_write_failure_is_an_io_error(void **state) {
  (void)state;
  FILE *f = fopen("/dev/full", "w");
  if (!f) {
    skip();
    return;
  }
  lab_cfg_node *r = parse_ok(k_doc);
  lab_error err = {0};
  assert_int_equal(lab_cfg_write(r, f, &err), LAB_ERR_IO);
  msg_has(&err, "writing YAML");
  fclose(f);
  lab_cfg_free(r);
}

static void test_is_null(void **state) {
  (void)state;
  lab_cfg_node *r = parse_ok("a:\nb: ~\nc: null\nd: ''\ne: 0\nf: {}\ng: nil\n");
  assert_true(lab_cfg_is_null(at(r, "a")));
  assert_true(lab_cfg_is_null(at(r, "b")));
  assert_true(lab_cfg_is_null(at(r, "c")));
  assert_true(lab_cfg_is_null(at(r, "d")));
  assert_false(lab_cfg_is_null(at(r, "e")));
  assert_false(lab_cfg_is_null(at(r, "f")));
  assert_false(lab_cfg_is_null(at(r, "g")));
  assert_false(lab_cfg_is_null(NULL));
  lab_cfg_free(r);
}

static void test_equal_and_hash(void **state) {
  (void)state;
  lab_cfg_node *a = parse_ok("b: [1, x]\na: {c: ''}\n");
  lab_cfg_node *b = NULL;
  lab_error err = {0};
  /* Other key order, other file, other positions, other quoting: the same configuration. */
  assert_int_equal(lab_cfg_parse_string("a:\n  c:\nb:\n  - '1'\n  - \"x\"\n", "other.yaml", &b, &err), LAB_STATUS_OK);
  assert_true(lab_cfg_equal(a, b));
  assert_true(lab_cfg_hash(a) == lab_cfg_hash(b));
  /* Pinned: FNV-1a 64 of the canonical bytes, computed independently (see config.h for the
   * serialisation). If this changes, every results folder named by a hash is orphaned. */
  char hex[17];
  assert_string_equal(lab_cfg_hash_hex(lab_cfg_hash(a), hex), "2231cbc10890f712");
  lab_cfg_node *s = lab_cfg_new_scalar("a", NULL, 0, 0);
  assert_string_equal(lab_cfg_hash_hex(lab_cfg_hash(s), hex), "c97c6e4641ec19e6");
  lab_cfg_free(s);

  const char *different[] = {
      "b: [x, 1]\na: {c: ''}\n",     /* sequence order matters */
      "b: [1, x]\na: {c: '0'}\n",    /* a value */
      "b: [1, x]\na: {d: ''}\n",     /* a key */
      "b: [1, x]\na: {c: ''}\nd: 1", /* an extra key */
      "b: [1, x]\na: [c, '']\n",     /* kinds */
      "b: [1, x]\na: {c: ['']}\n",
      "b: '[1, x]'\na: {c: ''}\n",
  };
  for (size_t i = 0; i < sizeof different / sizeof different[0]; i++) {
    lab_cfg_node *c = parse_ok(different[i]);
    assert_false(lab_cfg_equal(a, c));
    assert_true(lab_cfg_hash(a) != lab_cfg_hash(c));
    lab_cfg_free(c);
  }
  /* Lengths are hashed, so moving bytes between neighbouring strings changes the hash. */
  lab_cfg_node *p = parse_ok("[ab, c]"), *q = parse_ok("[a, bc]");
  assert_true(lab_cfg_hash(p) != lab_cfg_hash(q));
  lab_cfg_free(p);
  lab_cfg_free(q);
  lab_cfg_free(a);
  lab_cfg_free(b);
}

static void test_clone_and_builders(void **state) {
  (void)state;
  lab_cfg_node *r = parse_ok(k_doc);
  lab_cfg_node *c = lab_cfg_clone(r);
  assert_true(lab_cfg_equal(r, c));
  assert_string_equal(at(c, "network.stages[1].n")->path, "network.stages[1].n");
  assert_int_equal(at(c, "network.stages[1].n")->line, 6);
  lab_error err = {0};
  assert_int_equal(lab_cfg_set(c, "train.lr=1", 0, &err), LAB_STATUS_OK);
  assert_false(lab_cfg_equal(r, c));
  assert_string_equal(at(r, "train.lr")->scalar, "0.1"); /* deep: the original is untouched */

  lab_cfg_node *sub = lab_cfg_clone(at(r, "network"));
  lab_cfg_reroot(sub);
  assert_string_equal(sub->path, "");
  assert_string_equal(at(sub, "stages[0].n")->path, "stages[0].n");
  assert_int_equal(at(sub, "stages[0].n")->line, 4);
  lab_cfg_free(sub);

  lab_cfg_node *m = lab_cfg_new_map("run", 1, 1);
  lab_cfg_map_put(m, "seed", lab_cfg_new_scalar("3", NULL, 0, 0));
  lab_cfg_node *seq = lab_cfg_new_seq(NULL, 0, 0);
  lab_cfg_seq_push(seq, lab_cfg_new_scalar("x", NULL, 0, 0));
  lab_cfg_map_put(m, "list", seq);
  lab_cfg_map_put(m, "seed", lab_cfg_new_scalar("4", NULL, 0, 0)); /* replaces */
  assert_int_equal(m->n, 2);
  assert_string_equal(at(m, "seed")->scalar, "4");
  assert_string_equal(at(m, "list[0]")->path, "list[0]");
  assert_string_equal(at(m, "list[0]")->file, "<code>");
  lab_cfg_node *expect = parse_ok("seed: 4\nlist: [x]\n");
  assert_true(lab_cfg_equal(m, expect));
  lab_cfg_free(expect);
  lab_cfg_free(m);
  lab_cfg_free(c);
  lab_cfg_free(r);
  lab_cfg_free(NULL);
}

static void test_error_helpers(void **state) {
  (void)state;
  lab_cfg_node *r = parse_ok("net:\n  stem: {kind: v3}\n");
  lab_error err = {0};
  assert_int_equal(lab_cfg_error(&err, at(r, "net.stem.kind"), "unknown stem '%s'", "v3"), LAB_ERR_CONFIG);
  assert_int_equal(err.status, LAB_ERR_CONFIG);
  msg_is(&err, "t.yaml:2:16: net.stem.kind: unknown stem 'v3'");
  assert_int_equal(lab_cfg_key_error(&err, at(r, "net.stem"), 0, "bad key '%s'", "kind"), LAB_ERR_CONFIG);
  msg_is(&err, "t.yaml:2:10: net.stem: bad key 'kind'");
  char wb[64];
  assert_string_equal(lab_cfg_where(at(r, "net.stem"), wb, sizeof wb), "t.yaml:2:9");
  assert_int_equal(lab_cfg_error(NULL, r, "ignored"), LAB_ERR_CONFIG);
  lab_cfg_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_positions_and_paths),
      cmocka_unit_test(test_load_file_and_missing_file),
      cmocka_unit_test(test_empty_document_is_empty_map),
      cmocka_unit_test(test_malformed_yaml),
      cmocka_unit_test(test_duplicate_keys_name_both_positions),
      cmocka_unit_test(test_refused_features),
      cmocka_unit_test(test_int_reads),
      cmocka_unit_test(test_double_bool_string_reads),
      cmocka_unit_test(test_enum_lists_choices_closest_first),
      cmocka_unit_test(test_check_keys_unknown_key_suggestions),
      cmocka_unit_test(test_suggest_order_ties_and_truncation),
      cmocka_unit_test(test_set_overrides),
      cmocka_unit_test(test_set_path_modes_and_unset),
      cmocka_unit_test(test_merge),
      cmocka_unit_test(test_write_load_round_trip),
      cmocka_unit_test(test_write_load_random_strings),
      cmocka_unit_test(test_write_failure_is_an_io_error),
      cmocka_unit_test(test_is_null),
      cmocka_unit_test(test_equal_and_hash),
      cmocka_unit_test(test_clone_and_builders),
      cmocka_unit_test(test_error_helpers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
