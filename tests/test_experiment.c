/* test_experiment.c: lab/experiment: cumulative rows, set / set_new / unset, paper metadata,
 * extends (relative paths, cycles), command-line overrides, the schema's own checks with
 * FILE:LINE:COL messages, and rows' resolved configurations as effective configs (hash,
 * write -> load). The files are written into a fresh temporary folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lab/config.h"
#include "lab/experiment.h"

/* === a temporary folder of experiment files === */

typedef struct fixture {
  char dir[64];
  char files[32][256];
  int n_files;
  char sub[256];
} fixture;

/* Writes dir/name (again, if it exists) and returns its full path (valid until teardown). */
static const char *put(fixture *fx, const char *name, const char *text) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", fx->dir, name);
  int i = 0;
  while (i < fx->n_files && strcmp(fx->files[i], path) != 0) i++;
  if (i == fx->n_files) {
    LAB_ASSERT(i < 32, "too many fixture files");
    memcpy(fx->files[fx->n_files++], path, sizeof path);
  }
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  return fx->files[i];
}

static int setup(void **state) {
  fixture *fx = calloc(1, sizeof *fx);
  if (!fx) return -1;
  snprintf(fx->dir, sizeof fx->dir, "/tmp/lab-test-experiment-XXXXXX");
  if (!mkdtemp(fx->dir)) return -1;
  snprintf(fx->sub, sizeof fx->sub, "%s/sub", fx->dir);
  if (mkdir(fx->sub, 0700) != 0) return -1;
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture *fx = *state;
  for (int i = 0; i < fx->n_files; i++) remove(fx->files[i]);
  rmdir(fx->sub);
  rmdir(fx->dir);
  free(fx);
  return 0;
}

static lab_experiment *load_ok(const char *path, const char *const *ov, int n_ov) {
  lab_experiment *e = NULL;
  lab_error err = {0};
  lab_status s = lab_experiment_load(path, ov, n_ov, &e, &err);
  if (s) fprintf(stderr, "unexpected error: %s\n", err.msg);
  assert_int_equal(s, LAB_STATUS_OK);
  assert_non_null(e);
  return e;
}

/* Loading must fail with `status` and a message holding frag1 (and frag2). */
static void load_fails(const char *path, const char *const *ov, int n_ov, lab_status status, const char *frag1,
                       const char *frag2) {
  lab_experiment *e = (lab_experiment *)1;
  lab_error err = {0};
  lab_status s = lab_experiment_load(path, ov, n_ov, &e, &err);
  if (s != status || !strstr(err.msg, frag1) || (frag2 && !strstr(err.msg, frag2)))
    fprintf(stderr, "status %d, message '%s'\nwanted '%s' and '%s'\n", s, err.msg, frag1, frag2 ? frag2 : "");
  assert_int_equal(s, status);
  assert_null(e);
  assert_non_null(strstr(err.msg, frag1));
  if (frag2) assert_non_null(strstr(err.msg, frag2));
}

static const lab_cfg_node *at(const lab_cfg_node *root, const char *path) {
  const lab_cfg_node *n = lab_cfg_find(root, path);
  if (!n) fprintf(stderr, "no node at '%s'\n", path);
  assert_non_null(n);
  return n;
}

static void value_is(const lab_cfg_node *cfg, const char *path, const char *text, int line, int col) {
  const lab_cfg_node *n = at(cfg, path);
  assert_int_equal(n->kind, LAB_CFG_SCALAR);
  if (strcmp(n->scalar, text) != 0 || n->line != line || n->col != col)
    fprintf(stderr, "%s: '%s' at %d:%d, wanted '%s' at %d:%d\n", path, n->scalar, n->line, n->col, text, line, col);
  assert_string_equal(n->scalar, text);
  assert_int_equal(n->line, line);
  assert_int_equal(n->col, col);
}

static const char *k_exp =
    "experiment: demo\n"                                  /* 1 */
    "description: \"three changes\"\n"                    /* 2 */
    "seeds: [0, 1, 2]\n"                                  /* 3 */
    "base:\n"                                             /* 4 */
    "  network: {preset: googlenet, blocks: {a: 1}}\n"    /* 5 */
    "  train:\n"                                          /* 6 */
    "    epochs: 10\n"                                    /* 7 */
    "    lr: 0.1\n"                                       /* 8 */
    "    optimizer: sgd\n"                                /* 9 */
    "rows:\n"                                             /* 10 */
    "  - name: GoogLeNet\n"                               /* 11 */
    "    paper: {top1: 29.0, top5: 9.2, cost_bn_ops: 1.5}\n" /* 12 */
    "  - name: BN-GoogLeNet\n"                            /* 13 */
    "    paper: {top1: 26.8, cost_bn_ops: 1.5}\n"         /* 14 */
    "    set: {network.preset: bn-googlenet}\n"           /* 15 */
    "  - name: +RMSProp\n"                                /* 16 */
    "    description: optimizer change\n"                 /* 17 */
    "    set:\n"                                          /* 18 */
    "      train: {optimizer: rmsprop, lr: 0.045}\n"      /* 19 */
    "    set_new: {network.blocks.b: 2}\n"                /* 20 */
    "  - name: +Unset\n"                                  /* 21 */
    "    unset: [network.blocks.a]\n";                    /* 22 */

/* === rows === */

static void test_cumulative_rows(void **state) {
  fixture *fx = *state;
  const char *path = put(fx, "exp.yaml", k_exp);
  lab_experiment *e = load_ok(path, NULL, 0);
  assert_string_equal(e->name, "demo");
  assert_string_equal(e->description, "three changes");
  assert_string_equal(e->path, path);
  assert_int_equal(e->n_seeds, 3);
  assert_int_equal(e->seeds[2], 2);
  assert_int_equal(e->n_rows, 4);
  assert_string_equal(e->rows[2].name, "+RMSProp");
  assert_string_equal(e->rows[2].description, "optimizer change");
  assert_null(e->rows[0].description);
  assert_int_equal(lab_experiment_find_row(e, "+RMSProp"), 2);
  assert_int_equal(lab_experiment_find_row(e, "nope"), -1);
  assert_int_equal(e->rows[1].node->line, 13);

  /* paper metadata, NaN when absent */
  assert_true(fabs(e->rows[0].paper_top1 - 29.0) < 1e-12);
  assert_true(fabs(e->rows[0].paper_top5 - 9.2) < 1e-12);
  assert_true(fabs(e->rows[1].paper_cost_bn_ops - 1.5) < 1e-12);
  assert_true(isnan(e->rows[1].paper_top5));
  assert_true(isnan(e->rows[2].paper_top1) && isnan(e->rows[2].paper_cost_bn_ops));

  /* row 0 is the base; its paths are relative to the row */
  const lab_cfg_node *r0 = e->rows[0].config;
  assert_true(lab_cfg_equal(r0, lab_cfg_get(e->doc, "base")));
  assert_string_equal(r0->path, "");
  assert_string_equal(at(r0, "train.lr")->path, "train.lr");
  value_is(r0, "network.preset", "googlenet", 5, 21);

  /* row 1 changes the preset, positioned at its set */
  value_is(e->rows[1].config, "network.preset", "bn-googlenet", 15, 27);
  value_is(e->rows[1].config, "train.lr", "0.1", 8, 9);

  /* row 2 sees row 1's change, and its own map value updates key by key */
  const lab_cfg_node *r2 = e->rows[2].config;
  value_is(r2, "network.preset", "bn-googlenet", 15, 27);
  value_is(r2, "train.optimizer", "rmsprop", 19, 26);
  value_is(r2, "train.lr", "0.045", 19, 39);
  value_is(r2, "train.epochs", "10", 7, 13);
  value_is(r2, "network.blocks.b", "2", 20, 33);
  assert_string_equal(at(r2, "network.blocks.b")->path, "network.blocks.b");
  value_is(r2, "network.blocks.a", "1", 5, 44);

  /* row 3: everything of row 2, minus blocks.a */
  const lab_cfg_node *r3 = e->rows[3].config;
  assert_null(lab_cfg_find(r3, "network.blocks.a"));
  value_is(r3, "network.blocks.b", "2", 20, 33);
  value_is(r3, "train.optimizer", "rmsprop", 19, 26);
  lab_experiment_free(e);
}

static void test_effective_config_hash_and_round_trip(void **state) {
  fixture *fx = *state;
  lab_experiment *e = load_ok(put(fx, "exp.yaml", k_exp), NULL, 0);
  uint64_t h[4];
  for (int r = 0; r < 4; r++) h[r] = lab_cfg_hash(e->rows[r].config);
  for (int r = 0; r < 4; r++)
    for (int q = 0; q < r; q++) assert_true(h[r] != h[q]);
  assert_true(h[0] == lab_cfg_hash(lab_cfg_get(e->doc, "base")));

  /* The effective configuration written and read back is the same run. */
  const char *path = put(fx, "effective.yaml", "");
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  lab_error err = {0};
  assert_int_equal(lab_cfg_write(e->rows[2].config, f, &err), LAB_STATUS_OK);
  fclose(f);
  lab_cfg_node *back = NULL;
  assert_int_equal(lab_cfg_load(path, &back, &err), LAB_STATUS_OK);
  assert_true(lab_cfg_equal(back, e->rows[2].config));
  assert_true(lab_cfg_hash(back) == h[2]);
  lab_cfg_free(back);

  /* The same rows written in another key order are the same runs. */
  const char *reordered =
      "rows:\n"
      "  - {paper: {cost_bn_ops: 1.5, top5: 9.2, top1: 29.0}, name: GoogLeNet}\n"
      "  - {set: {network.preset: bn-googlenet}, name: BN-GoogLeNet}\n"
      "base:\n"
      "  train: {optimizer: sgd, lr: 0.1, epochs: 10}\n"
      "  network: {blocks: {a: 1}, preset: googlenet}\n"
      "seeds: [0, 1, 2]\n"
      "experiment: demo\n";
  lab_experiment *e2 = load_ok(put(fx, "reordered.yaml", reordered), NULL, 0);
  assert_true(lab_cfg_hash(e2->rows[0].config) == h[0]);
  assert_true(lab_cfg_hash(e2->rows[1].config) == h[1]);
  lab_experiment_free(e2);
  lab_experiment_free(e);
}

/* === the schema's own checks === */

static void test_unknown_keys_suggest_closest(void **state) {
  fixture *fx = *state;
  load_fails(put(fx, "bad.yaml", "experiment: e\nseed: [0]\nbase: {}\nrows: [{name: a}]\n"), NULL, 0, LAB_ERR_CONFIG,
             "bad.yaml:2:1: unknown key 'seed' (known: seeds, ", NULL);
  load_fails(put(fx, "bad.yaml", "experiment: e\nseeds: [0]\nbase: {}\nrows:\n  - name: a\n    sett: {x: 1}\n"), NULL,
             0, LAB_ERR_CONFIG, "bad.yaml:6:5: rows[0]: unknown key 'sett' (known: set, ", NULL);
  load_fails(put(fx, "bad.yaml", "experiment: e\nseeds: [0]\nbase: {}\nrows:\n  - name: a\n    paper: {top_1: 3}\n"),
             NULL, 0, LAB_ERR_CONFIG, "bad.yaml:6:13: rows[0].paper: unknown key 'top_1' (known: top1, top5, cost_bn_ops)",
             NULL);
}

static void test_set_of_missing_key(void **state) {
  fixture *fx = *state;
  const char *text =
      "experiment: e\n"
      "seeds: [0]\n"
      "base:\n"
      "  network: {preset: a, width: 1}\n"
      "  train: {optimizer: sgd, lr: 0.1}\n"
      "rows:\n"
      "  - name: a\n"
      "  - name: b\n"
      "    set: {network.presett: b}\n"; /* 9 */
  load_fails(put(fx, "bad.yaml", text), NULL, 0, LAB_ERR_CONFIG,
             "bad.yaml:9:11: rows[1].set: 'network.presett': no key 'presett' in 'network' (known: preset, width)", NULL);
  /* a nested key inside a map value: the position of that key */
  const char *nested =
      "experiment: e\nseeds: [0]\nbase:\n  train: {optimizer: sgd, lr: 0.1}\nrows:\n"
      "  - name: a\n"
      "    set:\n"
      "      train:\n"
      "        lr: 0.2\n"
      "        optimzer: rmsprop\n"; /* 10 */
  load_fails(put(fx, "bad.yaml", nested), NULL, 0, LAB_ERR_CONFIG,
             "bad.yaml:10:9: rows[0].set.train: no key 'optimzer' in 'train' (known: optimizer, lr)", NULL);
  /* a key added by set_new in one row can be set by a later row, not before */
  const char *order =
      "experiment: e\nseeds: [0]\nbase:\n  blocks: {a: 1}\nrows:\n"
      "  - name: a\n"
      "    set: {blocks.b: 3}\n" /* 7 */
      "  - name: b\n"
      "    set_new: {blocks.b: 2}\n";
  load_fails(put(fx, "bad.yaml", order), NULL, 0, LAB_ERR_CONFIG,
             "bad.yaml:7:11: rows[0].set: 'blocks.b': no key 'b' in 'blocks' (known: a)", NULL);
  const char *later =
      "experiment: e\nseeds: [0]\nbase:\n  blocks: {a: 1}\nrows:\n"
      "  - name: a\n"
      "    set_new: {blocks.b: 2}\n"
      "  - name: b\n"
      "    set: {blocks.b: 3}\n";
  lab_experiment *e = load_ok(put(fx, "ok.yaml", later), NULL, 0);
  value_is(e->rows[0].config, "blocks.b", "2", 7, 25);
  value_is(e->rows[1].config, "blocks.b", "3", 9, 21);
  lab_experiment_free(e);
  /* set_new refuses what exists, and needs the parent */
  load_fails(put(fx, "bad.yaml", "experiment: e\nseeds: [0]\nbase: {b: {a: 1}}\nrows:\n  - name: a\n    set_new: {b.a: 2}\n"),
             NULL, 0, LAB_ERR_CONFIG, "bad.yaml:6:15: rows[0].set_new: 'b.a': already exists (at /",
             "bad.yaml:3:15); change it with set, not set_new");
  load_fails(put(fx, "bad.yaml", "experiment: e\nseeds: [0]\nbase: {b: {a: 1}}\nrows:\n  - name: a\n    set_new: {c.a: 2}\n"),
             NULL, 0, LAB_ERR_CONFIG, "bad.yaml:6:15: rows[0].set_new: 'c.a': no key 'c' in the top level (known: b)", NULL);
  load_fails(put(fx, "bad.yaml", "experiment: e\nseeds: [0]\nbase: {b: {a: 1}}\nrows:\n  - name: a\n    unset: [b.c]\n"),
             NULL, 0, LAB_ERR_CONFIG, "bad.yaml:6:13: rows[0].unset: 'b.c': no key 'c' in 'b' (known: a)", NULL);
}

static void test_wrong_types_and_ranges(void **state) {
  fixture *fx = *state;
  static const struct {
    const char *text, *frag, *frag2;
  } cases[] = {
      {"experiment: e\nseeds: 3\nbase: {}\nrows: [{name: a}]\n", "bad.yaml:2:8: seeds: expected a non-empty sequence of seeds", NULL},
      {"experiment: e\nseeds: []\nbase: {}\nrows: [{name: a}]\n", "bad.yaml:2:8: seeds: expected a non-empty sequence", NULL},
      {"experiment: e\nseeds: [0, -1]\nbase: {}\nrows: [{name: a}]\n",
       "bad.yaml:2:12: seeds[1]: expected an integer in [0, 2147483647], found '-1'", NULL},
      {"experiment: e\nseeds: [0, 1.5]\nbase: {}\nrows: [{name: a}]\n", "bad.yaml:2:12: seeds[1]: expected an integer", NULL},
      {"experiment: e\nseeds: [4, 5, 4]\nbase: {}\nrows: [{name: a}]\n",
       "bad.yaml:2:15: seeds[2]: duplicate seed 4 (first at /", "bad.yaml:2:9)"},
      {"experiment: e\nseeds: [0]\nbase: [1]\nrows: [{name: a}]\n", "bad.yaml:3:7: base: expected a map", NULL},
      {"experiment: e\nseeds: [0]\nbase: {}\nrows: {name: a}\n", "bad.yaml:4:7: rows: expected a non-empty sequence", NULL},
      {"experiment: e\nseeds: [0]\nbase: {}\nrows: [a]\n", "bad.yaml:4:8: rows[0]: expected a row", NULL},
      {"experiment: e\nseeds: [0]\nbase: {}\nrows: [{set: {}}]\n", "bad.yaml:4:8: rows[0]: missing key 'name'", NULL},
      {"experiment: e\nseeds: [0]\nbase: {}\nrows:\n  - name: a\n  - name: a\n",
       "bad.yaml:6:11: rows[1].name: duplicate row name 'a' (first at /", "bad.yaml:5:11)"},
      {"experiment: e\nseeds: [0]\nbase: {}\nrows: [{name: a/b}]\n", "bad.yaml:4:15: rows[0].name: row name 'a/b' must be", NULL},
      {"experiment: e\nseeds: [0]\nbase: {}\nrows: [{name: [a]}]\n", "bad.yaml:4:15: rows[0].name: expected a string, found a sequence", NULL},
      {"experiment: e\nseeds: [0]\nbase: {}\nrows:\n  - name: a\n    paper: {top1: 120}\n",
       "bad.yaml:6:19: rows[0].paper.top1: expected a number in [0, 100], found '120'", NULL},
      {"experiment: e\nseeds: [0]\nbase: {}\nrows:\n  - name: a\n    paper: {cost_bn_ops: lots}\n",
       "bad.yaml:6:26: rows[0].paper.cost_bn_ops: expected a number in [0, 1e+06], found 'lots'", NULL},
      {"experiment: e\nseeds: [0]\nbase: {}\nrows:\n  - name: a\n    paper: 3\n", "bad.yaml:6:12: rows[0].paper: expected a map", NULL},
      {"experiment: e\nseeds: [0]\nbase: {}\nrows:\n  - name: a\n    set: [x]\n",
       "bad.yaml:6:10: rows[0].set: expected a map of path: value, found a sequence", NULL},
      {"experiment: e\nseeds: [0]\nbase: {}\nrows:\n  - name: a\n    unset: x\n",
       "bad.yaml:6:12: rows[0].unset: expected a sequence of paths", NULL},
      {"experiment: e\nseeds: [0]\nbase: {a: 1}\nrows:\n  - name: a\n    set: {a..b: 1}\n",
       "bad.yaml:6:11: rows[0].set: 'a..b': malformed path 'a..b'", NULL},
      {"experiment: e\ndescription: {a: 1}\nseeds: [0]\nbase: {}\nrows: [{name: a}]\n",
       "bad.yaml:2:14: description: expected a string, found a map", NULL},
      {"experiment: ''\nseeds: [0]\nbase: {}\nrows: [{name: a}]\n", "bad.yaml:1:13: experiment: experiment name '' must be", NULL},
      {"seeds: [0]\nbase: {}\nrows: [{name: a}]\n", "bad.yaml:1:1: missing key 'experiment'", NULL},
      {"experiment: e\nbase: {}\nrows: [{name: a}]\n", "bad.yaml:1:1: missing key 'seeds'", NULL},
      {"experiment: e\nseeds: [0]\nrows: [{name: a}]\n", "bad.yaml:1:1: missing key 'base'", NULL},
      {"experiment: e\nseeds: [0]\nbase: {}\n", "bad.yaml:1:1: missing key 'rows'", NULL},
      {"- experiment: e\n", "bad.yaml:1:1: an experiment file is a map", NULL},
      {"experiment: e\nseeds: [0\nbase: {}\n", "bad.yaml:3:5: malformed YAML: did not find expected ',' or ']'", NULL},
      {"experiment: e\nseeds: [0]\nseeds: [1]\n", "bad.yaml:3:1: duplicate key 'seeds' (first at /", "bad.yaml:2:1)"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    load_fails(put(fx, "bad.yaml", cases[i].text), NULL, 0, LAB_ERR_CONFIG, cases[i].frag, cases[i].frag2);
  char missing[300];
  snprintf(missing, sizeof missing, "%s/none.yaml", fx->dir);
  load_fails(missing, NULL, 0, LAB_ERR_IO, "none.yaml: cannot open: No such file", NULL);
}

/* === extends === */

static void test_extends_relative_and_merged(void **state) {
  fixture *fx = *state;
  put(fx, "exp.yaml", k_exp);
  const char *child = put(fx, "sub/quick.yaml",
                          "experiment: demo-quick\n"           /* 1 */
                          "extends: ../exp.yaml\n"              /* 2 */
                          "seeds: [7]\n"                        /* 3 */
                          "base:\n"                             /* 4 */
                          "  train: {epochs: 1}\n"              /* 5 */
                          "  data: {subset: 100}\n");           /* 6 */
  lab_experiment *e = load_ok(child, NULL, 0);
  assert_string_equal(e->name, "demo-quick");
  assert_string_equal(e->description, "three changes"); /* inherited */
  assert_int_equal(e->n_seeds, 1);
  assert_int_equal(e->seeds[0], 7);
  assert_int_equal(e->n_rows, 4); /* inherited rows, resolved over the merged base */
  assert_null(lab_cfg_get(e->doc, "extends"));
  const lab_cfg_node *r2 = e->rows[2].config;
  value_is(r2, "train.epochs", "1", 5, 19);
  assert_string_equal(at(r2, "train.epochs")->file, child);
  value_is(r2, "train.lr", "0.045", 19, 39); /* the parent's row still applies */
  char parent_as_opened[300]; /* relative to the child's folder */
  snprintf(parent_as_opened, sizeof parent_as_opened, "%s/sub/../exp.yaml", fx->dir);
  assert_string_equal(at(r2, "train.lr")->file, parent_as_opened);
  assert_string_equal(at(e->rows[0].config, "train.lr")->file, parent_as_opened);
  value_is(r2, "data.subset", "100", 6, 18);
  value_is(e->rows[0].config, "train.optimizer", "sgd", 9, 16);
  /* Each key remembers its own file, whatever map it was merged into: a message about a key
   * (lab_cfg_key_error: an unknown train key, say) must name the file that holds it. */
  const lab_cfg_node *data = at(r2, "data"), *blocks = at(r2, "network.blocks"), *train = at(r2, "train");
  assert_string_equal(data->key_file[lab_cfg_index(data, "subset")], child);
  assert_string_equal(blocks->key_file[lab_cfg_index(blocks, "b")], parent_as_opened); /* the row's set_new */
  assert_int_equal(blocks->key_line[lab_cfg_index(blocks, "b")], 20);
  assert_string_equal(train->key_file[lab_cfg_index(train, "epochs")], parent_as_opened); /* its value: child */
  lab_error kerr = {0};
  lab_cfg_key_error(&kerr, data, lab_cfg_index(data, "subset"), "unknown key");
  char want[400];
  snprintf(want, sizeof want, "%s:6:10: data: unknown key", child);
  assert_string_equal(kerr.msg, want);
  lab_experiment_free(e);

  /* A child that gives its own rows replaces the parent's; a kind change is an error. */
  const char *own = put(fx, "sub/own.yaml", "experiment: own\nextends: ../exp.yaml\nrows:\n  - name: only\n");
  e = load_ok(own, NULL, 0);
  assert_int_equal(e->n_rows, 1);
  assert_string_equal(e->rows[0].name, "only");
  lab_experiment_free(e);
  load_fails(put(fx, "sub/kind.yaml", "experiment: k\nextends: ../exp.yaml\nrows: {a: 1}\n"), NULL, 0, LAB_ERR_CONFIG,
             "kind.yaml:3:7: rows: a map cannot replace the sequence at ", "exp.yaml:11:3");
  load_fails(put(fx, "sub/noname.yaml", "extends: ../exp.yaml\nseeds: [1]\n"), NULL, 0, LAB_ERR_CONFIG,
             "noname.yaml:1:1: missing key 'experiment'", NULL);
  load_fails(put(fx, "sub/lost.yaml", "experiment: l\nextends: nowhere.yaml\n"), NULL, 0, LAB_ERR_CONFIG,
             "lost.yaml:2:10: extends: cannot open '", "sub/nowhere.yaml': No such file");
}

static void test_extends_cycle(void **state) {
  fixture *fx = *state;
  const char *a = put(fx, "a.yaml", "experiment: a\nextends: b.yaml\n");
  put(fx, "b.yaml", "experiment: b\nextends: sub/../a.yaml\n");
  char want[400];
  snprintf(want, sizeof want, "b.yaml:2:10: extends: extends cycle: %s -> %s/b.yaml -> %s/sub/../a.yaml", a, fx->dir,
           fx->dir);
  load_fails(a, NULL, 0, LAB_ERR_CONFIG, want, NULL);
  const char *self = put(fx, "self.yaml", "experiment: s\nextends: self.yaml\n");
  load_fails(self, NULL, 0, LAB_ERR_CONFIG, "self.yaml:2:10: extends: extends cycle: ", NULL);
}

/* === command-line overrides === */

static void test_overrides(void **state) {
  fixture *fx = *state;
  const char *path = put(fx, "exp.yaml", k_exp);
  /* Row keys apply to every row, last: even over a row's own set. */
  const char *ov1[] = {"train.lr=0.5", "seeds=[0]", "train.epochs=2"};
  lab_experiment *e = load_ok(path, ov1, 3);
  assert_int_equal(e->n_seeds, 1);
  assert_int_equal(e->seeds[0], 0);
  for (int r = 0; r < e->n_rows; r++) {
    value_is(e->rows[r].config, "train.lr", "0.5", 1, 10);
    value_is(e->rows[r].config, "train.epochs", "2", 1, 14);
    assert_string_equal(at(e->rows[r].config, "train.epochs")->file, "<command line>");
  }
  lab_experiment_free(e);

  /* base.* changes the starting point: rows that set the key keep their value. */
  const char *ov2[] = {"base.train.lr=0.2", "rows[0].name=Renamed", "description=other",
                       "base.train={optimizer: adam}", "network.blocks.b=5"};
  e = load_ok(path, ov2, 5);
  value_is(e->rows[0].config, "train.lr", "0.2", 1, 15);
  value_is(e->rows[1].config, "train.lr", "0.2", 1, 15);
  value_is(e->rows[2].config, "train.lr", "0.045", 19, 39);
  value_is(e->rows[1].config, "train.optimizer", "adam", 1, 24);
  value_is(e->rows[1].config, "train.epochs", "10", 7, 13);
  assert_string_equal(e->rows[0].name, "Renamed");
  assert_string_equal(e->description, "other");
  /* a key only some rows have applies to those */
  assert_null(lab_cfg_find(e->rows[1].config, "network.blocks.b"));
  value_is(e->rows[2].config, "network.blocks.b", "5", 1, 18);
  value_is(e->rows[3].config, "network.blocks.b", "5", 1, 18);
  lab_experiment_free(e);

  /* a list for a list, and a missing top-level key may be added */
  const char *nodesc = put(fx, "nodesc.yaml", "experiment: n\nseeds: [0]\nbase: {x: 1}\nrows: [{name: a}]\n");
  const char *ov3[] = {"seeds=[3, 4]", "description=now"};
  e = load_ok(nodesc, ov3, 2);
  assert_int_equal(e->n_seeds, 2);
  assert_int_equal(e->seeds[1], 4);
  assert_string_equal(e->description, "now");
  lab_experiment_free(e);

  const char *bad1[] = {"train.epohcs=2"};
  load_fails(path, bad1, 1, LAB_ERR_CONFIG,
             "no row of the experiment has this key: <command line>: 'train.epohcs=2': no key 'epohcs' in 'train' (known: epochs, ",
             NULL);
  const char *bad2[] = {"seeds=[0, -1]"};
  load_fails(path, bad2, 1, LAB_ERR_CONFIG, "<command line>:1:11: seeds[1]: expected an integer in [0, 2147483647], found '-1'",
             NULL);
  const char *bad3[] = {"extends=other.yaml"};
  load_fails(path, bad3, 1, LAB_ERR_CONFIG, "extends cannot be overridden", NULL);
  const char *bad4[] = {"base.train.momentum=0.9"};
  load_fails(path, bad4, 1, LAB_ERR_CONFIG,
             "<command line>: 'base.train.momentum=0.9': no key 'momentum' in 'base.train' (known: ", NULL);
  const char *bad5[] = {"train.epochs"};
  load_fails(path, bad5, 1, LAB_ERR_CONFIG, "expected KEY=VALUE", NULL);
  const char *bad6[] = {"train={optimiser: adam}"};
  load_fails(path, bad6, 1, LAB_ERR_CONFIG, "<command line>:1:8: train: no key 'optimiser' in 'train' (known: optimizer, ",
             NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cumulative_rows),
      cmocka_unit_test(test_effective_config_hash_and_round_trip),
      cmocka_unit_test(test_unknown_keys_suggest_closest),
      cmocka_unit_test(test_set_of_missing_key),
      cmocka_unit_test(test_wrong_types_and_ranges),
      cmocka_unit_test(test_extends_relative_and_merged),
      cmocka_unit_test(test_extends_cycle),
      cmocka_unit_test(test_overrides),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
