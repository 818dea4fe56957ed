/* config: the trainer's settings, read from an INI file (through inih) and `--set section.key=value`.
 *
 * Every key lives in one table in config.c (section, name, type, default, bounds, help). Parsing,
 * validation, writing the effective config and the README's key list are all driven by that table, so
 * they cannot drift apart. */
#ifndef IL_CONFIG_H
#define IL_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#define CONFIG_STR 512

/* The model's size bounds: the key table's, and gpt_dims_check's for a model built by code. */
enum { CONFIG_MAX_VOCAB = 65536, CONFIG_MAX_SEQ = 65536, CONFIG_MAX_LAYER = 1024, CONFIG_MAX_WIDTH = 65536 };

typedef struct {
    /* [model] */
    int vocab_size; /* 0: take it from the training shard */
    int seq_len;    /* T */
    int n_layer;    /* L */
    int n_head;     /* NH */
    int d_model;    /* C */
    /* [data] */
    char train_path[CONFIG_STR];
    char val_path[CONFIG_STR]; /* "" : no validation */
    char counts_path[CONFIG_STR]; /* "" : train.counts beside train_path */
    /* [train] */
    int global_batch; /* sequences per optimizer step, summed over ranks and accumulation steps */
    int micro_batch;  /* sequences per rank per forward/backward pass */
    int max_steps;
    uint64_t seed;
    int threads; /* 0: Slurm's cpus per task, else all cores for one rank, one per rank for several */
    int bucket_kb;      /* gradient all-reduce bucket size, KiB */
    char allreduce[CONFIG_STR]; /* "auto", "overlap" or "blocking" (gsync.h) */
    int check_interval; /* steps between cross-rank parameter checksums */
    char train_order[CONFIG_STR]; /* "shuffle" or "lanes" (loader.h) */
    /* [optim] */
    float lr;          /* peak learning rate */
    float min_lr;      /* floor of the cosine decay */
    int warmup_steps;
    int warmup_given; /* 1: optim.warmup_steps was read (a file, --set); 0: it follows train.max_steps */
    float weight_decay;
    float beta1;
    float beta2;
    float eps;
    float grad_clip; /* global-norm clip threshold; 0 disables */
    /* [eval] */
    int eval_interval; /* steps between validation passes; 0 disables */
    int eval_batches;  /* global batches of windows per validation pass */
    /* [trace] */
    int trace_interval; /* steps between trace records; 0: no tracing */
    int trace_log_spaced;
    int trace_full_every; /* the sparse sub-schedule (innerloop/schema.h, tracer_full) */
    int trace_lens, trace_local, trace_lens_stride;
    int trace_n_sv;
    char trace_spectrum[CONFIG_STR]; /* "scalapack", "gram" or "off" */
    int trace_sync_every;
    int trace_probe_windows, trace_probe_groups;
    /* [run] */
    char name[CONFIG_STR];    /* run directory is <out_dir>/<name> */
    char out_dir[CONFIG_STR];
    int log_interval;
    int ckpt_interval; /* steps between checkpoints; 0: only at the end */
    int keep_ckpts;    /* newest checkpoints kept; 0 keeps all */
    int tensorboard;   /* 1: TensorBoard event files in <run>/tb (tbevents.h) */
} config_t;

void config_defaults(config_t *c);

/* Reads an INI file over the current values. Errors name the file and line: "a.ini:7: unknown key
 * 'model.widht'". Returns 0, or -1 with err_set(). */
int config_load(config_t *c, const char *path);

/* The same from an open stream; `name` stands for the file in messages. */
int config_load_stream(config_t *c, FILE *f, const char *name);
/* The same from len bytes of INI text held in memory (a checkpoint's or a trace's saved config). */
int config_load_text(config_t *c, const void *text, size_t len, const char *name);

/* Sets, before a saved config is read over c, the values of keys that did not exist when such a config
 * could have been written: what a saved config lacks meant the behaviour from before the key (train.order:
 * lanes). */
void config_mark_absent(config_t *c);

/* Applies one "section.key=value" override. Returns 0, or -1 with err_set() naming the assignment and the
 * key ("--set model.n_layer=x: model.n_layer: 'x' is not an integer"). */
int config_set(config_t *c, const char *assignment);
/* The same for a key ("section.key") and its value, the message naming only the key, for a caller to put
 * its own location before it (err_prefix). */
int config_set_key(config_t *c, const char *key, const char *value);

/* " (did you mean 'optim.lr'?)" for an unknown trainer key section.name, or "" (key_suggest). */
void config_suggest_key(char *buf, size_t n, const char *section, const char *name);

/* Checks bounds and the relations between keys (d_model divisible by n_head, global batch divisible by
 * micro_batch x world_size, ...). Returns 0, or -1 with err_set() naming the key(s). */
int config_validate(const config_t *c, int world_size);
/* 1 when s is a run name config_validate() accepts: letters, digits, '.', '_', '-', neither "." nor "..",
 * so that out_dir/name is a directory directly inside out_dir. */
int config_run_name_ok(const char *s);

/* Writes every key, in table order, as an INI file that config_load() reads back to the same values. */
int config_write(const config_t *c, FILE *f);
/* config_write() into a string (malloc'd). */
char *config_string(const config_t *c);

/* The identity of an experiment: "section.key = value" lines sorted by key, without comments (malloc'd), so
 * that help texts, the table's order and the file's layout never change it. Keys or whole sections named
 * in `ignore` (as for config_diff; NULL-terminated, or NULL) are left out. */
char *config_canonical(const config_t *c, const char *const *ignore);

/* The unigram counts of the training shard: data.counts_path, or train.counts beside data.train_path. */
void config_counts_path(const config_t *c, char *out, size_t n);
/* One key's value ("section.key") as config_write() spells it ("0.001" for "1e-3"); -1 if the key is
 * unknown. */
int config_get(const config_t *c, const char *key, char *buf, size_t n);
/* config_write() into the file at path, which appears whole or not at all; mode ATOMICFILE_KEEP refuses to
 * replace an existing file, ATOMICFILE_REPLACE replaces it. */
int config_save(const config_t *c, const char *path, int mode);

/* Compares a and b key by key, skipping the keys or whole sections named in `ignore` ("train.threads",
 * "eval"; NULL-terminated). Returns 1 and writes "section.key (value in b, not value in a)" into key at
 * the first difference, or 0 when they agree. */
int config_diff(const config_t *a, const config_t *b, const char *const *ignore, char *key, size_t n);

/* Prints the key table as a Markdown table (key, type, default, meaning) for the README. */
void config_print_keys_markdown(FILE *f);

#endif
