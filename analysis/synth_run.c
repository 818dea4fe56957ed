#include "synth_run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "afile.h"
#include "config.h"
#include "err.h"
#include "model.h"
#include "rng.h"

void synth_defaults(synth_spec_t *sp)
{
#define DEF(f, v) if (!sp->f) sp->f = v
    DEF(L, 4); DEF(T, 64); DEF(C, 64); DEF(NH, 4); DEF(V, 256); DEF(ranks, 2); DEF(n_sv, 8); DEF(micro_batch, 4);
    DEF(n_trace, 200); DEF(interval, 10); DEF(h1, 1); DEF(seed, 1);
#undef DEF
}

static int64_t last_step(const synth_spec_t *sp) { return (int64_t)(sp->n_trace - 1) * sp->interval; }

static void default_values(const synth_spec_t *sp, int rank, int64_t step, rng_t *g, signals_t *s, trace_record_t *rec)
{
    int L = sp->L, T = sp->T;
    double p = last_step(sp) ? (double)step / last_step(sp) : 1, f = 1 + 0.01 * rank;
    double loss = 2 + 3 * exp(-5 * p);
    *rec = (trace_record_t){.step = step, .loss = loss, .lr = 1e-3, .grad_norm = 1, .tokens_per_s = 1e5,
                            .step_time = 0.1, .val_loss = step / sp->interval % 5 == 0 ? loss + 0.05 : NAN};
    for (int l = 0; l <= L; l++)
        for (int t = 0; t < T; t++) {
            double gt = sp->h1 > 0 ? (1 + 0.8 / (1 + t)) * (t == 0 ? 3 : 1) : 1 + 0.01 * t;
            s->norm[l * T + t] = f * (1 + 0.3 * l) * gt * (1 + 1e-4 * (rng_uniform(g) - 0.5));
        }
    for (int i = 0; i < L * T; i++) {
        s->cos[i] = s->cos_attn[i] = s->cos_mlp[i] = f * (0.1 + 0.2 * p);
        s->cos_local[i] = f * (0.05 + 0.3 * p);
        s->update[i] = s->update_attn[i] = s->update_mlp[i] = f * 0.3;
    }
    for (int l = 0; l < L; l++) {
        s->eta[l] = s->eta_attn[l] = s->eta_mlp[l] = f * (0.5 + 0.1 * l + 0.2 * p);
        s->sink[l] = f * (0.1 + 0.5 * p);
    }
    for (int l = 0; l <= L; l++) {
        s->lens[l] = f * (loss + (L - l) * (0.3 + 0.5 * p));
        s->erank[l] = sp->C / 2.0 * (1 - 0.3 * p);
        for (int k = 0; k < s->n_bucket; k++) s->norm_bucket[l * s->n_bucket + k] = f * (1 + 0.3 * l) * (1 + 0.1 * k);
        for (int i = 0; i < sp->n_sv; i++) s->sv[l * sp->n_sv + i] = 10.0 / (i + 1);
    }
    for (int k = 0; k < s->n_bucket; k++) s->bucket_tokens[k] = 1 + 3 * k;
    for (int t = 0; t < T; t++) s->grad0[t] = f * 0.1 / (1 + 0.05 * t);
    for (int i = 0; i < SIGNALS_N_GROUPS; i++) s->wnorm[i] = 10 + i;
    s->batch = sp->micro_batch;
    s->tokens = (int64_t)sp->micro_batch * T;
}

static void make_config(const synth_spec_t *sp, config_t *c)
{
    config_defaults(c);
    snprintf(c->name, sizeof c->name, "%s", sp->name);
    c->seq_len = sp->T, c->n_layer = sp->L, c->n_head = sp->NH, c->d_model = sp->C, c->vocab_size = sp->V;
    c->micro_batch = sp->micro_batch, c->global_batch = sp->micro_batch * sp->ranks;
    c->max_steps = (int)last_step(sp) + 1, c->warmup_steps = 0, c->seed = sp->seed;
}

static int write_text(const char *dir, const char *name, const char *text, size_t n)
{
    char path[4200];
    afile_t af;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (afile_open(&af, path, AFILE_REPLACE)) return -1;
    if (afile_write(&af, text, n)) {
        afile_abort(&af);
        return -1;
    }
    return afile_commit(&af);
}

/* config.ini, metrics.jsonl (a train line every step, a val line with genres every 5th trace step) and
 * launches.jsonl, as the trainer writes them (docs/formats.md). */
static int write_run_files(const synth_spec_t *sp, const config_t *cfg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK(f, "open_memstream failed");
    config_write(cfg, f);
    fclose(f);
    int rc = write_text(sp->dir, "config.ini", text, len);
    free(text);
    if (rc) return -1;

    f = open_memstream(&text, &len);
    CHECK(f, "open_memstream failed");
    for (int64_t s = 0; s <= last_step(sp); s++) {
        double p = (double)s / (last_step(sp) ? last_step(sp) : 1), loss = 2 + 3 * exp(-5 * p);
        fprintf(f, "{\"kind\":\"train\",\"step\":%lld,\"loss\":%.6f,\"lr\":0.001,\"grad_norm\":1,\"tokens_per_s\":%.1f,\"step_ms\":10}\n",
                (long long)s, loss, 1e5 + (double)(s % 7));
        if (s % ((int64_t)sp->interval * 5) == 0 || s == last_step(sp))
            fprintf(f, "{\"kind\":\"val\",\"step\":%lld,\"val_loss\":%.6f,\"by_category\":{\"news\":%.6f,\"fiction\":%.6f}}\n",
                    (long long)s, loss + 0.05, loss + 0.1, loss + 0.02);
    }
    fclose(f);
    rc = write_text(sp->dir, "metrics.jsonl", text, len);
    free(text);
    if (rc) return -1;

    f = open_memstream(&text, &len);
    CHECK(f, "open_memstream failed");
    for (int seg = 0; seg <= sp->restart; seg++)
        fprintf(f, "{\"time\":\"2024-01-01T00:00:00Z\",\"seed\":%llu,\"world_size\":%d,\"start_step\":%d}\n",
                (unsigned long long)sp->seed, sp->ranks, seg ? sp->n_trace / 2 * sp->interval : 0);
    fclose(f);
    rc = write_text(sp->dir, "launches.jsonl", text, len);
    free(text);
    return rc;
}

/* One launch: every rank's file for trace records [first, end). */
static int write_segment(const synth_spec_t *sp, const config_t *cfg, const gpt_t *m, signals_t *s,
                         const char *tdir, int segment, int first, int end)
{
    for (int r = 0; r < sp->ranks; r++) {
        trace_t tr;
        trace_info_t info = {.dir = tdir, .segment = segment, .rank = r, .world_size = sp->ranks,
                             .start_step = (int64_t)first * sp->interval, .sync_every = 1 << 20,
                             .interval = sp->interval, .log_spaced = 0, .cfg = cfg, .model = m, .sig = s,
                             .command = "il-synth-traces"};
        if (trace_open(&tr, &info)) return -1;
        rng_t g;
        rng_seed(&g, sp->seed * 7919 + (uint64_t)r * 104729 + (uint64_t)segment);
        for (int i = first; i < end; i++) {
            trace_record_t rec;
            int64_t step = (int64_t)i * sp->interval;
            default_values(sp, r, step, &g, s, &rec);
            if (sp->fill) sp->fill(sp, r, segment, step, s, &rec);
            trace_write(&tr, &rec, s);
        }
        trace_close(&tr);
    }
    return 0;
}

int synth_run(const synth_spec_t *sp)
{
    char tdir[4200];
    snprintf(tdir, sizeof tdir, "%s/trace", sp->dir);
    if (afile_mkdirs(tdir)) return -1;
    config_t cfg;
    make_config(sp, &cfg);
    const gpt_dims_t d = {.V = sp->V, .T = sp->T, .L = sp->L, .NH = sp->NH, .C = sp->C};
    gpt_t m = {.d = d, .n_params = gpt_param_count(&d)};
    /* counts 2^(v mod 8): eight frequency buckets */
    uint64_t *counts = err_calloc((size_t)sp->V, sizeof *counts);
    for (int v = 0; v < sp->V; v++) counts[v] = (uint64_t)1 << (v % 8);
    signals_t s;
    const signals_opts_t opt = {.lens = 1, .local = 1, .pos_stride = 1, .n_sv = sp->n_sv};
    signals_create(&s, &d, sp->micro_batch, counts, &opt);
    free(counts);
    int mid = sp->n_trace / 2, rc = 0;
    if (sp->restart && mid + 3 <= sp->n_trace)
        rc = write_segment(sp, &cfg, &m, &s, tdir, 0, 0, mid + 3) || write_segment(sp, &cfg, &m, &s, tdir, 1, mid, sp->n_trace);
    else
        rc = write_segment(sp, &cfg, &m, &s, tdir, 0, 0, sp->n_trace);
    signals_destroy(&s);
    if (!rc && sp->run_files) rc = write_run_files(sp, &cfg);
    return rc ? -1 : 0;
}
