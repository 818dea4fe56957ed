/* signals: the per-trace-step measurements S1-S9 of docs/science.md, over one rank's share of the probe set.
 *
 * A trace step runs the rank's probe windows through the model in chunks of up to B (the model's batch
 * capacity): gpt_forward, then gpt_backward_acts(m, loss_scale); after each chunk signals_add() reads the
 * residual stream h^l (m->a.resid), the mid-block stream a (m->a.resid_mid), the attention probabilities
 * (m->a.att) and the activation gradients (m->ga.dresid, m->ga.dresid_mid). signals_begin() clears the
 * sums, signals_end() turns them into means, and the collective signals_spectrum() and signals_freq_rho()
 * add what needs every rank's tokens. Only the logit lens (S5, S3b) costs matmuls beyond the forward and
 * backward, and only when asked for.
 *
 * The gradient g of a token is that of its window's own mean loss L_w = mean_t CE(z_t, y_t): signals_add
 * rescales the backward's gradients (of loss_scale times the chunk's mean loss) by b / loss_scale. So
 * cosines, |g| and eta do not depend on how many windows a chunk holds.
 *
 * Definitions ("mean over windows" over this rank's windows, or a group's; t a position, l a block):
 *   S1  norm[g][l][t]     = mean over group g's windows of |h^l_t|                         l = 0..L
 *   S2  update[l][t]      = mean |h^{l+1}_t - h^l_t|;  update_attn: |a^l - h^l|; update_mlp: |h^{l+1} - a^l|
 *   S3  cos_pos[l][t]     = mean cos(h^{l+1} - h^l, -g^l); cos_attn_pos: cos(a^l - h^l, -g^l);
 *       cos_mlp_pos: cos(h^{l+1} - a^l, -dL/da^l) (each half against the gradient where it starts); a token
 *       whose step or gradient is exactly zero contributes cosine 0. cos[g][l] is the mean over group g's
 *       windows and every position.
 *   S3b cos_local_pos[l][t], cos_local[g][l]: as S3 with minus the gradient of the token's own logit-lens
 *       loss CE(wte LNf(h^l_t), y_t) at h^l_t, through the final LayerNorm and the tied unembedding.
 *   S4  eta[l] = -sum <D, g> / sum |g|^2 over this rank's tokens, D = h^{l+1} - h^l (eta_attn, eta_mlp
 *       likewise with the halves' steps and gradients).
 *   S5  lens[g][l] = mean CE(wte LNf(h^l_t), y_t) over group g's lens tokens; lens[g][L] is the probe loss.
 *       lens_genre[c][l] and cos_local_genre[c][l]: the same over this rank's lens tokens whose target lies
 *       in a document of genre c.
 *   S6  norm_bucket[l][k] = mean |h^l| over this rank's tokens whose input id lies in frequency bucket k;
 *       NaN where it has none. Bucket of an id with training count n: 0 if n <= 1, else floor(log2 n).
 *   H4  rho_freq[l] = Spearman rho(log(1 + training count of the input token), |h^l_t|) over every probe
 *       token of the run; rho_freq_jk[g][l] the same without group g's tokens.
 *   S7  grad0[g][t] = mean over group g's windows of |g^0_t|.
 *   S8  sink[l] = mean over windows, heads and queries t >= 1 of the attention probability on key 0.
 *   S9  sv[l][i], erank[l]: see spectrum.h, over the centred matrix of every probe token's h^l.
 * The logit lens may be restricted to positions t % pos_stride == 0 (the "lens positions"); S3b is NaN at
 * the others. Arrays are row-major in the order of their index lists above. */
#ifndef IL_SIGNALS_H
#define IL_SIGNALS_H

#include <mpi.h>
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

/* Sizes of a rank's share of the probe set. */
typedef struct {
    int n_group; /* groups this rank traces */
    int n_genre; /* genres of the probe shard */
    int rows;    /* probe tokens on this rank: windows x T */
} signals_share_t;

typedef struct {
    int L, T, C, V, B; /* dims; B is the batch capacity of a chunk */
    signals_opts_t opt;
    signals_share_t share;
    int n_bucket;
    int *bucket_of;         /* (V) frequency bucket of each token id */
    int64_t *bucket_lo;     /* (n_bucket) smallest training count of the bucket: 0, 2, 4, 8, ... */
    int64_t *bucket_ids;    /* (n_bucket) vocabulary ids in the bucket */
    float *logcount;        /* (V) log(1 + training count) */

    /* the merge weights of the rank's share (signals_count): they never change, as the probe set does not */
    int64_t *bucket_tokens; /* (n_bucket) probe tokens per bucket of their input id */
    int64_t *genre_tokens;  /* (n_genre) lens tokens per genre of their target */

    /* results of the last begin/add/end, spectrum and freq_rho */
    int64_t *group_windows; /* (n_group) windows added per group */
    double *update, *update_attn, *update_mlp;                 /* (L, T) S2 */
    double *cos_pos, *cos_attn_pos, *cos_mlp_pos, *cos_local_pos; /* (L, T) S3, S3b */
    double *eta, *eta_attn, *eta_mlp;                          /* (L) S4 */
    double *sink;                                              /* (L) S8 */
    double *norm_bucket;                                       /* (L+1, n_bucket) S6 */
    double *norm;                                              /* (n_group, L+1, T) S1 */
    double *cos, *cos_local;                                   /* (n_group, L) S3, S3b */
    double *lens;                                              /* (n_group, L+1) S5 */
    double *grad0;                                             /* (n_group, T) S7 */
    double *lens_genre;                                        /* (n_genre, L+1) */
    double *cos_local_genre;                                   /* (n_genre, L) */
    double *rho_freq;                                          /* (L+1) H4 */
    double *rho_freq_jk;                                       /* (n_group, L+1) */
    double *sv;                                                /* (L+1, n_sv) S9 */
    double *erank;                                             /* (L+1) S9 */
    double wnorm[SIGNALS_N_GROUPS]; /* L2 norm of the parameters in each group */

    /* sums between begin and end, and the tokens kept for S9 and H4 */
    double *acc;            /* every sum, carved into the fields below */
    double *s_pos;          /* (L, T, 7) update x3, cos x3, cos_local */
    double *s_pos_n;        /* (T) windows counted per position; lens windows per position in s_lens_pos_n */
    double *s_lens_pos_n;   /* (T) */
    double *s_eta;          /* (L, 6) <D,g>, |g|^2 for block, attn, mlp */
    double *s_sink, s_sink_n;
    double *s_bucket;       /* (L+1, n_bucket) */
    double *s_norm, *s_grad0; /* (n_group, L+1, T), (n_group, T) */
    double *s_cos, *s_cos_local, *s_lens; /* (n_group, L), (n_group, L), (n_group, L+1) */
    double *s_group_lens_n; /* (n_group) lens tokens */
    double *s_lens_genre, *s_cos_local_genre; /* (n_genre, L+1), (n_genre, L) */
    double *s_bucket_n, *s_genre_n; /* (n_bucket) tokens added per bucket, (n_genre) lens tokens per genre */
    int rows;               /* tokens kept so far */
    float *h;               /* (L+1, share.rows, C) every probe token's h^l, for S9 */
    float *tok_norm;        /* (L+1, share.rows) |h^l| of every probe token, for H4 */
    float *tok_logc;        /* (share.rows) log count of its input id */
    int *tok_group;         /* (share.rows) its group's place on this rank */

    /* scratch, allocated once */
    double *rownorm;        /* (L+1, B*T) |h^l| per token of a chunk */
    int lens_rows;          /* rows per logit-lens pass */
    int *rows_sel;          /* (B*T) rows b*T+t the logit lens visits */
    float *lx;              /* (lens_rows, C) gathered h^l rows */
    float *lnorm;           /* (lens_rows, C) LNf output, then the gradient at it */
    float *ldx;             /* (lens_rows, C) gradient of each row's own lens loss at h^l */
    float *lmean, *lrstd, *lloss; /* (lens_rows) */
    float *logits;          /* (lens_rows, V) logits -> probabilities -> dlogits */
    int32_t *ltarget;       /* (lens_rows) */
    float *wte_t;           /* (C, V) the unembedding transposed, so dlogits wte is a matmul_forward */
} signals_t;

/* counts (V entries, may be NULL) are the training-set unigram counts of the sidecar (shard_counts_read). */
void signals_create(signals_t *s, const gpt_dims_t *d, int B, const uint64_t *counts, const signals_opts_t *opt,
                    const signals_share_t *share);
void signals_destroy(signals_t *s);
/* Bucket of a training count (see S6 above). */
int signals_bucket(uint64_t count);
/* Group (SIGNALS_GROUP_*) of a tensor name from the model layout. */
int signals_group(const char *tensor_name);

/* The merge weights bucket_tokens and genre_tokens of the n windows of T tokens a trace step adds: their
 * input ids (n, T) and the genre of each target (n, T; may be NULL). They are what signals_end divides by
 * when exactly those windows were added, and what the trace file records before the first measurement. */
void signals_count(signals_t *s, const int32_t *inputs, const int32_t *genre, int64_t n);
/* Clears the sums and measures the weight norms of m. */
void signals_begin(signals_t *s, const gpt_t *m);
/* Adds the last forward and gpt_backward_acts(m, loss_scale) of m: its m->b windows, the i-th of group
 * place slot[i], their targets' genres genre (b, T; may be NULL). m is only read (the logit lens works in
 * its own buffers). */
void signals_add(signals_t *s, const gpt_t *m, float loss_scale, const int *slot, const int32_t *genre);
/* Means of everything added since signals_begin. */
void signals_end(signals_t *s);
/* S9 for every depth over the tokens added. Collective over sp's communicator (sp created with
 * max_rows >= share.rows and k = opt.n_sv). */
void signals_spectrum(signals_t *s, spectrum_t *sp);
/* H4 over every rank's tokens: rank 0 gathers them, computes rho_freq and its replicates without each
 * group (group_of_place[k]: the group of this rank's place k; n_groups: the run's groups), and every rank
 * receives them. Collective over comm. */
void signals_freq_rho(signals_t *s, MPI_Comm comm, const int64_t *group_of_place, int n_groups);

#endif
