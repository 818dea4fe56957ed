#include "analysis/claims.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/afile.h"
#include "core/err.h"
#include "core/stats.h"

enum { RULE_NEG, RULE_GT_HALF, RULE_GT_ONE, RULE_SIGN };

static const struct {
    const char *id, *title, *statistic, *holds;
    int rule;
} hyp[H_N] = {
    [H1] = {"H1", "position: the representation norm falls with position",
            "Spearman ρ(t, N[L][t]) over positions t ≥ 1 at the last depth L, where N is S1 (the first-position "
            "ratio N[L][0] / mean over t > 0 is reported per depth in norms.csv)",
            "ρ < 0", RULE_NEG},
    [H2A] = {"H2a", "local inner descent: blocks step downhill on the token's own logit-lens loss",
             "share of blocks whose S3b cosine, averaged over positions, is positive", "share > 0.5", RULE_GT_HALF},
    [H2B] = {"H2b", "global inner descent: blocks step downhill on the training loss",
             "share of blocks whose S3 cosine, averaged over positions, is positive", "share > 0.5", RULE_GT_HALF},
    [H2C] = {"H2c", "the logit-lens loss falls monotonically with depth",
             "largest rise lens[l+1] − lens[l] over the depths l (S5)", "rise < 0, i.e. lens strictly decreasing",
             RULE_NEG},
    [H3] = {"H3", "depth growth: the mean norm grows with depth",
            "smallest ratio mean_t N[l+1][t] / mean_t N[l][t] over the depths l", "ratio > 1", RULE_GT_ONE},
    [H4] = {"H4", "frequency: the norm depends on token frequency with the same sign in every run",
            "Spearman ρ(log training count of the input token, |h^L_t|) over every probe token at the last depth",
            "the sign of ρ is the sign most runs have at the end of training", RULE_SIGN},
    [H5] = {"H5", "outer signal: the input gradient norm falls with position",
            "Spearman ρ(t, S7 |dL/dh^0_t|) over all positions", "ρ < 0", RULE_NEG},
};

static const char *const phase_name[PH_N] = {"end of training", "early (step < S/3)", "middle (S/3 ≤ step < 2S/3)",
                                             "late (step ≥ 2S/3)"};

/* 1 holds, 0 does not, -1 unknown */
static int holds(int rule, double v, int sign)
{
    if (!isfinite(v)) return -1;
    switch (rule) {
    case RULE_NEG: return v < 0;
    case RULE_GT_HALF: return v > 0.5;
    case RULE_GT_ONE: return v > 1;
    case RULE_SIGN: return sign && v * sign > 0;
    }
    return -1;
}

/* A group of runs: lo <= x <= hi (lo excluded when lo_open). */
typedef struct {
    char label[160];
    int var; /* 0 parameters, 1 n_layer, 2 d_model */
    double lo, hi;
    int lo_open;
} group_t;

static double group_var(const claim_run_t *r, int var) { return var == 0 ? r->n_params : var == 1 ? r->n_layer : r->d_model; }

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Each distinct value its own group when there are at most max_distinct, else tertiles. */
static int make_groups(const claim_run_t *runs, int n, int var, const char *name, int max_distinct, group_t *g)
{
    double *v = err_calloc((size_t)(n ? n : 1), sizeof *v);
    int m = 0, ng = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(group_var(&runs[i], var))) v[m++] = group_var(&runs[i], var);
    qsort(v, (size_t)m, sizeof *v, cmp_double);
    int distinct = 0;
    for (int i = 0; i < m; i++) distinct += !i || v[i] != v[i - 1];
    if (distinct <= max_distinct) {
        for (int i = 0; i < m; i++)
            if (!i || v[i] != v[i - 1]) {
                g[ng] = (group_t){.var = var, .lo = v[i], .hi = v[i]};
                snprintf(g[ng++].label, sizeof g->label, "%s = %.6g", name, v[i]);
            }
    } else {
        double q1 = v[(m - 1) / 3], q2 = v[2 * (m - 1) / 3];
        g[ng] = (group_t){.var = var, .lo = -INFINITY, .hi = q1};
        snprintf(g[ng++].label, sizeof g->label, "%s ≤ %.6g (smallest third)", name, q1);
        g[ng] = (group_t){.var = var, .lo = q1, .hi = q2, .lo_open = 1};
        snprintf(g[ng++].label, sizeof g->label, "%.6g < %s ≤ %.6g", q1, name, q2);
        g[ng] = (group_t){.var = var, .lo = q2, .hi = INFINITY, .lo_open = 1};
        snprintf(g[ng++].label, sizeof g->label, "%s > %.6g (largest third)", name, q2);
    }
    free(v);
    return ng;
}

static int in_group(const claim_run_t *r, const group_t *g)
{
    if (!g) return 1;
    double x = group_var(r, g->var);
    return (g->lo_open ? x > g->lo : x >= g->lo) && x <= g->hi;
}

typedef struct {
    int n, yes;
    double median;
} tally_t;

static tally_t tally(const claim_run_t *runs, int n, int h, int ph, const group_t *g, int sign, double *scratch)
{
    tally_t t = {0};
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (!in_group(&runs[i], g)) continue;
        int ok = holds(hyp[h].rule, runs[i].hyp[h][ph], sign);
        if (ok < 0) continue;
        t.n++, t.yes += ok;
        scratch[m++] = runs[i].hyp[h][ph];
    }
    t.median = stats_median(scratch, m);
    return t;
}

static void row(FILE *f, const char *label, tally_t t)
{
    if (!t.n) fprintf(f, "| %s | 0 | | | n/a |\n", label);
    else fprintf(f, "| %s | %d | %d | %.0f%% | %.3g |\n", label, t.n, t.yes, 100.0 * t.yes / t.n, t.median);
}

static int majority_sign(const claim_run_t *runs, int n)
{
    int pos = 0, neg = 0;
    for (int i = 0; i < n; i++) pos += runs[i].hyp[H4][PH_END] > 0, neg += runs[i].hyp[H4][PH_END] < 0;
    return pos > neg ? 1 : neg > pos ? -1 : 0;
}

static void verdict(FILE *f, int h, tally_t end, const tally_t *ph)
{
    if (!end.n) {
        fprintf(f, "**Verdict: %s is not testable here**: its signal was not recorded in any run.\n\n", hyp[h].id);
        return;
    }
    double share = (double)end.yes / end.n;
    const char *word = share >= 0.8 ? "is supported" : share >= 0.5 ? "is only partly supported (mixed)" : "FAILS";
    fprintf(f, "**Verdict: %s %s**: it holds in %d of %d runs (%.0f%%) at the end of training", hyp[h].id, word,
            end.yes, end.n, 100 * share);
    fprintf(f, "; over training the share goes");
    for (int p = PH_EARLY; p < PH_N; p++) {
        if (ph[p].n) fprintf(f, "%s %.0f%%", p == PH_EARLY ? "" : " →", 100.0 * ph[p].yes / ph[p].n);
        else fprintf(f, "%s n/a", p == PH_EARLY ? "" : " →");
    }
    fprintf(f, " (early → middle → late).\n\n");
}

int claims_write(const char *dir, const claim_run_t *runs, int n, int n_found, int n_skipped)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/claims.md", dir);
    afile_t af;
    if (afile_open(&af, path, AFILE_REPLACE)) return -1;
    FILE *f = af.f;
    group_t g[24];
    int ng = make_groups(runs, n, 0, "parameters", 4, g);
    ng += make_groups(runs, n, 1, "n_layer", 6, g + ng);
    ng += make_groups(runs, n, 2, "d_model", 6, g + ng);
    double *scratch = err_calloc((size_t)(n ? n : 1), sizeof *scratch);
    int sign = majority_sign(runs, n);

    fprintf(f, "# Claims: hypotheses H1–H5 of docs/science.md\n\n");
    fprintf(f, "%d runs with traces, of %d run directories found; %d inputs skipped (skipped.md). ", n, n_found,
            n_skipped);
    fprintf(f, "Each statistic is computed per run on the rank-merged trace at the last trace step S (\"end of "
               "training\"), and on the mean over the trace steps of each third of training for the progress rows. "
               "Verdicts use the share of runs where the statistic holds at the end of training: at least 80%% "
               "supported, 50–80%% mixed, below 50%% fails. Runs where a signal was not recorded are not counted.\n\n");
    for (int h = 0; h < H_N; h++) {
        tally_t end = tally(runs, n, h, PH_END, NULL, sign, scratch), ph[PH_N];
        for (int p = 0; p < PH_N; p++) ph[p] = tally(runs, n, h, p, NULL, sign, scratch);
        fprintf(f, "## %s %s\n\n", hyp[h].id, hyp[h].title);
        fprintf(f, "Statistic: %s. Holds in a run when %s", hyp[h].statistic, hyp[h].holds);
        if (hyp[h].rule == RULE_SIGN)
            fprintf(f, " (%s)", sign > 0 ? "positive" : sign < 0 ? "negative" : "no majority: no run holds");
        fprintf(f, ".\n\n");
        verdict(f, h, end, ph);
        fprintf(f, "| runs | n | holds | share | median statistic |\n|---|---|---|---|---|\n");
        row(f, "all, end of training", end);
        for (int i = 0; i < ng; i++) {
            char label[256];
            snprintf(label, sizeof label, "%.200s, end of training", g[i].label);
            row(f, label, tally(runs, n, h, PH_END, &g[i], sign, scratch));
        }
        for (int p = PH_EARLY; p < PH_N; p++) {
            char label[256];
            snprintf(label, sizeof label, "all, %s", phase_name[p]);
            row(f, label, ph[p]);
        }
        fputc('\n', f);
    }
    free(scratch);
    return afile_commit(&af);
}
