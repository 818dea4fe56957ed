/* model: a GPT-2-style causal language model (pre-LayerNorm, tied unembedding), forward and backward.
 *
 * All parameters live in one contiguous buffer and all gradients in a second with the same layout, so
 * one allreduce covers them. The layout, in order (each block contiguous, so a block's gradients form
 * one bucket that can be reduced as soon as backward leaves the block):
 *   wte (V,C)  wpe (T,C)
 *   for l in 0..L-1: ln1w (C) ln1b (C) qkvw (3C,C) qkvb (3C) projw (C,C) projb (C)
 *                    ln2w (C) ln2b (C) fcw (4C,C) fcb (4C) fcprojw (C,4C) fcprojb (C)
 *   lnfw (C)  lnfb (C)
 * the static layout() in gpt.c lists exactly this, and every view is built from that list. */
#ifndef IL_MODEL_H
#define IL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "model/kernels.h"
#include "core/config.h"
#include "core/rng.h"

typedef struct {
    int V;  /* vocabulary size */
    int T;  /* context length */
    int L;  /* blocks */
    int NH; /* heads */
    int C;  /* channels (d_model) */
} gpt_dims_t;

enum { GPT_TENSORS_PER_BLOCK = 12 };

typedef struct {
    const char *name; /* "wte", "h.qkvw", ... (h. = inside a block) */
    int layer;        /* block index, -1 outside blocks */
    size_t offset;    /* floats from the start of the buffer */
    size_t size;      /* floats */
    int decay;        /* 1: AdamW weight decay applies (matrices and embeddings, not biases or LN gains) */
} gpt_tensor_t;

typedef struct {
    float *ln1w, *ln1b; /* (C) */
    float *qkvw;        /* (3C, C) */
    float *qkvb;        /* (3C) */
    float *projw;       /* (C, C) */
    float *projb;       /* (C) */
    float *ln2w, *ln2b; /* (C) */
    float *fcw;         /* (4C, C) */
    float *fcb;         /* (4C) */
    float *fcprojw;     /* (C, 4C) */
    float *fcprojb;     /* (C) */
} gpt_block_t;

typedef struct {
    float *wte;          /* (V, C) */
    float *wpe;          /* (T, C) */
    gpt_block_t *blocks; /* [L] */
    float *lnfw, *lnfb;  /* (C) */
} gpt_view_t;

/* The activation buffers, each with its shape for a batch capacity of B rows, in the dims L, T, C, NH, V
 * (BT = B * T; R = gpt_loss_rows(V, BT), the token rows of one loss chunk): one table for the struct fields and for the sizes gpt_create allocates and gpt_memory counts.
 * Forward activations, kept for backward and for tracing: */
#define GPT_ACTS(X)                                                                                       \
    X(resid, (L + 1) * BT * C)     /* residual stream h^l entering block l; resid[L] leaves the last */   \
    X(resid_mid, L * BT * C)       /* after attention, before the MLP */                                 \
    X(ln1, L * BT * C)                                                                                    \
    X(ln1_mean, L * BT)                                                                                   \
    X(ln1_rstd, L * BT)                                                                                   \
    X(qkv, L * BT * 3 * C)                                                                                \
    X(atty, L * BT * C)            /* attention output before the projection */                          \
    X(att, L * B * NH * T * T)     /* attention probabilities */                                          \
    X(ln2, L * BT * C)                                                                                    \
    X(ln2_mean, L * BT)                                                                                   \
    X(ln2_rstd, L * BT)                                                                                   \
    X(fch, L * BT * 4 * C)         /* before GELU */                                                      \
    X(fch_gelu, L * BT * 4 * C)                                                                           \
    X(lnf, BT * C)                                                                                        \
    X(lnf_mean, BT)                                                                                       \
    X(lnf_rstd, BT)                                                                                       \
    X(logits, R * V)               /* one chunk of rows: logits, softmax in place, then dlogits */        \
    X(losses, BT)                  /* per-token loss */
/* Gradients with respect to activations, written by backward: */
#define GPT_GACTS(X)                                                                                      \
    X(dresid, (L + 1) * BT * C)    /* dL/dh^l */                                                          \
    X(dresid_mid, L * BT * C)                                                                             \
    X(dln, BT * C)                 /* scratch: the gradient entering a LayerNorm's output */             \
    X(dqkv, BT * 3 * C)                                                                                   \
    X(datty, BT * C)                                                                                      \
    X(datt, B * NH * T * T)        /* scratch */                                                          \
    X(dfch, BT * 4 * C)

#define GPT_ACT_FIELD(name, size) float *name;
typedef struct {
    GPT_ACTS(GPT_ACT_FIELD)
} gpt_acts_t;
typedef struct {
    GPT_GACTS(GPT_ACT_FIELD)
} gpt_gacts_t;
#undef GPT_ACT_FIELD

typedef struct {
    gpt_dims_t d;
    const kernels_ops_t *k;
    int n_tensors;
    gpt_tensor_t *tensors; /* [n_tensors] */
    size_t n_params;
    float *params;         /* [n_params] */
    float *grads;          /* [n_params] */
    gpt_view_t p, g;       /* views of params and grads */
    int B;                 /* batch capacity of the activation buffers */
    /* Token rows per chunk of the unembedding and its loss: at most gpt_loss_rows(V, B*T), the capacity of
     * a.logits; a test may lower it to check that the chunks cover every row exactly once. */
    int loss_rows;
    gpt_acts_t a;
    gpt_gacts_t ga;
    float *act_mem, *gact_mem;
    /* If set, gpt_backward calls it as soon as block `layer`'s parameter gradients are final (layers
     * L-1 down to 0), so their reduction can start while backward goes on below. */
    void (*on_block_done)(void *ctx, int layer);
    void *hook_ctx;
    /* set by gpt_forward, used by gpt_backward */
    const int32_t *inputs, *targets; /* (B, T) */
    int b, t;                        /* rows and positions of the last forward */
} gpt_t;

/* The model a config describes. V is 0 when the config takes the vocabulary from the data. */
gpt_dims_t gpt_dims_of(const config_t *c);
/* Returns 0, or -1 with err_set() naming the offending key (model.d_model, ...). */
int gpt_dims_check(const gpt_dims_t *d);
size_t gpt_param_count(const gpt_dims_t *d);
/* The parameter layout of dims d into t (NULL: count only); returns the number of tensors. */
int gpt_layout(const gpt_dims_t *d, gpt_tensor_t *t);
/* Rows of one chunk of the unembedding, softmax and loss for N rows: so that the (rows, V) logits
 * stay within GPT_LOSS_FLOATS whatever V (at V = 50,257 the whole (B, T, V) tensor is 823 MB per
 * 4 x 1,024 tokens), and at least one row. */
enum { GPT_LOSS_FLOATS = 1 << 22 };
int gpt_loss_rows(int V, size_t N);
/* Bytes gpt_create allocates for dims d and batch capacity B: parameters with their gradients, and
 * activations with their gradients. */
void gpt_memory(const gpt_dims_t *d, int B, double *params, double *acts);
/* Allocates parameters, gradients and activations for up to B rows; dims must pass gpt_dims_check. */
void gpt_create(gpt_t *m, const gpt_dims_t *d, int B, const kernels_ops_t *k);
void gpt_destroy(gpt_t *m);
/* N(0, 0.02) weights, residual output projections scaled by 1/sqrt(2L), LN gains 1, biases 0. */
void gpt_init_params(gpt_t *m, rng_t *rng);
/* inputs, targets (B, T) with B <= capacity, T <= d.T. Returns the mean loss over B*T tokens; a.losses
 * holds each token's. The logits are computed loss_rows rows at a time and not kept: backward computes
 * them again, chunk by chunk, so memory does not grow with V x tokens. */
float gpt_forward(gpt_t *m, const int32_t *inputs, const int32_t *targets, int B, int T);
void gpt_zero_grad(gpt_t *m);
/* Accumulates d(loss_scale * mean loss)/dparams into m->grads, for the last forward. */
void gpt_backward(gpt_t *m, float loss_scale);
/* The same backward for the activations' gradients only (m->ga): m->grads is not touched and no hook is
 * called. What tracing needs, without disturbing a training step. */
void gpt_backward_acts(gpt_t *m, float loss_scale);
/* FLOPs of one forward+backward per token: 6 per matmul weight plus 12*L*T*C for attention (the usual
 * model-FLOPs count: full T x T scores, no credit for causality). */
double gpt_flops_per_token(const gpt_dims_t *d, int T);

#endif
