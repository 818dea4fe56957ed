/* Signals S1-S8 and H4 against independent computations: a constructed residual stream whose steps are
 * exact multiples of the gradients (cosine +-1, known step sizes), a hand-set attention matrix,
 * hand-counted frequency buckets, naive norms by group, the logit lens against a double-precision
 * re-implementation (lens[L] against the training loss) by group and by genre, the local descent cosine
 * against finite differences, the per-token Spearman and its replicates against a naive rank correlation,
 * and the same values whatever the chunking of the windows. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "core/err.h"
#include "core/rng.h"
#include "model/gpt.h"
#include "trace/signals.h"

#include "tests/check.h"

static const signals_opts_t no_lens = {.lens = 0, .local = 0, .pos_stride = 1, .n_sv = 2};
static const signals_opts_t full_lens = {.lens = 1, .local = 1, .pos_stride = 1, .n_sv = 2};

/* Begin, add the last forward/backward of m (its windows in group places slot, targets' genres genre), end. */
static void measure(signals_t *sg, const gpt_t *m, float loss_scale, const int *slot, const int32_t *genre)
{
    signals_begin(sg, m);
    signals_add(sg, m, loss_scale, slot, genre);
    signals_end(sg);
}

static void random_tokens(rng_t *r, int32_t *x, int n, int V)
{
    for (int i = 0; i < n; i++) x[i] = (int32_t)(rng_u64(r) % (uint64_t)V);
}

/* Parameters larger than the training init (as test_model does), so the lens gradients are well above
 * float noise and LayerNorm gains and biases matter. */
static void init_params(gpt_t *m, uint64_t seed)
{
    rng_t r;
    rng_seed(&r, seed);
    for (int i = 0; i < m->n_tensors; i++) {
        const gpt_tensor_t *t = &m->tensors[i];
        fill_normal(&r, m->params + t->offset, t->size, t->decay ? 0.3f : 0.1f);
        if (strstr(t->name, "ln") && t->name[strlen(t->name) - 1] == 'w')
            for (size_t j = 0; j < t->size; j++) m->params[t->offset + j] += 1.0f;
    }
}

static double norm_f(const float *x, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)x[i] * x[i];
    return sqrt(s);
}

/* The constructed case: g^l = dresid[l]/s random, dL/da^l = 2 g^l, and the stream built as
 * a^l = h^l - ea[l] g^l, h^{l+1} = a^l - em[l] (2 g^l). Every step is then an exact multiple of minus its
 * gradient: cosines are sign(e), the implied steps are ea, em and ea + 2 em (the factor 2 tells the MLP
 * half's gradient from the block's). */
static void test_constructed_descent(void **state)
{
    (void)state;
    const gpt_dims_t d = {.V = 9, .T = 5, .L = 3, .NH = 2, .C = 6};
    const int B = 2, N = B * d.T, C = d.C, L = d.L, T = d.T, NH = d.NH;
    const size_t NC = (size_t)N * C;
    const float s = 0.25f, ea[3] = {0.5f, 1.0f, 1.5f}, em[3] = {0.3f, -0.4f, -1.0f};
    gpt_t m;
    gpt_create(&m, &d, B, &kernels_fast);
    rng_t r;
    rng_seed(&r, 7);
    int32_t in[10], tg[10];
    random_tokens(&r, in, N, d.V);
    random_tokens(&r, tg, N, d.V);
    m.inputs = in, m.targets = tg, m.b = B, m.t = T;
    fill_normal(&r, m.a.resid, NC, 1.0f);
    fill_normal(&r, m.ga.dresid, (L + 1) * NC, 0.01f);
    for (int l = 0; l < L; l++) {
        float *h = m.a.resid + l * NC, *a = m.a.resid_mid + l * NC, *h1 = h + NC, *g = m.ga.dresid + l * NC;
        float *gm = m.ga.dresid_mid + l * NC;
        for (size_t i = 0; i < NC; i++) {
            gm[i] = 2 * g[i];
            a[i] = h[i] - ea[l] * g[i] / s;
            h1[i] = a[i] - em[l] * gm[i] / s;
        }
    }
    /* hand-set attention: every query t >= 1 of layer l puts (l+1)/10 on key 0; query 0 (excluded) 1 */
    for (int l = 0; l < L; l++)
        for (int bh = 0; bh < B * NH; bh++)
            for (int t = 0; t < T; t++) m.a.att[(((size_t)l * B * NH + bh) * T + t) * T] = t ? (l + 1) / 10.0f : 1.0f;

    signals_t sg;
    const signals_share_t one = {1, 1, N};
    const int slot[2] = {0, 0};
    signals_create(&sg, &d, B, NULL, &no_lens, &one);
    measure(&sg, &m, s, slot, NULL);
    /* g is the gradient of each window's own mean loss: the backward's gradient (of s x the mean over the
     * chunk's B windows) times B / s, so the implied steps come out divided by B */
    for (int l = 0; l < L; l++) {
        assert_near(sg.eta[l], (ea[l] + 2 * em[l]) / B, 1e-5);
        assert_near(sg.eta_attn[l], ea[l] / B, 1e-5);
        assert_near(sg.eta_mlp[l], em[l] / B, 1e-5);
        assert_near(sg.sink[l], (l + 1) / 10.0, 1e-7);
        assert_near(sg.cos[l], ea[l] + 2 * em[l] > 0 ? 1.0 : -1.0, 1e-6);
        for (int t = 0; t < T; t++) {
            size_t o = (size_t)l * T + t;
            assert_near(sg.cos_pos[o], ea[l] + 2 * em[l] > 0 ? 1.0 : -1.0, 1e-6);
            assert_near(sg.cos_attn_pos[o], 1.0, 1e-6);
            assert_near(sg.cos_mlp_pos[o], em[l] > 0 ? 1.0 : -1.0, 1e-6);
            double gn = 0;
            for (int b = 0; b < B; b++) gn += norm_f(m.ga.dresid + l * NC + ((size_t)b * T + t) * C, C) / s / B;
            assert_near(sg.update_attn[o], fabs(ea[l]) * gn, 1e-5 * gn);
            assert_near(sg.update_mlp[o], fabs(2 * em[l]) * gn, 1e-5 * gn);
            assert_near(sg.update[o], fabs(ea[l] + 2 * em[l]) * gn, 1e-5 * gn);
            assert_true(isnan(sg.cos_local_pos[o]));
        }
        assert_true(isnan(sg.cos_local[l]));
    }
    for (int t = 0; t < T; t++) {
        double g0 = 0;
        for (int b = 0; b < B; b++) g0 += norm_f(m.ga.dresid + ((size_t)b * T + t) * C, C) * B / s / B;
        assert_near(sg.grad0[t], g0, 1e-6 * g0);
    }
    for (int l = 0; l <= L; l++) assert_true(isnan(sg.lens[l]));
    assert_int_equal(sg.group_windows[0], B);
    signals_destroy(&sg);
    gpt_destroy(&m);
}

static void test_buckets_by_hand(void **state)
{
    (void)state;
    const uint64_t counts[] = {0, 1, 2, 3, 4, 7, 8, 1000};
    const int want_bucket[] = {0, 0, 1, 1, 2, 2, 3, 9};
    for (int v = 0; v < 8; v++) assert_int_equal(signals_bucket(counts[v]), want_bucket[v]);
    assert_int_equal(signals_bucket(1023), 9);
    assert_int_equal(signals_bucket(1024), 10);
    assert_int_equal(signals_bucket(UINT64_MAX), 63);

    const gpt_dims_t d = {.V = 8, .T = 4, .L = 1, .NH = 1, .C = 3};
    const signals_share_t one = {1, 1, 0};
    signals_t sg;
    signals_create(&sg, &d, 2, counts, &no_lens, &one);
    assert_int_equal(sg.n_bucket, 10);
    const int64_t want_ids[10] = {2, 2, 2, 1, 0, 0, 0, 0, 0, 1}, want_lo[10] = {0, 2, 4, 8, 16, 32, 64, 128, 256, 512};
    for (int k = 0; k < 10; k++) {
        assert_int_equal(sg.bucket_ids[k], want_ids[k]);
        assert_int_equal(sg.bucket_lo[k], want_lo[k]);
    }
    signals_destroy(&sg);
    signals_create(&sg, &d, 2, NULL, &no_lens, &one);
    assert_int_equal(sg.n_bucket, 1);
    assert_int_equal(sg.bucket_ids[0], 8);
    signals_destroy(&sg);
}

/* S1 by group, S6, S8 and the weight norms after a real forward/backward, against naive loops written here:
 * window 0 in group place 0, windows 1 and 2 in group place 1. */
static void test_norms_naive(void **state)
{
    (void)state;
    const gpt_dims_t d = {.V = 8, .T = 6, .L = 2, .NH = 2, .C = 8};
    const int B = 3, N = B * d.T, C = d.C, T = d.T, L = d.L, NH = d.NH;
    const uint64_t counts[8] = {0, 1, 5, 9, 17, 40, 100, 3};
    gpt_t m;
    gpt_create(&m, &d, B, &kernels_fast);
    init_params(&m, 3);
    rng_t r;
    rng_seed(&r, 11);
    int32_t in[18], tg[18];
    random_tokens(&r, in, N, d.V);
    random_tokens(&r, tg, N, d.V);
    gpt_forward(&m, in, tg, B, T);
    gpt_backward_acts(&m, 1.0f);
    signals_t sg;
    const signals_share_t two = {2, 1, N};
    const int slot[3] = {0, 1, 1};
    signals_create(&sg, &d, B, counts, &no_lens, &two);
    measure(&sg, &m, 1.0f, slot, NULL);
    signals_count(&sg, in, NULL, B); /* the merge weights, from the windows alone */

    const int first[2] = {0, 1}, count[2] = {1, 2};
    for (int g = 0; g < 2; g++) {
        assert_int_equal(sg.group_windows[g], count[g]);
        for (int l = 0; l <= L; l++)
            for (int t = 0; t < T; t++) {
                double want = 0;
                for (int b = first[g]; b < first[g] + count[g]; b++)
                    want += norm_f(m.a.resid + (((size_t)l * B + b) * T + t) * C, C) / count[g];
                assert_near(sg.norm[((size_t)g * (L + 1) + l) * T + t], want, 1e-6 * want);
            }
    }
    int K = sg.n_bucket;
    for (int k = 0; k < K; k++) {
        int n = 0;
        for (int i = 0; i < N; i++) n += signals_bucket(counts[in[i]]) == k;
        assert_int_equal(sg.bucket_tokens[k], n);
        for (int l = 0; l <= L; l++) {
            double sum = 0;
            for (int i = 0; i < N; i++)
                if (signals_bucket(counts[in[i]]) == k) sum += norm_f(m.a.resid + ((size_t)l * N + i) * C, C);
            double got = sg.norm_bucket[(size_t)l * K + k];
            if (n) assert_near(got, sum / n, 1e-6 * sum / n);
            else assert_true(isnan(got));
        }
    }
    for (int l = 0; l < L; l++) {
        double sum = 0;
        for (int b = 0; b < B; b++)
            for (int h = 0; h < NH; h++)
                for (int t = 1; t < T; t++) sum += m.a.att[((((size_t)l * B + b) * NH + h) * T + t) * T];
        assert_near(sg.sink[l], sum / (B * NH * (T - 1)), 1e-7);
    }
    double sq[SIGNALS_N_GROUPS] = {0};
    const char *names[SIGNALS_N_GROUPS][7] = {{"wte", "wpe"},
                                              {"h.qkvw", "h.qkvb", "h.projw", "h.projb"},
                                              {"h.fcw", "h.fcb", "h.fcprojw", "h.fcprojb"},
                                              {"h.ln1w", "h.ln1b", "h.ln2w", "h.ln2b", "lnfw", "lnfb"}};
    for (int i = 0; i < m.n_tensors; i++)
        for (int g = 0; g < SIGNALS_N_GROUPS; g++)
            for (int j = 0; names[g][j]; j++)
                if (!strcmp(m.tensors[i].name, names[g][j]))
                    sq[g] += pow(norm_f(m.params + m.tensors[i].offset, (int)m.tensors[i].size), 2);
    for (int g = 0; g < SIGNALS_N_GROUPS; g++) assert_near(sg.wnorm[g], sqrt(sq[g]), 1e-6 * sqrt(sq[g]));
    signals_destroy(&sg);
    gpt_destroy(&m);
}

/* The token's own logit-lens loss at h (C values), in double: CE(wte LNf(h), y). */
static double lens_loss(const gpt_t *m, const double *h, int y)
{
    int C = m->d.C, V = m->d.V;
    double mean = 0, var = 0, z[64], zmax = -INFINITY, sum = 0, ln[64];
    for (int c = 0; c < C; c++) mean += h[c] / C;
    for (int c = 0; c < C; c++) var += (h[c] - mean) * (h[c] - mean) / C;
    for (int c = 0; c < C; c++) ln[c] = (h[c] - mean) / sqrt(var + 1e-5) * m->p.lnfw[c] + m->p.lnfb[c];
    for (int v = 0; v < V; v++) {
        z[v] = 0;
        for (int c = 0; c < C; c++) z[v] += m->p.wte[(size_t)v * C + c] * ln[c];
        zmax = fmax(zmax, z[v]);
    }
    for (int v = 0; v < V; v++) sum += exp(z[v] - zmax);
    return log(sum) + zmax - z[y];
}

/* S5 against the double lens and the training loss; S3b against central differences of the lens loss. */
static void check_lens(int pos_stride)
{
    const gpt_dims_t d = {.V = 11, .T = 7, .L = 2, .NH = 2, .C = 8};
    const int B = 2, N = B * d.T, C = d.C, T = d.T, L = d.L;
    const size_t NC = (size_t)N * C;
    gpt_t m;
    gpt_create(&m, &d, B, &kernels_fast);
    init_params(&m, 5);
    rng_t r;
    rng_seed(&r, 13);
    int32_t in[14], tg[14];
    random_tokens(&r, in, N, d.V);
    random_tokens(&r, tg, N, d.V);
    float loss = gpt_forward(&m, in, tg, B, T);
    gpt_backward_acts(&m, 0.5f);
    signals_opts_t o = full_lens;
    o.pos_stride = pos_stride;
    signals_t sg;
    const signals_share_t one = {1, 2, N};
    const int slot[2] = {0, 0};
    /* the first three targets of each window in genre 1, the rest in genre 0 */
    int32_t genre[14];
    for (int i = 0; i < N; i++) genre[i] = i % T < 3;
    signals_create(&sg, &d, B, NULL, &o, &one);
    measure(&sg, &m, 0.5f, slot, genre);
    signals_count(&sg, in, genre, B);

    double h[64], hp[64], step = 1e-5;
    size_t D = (size_t)L + 1;
    for (int l = 0; l <= L; l++) {
        double want = 0, train = 0, by_genre[2] = {0};
        int n_sel = 0, n_genre[2] = {0};
        for (int i = 0; i < N; i++) {
            if ((i % T) % pos_stride) continue;
            for (int c = 0; c < C; c++) h[c] = m.a.resid[l * NC + (size_t)i * C + c];
            double ce = lens_loss(&m, h, tg[i]);
            want += ce, by_genre[genre[i]] += ce, n_genre[genre[i]]++;
            train += m.a.losses[i];
            n_sel++;
        }
        assert_near(sg.lens[l], want / n_sel, 2e-5 * want / n_sel);
        for (int c = 0; c < 2; c++) {
            assert_int_equal(sg.genre_tokens[c], n_genre[c]);
            assert_near(sg.lens_genre[c * D + l], by_genre[c] / n_genre[c], 2e-5 * by_genre[c] / n_genre[c]);
        }
        if (l == L) assert_near(sg.lens[L], train / n_sel, 1e-5 * train / n_sel);
        if (l == L && pos_stride == 1) assert_near(sg.lens[L], loss, 1e-5 * loss);
    }
    for (int l = 0; l < L; l++) {
        double sum = 0;
        int n = 0;
        for (int t = 0; t < T; t++) {
            double got = sg.cos_local_pos[(size_t)l * T + t];
            if (t % pos_stride) {
                assert_true(isnan(got));
                continue;
            }
            double want = 0;
            for (int b = 0; b < B; b++) {
                size_t row = l * NC + ((size_t)b * T + t) * C;
                double g[64], dot = 0, gg = 0, dd = 0;
                for (int c = 0; c < C; c++) h[c] = m.a.resid[row + c];
                for (int c = 0; c < C; c++) {
                    memcpy(hp, h, sizeof h);
                    hp[c] = h[c] + step;
                    double up = lens_loss(&m, hp, tg[b * T + t]);
                    hp[c] = h[c] - step;
                    g[c] = (up - lens_loss(&m, hp, tg[b * T + t])) / (2 * step);
                }
                for (int c = 0; c < C; c++) {
                    double D = (double)m.a.resid[row + NC + c] - m.a.resid[row + c];
                    dot -= D * g[c], gg += g[c] * g[c], dd += D * D;
                }
                want += dot / sqrt(gg * dd) / B;
            }
            assert_near(got, want, 2e-4);
            sum += want * B, n += B;
        }
        assert_near(sg.cos_local[l], sum / n, 2e-4); /* the group's mean over its lens tokens */
    }
    signals_destroy(&sg);
    gpt_destroy(&m);
}

static void test_lens_all_positions(void **state)
{
    (void)state;
    check_lens(1);
}

static void test_lens_position_subset(void **state)
{
    (void)state;
    check_lens(3);
}

/* Gradient-based signals do not depend on the loss_scale backward ran with, nor on how the windows are
 * cut into chunks: g is each window's own mean-loss gradient. */
static void test_scale_and_chunks_divided_out(void **state)
{
    (void)state;
    const gpt_dims_t d = {.V = 10, .T = 6, .L = 2, .NH = 2, .C = 8};
    const int B = 2, N = B * d.T, L = d.L, T = d.T;
    gpt_t m;
    gpt_create(&m, &d, B, &kernels_fast);
    init_params(&m, 9);
    rng_t r;
    rng_seed(&r, 17);
    int32_t in[12], tg[12];
    random_tokens(&r, in, N, d.V);
    random_tokens(&r, tg, N, d.V);
    signals_t a, b, c;
    const signals_share_t one = {1, 1, N};
    const int slot[2] = {0, 0};
    signals_create(&a, &d, B, NULL, &no_lens, &one);
    signals_create(&b, &d, B, NULL, &no_lens, &one);
    signals_create(&c, &d, B, NULL, &no_lens, &one);
    gpt_forward(&m, in, tg, B, T);
    gpt_backward_acts(&m, 1.0f);
    measure(&a, &m, 1.0f, slot, NULL);
    gpt_forward(&m, in, tg, B, T);
    gpt_backward_acts(&m, 1.0f / 8);
    measure(&b, &m, 1.0f / 8, slot, NULL);
    /* one window per chunk */
    signals_begin(&c, &m);
    for (int w = 0; w < B; w++) {
        gpt_forward(&m, in + w * T, tg + w * T, 1, T);
        gpt_backward_acts(&m, 1.0f);
        signals_add(&c, &m, 1.0f, slot, NULL);
    }
    signals_end(&c);
    const signals_t *other[2] = {&b, &c};
    for (int k = 0; k < 2; k++) {
        const signals_t *o = other[k];
        for (int l = 0; l < L; l++) {
            assert_near(o->eta[l], a.eta[l], 1e-5 * fabs(a.eta[l]));
            assert_near(o->eta_mlp[l], a.eta_mlp[l], 1e-5 * fabs(a.eta_mlp[l]));
            assert_near(o->cos[l], a.cos[l], 1e-6);
            for (int t = 0; t < T; t++) assert_near(o->cos_pos[l * T + t], a.cos_pos[l * T + t], 1e-6);
        }
        /* left undivided, these would come out 8 (or 2) times smaller */
        for (int t = 0; t < T; t++) assert_near(o->grad0[t], a.grad0[t], 1e-6 * a.grad0[t]);
    }
    signals_destroy(&a);
    signals_destroy(&b);
    signals_destroy(&c);
    gpt_destroy(&m);
}

/* Spearman with ties given their average rank, the slow way: the reference for H4. */
static double naive_spearman(const double *x, const double *y, int n)
{
    double rx[64], ry[64], mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < n; i++) {
        double lx = 0, ex = 0, ly = 0, ey = 0;
        for (int j = 0; j < n; j++) lx += x[j] < x[i], ex += x[j] == x[i], ly += y[j] < y[i], ey += y[j] == y[i];
        rx[i] = lx + (ex + 1) / 2, ry[i] = ly + (ey + 1) / 2;
        mx += rx[i] / n, my += ry[i] / n;
    }
    for (int i = 0; i < n; i++) sxy += (rx[i] - mx) * (ry[i] - my), sxx += pow(rx[i] - mx, 2), syy += pow(ry[i] - my, 2);
    return sxy / sqrt(sxx * syy);
}

/* H4 over every probe token, and without each group's tokens, against the naive rank correlation of
 * log(1 + count) with |h^l|; here one rank holds groups 3 and 5 of 6. */
static void test_freq_rho(void **state)
{
    (void)state;
    const gpt_dims_t d = {.V = 12, .T = 5, .L = 2, .NH = 2, .C = 8};
    const int B = 3, N = B * d.T, L = d.L, C = d.C;
    const uint64_t counts[12] = {0, 1, 1, 3, 9, 9, 27, 81, 5, 2, 2, 700};
    gpt_t m;
    gpt_create(&m, &d, B, &kernels_fast);
    init_params(&m, 21);
    rng_t r;
    rng_seed(&r, 23);
    int32_t in[15], tg[15];
    random_tokens(&r, in, N, d.V);
    random_tokens(&r, tg, N, d.V);
    gpt_forward(&m, in, tg, B, d.T);
    gpt_backward_acts(&m, 1.0f);
    signals_t sg;
    const signals_share_t two = {2, 1, N};
    const int slot[3] = {1, 0, 1};
    const int64_t group_of_place[2] = {3, 5};
    signals_create(&sg, &d, B, counts, &no_lens, &two);
    measure(&sg, &m, 1.0f, slot, NULL);
    signals_count(&sg, in, NULL, B); /* the merge weights, from the windows alone */
    signals_freq_rho(&sg, MPI_COMM_WORLD, group_of_place, 6);
    double x[15], y[15];
    for (int l = 0; l <= L; l++)
        for (int leave = -1; leave < 2; leave++) {
            int n = 0;
            for (int i = 0; i < N; i++) {
                if (slot[i / d.T] == leave) continue;
                x[n] = log1p((double)counts[in[i]]);
                y[n++] = norm_f(m.a.resid + ((size_t)l * N + i) * C, C);
            }
            double want = naive_spearman(x, y, n);
            double got = leave < 0 ? sg.rho_freq[l] : sg.rho_freq_jk[(size_t)leave * (L + 1) + l];
            assert_near(got, want, 1e-6);
        }
    signals_destroy(&sg);
    gpt_destroy(&m);
}

static int mpi_up(void **state)
{
    (void)state;
    return MPI_Init(NULL, NULL) == MPI_SUCCESS ? 0 : -1;
}

static int mpi_down(void **state)
{
    (void)state;
    return MPI_Finalize() == MPI_SUCCESS ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constructed_descent),
        cmocka_unit_test(test_buckets_by_hand),
        cmocka_unit_test(test_norms_naive),
        cmocka_unit_test(test_lens_all_positions),
        cmocka_unit_test(test_lens_position_subset),
        cmocka_unit_test(test_scale_and_chunks_divided_out),
        cmocka_unit_test(test_freq_rho),
    };
    return cmocka_run_group_tests(tests, mpi_up, mpi_down);
}
