#include "trace/signals.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

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

void signals_create(signals_t *s, const gpt_dims_t *d, int B, const uint64_t *counts, const signals_opts_t *opt)
{
    CHECK(B >= 1 && opt->pos_stride >= 1 && opt->n_sv >= 1, "signals_create: B %d, pos_stride %d, n_sv %d", B,
          opt->pos_stride, opt->n_sv);
    memset(s, 0, sizeof *s);
    int L = d->L, T = d->T, C = d->C, V = d->V;
    size_t BT = (size_t)B * T;
    s->L = L, s->T = T, s->C = C, s->V = V, s->B = B;
    s->opt = *opt;
    s->opt.lens = opt->lens || opt->local;

    uint64_t most = 0;
    for (int v = 0; counts && v < V; v++) most = counts[v] > most ? counts[v] : most;
    s->n_bucket = signals_bucket(most) + 1;
    s->bucket_of = err_calloc((size_t)V, sizeof *s->bucket_of);
    s->bucket_lo = err_calloc((size_t)s->n_bucket, sizeof *s->bucket_lo);
    s->bucket_ids = err_calloc((size_t)s->n_bucket, sizeof *s->bucket_ids);
    for (int v = 0; v < V; v++) {
        s->bucket_of[v] = counts ? signals_bucket(counts[v]) : 0;
        s->bucket_ids[s->bucket_of[v]]++;
    }
    for (int k = 1; k < s->n_bucket; k++) s->bucket_lo[k] = (int64_t)1 << k;

    s->norm = err_calloc((size_t)(L + 1) * T, sizeof(double));
    s->update = err_calloc((size_t)L * T, sizeof(double));
    s->update_attn = err_calloc((size_t)L * T, sizeof(double));
    s->update_mlp = err_calloc((size_t)L * T, sizeof(double));
    s->cos = err_calloc((size_t)L * T, sizeof(double));
    s->cos_attn = err_calloc((size_t)L * T, sizeof(double));
    s->cos_mlp = err_calloc((size_t)L * T, sizeof(double));
    s->cos_local = err_calloc((size_t)L * T, sizeof(double));
    s->eta = err_calloc((size_t)L, sizeof(double));
    s->eta_attn = err_calloc((size_t)L, sizeof(double));
    s->eta_mlp = err_calloc((size_t)L, sizeof(double));
    s->lens = err_calloc((size_t)L + 1, sizeof(double));
    s->norm_bucket = err_calloc((size_t)(L + 1) * s->n_bucket, sizeof(double));
    s->bucket_tokens = err_calloc((size_t)s->n_bucket, sizeof(int64_t));
    s->grad0 = err_calloc((size_t)T, sizeof(double));
    s->sink = err_calloc((size_t)L, sizeof(double));
    s->sv = err_calloc((size_t)(L + 1) * opt->n_sv, sizeof(double));
    s->erank = err_calloc((size_t)L + 1, sizeof(double));
    for (int l = 0; l <= L; l++) s->erank[l] = NAN;
    for (int i = 0; i < (L + 1) * opt->n_sv; i++) s->sv[i] = NAN;

    s->rownorm = err_calloc((L + 1) * BT, sizeof(double));
    s->part = err_calloc((size_t)L * T * 6, sizeof(double));
    if (s->opt.lens) {
        s->lens_rows = SIGNALS_LENS_FLOATS / V < 1 ? 1 : SIGNALS_LENS_FLOATS / V;
        if ((size_t)s->lens_rows > BT) s->lens_rows = (int)BT;
        size_t R = (size_t)s->lens_rows;
        s->rows = err_calloc(BT, sizeof *s->rows);
        s->lx = err_calloc(R * C, sizeof(float));
        s->lnorm = err_calloc(R * C, sizeof(float));
        s->ldx = err_calloc(R * C, sizeof(float));
        s->lmean = err_calloc(R, sizeof(float));
        s->lrstd = err_calloc(R, sizeof(float));
        s->lloss = err_calloc(R, sizeof(float));
        s->logits = err_calloc(R * V, sizeof(float));
        s->ltarget = err_calloc(R, sizeof(int32_t));
        s->wte_t = err_calloc((size_t)C * V, sizeof(float));
        s->dw_junk = err_calloc(2 * (size_t)C, sizeof(float));
    }
}

void signals_destroy(signals_t *s)
{
    void *bufs[] = {s->bucket_of, s->bucket_lo, s->bucket_ids, s->norm, s->update, s->update_attn, s->update_mlp,
                    s->cos, s->cos_attn, s->cos_mlp, s->cos_local, s->eta, s->eta_attn, s->eta_mlp, s->lens,
                    s->norm_bucket, s->bucket_tokens, s->grad0, s->sink, s->sv, s->erank, s->rownorm, s->part,
                    s->rows, s->lx, s->lnorm, s->ldx, s->lmean, s->lrstd, s->lloss, s->logits, s->ltarget,
                    s->wte_t, s->dw_junk};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
    memset(s, 0, sizeof *s);
}

static void fill_nan(double *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = NAN;
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

/* S1 norms per token (kept for S6), S2, S3 and the sums of S4, S7. */
static void stream_signals(signals_t *s, const gpt_t *m, float loss_scale)
{
    int B = m->b, T = m->t, C = m->d.C, L = m->d.L, N = B * T;
    size_t NC = (size_t)N * C;
    const float *resid = m->a.resid, *mid = m->a.resid_mid, *dres = m->ga.dresid, *dmid = m->ga.dresid_mid;
    /* |g| scales with the loss_scale backward used; cosines do not care, |g| and eta do */
    double inv = 1.0 / loss_scale;

#pragma omp parallel for schedule(static)
    for (int i = 0; i < (L + 1) * N; i++) s->rownorm[i] = sqrt(sq_norm(resid + (size_t)i * C, C));

    /* one position per iteration, batch rows in order: deterministic on any thread count */
#pragma omp parallel for schedule(static) collapse(2)
    for (int l = 0; l < L; l++)
        for (int t = 0; t < T; t++) {
            double u = 0, ua = 0, um = 0, cs = 0, ca = 0, cm = 0, *part = s->part + ((size_t)l * T + t) * 6;
            memset(part, 0, 6 * sizeof *part);
            for (int b = 0; b < B; b++) {
                size_t off = (size_t)l * NC + ((size_t)b * T + t) * C;
                const float *h = resid + off, *h1 = resid + off + NC, *a = mid + off, *g = dres + off,
                            *ga = dmid + off;
                double dot, dsq, dota, dsqa, dotm, dsqm;
                double gsq = sq_norm(g, C) * inv * inv, gasq = sq_norm(ga, C) * inv * inv;
                step_dot(h1, h, g, C, &dot, &dsq);
                step_dot(a, h, g, C, &dota, &dsqa);
                step_dot(h1, a, ga, C, &dotm, &dsqm);
                dot *= inv, dota *= inv, dotm *= inv;
                u += sqrt(dsq), ua += sqrt(dsqa), um += sqrt(dsqm);
                cs += descent_cos(dot, dsq, gsq), ca += descent_cos(dota, dsqa, gsq), cm += descent_cos(dotm, dsqm, gasq);
                part[0] += dot, part[1] += gsq, part[2] += dota, part[3] += gsq, part[4] += dotm, part[5] += gasq;
            }
            size_t o = (size_t)l * s->T + t;
            s->update[o] = u / B, s->update_attn[o] = ua / B, s->update_mlp[o] = um / B;
            s->cos[o] = cs / B, s->cos_attn[o] = ca / B, s->cos_mlp[o] = cm / B;
        }

    for (int l = 0; l < L; l++) {
        double sums[6] = {0};
        for (int t = 0; t < T; t++)
            for (int j = 0; j < 6; j++) sums[j] += s->part[((size_t)l * T + t) * 6 + j];
        s->eta[l] = sums[1] > 0 ? -sums[0] / sums[1] : NAN;
        s->eta_attn[l] = sums[3] > 0 ? -sums[2] / sums[3] : NAN;
        s->eta_mlp[l] = sums[5] > 0 ? -sums[4] / sums[5] : NAN;
    }
    for (int l = 0; l <= L; l++)
        for (int t = 0; t < T; t++) {
            double n = 0;
            for (int b = 0; b < B; b++) n += s->rownorm[(size_t)l * N + (size_t)b * T + t];
            s->norm[(size_t)l * s->T + t] = n / B;
        }
    for (int t = 0; t < T; t++) {
        double g = 0;
        for (int b = 0; b < B; b++) g += sqrt(sq_norm(dres + ((size_t)b * T + t) * C, C));
        s->grad0[t] = g * inv / B;
    }
}

/* S6 from the per-token norms. */
static void bucket_norms(signals_t *s, const gpt_t *m)
{
    int N = m->b * m->t, K = s->n_bucket;
    memset(s->bucket_tokens, 0, (size_t)K * sizeof *s->bucket_tokens);
    memset(s->norm_bucket, 0, (size_t)(s->L + 1) * K * sizeof *s->norm_bucket);
    for (int n = 0; n < N; n++) {
        int k = s->bucket_of[m->inputs[n]];
        s->bucket_tokens[k]++;
        for (int l = 0; l <= s->L; l++) s->norm_bucket[(size_t)l * K + k] += s->rownorm[(size_t)l * N + n];
    }
    for (int l = 0; l <= s->L; l++)
        for (int k = 0; k < K; k++)
            s->norm_bucket[(size_t)l * K + k] = s->bucket_tokens[k] ? s->norm_bucket[(size_t)l * K + k] / s->bucket_tokens[k] : NAN;
}

/* S8: attention of queries t >= 1 on key 0, averaged over batch, heads and queries. */
static void sink(signals_t *s, const gpt_t *m)
{
    int B = m->b, T = m->t, NH = m->d.NH;
    for (int l = 0; l < s->L; l++) {
        const float *att = m->a.att + (size_t)l * B * NH * T * T;
        double sum = 0;
        for (int bh = 0; bh < B * NH; bh++)
            for (int t = 1; t < T; t++) sum += att[((size_t)bh * T + t) * T];
        s->sink[l] = T > 1 ? sum / ((double)B * NH * (T - 1)) : NAN;
    }
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

/* S5 and S3b: the logit lens at every depth, over the chosen positions, lens_rows rows at a time. For S3b
 * the gradient of each row's own loss (dloss 1, not 1/N: only its direction enters the cosine) flows back
 * through the unembedding and LNf to h^l. */
static void logit_lens(signals_t *s, const gpt_t *m)
{
    const kernels_ops_t *k = m->k;
    int B = m->b, T = m->t, C = s->C, V = s->V, L = s->L, N = B * T, R = s->lens_rows, n_sel = 0;
    size_t NC = (size_t)N * C;
    for (int n = 0; n < N; n++)
        if ((n % T) % s->opt.pos_stride == 0) s->rows[n_sel++] = n;
    if (s->opt.local) {
        for (int v = 0; v < V; v++)
            for (int c = 0; c < C; c++) s->wte_t[(size_t)c * V + v] = m->p.wte[(size_t)v * C + c];
        for (int l = 0; l < L; l++)
            for (int t = 0; t < T; t += s->opt.pos_stride) s->cos_local[(size_t)l * s->T + t] = 0;
    }
    for (int l = 0; l <= L; l++) {
        const float *h = m->a.resid + l * NC;
        double loss = 0;
        for (int r0 = 0; r0 < n_sel; r0 += R) {
            int nr = n_sel - r0 < R ? n_sel - r0 : R;
            for (int j = 0; j < nr; j++) {
                int n = s->rows[r0 + j];
                memcpy(s->lx + (size_t)j * C, h + (size_t)n * C, (size_t)C * sizeof(float));
                s->ltarget[j] = m->targets[n];
            }
            k->layernorm_forward(s->lnorm, s->lmean, s->lrstd, s->lx, m->p.lnfw, m->p.lnfb, nr, C);
            k->matmul_forward(s->logits, s->lnorm, m->p.wte, NULL, nr, C, V, 0);
            k->crossentropy_forward(s->logits, s->lloss, s->ltarget, nr, V);
            for (int j = 0; j < nr; j++) loss += s->lloss[j];
            if (!s->opt.local || l == L) continue;
            k->crossentropy_backward(s->logits, s->ltarget, 1.0f, nr, V);
            k->matmul_forward(s->lnorm, s->logits, s->wte_t, NULL, nr, V, C, 0);
            memset(s->ldx, 0, (size_t)nr * C * sizeof(float));
            memset(s->dw_junk, 0, 2 * (size_t)C * sizeof(float));
            k->layernorm_backward(s->ldx, s->dw_junk, s->dw_junk + C, s->lnorm, s->lx, m->p.lnfw, s->lmean, s->lrstd,
                                  nr, C);
            for (int j = 0; j < nr; j++) {
                int n = s->rows[r0 + j];
                double dot, dsq;
                step_dot(h + NC + (size_t)n * C, h + (size_t)n * C, s->ldx + (size_t)j * C, C, &dot, &dsq);
                s->cos_local[(size_t)l * s->T + n % T] += descent_cos(dot, dsq, sq_norm(s->ldx + (size_t)j * C, C)) / B;
            }
        }
        s->lens[l] = loss / n_sel;
    }
}

void signals_compute(signals_t *s, const gpt_t *m, float loss_scale)
{
    CHECK(m->d.L == s->L && m->d.T == s->T && m->d.C == s->C && m->d.V == s->V && m->b <= s->B && m->b >= 1,
          "signals_compute: model (L %d, T %d, C %d, V %d, batch %d) does not match the signals context "
          "(L %d, T %d, C %d, V %d, capacity %d)", m->d.L, m->d.T, m->d.C, m->d.V, m->b, s->L, s->T, s->C, s->V, s->B);
    CHECK(loss_scale != 0, "signals_compute: loss_scale 0 leaves no gradient to measure");
    int L = s->L, T = s->T;
    s->batch = m->b;
    s->tokens = (int64_t)m->b * m->t;
    /* positions past the forward's length, and the lens when not asked for, read as missing */
    double *per_pos[] = {s->update, s->update_attn, s->update_mlp, s->cos, s->cos_attn, s->cos_mlp, s->cos_local};
    for (size_t i = 0; i < sizeof per_pos / sizeof *per_pos; i++) fill_nan(per_pos[i], (size_t)L * T);
    fill_nan(s->norm, (size_t)(L + 1) * T);
    fill_nan(s->grad0, (size_t)T);
    fill_nan(s->lens, (size_t)L + 1);

    stream_signals(s, m, loss_scale);
    bucket_norms(s, m);
    sink(s, m);
    weight_norms(s, m);
    if (s->opt.lens) logit_lens(s, m);
}

void signals_spectrum(signals_t *s, spectrum_t *sp, const gpt_t *m)
{
    CHECK(sp->k == s->opt.n_sv && sp->C == s->C, "signals_spectrum: spectrum keeps %d values of %d columns, "
          "signals expect %d of %d", sp->k, sp->C, s->opt.n_sv, s->C);
    size_t N = (size_t)m->b * m->t;
    for (int l = 0; l <= s->L; l++)
        spectrum_compute(sp, m->a.resid + l * N * s->C, (int)N, s->sv + (size_t)l * s->opt.n_sv, &s->erank[l]);
}
