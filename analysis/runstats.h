/* runstats: the per-run statistics of the tables and the claims, from a run's merged curves.
 *
 * "End of training" is the last trace step. A phase (early, middle, late) is the set of trace steps s with
 * s < S/3, S/3 <= s < 2S/3 and s >= 2S/3 of the last trace step S; a phase's statistic is computed on the
 * mean of each signal over the phase's steps. Trends are least-squares slopes against log10(step + 1),
 * i.e. change per decade of training steps. Row l of the per-depth tables holds depth-valued signals at
 * h^l (l = 0..L) and block-valued signals of block l, the block that starts at h^l (l = 0..L-1). */
#ifndef IL_AGG_RUNSTATS_H
#define IL_AGG_RUNSTATS_H

#include "analysis/curves.h"

/* The hypotheses of docs/science.md, one row each, as the trace schema's variables are: its constant, the
 * id the outputs print, its title, the statistic per run and its symbol, the null, the distance from the null
 * of an effect that matters, and the predicted side (+1 above the null, -1 below). runstats.c computes each
 * statistic (hypotheses()), claims.c judges it; docs/science.md's verdict table is printed from this one
 * (claims_hypotheses_markdown) and test_claims checks it for drift. Adding a hypothesis: a row here, its
 * statistic in runstats.c, regenerate the docs table. */
#define RUNSTATS_HYPOTHESES(X)                                                                                  \
    X(H1, "H1", "position: the representation norm falls with position",                                  \
      "Spearman ρ(t, N[L][t]) over positions t ≥ 1 at the last depth L, N the S1 norm", "ρ", 0, 0.3, -1)       \
    X(H2A, "H2a", "local inner descent: blocks step downhill on the token's own logit-lens loss",           \
      "median over blocks of the S3b cosine (each block's mean over the probe tokens)", "cos", 0, 0.05, 1)    \
    X(H2B, "H2b", "global inner descent: blocks step downhill on the training loss",                        \
      "median over blocks of the S3 cosine (each block's mean over the probe tokens)", "cos", 0, 0.05, 1)     \
    X(H2C, "H2c", "the logit-lens loss falls monotonically with depth",                                     \
      "largest rise lens[l+1] − lens[l] over the depths l (S5, nats)", "rise", 0, 0.01, -1)                   \
    X(H3, "H3", "depth growth: the mean norm grows with depth",                                             \
      "smallest ratio mean_t N[l+1][t] / mean_t N[l][t] over the depths l", "ratio", 1, 0.05, 1)              \
    X(H4, "H4", "frequency: frequent input tokens have larger final representations",                       \
      "Spearman ρ(log training count of the input token, |h^L_t|) over every probe token at the last depth",  \
      "ρ", 0, 0.1, 1)                                                                                          \
    X(H5, "H5", "outer signal: the input gradient norm falls with position",                                \
      "Spearman ρ(t, S7 |dL/dh^0_t|) over all positions", "ρ", 0, 0.3, -1)

#define RUNSTATS_HYPOTHESIS_ENUM(constant, ...) constant,
enum { RUNSTATS_HYPOTHESES(RUNSTATS_HYPOTHESIS_ENUM) H_N };
#undef RUNSTATS_HYPOTHESIS_ENUM
enum { PH_END, PH_EARLY, PH_MIDDLE, PH_LATE, PH_N };

/* Inner-loop signals of inner.csv. */
enum { IN_COS, IN_COS_LOCAL, IN_ETA, IN_LENS, IN_DROP, IN_SINK, IN_ERANK, IN_N };

/* A statistic with its 95% interval: the delete-one jackknife over the run's probe groups (the statistic
 * recomputed G times, each time without one group's windows). est NaN: unknown; lo, hi NaN: no interval
 * (fewer than 2 groups, or a replicate unknown). */
typedef struct {
    double est, lo, hi;
} interval_t;

typedef struct {
    int L;
    /* per depth l = 0..L, at the end of training */
    double *rho_pos;     /* H1: Spearman rho(t, N[l][t]) over t >= 1 */
    double *first_ratio; /* H1: N[l][0] / mean_{t>0} N[l][t] */
    double *mean_norm;   /* mean_t N[l][t] */
    double *growth;      /* H3: mean_norm[l] / mean_norm[l-1]; NaN at l = 0 */
    double *rho_freq;    /* H4: Spearman rho(log count, |h^l_t|) over every probe token (rho_freq of the trace) */
    double *rho_bucket;  /* Spearman rho(bucket, norm_bucket[l][bucket]): the S6 curve, not the test */
    double *spread;      /* (max - min over probe groups of mean_t N[l][t]) / mean_norm[l] */
    double *inner_end[IN_N], *inner_slope[IN_N]; /* per row; NaN where the row has no such value */
    interval_t hyp[H_N][PH_N]; /* the hypotheses' statistics (claims.c) at the end and per phase */
} runstats_t;

void runstats_compute(runstats_t *r, const curves_t *c);
void runstats_free(runstats_t *r);

#endif
