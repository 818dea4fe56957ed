#include "core/stats.h"

#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_fit.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "core/err.h"

/* The finite pairs of (x, y) into fx, fy; returns how many. */
static int finite_pairs(const double *x, const double *y, int n, double *fx, double *fy)
{
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i])) fx[m] = x[i], fy[m] = y[i], m++;
    return m;
}

static int constant(const double *v, int n)
{
    for (int i = 1; i < n; i++)
        if (v[i] != v[0]) return 0;
    return 1;
}

double stats_spearman(const double *x, const double *y, int n)
{
    double *buf = err_calloc((size_t)(n > 0 ? n : 1) * 4, sizeof *buf);
    double *fx = buf, *fy = buf + n, *work = buf + 2 * n;
    int m = finite_pairs(x, y, n, fx, fy);
    double rho = m >= 3 && !constant(fx, m) && !constant(fy, m) ? gsl_stats_spearman(fx, 1, fy, 1, (size_t)m, work) : NAN;
    free(buf);
    return rho;
}

int stats_fit(const double *x, const double *y, int n, double *slope, double *lo, double *hi)
{
    double *buf = err_calloc((size_t)(n > 0 ? n : 1) * 2, sizeof *buf), c0, c1, cov00, cov01, cov11, sumsq;
    double *fx = buf, *fy = buf + n;
    int m = finite_pairs(x, y, n, fx, fy);
    *slope = *lo = *hi = NAN;
    if (m >= 2 && !constant(fx, m)) {
        gsl_fit_linear(fx, 1, fy, 1, (size_t)m, &c0, &c1, &cov00, &cov01, &cov11, &sumsq);
        *slope = c1;
        /* gsl_fit_linear's cov11 is sumsq / (m - 2) / Sxx: the slope's squared standard error */
        if (m >= 3) {
            double t = gsl_cdf_tdist_Pinv(0.975, m - 2), se = sqrt(cov11);
            *lo = c1 - t * se, *hi = c1 + t * se;
        }
    }
    free(buf);
    return m;
}

double stats_slope(const double *x, const double *y, int n)
{
    double slope, lo, hi;
    stats_fit(x, y, n, &slope, &lo, &hi);
    return slope;
}

double stats_mean(const double *v, int n, int stride)
{
    double s = 0;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(v[(long)i * stride])) s += v[(long)i * stride], m++;
    return m ? s / m : NAN;
}

/* The finite values of v moved to its front, sorted; returns how many. */
static int finite_sorted(double *v, int n)
{
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) v[m++] = v[i];
    gsl_sort(v, 1, (size_t)m);
    return m;
}

double stats_median(double *v, int n)
{
    int m = finite_sorted(v, n);
    return m ? gsl_stats_median_from_sorted_data(v, 1, (size_t)m) : NAN;
}

double stats_range(double *v, int n, double *lo, double *hi)
{
    int m = finite_sorted(v, n);
    *lo = m ? v[0] : NAN, *hi = m ? v[m - 1] : NAN;
    return m ? gsl_stats_median_from_sorted_data(v, 1, (size_t)m) : NAN;
}

int stats_median_ci(double *v, int n, double *med, double *lo, double *hi)
{
    int m = finite_sorted(v, n), k = 0;
    *med = m ? gsl_stats_median_from_sorted_data(v, 1, (size_t)m) : NAN;
    while (k + 1 <= m / 2 && gsl_cdf_binomial_P((unsigned)k, 0.5, (unsigned)m) <= 0.025) k++;
    *lo = k ? v[k - 1] : NAN, *hi = k ? v[m - k] : NAN;
    return m;
}

int stats_mean_ci(const double *v, int n, double *mean, double *lo, double *hi)
{
    double *f = err_calloc((size_t)(n > 0 ? n : 1), sizeof *f);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) f[m++] = v[i];
    *mean = m ? gsl_stats_mean(f, 1, (size_t)m) : NAN;
    *lo = *hi = NAN;
    if (m >= 2) {
        double half = gsl_cdf_tdist_Pinv(0.975, m - 1) * gsl_stats_sd_m(f, 1, (size_t)m, *mean) / sqrt(m);
        *lo = *mean - half, *hi = *mean + half;
    }
    free(f);
    return m;
}

int stats_jackknife(double est, const double *rep, int g, double *lo, double *hi)
{
    *lo = *hi = NAN;
    if (!isfinite(est) || g < 2) return -1;
    double mean = 0, ss = 0;
    for (int i = 0; i < g; i++) {
        if (!isfinite(rep[i])) return -1;
        mean += rep[i] / g;
    }
    for (int i = 0; i < g; i++) ss += (rep[i] - mean) * (rep[i] - mean);
    double se = sqrt((g - 1.0) / g * ss), half = gsl_cdf_tdist_Pinv(0.975, g - 1) * se;
    *lo = est - half, *hi = est + half;
    return 0;
}

void stats_binomial_ci(int k, int n, double *lo, double *hi)
{
    if (n < 1 || k < 0 || k > n) {
        *lo = *hi = NAN;
        return;
    }
    /* Clopper-Pearson: the beta quantiles that bound the success probability at 95% */
    *lo = k == 0 ? 0.0 : gsl_cdf_beta_Pinv(0.025, k, n - k + 1);
    *hi = k == n ? 1.0 : gsl_cdf_beta_Pinv(0.975, k + 1, n - k);
}
