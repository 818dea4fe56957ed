/* kernels: the layers of the model, each a *_forward / *_backward pair of plain functions.
 *
 * Two implementations share one interface (kernels_ops_t): kernels_fast, the optimised one the trainer uses
 * (CBLAS matmuls, OpenMP over rows and over (batch, head), vectorised math), and kernels_ref, naive loops
 * kept beside it (kernels_ref.c) so tests can check one against the other and against finite
 * differences.
 *
 * Sizes: B batch, T positions, C channels, NH heads, V vocabulary, N = B*T rows.
 * Conventions: a weight W of a linear layer is (OC, C) and out = inp W^T + bias. Backward functions
 * *overwrite* the input gradient (dinp) and *accumulate* into parameter gradients (dw, db), so gradient
 * accumulation over micro-batches needs no extra buffer. In matmul_backward and layernorm_backward, dw NULL
 * (with db NULL) skips the parameter gradients: tracing needs only the gradients of the activations. */
#ifndef IL_KERNELS_H
#define IL_KERNELS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *name;
    /* out (B,T,C) = wte[inp] + wpe[t] */
    void (*encoder_forward)(float *out, const int32_t *inp, const float *wte, const float *wpe, int B, int T, int C);
    void (*encoder_backward)(float *dwte, float *dwpe, const float *dout, const int32_t *inp, int B, int T, int C);
    /* per row over C: out (N,C), mean (N), rstd (N) */
    void (*layernorm_forward)(float *out, float *mean, float *rstd, const float *inp, const float *w,
                              const float *b, int N, int C);
    /* dinp (N,C) is ADDED to (it is the residual stream's gradient), dw, db (C) accumulate */
    void (*layernorm_backward)(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                               const float *w, const float *mean, const float *rstd, int N, int C);
    /* out (N,OC) = inp (N,C) w^T (OC,C) + bias (OC, may be NULL); with accumulate, out += instead */
    void (*matmul_forward)(float *out, const float *inp, const float *w, const float *bias, int N, int C, int OC,
                           int accumulate);
    /* dinp (N,C) = dout w; dw (OC,C) += dout^T inp; dbias (OC) += column sums of dout (dbias may be NULL) */
    void (*matmul_backward)(float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                            const float *w, int N, int C, int OC);
    /* causal multi-head attention: qkv (B,T,3C) holds [q | k | v] per token, head h in columns
     * h*C/NH..; out (B,T,C); att (B,NH,T,T) keeps the softmax probabilities (zero above the diagonal) */
    void (*attention_forward)(float *out, float *att, const float *qkv, int B, int T, int C, int NH);
    /* dqkv (B,T,3C) overwritten; scratch (B,NH,T,T) */
    void (*attention_backward)(float *dqkv, float *scratch, const float *dout, const float *qkv, const float *att,
                               int B, int T, int C, int NH);
    /* tanh-approximated GELU, elementwise over n */
    void (*gelu_forward)(float *out, const float *inp, size_t n);
    /* dinp = gelu'(inp) * dout; dinp may alias dout */
    void (*gelu_backward)(float *dinp, const float *inp, const float *dout, size_t n);
    /* probs (N,V): logits in, softmax out (in place); losses (N) = -log probs[target] */
    void (*crossentropy_forward)(float *probs, float *losses, const int32_t *targets, int N, int V);
    /* probs (N,V) turned in place into dlogits = (probs - onehot(target)) * dloss */
    void (*crossentropy_backward)(float *probs, const int32_t *targets, float dloss, int N, int V);
} kernels_ops_t;

extern const kernels_ops_t kernels_fast;
extern const kernels_ops_t kernels_ref;

/* dst (C) += column sums of src (N,C); deterministic whatever the thread count. */
void kernels_colsum_add(float *dst, const float *src, int N, int C);

#endif
