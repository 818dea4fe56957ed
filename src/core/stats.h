/* stats: the statistics of the trace signals and of the aggregation, on GSL. Every function skips pairs
 * or values that are not finite (a NaN in a trace means "not measured") and returns NaN when too little is
 * left to say anything. Intervals are two-sided at 95%. */
#ifndef IL_AGG_STATS_H
#define IL_AGG_STATS_H

/* Spearman rank correlation of (x[i], y[i]) over the finite pairs, ties given their average rank.
 * NaN with fewer than 3 pairs or when either side is constant. */
double stats_spearman(const double *x, const double *y, int n);

/* Least-squares slope of y against x over the finite pairs, with its t interval (NaN with fewer than 3
 * pairs); the slope is NaN with fewer than 2 distinct x. Returns the number of finite pairs. */
int stats_fit(const double *x, const double *y, int n, double *slope, double *lo, double *hi);
double stats_slope(const double *x, const double *y, int n);

/* Mean of the finite values among v[0], v[stride], ..., v[(n-1)*stride]; NaN if there are none. */
double stats_mean(const double *v, int n, int stride);

/* Mean of the finite values of v with its t interval (NaN with fewer than 2). Returns how many. */
int stats_mean_ci(const double *v, int n, double *mean, double *lo, double *hi);

/* Median of the finite values of v (reordered in place); NaN if there are none. stats_range also gives
 * their smallest and largest. */
double stats_median(double *v, int n);
double stats_range(double *v, int n, double *lo, double *hi);

/* Median of the finite values of v (reordered in place) with its distribution-free interval: the order
 * statistics v(k) and v(m-k+1) of the m values, k the largest with P(Binomial(m, 1/2) < k) <= 2.5%, which
 * cover the median with at least 95%. lo, hi NaN with fewer than 6 values. Returns how many. */
int stats_median_ci(double *v, int n, double *med, double *lo, double *hi);

/* Delete-one jackknife interval of an estimate from its g replicates rep[i] (the statistic recomputed
 * without unit i): est -+ t(0.975, g-1) sqrt((g-1)/g sum (rep[i] - mean rep)^2). Returns -1 (lo, hi NaN)
 * when est or a replicate is not finite, or g < 2. */
int stats_jackknife(double est, const double *rep, int g, double *lo, double *hi);

/* Clopper-Pearson interval of a proportion k of n. */
void stats_binomial_ci(int k, int n, double *lo, double *hi);

#endif
