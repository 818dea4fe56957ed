/* snapshot: the trainer's checkpoints. A checkpoint is a directory ckpt/step_NNNNNNNN/ holding
 * state.ckpt (everything needed to continue bit for bit: config, dims, data identity, step, parameters,
 * AdamW state, RNG, data offset, world size) and, written last, after every rank has finished its part,
 * the marker file COMPLETE. A directory without the marker is a checkpoint that was interrupted: resume
 * ignores it and the next save of that step replaces it. This module decides what the trainer saves and
 * restores, and where; state.ckpt's byte format (named, checksummed sections) is ckptfile.c's, which knows
 * nothing of training. */
#ifndef IL_SNAPSHOT_H
#define IL_SNAPSHOT_H

#include "run/ckptfile.h"
#include "run/experiment.h"
#include "run/trainer.h"

/* Collective: checkpoint of the current step, then rotation per run.keep_ckpts. */
int snapshot_save(trainer_t *tr);
/* Collective: restores the newest complete checkpoint that reads back whole (an unreadable one is
 * reported and the next older tried); *found is 0 when there is none. Fails, naming the key, when the
 * checkpoint belongs to another experiment. */
int snapshot_resume(trainer_t *tr, int *found);
/* Opens a checkpoint for reading: a step directory stands for its state.ckpt. */
int snapshot_open(ckptfile_reader_t *r, const char *path);
/* A checkpoint's model dimensions, checked (gpt_dims_check). */
int snapshot_read_dims(const ckptfile_reader_t *r, gpt_dims_t *d);
/* A checkpoint's model dimensions, checked, and the id of the tokenizer of its data, without its parameters. */
int snapshot_read_model(const ckptfile_reader_t *r, gpt_dims_t *d, uint32_t *tokenizer_id);
/* Loads the model of a checkpoint (a step directory or its state.ckpt) for scoring, with batch
 * capacity B; *tokenizer_id receives the id of the data it was trained on. */
int snapshot_load_model(const char *path, gpt_t *m, int B, uint32_t *tokenizer_id);
/* The same without a model to run: its dims and a malloc'd copy of its parameters. */
int snapshot_load_params(const char *path, gpt_dims_t *d, float **params, uint32_t *tokenizer_id);
/* A checkpoint of a model alone (il-ckpt import), for scoring, not resuming: a new directory dir with
 * dir/state.ckpt of dims, data (tokenizer_id, V, no tokens), step 0, world 1, params and `source`, one
 * line saying where the weights came from. Never over an existing state.ckpt. */
int snapshot_save_model(const char *dir, const gpt_dims_t *d, const float *params, uint32_t tokenizer_id,
                        const char *source);

#endif
