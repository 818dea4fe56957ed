#include "core/stats.h"

#include <math.h>
#include <stdlib.h>

#include "core/err.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    double v;
    int i;
} keyed_t;

static int cmp_keyed(const void *a, const void *b) { return cmp_double(&((const keyed_t *)a)->v, &((const keyed_t *)b)->v); }

/* Ranks 1..n of v (ties share their average rank), written to r. */
static void rank(const double *v, double *r, int n, keyed_t *tmp)
{
    for (int i = 0; i < n; i++) tmp[i] = (keyed_t){v[i], i};
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_keyed);
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && tmp[j + 1].v == tmp[i].v) j++;
        for (int k = i; k <= j; k++) r[tmp[k].i] = 0.5 * (i + j) + 1;
        i = j + 1;
    }
}

static double pearson(const double *x, const double *y, int n)
{
    double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < n; i++) mx += x[i], my += y[i];
    mx /= n, my /= n;
    for (int i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    return sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : NAN;
}

double stats_spearman(const double *x, const double *y, int n)
{
    double *buf = err_calloc((size_t)(n > 0 ? n : 1) * 4, sizeof *buf);
    keyed_t *tmp = err_calloc((size_t)(n > 0 ? n : 1), sizeof *tmp);
    double *fx = buf, *fy = buf + n, *rx = buf + 2 * n, *ry = buf + 3 * n;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i])) fx[m] = x[i], fy[m] = y[i], m++;
    double rho = NAN;
    if (m >= 3) {
        rank(fx, rx, m, tmp);
        rank(fy, ry, m, tmp);
        rho = pearson(rx, ry, m);
    }
    free(buf);
    free(tmp);
    return rho;
}

double stats_slope(const double *x, const double *y, int n)
{
    double mx = 0, my = 0, sxy = 0, sxx = 0;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i])) mx += x[i], my += y[i], m++;
    if (m < 2) return NAN;
    mx /= m, my /= m;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i])) sxy += (x[i] - mx) * (y[i] - my), sxx += (x[i] - mx) * (x[i] - mx);
    return sxx > 0 ? sxy / sxx : NAN;
}

double stats_mean(const double *v, int n, int stride)
{
    double s = 0;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(v[(long)i * stride])) s += v[(long)i * stride], m++;
    return m ? s / m : NAN;
}

double stats_median(double *v, int n)
{
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) v[m++] = v[i];
    if (!m) return NAN;
    qsort(v, (size_t)m, sizeof *v, cmp_double);
    return m % 2 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]);
}
