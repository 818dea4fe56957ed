#include "analysis/runstats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/stats.h"

/* One record of every signal: a view into the curves, or values computed from them (owned). */
typedef struct {
    double *v[TV_N];
    int owned;
} snap_t;

/* With `end`, record rec stands for the end of training: the sparse variables come from their last recorded
 * record (curves_recorded), since a live run's last record need not be full. */
static void snap_view(snap_t *s, const curves_t *c, int rec, int end)
{
    s->owned = 0;
    for (int k = 0; k < TV_N; k++) {
        int r = end ? curves_recorded(c, k, rec) : rec;
        s->v[k] = c->v[k] ? (double *)curves_run(c, k) + (size_t)r * curves_run_len(c, k) : NULL;
    }
}

/* The group variables the hypotheses read, each group's values averaged over a span of records [lo, hi),
 * and H4's statistic with its replicates: enough to recompute every hypothesis without any one group. */
static const int span_vars[] = {TV_NORM, TV_COS, TV_COS_LOCAL, TV_LENS, TV_GRAD0};
enum { N_SPAN = sizeof span_vars / sizeof *span_vars };

typedef struct {
    double *group[N_SPAN]; /* (G, run length of the variable) */
    double *rho, *rho_jk;  /* (L+1) rho_freq, (G, L+1) rho_freq_jk */
} span_t;

/* Mean over records [lo, hi) of v (records of n values, element e of each), skipping NaN. */
static double span_mean(const double *v, int lo, int hi, size_t n, size_t e) { return stats_mean(v + (size_t)lo * n + e, hi - lo, (int)n); }

/* With `end`, the span [lo, hi) is the end of training, and H4's values (sparse) come from their last
 * recorded record at or before lo, as in snap_view. */
static void span_make(span_t *sp, const curves_t *c, int lo, int hi, int end)
{
    size_t G = (size_t)c->G, D = (size_t)c->L + 1;
    for (int i = 0; i < N_SPAN; i++) {
        int k = span_vars[i];
        size_t per = G * curves_run_len(c, k);
        sp->group[i] = err_calloc(per, sizeof(double));
        for (size_t e = 0; e < per; e++) sp->group[i][e] = span_mean(c->v[k], lo, hi, per, e);
    }
    sp->rho = err_calloc(D, sizeof(double)), sp->rho_jk = err_calloc(G * D, sizeof(double));
    int r = end ? curves_recorded(c, TV_RHO_FREQ, lo) : lo, rj = end ? curves_recorded(c, TV_RHO_FREQ_JK, lo) : lo;
    for (size_t e = 0; e < D; e++) sp->rho[e] = span_mean(c->v[TV_RHO_FREQ], r, end ? r + 1 : hi, D, e);
    for (size_t e = 0; e < G * D; e++) sp->rho_jk[e] = span_mean(c->v[TV_RHO_FREQ_JK], rj, end ? rj + 1 : hi, G * D, e);
}

static void span_free(span_t *sp)
{
    for (int i = 0; i < N_SPAN; i++) free(sp->group[i]);
    free(sp->rho), free(sp->rho_jk);
}

/* The span's values over every group but `skip` (-1: all), each group weighted by its windows. */
static void span_snap(const span_t *sp, const curves_t *c, int skip, snap_t *s)
{
    memset(s, 0, sizeof *s);
    s->owned = 1;
    for (int i = 0; i < N_SPAN; i++) {
        size_t len = curves_run_len(c, span_vars[i]);
        double *v = s->v[span_vars[i]] = err_calloc(len, sizeof(double));
        for (size_t e = 0; e < len; e++) {
            double sum = 0, w = 0;
            for (int g = 0; g < c->G; g++) {
                double x = sp->group[i][(size_t)g * len + e], wg = c->group_windows[g];
                if (g != skip && wg > 0 && isfinite(x)) sum += wg * x, w += wg;
            }
            v[e] = w > 0 ? sum / w : NAN;
        }
    }
    size_t D = (size_t)c->L + 1;
    s->v[TV_RHO_FREQ] = err_calloc(D, sizeof(double));
    memcpy(s->v[TV_RHO_FREQ], skip < 0 ? sp->rho : sp->rho_jk + (size_t)skip * D, D * sizeof(double));
}

static void snap_free(snap_t *s)
{
    for (int k = 0; s->owned && k < TV_N; k++) free(s->v[k]);
}

static double row_mean(const snap_t *s, int k, int row, int T) { return stats_mean(s->v[k] + (size_t)row * T, T, 1); }

/* The inner signal `sig` of row l, NaN where the row has none (block signals past the last block). */
static double inner_value(const snap_t *s, const curves_t *c, int sig, int l)
{
    int L = c->L, block = l < L;
    switch (sig) {
    case IN_COS: return block ? s->v[TV_COS][l] : NAN;
    case IN_COS_LOCAL: return block ? s->v[TV_COS_LOCAL][l] : NAN;
    case IN_ETA: return block ? s->v[TV_ETA][l] : NAN;
    case IN_LENS: return s->v[TV_LENS][l];
    case IN_DROP: return block ? s->v[TV_LENS][l] - s->v[TV_LENS][l + 1] : NAN;
    case IN_SINK: return block ? s->v[TV_SINK][l] : NAN;
    case IN_ERANK: return s->v[TV_ERANK][l];
    }
    return NAN;
}

/* Spearman rho of row `row` of a (rows, n) array against its column index, over columns first..n-1. */
static double rho_index(const double *row, int n, int first, double *idx)
{
    for (int i = 0; i < n; i++) idx[i] = i;
    return n > first ? stats_spearman(idx + first, row + first, n - first) : NAN;
}

/* Median over blocks of variable k (a mean over the probe tokens per block). */
static double block_median(const snap_t *s, int k, const curves_t *c)
{
    double *v = err_calloc((size_t)c->L, sizeof *v);
    memcpy(v, s->v[k], (size_t)c->L * sizeof *v);
    double m = stats_median(v, c->L);
    free(v);
    return m;
}

static void hypotheses(const snap_t *s, const curves_t *c, double *idx, double out[H_N])
{
    int L = c->L, T = c->T;
    out[H1] = rho_index(s->v[TV_NORM] + (size_t)L * T, T, 1, idx);
    out[H2A] = block_median(s, TV_COS_LOCAL, c);
    out[H2B] = block_median(s, TV_COS, c);
    double rise = NAN, growth = NAN;
    for (int l = 0; l < L; l++) {
        double d = s->v[TV_LENS][l + 1] - s->v[TV_LENS][l];
        if (isfinite(d)) rise = isfinite(rise) ? fmax(rise, d) : d;
        double g = row_mean(s, TV_NORM, l + 1, T) / row_mean(s, TV_NORM, l, T);
        if (isfinite(g)) growth = isfinite(growth) ? fmin(growth, g) : g;
    }
    out[H2C] = rise;
    out[H3] = growth;
    out[H4] = s->v[TV_RHO_FREQ][L];
    out[H5] = rho_index(s->v[TV_GRAD0], T, 0, idx);
}

/* Every hypothesis over records [lo, hi), with its jackknife interval over the groups present. */
static void hyp_intervals(const curves_t *c, int lo, int hi, int end, double *idx, interval_t out[H_N])
{
    span_t sp;
    span_make(&sp, c, lo, hi, end);
    snap_t s;
    double est[H_N], h[H_N], *rep = err_calloc((size_t)H_N * c->G, sizeof *rep);
    span_snap(&sp, c, -1, &s);
    hypotheses(&s, c, idx, est);
    snap_free(&s);
    int m = 0;
    for (int g = 0; g < c->G; g++) {
        if (!(c->group_windows[g] > 0)) continue;
        span_snap(&sp, c, g, &s);
        hypotheses(&s, c, idx, h);
        snap_free(&s);
        for (int k = 0; k < H_N; k++) rep[(size_t)k * c->G + m] = h[k];
        m++;
    }
    for (int k = 0; k < H_N; k++) {
        out[k].est = est[k];
        stats_jackknife(est[k], rep + (size_t)k * c->G, m, &out[k].lo, &out[k].hi);
    }
    free(rep);
    span_free(&sp);
}

static void phase_bounds(const curves_t *c, int phase, int *lo, int *hi)
{
    double S = (double)c->step[c->n_rec - 1];
    *lo = c->n_rec, *hi = 0;
    for (int i = 0; i < c->n_rec; i++) {
        double s = (double)c->step[i];
        int in = phase == PH_EARLY ? 3 * s < S : phase == PH_MIDDLE ? 3 * s >= S && 3 * s < 2 * S : 3 * s >= 2 * S;
        if (in) *lo = i < *lo ? i : *lo, *hi = i + 1;
    }
}

void runstats_compute(runstats_t *r, const curves_t *c)
{
    int L = c->L, T = c->T, D = L + 1, nb = c->n_bucket, n = c->n_rec;
    memset(r, 0, sizeof *r);
    r->L = L;
    double **cols[] = {&r->rho_pos, &r->first_ratio, &r->mean_norm, &r->growth, &r->rho_freq, &r->rho_bucket, &r->spread};
    for (size_t i = 0; i < sizeof cols / sizeof *cols; i++) *cols[i] = err_calloc((size_t)D, sizeof **cols[i]);
    for (int k = 0; k < IN_N; k++)
        r->inner_end[k] = err_calloc((size_t)D, sizeof(double)), r->inner_slope[k] = err_calloc((size_t)D, sizeof(double));
    int nidx = T > nb ? T : nb;
    double *idx = err_calloc((size_t)(nidx > n ? nidx : n), sizeof *idx);

    snap_t end;
    snap_view(&end, c, n - 1, 1);
    for (int l = 0; l < D; l++) {
        const double *row = end.v[TV_NORM] + (size_t)l * T;
        r->rho_pos[l] = rho_index(row, T, 1, idx);
        r->first_ratio[l] = T > 1 ? row[0] / stats_mean(row + 1, T - 1, 1) : NAN;
        r->mean_norm[l] = stats_mean(row, T, 1);
        r->growth[l] = l ? r->mean_norm[l] / r->mean_norm[l - 1] : NAN;
        r->rho_freq[l] = end.v[TV_RHO_FREQ][l];
        r->rho_bucket[l] = rho_index(end.v[TV_NORM_BUCKET] + (size_t)l * nb, nb, 0, idx);
        r->spread[l] = c->norm_spread[(size_t)(n - 1) * D + l] / r->mean_norm[l];
        for (int k = 0; k < IN_N; k++) r->inner_end[k][l] = inner_value(&end, c, k, l);
    }
    interval_t h[H_N];
    hyp_intervals(c, n - 1, n, 1, idx, h);
    for (int k = 0; k < H_N; k++) r->hyp[k][PH_END] = h[k];
    for (int ph = PH_EARLY; ph < PH_N; ph++) {
        int lo, hi;
        phase_bounds(c, ph, &lo, &hi);
        for (int k = 0; k < H_N; k++) h[k] = (interval_t){NAN, NAN, NAN};
        if (lo < hi) hyp_intervals(c, lo, hi, 0, idx, h);
        for (int k = 0; k < H_N; k++) r->hyp[k][ph] = h[k];
    }

    /* trends: every row's inner signals at every record, against log10(step + 1) */
    double *y = err_calloc((size_t)IN_N * D * n, sizeof *y);
    for (int i = 0; i < n; i++) {
        snap_t s;
        snap_view(&s, c, i, 0);
        idx[i] = log10((double)c->step[i] + 1);
        for (int k = 0; k < IN_N; k++)
            for (int l = 0; l < D; l++) y[((size_t)k * D + l) * n + i] = inner_value(&s, c, k, l);
    }
    for (int k = 0; k < IN_N; k++)
        for (int l = 0; l < D; l++) r->inner_slope[k][l] = stats_slope(idx, y + ((size_t)k * D + l) * n, n);
    free(y);
    free(idx);
}

void runstats_free(runstats_t *r)
{
    free(r->rho_pos), free(r->first_ratio), free(r->mean_norm), free(r->growth), free(r->rho_freq), free(r->rho_bucket);
    free(r->spread);
    for (int k = 0; k < IN_N; k++) free(r->inner_end[k]), free(r->inner_slope[k]);
    memset(r, 0, sizeof *r);
}
