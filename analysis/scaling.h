/* scaling: the final validation loss against model size, fitted by the power law L(N) = a (N/1e6)^-alpha + c
 * (N parameters; a in nats at a million parameters, c the loss an infinite model of this kind would reach
 * on this data), by GSL's nonlinear least squares over every run (seeds as separate points), with 95%
 * intervals from the fit's covariance and a t quantile on n - 3 degrees of freedom. Written to
 * scaling.csv/md; figures.c draws it. */
#ifndef IL_AGG_SCALING_H
#define IL_AGG_SCALING_H

#include "analysis/runs.h"

enum { SC_A, SC_ALPHA, SC_C, SC_N };

typedef struct {
    int ok;                 /* a fit was made: at least 3 distinct sizes and 4 runs, and it converged */
    int n_runs, n_sizes;
    double est[SC_N], lo[SC_N], hi[SC_N];
    double rmse;            /* root mean squared residual, nats */
    char why[160];          /* when !ok */
} scaling_fit_t;

/* Fits y = a (x/1e6)^-alpha + c over the n finite pairs. */
void scaling_fit(const double *x, const double *y, int n, scaling_fit_t *f);

/* Fits the runs' final validation loss against their parameter count, writes <dir>/scaling.csv and .md, and
 * returns the fit in f. Returns 0, or -1 with err_set(). */
int scaling_write(const char *dir, const run_row_t *rows, int n, scaling_fit_t *f);

#endif
