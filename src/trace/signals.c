#include "trace/signals.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dist.h"
#include "core/err.h"
#include "core/stats.h"

/* Rows of logits (each V floats) the logit lens holds at once: 4M floats, 16 MB, whatever the vocabulary. */
enum { SIGNALS_LENS_FLOATS = 1 << 22 };

int signals_bucket(uint64_t count)
{
    int k = 0;
    while (count > 1) count >>= 1, k++;
    return k;
}

int signals_group(const char *name)
{
    if (!strcmp(name, "wte") || !strcmp(name, "wpe")) return SIGNALS_GROUP_EMBED;
    if (!strncmp(name, "h.ln", 4) || !strncmp(name, "lnf", 3)) return SIGNALS_GROUP_LN;
    if (!strncmp(name, "h.qkv", 5) || !strncmp(name, "h.proj", 6)) return SIGNALS_GROUP_ATTN;
    if (!strncmp(name, "h.fc", 4)) return SIGNALS_GROUP_MLP;
    err_fatal(__FILE__, __LINE__, "tensor %s belongs to no parameter group", name);
}

static double *doubles(size_t n) { return err_calloc(n ? n : 1, sizeof(double)); }

void signals_create(signals_t *s, const gpt_dims_t *d, int B, const uint64_t *counts, const signals_opts_t *opt,
                    const signals_share_t *share)
{
    CHECK(B >= 1 && opt->pos_stride >= 1 && opt->n_sv >= 1 && share->n_group >= 1 && share->rows >= 0,
          "signals_create: B %d, pos_stride %d, n_sv %d, groups %d", B, opt->pos_stride, opt->n_sv, share->n_group);
    memset(s, 0, sizeof *s);
    int L = d->L, T = d->T, C = d->C, V = d->V, G = share->n_group, K = share->n_genre;
    size_t BT = (size_t)B * T, D = (size_t)L + 1, R = (size_t)share->rows;
    s->L = L, s->T = T, s->C = C, s->V = V, s->B = B;
    s->opt = *opt;
    s->opt.lens = opt->lens || opt->local;
    s->share = *share;

    uint64_t most = 0;
    for (int v = 0; counts && v < V; v++) most = counts[v] > most ? counts[v] : most;
    s->n_bucket = signals_bucket(most) + 1;
    s->bucket_of = err_calloc((size_t)V, sizeof *s->bucket_of);
    s->bucket_lo = err_calloc((size_t)s->n_bucket, sizeof *s->bucket_lo);
    s->bucket_ids = err_calloc((size_t)s->n_bucket, sizeof *s->bucket_ids);
    s->bucket_tokens = err_calloc((size_t)s->n_bucket, sizeof *s->bucket_tokens);
    s->logcount = err_calloc((size_t)V, sizeof *s->logcount);
    for (int v = 0; v < V; v++) {
        s->bucket_of[v] = counts ? signals_bucket(counts[v]) : 0;
        s->bucket_ids[s->bucket_of[v]]++;
        s->logcount[v] = counts ? (float)log1p((double)counts[v]) : 0.0f;
    }
    for (int k = 1; k < s->n_bucket; k++) s->bucket_lo[k] = (int64_t)1 << k;
    s->genre_tokens = err_calloc((size_t)(K ? K : 1), sizeof *s->genre_tokens);
    s->group_windows = err_calloc((size_t)G, sizeof *s->group_windows);

    size_t LT = (size_t)L * T;
    double **outs[] = {&s->update, &s->update_attn, &s->update_mlp, &s->cos_pos, &s->cos_attn_pos, &s->cos_mlp_pos,
                       &s->cos_local_pos};
    for (size_t i = 0; i < sizeof outs / sizeof *outs; i++) *outs[i] = doubles(LT);
    s->eta = doubles(L), s->eta_attn = doubles(L), s->eta_mlp = doubles(L), s->sink = doubles(L);
    s->norm_bucket = doubles(D * s->n_bucket);
    s->norm = doubles(G * D * T), s->cos = doubles((size_t)G * L), s->cos_local = doubles((size_t)G * L);
    s->lens = doubles(G * D), s->grad0 = doubles((size_t)G * T);
    s->lens_genre = doubles(K * D), s->cos_local_genre = doubles((size_t)K * L);
    s->rho_freq = doubles(D), s->rho_freq_jk = doubles(G * D);
    s->sv = doubles(D * opt->n_sv), s->erank = doubles(D);
    for (size_t i = 0; i < D * opt->n_sv; i++) s->sv[i] = NAN;
    for (size_t l = 0; l < D; l++) s->erank[l] = NAN;

    /* the sums: one block, cleared by signals_begin */
    size_t n_pos = LT * 7, n_eta = (size_t)L * 6, n_bucket = D * s->n_bucket;
    size_t n_acc = n_pos + 2 * (size_t)T + n_eta + L + n_bucket + G * D * T + (size_t)G * T + 2 * (size_t)G * L + G * D +
                   G + K * D + (size_t)K * L + s->n_bucket + K;
    double *a = s->acc = doubles(n_acc);
    s->s_pos = a, a += n_pos;
    s->s_pos_n = a, a += T;
    s->s_lens_pos_n = a, a += T;
    s->s_eta = a, a += n_eta;
    s->s_sink = a, a += L;
    s->s_bucket = a, a += n_bucket;
    s->s_norm = a, a += G * D * T;
    s->s_grad0 = a, a += (size_t)G * T;
    s->s_cos = a, a += (size_t)G * L;
    s->s_cos_local = a, a += (size_t)G * L;
    s->s_lens = a, a += G * D;
    s->s_group_lens_n = a, a += G;
    s->s_lens_genre = a, a += K * D;
    s->s_cos_local_genre = a, a += (size_t)K * L;
    s->s_bucket_n = a, a += s->n_bucket;
    s->s_genre_n = a, a += K;
    CHECK(a == s->acc + n_acc, "signals_create: sums carved wrongly");

    s->h = err_calloc(D * (R ? R : 1) * C, sizeof *s->h);
    s->tok_norm = err_calloc(D * (R ? R : 1), sizeof *s->tok_norm);
    s->tok_logc = err_calloc(R ? R : 1, sizeof *s->tok_logc);
    s->tok_group = err_calloc(R ? R : 1, sizeof *s->tok_group);
    s->rownorm = doubles(D * BT);
    if (s->opt.lens) {
        s->lens_rows = SIGNALS_LENS_FLOATS / V < 1 ? 1 : SIGNALS_LENS_FLOATS / V;
        if ((size_t)s->lens_rows > BT) s->lens_rows = (int)BT;
        size_t LR = (size_t)s->lens_rows;
        s->rows_sel = err_calloc(BT, sizeof *s->rows_sel);
        s->lx = err_calloc(LR * C, sizeof(float));
        s->lnorm = err_calloc(LR * C, sizeof(float));
        s->ldx = err_calloc(LR * C, sizeof(float));
        s->lmean = err_calloc(LR, sizeof(float));
        s->lrstd = err_calloc(LR, sizeof(float));
        s->lloss = err_calloc(LR, sizeof(float));
        s->logits = err_calloc(LR * V, sizeof(float));
        s->ltarget = err_calloc(LR, sizeof(int32_t));
        s->wte_t = err_calloc((size_t)C * V, sizeof(float));
    }
}

void signals_destroy(signals_t *s)
{
    void *bufs[] = {s->bucket_of, s->bucket_lo, s->bucket_ids, s->bucket_tokens, s->logcount, s->genre_tokens,
                    s->group_windows, s->update, s->update_attn, s->update_mlp, s->cos_pos, s->cos_attn_pos,
                    s->cos_mlp_pos, s->cos_local_pos, s->eta, s->eta_attn, s->eta_mlp, s->sink, s->norm_bucket,
                    s->norm, s->cos, s->cos_local, s->lens, s->grad0, s->lens_genre, s->cos_local_genre, s->rho_freq,
                    s->rho_freq_jk, s->sv, s->erank, s->acc, s->h, s->tok_norm, s->tok_logc, s->tok_group,
                    s->rownorm, s->rows_sel, s->lx, s->lnorm, s->ldx, s->lmean, s->lrstd, s->lloss, s->logits,
                    s->ltarget, s->wte_t};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
    memset(s, 0, sizeof *s);
}

/* <x - y, z> and |x - y|^2 in double over C; y may be NULL (then x itself). */
static void step_dot(const float *x, const float *y, const float *z, int C, double *dot, double *sq)
{
    double d = 0, q = 0;
    for (int c = 0; c < C; c++) {
        double v = y ? (double)x[c] - y[c] : x[c];
        d += v * z[c];
        q += v * v;
    }
    *dot = d, *sq = q;
}

static double sq_norm(const float *x, int C)
{
    double q = 0;
    for (int c = 0; c < C; c++) q += (double)x[c] * x[c];
    return q;
}

/* cos(D, -g) from <D, g>, |D|^2, |g|^2; 0 when either vector is zero (documented in signals.h). */
static double descent_cos(double dot, double dsq, double gsq)
{
    return dsq > 0 && gsq > 0 ? -dot / sqrt(dsq * gsq) : 0.0;
}

static void weight_norms(signals_t *s, const gpt_t *m)
{
    double sq[SIGNALS_N_GROUPS] = {0};
    for (int i = 0; i < m->n_tensors; i++) {
        const gpt_tensor_t *t = &m->tensors[i];
        double q = 0;
        const float *w = m->params + t->offset;
#pragma omp parallel for reduction(+ : q) schedule(static)
        for (size_t j = 0; j < t->size; j++) q += (double)w[j] * w[j];
        sq[signals_group(t->name)] += q;
    }
    for (int g = 0; g < SIGNALS_N_GROUPS; g++) s->wnorm[g] = sqrt(sq[g]);
}

void signals_begin(signals_t *s, const gpt_t *m)
{
    CHECK(m->d.L == s->L && m->d.T == s->T && m->d.C == s->C && m->d.V == s->V,
          "signals_begin: model (L %d, T %d, C %d, V %d) does not match the signals context (L %d, T %d, C %d, V %d)",
          m->d.L, m->d.T, m->d.C, m->d.V, s->L, s->T, s->C, s->V);
    double *end = s->s_genre_n + s->share.n_genre;
    memset(s->acc, 0, (size_t)(end - s->acc) * sizeof *s->acc);
    s->s_sink_n = 0;
    s->rows = 0;
    memset(s->group_windows, 0, (size_t)s->share.n_group * sizeof *s->group_windows);
    weight_norms(s, m);
    if (s->opt.local)
        for (int v = 0; v < s->V; v++)
            for (int c = 0; c < s->C; c++) s->wte_t[(size_t)c * s->V + v] = m->p.wte[(size_t)v * s->C + c];
}

void signals_count(signals_t *s, const int32_t *inputs, const int32_t *genre, int64_t n)
{
    memset(s->bucket_tokens, 0, (size_t)s->n_bucket * sizeof *s->bucket_tokens);
    memset(s->genre_tokens, 0, (size_t)(s->share.n_genre ? s->share.n_genre : 1) * sizeof *s->genre_tokens);
    for (int64_t i = 0; i < n * s->T; i++) {
        s->bucket_tokens[s->bucket_of[inputs[i]]]++;
        if (genre && s->opt.lens && (i % s->T) % s->opt.pos_stride == 0) s->genre_tokens[genre[i]]++;
    }
}

/* S1 per token, S2, S3, the sums of S4 and S7; per position, per group, per bucket; and the tokens kept. */
static void stream_signals(signals_t *s, const gpt_t *m, double scale, const int *slot)
{
    int B = m->b, T = m->t, C = m->d.C, L = m->d.L, N = B * T, K = s->n_bucket;
    size_t NC = (size_t)N * C, D = (size_t)L + 1;
    const float *resid = m->a.resid, *mid = m->a.resid_mid, *dres = m->ga.dresid, *dmid = m->ga.dresid_mid;

#pragma omp parallel for schedule(static)
    for (int i = 0; i < (L + 1) * N; i++) s->rownorm[i] = sqrt(sq_norm(resid + (size_t)i * C, C));

    /* one block per iteration, positions and windows in order: deterministic on any thread count */
#pragma omp parallel for schedule(static)
    for (int l = 0; l < L; l++)
        for (int t = 0; t < T; t++)
            for (int b = 0; b < B; b++) {
                size_t off = (size_t)l * NC + ((size_t)b * T + t) * C;
                const float *h = resid + off, *h1 = resid + off + NC, *a = mid + off, *g = dres + off, *ga = dmid + off;
                double dot, dsq, dota, dsqa, dotm, dsqm;
                double gsq = sq_norm(g, C) * scale * scale, gasq = sq_norm(ga, C) * scale * scale;
                step_dot(h1, h, g, C, &dot, &dsq);
                step_dot(a, h, g, C, &dota, &dsqa);
                step_dot(h1, a, ga, C, &dotm, &dsqm);
                dot *= scale, dota *= scale, dotm *= scale;
                double cs = descent_cos(dot, dsq, gsq), *p = s->s_pos + ((size_t)l * T + t) * 7, *e = s->s_eta + l * 6;
                p[0] += sqrt(dsq), p[1] += sqrt(dsqa), p[2] += sqrt(dsqm);
                p[3] += cs, p[4] += descent_cos(dota, dsqa, gsq), p[5] += descent_cos(dotm, dsqm, gasq);
                e[0] += dot, e[1] += gsq, e[2] += dota, e[3] += gsq, e[4] += dotm, e[5] += gasq;
                s->s_cos[(size_t)slot[b] * L + l] += cs;
            }
    for (int b = 0; b < B; b++) {
        int g = slot[b];
        s->group_windows[g]++;
        for (int t = 0; t < T; t++) {
            s->s_pos_n[t]++;
            s->s_grad0[(size_t)g * T + t] += sqrt(sq_norm(dres + ((size_t)b * T + t) * C, C)) * scale;
            int n = b * T + t, k = s->bucket_of[m->inputs[n]], row = s->rows++;
            s->s_bucket_n[k]++;
            s->tok_logc[row] = s->logcount[m->inputs[n]];
            s->tok_group[row] = g;
            for (size_t l = 0; l < D; l++) {
                double r = s->rownorm[l * N + (size_t)n];
                s->s_norm[((size_t)g * D + l) * T + t] += r;
                s->s_bucket[l * K + (size_t)k] += r;
                s->tok_norm[l * (size_t)s->share.rows + (size_t)row] = (float)r;
                memcpy(s->h + (l * (size_t)s->share.rows + (size_t)row) * C, resid + l * NC + (size_t)n * C,
                       (size_t)C * sizeof(float));
            }
        }
    }
}

/* S8: attention of queries t >= 1 on key 0, summed over windows, heads and queries. */
static void sink_sums(signals_t *s, const gpt_t *m)
{
    int B = m->b, T = m->t, NH = m->d.NH;
    for (int l = 0; l < s->L; l++) {
        const float *att = m->a.att + (size_t)l * B * NH * T * T;
        for (int bh = 0; bh < B * NH; bh++)
            for (int t = 1; t < T; t++) s->s_sink[l] += att[((size_t)bh * T + t) * T];
    }
    s->s_sink_n += (double)B * NH * (T - 1);
}

/* S5 and S3b: the logit lens at every depth, over the lens positions, lens_rows rows at a time. For S3b the
 * gradient of each row's own loss (dloss 1, not 1/N: only its direction enters the cosine) flows back
 * through the unembedding and LNf to h^l. */
static void logit_lens(signals_t *s, const gpt_t *m, const int *slot, const int32_t *genre)
{
    const kernels_ops_t *k = m->k;
    int B = m->b, T = m->t, C = s->C, V = s->V, L = s->L, N = B * T, R = s->lens_rows, n_sel = 0;
    size_t NC = (size_t)N * C, D = (size_t)L + 1;
    for (int n = 0; n < N; n++)
        if ((n % T) % s->opt.pos_stride == 0) s->rows_sel[n_sel++] = n;
    for (int j = 0; j < n_sel; j++) {
        int n = s->rows_sel[j];
        s->s_lens_pos_n[n % T]++; /* windows counted per lens position */
        s->s_group_lens_n[slot[n / T]]++;
        if (genre) s->s_genre_n[genre[n]]++;
    }
    for (int l = 0; l <= L; l++) {
        const float *h = m->a.resid + l * NC;
        for (int r0 = 0; r0 < n_sel; r0 += R) {
            int nr = n_sel - r0 < R ? n_sel - r0 : R;
            for (int j = 0; j < nr; j++) {
                int n = s->rows_sel[r0 + j];
                memcpy(s->lx + (size_t)j * C, h + (size_t)n * C, (size_t)C * sizeof(float));
                s->ltarget[j] = m->targets[n];
            }
            k->layernorm_forward(s->lnorm, s->lmean, s->lrstd, s->lx, m->p.lnfw, m->p.lnfb, nr, C);
            k->matmul_forward(s->logits, s->lnorm, m->p.wte, NULL, nr, C, V, 0);
            k->crossentropy_forward(s->logits, s->lloss, s->ltarget, nr, V);
            for (int j = 0; j < nr; j++) {
                int n = s->rows_sel[r0 + j];
                s->s_lens[(size_t)slot[n / T] * D + l] += s->lloss[j];
                if (genre) s->s_lens_genre[(size_t)genre[n] * D + l] += s->lloss[j];
            }
            if (!s->opt.local || l == L) continue;
            k->crossentropy_backward(s->logits, s->ltarget, 1.0f, nr, V);
            k->matmul_forward(s->lnorm, s->logits, s->wte_t, NULL, nr, V, C, 0);
            memset(s->ldx, 0, (size_t)nr * C * sizeof(float));
            k->layernorm_backward(s->ldx, NULL, NULL, s->lnorm, s->lx, m->p.lnfw, s->lmean, s->lrstd, nr, C);
            for (int j = 0; j < nr; j++) {
                int n = s->rows_sel[r0 + j];
                double dot, dsq;
                step_dot(h + NC + (size_t)n * C, h + (size_t)n * C, s->ldx + (size_t)j * C, C, &dot, &dsq);
                double cs = descent_cos(dot, dsq, sq_norm(s->ldx + (size_t)j * C, C));
                s->s_pos[((size_t)l * T + n % T) * 7 + 6] += cs;
                s->s_cos_local[(size_t)slot[n / T] * L + l] += cs;
                if (genre) s->s_cos_local_genre[(size_t)genre[n] * L + l] += cs;
            }
        }
    }
}

void signals_add(signals_t *s, const gpt_t *m, float loss_scale, const int *slot, const int32_t *genre)
{
    CHECK(m->b >= 1 && m->b <= s->B && m->t == s->T && s->rows + m->b * m->t <= s->share.rows,
          "signals_add: %d windows of %d (capacity %d, T %d), %d of %d rows used", m->b, m->t, s->B, s->T, s->rows,
          s->share.rows);
    CHECK(loss_scale != 0, "signals_add: loss_scale 0 leaves no gradient to measure");
    for (int b = 0; b < m->b; b++) CHECK(slot[b] >= 0 && slot[b] < s->share.n_group, "signals_add: group place %d", slot[b]);
    /* the gradients of loss_scale x the chunk's mean loss, as those of each window's own mean loss */
    stream_signals(s, m, (double)m->b / loss_scale, slot);
    sink_sums(s, m);
    if (s->opt.lens) logit_lens(s, m, slot, genre);
}

static double ratio(double sum, double n) { return n > 0 ? sum / n : NAN; }

void signals_end(signals_t *s)
{
    int L = s->L, T = s->T, G = s->share.n_group, K = s->n_bucket;
    size_t D = (size_t)L + 1;
    double *pos[] = {s->update, s->update_attn, s->update_mlp, s->cos_pos, s->cos_attn_pos, s->cos_mlp_pos};
    for (int l = 0; l < L; l++) {
        for (int t = 0; t < T; t++) {
            const double *p = s->s_pos + ((size_t)l * T + t) * 7;
            for (int j = 0; j < 6; j++) pos[j][(size_t)l * T + t] = ratio(p[j], s->s_pos_n[t]);
            s->cos_local_pos[(size_t)l * T + t] = s->opt.local ? ratio(p[6], s->s_lens_pos_n[t]) : NAN;
        }
        const double *e = s->s_eta + l * 6;
        s->eta[l] = e[1] > 0 ? -e[0] / e[1] : NAN;
        s->eta_attn[l] = e[3] > 0 ? -e[2] / e[3] : NAN;
        s->eta_mlp[l] = e[5] > 0 ? -e[4] / e[5] : NAN;
        s->sink[l] = ratio(s->s_sink[l], s->s_sink_n);
    }
    for (size_t l = 0; l < D; l++)
        for (int k = 0; k < K; k++) s->norm_bucket[l * K + k] = ratio(s->s_bucket[l * K + k], s->s_bucket_n[k]);
    for (int g = 0; g < G; g++) {
        double w = (double)s->group_windows[g], lens_n = s->opt.lens ? s->s_group_lens_n[g] : 0;
        for (size_t i = 0; i < D * T; i++) s->norm[g * D * T + i] = ratio(s->s_norm[g * D * T + i], w);
        for (int t = 0; t < T; t++) s->grad0[(size_t)g * T + t] = ratio(s->s_grad0[(size_t)g * T + t], w);
        for (int l = 0; l < L; l++) {
            s->cos[(size_t)g * L + l] = ratio(s->s_cos[(size_t)g * L + l], w * T);
            s->cos_local[(size_t)g * L + l] = s->opt.local ? ratio(s->s_cos_local[(size_t)g * L + l], lens_n) : NAN;
        }
        for (size_t l = 0; l < D; l++) s->lens[g * D + l] = ratio(s->s_lens[g * D + l], lens_n);
    }
    for (int c = 0; c < s->share.n_genre; c++) {
        double n = s->opt.lens ? s->s_genre_n[c] : 0;
        for (size_t l = 0; l < D; l++) s->lens_genre[c * D + l] = ratio(s->s_lens_genre[c * D + l], n);
        for (int l = 0; l < L; l++)
            s->cos_local_genre[(size_t)c * L + l] = s->opt.local ? ratio(s->s_cos_local_genre[(size_t)c * L + l], n) : NAN;
    }
}

void signals_spectrum(signals_t *s, spectrum_t *sp)
{
    CHECK(sp->k == s->opt.n_sv && sp->C == s->C, "signals_spectrum: spectrum keeps %d values of %d columns, "
          "signals expect %d of %d", sp->k, sp->C, s->opt.n_sv, s->C);
    for (int l = 0; l <= s->L; l++)
        spectrum_compute(sp, s->h + (size_t)l * s->share.rows * s->C, s->rows, s->sv + (size_t)l * s->opt.n_sv,
                         &s->erank[l]);
}

/* Rank 0: Spearman of the log counts against each depth's norms over all tokens, then over all but each
 * group's. tok holds (group, log count, norm at every depth) per token; out (G+1, D): row 0 all, row g+1
 * without group g. */
static void freq_rho(const float *tok, int n, int D, int G, double *out)
{
    int w = 2 + D;
    double *x = doubles((size_t)n), *y = doubles((size_t)n);
    for (int l = 0; l < D; l++)
        for (int leave = -1; leave < G; leave++) {
            int m = 0;
            for (int i = 0; i < n; i++) {
                const float *r = tok + (size_t)i * w;
                if ((int)r[0] == leave) continue;
                x[m] = r[1], y[m] = r[2 + l], m++;
            }
            out[(size_t)(leave + 1) * D + l] = stats_spearman(x, y, m);
        }
    free(x);
    free(y);
}

void signals_freq_rho(signals_t *s, MPI_Comm comm, const int64_t *group_of_place, int n_groups)
{
    int rank, size, D = s->L + 1, w = 2 + D, R = s->share.rows;
    CHECK_RC(MPI_Comm_rank(comm, &rank), dist_strerror);
    CHECK_RC(MPI_Comm_size(comm, &size), dist_strerror);
    float *mine = err_calloc((size_t)s->rows * w + 1, sizeof *mine);
    for (int i = 0; i < s->rows; i++) {
        float *r = mine + (size_t)i * w;
        r[0] = (float)group_of_place[s->tok_group[i]], r[1] = s->tok_logc[i];
        for (int l = 0; l < D; l++) r[2 + l] = s->tok_norm[(size_t)l * R + i];
    }
    int count = s->rows * w, *counts = NULL, *displs = NULL, total = 0;
    if (rank == 0) counts = err_calloc((size_t)size, sizeof *counts), displs = err_calloc((size_t)size, sizeof *displs);
    CHECK_RC(MPI_Gather(&count, 1, MPI_INT, counts, 1, MPI_INT, 0, comm), dist_strerror);
    for (int r = 0; rank == 0 && r < size; r++) displs[r] = total, total += counts[r];
    float *all = rank == 0 ? err_calloc((size_t)total + 1, sizeof *all) : NULL;
    CHECK_RC(MPI_Gatherv(mine, count, MPI_FLOAT, all, counts, displs, MPI_FLOAT, 0, comm), dist_strerror);
    double *out = doubles((size_t)(n_groups + 1) * D);
    if (rank == 0) freq_rho(all, total / w, D, n_groups, out);
    CHECK_RC(MPI_Bcast(out, (n_groups + 1) * D, MPI_DOUBLE, 0, comm), dist_strerror);
    memcpy(s->rho_freq, out, (size_t)D * sizeof *out);
    for (int g = 0; g < s->share.n_group; g++)
        memcpy(s->rho_freq_jk + (size_t)g * D, out + (size_t)(group_of_place[g] + 1) * D, (size_t)D * sizeof *out);
    free(out);
    free(all);
    free(counts);
    free(displs);
    free(mine);
}
