/* synth_run: writes a synthetic run directory (config.ini, metrics.jsonl, launches.jsonl and per-rank
 * trace files through src/trace.c's own writer, so the files follow the schema exactly) with values
 * chosen so that the aggregation's answers are known in advance. Used by the tests and the benchmark.
 *
 * Default values at progress p = step / last step, depth l, block l, position t, bucket k:
 *   loss = 2 + 3 exp(-5p); val_loss = loss + 0.05 on every 5th trace record, else NaN;
 *   norm[l][t] = (1 + 0.3 l) g(t) with g(t) = 1 + 0.8/(1+t), times 3 at t = 0, when h1 > 0 (H1 holds),
 *                and g(t) = 1 + 0.01 t when h1 < 0 (H1 fails);
 *   cos = 0.1 + 0.2p, cos_local = 0.05 + 0.3p, eta[l] = 0.5 + 0.1 l + 0.2p;
 *   lens[l] = loss + (L - l)(0.3 + 0.5p) (falls with depth, more steeply later);
 *   norm_bucket[l][k] = (1 + 0.3 l)(1 + 0.1 k); grad0[t] = 0.1 / (1 + 0.05 t); sink = 0.1 + 0.5p;
 *   erank[l] = C/2 (1 - 0.3p). Every rank multiplies its signals by 1 + 0.01 rank.
 * A fill callback may then overwrite any of them. */
#ifndef IL_AGG_SYNTH_RUN_H
#define IL_AGG_SYNTH_RUN_H

#include <stdint.h>

#include "signals.h"
#include "trace.h"

typedef struct synth_spec synth_spec_t;
typedef void (*synth_fill_fn)(const synth_spec_t *sp, int rank, int segment, int64_t step, signals_t *s,
                              trace_record_t *rec);

struct synth_spec {
    const char *dir;  /* run directory, created; must not hold trace files yet */
    const char *name; /* run.name */
    int L, T, C, NH, V, ranks, n_sv, micro_batch;
    int n_trace;      /* trace records at steps 0, interval, ..., (n_trace-1) * interval = the last step */
    int interval;
    int restart;      /* 1: a second launch resumes at the middle trace step while the first launch had
                         written two trace records past it, so three steps appear in both segments */
    int h1;           /* > 0: norm falls with position; < 0: it rises */
    uint64_t seed;
    int run_files;    /* 1: also config.ini, metrics.jsonl (every step) and launches.jsonl */
    synth_fill_fn fill;
    void *user;
};

/* Fills in the defaults used by il-synth-traces for the fields left 0. */
void synth_defaults(synth_spec_t *sp);

/* Writes the run. Returns 0, or -1 with err_set(). */
int synth_run(const synth_spec_t *sp);

#endif
