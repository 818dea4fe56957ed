#include "sweep/datacheck.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "data/shard.h"
#include "model/gpt.h"
#include "run/probing.h"
#include "trace/params.h"

/* What one path was checked as, with what it was expected to match: the cache key. */
enum { DC_TRAIN, DC_VAL, DC_COUNTS };

typedef struct {
    int what;
    char path[CONFIG_STR];
    uint32_t want_tok, want_vocab; /* DC_VAL, DC_COUNTS: the training shard's */
    uint64_t want_tokens;          /* DC_COUNTS: the training shard's tokens */
    /* the outcome */
    int rc;
    char msg[1200];
    uint32_t tok, vocab; /* DC_TRAIN: the shard's */
    uint64_t n_tokens;   /* DC_TRAIN, DC_VAL: the shard's */
} check_t;

typedef struct {
    check_t **v; /* each allocated alone: a check stays where it is while others are added */
    int n, cap;
} cache_t;

/* Opens a shard, tokenizer or counts file once, whatever the number of runs reading it. */
static const check_t *check_path(cache_t *c, const config_t *cfg, int what, const char *path, const check_t *train)
{
    uint32_t tok = train ? train->tok : 0, vocab = train ? train->vocab : 0;
    uint64_t tokens = train && what == DC_COUNTS ? train->n_tokens : 0;
    for (int i = 0; i < c->n; i++) {
        const check_t *e = c->v[i];
        if (e->what == what && !strcmp(e->path, path) && e->want_tok == tok && e->want_vocab == vocab &&
            e->want_tokens == tokens)
            return e;
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 8;
        c->v = realloc(c->v, (size_t)c->cap * sizeof *c->v);
        CHECK(c->v, "out of memory");
    }
    check_t *e = c->v[c->n++] = err_calloc(1, sizeof *e);
    e->what = what;
    snprintf(e->path, sizeof e->path, "%s", path);
    e->want_tok = tok, e->want_vocab = vocab, e->want_tokens = tokens;
    shard_t s;
    int kind;
    if (what == DC_COUNTS) {
        e->rc = shard_counts_expect(path, tok, vocab, tokens, cfg->train_path, NULL);
    } else if ((e->rc = what == DC_TRAIN ? shard_open(&s, path) : shard_open_expect(&s, path, tok, vocab)) == 0) {
        e->tok = s.tokenizer_id, e->vocab = s.vocab_size, e->n_tokens = s.n_tokens;
        shard_free(&s);
        /* il-train names the tokens of its traces by the tokenizer beside the shard, which must be the shard's */
        if (what == DC_TRAIN) e->rc = tracer_tokenizer(cfg, e->tok, &kind);
    }
    if (e->rc) snprintf(e->msg, sizeof e->msg, "%s", err_msg());
    return e;
}

/* One run's inputs, as il-train checks them before it trains. Returns 0, or -1 with err_set() and *key the
 * key at fault. */
static int check_run(cache_t *c, const config_t *cfg, const char **key)
{
    *key = "data.train_path";
    const check_t *tr = check_path(c, cfg, DC_TRAIN, cfg->train_path, NULL);
    if (tr->rc) return err_set("%s", tr->msg);
    *key = "model.vocab_size";
    if (cfg->vocab_size && cfg->vocab_size < (int)tr->vocab)
        return err_set("model.vocab_size = %d is smaller than the vocabulary of %s (%u)", cfg->vocab_size,
                       cfg->train_path, tr->vocab);
    gpt_dims_t d = gpt_dims_of(cfg);
    if (!d.V) d.V = (int)tr->vocab;
    CALL(gpt_dims_check(&d));
    if (cfg->val_path[0]) {
        *key = "data.val_path";
        const check_t *v = check_path(c, cfg, DC_VAL, cfg->val_path, tr);
        if (v->rc) return err_set("%s", v->msg);
        if (v->n_tokens < (uint64_t)cfg->seq_len + 1)
            return err_set("%s: %llu tokens, fewer than one window of model.seq_len + 1 = %d", cfg->val_path,
                           (unsigned long long)v->n_tokens, cfg->seq_len + 1);
    }
    if (cfg->trace_interval > 0) {
        char path[CONFIG_STR + 32];
        config_counts_path(cfg, path, sizeof path);
        *key = cfg->counts_path[0] ? "data.counts_path" : "data.train_path";
        const check_t *k = check_path(c, cfg, DC_COUNTS, path, tr);
        if (k->rc) return err_set("%s (a traced run reads the unigram counts of its training shard)", k->msg);
    }
    return 0;
}

int datacheck_runs(const spec_t *s, const spec_run_t *runs, int n)
{
    cache_t c = {0};
    int first = -1, same = 0, tokenizers = 0;
    const char *first_key = NULL;
    char first_msg[2048] = "";
    for (int k = 0; k < n; k++) {
        const char *key;
        if (check_run(&c, &runs[k].cfg, &key) == 0) continue;
        /* the first problem, and how many runs it stops */
        if (first < 0) {
            first = k, first_key = key;
            snprintf(first_msg, sizeof first_msg, "%s", err_msg());
        }
        same += !strcmp(key, first_key) && !strcmp(err_msg(), first_msg);
    }
    /* the tokenizers of the training shards, when every run passed */
    for (int i = 0; i < c.n; i++) {
        int again = c.v[i]->what != DC_TRAIN;
        for (int j = 0; j < i && !again; j++)
            again = c.v[j]->what == DC_TRAIN && c.v[j]->tok == c.v[i]->tok && c.v[j]->vocab == c.v[i]->vocab;
        tokenizers += !again;
    }
    for (int i = 0; i < c.n; i++) free(c.v[i]);
    free(c.v);
    if (first < 0) return tokenizers;
    char where[sizeof s->path + CONFIG_STR + 64], value[CONFIG_STR], others[64] = "";
    int line = spec_key_line(s, first_key);
    CHECK(config_get(&runs[first].cfg, first_key, value, sizeof value) == 0, "a key of the table: %s", first_key);
    if (line) snprintf(where, sizeof where, "%s:%d: %s", s->path, line, first_key);
    else snprintf(where, sizeof where, "%s: %s (by default %s)", s->path, first_key, value);
    if (same > 1) snprintf(others, sizeof others, " and %d other run(s)", same - 1);
    return err_set("%s: %s (run %d %s%s; %s)", where, first_msg, first, runs[first].cfg.name, others,
                 strncmp(first_key, "data.", 5) ? "as il-train would refuse it"
                                                : "set sweep.check_paths = no if the path exists only on the compute nodes");
}

/* The probe data as il-probe opens it: the shard, the tokenizer beside it (which names the tokens of the
 * trace) and the unigram counts of its frequency buckets. */
static int check_probe_data(const spec_t *s, shard_t *sh)
{
    CALL(shard_open(sh, s->probe_data));
    config_t c;
    config_defaults(&c);
    snprintf(c.train_path, sizeof c.train_path, "%s", s->probe_data);
    char counts[CONFIG_STR + 32];
    config_counts_path(&c, counts, sizeof counts);
    int kind;
    if (tracer_tokenizer(&c, sh->tokenizer_id, &kind) ||
        shard_counts_expect(counts, sh->tokenizer_id, sh->vocab_size, sh->n_tokens, c.train_path, NULL)) {
        shard_free(sh);
        return -1;
    }
    return 0;
}

/* One run's checkpoints: the checkpoint, or every complete one of the run directory. */
static int check_probe(const spec_t *s, const probing_opts_t *o, const spec_probe_t *p, const shard_t *sh)
{
    if (!p->is_run) return probing_check(o, p->path, sh, s->ranks);
    char **paths;
    int n, rc = probing_run_ckpts(p->path, &paths, &n);
    for (int i = 0; i < n && rc == 0; i++) rc = probing_check(o, paths[i], sh, s->ranks);
    for (int i = 0; i < n; i++) free(paths[i]);
    free(paths);
    return rc;
}

int datacheck_probes(const spec_t *s, const spec_run_t *runs, int n)
{
    static const char hint[] = "set sweep.check_paths = no if the paths exist only on the compute nodes";
    char msg[2048];
    shard_t sh;
    if (check_probe_data(s, &sh)) {
        snprintf(msg, sizeof msg, "%s", err_msg());
        return err_set("%s:%d: probe.data: %s (%s)", s->path, s->probe_data_line, msg, hint);
    }
    /* il-probe's options as the tasks pass them: --windows, --groups and --seed are these keys */
    char opts[3 + SPEC_MAX_ARGS][SPEC_ARG];
    const char *sets[3 + SPEC_MAX_ARGS];
    int n_sets = 0;
    if (s->probe_windows) snprintf(opts[n_sets++], SPEC_ARG, "trace.probe_windows=%d", s->probe_windows);
    if (s->probe_groups) snprintf(opts[n_sets++], SPEC_ARG, "trace.probe_groups=%d", s->probe_groups);
    if (*s->probe_seed) snprintf(opts[n_sets++], SPEC_ARG, "train.seed=%s", s->probe_seed);
    for (int i = 0; i < s->n_probe_sets; i++) snprintf(opts[n_sets++], SPEC_ARG, "%s", s->probe_sets[i]);
    for (int i = 0; i < n_sets; i++) sets[i] = opts[i];
    const probing_opts_t o = {s->probe_data, "runs", sets, n_sets};
    int rc = 0;
    for (int k = 0; k < n && rc == 0; k++) {
        const spec_probe_t *p = &s->probes[runs[k].probe];
        if (check_probe(s, &o, p, &sh) == 0) continue;
        snprintf(msg, sizeof msg, "%s", err_msg());
        rc = err_set("%s:%d: probe.%s: %s (run %d %s, as il-probe would refuse it%s%s)", s->path, p->line,
                     p->is_run ? "runs" : "checkpoints", msg, runs[k].index, runs[k].cfg.name,
                     access(p->path, F_OK) ? "; " : "", access(p->path, F_OK) ? hint : "");
    }
    shard_free(&sh);
    return rc ? -1 : 1;
}
