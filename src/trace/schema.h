/* schema: the one table of what a trace file holds. The writer (twrite.c), the reader (analysis/tread.c),
 * summary.nc, the runs table, the figures and docs/trace-schema.md are all derived from the rows below, so
 * adding a signal is one row here plus the code that computes it.
 *
 * TRACE_SCHEMA_VERSION changes whenever a variable, dimension or meaning changes; the reader refuses any
 * other version. */
#ifndef IL_TRACE_SCHEMA_H
#define IL_TRACE_SCHEMA_H

#include <netcdf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum { TRACE_SCHEMA_VERSION = 2 };

/* Dimensions: name, and the long_name of its coordinate variable. */
#define TRACE_DIMS(X)                                                                                              \
    X(TD_STEP, "step", "optimizer updates applied to the weights of the traced forward/backward")                 \
    X(TD_DEPTH, "depth", "residual-stream depth l: h^l enters block l, h^L leaves the last")                       \
    X(TD_LAYER, "layer", "block index l")                                                                          \
    X(TD_POS, "position", "token position t in the sequence")                                                     \
    X(TD_BUCKET, "bucket",                                                                                         \
      "smallest training-set count of the token ids in the frequency bucket (bucket k >= 1: [2^k, 2^(k+1)))")     \
    X(TD_SV, "sv", "rank of the singular value, 0 the largest")

#define TRACE_DIM_ENUM(id, name, long_name) id,
enum { TRACE_DIMS(TRACE_DIM_ENUM) TD_N, TD_NONE = -1 };
#undef TRACE_DIM_ENUM

/* The one fixed variable besides the coordinates and the parameters: the ids in each frequency bucket. */
#define TRACE_BUCKET_IDS "bucket_ids"
#define TRACE_BUCKET_IDS_LONG_NAME "vocabulary ids in the frequency bucket"

/* Shapes of record variables: the dimensions after `step`. */
#define TRACE_SHAPES(X)                                                                                            \
    X(SH_STEP, TD_NONE, TD_NONE)                                                                                   \
    X(SH_DEPTH, TD_DEPTH, TD_NONE)                                                                                 \
    X(SH_LAYER, TD_LAYER, TD_NONE)                                                                                 \
    X(SH_POS, TD_POS, TD_NONE)                                                                                     \
    X(SH_BUCKET, TD_BUCKET, TD_NONE)                                                                               \
    X(SH_DEPTH_POS, TD_DEPTH, TD_POS)                                                                              \
    X(SH_LAYER_POS, TD_LAYER, TD_POS)                                                                              \
    X(SH_DEPTH_BUCKET, TD_DEPTH, TD_BUCKET)                                                                        \
    X(SH_DEPTH_SV, TD_DEPTH, TD_SV)

#define TRACE_SHAPE_ENUM(id, d1, d2) id,
typedef enum { TRACE_SHAPES(TRACE_SHAPE_ENUM) SH_N } trace_shape_t;
#undef TRACE_SHAPE_ENUM

/* How il-aggregate merges one step's values of several ranks: W_GLOBAL, the same on every rank (any one);
 * W_BATCH, a mean over sequences (weighted by `batch`); W_TOKENS, a mean over tokens (by `batch` * T);
 * W_BUCKET, a mean over the tokens of a frequency bucket (by `bucket_tokens`); W_NONE, not merged. */
typedef enum { W_NONE, W_GLOBAL, W_BATCH, W_TOKENS, W_BUCKET } trace_weight_t;

/* What summary.nc keeps of a merged variable: nothing, the curve as merged, or its mean over positions. */
typedef enum { SUM_NONE, SUM_CURVE, SUM_POS_MEAN } trace_summary_t;

/* Record variables, in file order: TRACE_VAR(id, name, type, shape, units, merge weight, summary.nc,
 * finite, source, long_name). finite 1: a file written by the trainer has a finite value in every record
 * (the reader refuses one that has not). The source says which field of the writer's inputs holds the values (twrite.c):
 * REC(f) a double of the training record, SIG(f) a double array of signals_t, SIG_I64(f) an int64 array,
 * WNORM(g) a weight-norm group, STEP, TIME, TOKENS, BATCH. A variable il-aggregate reads is one with a
 * merge weight. */
#define TRACE_VARS(X)                                                                                              \
    X(TV_STEP, "step", NC_INT64, SH_STEP, "1", W_NONE, SUM_NONE, 0, STEP,                                             \
      "optimizer updates applied to the weights of the traced forward/backward")                                  \
    X(TV_TIME, "time", NC_DOUBLE, SH_STEP, "seconds since 1970-01-01 00:00:00 UTC", W_NONE, SUM_NONE, 0, TIME,         \
      "wall-clock time the record was written")                                                                   \
    X(TV_LOSS, "loss", NC_DOUBLE, SH_STEP, "1", W_GLOBAL, SUM_CURVE, 1, REC(loss),                                     \
      "training loss of the update, mean over the global batch (nats)")                                           \
    X(TV_VAL_LOSS, "val_loss", NC_DOUBLE, SH_STEP, "1", W_GLOBAL, SUM_CURVE, 0, REC(val_loss),                         \
      "validation loss of the same weights (nats), NaN when not evaluated at this step")                          \
    X(TV_LR_SCHEDULE, "lr_schedule", NC_DOUBLE, SH_STEP, "1", W_NONE, SUM_NONE, 0, REC(lr),                    \
      "learning rate of the update, as the schedule set it")              \
    X(TV_GRAD_NORM, "grad_norm", NC_DOUBLE, SH_STEP, "1", W_NONE, SUM_NONE, 0, REC(grad_norm),                         \
      "global gradient L2 norm before clipping")                                                                  \
    X(TV_TOKENS_PER_S, "tokens_per_s", NC_DOUBLE, SH_STEP, "s-1", W_GLOBAL, SUM_CURVE, 0, REC(tokens_per_s),           \
      "global training throughput in tokens per second")                                                          \
    X(TV_STEP_TIME, "step_time", NC_DOUBLE, SH_STEP, "s", W_NONE, SUM_NONE, 0, REC(step_time),                         \
      "wall-clock time of the optimizer step")                                                                    \
    X(TV_WNORM_EMBED, "wnorm_embed", NC_DOUBLE, SH_STEP, "1", W_NONE, SUM_NONE, 0, WNORM(SIGNALS_GROUP_EMBED),         \
      "L2 norm of the embedding parameters (wte, wpe)")                                                           \
    X(TV_WNORM_ATTN, "wnorm_attn", NC_DOUBLE, SH_STEP, "1", W_NONE, SUM_NONE, 0, WNORM(SIGNALS_GROUP_ATTN),            \
      "L2 norm of the attention parameters (qkv and projection weights and biases)")                              \
    X(TV_WNORM_MLP, "wnorm_mlp", NC_DOUBLE, SH_STEP, "1", W_NONE, SUM_NONE, 0, WNORM(SIGNALS_GROUP_MLP),               \
      "L2 norm of the MLP parameters (fc and fcproj weights and biases)")                                         \
    X(TV_WNORM_LN, "wnorm_ln", NC_DOUBLE, SH_STEP, "1", W_NONE, SUM_NONE, 0, WNORM(SIGNALS_GROUP_LN),                  \
      "L2 norm of the LayerNorm gains and biases (ln1, ln2, lnf)")                                                \
    X(TV_TOKENS, "tokens", NC_INT64, SH_STEP, "1", W_NONE, SUM_NONE, 0, TOKENS,                                       \
      "tokens in this rank's traced micro-batch (merge weight)")                                                  \
    X(TV_BATCH, "batch", NC_INT, SH_STEP, "1", W_NONE, SUM_NONE, 0, BATCH,                                            \
      "sequences in this rank's traced micro-batch (merge weight)")                                               \
    X(TV_NORM, "norm", NC_FLOAT, SH_DEPTH_POS, "1", W_BATCH, SUM_CURVE, 1, SIG(norm),                                 \
      "S1 mean over sequences of |h^l_t|")                                                                        \
    X(TV_UPDATE, "update", NC_FLOAT, SH_LAYER_POS, "1", W_NONE, SUM_NONE, 0, SIG(update),                             \
      "S2 mean |h^(l+1)_t - h^l_t|")                                                                              \
    X(TV_UPDATE_ATTN, "update_attn", NC_FLOAT, SH_LAYER_POS, "1", W_NONE, SUM_NONE, 0, SIG(update_attn),              \
      "S2 mean |a^l_t - h^l_t|, attention half of the block")                                                     \
    X(TV_UPDATE_MLP, "update_mlp", NC_FLOAT, SH_LAYER_POS, "1", W_NONE, SUM_NONE, 0, SIG(update_mlp),                 \
      "S2 mean |h^(l+1)_t - a^l_t|, MLP half of the block")                                                       \
    X(TV_COS, "cos", NC_FLOAT, SH_LAYER_POS, "1", W_BATCH, SUM_POS_MEAN, 0, SIG(cos),                                 \
      "S3 mean cosine of the block step with -dL/dh^l (global descent)")                                          \
    X(TV_COS_ATTN, "cos_attn", NC_FLOAT, SH_LAYER_POS, "1", W_NONE, SUM_NONE, 0, SIG(cos_attn),                       \
      "S3 mean cosine of the attention step a^l - h^l with -dL/dh^l")                                             \
    X(TV_COS_MLP, "cos_mlp", NC_FLOAT, SH_LAYER_POS, "1", W_NONE, SUM_NONE, 0, SIG(cos_mlp),                          \
      "S3 mean cosine of the MLP step h^(l+1) - a^l with -dL/da^l")                                               \
    X(TV_COS_LOCAL, "cos_local", NC_FLOAT, SH_LAYER_POS, "1", W_BATCH, SUM_POS_MEAN, 0, SIG(cos_local),               \
      "S3b mean cosine of the block step with minus the gradient of the token's own logit-lens loss")             \
    X(TV_ETA, "eta", NC_FLOAT, SH_LAYER, "1", W_TOKENS, SUM_CURVE, 0, SIG(eta),                                       \
      "S4 implied inner step -sum<D,g>/sum|g|^2 of the block")                                                    \
    X(TV_ETA_ATTN, "eta_attn", NC_FLOAT, SH_LAYER, "1", W_NONE, SUM_NONE, 0, SIG(eta_attn),                           \
      "S4 implied inner step of the attention half")                                                              \
    X(TV_ETA_MLP, "eta_mlp", NC_FLOAT, SH_LAYER, "1", W_NONE, SUM_NONE, 0, SIG(eta_mlp),                              \
      "S4 implied inner step of the MLP half")                                                                    \
    X(TV_LENS, "lens", NC_FLOAT, SH_DEPTH, "1", W_TOKENS, SUM_CURVE, 0, SIG(lens), "S5 logit-lens loss at depth l (nats)") \
    X(TV_NORM_BUCKET, "norm_bucket", NC_FLOAT, SH_DEPTH_BUCKET, "1", W_BUCKET, SUM_NONE, 0, SIG(norm_bucket),         \
      "S6 mean |h^l| over tokens whose input id is in the frequency bucket")                                      \
    X(TV_BUCKET_TOKENS, "bucket_tokens", NC_INT64, SH_BUCKET, "1", W_NONE, SUM_NONE, 0, SIG_I64(bucket_tokens),        \
      "tokens of the traced micro-batch in each frequency bucket (merge weight of S6)")                           \
    X(TV_GRAD0, "grad0", NC_FLOAT, SH_POS, "1", W_BATCH, SUM_CURVE, 1, SIG(grad0), "S7 mean over sequences of |dL/dh^0_t|") \
    X(TV_SINK, "sink", NC_FLOAT, SH_LAYER, "1", W_BATCH, SUM_CURVE, 0, SIG(sink),                                     \
      "S8 mean attention probability on position 0, over heads and queries t >= 1")                               \
    X(TV_SINGULAR_VALUE, "singular_value", NC_DOUBLE, SH_DEPTH_SV, "1", W_NONE, SUM_NONE, 0, SIG(sv),                 \
      "S9 largest singular values of the centred global-batch matrix of h^l (same on every rank)")                \
    X(TV_ERANK, "erank", NC_DOUBLE, SH_DEPTH, "1", W_GLOBAL, SUM_CURVE, 0, SIG(erank),                                \
      "S9 effective rank exp(H(s^2/sum s^2)) of the centred global-batch matrix of h^l")

#define TRACE_VAR_ENUM(id, name, type, shape, units, weight, summary, finite, src, long_name) id,
enum { TRACE_VARS(TRACE_VAR_ENUM) TV_N };
#undef TRACE_VAR_ENUM

/* Sweep parameters, scalar variables of every file so that files stack along a run dimension:
 * TRACE_PARAM(id, name, type, long_name, value). The value is an expression over the run's config c
 * (config_t), the model's dims d (gpt_dims_t, the vocabulary as trained) and its world size w; only
 * tracer.c, which knows those types, expands it. */
#define TRACE_PARAMS(X)                                                                                            \
    X(TP_D_MODEL, "d_model", NC_INT64, "model width C", d->C)                                                      \
    X(TP_N_LAYER, "n_layer", NC_INT64, "number of blocks L", d->L)                                                 \
    X(TP_N_HEAD, "n_head", NC_INT64, "attention heads", d->NH)                                                     \
    X(TP_SEQ_LEN, "seq_len", NC_INT64, "context length T", d->T)                                                   \
    X(TP_VOCAB_SIZE, "vocab_size", NC_INT64, "vocabulary size V", d->V)                                            \
    X(TP_N_PARAMS, "n_params", NC_INT64, "number of parameters", gpt_param_count(d))                               \
    X(TP_GLOBAL_BATCH, "global_batch", NC_INT64, "sequences per optimizer step over all ranks", c->global_batch)   \
    X(TP_MICRO_BATCH, "micro_batch", NC_INT64, "sequences per rank per forward/backward", c->micro_batch)          \
    X(TP_MAX_STEPS, "max_steps", NC_INT64, "optimizer steps of the run", c->max_steps)                             \
    X(TP_WARMUP_STEPS, "warmup_steps", NC_INT64, "learning-rate warmup steps", c->warmup_steps)                    \
    X(TP_SEED, "seed", NC_INT64, "run seed (the bits of the unsigned 64-bit train.seed)", c->seed)                 \
    X(TP_WORLD_SIZE, "world_size", NC_INT64, "MPI ranks", w)                                                       \
    X(TP_LR, "lr", NC_DOUBLE, "peak learning rate (optim.lr)", c->lr)                                              \
    X(TP_MIN_LR, "min_lr", NC_DOUBLE, "floor of the cosine learning-rate decay", c->min_lr)                        \
    X(TP_WEIGHT_DECAY, "weight_decay", NC_DOUBLE, "AdamW weight decay", c->weight_decay)                           \
    X(TP_GRAD_CLIP, "grad_clip", NC_DOUBLE, "global gradient-norm clip threshold (0: none)", c->grad_clip)

#define TRACE_PARAM_ENUM(id, name, type, long_name, value) id,
enum { TRACE_PARAMS(TRACE_PARAM_ENUM) TP_N };
#undef TRACE_PARAM_ENUM

/* One row of each table as data, for the code that loops over them. */
typedef struct {
    const char *name;
    nc_type type;
    trace_shape_t shape;
    const char *units;
    trace_weight_t weight;
    trace_summary_t summary;
    int finite;
    const char *long_name;
} trace_var_t;

typedef struct {
    const char *name;
    nc_type type; /* NC_INT64 or NC_DOUBLE */
    const char *long_name;
} trace_param_t;

typedef struct {
    const char *name, *long_name;
} trace_dim_t;

extern const trace_var_t trace_vars[TV_N];
extern const trace_param_t trace_params[TP_N];
extern const trace_dim_t trace_dims[TD_N];
/* The dimensions of each shape after `step` (TD_NONE where there are fewer than two). */
extern const int trace_shape_dims[SH_N][2];

/* A parameter's value: int64 parameters in i (and, converted, in d), double ones in d; NaN in d when unknown. */
typedef struct {
    int64_t i;
    double d;
} trace_value_t;

/* Elements of one record of a variable of this shape, for a model of L blocks, T positions, n_bucket
 * frequency buckets and n_sv singular values. */
size_t trace_shape_len(trace_shape_t shape, int L, int T, int n_bucket, int n_sv);

/* docs/trace-schema.md's generated tables (dimensions, record variables, parameters) as Markdown. */
void trace_schema_markdown(FILE *f);

#endif
