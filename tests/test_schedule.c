/* test_schedule.c: learning-rate schedules by hand: the paper's 0.045 * 0.94^floor(epoch/2),
 * TF-slim's truncation of fractional decay periods, linear warm-up, configuration errors. */
#include <math.h>
#include <string.h>

#include "lab/schedule.h"
#include "testutil.h"

static void near(double got, double want, const char *what) {
  if (!(fabs(got - want) <= 1e-15 + 1e-12 * fabs(want)))
    fail_msg("%s: got %.17g, want %.17g", what, got, want);
}

static void test_constant(void **state) {
  (void)state;
  lab_lr_schedule s = lab_lr_schedule_paper(10);
  s.kind = LAB_LR_CONSTANT;
  s.base_lr = 0.01;
  assert_int_equal(lab_lr_schedule_check(&s, NULL), LAB_STATUS_OK);
  near(lab_lr_at(&s, 0), 0.01, "step 0");
  near(lab_lr_at(&s, 123456), 0.01, "step 123456");
}

static void test_paper_staircase(void **state) {
  (void)state;
  lab_lr_schedule s = lab_lr_schedule_paper(100); /* decay every 200 steps */
  assert_int_equal(lab_lr_schedule_check(&s, NULL), LAB_STATUS_OK);
  near(lab_lr_at(&s, 0), 0.045, "epoch 0");
  near(lab_lr_at(&s, 199), 0.045, "last step of epoch 1");
  near(lab_lr_at(&s, 200), 0.045 * 0.94, "first step of epoch 2");
  near(lab_lr_at(&s, 399), 0.045 * 0.94, "last step of epoch 3");
  near(lab_lr_at(&s, 400), 0.045 * 0.94 * 0.94, "epoch 4");
  near(lab_lr_at(&s, 100 * 21), 0.045 * pow(0.94, 10), "epoch 21");
  /* Non-increasing everywhere. */
  double prev = lab_lr_at(&s, 0);
  for (int64_t k = 1; k < 5000; k++) {
    double lr = lab_lr_at(&s, k);
    assert_true(lr <= prev);
    prev = lr;
  }
}

static void test_fractional_period(void **state) {
  (void)state;
  lab_lr_schedule s = lab_lr_schedule_paper(7);
  s.decay_epochs = 1.5; /* 10.5 steps -> 10, as TF-slim's int() */
  near(lab_lr_at(&s, 9), 0.045, "step 9");
  near(lab_lr_at(&s, 10), 0.045 * 0.94, "step 10");
  near(lab_lr_at(&s, 20), 0.045 * 0.94 * 0.94, "step 20");
  s.decay_epochs = 0.01; /* under one step: decays every step */
  near(lab_lr_at(&s, 3), 0.045 * pow(0.94, 3), "period floors at one step");
}

static void test_warmup(void **state) {
  (void)state;
  lab_lr_schedule s = lab_lr_schedule_paper(10);
  s.warmup_epochs = 1.0; /* 10 steps */
  s.warmup_start = 0.1;
  assert_int_equal(lab_lr_schedule_check(&s, NULL), LAB_STATUS_OK);
  near(lab_lr_at(&s, 0), 0.045 * 0.1, "warm-up step 0");
  near(lab_lr_at(&s, 5), 0.045 * 0.55, "warm-up step 5");
  near(lab_lr_at(&s, 9), 0.045 * (0.1 + 0.9 * 0.9), "warm-up step 9");
  near(lab_lr_at(&s, 10), 0.045, "after warm-up");
  /* The decay counts from step 0, also inside the warm-up. */
  s.decay_epochs = 0.5;
  near(lab_lr_at(&s, 5), 0.045 * 0.94 * 0.55, "decay inside warm-up");
  near(lab_lr_at(&s, 10), 0.045 * 0.94 * 0.94, "decay after warm-up");
  s.warmup_start = 0.0;
  near(lab_lr_at(&s, 0), 0.0, "warm-up from zero");
}

static void test_check_errors(void **state) {
  (void)state;
  lab_error err;
  lab_lr_schedule s = lab_lr_schedule_paper(0);
  assert_int_equal(lab_lr_schedule_check(&s, &err), LAB_ERR_CONFIG);
  assert_non_null(strstr(err.msg, "steps per epoch"));
  s = lab_lr_schedule_paper(10);
  s.base_lr = -1;
  assert_int_equal(lab_lr_schedule_check(&s, &err), LAB_ERR_CONFIG);
  assert_non_null(strstr(err.msg, "learning rate"));
  s = lab_lr_schedule_paper(10);
  s.decay_rate = 1.5;
  assert_int_equal(lab_lr_schedule_check(&s, &err), LAB_ERR_CONFIG);
  assert_non_null(strstr(err.msg, "decay rate"));
  s = lab_lr_schedule_paper(10);
  s.decay_epochs = 0;
  assert_int_equal(lab_lr_schedule_check(&s, &err), LAB_ERR_CONFIG);
  assert_non_null(strstr(err.msg, "decay period"));
  s = lab_lr_schedule_paper(10);
  s.warmup_start = 2;
  assert_int_equal(lab_lr_schedule_check(&s, &err), LAB_ERR_CONFIG);
  assert_non_null(strstr(err.msg, "warm-up start"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_constant),
      cmocka_unit_test(test_paper_staircase),
      cmocka_unit_test(test_fractional_period),
      cmocka_unit_test(test_warmup),
      cmocka_unit_test(test_check_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
