/* tracer: the trainer's side of tracing. It decides which steps are traced (trace.* keys), owns the
 * signals context, the distributed spectrum and this rank's trace file, and turns one traced step into
 * one record. Every rank traces the same steps, since the spectrum is computed over the global batch. */
#ifndef IL_TRACER_H
#define IL_TRACER_H

#include <mpi.h>
#include <stdint.h>

#include "core/config.h"
#include "model/gpt.h"
#include "data/shard.h"
#include "trace/signals.h"
#include "trace/spectrum.h"
#include "trace/twrite.h"

typedef struct {
    int on;          /* trace.interval > 0 */
    int spectrum_on; /* trace.spectrum is not "off" */
    int interval, log_spaced, max_steps;
    MPI_Comm comm;   /* the spectrum's own communicator, so its reductions never meet the gradients' */
    signals_t sig;
    spectrum_t sp;
    trace_t file;
    int have_sig, have_sp, have_file; /* what tracer_close must release, also after a failed open */
} tracer_t;

/* Collective. Opens this launch's trace segment in <run_dir>/trace for a run starting at start_step.
 * The unigram counts come from cfg->counts_path, or train.counts beside the training shard; they must
 * belong to the training shard's tokenizer. Returns 0, or -1 on every rank with err_set(). */
int tracer_open(tracer_t *t, const config_t *cfg, const gpt_t *m, const shard_t *train, const char *run_dir,
                int rank, int world_size, int64_t start_step, int argc, char **argv);
/* Whether update `step` (0-based) is traced. */
int tracer_is_step(const tracer_t *t, int64_t step);
/* Collective (with the spectrum on): measures the signals of the last forward+backward of m. */
void tracer_capture(tracer_t *t, const gpt_t *m, float loss_scale);
/* Appends the record of the captured step. */
void tracer_write(tracer_t *t, const trace_record_t *rec);
void tracer_sync(tracer_t *t);
void tracer_close(tracer_t *t);

#endif
