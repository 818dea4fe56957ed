/* Signals S1-S8 against independent computations: a constructed residual stream whose steps are exact
 * multiples of the gradients (cosine +-1, known step sizes), a hand-set attention matrix, hand-counted
 * frequency buckets, naive norms, the logit lens against a double-precision re-implementation (lens[L]
 * against the training loss) and the local descent cosine against finite differences. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "model/gpt.h"
#include "core/rng.h"
#include "trace/signals.h"

#include "check.h"

static const signals_opts_t no_lens = {.lens = 0, .local = 0, .pos_stride = 1, .n_sv = 2};
static const signals_opts_t full_lens = {.lens = 1, .local = 1, .pos_stride = 1, .n_sv = 2};

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
    signals_create(&sg, &d, B, NULL, &no_lens);
    signals_compute(&sg, &m, s);
    for (int l = 0; l < L; l++) {
        assert_near(sg.eta[l], ea[l] + 2 * em[l], 1e-5);
        assert_near(sg.eta_attn[l], ea[l], 1e-5);
        assert_near(sg.eta_mlp[l], em[l], 1e-5);
        assert_near(sg.sink[l], (l + 1) / 10.0, 1e-7);
        for (int t = 0; t < T; t++) {
            size_t o = (size_t)l * T + t;
            assert_near(sg.cos[o], ea[l] + 2 * em[l] > 0 ? 1.0 : -1.0, 1e-6);
            assert_near(sg.cos_attn[o], 1.0, 1e-6);
            assert_near(sg.cos_mlp[o], em[l] > 0 ? 1.0 : -1.0, 1e-6);
            double gn = 0;
            for (int b = 0; b < B; b++) gn += norm_f(m.ga.dresid + l * NC + ((size_t)b * T + t) * C, C) / s / B;
            assert_near(sg.update_attn[o], fabs(ea[l]) * gn, 1e-5 * gn);
            assert_near(sg.update_mlp[o], fabs(2 * em[l]) * gn, 1e-5 * gn);
            assert_near(sg.update[o], fabs(ea[l] + 2 * em[l]) * gn, 1e-5 * gn);
            assert_true(isnan(sg.cos_local[o]));
        }
    }
    for (int t = 0; t < T; t++) {
        double g0 = 0;
        for (int b = 0; b < B; b++) g0 += norm_f(m.ga.dresid + ((size_t)b * T + t) * C, C) / s / B;
        assert_near(sg.grad0[t], g0, 1e-6 * g0);
    }
    for (int l = 0; l <= L; l++) assert_true(isnan(sg.lens[l]));
    assert_int_equal(sg.tokens, N);
    assert_int_equal(sg.batch, B);
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
    signals_t sg;
    signals_create(&sg, &d, 2, counts, &no_lens);
    assert_int_equal(sg.n_bucket, 10);
    const int64_t want_ids[10] = {2, 2, 2, 1, 0, 0, 0, 0, 0, 1}, want_lo[10] = {0, 2, 4, 8, 16, 32, 64, 128, 256, 512};
    for (int k = 0; k < 10; k++) {
        assert_int_equal(sg.bucket_ids[k], want_ids[k]);
        assert_int_equal(sg.bucket_lo[k], want_lo[k]);
    }
    signals_destroy(&sg);
    signals_create(&sg, &d, 2, NULL, &no_lens);
    assert_int_equal(sg.n_bucket, 1);
    assert_int_equal(sg.bucket_ids[0], 8);
    signals_destroy(&sg);
}

/* S1, S6, S8 and the weight norms after a real forward/backward, against naive loops written here. */
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
    gpt_backward(&m, 1.0f);
    signals_t sg;
    signals_create(&sg, &d, B, counts, &no_lens);
    signals_compute(&sg, &m, 1.0f);

    for (int l = 0; l <= L; l++)
        for (int t = 0; t < T; t++) {
            double want = 0;
            for (int b = 0; b < B; b++) want += norm_f(m.a.resid + (((size_t)l * B + b) * T + t) * C, C) / B;
            assert_near(sg.norm[(size_t)l * T + t], want, 1e-6 * want);
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
    gpt_backward(&m, 0.5f);
    signals_opts_t o = full_lens;
    o.pos_stride = pos_stride;
    signals_t sg;
    signals_create(&sg, &d, B, NULL, &o);
    signals_compute(&sg, &m, 0.5f);

    double h[64], hp[64], step = 1e-5;
    for (int l = 0; l <= L; l++) {
        double want = 0, train = 0;
        int n_sel = 0;
        for (int i = 0; i < N; i++) {
            if ((i % T) % pos_stride) continue;
            for (int c = 0; c < C; c++) h[c] = m.a.resid[l * NC + (size_t)i * C + c];
            want += lens_loss(&m, h, tg[i]);
            train += m.a.losses[i];
            n_sel++;
        }
        assert_near(sg.lens[l], want / n_sel, 2e-5 * want / n_sel);
        if (l == L) assert_near(sg.lens[L], train / n_sel, 1e-5 * train / n_sel);
        if (l == L && pos_stride == 1) assert_near(sg.lens[L], loss, 1e-5 * loss);
    }
    for (int l = 0; l < L; l++)
        for (int t = 0; t < T; t++) {
            double got = sg.cos_local[(size_t)l * T + t];
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

/* Gradient-based signals do not depend on the loss_scale backward ran with. */
static void test_loss_scale_divided_out(void **state)
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
    signals_t a, b;
    signals_create(&a, &d, B, NULL, &no_lens);
    signals_create(&b, &d, B, NULL, &no_lens);
    gpt_forward(&m, in, tg, B, T);
    gpt_backward(&m, 1.0f);
    signals_compute(&a, &m, 1.0f);
    gpt_forward(&m, in, tg, B, T);
    gpt_backward(&m, 1.0f / 8);
    signals_compute(&b, &m, 1.0f / 8);
    for (int l = 0; l < L; l++) {
        assert_near(b.eta[l], a.eta[l], 1e-5 * fabs(a.eta[l]));
        assert_near(b.eta_mlp[l], a.eta_mlp[l], 1e-5 * fabs(a.eta_mlp[l]));
        for (int t = 0; t < T; t++) assert_near(b.cos[l * T + t], a.cos[l * T + t], 1e-6);
    }
    /* left undivided, these would come out 8 times smaller */
    for (int t = 0; t < T; t++) assert_near(b.grad0[t], a.grad0[t], 1e-6 * a.grad0[t]);
    signals_destroy(&a);
    signals_destroy(&b);
    gpt_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constructed_descent),
        cmocka_unit_test(test_buckets_by_hand),
        cmocka_unit_test(test_norms_naive),
        cmocka_unit_test(test_lens_all_positions),
        cmocka_unit_test(test_lens_position_subset),
        cmocka_unit_test(test_loss_scale_divided_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
