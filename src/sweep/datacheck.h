/* datacheck: what the runs of a sweep read, checked at submission rather than by every array task after its
 * wait in the queue. For each run, as il-train checks it before training: data.train_path opens as a shard
 * or shard set (shard_open) and the tokenizer.bin beside it is that shard's; the model's vocabulary holds the
 * shard's and its dims are a model's (gpt_dims_check); data.val_path opens as a shard of the same tokenizer
 * with a window's worth of tokens; a traced run's unigram counts are of that tokenizer and count the training
 * tokens. Each path is opened once however many runs share it. Runs of different tokenizers (a sweep over
 * tokenizers, jobs/examples/science-tokens.ini) are allowed; each run is one tokenizer throughout. */
#ifndef IL_SWEEP_DATACHECK_H
#define IL_SWEEP_DATACHECK_H

#include "sweep/spec.h"

/* Checks runs[0..n) of spec s. Returns the number of tokenizers the runs read (1 unless the sweep varies
 * them), or -1 with err_set() naming the spec file, the line of the key at fault (or that it is the default),
 * the problem and the runs it stops. */
int datacheck_runs(const spec_t *s, const spec_run_t *runs, int n);

/* A probe sweep's runs (spec_expand of a spec with [probe]), checked as il-probe checks them before it measures:
 * probe.data opens as a shard with its tokenizer.bin and unigram counts beside it; each checkpoint, and each
 * complete checkpoint of each run directory, reads whole as a checkpoint of that tokenizer, with a vocabulary
 * that holds the shard's. Returns 1 (one tokenizer), or -1 with err_set() naming the spec file, the line and
 * key at fault, the problem and the run it stops. */
int datacheck_probes(const spec_t *s, const spec_run_t *runs, int n);

#endif
