/* Optimised kernels. Matmuls go to CBLAS; everything else is OpenMP over rows with loops the compiler
 * vectorises (`omp simd` reductions, and an exp of our own that vectorises, since libm's does not
 * under strict C11). Reductions are arranged so the result does not depend on the thread count, which
 * keeps runs reproducible bit for bit. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "model/kernels.h"

enum { COL_BLOCK = 32 }; /* columns per task in column reductions: two AVX-512 registers */

/* exp(x) to a few ulp for x in [-87, 88] (clamped outside): x = k ln2 + r with |r| <= ln2/2,
 * exp(r) by a degree-6 polynomial, 2^k built in the exponent bits. Straight-line code, so loops over it
 * vectorise. */
static inline float exp_fast(float x)
{
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    float k = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest, vectorisable */
    float r = x - k * 0.693359375f + k * 2.12194440e-4f; /* ln2 split in two for an exact k*ln2_hi */
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)k + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}


static void encoder_forward(float *out, const int32_t *inp, const float *wte, const float *wpe, int B, int T, int C)
{
#pragma omp parallel for schedule(static)
    for (int n = 0; n < B * T; n++) {
        const float *e = wte + (size_t)inp[n] * C, *p = wpe + (size_t)(n % T) * C;
        float *o = out + (size_t)n * C;
        for (int i = 0; i < C; i++) o[i] = e[i] + p[i];
    }
}

static void encoder_backward(float *dwte, float *dwpe, const float *dout, const int32_t *inp, int B, int T, int C)
{
    /* rows sharing a token would race, and there is little work: one thread, in row order */
    for (int n = 0; n < B * T; n++) {
        const float *g = dout + (size_t)n * C;
        float *e = dwte + (size_t)inp[n] * C;
        for (int i = 0; i < C; i++) e[i] += g[i];
    }
    kernels_colsum_add(dwpe, dout, B, T * C); /* dwpe (T*C) += sum over the batch */
}

void kernels_colsum_add(float *dst, const float *src, int N, int C)
{
#pragma omp parallel for schedule(static) if (N * C > 65536)
    for (int c0 = 0; c0 < C; c0 += COL_BLOCK) {
        int w = C - c0 < COL_BLOCK ? C - c0 : COL_BLOCK;
        float acc[COL_BLOCK] = {0};
        for (int n = 0; n < N; n++) {
            const float *s = src + (size_t)n * C + c0;
            for (int i = 0; i < w; i++) acc[i] += s[i];
        }
        for (int i = 0; i < w; i++) dst[c0 + i] += acc[i];
    }
}

static void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                              const float *b, int N, int C)
{
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *y = out + (size_t)n * C;
        float m = 0, v = 0;
#pragma omp simd reduction(+ : m)
        for (int i = 0; i < C; i++) m += x[i];
        m /= C;
#pragma omp simd reduction(+ : v)
        for (int i = 0; i < C; i++) v += (x[i] - m) * (x[i] - m);
        float s = 1.0f / sqrtf(v / C + 1e-5f);
        for (int i = 0; i < C; i++) y[i] = (x[i] - m) * s * w[i] + b[i];
        mean[n] = m;
        rstd[n] = s;
    }
}

static void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                               const float *w, const float *mean, const float *rstd, int N, int C)
{
#pragma omp parallel
    {
#pragma omp for schedule(static) nowait
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
            float *dx = dinp + (size_t)n * C;
            float m = mean[n], s = rstd[n], dmean = 0, dnmean = 0;
#pragma omp simd reduction(+ : dmean, dnmean)
            for (int i = 0; i < C; i++) {
                float dnorm = w[i] * dy[i];
                dmean += dnorm;
                dnmean += dnorm * (x[i] - m) * s;
            }
            dmean /= C;
            dnmean /= C;
            for (int i = 0; i < C; i++) dx[i] += (w[i] * dy[i] - dmean - (x[i] - m) * s * dnmean) * s;
        }
        /* parameter gradients: column blocks, rows in order, so the sum is the same on any thread count */
#pragma omp for schedule(static)
        for (int c0 = 0; c0 < (dw ? C : 0); c0 += COL_BLOCK) {
            int wd = C - c0 < COL_BLOCK ? C - c0 : COL_BLOCK;
            float aw[COL_BLOCK] = {0}, ab[COL_BLOCK] = {0};
            for (int n = 0; n < N; n++) {
                const float *x = inp + (size_t)n * C + c0, *dy = dout + (size_t)n * C + c0;
                float m = mean[n], s = rstd[n];
                for (int i = 0; i < wd; i++) {
                    aw[i] += (x[i] - m) * s * dy[i];
                    ab[i] += dy[i];
                }
            }
            for (int i = 0; i < wd; i++) {
                dw[c0 + i] += aw[i];
                db[c0 + i] += ab[i];
            }
        }
    }
}

static void matmul_forward(float *out, const float *inp, const float *w, const float *bias, int N, int C, int OC,
                           int accumulate)
{
    if (bias) {
#pragma omp parallel for schedule(static)
        for (int n = 0; n < N; n++) {
            float *o = out + (size_t)n * OC;
            if (accumulate)
                for (int i = 0; i < OC; i++) o[i] += bias[i];
            else
                memcpy(o, bias, (size_t)OC * sizeof *o);
        }
    }
    float beta = bias || accumulate ? 1.0f : 0.0f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, C, w, C, beta, out, OC);
}

static void matmul_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                            const float *w, int N, int C, int OC)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f, dout, OC, w, C, 0.0f, dinp, C);
    if (!dw) return;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f, dw, C);
    if (dbias) kernels_colsum_add(dbias, dout, N, OC);
}

/* One (batch, head) pair per task: the matmuls inside run on one thread each (OpenBLAS's OpenMP build
 * does that inside a parallel region), so B*NH tasks keep every core busy without nesting.
 * Causality is exploited in blocks of ATT_BLOCK rows: row block [i0, i1) only needs keys [0, i1), which
 * skips nearly half the work of full T x T products. Entries above the diagonal are stored as zeros, so
 * products that read a whole diagonal block stay exact. */
enum { ATT_BLOCK = 64 };

static int imin(int a, int b) { return a < b ? a : b; }

static void attention_forward(float *out, float *att, const float *qkv, int B, int T, int C, int NH)
{
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for schedule(static)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH;
        const float *q = qkv + (size_t)b * T * 3 * C + h * hs, *k = q + C, *v = q + 2 * C;
        float *p = att + (size_t)bh * T * T, *y = out + (size_t)b * T * C + h * hs;
        for (int i0 = 0; i0 < T; i0 += ATT_BLOCK) {
            int i1 = imin(i0 + ATT_BLOCK, T);
            float *pb = p + (size_t)i0 * T;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, i1 - i0, i1, hs, scale, q + (size_t)i0 * 3 * C,
                        3 * C, k, 3 * C, 0.0f, pb, T);
            for (int t = i0; t < i1; t++) {
                float *r = p + (size_t)t * T, maxv = -INFINITY, sum = 0;
#pragma omp simd reduction(max : maxv)
                for (int u = 0; u <= t; u++) maxv = r[u] > maxv ? r[u] : maxv;
#pragma omp simd reduction(+ : sum)
                for (int u = 0; u <= t; u++) sum += (r[u] = exp_fast(r[u] - maxv));
                float inv = 1.0f / sum;
                for (int u = 0; u <= t; u++) r[u] *= inv;
                memset(r + t + 1, 0, (size_t)(T - t - 1) * sizeof *r);
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, i1 - i0, hs, i1, 1.0f, pb, T, v, 3 * C, 0.0f,
                        y + (size_t)i0 * C, C);
        }
    }
}

static void attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv, const float *att,
                               int B, int T, int C, int NH)
{
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for schedule(static)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH;
        const float *q = qkv + (size_t)b * T * 3 * C + h * hs, *k = q + C, *v = q + 2 * C;
        const float *p = att + (size_t)bh * T * T, *dy = dout + (size_t)b * T * C + h * hs;
        float *dq = dqkv + (size_t)b * T * 3 * C + h * hs, *dk = dq + C, *dv = dq + 2 * C;
        float *ds = scratch + (size_t)bh * T * T;
        /* by row blocks: dP = dY V^T, then the softmax backward turns it into dS, then dQ = dS K */
        for (int i0 = 0; i0 < T; i0 += ATT_BLOCK) {
            int i1 = imin(i0 + ATT_BLOCK, T);
            float *db = ds + (size_t)i0 * T;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, i1 - i0, i1, hs, 1.0f, dy + (size_t)i0 * C, C, v,
                        3 * C, 0.0f, db, T);
            for (int t = i0; t < i1; t++) {
                const float *pr = p + (size_t)t * T;
                float *r = ds + (size_t)t * T, dot = 0;
#pragma omp simd reduction(+ : dot)
                for (int u = 0; u <= t; u++) dot += pr[u] * r[u];
                for (int u = 0; u <= t; u++) r[u] = pr[u] * (r[u] - dot) * scale;
                memset(r + t + 1, 0, (size_t)(T - t - 1) * sizeof *r);
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, i1 - i0, hs, i1, 1.0f, db, T, k, 3 * C, 0.0f,
                        dq + (size_t)i0 * 3 * C, 3 * C);
        }
        /* by column blocks: keys [j0, j1) are seen by queries [j0, T): dV = P^T dY, dK = dS^T Q */
        for (int j0 = 0; j0 < T; j0 += ATT_BLOCK) {
            int j1 = imin(j0 + ATT_BLOCK, T);
            size_t o = (size_t)j0 * T + j0;
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, j1 - j0, hs, T - j0, 1.0f, p + o, T,
                        dy + (size_t)j0 * C, C, 0.0f, dv + (size_t)j0 * 3 * C, 3 * C);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, j1 - j0, hs, T - j0, 1.0f, ds + o, T,
                        q + (size_t)j0 * 3 * C, 3 * C, 0.0f, dk + (size_t)j0 * 3 * C, 3 * C);
        }
    }
}

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */

/* 0.5 (1 + tanh(u)) written as the logistic sigmoid of 2u: no cancellation where tanh is near -1. */
static inline float gelu_sig(float x) { return 1.0f / (1.0f + exp_fast(-2.0f * GELU_K * (x + 0.044715f * x * x * x))); }

static void gelu_forward(float *out, const float *inp, size_t n)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = inp[i] * gelu_sig(inp[i]);
}

/* d/dx [x s(x)] with s = sigmoid(2u): s + x * 2 s (1 - s) * du/dx */
static void gelu_backward(float *dinp, const float *inp, const float *dout, size_t n)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i], s = gelu_sig(x);
        float d = s + 2.0f * x * s * (1.0f - s) * GELU_K * (1.0f + 0.134145f * x * x);
        dinp[i] = d * dout[i];
    }
}

static void crossentropy_forward(float *probs, float *losses, const int32_t *targets, int N, int V)
{
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        float *z = probs + (size_t)n * V, maxv = -INFINITY, sum = 0;
#pragma omp simd reduction(max : maxv)
        for (int v = 0; v < V; v++) maxv = z[v] > maxv ? z[v] : maxv;
        float zt = z[targets[n]];
#pragma omp simd reduction(+ : sum)
        for (int v = 0; v < V; v++) sum += (z[v] = exp_fast(z[v] - maxv));
        losses[n] = logf(sum) + (maxv - zt); /* maxv - zt first: exact, where the sum is not */
        float inv = 1.0f / sum;
        for (int v = 0; v < V; v++) z[v] *= inv;
    }
}

static void crossentropy_backward(float *probs, const int32_t *targets, float dloss, int N, int V)
{
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        float *p = probs + (size_t)n * V;
        p[targets[n]] -= 1.0f;
        for (int v = 0; v < V; v++) p[v] *= dloss;
    }
}

const kernels_ops_t kernels_fast = {
    "fast",
    encoder_forward, encoder_backward,
    layernorm_forward, layernorm_backward,
    matmul_forward, matmul_backward,
    attention_forward, attention_backward,
    gelu_forward, gelu_backward,
    crossentropy_forward, crossentropy_backward,
};
