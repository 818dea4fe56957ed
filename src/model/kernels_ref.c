/* Reference kernels: the plainest correct loops, one thread, no BLAS. They define what each layer
 * computes; kernels.c must agree with them (tests/test_kernels.c). Accumulations are in double so the
 * reference is the more accurate of the two. */
#include <math.h>
#include <string.h>

#include "model/kernels.h"

static void encoder_forward(float *out, const int32_t *inp, const float *wte, const float *wpe, int B, int T, int C)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int i = 0; i < C; i++)
                out[((size_t)b * T + t) * C + i] = wte[(size_t)inp[b * T + t] * C + i] + wpe[(size_t)t * C + i];
}

static void encoder_backward(float *dwte, float *dwpe, const float *dout, const int32_t *inp, int B, int T, int C)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int i = 0; i < C; i++) {
                float g = dout[((size_t)b * T + t) * C + i];
                dwte[(size_t)inp[b * T + t] * C + i] += g;
                dwpe[(size_t)t * C + i] += g;
            }
}

static void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                              const float *b, int N, int C)
{
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        double m = 0, v = 0;
        for (int i = 0; i < C; i++) m += x[i];
        m /= C;
        for (int i = 0; i < C; i++) v += (x[i] - m) * (x[i] - m);
        v /= C;
        double s = 1.0 / sqrt(v + 1e-5);
        for (int i = 0; i < C; i++) out[(size_t)n * C + i] = (float)((x[i] - m) * s * w[i] + b[i]);
        mean[n] = (float)m;
        rstd[n] = (float)s;
    }
}

static void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                               const float *w, const float *mean, const float *rstd, int N, int C)
{
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
        double dnorm_mean = 0, dnorm_norm_mean = 0;
        for (int i = 0; i < C; i++) {
            double norm = (x[i] - mean[n]) * rstd[n];
            double dnorm = (double)w[i] * dy[i];
            dnorm_mean += dnorm;
            dnorm_norm_mean += dnorm * norm;
        }
        dnorm_mean /= C;
        dnorm_norm_mean /= C;
        for (int i = 0; i < C; i++) {
            double norm = (x[i] - mean[n]) * rstd[n];
            double dnorm = (double)w[i] * dy[i];
            dinp[(size_t)n * C + i] += (float)((dnorm - dnorm_mean - norm * dnorm_norm_mean) * rstd[n]);
            if (!dw) continue;
            dw[i] += (float)(norm * dy[i]);
            db[i] += dy[i];
        }
    }
}

static void matmul_forward(float *out, const float *inp, const float *w, const float *bias, int N, int C, int OC,
                           int accumulate)
{
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double s = bias ? bias[o] : 0.0;
            for (int i = 0; i < C; i++) s += (double)inp[(size_t)n * C + i] * w[(size_t)o * C + i];
            float *y = out + (size_t)n * OC + o;
            *y = accumulate ? *y + (float)s : (float)s;
        }
}

static void matmul_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                            const float *w, int N, int C, int OC)
{
    for (int n = 0; n < N; n++)
        for (int i = 0; i < C; i++) {
            double s = 0;
            for (int o = 0; o < OC; o++) s += (double)dout[(size_t)n * OC + o] * w[(size_t)o * C + i];
            dinp[(size_t)n * C + i] = (float)s;
        }
    for (int o = 0; o < OC && dw; o++) {
        for (int i = 0; i < C; i++) {
            double s = 0;
            for (int n = 0; n < N; n++) s += (double)dout[(size_t)n * OC + o] * inp[(size_t)n * C + i];
            dw[(size_t)o * C + i] += (float)s;
        }
        if (dbias) {
            double s = 0;
            for (int n = 0; n < N; n++) s += dout[(size_t)n * OC + o];
            dbias[o] += (float)s;
        }
    }
}

static void attention_forward(float *out, float *att, const float *qkv, int B, int T, int C, int NH)
{
    int hs = C / NH;
    double scale = 1.0 / sqrt(hs);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const float *q = qkv + ((size_t)b * T + t) * 3 * C + h * hs;
                float *p = att + (((size_t)b * NH + h) * T + t) * T;
                double maxv = -INFINITY, sum = 0;
                double s[t + 1];
                for (int u = 0; u <= t; u++) {
                    const float *k = qkv + ((size_t)b * T + u) * 3 * C + C + h * hs;
                    double d = 0;
                    for (int i = 0; i < hs; i++) d += (double)q[i] * k[i];
                    s[u] = d * scale;
                    if (s[u] > maxv) maxv = s[u];
                }
                for (int u = 0; u <= t; u++) sum += (s[u] = exp(s[u] - maxv));
                for (int u = 0; u < T; u++) p[u] = u <= t ? (float)(s[u] / sum) : 0.0f;
                float *y = out + ((size_t)b * T + t) * C + h * hs;
                for (int i = 0; i < hs; i++) {
                    double acc = 0;
                    for (int u = 0; u <= t; u++) acc += p[u] * (double)qkv[((size_t)b * T + u) * 3 * C + 2 * C + h * hs + i];
                    y[i] = (float)acc;
                }
            }
}

static void attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv, const float *att,
                               int B, int T, int C, int NH)
{
    (void)scratch;
    int hs = C / NH;
    double scale = 1.0 / sqrt(hs);
    memset(dqkv, 0, (size_t)B * T * 3 * C * sizeof *dqkv);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const float *p = att + (((size_t)b * NH + h) * T + t) * T;
                const float *dy = dout + ((size_t)b * T + t) * C + h * hs;
                const float *q = qkv + ((size_t)b * T + t) * 3 * C + h * hs;
                float *dq = dqkv + ((size_t)b * T + t) * 3 * C + h * hs;
                double dp[t + 1], dot = 0;
                for (int u = 0; u <= t; u++) {
                    const float *v = qkv + ((size_t)b * T + u) * 3 * C + 2 * C + h * hs;
                    float *dv = dqkv + ((size_t)b * T + u) * 3 * C + 2 * C + h * hs;
                    dp[u] = 0;
                    for (int i = 0; i < hs; i++) {
                        dp[u] += (double)dy[i] * v[i];
                        dv[i] += p[u] * dy[i];
                    }
                    dot += dp[u] * p[u];
                }
                for (int u = 0; u <= t; u++) {
                    double ds = p[u] * (dp[u] - dot) * scale; /* softmax backward, then the 1/sqrt(hs) */
                    const float *k = qkv + ((size_t)b * T + u) * 3 * C + C + h * hs;
                    float *dk = dqkv + ((size_t)b * T + u) * 3 * C + C + h * hs;
                    for (int i = 0; i < hs; i++) {
                        dq[i] += (float)(ds * k[i]);
                        dk[i] += (float)(ds * q[i]);
                    }
                }
            }
}

static double gelu_ref(double x) { return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x))); }

static void gelu_forward(float *out, const float *inp, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = (float)gelu_ref(inp[i]);
}

static void gelu_backward(float *dinp, const float *inp, const float *dout, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double x = inp[i], k = sqrt(2.0 / M_PI), u = k * (x + 0.044715 * x * x * x);
        double th = tanh(u);
        double d = 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * k * (1.0 + 3.0 * 0.044715 * x * x);
        dinp[i] = (float)(d * dout[i]);
    }
}

static void crossentropy_forward(float *probs, float *losses, const int32_t *targets, int N, int V)
{
    for (int n = 0; n < N; n++) {
        float *z = probs + (size_t)n * V;
        double maxv = -INFINITY, sum = 0;
        for (int v = 0; v < V; v++)
            if (z[v] > maxv) maxv = z[v];
        for (int v = 0; v < V; v++) sum += exp(z[v] - maxv);
        losses[n] = (float)(log(sum) + maxv - z[targets[n]]);
        for (int v = 0; v < V; v++) z[v] = (float)(exp(z[v] - maxv) / sum);
    }
}

static void crossentropy_backward(float *probs, const int32_t *targets, float dloss, int N, int V)
{
    for (int n = 0; n < N; n++)
        for (int v = 0; v < V; v++) {
            float *p = probs + (size_t)n * V + v;
            *p = (*p - (v == targets[n] ? 1.0f : 0.0f)) * dloss;
        }
}

const kernels_ops_t kernels_ref = {
    "reference",
    encoder_forward, encoder_backward,
    layernorm_forward, layernorm_backward,
    matmul_forward, matmul_backward,
    attention_forward, attention_backward,
    gelu_forward, gelu_backward,
    crossentropy_forward, crossentropy_backward,
};
