/* test_cost.c: exact cost of the network presets (experiments/networks/) against published
 * numbers and PyTorch forward-hook counts (tests/golden/cost_*.txt from make_golden_cost.py),
 * block sums, the paper's factorization savings, and that costing every preset plans nothing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blocks/network.h"
#include "lab/config.h"
#include "lab/train.h"
#include "testutil.h"

#define NET_DIR LAB_GOLDEN_DIR "/../../experiments/networks"

static const char *const presets[] = {"googlenet", "googlenet-torchvision", "bn-googlenet", "bn-inception",
                                      "inception-v2", "inception-v3", "inception-v3-table1", "lucid-inception-v3"};
#define N_PRESETS ((int)(sizeof presets / sizeof presets[0]))

static void load(const char *name, int image_size, blk_network *n) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s.yaml", NET_DIR, name);
  blk_overrides ov = {.image_size = image_size};
  lab_error err = {0};
  lab_status st = blk_network_load(path, &ov, n, &err);
  if (st != LAB_STATUS_OK) fprintf(stderr, "%s: %s\n", path, err.msg);
  assert_int_equal(st, LAB_STATUS_OK);
}

/* === published totals === */

static void test_inception_v3_exact(void **state) {
  (void)state;
  blk_network n;
  load("inception-v3", 299, &n);
  blk_totals t = blk_network_totals(&n);
  assert_int_equal(t.params, 23834568);
  assert_int_equal(t.params + t.params_aux, 27161264);
  assert_int_equal(t.macs, 5713216096ULL);
  assert_int_equal(lab_graph_shape(n.g, lab_graph_output(n.g, "logits")).c, 1000);
  assert_true(lab_graph_output(n.g, "aux_logits") > 0);
  blk_network_free(&n);
}

static void test_googlenet_exact(void **state) {
  (void)state;
  blk_network n;
  /* torchvision's published figures are at GoogLeNet's native 224x224 (facts card 4.3). */
  load("googlenet-torchvision", 224, &n);
  blk_totals t = blk_network_totals(&n);
  assert_int_equal(t.params, 6624904);
  assert_int_equal(t.macs, 1498376192ULL);
  blk_network_free(&n);
  load("bn-googlenet", 224, &n);
  t = blk_network_totals(&n);
  assert_int_equal(t.params, 7005832);
  assert_int_equal(t.macs, 1582671872ULL);
  blk_network_free(&n);
}

/* BN-Inception recomputed from its table, plain 7x7, Caffe channel flow: facts card 5 gives
 * 2.03 GMACs and 11.29 M params. */
static void test_bn_inception_card(void **state) {
  (void)state;
  blk_network n;
  load("bn-inception", 224, &n);
  blk_totals t = blk_network_totals(&n);
  assert_true(t.params >= 11285000 && t.params < 11295000);
  assert_true(t.macs >= 2025000000ULL && t.macs < 2035000000ULL);
  assert_int_equal(lab_graph_shape(n.g, n.blocks[n.n_blocks - 2].out).c, 1024);
  blk_network_free(&n);
}

/* === per layer against PyTorch hooks === */

static void check_fixture(const char *preset, const char *fixture) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", LAB_GOLDEN_DIR, fixture);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char line[256], name[64];
  int size = 0;
  assert_non_null(fgets(line, sizeof line, f));
  assert_int_equal(sscanf(line, "# cost fixture v1 %63s %d", name, &size), 2);
  blk_network n;
  load(preset, size, &n);
  int id = 1, rows = 0;
  unsigned long long tp = 0, tm = 0;
  while (fgets(line, sizeof line, f)) {
    char kind[16];
    unsigned long long p, m;
    int c, h, w;
    if (sscanf(line, "total %llu %llu", &p, &m) == 2) {
      assert_int_equal(p, tp);
      assert_int_equal(m, tm);
      blk_totals t = blk_network_totals(&n);
      assert_int_equal(t.params + t.params_aux, p);
      assert_int_equal(t.macs + t.macs_aux, m);
      break;
    }
    assert_int_equal(sscanf(line, "%15s %llu %llu %d %d %d", kind, &p, &m, &c, &h, &w), 6);
    const char *want = !strcmp(kind, "conv") ? "conv2d" : !strcmp(kind, "bn") ? "batchnorm" : "linear";
    /* The next node of a counted type (conv, BN, linear), in build order = PyTorch's
     * execution order. */
    while (id < lab_graph_n_nodes(n.g)) {
      const char *t = lab_graph_node(n.g, id)->layer.ops->type;
      if (!strcmp(t, "conv2d") || !strcmp(t, "batchnorm") || !strcmp(t, "linear")) break;
      id++;
    }
    assert_true(id < lab_graph_n_nodes(n.g));
    const lab_node *nd = lab_graph_node(n.g, id++);
    if (strcmp(nd->layer.ops->type, want) || nd->cost.n_params != p || nd->cost.macs != m || nd->out.c != c ||
        nd->out.h != h || nd->out.w != w) {
      fprintf(stderr, "%s row %d: %s %s: ours %s %llu params %llu MACs %dx%dx%d; PyTorch %s %llu %llu %dx%dx%d\n",
              fixture, rows, preset, nd->path, nd->layer.ops->type, (unsigned long long)nd->cost.n_params,
              (unsigned long long)nd->cost.macs, nd->out.c, nd->out.h, nd->out.w, kind, p, m, c, h, w);
      fail();
    }
    tp += p;
    tm += m;
    rows++;
  }
  fclose(f);
  assert_true(rows > 100);
  blk_network_free(&n);
}

static void test_layers_inception_v3(void **state) {
  (void)state;
  check_fixture("inception-v3", "cost_inception_v3.txt");
}
static void test_layers_googlenet(void **state) {
  (void)state;
  check_fixture("googlenet-torchvision", "cost_googlenet_torchvision.txt");
}
static void test_layers_lucid(void **state) {
  (void)state;
  check_fixture("lucid-inception-v3", "cost_lucid_inception_v3.txt");
}

/* === a block's cost is the sum of its children === */

static void test_block_sums(void **state) {
  (void)state;
  for (int p = 0; p < N_PRESETS; p++) {
    blk_network n;
    load(presets[p], 299, &n);
    uint64_t params = 0, macs = 0;
    for (int b = 0; b < n.n_blocks; b++) {
      lab_cost c = blk_network_block_cost(&n, b);
      lab_cost s = lab_graph_cost(n.g, n.blocks[b].scope);
      assert_int_equal(c.n_params, s.n_params);
      assert_int_equal(c.macs, s.macs);
      /* Sum of the block's sub-scopes (conv units, ...) and its direct nodes. */
      uint64_t sp = 0, sm = 0;
      for (int id = n.blocks[b].first; id < n.blocks[b].end; id++) {
        sp += lab_graph_node(n.g, id)->cost.n_params;
        sm += lab_graph_node(n.g, id)->cost.macs;
      }
      assert_int_equal(c.n_params, sp);
      assert_int_equal(c.macs, sm);
      params += c.n_params;
      macs += c.macs;
    }
    lab_cost all = lab_graph_cost(n.g, NULL);
    blk_totals t = blk_network_totals(&n);
    assert_int_equal(all.n_params, params);
    assert_int_equal(all.macs, macs);
    assert_int_equal(t.params + t.params_aux, params);
    assert_int_equal(t.macs + t.macs_aux, macs);
    blk_network_free(&n);
  }
}

/* === presets carry the paper's Cost column === */

static void test_paper_cost_quoted(void **state) {
  (void)state;
  struct {
    const char *name;
    double bn_ops;
  } want[] = {{"bn-inception", 2.0}, {"inception-v2", 3.8}, {"inception-v3-table1", 4.8}, {"inception-v3", 4.8}};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    blk_network n;
    load(want[i].name, 0, &n);
    assert_true(fabs(n.paper_cost_bn_ops - want[i].bn_ops) < 1e-9);
    blk_network_free(&n);
  }
}

/* === Table 3's cumulative steps as experiment rows write them: inception-v2, then
 * "Factorized 7x7" (stem swap), then "BN-auxiliary" (aux FC batch-normalized), is exactly
 * the released inception-v3. === */

static void test_v2_steps_reach_v3(void **state) {
  (void)state;
  const char *steps[] = {"network: {preset: inception-v2}",
                         "network: {preset: inception-v2, override: {stem: {block: stem_v3}}}",
                         "network: {preset: inception-v2, override: {stem: {block: stem_v3}, AuxLogits: {bn: all}}}"};
  uint64_t params[3], macs[3];
  blk_overrides ov = {.load_preset = lab_preset_load, .load_ctx = (void *)NET_DIR};
  for (int i = 0; i < 3; i++) {
    lab_cfg_node *root;
    lab_error err = {0};
    assert_int_equal(lab_cfg_parse_string(steps[i], "<row>", &root, &err), LAB_STATUS_OK);
    blk_network n;
    lab_status st = blk_network_build(lab_cfg_get(root, "network"), &ov, &n, &err);
    if (st) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(st, LAB_STATUS_OK);
    blk_totals t = blk_network_totals(&n);
    params[i] = t.params + t.params_aux;
    macs[i] = t.macs;
    blk_network_free(&n);
    lab_cfg_free(root);
  }
  assert_true(macs[0] < macs[1]);
  assert_int_equal(macs[1], 5713216096ULL);
  assert_true(params[1] < params[2]);
  assert_int_equal(params[2], 27161264);
}

/* === the paper's factorization arithmetic on equal channels (Sec. 3.1, 3.2) === */

static uint64_t macs_of(const char *yaml, uint64_t *params) {
  lab_cfg_node *root;
  lab_error err = {0};
  assert_int_equal(lab_cfg_parse_string(yaml, "<test>", &root, &err), LAB_STATUS_OK);
  blk_network n;
  lab_status st = blk_network_build(lab_cfg_get(root, "network"), NULL, &n, &err);
  if (st) fprintf(stderr, "%s\n", err.msg);
  assert_int_equal(st, LAB_STATUS_OK);
  blk_totals t = blk_network_totals(&n);
  *params = t.params;
  assert_true(lab_shape_eq(lab_graph_shape(n.g, n.blocks[n.n_blocks - 1].out), (lab_shape){64, 35, 35}));
  blk_network_free(&n);
  lab_cfg_free(root);
  return t.macs;
}

#define FACT_NET(blocks) \
  "network: {input_size: 35, input_channels: 64, bn: false, conv_bias: false, blocks: [" blocks "]}"

static void test_factorization_savings(void **state) {
  (void)state;
  uint64_t p5, p33, p3, p31, p22;
  uint64_t m5 = macs_of(FACT_NET("{block: conv, out: 64, kh: 5, kw: 5}"), &p5);
  uint64_t m33 = macs_of(FACT_NET("{block: conv, out: 64, kh: 3, kw: 3}, {block: conv, out: 64, kh: 3, kw: 3}"), &p33);
  uint64_t m3 = macs_of(FACT_NET("{block: conv, out: 64, kh: 3, kw: 3}"), &p3);
  uint64_t m31 = macs_of(FACT_NET("{block: conv, out: 64, kh: 3, kw: 1}, {block: conv, out: 64, kh: 1, kw: 3}"), &p31);
  uint64_t m22 = macs_of(FACT_NET("{block: conv, out: 64, kh: 2, kw: 2}, {block: conv, out: 64, kh: 2, kw: 2}"), &p22);
  /* 5x5 -> two 3x3: (9+9)/25, a 28% saving; 3x3 -> 3x1+1x3: 33%; 3x3 -> two 2x2: 11%. */
  assert_true(fabs(1.0 - (double)m33 / (double)m5 - 0.28) < 1e-12);
  assert_true(fabs(1.0 - (double)p33 / (double)p5 - 0.28) < 1e-12);
  assert_true(fabs(1.0 - (double)m31 / (double)m3 - 1.0 / 3.0) < 1e-12);
  assert_true(fabs(1.0 - (double)m22 / (double)m3 - 1.0 / 9.0) < 1e-12);
  assert_true(fabs(1.0 - (double)p22 / (double)p3 - 1.0 / 9.0) < 1e-12);
}

/* === costing builds only: every preset at 299 without planning any memory (how fast is a
 * benchmark's question, not a test's: `time lab cost experiments/table3.yaml`) === */

static void test_costing_never_plans(void **state) {
  (void)state;
  uint64_t sum = 0;
  for (int p = 0; p < N_PRESETS; p++) {
    blk_network n;
    load(presets[p], 299, &n);
    sum += blk_network_totals(&n).macs;
    /* Counting never plans: no activation memory exists. */
    assert_int_equal(lab_graph_batch(n.g), 0);
    blk_network_free(&n);
  }
  assert_true(sum > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_inception_v3_exact),  cmocka_unit_test(test_googlenet_exact),
      cmocka_unit_test(test_bn_inception_card),   cmocka_unit_test(test_layers_inception_v3),
      cmocka_unit_test(test_layers_googlenet),    cmocka_unit_test(test_layers_lucid),
      cmocka_unit_test(test_block_sums),          cmocka_unit_test(test_paper_cost_quoted),
      cmocka_unit_test(test_factorization_savings), cmocka_unit_test(test_v2_steps_reach_v3),
      cmocka_unit_test(test_costing_never_plans),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
