/* stats.h: the few statistics a results table needs: mean and sample standard deviation
 * over seeds, Student-t quantiles, and the difference between two rows paired by seed with
 * its confidence interval.
 *
 * Why paired: two rows trained with the same seed share the data order, the augmentation and
 * (where shapes agree) the initial weights, so seed-to-seed noise largely cancels in the
 * per-seed difference; the interval of the mean difference is then much narrower than one
 * built from the two rows' standard deviations. With n pairs the interval is
 *   mean(d) +- t_{1 - alpha/2, n-1} * sd(d) / sqrt(n)
 * (the paired t-interval); n < 2 has no interval (NaN half-width).
 *
 * NaN values (missing or unmeasured) are skipped everywhere, never treated as zero.
 */
#ifndef LAB_STATS_H
#define LAB_STATS_H

/* Number of finite values in x[0..n). */
int lab_stats_count(const double *x, int n);
/* Mean of the finite values; NaN when there are none. */
double lab_stats_mean(const double *x, int n);
/* Sample standard deviation (divisor k - 1) of the finite values; NaN when fewer than 2. */
double lab_stats_std(const double *x, int n);

/* P(T <= t) for Student's t with df > 0 degrees of freedom (df may be fractional). Through
 * the regularised incomplete beta function: P(|T| > t) = I_{df/(df+t^2)}(df/2, 1/2). */
double lab_stats_t_cdf(double t, double df);
/* The p-quantile of Student's t with df > 0 degrees of freedom, p in (0, 1): the t with
 * lab_stats_t_cdf(t, df) = p, to about 1e-10 relative. NaN for arguments out of range. */
double lab_stats_t_quantile(double p, double df);

typedef struct lab_paired {
  int n;           /* pairs where both values are finite */
  double mean;     /* mean of b[i] - a[i]; NaN when n == 0 */
  double std;      /* sample std of the differences; NaN when n < 2 */
  double half;     /* half-width of the `level` interval; NaN when n < 2 */
  double lo, hi;   /* mean -+ half */
} lab_paired;

/* Paired difference b - a over index i (the same seed at index i in both arrays), with a
 * two-sided interval at confidence `level` (e.g. 0.95). */
lab_paired lab_stats_paired(const double *a, const double *b, int n, double level);

#endif
