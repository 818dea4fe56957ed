/* signals: the per-trace-step measurements S1-S9 of docs/science.md, from one rank's micro-batch.
 *
 * signals_compute() reads a model right after gpt_forward and gpt_backward(m, loss_scale) on that
 * micro-batch: the residual stream h^l (m->a.resid), the mid-block stream a (m->a.resid_mid), attention
 * probabilities (m->a.att) and the activation gradients (m->ga.dresid, m->ga.dresid_mid). It divides out
 * loss_scale, so every gradient g below is that of the micro-batch mean loss. Nothing of the ordinary
 * backward is recomputed; only the logit lens (S5, S3b) costs extra matmuls, and only when asked for.
 *
 * Definitions (b: sequence of the micro-batch, t: position, l: block, "mean_b" over the B sequences):
 *   S1  norm[l][t]        = mean_b |h^l_bt|                                  l = 0..L
 *   S2  update[l][t]      = mean_b |h^{l+1}_bt - h^l_bt|                     l = 0..L-1
 *       update_attn[l][t] = mean_b |a^l_bt - h^l_bt|,  update_mlp: |h^{l+1} - a^l|
 *   S3  cos[l][t]         = mean_b cos(h^{l+1} - h^l, -dL/dh^l)
 *       cos_attn: cos(a^l - h^l, -dL/dh^l);  cos_mlp: cos(h^{l+1} - a^l, -dL/da^l)
 *       (each half against the gradient at the point it starts from); a token whose step or gradient is
 *       exactly zero contributes cosine 0.
 *   S3b cos_local[l][t]   = mean_b cos(h^{l+1} - h^l, -d CE(wte LNf(h^l_bt), y_bt) / dh^l_bt): the gradient
 *       of the token's own logit-lens loss, through the final LayerNorm and the tied unembedding.
 *   S4  eta[l] = -sum_bt <D, g> / sum_bt |g|^2 for D = h^{l+1} - h^l, g = dL/dh^l (eta_attn, eta_mlp
 *       likewise with the halves' steps and gradients). g is the gradient of the micro-batch *mean* loss,
 *       so eta scales with the B*T tokens of the micro-batch: compare runs at equal micro-batch shape.
 *   S5  lens[l] = mean_bt CE(wte LNf(h^l_bt), y_bt), l = 0..L; lens[L] is the training loss.
 *   S6  norm_bucket[l][k] = mean |h^l_bt| over tokens whose input id lies in frequency bucket k; NaN where
 *       the micro-batch has no such token. Bucket of an id with training count n: 0 if n <= 1, else
 *       floor(log2 n), i.e. bucket k >= 1 holds counts in [2^k, 2^(k+1)) and bucket 0 counts 0 and 1.
 *       n_bucket = 1 + floor(log2(max count)) (1 when no counts are given: every id in bucket 0).
 *   S7  grad0[t] = mean_b |dL/dh^0_bt|.
 *   S8  sink[l] = mean over b, heads and queries t >= 1 of the attention probability on key 0 (NaN if T=1).
 *   S9  sv[l][i], erank[l]: see spectrum.h; filled by signals_spectrum(), a collective call.
 * Per-position arrays cover positions 0..m->t-1 and hold NaN beyond. Options may restrict the logit lens
 * to every pos_stride-th position (t % pos_stride == 0); cos_local is NaN at the others and lens is the
 * mean over the chosen positions (so lens[L] equals the training loss only with pos_stride 1).
 * All arrays are row-major in the order of their index lists above. */
#ifndef IL_SIGNALS_H
#define IL_SIGNALS_H

#include <stdint.h>

#include "model/gpt.h"
#include "trace/spectrum.h"

/* Parameter groups for weight norms, from the tensor names of the model's layout (gpt_t.tensors). */
enum { SIGNALS_GROUP_EMBED, SIGNALS_GROUP_ATTN, SIGNALS_GROUP_MLP, SIGNALS_GROUP_LN, SIGNALS_N_GROUPS };

typedef struct {
    int lens;       /* compute S5 */
    int local;      /* compute S3b (needs the lens forward, so implies it) */
    int pos_stride; /* logit lens on positions t % pos_stride == 0; 1 = all */
    int n_sv;       /* singular values kept per depth (S9) */
} signals_opts_t;

typedef struct {
    int L, T, C, V, B; /* dims; B is the batch capacity */
    signals_opts_t opt;
    int n_bucket;
    int *bucket_of;         /* (V) frequency bucket of each token id */
    int64_t *bucket_lo;     /* (n_bucket) smallest training count of the bucket: 0, 2, 4, 8, ... */
    int64_t *bucket_ids;    /* (n_bucket) vocabulary ids in the bucket */

    /* results of the last signals_compute (+ signals_spectrum) */
    int64_t tokens;         /* B*T tokens of this rank's micro-batch: the weight for merging ranks */
    int batch;              /* B, sequences (the weight of the per-position means) */
    double *norm;           /* (L+1, T) S1 */
    double *update, *update_attn, *update_mlp; /* (L, T) S2 */
    double *cos, *cos_attn, *cos_mlp;          /* (L, T) S3 */
    double *cos_local;      /* (L, T) S3b */
    double *eta, *eta_attn, *eta_mlp;          /* (L) S4 */
    double *lens;           /* (L+1) S5 */
    double *norm_bucket;    /* (L+1, n_bucket) S6 */
    int64_t *bucket_tokens; /* (n_bucket) tokens of the micro-batch per bucket */
    double *grad0;          /* (T) S7 */
    double *sink;           /* (L) S8 */
    double *sv;             /* (L+1, n_sv) S9 */
    double *erank;          /* (L+1) S9 */
    double wnorm[SIGNALS_N_GROUPS]; /* L2 norm of the parameters in each group */

    /* scratch, allocated once */
    double *rownorm;        /* (L+1, B*T) |h^l| per token, shared by S1 and S6 */
    double *part;           /* (L, T, 6) per-position sums for S4: <D,g>, |g|^2 for block, attn, mlp */
    int lens_rows;          /* rows per logit-lens chunk */
    int *rows;              /* (B*T) row indices b*T+t the logit lens visits */
    float *lx;              /* (lens_rows, C) gathered h^l rows */
    float *lnorm;           /* (lens_rows, C) LNf output, then the gradient at it */
    float *ldx;             /* (lens_rows, C) gradient of each row's own lens loss at h^l */
    float *lmean, *lrstd, *lloss; /* (lens_rows) */
    float *logits;          /* (lens_rows, V) logits -> probabilities -> dlogits */
    int32_t *ltarget;       /* (lens_rows) */
    float *wte_t;           /* (C, V) the unembedding transposed, so dlogits wte is a matmul_forward */
    float *dw_junk;         /* (2C) LNf parameter gradients layernorm_backward insists on accumulating */
} signals_t;

/* counts (V entries, may be NULL) are the training-set unigram counts of the sidecar (shard_counts_read). */
void signals_create(signals_t *s, const gpt_dims_t *d, int B, const uint64_t *counts, const signals_opts_t *opt);
void signals_destroy(signals_t *s);
/* Bucket of a training count (see S6 above). */
int signals_bucket(uint64_t count);
/* Group (SIGNALS_GROUP_*) of a tensor name from the model layout. */
int signals_group(const char *tensor_name);

/* S1-S8 and the weight norms, for the last forward+backward of m (gpt_backward called with loss_scale).
 * Local to this rank; m is only read (the logit lens works in its own buffers, since backward has already
 * turned m->a.probs into dlogits). */
void signals_compute(signals_t *s, const gpt_t *m, float loss_scale);
/* S9 for every depth. Collective over sp's communicator: every rank calls it at the same trace steps,
 * after its own signals_compute (sp created with max_rows >= B*T and k = opt.n_sv). */
void signals_spectrum(signals_t *s, spectrum_t *sp, const gpt_t *m);

#endif
