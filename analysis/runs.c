#include "analysis/runs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "data/shard.h"
#include "model/gpt.h"
#include "trace/params.h"
#include "core/stats.h"
#include "analysis/table.h"

static void set(trace_value_t *v, double x)
{
    v->d = x;
    v->i = isfinite(x) ? (int64_t)x : 0;
}

/* The parameters of a run known only from its config.ini: the vocabulary (and so the parameter count) is
 * unknown when the config takes it from the data, and so is the tokenizer. */
static void params_from_config(trace_value_t *p, const config_t *c)
{
    const gpt_dims_t d = gpt_dims_of(c);
    tracer_params(p, c, &d, 0, TRACE_TOK_UNKNOWN);
    p[TP_WORLD_SIZE].d = NAN;
    if (!c->vocab_size) p[TP_VOCAB_SIZE].d = p[TP_N_PARAMS].d = NAN;
}

/* The add-one unigram baseline of a validation shard (shard_unigram_loss), or -1 with err_set(). The runs of
 * a sweep share their data, and the baseline reads the counts and the whole shard, checksums included: the
 * last answer is kept, so a sweep reads them once per rank instead of once per run. */
static int unigram_baseline(const char *counts, const char *val, double *loss)
{
    static struct {
        char counts[4200], val[4200], why[1024];
        int rc;
        double loss;
    } last = {.rc = 1};
    if (last.rc > 0 || strcmp(last.counts, counts) || strcmp(last.val, val)) {
        uint64_t n;
        snprintf(last.counts, sizeof last.counts, "%s", counts);
        snprintf(last.val, sizeof last.val, "%s", val);
        last.rc = shard_unigram_loss(counts, val, &last.loss, &n);
        snprintf(last.why, sizeof last.why, "%s", last.rc ? err_msg() : "");
    }
    *loss = last.loss;
    return last.rc ? err_set("%s", last.why) : 0;
}

static double last_finite(const double *v, int n)
{
    for (int i = n - 1; i >= 0; i--)
        if (isfinite(v[i])) return v[i];
    return NAN;
}

void runs_fill(run_row_t *r, const char *dir, const config_t *cfg, const metrics_t *m, const curves_t *c,
               skips_t *sk)
{
    memset(r, 0, sizeof *r);
    r->dir = err_strdup(dir);
    const char *base = strrchr(dir, '/');
    r->name = err_strdup(cfg ? cfg->name : c && c->run_name[0] ? c->run_name : base ? base + 1 : dir);
    r->sum_index = -1;
    for (int p = 0; p < TP_N; p++) set(&r->param[p], NAN);
    if (c) memcpy(r->param, c->param, sizeof r->param);
    else if (cfg) params_from_config(r->param, cfg);
    r->ranks = m && m->world_size ? m->world_size : c ? c->world_size : NAN;
    r->steps = r->train_loss = r->val_loss = r->tokens_per_s = r->baseline = NAN;
    if (cfg && cfg->val_path[0]) {
        char counts[4200];
        double loss;
        config_counts_path(cfg, counts, sizeof counts);
        if (unigram_baseline(counts, cfg->val_path, &loss) == 0) r->baseline = loss;
        else skips_warn(sk, "%s: no unigram baseline: %s", dir, err_msg());
    }
    if (c && c->n_rec) {
        double *tps = err_calloc((size_t)c->n_rec, sizeof *tps);
        memcpy(tps, c->v[TV_TOKENS_PER_S], (size_t)c->n_rec * sizeof *tps);
        r->steps = (double)c->step[c->n_rec - 1]; /* step k: the weights after k updates */
        r->train_loss = last_finite(c->v[TV_LOSS], c->n_rec);
        r->val_loss = last_finite(c->v[TV_VAL_LOSS], c->n_rec);
        r->tokens_per_s = stats_median(tps, c->n_rec);
        free(tps);
    }
    if (m && m->have_train)
        r->steps = (double)m->train_step, r->train_loss = m->train_loss, r->tokens_per_s = m->tokens_per_s;
    if (m && m->have_val) r->val_loss = m->val_loss;
    r->tokens = r->steps * r->param[TP_GLOBAL_BATCH].d * r->param[TP_SEQ_LEN].d;
    if (c && c->n_rec) {
        int K = c->n_genre, L = c->L, D = L + 1;
        size_t lens = (size_t)curves_recorded(c, TV_LENS_GENRE, c->n_rec - 1),
               cos = (size_t)curves_recorded(c, TV_COS_LOCAL_GENRE, c->n_rec - 1); /* the last full step's */
        r->n_probe_genre = K;
        r->probe_genre = err_calloc((size_t)K + 1, sizeof *r->probe_genre);
        memcpy(r->probe_genre, c->genre_name, (size_t)K * sizeof *r->probe_genre);
        r->genre_lens = err_calloc((size_t)K + 1, sizeof(double)), r->genre_cos = err_calloc((size_t)K + 1, sizeof(double));
        for (int g = 0; g < K; g++) {
            r->genre_lens[g] = c->v[TV_LENS_GENRE][(lens * K + g) * D + L];
            r->genre_cos[g] = stats_mean(c->v[TV_COS_LOCAL_GENRE] + (cos * K + g) * L, L, 1);
        }
    }
    if (m && m->n_genre) {
        r->n_genre = m->n_genre;
        r->genre = err_calloc((size_t)m->n_genre, sizeof *r->genre);
        r->genre_loss = err_calloc((size_t)m->n_genre, sizeof *r->genre_loss);
        memcpy(r->genre, m->genre, (size_t)m->n_genre * sizeof *r->genre);
        memcpy(r->genre_loss, m->genre_loss, (size_t)m->n_genre * sizeof *r->genre_loss);
    }
}

void runs_free(run_row_t *r)
{
    free(r->name), free(r->dir), free(r->genre), free(r->genre_loss);
    free(r->probe_genre), free(r->genre_lens), free(r->genre_cos), free(r->source);
    memset(r, 0, sizeof *r);
}

static const char *const fixed_cols[] = {"run", "dir", "n_params", "d_model", "n_layer", "n_head", "T", "tokenizer",
                                         "vocab_size", "lr", "seed", "ranks", "steps", "tokens", "train_loss",
                                         "val_loss"};
enum { N_FIXED = sizeof fixed_cols / sizeof *fixed_cols, MAX_GENRES = 64 };

/* genres.csv/md: the last validation loss by genre, a row per run and a column per genre of any run (in order
 * of first appearance), kept out of runs.md so that its table stays narrow. */
static int genres_write(const char *out, const run_row_t *rows, int n)
{
    char genres[MAX_GENRES][METRICS_GENRE_LEN + 4];
    int ng = 0;
    for (int i = 0; i < n; i++)
        for (int g = 0; g < rows[i].n_genre; g++) {
            int found = 0;
            for (int k = 0; k < ng && !found; k++) found = !strcmp(genres[k] + 4, rows[i].genre[g]);
            if (!found && ng < MAX_GENRES) snprintf(genres[ng++], sizeof *genres, "val_%s", rows[i].genre[g]);
        }
    const char *cols[MAX_GENRES + 2] = {"run", "val_loss"};
    for (int k = 0; k < ng; k++) cols[2 + k] = genres[k];
    table_t t;
    if (table_open(&t, out, "genres", "Validation loss by genre",
                   "One row per run: the final validation loss (nats) and the last validation by genre of the "
                   "validation shard (val_<genre>). n/a: not recorded.",
                   cols, 2 + ng))
        return -1;
    for (int i = 0; i < n; i++) {
        const run_row_t *r = &rows[i];
        table_str(&t, r->name);
        table_num(&t, r->val_loss);
        for (int k = 0; k < ng; k++) {
            double v = NAN;
            for (int g = 0; g < r->n_genre; g++)
                if (!strcmp(genres[k] + 4, r->genre[g])) v = r->genre_loss[g];
            table_num(&t, v);
        }
    }
    return table_commit(&t);
}

int runs_write(const char *out, const run_row_t *rows, int n)
{
    const char *cols[N_FIXED + 1];
    memcpy(cols, fixed_cols, sizeof fixed_cols);
    cols[N_FIXED] = "tokens_per_s";
    table_t t;
    if (table_open(&t, out, "runs", "Runs",
                   "One row per run. Model parameters as trained (from the trace files, else config.ini); steps, "
                   "final losses (nats) and median tokens/s from metrics.jsonl, else from the traces; tokens = "
                   "steps × global batch × T; tokenizer: the kind that made the training data (unknown: not "
                   "recorded, as in traces of schema 3). The validation loss by genre is in genres.md. n/a: not "
                   "recorded.",
                   cols, N_FIXED + 1))
        return -1;
    for (int i = 0; i < n; i++) {
        const run_row_t *r = &rows[i];
        table_str(&t, r->name);
        table_str(&t, r->dir);
        static const int p[] = {TP_N_PARAMS, TP_D_MODEL, TP_N_LAYER, TP_N_HEAD, TP_SEQ_LEN};
        for (size_t k = 0; k < sizeof p / sizeof *p; k++) table_num(&t, r->param[p[k]].d);
        const char *tok = isfinite(r->param[TP_TOKENIZER].d) ? trace_tokenizer_name(r->param[TP_TOKENIZER].i) : NULL;
        table_str(&t, tok ? tok : trace_tokenizer_name(TRACE_TOK_UNKNOWN));
        table_num(&t, r->param[TP_VOCAB_SIZE].d);
        table_num(&t, r->param[TP_LR].d);
        char seed[32] = ""; /* the u64 seed, stored as its int64 bit pattern */
        if (isfinite(r->param[TP_SEED].d)) snprintf(seed, sizeof seed, "%llu", (unsigned long long)r->param[TP_SEED].i);
        table_str(&t, seed);
        const double tail[] = {r->ranks, r->steps, r->tokens, r->train_loss, r->val_loss, r->tokens_per_s};
        for (size_t k = 0; k < sizeof tail / sizeof *tail; k++) table_num(&t, tail[k]);
    }
    return table_commit(&t) || genres_write(out, rows, n);
}
