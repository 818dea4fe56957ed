/* claims: claims.md, the verdict on each hypothesis of docs/science.md over all runs with traces.
 *
 * Per run, the statistic of rstat.h; when it "holds" (claims.c, hyp[]): H1, H2c, H5: the statistic < 0;
 * H2a, H2b: more than half of the blocks have a positive mean cosine; H3: the smallest depth-to-depth
 * growth ratio > 1; H4: the sign of rho equals the sign most runs have at the end of training. Runs where
 * the statistic is unknown (NaN: the signal was not recorded) are left out of the counts.
 * Verdict on the share of runs where it holds at the end of training: >= 80% supported, 50-80% mixed,
 * below 50% fails. */
#ifndef IL_AGG_CLAIMS_H
#define IL_AGG_CLAIMS_H

#include "analysis/rstat.h"

/* What claims.md needs of one run: a few bytes, so the whole sweep can be held. */
typedef struct {
    double n_params, n_layer, d_model;
    double hyp[H_N][PH_N];
} claim_run_t;

/* Writes <dir>/claims.md. n_found counts every run directory, with or without traces. Returns 0, or -1
 * with err_set(). */
int claims_write(const char *dir, const claim_run_t *runs, int n, int n_found, int n_skipped);

#endif
