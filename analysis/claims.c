#include "analysis/claims.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/digits.h"
#include "analysis/table.h"
#include "core/atomicfile.h"
#include "core/bytes.h"
#include "core/err.h"
#include "core/stats.h"

/* Each hypothesis (runstats.h's table; docs/science.md gives the reasons). */
static const struct {
    const char *id, *title, *statistic, *symbol;
    double null, matters;
    int side;
} hyp[H_N] = {
#define ROW(constant, id, title, statistic, symbol, null, matters, side) \
    [constant] = {id, title, statistic, symbol, null, matters, side},
    RUNSTATS_HYPOTHESES(ROW)
#undef ROW
};

/* The predicted side of the null (">" or "<"), or of an effect that matters ("≥" or "≤"), and that effect. */
static const char *side_word(int h, int matters)
{
    return hyp[h].side > 0 ? (matters ? "≥" : ">") : (matters ? "≤" : "<");
}
static double threshold(int h) { return hyp[h].null + hyp[h].side * hyp[h].matters; }

void claims_hypotheses_markdown(FILE *f)
{
    fputs("| | statistic per run | predicted | null | an effect that matters |\n|---|---|---|---|---|\n", f);
    for (int h = 0; h < H_N; h++) {
        fprintf(f, "| %s | ", hyp[h].id);
        for (const char *p = hyp[h].statistic; *p; p++) fprintf(f, *p == '|' ? "\\|" : "%c", *p); /* in a cell */
        fprintf(f, " | %s %s %g | %g | %s %s %g |\n", hyp[h].symbol, side_word(h, 0), hyp[h].null, hyp[h].null,
                hyp[h].symbol, side_word(h, 1), threshold(h));
    }
}

static const char *const phase_name[PH_N] = {"end of training", "early (step < S/3)", "middle (S/3 ≤ step < 2S/3)",
                                             "late (step ≥ 2S/3)"};
static const char *const phase_key[PH_N] = {"end", "early", "middle", "late"};

enum { OUT_UNKNOWN, OUT_INCONCLUSIVE, OUT_HOLDS, OUT_CONTRADICTS };
static const char *const outcome_word[] = {"unknown", "inconclusive", "holds", "contradicts"};

enum { V_SUPPORTED, V_CONTRADICTED, V_MIXED, V_NOT_ENOUGH };
static const char *const verdict_word[] = {"supported", "contradicted", "mixed", "not enough evidence"};

enum { MIN_RUNS = 3 };

static int outcome(int h, interval_t v)
{
    if (!isfinite(v.est)) return OUT_UNKNOWN;
    if (!isfinite(v.lo) || !isfinite(v.hi)) return OUT_INCONCLUSIVE;
    /* the interval in the predicted orientation: positive means on the predicted side */
    double a = (v.lo - hyp[h].null) * hyp[h].side, b = (v.hi - hyp[h].null) * hyp[h].side;
    if (a > 0 && b > 0) return OUT_HOLDS;
    if (a < 0 && b < 0) return OUT_CONTRADICTS;
    return OUT_INCONCLUSIVE;
}

/* A set of runs, by index. */
typedef struct {
    int n;
    int *i;
} subset_t;

/* What a set of runs says about one hypothesis at one phase. */
typedef struct {
    int n, holds, contra, configs, seeded; /* runs with a statistic; configurations; those with >= 2 seeds */
    int models;                            /* every run a model trained elsewhere: models replicate, not seeds */
    double share, share_lo, share_hi;      /* share holding, Clopper-Pearson interval */
    double median, min, max;               /* of the statistic over the runs */
    int verdict;
    char why[320];
    char small[160]; /* a mixed verdict of runs that hold with an effect too small to matter: the effect, its
                      * range over the runs and the threshold, for the summary table's verdict cell */
} tally_t;

/* Whether the m-th run of a list (runs[idx[m]], or runs[m] when idx is NULL) is the first of its
 * configuration in it: each configuration is counted once, at its first run. With h >= 0 an earlier run
 * counts only where it knows h's statistic at phase ph. */
static int first_of_config(const claim_run_t *runs, const int *idx, int m, int h, int ph)
{
    const claim_run_t *r = &runs[idx ? idx[m] : m];
    for (int j = 0; j < m; j++) {
        const claim_run_t *e = &runs[idx ? idx[j] : j];
        if (e->config == r->config && (h < 0 || isfinite(e->hyp[h][ph].est))) return 0;
    }
    return 1;
}

static int seeds_of_config(const claim_run_t *runs, const subset_t *s, int h, int ph, int j)
{
    int k = 0;
    for (int m = 0; m < s->n; m++) {
        const claim_run_t *r = &runs[s->i[m]];
        k += r->config == runs[s->i[j]].config && isfinite(r->hyp[h][ph].est);
    }
    return k;
}

/* "model" when every run of the n is a model trained elsewhere (claims.h), else "run". */
static const char *unit_of(const claim_run_t *runs, int n)
{
    int models = n > 0;
    for (int i = 0; i < n; i++) models &= runs[i].source[0] != '\0';
    return models ? "model" : "run";
}

static void verdict(int h, tally_t *t)
{
    int inconc = t->n - t->holds - t->contra;
    double effect = (t->median - hyp[h].null) * hyp[h].side;
    const char *unit = t->models ? "model" : "run";
    if (t->n < MIN_RUNS) {
        t->verdict = V_NOT_ENOUGH;
        snprintf(t->why, sizeof t->why, "%d %s%s with the statistic; at least %d are needed", t->n, unit,
                 t->n == 1 ? "" : "s", MIN_RUNS);
    } else if (!t->seeded && !t->models) {
        t->verdict = V_NOT_ENOUGH;
        snprintf(t->why, sizeof t->why, "no configuration has two seeds, so seed-to-seed variation is unknown");
    } else if (2 * inconc > t->n) {
        t->verdict = V_NOT_ENOUGH;
        snprintf(t->why, sizeof t->why, "the intervals of %d of %d %ss contain the null %g", inconc, t->n, unit,
                 hyp[h].null);
    } else if (2 * t->holds > t->n && !t->contra && effect >= hyp[h].matters) {
        t->verdict = V_SUPPORTED;
        snprintf(t->why, sizeof t->why, "significant on the predicted side in %d of %d %ss, none the other way; the "
                 "median effect is past the %g that matters", t->holds, t->n, unit, hyp[h].matters);
    } else if (2 * t->contra > t->n && !t->holds) {
        t->verdict = V_CONTRADICTED;
        snprintf(t->why, sizeof t->why, "significant against the prediction in %d of %d %ss, none for it", t->contra,
                 t->n, unit);
    } else {
        t->verdict = V_MIXED;
        if (2 * t->holds > t->n && !t->contra) {
            /* the effect is the distance from the null on the predicted side; its range over the runs */
            double a = (t->min - hyp[h].null) * hyp[h].side, b = (t->max - hyp[h].null) * hyp[h].side;
            char e[96];
            digits_interval(e, sizeof e, effect, fmin(a, b), fmax(a, b), 0);
            snprintf(t->small, sizeof t->small, "effect %s is below the %g that matters", e, hyp[h].matters);
            snprintf(t->why, sizeof t->why, "%d of %d %ss hold and none contradicts, but the effect is too small to "
                     "matter: the median effect %s (range over the %ss) from the null is below the %g that matters",
                     t->holds, t->n, unit, e, unit, hyp[h].matters);
        } else
            snprintf(t->why, sizeof t->why, "%d of %d %ss hold, %d contradict, %d are inconclusive", t->holds, t->n,
                     unit, t->contra, inconc);
    }
}

static tally_t tally(const claim_run_t *runs, const subset_t *s, int h, int ph)
{
    tally_t t = {0};
    double *v = err_calloc((size_t)s->n + 1, sizeof *v);
    t.models = s->n > 0;
    for (int m = 0; m < s->n; m++) t.models &= runs[s->i[m]].source[0] != '\0';
    for (int m = 0; m < s->n; m++) {
        int o = outcome(h, runs[s->i[m]].hyp[h][ph]);
        if (o == OUT_UNKNOWN) continue;
        v[t.n++] = runs[s->i[m]].hyp[h][ph].est;
        t.holds += o == OUT_HOLDS, t.contra += o == OUT_CONTRADICTS;
        if (first_of_config(runs, s->i, m, h, ph)) t.configs++, t.seeded += seeds_of_config(runs, s, h, ph, m) >= 2;
    }
    t.median = stats_range(v, t.n, &t.min, &t.max);
    free(v);
    t.share = t.n ? (double)t.holds / t.n : NAN;
    stats_binomial_ci(t.holds, t.n, &t.share_lo, &t.share_hi);
    verdict(h, &t);
    return t;
}

void claims_run(claim_run_t *cl, const run_row_t *row, const runstats_t *st)
{
    memset(cl, 0, sizeof *cl);
    snprintf(cl->name, sizeof cl->name, "%s", row->name);
    cl->n_params = row->param[TP_N_PARAMS].d, cl->n_layer = row->param[TP_N_LAYER].d;
    cl->d_model = row->param[TP_D_MODEL].d, cl->seq_len = row->param[TP_SEQ_LEN].d, cl->seed = row->param[TP_SEED].d;
    cl->steps = row->steps, cl->tokens = row->tokens, cl->val_loss = row->val_loss, cl->baseline = row->baseline;
    cl->tokenizer = isfinite(row->param[TP_TOKENIZER].d) ? (int)row->param[TP_TOKENIZER].i : TRACE_TOK_UNKNOWN;
    cl->vocab = row->param[TP_VOCAB_SIZE].d;
    /* the experiment apart from its seed: the rank layout does not change it (docs/formats.md) */
    trace_value_t key[TP_N];
    memcpy(key, row->param, sizeof key);
    const int ignored[] = {TP_SEED, TP_WORLD_SIZE, TP_MICRO_BATCH};
    for (size_t i = 0; i < sizeof ignored / sizeof *ignored; i++) key[ignored[i]] = (trace_value_t){0, 0};
    for (int k = 0; k < TP_N; k++)
        if (isnan(key[k].d)) key[k].d = 0; /* two unknowns must hash alike, whatever their NaN's bits */
    cl->config = bytes_fnv1a64(BYTES_FNV64_INIT, key, sizeof key);
    /* models trained elsewhere are never seeds of one configuration, even of one shape */
    snprintf(cl->source, sizeof cl->source, "%s", row->source ? row->source : "");
    if (cl->source[0]) cl->config = bytes_fnv1a64(cl->config, cl->source, strlen(cl->source));
    memcpy(cl->hyp, st->hyp, sizeof cl->hyp);
}

/* ---- splits: the runs grouped by a sweep parameter, when it varies on its own ---- */

enum { VAR_PARAMS, VAR_LAYERS, VAR_WIDTH, N_VARS };
static const char *const var_name[N_VARS] = {"parameters", "n_layer", "d_model"};

static double var_of(const claim_run_t *r, int var)
{
    return var == VAR_PARAMS ? r->n_params : var == VAR_LAYERS ? r->n_layer : r->d_model;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The distinct finite values of var, sorted; returns how many. */
static int distinct(const claim_run_t *runs, int n, int var, double *out)
{
    int m = 0, d = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(var_of(&runs[i], var))) out[m++] = var_of(&runs[i], var);
    qsort(out, (size_t)m, sizeof *out, cmp_double);
    for (int i = 0; i < m; i++)
        if (!d || out[i] != out[d - 1]) out[d++] = out[i];
    return d;
}

/* Whether the runs' finite values of var differ. */
static int varies(const claim_run_t *runs, int n, int var)
{
    for (int i = 0, first = -1; i < n; i++) {
        if (!isfinite(var_of(&runs[i], var))) continue;
        if (first < 0) first = i;
        else if (var_of(&runs[i], var) != var_of(&runs[first], var)) return 1;
    }
    return 0;
}

/* Whether var splits the runs differently from the parameter count: otherwise its split repeats the size's. */
static int independent(const claim_run_t *runs, int n, int var)
{
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if ((var_of(&runs[i], var) == var_of(&runs[j], var)) != (runs[i].n_params == runs[j].n_params)) return 1;
    return 0;
}

/* ---- output ---- */

typedef struct {
    FILE *md, *csv;
    const claim_run_t *tok; /* a run of the tokenizer the rows are about */
} out_t;

static void csv_row(const out_t *o, int h, const char *split, const char *group, double est, double lo, double hi, int n,
                    double share, double share_lo, double share_hi, const char *verdict_text)
{
    table_csv_str(o->csv, hyp[h].id);
    fputc(',', o->csv);
    table_csv_str(o->csv, trace_tokenizer_name(o->tok->tokenizer));
    fputc(',', o->csv);
    table_csv_num(o->csv, o->tok->vocab);
    const char *const text[] = {split, group, hyp[h].statistic};
    for (int k = 0; k < 3; k++) {
        fputc(',', o->csv);
        table_csv_str(o->csv, text[k]);
    }
    const double v[] = {est, lo, hi, n, share, share_lo, share_hi};
    for (int k = 0; k < 7; k++) {
        fputc(',', o->csv);
        table_csv_num(o->csv, v[k]);
    }
    fputc(',', o->csv);
    table_csv_str(o->csv, verdict_text);
    fputc('\n', o->csv);
}

static void fmt_interval(char *buf, size_t n, interval_t v)
{
    if (!isfinite(v.est)) snprintf(buf, n, "n/a");
    else if (!isfinite(v.lo)) snprintf(buf, n, "%.3g [no interval]", v.est);
    else digits_interval(buf, n, v.est, v.lo, v.hi, 0);
}

/* One table row and one CSV row (group `group`) of a tally. */
static void tally_row(const out_t *o, int h, const char *split, const char *label, const char *group, const tally_t *t)
{
    if (!t->n) {
        fprintf(o->md, "| %s | 0 | | | | n/a | %s |\n", label, verdict_word[t->verdict]);
    } else {
        char range[96];
        digits_interval(range, sizeof range, t->median, t->min, t->max, 0);
        fprintf(o->md, "| %s | %d | %d | %d | %.0f%% [%.0f%%, %.0f%%] | %s | %s |\n", label, t->n, t->holds, t->contra,
                100 * t->share, 100 * t->share_lo, 100 * t->share_hi, range, verdict_word[t->verdict]);
    }
    csv_row(o, h, split, group, t->median, t->min, t->max, t->n, t->share, t->share_lo, t->share_hi,
            verdict_word[t->verdict]);
}

static const char *const tally_head = "| runs | n | hold | contradict | share holding [95% CI] | median statistic [range] "
                                      "| verdict |\n|---|---|---|---|---|---|---|\n";

/* The slope of the statistic against x over the runs, with its interval, as a sentence and a CSV row. */
static void trend(const out_t *o, const claim_run_t *runs, int n, int h, const char *what, const char *unit,
                  double (*x_of)(const claim_run_t *))
{
    double *x = err_calloc((size_t)n + 1, sizeof *x), *y = err_calloc((size_t)n + 1, sizeof *y), slope, lo, hi;
    for (int i = 0; i < n; i++) x[i] = x_of(&runs[i]), y[i] = runs[i].hyp[h][PH_END].est;
    int m = stats_fit(x, y, n, &slope, &lo, &hi);
    int p = digits_needed(slope, lo, hi);
    if (isfinite(lo))
        fprintf(o->md, "- with %s: %+.*g per %s [%.*g, %.*g] (least-squares slope over %d runs, 95%% t interval)%s\n",
                what, p, slope, unit, p, lo, p, hi, m, lo > 0 || hi < 0 ? "" : "; no trend can be told from zero");
    else
        fprintf(o->md, "- with %s: too few runs or values for a slope with an interval\n", what);
    csv_row(o, h, "trend", what, slope, lo, hi, m, NAN, NAN, NAN, "");
    free(x), free(y);
}

static double log_params(const claim_run_t *r) { return r->n_params > 0 ? log10(r->n_params) : NAN; }
static double layers(const claim_run_t *r) { return r->n_layer; }
static double width(const claim_run_t *r) { return r->d_model; }

/* Rows of the runs grouped by var: each value its own row when there are at most 6, else thirds. */
static void split_rows(const out_t *o, const claim_run_t *runs, int n, int h, int var)
{
    double *vals = err_calloc((size_t)n + 1, sizeof *vals);
    int d = distinct(runs, n, var, vals);
    subset_t s = {0, err_calloc((size_t)n + 1, sizeof(int))};
    int groups = d <= 6 ? d : 3;
    for (int g = 0; g < groups; g++) {
        double lo = d <= 6 ? vals[g] : vals[g * d / 3], hi = d <= 6 ? vals[g] : vals[(g + 1) * d / 3 - 1];
        s.n = 0;
        for (int i = 0; i < n; i++)
            if (var_of(&runs[i], var) >= lo && var_of(&runs[i], var) <= hi) s.i[s.n++] = i;
        char label[128];
        if (lo == hi) snprintf(label, sizeof label, "%s = %.6g", var_name[var], lo);
        else snprintf(label, sizeof label, "%.6g ≤ %s ≤ %.6g", lo, var_name[var], hi);
        tally_t t = tally(runs, &s, h, PH_END);
        tally_row(o, h, var_name[var], label, label, &t);
    }
    free(s.i);
    free(vals);
}

/* Mean over configurations with two or more seeds of the range of the statistic over their seeds. */
static double seed_spread(const claim_run_t *runs, int n, int h, int *configs)
{
    double sum = 0;
    *configs = 0;
    for (int i = 0; i < n; i++) {
        if (!first_of_config(runs, NULL, i, -1, 0)) continue;
        int k = 0;
        double lo = INFINITY, hi = -INFINITY;
        for (int j = 0; j < n; j++)
            if (runs[j].config == runs[i].config && isfinite(runs[j].hyp[h][PH_END].est)) {
                lo = fmin(lo, runs[j].hyp[h][PH_END].est), hi = fmax(hi, runs[j].hyp[h][PH_END].est), k++;
            }
        if (k >= 2) sum += hi - lo, (*configs)++;
    }
    return *configs ? sum / *configs : NAN;
}

/* What the runs (all of one tokenizer) say about h: the verdict, each run, the trends and the phases. */
static void section(const out_t *o, const claim_run_t *runs, int n, int h, const subset_t *all)
{
    tally_t end = tally(runs, all, h, PH_END);
    const char *unit = unit_of(runs, n);
    int models = !strcmp(unit, "model");
    fprintf(o->md, "**Verdict: %s** (%s). ", verdict_word[end.verdict], end.why);
    int p = digits_needed(end.median, end.min, end.max);
    if (end.n)
        fprintf(o->md, "Holds in %d of %d %ss, %.0f%% [95%% CI %.0f%%, %.0f%%]; median %s %.*g, range %.*g to %.*g.",
                end.holds, end.n, unit, 100 * end.share, 100 * end.share_lo, 100 * end.share_hi, hyp[h].symbol, p,
                end.median, p, end.min, p, end.max);
    int configs;
    double spread = seed_spread(runs, n, h, &configs);
    if (configs)
        fprintf(o->md, " Seeds of one configuration differ by %.3g on average (%d configuration%s).", spread, configs,
                configs == 1 ? "" : "s");
    fprintf(o->md, "\n\n");
    csv_row(o, h, "all", phase_name[PH_END], end.median, end.min, end.max, end.n, end.share, end.share_lo, end.share_hi,
            verdict_word[end.verdict]);

    fprintf(o->md, "Per %s, %s (95%% jackknife interval over the probe groups):\n\n", unit,
            models ? "as trained elsewhere" : "at the end of training");
    fprintf(o->md, "| %s | parameters | %s | %s [95%% CI] | outcome |\n|---|---|---|---|---|\n", unit,
            models ? "weights from" : "seed", hyp[h].symbol);
    for (int i = 0; i < n; i++) {
        char iv[96], seed[64];
        interval_t v = runs[i].hyp[h][PH_END];
        fmt_interval(iv, sizeof iv, v);
        /* a model trained elsewhere has no seed: the format its weights came in (the source's first word) */
        if (runs[i].source[0]) snprintf(seed, sizeof seed, "%.*s", (int)strcspn(runs[i].source, " "), runs[i].source);
        else snprintf(seed, sizeof seed, "%.0f", runs[i].seed);
        fprintf(o->md, "| %s | %.3gM | %s | %s | %s |\n", runs[i].name, runs[i].n_params / 1e6, seed, iv,
                outcome_word[outcome(h, v)]);
        csv_row(o, h, "run", runs[i].name, v.est, v.lo, v.hi, 1, NAN, NAN, NAN, outcome_word[outcome(h, v)]);
    }
    fputc('\n', o->md);

    int size_varies = varies(runs, n, VAR_PARAMS);
    if (size_varies || independent(runs, n, VAR_LAYERS) || independent(runs, n, VAR_WIDTH)) {
        fprintf(o->md, "Trends at the end of training:\n\n");
        if (size_varies) trend(o, runs, n, h, "model size", "tenfold parameters", log_params);
        if (independent(runs, n, VAR_LAYERS)) trend(o, runs, n, h, "depth", "block", layers);
        if (independent(runs, n, VAR_WIDTH)) trend(o, runs, n, h, "width", "unit of d_model", width);
        fputc('\n', o->md);
        fputs(tally_head, o->md);
        for (int var = 0; var < N_VARS; var++)
            if (var == VAR_PARAMS ? size_varies : independent(runs, n, var)) split_rows(o, runs, n, h, var);
        fputc('\n', o->md);
    }

    fprintf(o->md, "Over training (each third's statistic on the mean of its trace steps):\n\n");
    fputs(tally_head, o->md);
    for (int p = PH_EARLY; p < PH_N; p++) {
        tally_t t = tally(runs, all, h, p);
        tally_row(o, h, "phase", phase_name[p], phase_key[p], &t);
    }
    double *d = err_calloc((size_t)n + 1, sizeof *d), mean, lo, hi;
    for (int i = 0; i < n; i++) d[i] = runs[i].hyp[h][PH_LATE].est - runs[i].hyp[h][PH_EARLY].est;
    int m = stats_mean_ci(d, n, &mean, &lo, &hi);
    free(d);
    char change[96];
    digits_interval(change, sizeof change, mean, lo, hi, 1);
    if (isfinite(lo))
        fprintf(o->md, "\nChange from early to late training: %s (mean over %d runs, 95%% t interval).\n\n", change, m);
    else
        fprintf(o->md, "\nChange from early to late training: too few runs for an interval.\n\n");
    csv_row(o, h, "change", "late - early", mean, lo, hi, m, NAN, NAN, NAN, "");
}

/* Smallest and largest finite value of a field over the runs. */
static void field_range(const claim_run_t *runs, int n, size_t off, double *lo, double *hi)
{
    *lo = INFINITY, *hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        double v = *(const double *)((const char *)&runs[i] + off);
        if (isfinite(v)) *lo = fmin(*lo, v), *hi = fmax(*hi, v);
    }
    if (*lo > *hi) *lo = *hi = NAN;
}

static void range_text(char *buf, size_t n, double lo, double hi, double scale, const char *unit)
{
    if (!isfinite(lo)) snprintf(buf, n, "unknown");
    else if (lo == hi) snprintf(buf, n, "%.3g%s", lo / scale, unit);
    else snprintf(buf, n, "%.3g%s–%.3g%s", lo / scale, unit, hi / scale, unit);
}

/* ---- tokenizers: the runs of each are judged apart ---- */

typedef struct {
    claim_run_t *runs; /* copies of the tokenizer's runs, in their order */
    subset_t all;
    char label[64];
    double lo, hi;     /* parameters */
} tokset_t;

static int same_tokenizer(const claim_run_t *a, const claim_run_t *b)
{
    return a->tokenizer == b->tokenizer && (a->vocab == b->vocab || (isnan(a->vocab) && isnan(b->vocab)));
}

/* Known kinds by kind, the unknown last; then by vocabulary. */
static int cmp_tokenizer(const void *x, const void *y)
{
    const claim_run_t *a = *(const claim_run_t *const *)x, *b = *(const claim_run_t *const *)y;
    int ka = a->tokenizer ? a->tokenizer : TRACE_TOK_N, kb = b->tokenizer ? b->tokenizer : TRACE_TOK_N;
    if (ka != kb) return (ka > kb) - (ka < kb);
    return cmp_double(&a->vocab, &b->vocab);
}

/* The runs grouped by tokenizer into *out; returns the number of tokenizers. */
static int tokenizer_sets(const claim_run_t *runs, int n, tokset_t **out)
{
    const claim_run_t **first = err_calloc((size_t)n + 1, sizeof *first);
    int k = 0;
    for (int i = 0; i < n; i++) {
        int seen = 0;
        for (int j = 0; j < k && !seen; j++) seen = same_tokenizer(first[j], &runs[i]);
        if (!seen) first[k++] = &runs[i];
    }
    qsort(first, (size_t)k, sizeof *first, cmp_tokenizer);
    tokset_t *t = *out = err_calloc((size_t)k + 1, sizeof *t);
    for (int j = 0; j < k; j++) {
        t[j].runs = err_calloc((size_t)n, sizeof *t[j].runs);
        t[j].all.i = err_calloc((size_t)n, sizeof(int));
        for (int i = 0; i < n; i++)
            if (same_tokenizer(first[j], &runs[i])) t[j].all.i[t[j].all.n] = t[j].all.n, t[j].runs[t[j].all.n++] = runs[i];
        snprintf(t[j].label, sizeof t[j].label, "%s%s, V = %.0f", trace_tokenizer_name(first[j]->tokenizer),
                 first[j]->tokenizer ? "" : " tokenizer", first[j]->vocab);
        field_range(t[j].runs, t[j].all.n, offsetof(claim_run_t, n_params), &t[j].lo, &t[j].hi);
    }
    free(first);
    return k;
}

static void tokenizer_sets_free(tokset_t *t, int k)
{
    for (int j = 0; j < k; j++) free(t[j].runs), free(t[j].all.i);
    free(t);
}

/* The verdicts of the tokenizers side by side, and what differs between them. */
static void side_by_side(const out_t *o, const tokset_t *t, int k)
{
    fputs("| hypothesis | predicted |", o->md);
    for (int j = 0; j < k; j++) fprintf(o->md, " %s |", t[j].label);
    fputs("\n|---|---|", o->md);
    for (int j = 0; j < k; j++) fputs("---|", o->md);
    fputs("\n| runs, parameters | |", o->md);
    for (int j = 0; j < k; j++) {
        char params[64];
        range_text(params, sizeof params, t[j].lo, t[j].hi, 1e6, "M");
        fprintf(o->md, " %d run%s, %s |", t[j].all.n, t[j].all.n == 1 ? "" : "s", params);
    }
    fputc('\n', o->md);
    char ids[3][128] = {"", "", ""}; /* the hypotheses of the same verdict, of another verdict, of opposite signs */
    for (int h = 0; h < H_N; h++) {
        fprintf(o->md, "| %s | %s %s %g |", hyp[h].id, hyp[h].symbol, side_word(h, 0), hyp[h].null);
        int verdicts_differ = 0, above = 0, below = 0;
        tally_t first = {0};
        for (int j = 0; j < k; j++) {
            tally_t v = tally(t[j].runs, &t[j].all, h, PH_END);
            if (!j) first = v;
            verdicts_differ |= v.verdict != first.verdict;
            above += v.n && v.median > hyp[h].null, below += v.n && v.median < hyp[h].null;
            char range[96];
            digits_interval(range, sizeof range, v.median, v.min, v.max, 0);
            if (v.n)
                fprintf(o->md, " %s: %s %s, %d of %d hold, %d contradict |", verdict_word[v.verdict], hyp[h].symbol,
                        range, v.holds, v.n, v.contra);
            else
                fprintf(o->md, " %s: n/a |", verdict_word[v.verdict]);
        }
        fputc('\n', o->md);
        for (int l = 0; l < 3; l++) {
            size_t len = strlen(ids[l]);
            if (l == 2 ? above && below : l == verdicts_differ)
                snprintf(ids[l] + len, sizeof ids[l] - len, "%s%s", len ? ", " : "", hyp[h].id);
        }
    }
    fprintf(o->md, "\nEach cell: the verdict over that tokenizer's runs alone, the median statistic [range over its "
                   "runs], and its runs holding and contradicting. Same verdict under every tokenizer: %s. Verdict "
                   "differs: %s. Median statistic on opposite sides of the null under two tokenizers: %s.\n\n",
            ids[0][0] ? ids[0] : "none", ids[1][0] ? ids[1] : "none", ids[2][0] ? ids[2] : "none");
}

/* The runs whose final validation loss is above the add-one unigram baseline of their validation shard: they
 * have not learned even the tokens' frequencies, and their statistics describe a model that has not learned. */
static void baseline_warning(FILE *f, const claim_run_t *runs, int n)
{
    int worse = 0;
    for (int i = 0; i < n; i++) worse += runs[i].val_loss > runs[i].baseline; /* false when either is NaN */
    if (!worse) return;
    fprintf(f, "- **Warning: %d run%s did worse than the unigram baseline** (final validation loss against the "
               "baseline, nats/token):", worse, worse == 1 ? "" : "s");
    for (int i = 0, k = 0; i < n; i++)
        if (runs[i].val_loss > runs[i].baseline) {
            int p = digits_needed(runs[i].val_loss, runs[i].baseline, NAN);
            fprintf(f, "%s %s %.*g against %.*g", k++ ? ";" : "", runs[i].name, p, runs[i].val_loss, p, runs[i].baseline);
        }
    fprintf(f, ". Such a run has not learned even the frequencies of the tokens: its statistics below describe an "
               "untrained model, not the hypotheses' mechanism. Train it longer before reading its verdicts.\n");
}

/* The scale the verdicts rest on, and what it cannot support. */
static void context(FILE *f, const claim_run_t *runs, int n, int n_found, int n_skipped, const tokset_t *t, int k)
{
    double lo, hi;
    char params[64], layers_t[64], width_t[64], T[64], steps[64], tokens[64], val[64], base[64];
#define RANGE(field, buf, scale, unit)                                                                                \
    field_range(runs, n, offsetof(claim_run_t, field), &lo, &hi), range_text(buf, sizeof buf, lo, hi, scale, unit)
    RANGE(n_params, params, 1e6, "M");
    RANGE(n_layer, layers_t, 1, "");
    RANGE(d_model, width_t, 1, "");
    RANGE(seq_len, T, 1, "");
    RANGE(steps, steps, 1, "");
    RANGE(tokens, tokens, 1e6, "M");
    RANGE(val_loss, val, 1, "");
    RANGE(baseline, base, 1, "");
#undef RANGE
    int configs = 0, most = 0, least = n;
    for (int i = 0; i < n; i++) {
        if (!first_of_config(runs, NULL, i, -1, 0)) continue;
        int k = 0;
        for (int j = 0; j < n; j++) k += runs[j].config == runs[i].config;
        configs++, most = k > most ? k : most, least = k < least ? k : least;
    }
    fprintf(f, "## Context\n\n");
    int models = !strcmp(unit_of(runs, n), "model"), elsewhere = 0;
    char seeds[96];
    if (models) snprintf(seeds, sizeof seeds, "no seeds: the unit of replication is the model");
    else if (least == most) snprintf(seeds, sizeof seeds, "%d seed%s each", most, most == 1 ? "" : "s");
    else snprintf(seeds, sizeof seeds, "%d to %d seeds each", n ? least : 0, most);
    fprintf(f, "- Runs: %d with traces, of %d run directories found (%d inputs skipped, skipped.md); %d "
               "configuration%s, %s.\n", n, n_found, n_skipped, configs, configs == 1 ? "" : "s", seeds);
    fprintf(f, "- Models: %s parameters, n_layer %s, d_model %s, context T = %s.\n", params, layers_t, width_t, T);
    if (!models) fprintf(f, "- Training: %s optimizer steps, %s tokens per run.\n", steps, tokens);
    for (int i = 0; i < n; i++)
        if (runs[i].source[0])
            fprintf(f, "%s %s (%s)", elsewhere++ ? ";" : "- Trained elsewhere, on other data, and only measured here "
                                                        "(il-probe); their weights came from:",
                    runs[i].name, runs[i].source);
    if (elsewhere) fputs(".\n", f);
    if (k) {
        fprintf(f, "- Tokenizer%s:", k == 1 ? "" : "s, each judged apart (a statistic over tokens measures other "
                                                   "objects under another tokenizer)");
        for (int j = 0; j < k; j++)
            fprintf(f, "%s %s (%d run%s)", j ? ";" : "", t[j].label, t[j].all.n, t[j].all.n == 1 ? "" : "s");
        fprintf(f, ".%s\n", t[k - 1].runs[0].tokenizer ? "" /* the unknown sorts last */
                            : " An unknown tokenizer is that of traces written before innerloop recorded it (trace "
                              "schema 3), or of a training shard without tokenizer.bin beside it.");
    }
    if (isfinite(lo))
        fprintf(f, "- Final validation loss %s nats/token, against %s for the add-one unigram baseline of the same "
                   "validation shard.\n", val, base);
    else
        fprintf(f, "- Final validation loss %s nats/token; the unigram baseline is unknown (the validation shard or its "
                   "counts are not at the paths of the runs' configs).\n", val);
    baseline_warning(f, runs, n);
    if (models)
        fprintf(f, "- Scale: these are models of %s parameters at T = %s, trained elsewhere on data innerloop did not "
                   "see. The verdicts are evidence about these models as measured on this probe set; they cannot say "
                   "how training made them, nor whether the same holds for models of other sizes.\n\n", params, T);
    else
        fprintf(f, "- Scale: these are models of %s parameters that saw %s tokens each at T = %s. The verdicts are "
                   "evidence about such small, briefly trained models on this corpus; they cannot say whether the same "
                   "holds for models of billions of parameters, longer contexts, longer training or other data.\n\n",
                params, tokens, T);
}

int claims_write(const char *dir, const claim_run_t *runs, int n, int n_found, int n_skipped)
{
    char path[4200];
    atomicfile_t md, csv;
    snprintf(path, sizeof path, "%s/claims.md", dir);
    CALL(atomicfile_open(&md, path, ATOMICFILE_REPLACE));
    snprintf(path, sizeof path, "%s/claims.csv", dir);
    if (atomicfile_open(&csv, path, ATOMICFILE_REPLACE)) {
        atomicfile_abort(&md);
        return -1;
    }
    tokset_t *t;
    int k = tokenizer_sets(runs, n, &t);
    out_t o = {md.f, csv.f, k ? &t[0].runs[0] : &(claim_run_t){.vocab = NAN}};

    fprintf(o.csv, "hypothesis,tokenizer,vocab_size,split,group,statistic,estimate,low,high,n,share,share_low,"
                   "share_high,verdict\n");
    fprintf(o.md, "# Claims: hypotheses H1–H5 of docs/science.md\n\n");
    context(o.md, runs, n, n_found, n_skipped, t, k);
    fprintf(o.md, "## How to read this\n\n"
                  "Each run's statistic is computed on its merged trace at the last trace step S (\"end of training\"), "
                  "with a 95%% interval from the delete-one jackknife over its probe groups. A run *holds* when the "
                  "interval lies on the predicted side of the null, *contradicts* when it lies on the other side, and "
                  "is *inconclusive* when it contains the null. Over runs: the share holding with its Clopper–Pearson "
                  "95%% interval, and the median statistic with its range. Verdicts (docs/science.md): *supported* — "
                  "most runs hold, none contradicts, and the median effect is at least the effect that matters; "
                  "*contradicted* — most runs contradict and none holds; *not enough evidence* — fewer than %d runs, no "
                  "configuration with two seeds, or most intervals contain the null; *mixed* — anything else. claims.csv "
                  "holds every number below in long format, with the tokenizer of each row (for groups of runs, "
                  "estimate is the median and low–high the range over the runs).\n\n", MIN_RUNS);
    for (int i = 0; i < n; i++)
        if (runs[i].source[0]) {
            fprintf(o.md, "Models trained elsewhere have no seeds: where every run is such a model, the model is the "
                          "unit of replication (\"holds in 2 of 3 models\"), and %d models stand where a configuration "
                          "with two seeds is otherwise needed.\n\n", MIN_RUNS);
            break;
        }
    if (k > 1) {
        side_by_side(&o, t, k);
    } else {
        fprintf(o.md, "| hypothesis | predicted | verdict | hold / contradict / of n | share holding [95%% CI] | median "
                      "[range] |\n|---|---|---|---|---|---|\n");
        subset_t all = {n, err_calloc((size_t)n + 1, sizeof(int))};
        for (int i = 0; i < n; i++) all.i[i] = i;
        for (int h = 0; h < H_N; h++) {
            tally_t v = tally(runs, &all, h, PH_END);
            fprintf(o.md, "| %s | %s %s %g | %s%s%s | %d / %d / %d |", hyp[h].id, hyp[h].symbol, side_word(h, 0),
                    hyp[h].null, verdict_word[v.verdict], v.small[0] ? ": " : "", v.small, v.holds, v.contra, v.n);
            char range[96];
            digits_interval(range, sizeof range, v.median, v.min, v.max, 0);
            if (v.n) fprintf(o.md, " %.0f%% [%.0f%%, %.0f%%] | %s |\n", 100 * v.share, 100 * v.share_lo, 100 * v.share_hi,
                             range);
            else fprintf(o.md, " n/a | n/a |\n");
        }
        fputc('\n', o.md);
        free(all.i);
    }
    for (int h = 0; h < H_N; h++) {
        fprintf(o.md, "## %s %s\n\n", hyp[h].id, hyp[h].title);
        fprintf(o.md, "Statistic: %s. Predicted: %s %s %g. An effect that matters: %s %s %g.\n\n", hyp[h].statistic,
                hyp[h].symbol, side_word(h, 0), hyp[h].null, hyp[h].symbol, side_word(h, 1), threshold(h));
        if (!n) section(&o, runs, 0, h, &(subset_t){0, NULL});
        for (int j = 0; j < k; j++) {
            char params[64];
            range_text(params, sizeof params, t[j].lo, t[j].hi, 1e6, "M");
            if (k > 1)
                fprintf(o.md, "### %s: %s (%d run%s, %s parameters)\n\n", hyp[h].id, t[j].label, t[j].all.n,
                        t[j].all.n == 1 ? "" : "s", params);
            o.tok = &t[j].runs[0];
            section(&o, t[j].runs, t[j].all.n, h, &t[j].all);
        }
    }
    tokenizer_sets_free(t, k);
    if (atomicfile_commit(&md)) {
        atomicfile_abort(&csv);
        return -1;
    }
    return atomicfile_commit(&csv);
}
