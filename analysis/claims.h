/* claims: claims.md and claims.csv, the verdicts on the hypotheses of docs/science.md over every run with
 * traces.
 *
 * Per run, each hypothesis's statistic (runstats.h) comes with a 95% jackknife interval over the run's probe
 * groups. A run "holds" when the interval lies on the predicted side of the null (0 for a correlation, a
 * cosine or a rise, 1 for a ratio), "contradicts" when it lies on the other side, and is "inconclusive"
 * when it contains the null. Over a set of runs (claims.c, verdict()):
 *   not enough evidence  fewer than 3 runs, no configuration with 2 seeds, or most runs inconclusive;
 *   supported            most runs hold, none contradicts, and the median effect is as large as the
 *                        hypothesis's threshold of an effect that matters;
 *   contradicted         most runs contradict and none holds;
 *   mixed                anything else (runs significant both ways, or a significant but small effect).
 * The thresholds and the predicted sides are the table hyp[] of claims.c, documented in docs/science.md.
 *
 * A tokenizer (its kind and vocabulary size) makes the tokens the statistics are over: H4's frequencies, the
 * positions of H1 and H5 are of other objects under another tokenizer. When the runs are on more than one,
 * every verdict, interval, trend and phase is computed per tokenizer and never pooled over them; claims.md
 * shows the tokenizers' verdicts side by side.
 *
 * Models trained elsewhere, on other data, and only measured here (il-probe of imported weights) have no
 * seeds: over a set of runs that are all such models, the model is the unit of replication, and 3 models
 * stand where a configuration with 2 seeds is otherwise needed; claims.md says so, and names where each
 * model's weights came from. */
#ifndef IL_AGG_CLAIMS_H
#define IL_AGG_CLAIMS_H

#include <stdint.h>
#include <stdio.h>

#include "analysis/runstats.h"
#include "analysis/runs.h"

/* What the claims need of one run: a few hundred bytes, so the whole sweep can be held. */
typedef struct {
    char name[64];
    double n_params, n_layer, d_model, seq_len, seed, steps, tokens, val_loss, baseline;
    int tokenizer;   /* kind (TRACE_TOKENIZERS) and vocabulary size: runs on another tokenizer are judged apart */
    double vocab;
    uint64_t config; /* the run's sweep parameters but the seed and the rank layout: runs sharing it are
                      * seeds of one configuration */
    char source[320]; /* a model trained elsewhere (run_row_t's source): where its weights came from; "" for a
                       * run trained here. Such a model has no seeds: the model is the unit of replication */
    interval_t hyp[H_N][PH_N];
} claim_run_t;

/* A run's claims from its runs.csv row and statistics. */
void claims_run(claim_run_t *cl, const run_row_t *row, const runstats_t *st);

/* Writes <dir>/claims.md and <dir>/claims.csv. n_found counts every run directory, with or without
 * traces. Returns 0, or -1 with err_set(). */
int claims_write(const char *dir, const claim_run_t *runs, int n, int n_found, int n_skipped);

/* The hypotheses as docs/science.md's Markdown table: id, statistic, predicted side, null, an effect that
 * matters. */
void claims_hypotheses_markdown(FILE *f);

#endif
