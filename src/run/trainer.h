/* trainer: a training run as a library, so the trainer tool, tracing and the tests all drive the same
 * code. Every rank of the MPI world calls the same functions; rank 0 alone writes the run directory
 * <out_dir>/<name>/ (config.ini, log.txt, metrics.jsonl, launches.jsonl, ckpt/step_NNNNNNNN/, tb/). */
#ifndef IL_TRAINER_H
#define IL_TRAINER_H

#include <signal.h>
#include <stdint.h>

#include "core/config.h"
#include "data/loader.h"
#include "core/dist.h"
#include "model/gsync.h"
#include "model/gpt.h"
#include "model/adamw.h"
#include "model/optim.h"
#include "core/runlog.h"
#include "core/tbevents.h"
#include "run/rundir.h"
#include "data/shard.h"
#include "trace/tracer.h"

typedef struct {
    config_t cfg;
    dist_t dist;
    char dir[4096];          /* run directory */
    shard_t train_shard, val_shard; /* mapped read-only (shard_open): a shard file or a set */
    int has_val;
    int tokenizer;           /* kind of the training shard's tokenizer (tracer_tokenizer) */
    loader_t loader;         /* this rank's lanes of the training shard */
    gpt_t model;
    adamw_t opt;
    gsync_t sync;
    rng_t rng;
    int64_t step;            /* optimizer updates done */
    int64_t saved_step;      /* step of the newest checkpoint written or restored; -1: none */
    int finished;            /* resumed from the checkpoint of max_steps: nothing to train or trace */
    int accum;               /* micro-steps per update on each rank */
    int32_t *inputs, *targets; /* (micro_batch, T) */
    runlog_t log;            /* rank 0 only */
    tb_t tb;                 /* rank 0 only, with run.tensorboard: the TensorBoard curves (tb.f NULL: none) */
    rundir_t rundir;         /* rank 0 only: the lock on the run directory */
    tracer_t tracer;
    double last_val_loss;
    int64_t last_val_step;   /* step at which last_val_loss was measured; -1: none yet */
} trainer_t;

/* What trainer_run ended with. TRAINER_BAD_DATA: a block of a mapped shard failed its check when first
 * read (shard.h), on some rank: bad input found after the start. */
enum { TRAINER_DONE = 0, TRAINER_PREEMPTED = 1, TRAINER_FAILED = -1, TRAINER_BAD_DATA = -3 };
/* What trainer_open ends with when the disk refused the trace file (a full disk): a runtime failure. */
enum { TRAINER_IO = -2 };

/* Collective. Creates the run (refusing an existing run directory unless resume is set), or, with resume,
 * continues from its newest complete checkpoint (starting fresh when there is none yet). init_from (NULL:
 * none) is a checkpoint whose parameters a run starting at step 0 takes, with a fresh optimizer; it must be
 * of the config's dims and the training data's tokenizer. Returns 0, or -1
 * (bad input) or TRAINER_IO on every rank with err_msg() set to the failing rank's message. */
int trainer_open(trainer_t *tr, const config_t *cfg, const dist_t *dist, int resume, const char *init_from, int argc,
                 char **argv);
/* Collective. Trains to cfg.max_steps, validating and checkpointing on schedule. When SIGTERM, SIGUSR2
 * or SIGHUP reached any rank, all ranks stop at the next step boundary, write a checkpoint and return
 * TRAINER_PREEMPTED. */
int trainer_run(trainer_t *tr);
void trainer_close(trainer_t *tr);

/* Collective: one optimizer update (accum micro-batches per rank, gradients averaged over ranks). Sets
 * *loss to the global mean loss and *grad_norm, and returns 0; or, when a block of the training data failed
 * its check on any rank (loader_next), returns -1 on every rank with that rank's message, no update made. */
int trainer_step(trainer_t *tr, float *loss, double *grad_norm);

/* Collective: scores `windows` windows of T tokens spread evenly over the shard or set, B at a time, the
 * ranks sharing the windows. Sets *loss to the mean loss per token and cat_loss (s->n_cats entries, may be
 * NULL) to the token-weighted loss per category, NaN where a category had no tokens, and returns 0; or -1 on
 * every rank, with the failing rank's message, when a block of s failed its check (loader_window). */
int trainer_eval(gpt_t *m, const shard_t *s, int B, int windows, double *loss, double *cat_loss);

/* The signal that asked the run to stop (0: none). Set by the handlers trainer_open installs. */
extern volatile sig_atomic_t trainer_stop_signal;

#endif
