/* test_optim.c: SGD against torch.optim.SGD, RMSProp against TensorFlow's formula (and shown
 * to differ from torch.optim.RMSprop), hand-computed steps, weight decay flags, configuration
 * errors, and gradient clipping by global norm. Fixture: tests/golden/optim_steps.txt from
 * tests/golden/make_golden_optim.py. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/optim.h"
#include "testutil.h"
#include "textfixture.h"

/* === a list of test tensors === */

#define MAX_T 4
typedef struct tensors {
  lab_param_list list;
  float *value[MAX_T], *grad[MAX_T];
  size_t count[MAX_T];
  int n;
} tensors;

static void tensors_add(tensors *ts, size_t count, int decay) {
  int i = ts->n++;
  ts->count[i] = count;
  ts->value[i] = lab_xcalloc(count, sizeof(float));
  ts->grad[i] = lab_xcalloc(count, sizeof(float));
  char name[16];
  snprintf(name, sizeof name, "t%d", i);
  lab_param_list_add(&ts->list, name, "weight", ts->value[i], ts->grad[i], count, decay);
}

static void tensors_free(tensors *ts) {
  for (int i = 0; i < ts->n; i++) {
    free(ts->value[i]);
    free(ts->grad[i]);
  }
  lab_param_list_free(&ts->list);
  memset(ts, 0, sizeof *ts);
}

/* === golden cases === */

static void test_golden(void **state) {
  (void)state;
  lab_fx_tokens t;
  lab_fx_open(&t, LAB_GOLDEN_DIR "/optim_steps.txt", "tests/golden/make_golden_optim.py");
  lab_fx_expect(&t, "LABGOLD");
  lab_fx_expect(&t, "optim");
  assert_int_equal((int)lab_fx_num(&t), 1);
  lab_fx_expect(&t, "ncases");
  int ncases = (int)lab_fx_num(&t);
  assert_int_equal(ncases, 5);
  int n_rms_checked = 0;
  for (int c = 0; c < ncases; c++) {
    lab_fx_expect(&t, "case");
    char name[64];
    snprintf(name, sizeof name, "%s", lab_fx_tok(&t));
    const char *kind = lab_fx_tok(&t);
    lab_optim_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.kind = strcmp(kind, "sgd") == 0 ? LAB_OPTIM_SGD : LAB_OPTIM_RMSPROP_TF;
    cfg.momentum = (float)lab_fx_num(&t);
    cfg.nesterov = (int)lab_fx_num(&t);
    cfg.weight_decay = (float)lab_fx_num(&t);
    cfg.rms_decay = (float)lab_fx_num(&t);
    cfg.rms_eps = (float)lab_fx_num(&t);
    cfg.rms_init = (float)lab_fx_num(&t);
    int nt = (int)lab_fx_num(&t), nsteps = (int)lab_fx_num(&t), has_torch = (int)lab_fx_num(&t);
    assert_true(nt <= MAX_T && nsteps <= 8);
    tensors ts;
    memset(&ts, 0, sizeof ts);
    for (int i = 0; i < nt; i++) {
      lab_fx_expect(&t, "tensor");
      size_t count = (size_t)lab_fx_num(&t);
      int decay = (int)lab_fx_num(&t);
      tensors_add(&ts, count, decay);
    }
    float lr[8];
    lab_fx_expect(&t, "lr");
    lab_fx_floats(&t, lr, (size_t)nsteps);
    for (int i = 0; i < nt; i++) {
      lab_fx_expect(&t, "init");
      assert_int_equal((int)lab_fx_num(&t), i);
      lab_fx_floats(&t, ts.value[i], ts.count[i]);
    }
    lab_optim opt;
    lab_error err;
    assert_int_equal(lab_optim_init(&opt, &cfg, &ts.list, &err), LAB_STATUS_OK);
    double max_torch_diff = 0;
    for (int k = 0; k < nsteps; k++) {
      lab_fx_expect(&t, "step");
      assert_int_equal((int)lab_fx_num(&t), k);
      for (int i = 0; i < nt; i++) {
        lab_fx_expect(&t, "grad");
        assert_int_equal((int)lab_fx_num(&t), i);
        lab_fx_floats(&t, ts.grad[i], ts.count[i]);
      }
      lab_optim_step(&opt, lr[k]);
      for (int i = 0; i < nt; i++) {
        float want[16];
        lab_fx_expect(&t, "value");
        assert_int_equal((int)lab_fx_num(&t), i);
        lab_fx_floats(&t, want, ts.count[i]);
        char what[128];
        snprintf(what, sizeof what, "%s step %d tensor %d", name, k, i);
        assert_close(ts.value[i], want, ts.count[i], 1e-6, 1e-5, what);
      }
      if (has_torch) {
        for (int i = 0; i < nt; i++) {
          float theirs[16];
          lab_fx_expect(&t, "torch");
          assert_int_equal((int)lab_fx_num(&t), i);
          lab_fx_floats(&t, theirs, ts.count[i]);
          for (size_t j = 0; j < ts.count[i]; j++) {
            double d = fabs((double)ts.value[i][j] - theirs[j]);
            if (d > max_torch_diff) max_torch_diff = d;
          }
        }
      }
    }
    if (has_torch) {
      /* Same inputs and hyperparameters, but torch starts ms at 0 and adds eps outside the
       * sqrt: its trajectory is far from TF's (ours), not a rounding difference. */
      fprintf(stderr, "%s: max |ours - torch.optim.RMSprop| = %.4g\n", name, max_torch_diff);
      assert_true(max_torch_diff > 1e-2);
      n_rms_checked++;
    }
    lab_optim_free(&opt);
    tensors_free(&ts);
  }
  assert_int_equal(n_rms_checked, 2);
  lab_fx_close(&t);
}

/* === hand-computed steps === */

/* RMSProp-TF, one element, no momentum: ms = 1 + 0.1*(g^2 - 1), p -= lr*g/sqrt(ms + 1). */
static void test_rmsprop_hand(void **state) {
  (void)state;
  tensors ts;
  memset(&ts, 0, sizeof ts);
  tensors_add(&ts, 2, 0);
  ts.value[0][0] = 1.0f;
  ts.value[0][1] = -0.5f;
  ts.grad[0][0] = 2.0f;
  ts.grad[0][1] = 0.0f;
  lab_optim_cfg cfg = lab_optim_cfg_rmsprop_tf();
  cfg.momentum = 0.0f;
  lab_optim opt;
  assert_int_equal(lab_optim_init(&opt, &cfg, &ts.list, NULL), LAB_STATUS_OK);
  size_t ns;
  float *st = lab_optim_state(&opt, &ns);
  assert_int_equal(ns, 2); /* ms only */
  float one[2] = {1.0f, 1.0f};
  assert_close(st, one, 2, 0, 0, "ms starts at 1");
  lab_optim_step(&opt, 0.1f);
  double ms = 1.0 + 0.1 * (4.0 - 1.0);
  float want[2] = {(float)(1.0 - 0.1 * 2.0 / sqrt(ms + 1.0)), -0.5f};
  assert_close(ts.value[0], want, 2, 1e-7, 1e-6, "rmsprop-tf step");
  float want_ms[2] = {(float)ms, 0.9f};
  assert_close(st, want_ms, 2, 1e-7, 1e-6, "ms after one step");
  /* torch's formula would give 1 - 0.1*2/(sqrt(0.1*4) + 1) = 0.8774: clearly not ours (0.8681). */
  double torch_val = 1.0 - 0.1 * 2.0 / (sqrt(0.1 * 4.0) + 1.0);
  assert_true(fabs(torch_val - ts.value[0][0]) > 5e-3);
  lab_optim_free(&opt);
  tensors_free(&ts);
}

/* RMSProp momentum accumulates lr * g / sqrt(ms + eps): two steps by hand. */
static void test_rmsprop_momentum_hand(void **state) {
  (void)state;
  tensors ts;
  memset(&ts, 0, sizeof ts);
  tensors_add(&ts, 1, 0);
  lab_optim_cfg cfg = lab_optim_cfg_rmsprop_tf();
  lab_optim opt;
  assert_int_equal(lab_optim_init(&opt, &cfg, &ts.list, NULL), LAB_STATUS_OK);
  assert_int_equal(opt.n_slots, 2);
  ts.grad[0][0] = 1.0f;
  lab_optim_step(&opt, 0.5f);
  lab_optim_step(&opt, 0.25f);
  double ms1 = 1.0, ms2 = 1.0, m = 0.0;
  ms1 = ms1 + 0.1 * (1.0 - ms1);
  m = 0.5 / sqrt(ms1 + 1.0);
  double p = -m;
  ms2 = ms1 + 0.1 * (1.0 - ms1);
  m = 0.9 * m + 0.25 / sqrt(ms2 + 1.0);
  p -= m;
  float want = (float)p;
  assert_close(ts.value[0], &want, 1, 1e-7, 1e-6, "rmsprop momentum two steps");
  lab_optim_free(&opt);
  tensors_free(&ts);
}

/* SGD momentum by hand, and weight decay only where the decay flag is set. */
static void test_sgd_hand_and_decay_flags(void **state) {
  (void)state;
  tensors ts;
  memset(&ts, 0, sizeof ts);
  tensors_add(&ts, 1, 1); /* decayed, zero grad: shrinks by lr*wd*p each step (+ momentum) */
  tensors_add(&ts, 1, 0); /* not decayed, zero grad: never moves */
  tensors_add(&ts, 1, 0); /* momentum by hand */
  ts.value[0][0] = 2.0f;
  ts.value[1][0] = 2.0f;
  ts.value[2][0] = 0.0f;
  ts.grad[2][0] = 1.0f;
  lab_optim_cfg cfg = lab_optim_cfg_sgd();
  cfg.weight_decay = 0.1f;
  lab_optim opt;
  assert_int_equal(lab_optim_init(&opt, &cfg, &ts.list, NULL), LAB_STATUS_OK);
  lab_optim_step(&opt, 0.5f);
  lab_optim_step(&opt, 0.5f);
  /* decayed: g1 = 0.2, buf1 = 0.2, p1 = 1.9; g2 = 0.19, buf2 = 0.9*0.2 + 0.19 = 0.37, p2 = 1.715 */
  float want0 = 1.715f, want1 = 2.0f, want2 = -(0.5f * 1.0f + 0.5f * 1.9f);
  assert_close(ts.value[0], &want0, 1, 1e-6, 1e-6, "sgd weight decay");
  assert_close(ts.value[1], &want1, 1, 0, 0, "no decay when decay flag is 0");
  assert_close(ts.value[2], &want2, 1, 1e-6, 1e-6, "sgd momentum");
  lab_optim_reset(&opt);
  size_t ns;
  float *st = lab_optim_state(&opt, &ns);
  assert_int_equal(ns, 3);
  float zeros[3] = {0, 0, 0};
  assert_close(st, zeros, 3, 0, 0, "reset zeroes momentum");
  lab_optim_free(&opt);
  tensors_free(&ts);
}

static void test_stateless_sgd_and_cfg_errors(void **state) {
  (void)state;
  tensors ts;
  memset(&ts, 0, sizeof ts);
  tensors_add(&ts, 5, 1);
  lab_optim opt;
  lab_error err;
  lab_optim_cfg cfg = lab_optim_cfg_sgd();
  cfg.momentum = 0.0f;
  assert_int_equal(lab_optim_init(&opt, &cfg, &ts.list, &err), LAB_STATUS_OK);
  size_t ns = 99;
  (void)lab_optim_state(&opt, &ns);
  assert_int_equal(ns, 0);
  lab_optim_free(&opt);

  cfg = lab_optim_cfg_sgd();
  cfg.momentum = 1.0f;
  assert_int_equal(lab_optim_init(&opt, &cfg, &ts.list, &err), LAB_ERR_CONFIG);
  assert_non_null(strstr(err.msg, "momentum"));
  cfg = lab_optim_cfg_rmsprop_tf();
  cfg.nesterov = 1;
  assert_int_equal(lab_optim_init(&opt, &cfg, &ts.list, &err), LAB_ERR_CONFIG);
  assert_non_null(strstr(err.msg, "nesterov"));
  cfg = lab_optim_cfg_rmsprop_tf();
  cfg.rms_eps = 0.0f;
  assert_int_equal(lab_optim_init(&opt, &cfg, &ts.list, &err), LAB_ERR_CONFIG);
  assert_non_null(strstr(err.msg, "epsilon"));
  cfg = lab_optim_cfg_rmsprop_tf();
  cfg.weight_decay = -1.0f;
  assert_int_equal(lab_optim_init(&opt, &cfg, &ts.list, &err), LAB_ERR_CONFIG);
  assert_non_null(strstr(err.msg, "weight_decay"));
  tensors_free(&ts);
}

/* === clipping === */

static void test_clip_scales_exactly(void **state) {
  (void)state;
  tensors ts;
  memset(&ts, 0, sizeof ts);
  tensors_add(&ts, 2, 1);
  tensors_add(&ts, 1, 0);
  ts.grad[0][0] = 3.0f;
  ts.grad[0][1] = -4.0f;
  ts.grad[1][0] = 12.0f;
  double norm = lab_clip_grad_norm(&ts.list, 2.0);
  assert_true(fabs(norm - 13.0) < 1e-12);
  float scale = (float)(2.0 / 13.0);
  float want0[2] = {3.0f * scale, -4.0f * scale}, want1 = 12.0f * scale;
  assert_close(ts.grad[0], want0, 2, 0, 0, "clipped grads, tensor 0");
  assert_close(ts.grad[1], &want1, 1, 0, 0, "clipped grads, tensor 1");
  double after = lab_clip_grad_norm(&ts.list, 0.0); /* measure only */
  assert_true(fabs(after - 2.0) < 1e-6);
  /* Below the threshold: untouched, and the norm is still returned. */
  float before[2] = {ts.grad[0][0], ts.grad[0][1]};
  double again = lab_clip_grad_norm(&ts.list, 2.5);
  assert_true(fabs(again - after) < 1e-12);
  assert_close(ts.grad[0], before, 2, 0, 0, "norm below threshold: unchanged");
  tensors_free(&ts);
}

static void test_clip_double_and_nonfinite(void **state) {
  (void)state;
  tensors ts;
  memset(&ts, 0, sizeof ts);
  tensors_add(&ts, 2, 1);
  /* Squares of 1e20 overflow float (max 3.4e38) but not double. */
  ts.grad[0][0] = 1e20f;
  ts.grad[0][1] = 1e20f;
  double norm = lab_clip_grad_norm(&ts.list, 2.0);
  double want = sqrt(2.0) * (double)1e20f;
  assert_true(isfinite(norm) && fabs(norm - want) / want < 1e-12);
  float c[2] = {(float)(2.0 / norm) * 1e20f, (float)(2.0 / norm) * 1e20f};
  assert_close(ts.grad[0], c, 2, 0, 0, "huge grads clipped");
  /* A NaN gradient: the norm says so and nothing is scaled. */
  ts.grad[0][0] = NAN;
  ts.grad[0][1] = 5.0f;
  norm = lab_clip_grad_norm(&ts.list, 2.0);
  assert_true(isnan(norm));
  float five = 5.0f;
  assert_close(&ts.grad[0][1], &five, 1, 0, 0, "NaN norm leaves grads untouched");
  tensors_free(&ts);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_golden),
      cmocka_unit_test(test_rmsprop_hand),
      cmocka_unit_test(test_rmsprop_momentum_hand),
      cmocka_unit_test(test_sgd_hand_and_decay_flags),
      cmocka_unit_test(test_stateless_sgd_and_cfg_errors),
      cmocka_unit_test(test_clip_scales_exactly),
      cmocka_unit_test(test_clip_double_and_nonfinite),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
