/* stats: the few statistics the aggregation uses. Every function skips pairs or values that are not
 * finite (a NaN in a trace means "not measured") and returns NaN when too little is left to say anything. */
#ifndef IL_AGG_STATS_H
#define IL_AGG_STATS_H

/* Spearman rank correlation of (x[i], y[i]) over the finite pairs, ties given their average rank.
 * NaN with fewer than 3 pairs or when either side is constant. */
double stats_spearman(const double *x, const double *y, int n);

/* Least-squares slope of y against x over the finite pairs; NaN with fewer than 2 distinct x. */
double stats_slope(const double *x, const double *y, int n);

/* Mean of the finite values among v[0], v[stride], ..., v[(n-1)*stride]; NaN if there are none. */
double stats_mean(const double *v, int n, int stride);

/* Median of the finite values of v (reordered in place); NaN if there are none. */
double stats_median(double *v, int n);

#endif
