/* tracer: the trainer's side of tracing. It decides which steps are traced (trace.* keys), owns the probe
 * set, the signals context, the distributed spectrum and this rank's trace file, and turns the weights of
 * one traced step into one record. Step k means the weights after k updates, step 0 the initialisation.
 * Every rank traces the same steps: the spectrum and the per-token statistic take every rank's tokens. */
#ifndef IL_TRACER_H
#define IL_TRACER_H

#include <mpi.h>
#include <stdint.h>

#include "core/config.h"
#include "data/shard.h"
#include "model/gpt.h"
#include "trace/params.h"
#include "trace/probe.h"
#include "trace/signals.h"
#include "trace/spectrum.h"
#include "trace/tracewrite.h"

typedef struct {
    int on;          /* trace.interval > 0 */
    int spectrum_on; /* trace.spectrum is not "off" */
    int interval, log_spaced, max_steps, full_every;
    int64_t ordinal;         /* of the next trace step in the schedule (tracer_ordinal) */
    int64_t n_full, n_thin;  /* trace steps of this launch with and without the sparse variables */
    MPI_Comm comm;   /* the tracer's own communicator, so its reductions never meet the gradients' */
    probe_t probe;
    signals_t sig;
    spectrum_t sp;
    tracewrite_t file;
    int have_comm, have_probe, have_sig, have_sp, have_file; /* what tracer_close must release */
} tracer_t;

/* Collective. Opens this launch's trace segment in <run_dir>/trace for a run starting at start_step, with
 * the probe set drawn from `probe_shard` (the validation shard; the training shard when there is none).
 * The unigram counts come from cfg->counts_path, or train.counts beside the training shard; they must
 * be there, read whole and belong to the training shard (its tokenizer and token count). tokenizer: the kind
 * of the training shard's tokenizer (tracer_tokenizer), a sweep parameter. Returns 0, or -1 on every rank
 * with err_set(). */
int tracer_open(tracer_t *t, const config_t *cfg, const gpt_t *m, const shard_t *train, int tokenizer,
                const shard_t *probe_shard, const char *probe_path, const char *run_dir, int rank, int world_size,
                int64_t start_step, int argc, char **argv);
/* Whether step `step` (weights after that many updates, 0..max_steps) is traced. */
int tracer_is_step(const tracer_t *t, int64_t step);
/* Collective: runs the probe set through the current weights of m (forward, and a backward for the
 * activations' gradients only: m's parameter gradients are not touched) and appends the record of
 * rec->step, the next trace step of the schedule: a full one (tracer_full) with every variable, else one
 * whose sparse variables (TRACE_SPARSE) are neither computed nor written. Returns 0, or -1 with err_set()
 * when the trace file cannot be written (it names the file and the reason). */
int tracer_trace(tracer_t *t, gpt_t *m, const tracewrite_rec_t *rec);
/* Collective: the signals of probe share p through the current weights of m, in chunks of m's batch
 * capacity; with `full`, also the sparse ones: the per-genre splits, H4 and S9 (S9 only when sp is not NULL).
 * What tracer_trace records; il-bench times it. */
void tracer_measure(const probe_t *p, signals_t *sig, spectrum_t *sp, MPI_Comm comm, gpt_t *m, int full);
/* Makes the records so far durable; 0, or -1 with err_set() as tracer_trace. */
int tracer_sync(tracer_t *t);
void tracer_close(tracer_t *t);

/* Collective over comm: rank 0 creates dir if needed and finds the next free segment number (one past
 * the highest rank*.seg*.nc of any rank there, 0 in an empty directory); every rank receives it.
 * Returns 0, or -1 on every rank with err_set(). */
int tracer_segment(const char *dir, MPI_Comm comm, int *segment);

#endif
