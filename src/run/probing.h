/* probing: il-probe as a library. The trace's probe set (tracer.h) measured over saved weights instead of
 * during training: the checkpoints of one model, each traced as a record of its step, make one run
 * directory <out>/<name>/ that il-aggregate reads like a trained run: config.ini (the checkpoint's own
 * config when it has one, with the probe data and the overrides), launches.jsonl (provenance, with the
 * checkpoint's `source` when it was imported) and trace/. */
#ifndef IL_PROBING_H
#define IL_PROBING_H

#include "data/shard.h"

typedef struct {
    const char *data;        /* the probe shard or manifest; its tokenizer must be the checkpoints' */
    const char *out;         /* parent of the run directories */
    const char *const *sets; /* config assignments "section.key=value", applied over the checkpoint's config */
    int n_sets;
} probing_opts_t;

/* Collective: probes the n checkpoints ckpts (directories or their state.ckpt, of one model, ascending by
 * step) into the new run directory <o->out>/<name>, ranks dealt over the probe groups as il-train's trace
 * step deals them. Never over an existing directory; a failed probe leaves none behind. Returns 0, or -1
 * on every rank with err_set(). */
int probing_run(const probing_opts_t *o, const char *name, char *const *ckpts, int n, int argc, char **argv);
/* Whether il-probe with options o on `ranks` ranks would measure the checkpoint ckpt on the probe shard s
 * (opened from o->data): it reads whole as a checkpoint, its config with the overrides validates, and s is of
 * its tokenizer, within its vocabulary. Not collective (il-sweep checks a probe sweep's checkpoints with it at
 * submission). Returns 0, or -1 with err_set() naming the checkpoint. */
int probing_check(const probing_opts_t *o, const char *ckpt, const shard_t *s, int ranks);
/* The complete checkpoints (ckpt/step_N/ with its COMPLETE marker) of a training run directory, ascending
 * by step: a malloc'd array of malloc'd paths, *n of them; fails (err_set) naming the run when it has none. */
int probing_run_ckpts(const char *run_dir, char ***paths, int *n);

#endif
