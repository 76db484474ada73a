/* test_stats.c: lab/stats: mean and sample std (NaN skipped), the Student-t CDF and
 * quantiles against printed t-table values, and the paired-by-seed confidence interval
 * against a hand computation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>

#include "lab/stats.h"

/* |a - b| <= tol * max(1, |b|); prints both on failure. */
static int near(double a, double b, double tol, const char *what) {
  if (fabs(a - b) <= tol * fmax(1.0, fabs(b))) return 1;
  print_error("%s: got %.12g, expected %.12g\n", what, a, b);
  return 0;
}
#define assert_near(a, b, tol) assert_true(near((a), (b), (tol), #a))

static void test_mean_std(void **state) {
  (void)state;
  const double x[] = {2, 4, 4, 4, 5, 5, 7, 9};
  assert_int_equal(lab_stats_count(x, 8), 8);
  assert_near(lab_stats_mean(x, 8), 5.0, 1e-12);
  assert_near(lab_stats_std(x, 8), sqrt(32.0 / 7.0), 1e-12);
  /* NaN is missing, never zero */
  const double y[] = {NAN, 1.0, 3.0, NAN};
  assert_int_equal(lab_stats_count(y, 4), 2);
  assert_near(lab_stats_mean(y, 4), 2.0, 1e-12);
  assert_near(lab_stats_std(y, 4), sqrt(2.0), 1e-12);
  const double one[] = {NAN, 7.0};
  assert_near(lab_stats_mean(one, 2), 7.0, 1e-12);
  assert_true(isnan(lab_stats_std(one, 2)));
  const double none[] = {NAN};
  assert_true(isnan(lab_stats_mean(none, 1)));
  assert_true(isnan(lab_stats_mean(none, 0)));
}

static void test_t_cdf(void **state) {
  (void)state;
  assert_near(lab_stats_t_cdf(0.0, 3.0), 0.5, 1e-14);
  /* df = 1 is the Cauchy distribution: 1/2 + atan(t)/pi */
  assert_near(lab_stats_t_cdf(1.0, 1.0), 0.75, 1e-12);
  assert_near(lab_stats_t_cdf(-3.0, 1.0), 0.5 + atan(-3.0) / (4.0 * atan(1.0)), 1e-12);
  /* df = 2 has a closed form: 1/2 + t / (2 sqrt(2 + t^2)) */
  assert_near(lab_stats_t_cdf(2.0, 2.0), 0.5 + 2.0 / (2.0 * sqrt(6.0)), 1e-12);
  assert_near(lab_stats_t_cdf(-0.7, 2.0), 0.5 - 0.7 / (2.0 * sqrt(2.49)), 1e-12);
  /* large df tends to the normal: Phi(1.96) = 0.9750021 */
  assert_near(lab_stats_t_cdf(1.959963985, 1e7), 0.975, 1e-6);
  assert_true(isnan(lab_stats_t_cdf(1.0, 0.0)));
}

static void test_t_quantile_table(void **state) {
  (void)state;
  /* two-sided 95% critical values (p = 0.975), standard t-table to 9 digits */
  static const struct {
    double df, q;
  } t975[] = {{1, 12.706204736}, {2, 4.302652730}, {3, 3.182446305}, {4, 2.776445105}, {5, 2.570581836},
              {9, 2.262157163}, {10, 2.228138852}, {30, 2.042272456}, {100, 1.983971519}};
  for (size_t i = 0; i < sizeof t975 / sizeof t975[0]; i++) {
    char what[64];
    snprintf(what, sizeof what, "t(0.975, %g)", t975[i].df);
    assert_true(near(lab_stats_t_quantile(0.975, t975[i].df), t975[i].q, 1e-8, what));
  }
  assert_near(lab_stats_t_quantile(0.95, 10), 1.812461123, 1e-8);
  assert_near(lab_stats_t_quantile(0.995, 5), 4.032142984, 1e-8);
  assert_near(lab_stats_t_quantile(0.9995, 1), 636.6192487, 1e-7);
  /* symmetry and the median */
  assert_near(lab_stats_t_quantile(0.025, 4), -2.776445105, 1e-8);
  assert_near(lab_stats_t_quantile(0.5, 7), 0.0, 1e-14);
  /* round trip through the CDF */
  assert_near(lab_stats_t_cdf(lab_stats_t_quantile(0.9, 3.5), 3.5), 0.9, 1e-10);
  assert_true(isnan(lab_stats_t_quantile(1.0, 3)));
  assert_true(isnan(lab_stats_t_quantile(0.9, -1)));
}

static void test_paired(void **state) {
  (void)state;
  const double a[] = {10.0, 12.0, 11.0}, b[] = {9.0, 10.5, 10.4};
  lab_paired p = lab_stats_paired(a, b, 3, 0.95);
  /* differences -1, -1.5, -0.6 */
  double m = -3.1 / 3.0;
  double sd = sqrt(((-1.0 - m) * (-1.0 - m) + (-1.5 - m) * (-1.5 - m) + (-0.6 - m) * (-0.6 - m)) / 2.0);
  assert_int_equal(p.n, 3);
  assert_near(p.mean, m, 1e-12);
  assert_near(p.std, sd, 1e-12);
  assert_near(p.half, 4.302652730 * sd / sqrt(3.0), 1e-8);
  assert_near(p.lo, m - p.half, 1e-12);
  assert_near(p.hi, m + p.half, 1e-12);
  /* the pairing matters: the unpaired spread of b is much larger than the CI half-width */
  assert_true(p.half < 4.302652730 * lab_stats_std(b, 3) / sqrt(3.0));

  /* a seed missing in either row drops that pair only */
  const double a2[] = {10.0, NAN, 11.0, 12.0}, b2[] = {9.0, 10.0, NAN, 11.0};
  p = lab_stats_paired(a2, b2, 4, 0.95);
  assert_int_equal(p.n, 2);
  assert_near(p.mean, -1.0, 1e-12);
  assert_near(p.std, 0.0, 1e-12);
  assert_near(p.half, 0.0, 1e-12);
  /* one pair: a mean, no interval */
  const double a3[] = {1.0, NAN}, b3[] = {3.0, 2.0};
  p = lab_stats_paired(a3, b3, 2, 0.95);
  assert_int_equal(p.n, 1);
  assert_near(p.mean, 2.0, 1e-12);
  assert_true(isnan(p.half) && isnan(p.lo) && isnan(p.std));
  p = lab_stats_paired(a3, b3, 0, 0.95);
  assert_int_equal(p.n, 0);
  assert_true(isnan(p.mean));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mean_std),
      cmocka_unit_test(test_t_cdf),
      cmocka_unit_test(test_t_quantile_table),
      cmocka_unit_test(test_paired),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
