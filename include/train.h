/* train: a training run as a library, so the single-process tool, the MPI trainer, tracing and the
 * tests all drive the same code. A run directory <out_dir>/<name>/ holds config.ini (the effective
 * config), log.txt, metrics.jsonl, launches.jsonl and ckpt/step_NNNNNNNN.ckpt. */
#ifndef IL_TRAIN_H
#define IL_TRAIN_H

#include <stdint.h>

#include "config.h"
#include "data.h"
#include "model.h"
#include "optim.h"
#include "runlog.h"
#include "shard.h"

typedef struct {
    config_t cfg;
    char dir[4096];          /* run directory */
    shard_t train_shard, val_shard;
    int has_val;
    loader_t train_loader, val_loader;
    gpt_t model;
    adamw_t opt;
    rng_t rng;
    int64_t step;            /* optimizer updates done */
    int accum;               /* micro-steps per update */
    int32_t *inputs, *targets, *cats; /* (micro_batch, T) */
    runlog_t log;
    double last_val_loss;
} trainer_t;

/* Creates the run (refusing an existing run directory that holds checkpoints unless resume is set), or,
 * with resume, continues from its newest checkpoint (starting fresh when there is none yet). Returns 0,
 * or -1 with err_set(). */
int train_open(trainer_t *tr, const config_t *cfg, int resume, int argc, char **argv);
/* Runs until cfg.max_steps, validating and checkpointing on schedule; -1 with err_set() on failure. */
int train_run(trainer_t *tr);
void train_close(trainer_t *tr);

/* One optimizer update (accum micro-batches); returns the mean loss and sets *grad_norm. */
float train_step(trainer_t *tr, double *grad_norm);

/* Scores `windows` windows of T tokens spread evenly over the loader's range, B at a time. cat_loss
 * (n_cats entries, may be NULL) receives the token-weighted loss per category, NaN where a category had
 * no tokens. Returns the mean loss per token. */
double train_eval(gpt_t *m, loader_t *l, int B, int T, int windows, int n_cats, double *cat_loss);

/* Writes the checkpoint for the current step (atomically) and rotates old ones per keep_ckpts. */
int train_save(trainer_t *tr);

/* Loads a checkpoint's model (dims, params) for scoring; *tokenizer_id receives the id of the data it
 * was trained on. The model is created with batch capacity B. */
int train_load_model(const char *path, gpt_t *m, int B, uint32_t *tokenizer_id);

#endif
