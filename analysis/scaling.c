#include "analysis/scaling.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_multifit_nlinear.h>

#include "analysis/table.h"
#include "core/err.h"

typedef struct {
    const double *u, *y; /* sizes in millions of parameters, losses */
    size_t n;
} data_t;

static int residual(const gsl_vector *p, void *user, gsl_vector *f)
{
    const data_t *d = user;
    double a = gsl_vector_get(p, SC_A), al = gsl_vector_get(p, SC_ALPHA), c = gsl_vector_get(p, SC_C);
    for (size_t i = 0; i < d->n; i++) gsl_vector_set(f, i, a * pow(d->u[i], -al) + c - d->y[i]);
    return GSL_SUCCESS;
}

static int jacobian(const gsl_vector *p, void *user, gsl_matrix *J)
{
    const data_t *d = user;
    double a = gsl_vector_get(p, SC_A), al = gsl_vector_get(p, SC_ALPHA);
    for (size_t i = 0; i < d->n; i++) {
        double pw = pow(d->u[i], -al);
        gsl_matrix_set(J, i, SC_A, pw);
        gsl_matrix_set(J, i, SC_ALPHA, -a * pw * log(d->u[i]));
        gsl_matrix_set(J, i, SC_C, 1);
    }
    return GSL_SUCCESS;
}

void scaling_fit(const double *x, const double *y, int n, scaling_fit_t *f)
{
    memset(f, 0, sizeof *f);
    double *u = err_calloc((size_t)n + 1, sizeof *u), *v = err_calloc((size_t)n + 1, sizeof *v);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i]) && x[i] > 0 && isfinite(y[i])) u[m] = x[i] / 1e6, v[m] = y[i], m++;
    f->n_runs = m;
    for (int i = 0; i < m; i++) {
        int seen = 0;
        for (int j = 0; j < i; j++) seen |= u[j] == u[i];
        f->n_sizes += !seen;
    }
    if (f->n_sizes < 3 || m < 4) {
        snprintf(f->why, sizeof f->why, "%d run%s of %d size%s: a fit of 3 parameters needs at least 3 sizes and 4 runs",
                 m, m == 1 ? "" : "s", f->n_sizes, f->n_sizes == 1 ? "" : "s");
        free(u), free(v);
        return;
    }
    /* start: c below the best loss, alpha 0.3, a through the smallest model */
    double ymin = INFINITY, ymax = -INFINITY, umin = INFINITY, yat = 0;
    for (int i = 0; i < m; i++) {
        ymin = fmin(ymin, v[i]), ymax = fmax(ymax, v[i]);
        if (u[i] < umin) umin = u[i], yat = v[i];
    }
    double start[SC_N] = {[SC_ALPHA] = 0.3, [SC_C] = ymin - 0.1 - 0.5 * (ymax - ymin)};
    start[SC_A] = (yat - start[SC_C]) * pow(umin, start[SC_ALPHA]);
    data_t d = {u, v, (size_t)m};
    gsl_multifit_nlinear_fdf fdf = {.f = residual, .df = jacobian, .n = (size_t)m, .p = SC_N, .params = &d};
    gsl_multifit_nlinear_parameters par = gsl_multifit_nlinear_default_parameters();
    gsl_multifit_nlinear_workspace *w = gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &par, (size_t)m, SC_N);
    gsl_vector_view x0 = gsl_vector_view_array(start, SC_N);
    int info, rc = gsl_multifit_nlinear_init(&x0.vector, &fdf, w);
    if (rc == GSL_SUCCESS) rc = gsl_multifit_nlinear_driver(200, 1e-10, 1e-10, 1e-10, NULL, NULL, &info, w);
    if (rc != GSL_SUCCESS) {
        snprintf(f->why, sizeof f->why, "the least-squares fit did not converge");
    } else {
        gsl_matrix *cov = gsl_matrix_alloc(SC_N, SC_N);
        gsl_multifit_nlinear_covar(gsl_multifit_nlinear_jac(w), 0.0, cov);
        double chi;
        gsl_blas_ddot(gsl_multifit_nlinear_residual(w), gsl_multifit_nlinear_residual(w), &chi);
        double dof = m - SC_N, s2 = dof > 0 ? chi / dof : NAN, t = dof > 0 ? gsl_cdf_tdist_Pinv(0.975, dof) : NAN;
        for (int k = 0; k < SC_N; k++) {
            double est = gsl_vector_get(gsl_multifit_nlinear_position(w), (size_t)k), se = sqrt(gsl_matrix_get(cov, k, k) * s2);
            f->est[k] = est, f->lo[k] = est - t * se, f->hi[k] = est + t * se;
        }
        f->rmse = sqrt(chi / m);
        f->ok = 1;
        gsl_matrix_free(cov);
    }
    gsl_multifit_nlinear_free(w);
    free(u), free(v);
}

int scaling_write(const char *dir, const run_row_t *rows, int n, scaling_fit_t *f)
{
    double *x = err_calloc((size_t)n + 1, sizeof *x), *y = err_calloc((size_t)n + 1, sizeof *y);
    for (int i = 0; i < n; i++) x[i] = rows[i].param[TP_N_PARAMS].d, y[i] = rows[i].val_loss;
    scaling_fit(x, y, n, f);
    free(x), free(y);
    static const char *const cols[] = {"quantity", "estimate", "low", "high", "runs", "sizes", "rmse"};
    char intro[512];
    snprintf(intro, sizeof intro, "Final validation loss L against parameters N over every run (seeds as separate points), "
             "fitted by nonlinear least squares as L(N) = a (N/1e6)^-alpha + c; 95%% intervals from the fit's covariance "
             "with a t quantile on runs - 3 degrees of freedom.%s%s", f->ok ? "" : " No fit: ", f->ok ? "" : f->why);
    table_t t;
    CALL(table_open(&t, dir, "scaling", "Scaling of the final loss with model size", intro, cols, 7));
    static const char *const names[SC_N] = {"a (nats at 1M parameters)", "alpha", "c (nats)"};
    for (int k = 0; k < SC_N; k++) {
        table_str(&t, names[k]);
        table_num(&t, f->ok ? f->est[k] : NAN), table_num(&t, f->ok ? f->lo[k] : NAN), table_num(&t, f->ok ? f->hi[k] : NAN);
        table_num(&t, f->n_runs), table_num(&t, f->n_sizes), table_num(&t, f->ok ? f->rmse : NAN);
    }
    return table_commit(&t);
}
