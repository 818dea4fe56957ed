/* Kernels: the optimised set (kernels_fast) against the naive reference (kernels_ref), the reference's
 * backward passes against finite differences of its forward passes, and known answers (causality,
 * softmax rows, uniform cross-entropy, LayerNorm statistics, column sums). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "model/kernels.h"
#include "core/rng.h"

#include "tests/check.h"

/* Tolerance of fast against reference, normwise (relative to the largest magnitude in the array, see
 * check_close_scaled). The fast kernels sum in float (OpenBLAS, simd reductions) where the reference sums
 * in double; recursive float summation of K terms errs by at most ~K * 6e-8 of the sum of magnitudes, and
 * K <= 4*70 here, so the worst case is ~2e-5 and the typical one (random-signed errors, sqrt(K)) ~1e-6.
 * 1e-4 leaves headroom over that while any real defect (a missing term, a wrong index, a skipped scale)
 * moves results by O(1) relative. */
#define FAST_RTOL 1e-4

/* Finite differences of the reference, objective sum(dout * forward(x)) accumulated in double. The
 * forward's outputs are rounded to float (relative 6e-8), so the objective carries noise of about
 * sqrt(n_out) * 6e-8 * |out|, which the central difference divides by 2h: with h = 1e-2 that is ~1e-5
 * absolute for our sizes. Truncation error is h^2/6 * f''' ~ 2e-5 for these smooth O(1)-scaled layers.
 * So 1e-3 relative to the element plus 1e-3 of the largest gradient of the tensor is well above the noise
 * and well below the error of any wrong formula (a missing 1/sqrt(hs) is 50%, a dropped LayerNorm term
 * O(1)). The perturbed values are rounded to float, so the step used is the one actually taken. */
#define FD_H 1e-2f
#define FD_RTOL 1e-3
#define FD_ATOL 1e-3
enum { FD_SAMPLES = 60 }; /* elements checked per tensor (all of them when the tensor is smaller) */

static float *vec(size_t n) { return err_calloc(n, sizeof(float)); }

static float *randn(rng_t *r, size_t n, float scale)
{
    float *x = vec(n);
    fill_normal(r, x, n, scale);
    return x;
}

static float *copy(const float *x, size_t n)
{
    float *y = vec(n);
    memcpy(y, x, n * sizeof *y);
    return y;
}

/* Fills with NaN: an output the kernel should overwrite but does not (or reads first) shows up. */
static float *nans(size_t n)
{
    float *x = vec(n);
    for (size_t i = 0; i < n; i++) x[i] = NAN;
    return x;
}

static int32_t *tokens(rng_t *r, size_t n, int V)
{
    int32_t *t = err_calloc(n, sizeof *t);
    for (size_t i = 0; i < n; i++) t[i] = (int32_t)(rng_u64(r) % (uint64_t)V);
    return t;
}

static double dot_d(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* Shapes for fast-vs-reference: T = 1, T not a multiple of 16, C not a multiple of 8 or 32, C above one
 * 32-column block with a ragged tail (70 = 32 + 32 + 6), one head and several, head sizes 1..36. */
typedef struct {
    int B, T, C, NH;
} shape_t;

static const shape_t shapes[] = {
    {1, 1, 8, 1}, {2, 5, 12, 3}, {3, 17, 45, 5}, {2, 33, 36, 1}, {2, 19, 70, 2}, {1, 7, 6, 6},
};
enum { N_SHAPES = sizeof shapes / sizeof *shapes };

/* ---------------- finite differences ---------------- */

typedef double (*objective_fn)(void *ctx);

/* Central differences of f with respect to up to FD_SAMPLES elements of x (random ones when x is larger),
 * compared with the analytic gradient. */
static void fd_check(const char *name, float *x, size_t n, const float *analytic, objective_fn f, void *ctx,
                     rng_t *r)
{
    float num[FD_SAMPLES], ana[FD_SAMPLES];
    size_t m = n < FD_SAMPLES ? n : FD_SAMPLES;
    for (size_t k = 0; k < m; k++) {
        size_t i = n <= FD_SAMPLES ? k : (size_t)(rng_u64(r) % n);
        float x0 = x[i];
        x[i] = x0 + FD_H;
        double hp = x[i], fp = f(ctx);
        x[i] = x0 - FD_H;
        double hm = x[i], fm = f(ctx);
        x[i] = x0;
        num[k] = (float)((fp - fm) / (hp - hm));
        ana[k] = analytic[i];
    }
    check_close(name, num, ana, m, FD_RTOL, FD_ATOL * max_abs(analytic, n));
}

/* ---------------- encoder ---------------- */

static void test_encoder_fast_matches_ref(void **state)
{
    (void)state;
    rng_t r;
    rng_seed(&r, 1);
    for (int s = 0; s < N_SHAPES; s++) {
        int B = shapes[s].B, T = shapes[s].T, C = shapes[s].C, V = 7; /* small V: many repeated tokens */
        size_t n = (size_t)B * T * C;
        int32_t *inp = tokens(&r, (size_t)B * T, V);
        float *wte = randn(&r, (size_t)V * C, 1), *wpe = randn(&r, (size_t)T * C, 1), *dout = randn(&r, n, 1);
        float *of = nans(n), *orf = nans(n);
        kernels_fast.encoder_forward(of, inp, wte, wpe, B, T, C);
        kernels_ref.encoder_forward(orf, inp, wte, wpe, B, T, C);
        check_close("encoder out", of, orf, n, 0, 0); /* one float add per element: exact */
        /* gradients start non-zero: they must be accumulated into */
        float *dwte_f = randn(&r, (size_t)V * C, 1), *dwpe_f = randn(&r, (size_t)T * C, 1);
        float *dwte_r = copy(dwte_f, (size_t)V * C), *dwpe_r = copy(dwpe_f, (size_t)T * C);
        kernels_fast.encoder_backward(dwte_f, dwpe_f, dout, inp, B, T, C);
        kernels_ref.encoder_backward(dwte_r, dwpe_r, dout, inp, B, T, C);
        check_close_scaled("encoder dwte", dwte_f, dwte_r, (size_t)V * C, FAST_RTOL);
        check_close_scaled("encoder dwpe", dwpe_f, dwpe_r, (size_t)T * C, FAST_RTOL);
        free(inp), free(wte), free(wpe), free(dout), free(of), free(orf);
        free(dwte_f), free(dwpe_f), free(dwte_r), free(dwpe_r);
    }
}

typedef struct {
    float *out, *wte, *wpe, *dout;
    const int32_t *inp;
    int B, T, C;
} enc_ctx_t;

static double enc_objective(void *p)
{
    enc_ctx_t *c = p;
    kernels_ref.encoder_forward(c->out, c->inp, c->wte, c->wpe, c->B, c->T, c->C);
    return dot_d(c->dout, c->out, (size_t)c->B * c->T * c->C);
}

static void test_encoder_gradcheck(void **state)
{
    (void)state;
    rng_t r;
    rng_seed(&r, 2);
    enum { B = 2, T = 4, C = 3, V = 5 };
    /* token 1 repeats within and across rows; token 2 never occurs (its gradient must stay 0) */
    static const int32_t inp[B * T] = {1, 3, 1, 1, 4, 1, 3, 0};
    enc_ctx_t c = {vec(B * T * C), randn(&r, V * C, 1), randn(&r, T * C, 1), randn(&r, B * T * C, 1), inp, B, T, C};
    float *dwte = vec(V * C), *dwpe = vec(T * C);
    kernels_ref.encoder_backward(dwte, dwpe, c.dout, inp, B, T, C);
    fd_check("encoder dwte", c.wte, V * C, dwte, enc_objective, &c, &r);
    fd_check("encoder dwpe", c.wpe, T * C, dwpe, enc_objective, &c, &r);
    for (int i = 0; i < C; i++) assert_true(dwte[2 * C + i] == 0.0f);
    free(c.out), free(c.wte), free(c.wpe), free(c.dout), free(dwte), free(dwpe);
}

/* ---------------- layernorm ---------------- */

static void test_layernorm_fast_matches_ref(void **state)
{
    (void)state;
    rng_t r;
    rng_seed(&r, 3);
    for (int s = 0; s < N_SHAPES; s++) {
        int N = shapes[s].B * shapes[s].T, C = shapes[s].C;
        size_t n = (size_t)N * C;
        float *inp = randn(&r, n, 3);
        for (size_t i = 0; i < n; i++) inp[i] += 5; /* a mean well away from 0 */
        float *w = randn(&r, C, 1), *b = randn(&r, C, 1), *dout = randn(&r, n, 1);
        float *of = nans(n), *mf = nans(N), *sf = nans(N), *orf = nans(n), *mr = nans(N), *sr = nans(N);
        kernels_fast.layernorm_forward(of, mf, sf, inp, w, b, N, C);
        kernels_ref.layernorm_forward(orf, mr, sr, inp, w, b, N, C);
        check_close_scaled("layernorm out", of, orf, n, FAST_RTOL);
        check_close("layernorm mean", mf, mr, N, FAST_RTOL, 1e-6);
        check_close("layernorm rstd", sf, sr, N, FAST_RTOL, 0);
        /* dinp is added into, dw and db accumulate: all start non-zero */
        float *dif = randn(&r, n, 1), *dwf = randn(&r, C, 1), *dbf = randn(&r, C, 1);
        float *dir = copy(dif, n), *dwr = copy(dwf, C), *dbr = copy(dbf, C);
        kernels_fast.layernorm_backward(dif, dwf, dbf, dout, inp, w, mr, sr, N, C);
        kernels_ref.layernorm_backward(dir, dwr, dbr, dout, inp, w, mr, sr, N, C);
        check_close_scaled("layernorm dinp", dif, dir, n, FAST_RTOL);
        check_close_scaled("layernorm dw", dwf, dwr, C, FAST_RTOL);
        check_close_scaled("layernorm db", dbf, dbr, C, FAST_RTOL);
        free(inp), free(w), free(b), free(dout), free(of), free(mf), free(sf), free(orf), free(mr), free(sr);
        free(dif), free(dwf), free(dbf), free(dir), free(dwr), free(dbr);
    }
}

typedef struct {
    float *out, *mean, *rstd, *inp, *w, *b, *dout;
    int N, C;
} ln_ctx_t;

static double ln_objective(void *p)
{
    ln_ctx_t *c = p;
    kernels_ref.layernorm_forward(c->out, c->mean, c->rstd, c->inp, c->w, c->b, c->N, c->C);
    return dot_d(c->dout, c->out, (size_t)c->N * c->C);
}

static void test_layernorm_gradcheck(void **state)
{
    (void)state;
    rng_t r;
    rng_seed(&r, 4);
    enum { N = 6, C = 11 };
    ln_ctx_t c = {vec(N * C), vec(N), vec(N), randn(&r, N * C, 1), randn(&r, C, 1), randn(&r, C, 1),
                  randn(&r, N * C, 1), N, C};
    ln_objective(&c); /* mean, rstd for backward */
    float *base = randn(&r, N * C, 1), *dinp = copy(base, N * C), *dw = vec(C), *db = vec(C);
    kernels_ref.layernorm_backward(dinp, dw, db, c.dout, c.inp, c.w, c.mean, c.rstd, N, C);
    for (int i = 0; i < N * C; i++) dinp[i] -= base[i]; /* it was added to base */
    fd_check("layernorm dinp", c.inp, N * C, dinp, ln_objective, &c, &r);
    fd_check("layernorm dw", c.w, C, dw, ln_objective, &c, &r);
    fd_check("layernorm db", c.b, C, db, ln_objective, &c, &r);
    free(c.out), free(c.mean), free(c.rstd), free(c.inp), free(c.w), free(c.b), free(c.dout);
    free(base), free(dinp), free(dw), free(db);
}

/* With the same gain w0 and bias b0 on every channel, each output row has mean b0 and standard deviation
 * |w0| sqrt(var / (var + 1e-5)) (the epsilon inside the root), var the row's population variance. */
static void test_layernorm_row_statistics(void **state)
{
    (void)state;
    rng_t r;
    rng_seed(&r, 5);
    enum { N = 9, C = 37 };
    const float w0 = 1.7f, b0 = -0.3f;
    float *inp = randn(&r, N * C, 2), *w = vec(C), *b = vec(C), *out = vec(N * C), *mean = vec(N), *rstd = vec(N);
    for (int i = 0; i < C; i++) w[i] = w0, b[i] = b0;
    for (int n = 0; n < N; n++)
        for (int i = 0; i < C; i++) inp[n * C + i] += (float)n; /* rows with different means */
    const kernels_ops_t *ks[] = {&kernels_fast, &kernels_ref};
    for (int k = 0; k < 2; k++) {
        ks[k]->layernorm_forward(out, mean, rstd, inp, w, b, N, C);
        for (int n = 0; n < N; n++) {
            double xm = 0, xv = 0, ym = 0, yv = 0;
            for (int i = 0; i < C; i++) xm += inp[n * C + i], ym += out[n * C + i];
            xm /= C, ym /= C;
            for (int i = 0; i < C; i++) {
                xv += (inp[n * C + i] - xm) * (inp[n * C + i] - xm);
                yv += (out[n * C + i] - ym) * (out[n * C + i] - ym);
            }
            xv /= C, yv /= C;
            assert_near(ym, b0, 1e-5);
            assert_near(sqrt(yv), w0 * sqrt(xv / (xv + 1e-5)), 1e-5);
            assert_near(mean[n], xm, 1e-5 * (1 + fabs(xm)));
            assert_near(rstd[n], 1 / sqrt(xv + 1e-5), 1e-5 / sqrt(xv));
        }
    }
    free(inp), free(w), free(b), free(out), free(mean), free(rstd);
}

/* The column-block reductions for dw, db are designed to give the same bits on any thread count. */
static void test_layernorm_backward_thread_independent(void **state)
{
    (void)state;
    rng_t r;
    rng_seed(&r, 6);
    enum { N = 301, C = 83 };
    float *inp = randn(&r, N * C, 1), *w = randn(&r, C, 1), *dout = randn(&r, N * C, 1);
    float *out = vec(N * C), *mean = vec(N), *rstd = vec(N);
    kernels_ref.layernorm_forward(out, mean, rstd, inp, w, w, N, C);
    float *res[2][3];
    int saved = omp_get_max_threads();
    for (int k = 0; k < 2; k++) {
        omp_set_num_threads(k + 1);
        res[k][0] = vec(N * C), res[k][1] = vec(C), res[k][2] = vec(C);
        kernels_fast.layernorm_backward(res[k][0], res[k][1], res[k][2], dout, inp, w, mean, rstd, N, C);
    }
    omp_set_num_threads(saved);
    assert_memory_equal(res[0][0], res[1][0], N * C * sizeof(float));
    assert_memory_equal(res[0][1], res[1][1], C * sizeof(float));
    assert_memory_equal(res[0][2], res[1][2], C * sizeof(float));
    for (int k = 0; k < 2; k++) free(res[k][0]), free(res[k][1]), free(res[k][2]);
    free(inp), free(w), free(dout), free(out), free(mean), free(rstd);
}

/* ---------------- matmul ---------------- */

static void test_matmul_fast_matches_ref(void **state)
{
    (void)state;
    rng_t r;
    rng_seed(&r, 7);
    for (int s = 0; s < N_SHAPES; s++) {
        int N = shapes[s].B * shapes[s].T, C = shapes[s].C;
        const int ocs[] = {3 * C, C + 3, 1};
        for (int o = 0; o < 3; o++) {
            int OC = ocs[o];
            size_t nin = (size_t)N * C, nout = (size_t)N * OC, nw = (size_t)OC * C;
            float *inp = randn(&r, nin, 1), *w = randn(&r, nw, 1), *bias = randn(&r, OC, 1);
            float *prior = randn(&r, nout, 1), *dout = randn(&r, nout, 1);
            for (int variant = 0; variant < 4; variant++) {
                int with_bias = variant & 1, acc = variant >> 1;
                /* without accumulate the output is overwritten: the fast one starts as NaN */
                float *of = acc ? copy(prior, nout) : nans(nout), *orf = copy(prior, nout);
                kernels_fast.matmul_forward(of, inp, w, with_bias ? bias : NULL, N, C, OC, acc);
                kernels_ref.matmul_forward(orf, inp, w, with_bias ? bias : NULL, N, C, OC, acc);
                check_close_scaled("matmul out", of, orf, nout, FAST_RTOL);
                free(of), free(orf);
            }
            for (int with_bias = 0; with_bias < 2; with_bias++) {
                float *dif = nans(nin), *dwf = randn(&r, nw, 1), *dbf = randn(&r, OC, 1);
                float *dir = vec(nin), *dwr = copy(dwf, nw), *dbr = copy(dbf, OC);
                kernels_fast.matmul_backward(dif, dwf, with_bias ? dbf : NULL, dout, inp, w, N, C, OC);
                kernels_ref.matmul_backward(dir, dwr, with_bias ? dbr : NULL, dout, inp, w, N, C, OC);
                check_close_scaled("matmul dinp", dif, dir, nin, FAST_RTOL);
                check_close_scaled("matmul dw", dwf, dwr, nw, FAST_RTOL);
                check_close_scaled("matmul dbias", dbf, dbr, OC, FAST_RTOL);
                free(dif), free(dwf), free(dbf), free(dir), free(dwr), free(dbr);
            }
            free(inp), free(w), free(bias), free(prior), free(dout);
        }
    }
}

typedef struct {
    float *out, *inp, *w, *bias, *dout;
    int N, C, OC;
} mm_ctx_t;

static double mm_objective(void *p)
{
    mm_ctx_t *c = p;
    kernels_ref.matmul_forward(c->out, c->inp, c->w, c->bias, c->N, c->C, c->OC, 0);
    return dot_d(c->dout, c->out, (size_t)c->N * c->OC);
}

static void test_matmul_gradcheck(void **state)
{
    (void)state;
    rng_t r;
    rng_seed(&r, 8);
    enum { N = 5, C = 7, OC = 6 };
    mm_ctx_t c = {vec(N * OC), randn(&r, N * C, 1), randn(&r, OC * C, 1), randn(&r, OC, 1), randn(&r, N * OC, 1),
                  N, C, OC};
    float *dinp = nans(N * C), *dw = vec(OC * C), *db = vec(OC); /* dinp is overwritten */
    kernels_ref.matmul_backward(dinp, dw, db, c.dout, c.inp, c.w, N, C, OC);
    fd_check("matmul dinp", c.inp, N * C, dinp, mm_objective, &c, &r);
    fd_check("matmul dw", c.w, OC * C, dw, mm_objective, &c, &r);
    fd_check("matmul dbias", c.bias, OC, db, mm_objective, &c, &r);
    free(c.out), free(c.inp), free(c.w), free(c.bias), free(c.dout), free(dinp), free(dw), free(db);
}

/* ---------------- attention ---------------- */

/* Every row of probabilities sums to 1 and is exactly zero above the diagonal (future positions). */
static void check_softmax_rows(const float *att, int B, int NH, int T)
{
    for (size_t row = 0; row < (size_t)B * NH * T; row++) {
        int t = (int)(row % T);
        const float *p = att + row * T;
        double sum = 0;
        for (int u = 0; u <= t; u++) {
            assert_true(p[u] >= 0.0f);
            sum += p[u];
        }
        assert_near(sum, 1.0, 1e-5);
        for (int u = t + 1; u < T; u++) assert_true(p[u] == 0.0f);
    }
}

static void test_attention_fast_matches_ref(void **state)
{
    (void)state;
    rng_t r;
    rng_seed(&r, 9);
    for (int s = 0; s < N_SHAPES; s++) {
        int B = shapes[s].B, T = shapes[s].T, C = shapes[s].C, NH = shapes[s].NH;
        for (float scale = 1; scale <= 3; scale += 2) { /* 3: peaked softmax rows */
            size_t nqkv = (size_t)B * T * 3 * C, nout = (size_t)B * T * C, natt = (size_t)B * NH * T * T;
            float *qkv = randn(&r, nqkv, scale), *dout = randn(&r, nout, 1);
            float *of = nans(nout), *af = nans(natt), *orf = nans(nout), *ar = nans(natt);
            kernels_fast.attention_forward(of, af, qkv, B, T, C, NH);
            kernels_ref.attention_forward(orf, ar, qkv, B, T, C, NH);
            check_softmax_rows(af, B, NH, T);
            check_softmax_rows(ar, B, NH, T);
            check_close("attention probs", af, ar, natt, FAST_RTOL, 1e-6);
            check_close_scaled("attention out", of, orf, nout, FAST_RTOL);
            /* both backwards from the same probabilities; dqkv and scratch are overwritten */
            float *dqf = nans(nqkv), *dqr = nans(nqkv), *scratch = nans(natt);
            kernels_fast.attention_backward(dqf, scratch, dout, qkv, ar, B, T, C, NH);
            kernels_ref.attention_backward(dqr, scratch, dout, qkv, ar, B, T, C, NH);
            check_close_scaled("attention dqkv", dqf, dqr, nqkv, FAST_RTOL);
            free(qkv), free(dout), free(of), free(af), free(orf), free(ar), free(dqf), free(dqr), free(scratch);
        }
    }
}

typedef struct {
    float *out, *att, *qkv, *dout;
    int B, T, C, NH;
} att_ctx_t;

static double att_objective(void *p)
{
    att_ctx_t *c = p;
    kernels_ref.attention_forward(c->out, c->att, c->qkv, c->B, c->T, c->C, c->NH);
    return dot_d(c->dout, c->out, (size_t)c->B * c->T * c->C);
}

static void test_attention_gradcheck(void **state)
{
    (void)state;
    rng_t r;
    rng_seed(&r, 10);
    const shape_t fd_shapes[] = {{2, 5, 8, 2}, {1, 7, 6, 3}, {1, 1, 4, 1}};
    for (int s = 0; s < 3; s++) {
        int B = fd_shapes[s].B, T = fd_shapes[s].T, C = fd_shapes[s].C, NH = fd_shapes[s].NH;
        size_t nqkv = (size_t)B * T * 3 * C;
        att_ctx_t c = {vec((size_t)B * T * C), vec((size_t)B * NH * T * T), randn(&r, nqkv, 1),
                       randn(&r, (size_t)B * T * C, 1), B, T, C, NH};
        att_objective(&c);
        float *dqkv = nans(nqkv), *scratch = vec((size_t)B * NH * T * T);
        kernels_ref.attention_backward(dqkv, scratch, c.dout, c.qkv, c.att, B, T, C, NH);
        /* every element (q, k and v of every position), FD_SAMPLES at a time: the window x + off is
         * still inside c.qkv, which the objective reads */
        for (size_t off = 0; off < nqkv; off += FD_SAMPLES) {
            size_t n = nqkv - off < FD_SAMPLES ? nqkv - off : FD_SAMPLES;
            fd_check("attention dqkv", c.qkv + off, n, dqkv + off, att_objective, &c, &r);
        }
        free(c.out), free(c.att), free(c.qkv), free(c.dout), free(dqkv), free(scratch);
    }
}

/* Changing k and v at position u leaves every output before u bit for bit as it was; changing q at u
 * changes nothing but position u. Position u itself must change when v changes, and when q or k do
 * provided u > 0 (at u = 0 the softmax has one entry, which is 1 whatever q and k are). */
static void test_attention_causal(void **state)
{
    (void)state;
    rng_t r;
    rng_seed(&r, 11);
    enum { B = 2, T = 9, C = 12, NH = 3 };
    const kernels_ops_t *ks[] = {&kernels_fast, &kernels_ref};
    float *qkv = randn(&r, B * T * 3 * C, 1), *base = vec(B * T * C), *out = vec(B * T * C);
    float *att = vec(B * NH * T * T);
    const int us[] = {0, 4, T - 1};
    for (int k = 0; k < 2; k++) {
        ks[k]->attention_forward(base, att, qkv, B, T, C, NH);
        for (int ui = 0; ui < 3; ui++)
            for (int part = 0; part < 3; part++) { /* 0 q, 1 k, 2 v */
                int u = us[ui], b = 1;
                float *x = qkv + ((size_t)b * T + u) * 3 * C + part * C, saved[C];
                memcpy(saved, x, sizeof saved);
                for (int i = 0; i < C; i++) x[i] += 0.5f + 0.1f * i;
                ks[k]->attention_forward(out, att, qkv, B, T, C, NH);
                memcpy(x, saved, sizeof saved);
                for (int bb = 0; bb < B; bb++)
                    for (int t = 0; t < T; t++) {
                        const float *o = out + ((size_t)bb * T + t) * C, *o0 = base + ((size_t)bb * T + t) * C;
                        int affected = bb == b && (part == 0 ? t == u : t >= u);
                        if (!affected)
                            assert_memory_equal(o, o0, C * sizeof *o);
                        else if (t == u && (part == 2 || u > 0))
                            assert_memory_not_equal(o, o0, C * sizeof *o);
                    }
            }
    }
    free(qkv), free(base), free(out), free(att);
}

/* ---------------- gelu ---------------- */

static float *gelu_inputs(rng_t *r, size_t n)
{
    static const float special[] = {0, 1e-4f, -1e-4f, 1, -1, 3, -3, 5.5f, -5.5f, 10, -10, 20, -20, 80, -80};
    enum { N_SPECIAL = sizeof special / sizeof *special };
    float *x = randn(r, n, 2.5f);
    memcpy(x, special, (n < N_SPECIAL ? n : N_SPECIAL) * sizeof *x);
    return x;
}

static void test_gelu_fast_matches_ref(void **state)
{
    (void)state;
    rng_t r;
    rng_seed(&r, 12);
    enum { N = 1031 };
    float *x = gelu_inputs(&r, N), *dout = randn(&r, N, 1);
    float *yf = nans(N), *yr = nans(N), *dxf = nans(N), *dxr = nans(N);
    kernels_fast.gelu_forward(yf, x, N);
    kernels_ref.gelu_forward(yr, x, N);
    /* tanh as 1 - 2/(e+1) in float loses relative accuracy where gelu -> 0 (x very negative): absolute
     * error up to ~|x| * 6e-8, so an absolute floor of 2e-6 on top of the relative 1e-4 */
    check_close("gelu out", yf, yr, N, FAST_RTOL, 2e-6);
    kernels_fast.gelu_backward(dxf, x, dout, N);
    kernels_ref.gelu_backward(dxr, x, dout, N);
    /* the derivative multiplies that error in (1 + tanh) and (1 - tanh^2) by ~0.1|x|^3 (~15 at |x| = 5,
     * beyond which the tail vanishes): absolute error up to ~2e-6 |dout| on values ~1e-5 there, small
     * against the derivative's scale (max ~1.13), hence an absolute 1e-5 */
    check_close("gelu dinp", dxf, dxr, N, FAST_RTOL, 1e-5 * max_abs(dout, N));
    /* in place: dinp aliasing dout */
    const kernels_ops_t *ks[] = {&kernels_fast, &kernels_ref};
    float *want[] = {dxf, dxr};
    for (int k = 0; k < 2; k++) {
        float *d = copy(dout, N);
        ks[k]->gelu_backward(d, x, d, N);
        check_close("gelu dinp in place", d, want[k], N, 0, 0);
        free(d);
    }
    free(x), free(dout), free(yf), free(yr), free(dxf), free(dxr);
}

typedef struct {
    float *out, *inp, *dout;
    size_t n;
} gelu_ctx_t;

static double gelu_objective(void *p)
{
    gelu_ctx_t *c = p;
    kernels_ref.gelu_forward(c->out, c->inp, c->n);
    return dot_d(c->dout, c->out, c->n);
}

static void test_gelu_gradcheck(void **state)
{
    (void)state;
    rng_t r;
    rng_seed(&r, 13);
    enum { N = 50 };
    gelu_ctx_t c = {vec(N), randn(&r, N, 2), randn(&r, N, 1), N};
    float *dx = vec(N);
    kernels_ref.gelu_backward(dx, c.inp, c.dout, N);
    fd_check("gelu dinp", c.inp, N, dx, gelu_objective, &c, &r);
    free(c.out), free(c.inp), free(c.dout), free(dx);
}

/* ---------------- crossentropy ---------------- */

/* Logits with ordinary rows and rows of +-80 extremes (differences of 160: exp underflows, so the
 * max-subtraction and the exp clamp are what keep the result finite); targets on the maximum, on the
 * minimum, and elsewhere. */
static void ce_inputs(rng_t *r, float *logits, int32_t *targets, int N, int V)
{
    fill_normal(r, logits, (size_t)N * V, 2);
    for (int n = 0; n < N; n++) targets[n] = (int32_t)(rng_u64(r) % (uint64_t)V);
    for (int n = 0; n < N; n += 3) {
        float *z = logits + (size_t)n * V;
        for (int v = 0; v < V; v++) z[v] = (v + n) % 2 ? 80.0f : -80.0f;
        targets[n] = n % 2; /* alternately on an 80 and on a -80 */
    }
}

static void test_crossentropy_fast_matches_ref(void **state)
{
    (void)state;
    rng_t r;
    rng_seed(&r, 14);
    const int sizes[][2] = {{1, 2}, {7, 37}, {16, 1000}, {5, 33}};
    for (int s = 0; s < 4; s++) {
        int N = sizes[s][0], V = sizes[s][1];
        size_t n = (size_t)N * V;
        float *pf = vec(n), *lf = nans(N), *lr = nans(N);
        int32_t *tg = err_calloc(N, sizeof *tg);
        ce_inputs(&r, pf, tg, N, V);
        float *pr = copy(pf, n);
        kernels_fast.crossentropy_forward(pf, lf, tg, N, V);
        kernels_ref.crossentropy_forward(pr, lr, tg, N, V);
        check_close("crossentropy probs", pf, pr, n, FAST_RTOL, 1e-7);
        /* losses reach 160; log(sum) + max - z[target] loses no more than a few ulp of that */
        check_close("crossentropy losses", lf, lr, N, 1e-5, 1e-5);
        float dloss = 1.0f / N;
        kernels_fast.crossentropy_backward(pf, tg, dloss, N, V);
        kernels_ref.crossentropy_backward(pr, tg, dloss, N, V);
        check_close("crossentropy dlogits", pf, pr, n, FAST_RTOL, 1e-7);
        free(pf), free(pr), free(lf), free(lr), free(tg);
    }
}

/* Known answers on the extreme rows: with k logits at +80 and the rest at -80, the softmax is 1/k on the
 * maxima and (to float) 0 elsewhere, the loss log(k) on a maximum and 160 + log(k) on a minimum. */
static void test_crossentropy_extreme_logits(void **state)
{
    (void)state;
    enum { V = 9 };
    const kernels_ops_t *ks[] = {&kernels_fast, &kernels_ref};
    for (int k = 0; k < 2; k++)
        for (int tgt = 0; tgt < 2; tgt++) {
            float z[V];
            int32_t target = tgt; /* logits: +80 at odd v (4 of them), -80 at even v */
            for (int v = 0; v < V; v++) z[v] = v % 2 ? 80.0f : -80.0f;
            float loss;
            ks[k]->crossentropy_forward(z, &loss, &target, 1, V);
            double want = (tgt == 1 ? 0.0 : 160.0) + log(4.0);
            assert_near(loss, want, 1e-4);
            for (int v = 0; v < V; v++) assert_near(z[v], v % 2 ? 0.25 : 0.0, 1e-7);
        }
}

/* Equal logits give probabilities 1/V and loss log(V), whatever the constant. With the constant at
 * +-80 the max-subtraction makes max - z[target] exactly 0, so a float kernel can return log(V) to an ulp
 * or two; 1e-6 relative (~8 ulp) allows for logf. */
static void test_crossentropy_uniform(void **state)
{
    (void)state;
    const kernels_ops_t *ks[] = {&kernels_fast, &kernels_ref};
    const int Vs[] = {2, 37, 1000, 65536};
    const float consts[] = {0.0f, 3.7f, -80.0f, 80.0f};
    enum { N = 4 };
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 4; i++) {
            int V = Vs[i];
            float *z = vec((size_t)N * V), loss[N];
            int32_t tg[N] = {0, V / 2, V - 1, 1};
            for (int n = 0; n < N; n++)
                for (int v = 0; v < V; v++) z[(size_t)n * V + v] = consts[n];
            ks[k]->crossentropy_forward(z, loss, tg, N, V);
            double prob_err = fabs(z[0] - 1.0 / V);
            for (size_t j = 1; j < (size_t)N * V; j++) prob_err = fmax(prob_err, fabs(z[j] - 1.0 / V));
            free(z); /* before any failure, which leaves the test by longjmp */
            assert_true(prob_err <= 1e-6 / V);
            for (int n = 0; n < N; n++) {
                double want = log((double)V);
                if (!(fabs(loss[n] - want) <= 1e-6 * want))
                    fail_msg("%s crossentropy, V = %d, all logits %g: loss %.9g, want log(V) = %.9g", ks[k]->name,
                             V, consts[n], loss[n], want);
            }
        }
}

typedef struct {
    float *logits, *probs, *losses;
    const int32_t *targets;
    int N, V;
} ce_ctx_t;

/* the mean loss over the rows, as the model uses it */
static double ce_objective(void *p)
{
    ce_ctx_t *c = p;
    memcpy(c->probs, c->logits, (size_t)c->N * c->V * sizeof *c->probs);
    kernels_ref.crossentropy_forward(c->probs, c->losses, c->targets, c->N, c->V);
    double s = 0;
    for (int n = 0; n < c->N; n++) s += c->losses[n];
    return s / c->N;
}

static void test_crossentropy_gradcheck(void **state)
{
    (void)state;
    rng_t r;
    rng_seed(&r, 15);
    enum { N = 4, V = 9 };
    int32_t tg[N] = {0, 8, 3, 3};
    ce_ctx_t c = {randn(&r, N * V, 2), vec(N * V), vec(N), tg, N, V};
    ce_objective(&c);
    kernels_ref.crossentropy_backward(c.probs, tg, 1.0f / N, N, V);
    float *dlogits = copy(c.probs, N * V);
    fd_check("crossentropy dlogits", c.logits, N * V, dlogits, ce_objective, &c, &r);
    free(c.logits), free(c.probs), free(c.losses), free(dlogits);
}

/* ---------------- column sums ---------------- */

static void test_colsum_add(void **state)
{
    (void)state;
    rng_t r;
    rng_seed(&r, 16);
    /* small, ragged (31, 33 columns around the 32-column block), and above the 65536-element threshold
     * where it goes parallel (700 x 101, 3 x 70000) */
    const int sizes[][2] = {{1, 1}, {5, 7}, {33, 31}, {4, 33}, {700, 101}, {3, 70000}};
    int saved = omp_get_max_threads();
    for (int s = 0; s < 6; s++) {
        int N = sizes[s][0], C = sizes[s][1];
        float *src = randn(&r, (size_t)N * C, 1), *dst0 = randn(&r, C, 1), *want = vec(C);
        double worst_abs_sum = 0;
        for (int c = 0; c < C; c++) {
            double sum = dst0[c], abs_sum = fabs(dst0[c]);
            for (int n = 0; n < N; n++) sum += src[(size_t)n * C + c], abs_sum += fabs(src[(size_t)n * C + c]);
            want[c] = (float)sum;
            worst_abs_sum = abs_sum > worst_abs_sum ? abs_sum : worst_abs_sum;
        }
        float *got[2];
        for (int k = 0; k < 2; k++) {
            omp_set_num_threads(k + 1);
            got[k] = copy(dst0, C);
            kernels_colsum_add(got[k], src, N, C);
        }
        omp_set_num_threads(saved);
        /* recursive float summation of N+1 terms errs by at most (N+1) * 2^-24 * sum|terms| (plus the
         * final rounding); that bound is rigorous, a missed or doubled row is O(1) off */
        check_close("colsum", got[0], want, C, FLT_EPSILON, (N + 1) * FLT_EPSILON / 2 * worst_abs_sum);
        assert_memory_equal(got[0], got[1], (size_t)C * sizeof(float)); /* thread-count independent */
        free(src), free(dst0), free(want), free(got[0]), free(got[1]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoder_fast_matches_ref),
        cmocka_unit_test(test_encoder_gradcheck),
        cmocka_unit_test(test_layernorm_fast_matches_ref),
        cmocka_unit_test(test_layernorm_gradcheck),
        cmocka_unit_test(test_layernorm_row_statistics),
        cmocka_unit_test(test_layernorm_backward_thread_independent),
        cmocka_unit_test(test_matmul_fast_matches_ref),
        cmocka_unit_test(test_matmul_gradcheck),
        cmocka_unit_test(test_attention_fast_matches_ref),
        cmocka_unit_test(test_attention_gradcheck),
        cmocka_unit_test(test_attention_causal),
        cmocka_unit_test(test_gelu_fast_matches_ref),
        cmocka_unit_test(test_gelu_gradcheck),
        cmocka_unit_test(test_crossentropy_fast_matches_ref),
        cmocka_unit_test(test_crossentropy_extreme_logits),
        cmocka_unit_test(test_crossentropy_uniform),
        cmocka_unit_test(test_crossentropy_gradcheck),
        cmocka_unit_test(test_colsum_add),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
