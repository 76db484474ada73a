/* stats.c: mean, standard deviation, Student-t quantiles and paired differences (stats.h).
 *
 * The t distribution goes through the regularised incomplete beta function, evaluated with
 * its continued fraction (modified Lentz); the quantile is found by bisection on the CDF,
 * which is monotone, so it cannot fail to converge. Accuracy is checked against printed
 * t-tables in tests/test_stats.c.
 */
#include "lab/stats.h"

#include <math.h>

int lab_stats_count(const double *x, int n) {
  int k = 0;
  for (int i = 0; i < n; i++) k += isfinite(x[i]) ? 1 : 0;
  return k;
}

double lab_stats_mean(const double *x, int n) {
  double s = 0.0;
  int k = 0;
  for (int i = 0; i < n; i++)
    if (isfinite(x[i])) {
      s += x[i];
      k++;
    }
  return k ? s / k : NAN;
}

double lab_stats_std(const double *x, int n) {
  int k = lab_stats_count(x, n);
  if (k < 2) return NAN;
  double m = lab_stats_mean(x, n), ss = 0.0;
  for (int i = 0; i < n; i++)
    if (isfinite(x[i])) ss += (x[i] - m) * (x[i] - m); /* two passes: no cancellation */
  return sqrt(ss / (k - 1));
}

/* === Student's t === */

/* Continued fraction of the incomplete beta function (converges fast for x < (a+1)/(a+b+2)). */
static double beta_cf(double a, double b, double x) {
  const double tiny = 1e-300, eps = 1e-16;
  double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
  if (fabs(d) < tiny) d = tiny;
  d = 1.0 / d;
  double h = d;
  for (int m = 1; m <= 1000; m++) {
    double m2 = 2.0 * m;
    /* even step */
    double aa = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
    d = 1.0 + aa * d;
    if (fabs(d) < tiny) d = tiny;
    c = 1.0 + aa / c;
    if (fabs(c) < tiny) c = tiny;
    d = 1.0 / d;
    h *= d * c;
    /* odd step */
    aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
    d = 1.0 + aa * d;
    if (fabs(d) < tiny) d = tiny;
    c = 1.0 + aa / c;
    if (fabs(c) < tiny) c = tiny;
    d = 1.0 / d;
    double del = d * c;
    h *= del;
    if (fabs(del - 1.0) < eps) break;
  }
  return h;
}

/* I_x(a, b), the regularised incomplete beta function, x in [0, 1]. */
static double beta_inc(double a, double b, double x) {
  if (x <= 0.0) return 0.0;
  if (x >= 1.0) return 1.0;
  double ln_front = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
  if (x < (a + 1.0) / (a + b + 2.0)) return exp(ln_front) * beta_cf(a, b, x) / a;
  return 1.0 - exp(ln_front) * beta_cf(b, a, 1.0 - x) / b;
}

double lab_stats_t_cdf(double t, double df) {
  if (!(df > 0.0) || isnan(t)) return NAN;
  if (isinf(t)) return t > 0 ? 1.0 : 0.0;
  double tail2 = beta_inc(0.5 * df, 0.5, df / (df + t * t)); /* P(|T| > |t|) */
  return t >= 0.0 ? 1.0 - 0.5 * tail2 : 0.5 * tail2;
}

double lab_stats_t_quantile(double p, double df) {
  if (!(df > 0.0) || !(p > 0.0 && p < 1.0)) return NAN;
  if (p == 0.5) return 0.0;
  if (p < 0.5) return -lab_stats_t_quantile(1.0 - p, df);
  double lo = 0.0, hi = 1.0;
  while (lab_stats_t_cdf(hi, df) < p && hi < 1e300) {
    lo = hi;
    hi *= 2.0;
  }
  for (int i = 0; i < 2000 && hi - lo > 1e-12 * hi; i++) {
    double mid = 0.5 * (lo + hi);
    if (lab_stats_t_cdf(mid, df) < p)
      lo = mid;
    else
      hi = mid;
  }
  return 0.5 * (lo + hi);
}

lab_paired lab_stats_paired(const double *a, const double *b, int n, double level) {
  lab_paired r = {0, NAN, NAN, NAN, NAN, NAN};
  double s = 0.0;
  for (int i = 0; i < n; i++)
    if (isfinite(a[i]) && isfinite(b[i])) {
      s += b[i] - a[i];
      r.n++;
    }
  if (r.n == 0) return r;
  r.mean = s / r.n;
  if (r.n < 2) return r;
  double ss = 0.0;
  for (int i = 0; i < n; i++)
    if (isfinite(a[i]) && isfinite(b[i])) {
      double d = b[i] - a[i] - r.mean;
      ss += d * d;
    }
  r.std = sqrt(ss / (r.n - 1));
  double q = lab_stats_t_quantile(0.5 + 0.5 * level, r.n - 1);
  r.half = q * r.std / sqrt((double)r.n);
  r.lo = r.mean - r.half;
  r.hi = r.mean + r.half;
  return r;
}
