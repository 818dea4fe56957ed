/* schema: the one table of what a trace file holds. The writer (tracewrite.c), the reader (analysis/traceread.c),
 * summary.nc, the runs table, the figures and docs/trace-schema.md are all derived from the rows below, so
 * adding a signal is one row here plus the code that computes it.
 *
 * TRACE_SCHEMA_VERSION changes whenever a variable, dimension or meaning changes; the reader refuses any
 * version outside [TRACE_SCHEMA_OLDEST, TRACE_SCHEMA_VERSION]. Version 3 is version 4 without the `tokenizer`
 * parameter: its tokenizer reads as unknown (TRACE_TOK_UNKNOWN). Version 4 is version 5 without the sparse
 * sub-schedule (TRACE_SPARSE): every record holds every variable. */
#ifndef INNERLOOP_SCHEMA_H
#define INNERLOOP_SCHEMA_H

#include <netcdf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum { TRACE_SCHEMA_VERSION = 5, TRACE_SCHEMA_OLDEST = 3, TRACE_SCHEMA_TOKENIZER = 4 /* the first with it */ };

/* Dimensions: name, and the long_name of its coordinate variable. `group`, `genre` and `window` are this
 * rank's share of the probe set (tracer.h): the groups it traces, the genres of the probe shard, its
 * windows. */
#define TRACE_DIMS(X)                                                                                              \
    X(TD_STEP, "step", "optimizer updates applied to the traced weights (0: the initialisation)")                 \
    X(TD_DEPTH, "depth", "residual-stream depth l: h^l enters block l, h^L leaves the last")                       \
    X(TD_LAYER, "layer", "block index l")                                                                          \
    X(TD_POS, "position", "token position t in the sequence")                                                     \
    X(TD_BUCKET, "bucket",                                                                                         \
      "smallest training-set count of the token ids in the frequency bucket (bucket k >= 1: [2^k, 2^(k+1)))")     \
    X(TD_SV, "sv", "rank of the singular value, 0 the largest")                                                    \
    X(TD_GROUP, "group", "probe group: window w of the probe set belongs to group w mod probe_groups")            \
    X(TD_GENRE, "genre", "category of the probe shard's documents (genre_name)")                                  \
    X(TD_WINDOW, "window", "index of the probe window in the run's probe set")

#define TRACE_DIM_ENUM(id, name, long_name) id,
enum { TRACE_DIMS(TRACE_DIM_ENUM) TD_N, TD_NONE = -1 };
#undef TRACE_DIM_ENUM

/* Shapes of record variables: the dimensions after `step`. */
#define TRACE_SHAPES(X)                                                                                            \
    X(SH_STEP, TD_NONE, TD_NONE, TD_NONE)                                                                          \
    X(SH_DEPTH, TD_DEPTH, TD_NONE, TD_NONE)                                                                        \
    X(SH_LAYER, TD_LAYER, TD_NONE, TD_NONE)                                                                        \
    X(SH_LAYER_POS, TD_LAYER, TD_POS, TD_NONE)                                                                     \
    X(SH_DEPTH_BUCKET, TD_DEPTH, TD_BUCKET, TD_NONE)                                                               \
    X(SH_DEPTH_SV, TD_DEPTH, TD_SV, TD_NONE)                                                                       \
    X(SH_GROUP_DEPTH_POS, TD_GROUP, TD_DEPTH, TD_POS)                                                              \
    X(SH_GROUP_DEPTH, TD_GROUP, TD_DEPTH, TD_NONE)                                                                 \
    X(SH_GROUP_LAYER, TD_GROUP, TD_LAYER, TD_NONE)                                                                 \
    X(SH_GROUP_POS, TD_GROUP, TD_POS, TD_NONE)                                                                     \
    X(SH_GENRE_DEPTH, TD_GENRE, TD_DEPTH, TD_NONE)                                                                 \
    X(SH_GENRE_LAYER, TD_GENRE, TD_LAYER, TD_NONE)

#define TRACE_SHAPE_ENUM(id, d1, d2, d3) id,
typedef enum { TRACE_SHAPES(TRACE_SHAPE_ENUM) SH_N } trace_shape_t;
#undef TRACE_SHAPE_ENUM

/* How il-aggregate merges one step's values of several ranks:
 *   W_GLOBAL  the same on every rank (any one);
 *   W_WINDOWS a mean over the rank's probe windows (weighted by `windows`);
 *   W_BUCKET  a mean over the tokens of a frequency bucket (by `bucket_tokens`);
 *   W_GENRE   a mean over the tokens of a genre (by `genre_tokens`);
 *   W_GROUP   per probe group: the ranks' groups are disjoint, so they are gathered by `group`, and a run
 *             value is their mean weighted by `group_windows` (the groups are what intervals rest on);
 *   W_NONE    not read by il-aggregate. */
typedef enum { W_NONE, W_GLOBAL, W_WINDOWS, W_BUCKET, W_GENRE, W_GROUP } trace_weight_t;

/* Whether summary.nc keeps a merged variable: its run value (for W_GROUP, the mean over groups). */
typedef enum { SUM_NONE, SUM_CURVE } trace_summary_t;

/* Record variables, in file order: TRACE_VAR(id, name, type, shape, units, merge weight, summary.nc,
 * finite, source, long_name). finite 1: a file written by the trainer has a finite value in every element
 * (its row of TRACE_DOMAINS says NaN never, as test_trace checks; the reader refuses a file that has not).
 * The source says which field of the writer's inputs holds the values (tracewrite.c): REC(f) a double of the
 * training record, SIG(f) a double array of signals_t, WNORM(g) a weight-norm group, STEP, TIME. A variable
 * il-aggregate reads is one with a merge weight. Signals are measured on the probe set with the weights
 * after `step` updates (docs/trace-schema.md). */
#define TRACE_VARS(X)                                                                                              \
    X(TV_STEP, "step", NC_INT64, SH_STEP, "1", W_NONE, SUM_NONE, 0, STEP,                                          \
      "optimizer updates applied to the traced weights (0: the initialisation)")                                  \
    X(TV_TIME, "time", NC_DOUBLE, SH_STEP, "seconds since 1970-01-01 00:00:00 UTC", W_GLOBAL, SUM_CURVE, 0, TIME,  \
      "wall-clock time the record was written")                                                                   \
    X(TV_LOSS, "loss", NC_DOUBLE, SH_STEP, "1", W_GLOBAL, SUM_CURVE, 0, REC(loss),                                 \
      "training loss of update `step` over its global batch (nats); NaN at step 0")                               \
    X(TV_VAL_LOSS, "val_loss", NC_DOUBLE, SH_STEP, "1", W_GLOBAL, SUM_CURVE, 0, REC(val_loss),                     \
      "validation loss of the same weights (nats), NaN when not evaluated at this step")                          \
    X(TV_LR_SCHEDULE, "lr_schedule", NC_DOUBLE, SH_STEP, "1", W_NONE, SUM_NONE, 0, REC(lr),                        \
      "learning rate of update `step`, as the schedule set it")                                                   \
    X(TV_GRAD_NORM, "grad_norm", NC_DOUBLE, SH_STEP, "1", W_NONE, SUM_NONE, 0, REC(grad_norm),                     \
      "global gradient L2 norm of update `step` before clipping")                                                 \
    X(TV_TOKENS_PER_S, "tokens_per_s", NC_DOUBLE, SH_STEP, "s-1", W_GLOBAL, SUM_CURVE, 0, REC(tokens_per_s),       \
      "global training throughput of update `step` in tokens per second")                                         \
    X(TV_STEP_TIME, "step_time", NC_DOUBLE, SH_STEP, "s", W_NONE, SUM_NONE, 0, REC(step_time),                     \
      "wall-clock time of update `step`")                                                                         \
    X(TV_WNORM_EMBED, "wnorm_embed", NC_DOUBLE, SH_STEP, "1", W_NONE, SUM_NONE, 0, WNORM(SIGNALS_GROUP_EMBED),     \
      "L2 norm of the embedding parameters (wte, wpe)")                                                           \
    X(TV_WNORM_ATTN, "wnorm_attn", NC_DOUBLE, SH_STEP, "1", W_NONE, SUM_NONE, 0, WNORM(SIGNALS_GROUP_ATTN),        \
      "L2 norm of the attention parameters (qkv and projection weights and biases)")                              \
    X(TV_WNORM_MLP, "wnorm_mlp", NC_DOUBLE, SH_STEP, "1", W_NONE, SUM_NONE, 0, WNORM(SIGNALS_GROUP_MLP),           \
      "L2 norm of the MLP parameters (fc and fcproj weights and biases)")                                         \
    X(TV_WNORM_LN, "wnorm_ln", NC_DOUBLE, SH_STEP, "1", W_NONE, SUM_NONE, 0, WNORM(SIGNALS_GROUP_LN),              \
      "L2 norm of the LayerNorm gains and biases (ln1, ln2, lnf)")                                                \
    X(TV_NORM, "norm", NC_FLOAT, SH_GROUP_DEPTH_POS, "1", W_GROUP, SUM_CURVE, 1, SIG(norm),                        \
      "S1 mean over the group's windows of |h^l_t|")                                                              \
    X(TV_UPDATE, "update", NC_FLOAT, SH_LAYER_POS, "1", W_NONE, SUM_NONE, 0, SIG(update),                          \
      "S2 mean over this rank's windows of |h^(l+1)_t - h^l_t|")                                                  \
    X(TV_UPDATE_ATTN, "update_attn", NC_FLOAT, SH_LAYER_POS, "1", W_NONE, SUM_NONE, 0, SIG(update_attn),           \
      "S2 mean |a^l_t - h^l_t|, attention half of the block")                                                     \
    X(TV_UPDATE_MLP, "update_mlp", NC_FLOAT, SH_LAYER_POS, "1", W_NONE, SUM_NONE, 0, SIG(update_mlp),              \
      "S2 mean |h^(l+1)_t - a^l_t|, MLP half of the block")                                                       \
    X(TV_COS, "cos", NC_FLOAT, SH_GROUP_LAYER, "1", W_GROUP, SUM_CURVE, 0, SIG(cos),                               \
      "S3 mean over the group's windows and positions of the cosine of the block step with -dL/dh^l")              \
    X(TV_COS_LOCAL, "cos_local", NC_FLOAT, SH_GROUP_LAYER, "1", W_GROUP, SUM_CURVE, 0, SIG(cos_local),             \
      "S3b mean over the group's windows and lens positions of the cosine of the block step with minus the "     \
      "gradient of the token's own logit-lens loss")                                                              \
    X(TV_COS_POS, "cos_pos", NC_FLOAT, SH_LAYER_POS, "1", W_NONE, SUM_NONE, 0, SIG(cos_pos),                       \
      "S3 per position, mean over this rank's windows")                                                           \
    X(TV_COS_ATTN_POS, "cos_attn_pos", NC_FLOAT, SH_LAYER_POS, "1", W_NONE, SUM_NONE, 0, SIG(cos_attn_pos),        \
      "S3 of the attention step a^l - h^l with -dL/dh^l, per position, mean over this rank's windows")            \
    X(TV_COS_MLP_POS, "cos_mlp_pos", NC_FLOAT, SH_LAYER_POS, "1", W_NONE, SUM_NONE, 0, SIG(cos_mlp_pos),           \
      "S3 of the MLP step h^(l+1) - a^l with -dL/da^l, per position, mean over this rank's windows")              \
    X(TV_COS_LOCAL_POS, "cos_local_pos", NC_FLOAT, SH_LAYER_POS, "1", W_NONE, SUM_NONE, 0, SIG(cos_local_pos),     \
      "S3b per position, mean over this rank's windows (NaN at positions the lens skips)")                        \
    X(TV_ETA, "eta", NC_FLOAT, SH_LAYER, "1", W_WINDOWS, SUM_CURVE, 0, SIG(eta),                                   \
      "S4 implied inner step -sum<D,g>/sum|g|^2 of the block over this rank's windows")                           \
    X(TV_ETA_ATTN, "eta_attn", NC_FLOAT, SH_LAYER, "1", W_NONE, SUM_NONE, 0, SIG(eta_attn),                        \
      "S4 implied inner step of the attention half")                                                              \
    X(TV_ETA_MLP, "eta_mlp", NC_FLOAT, SH_LAYER, "1", W_NONE, SUM_NONE, 0, SIG(eta_mlp),                           \
      "S4 implied inner step of the MLP half")                                                                    \
    X(TV_LENS, "lens", NC_FLOAT, SH_GROUP_DEPTH, "1", W_GROUP, SUM_CURVE, 0, SIG(lens),                            \
      "S5 logit-lens loss at depth l over the group's lens tokens (nats); lens[L] is the probe loss")             \
    X(TV_LENS_GENRE, "lens_genre", NC_FLOAT, SH_GENRE_DEPTH, "1", W_GENRE, SUM_NONE, 0, SIG(lens_genre),           \
      "S5 logit-lens loss at depth l over this rank's lens tokens of the genre (nats)")                           \
    X(TV_COS_LOCAL_GENRE, "cos_local_genre", NC_FLOAT, SH_GENRE_LAYER, "1", W_GENRE, SUM_NONE, 0,                  \
      SIG(cos_local_genre), "S3b mean over this rank's lens tokens of the genre")                                 \
    X(TV_NORM_BUCKET, "norm_bucket", NC_FLOAT, SH_DEPTH_BUCKET, "1", W_BUCKET, SUM_NONE, 0, SIG(norm_bucket),      \
      "S6 mean |h^l| over this rank's probe tokens whose input id is in the frequency bucket")                    \
    X(TV_RHO_FREQ, "rho_freq", NC_DOUBLE, SH_DEPTH, "1", W_GLOBAL, SUM_CURVE, 0, SIG(rho_freq),                    \
      "H4 Spearman rho(log training count of the input token, |h^l_t|) over every probe token of the run")        \
    X(TV_RHO_FREQ_JK, "rho_freq_jk", NC_DOUBLE, SH_GROUP_DEPTH, "1", W_GROUP, SUM_NONE, 0, SIG(rho_freq_jk),        \
      "rho_freq over the probe tokens outside the group (jackknife replicate)")                                   \
    X(TV_GRAD0, "grad0", NC_FLOAT, SH_GROUP_POS, "1", W_GROUP, SUM_CURVE, 1, SIG(grad0),                           \
      "S7 mean over the group's windows of |dL_w/dh^0_t|, L_w the window's mean loss")                            \
    X(TV_SINK, "sink", NC_FLOAT, SH_LAYER, "1", W_WINDOWS, SUM_CURVE, 0, SIG(sink),                                \
      "S8 mean attention probability on position 0, over heads, queries t >= 1 and this rank's windows")          \
    X(TV_SINGULAR_VALUE, "singular_value", NC_DOUBLE, SH_DEPTH_SV, "1", W_NONE, SUM_NONE, 0, SIG(sv),              \
      "S9 largest singular values of the centred matrix of h^l over every probe token (same on every rank)")      \
    X(TV_ERANK, "erank", NC_DOUBLE, SH_DEPTH, "1", W_GLOBAL, SUM_CURVE, 0, SIG(erank),                             \
      "S9 effective rank exp(H(s^2/sum s^2)) of the centred matrix of h^l over every probe token")

#define TRACE_VAR_ENUM(id, name, type, shape, units, weight, summary, finite, src, long_name) id,
enum { TRACE_VARS(TRACE_VAR_ENUM) TV_N };
#undef TRACE_VAR_ENUM

/* Domains: the values a trainer can write. TRACE_DOMAIN_KIND(id, text): text is the range as
 * docs/trace-schema.md states it; trace_domain_range gives it for a run. Every bound holds up to float
 * rounding (a relative 1e-5), and infinities are in no domain. A loss above 1,000 nats per token (the target
 * given a probability below e^-1000) is far past any run that has not diverged, and il-train stops one
 * that has; a norm at or above sqrt(FLT_MAX) ~ 1.8e19 cannot come from float activations whose LayerNorm
 * (a mean of squares) is finite. */
#define TRACE_DOMAIN_KINDS(X)                                                                                      \
    X(DK_REAL, "finite")                                                                                           \
    X(DK_NONNEG, "[0, inf)")                                                                                       \
    X(DK_STEP, "[0, max_steps]")                                                                                   \
    X(DK_LOSS, "[0, 1000]")                                                                                        \
    X(DK_NORM, "[0, 1.8e19)")                                                                                      \
    X(DK_UNIT, "[-1, 1]")                                                                                          \
    X(DK_PROB, "[0, 1]")                                                                                           \
    X(DK_ERANK, "[1, min(probe_windows x seq_len, d_model)]")

#define TRACE_DOMAIN_KIND_ENUM(id, text) id,
typedef enum { TRACE_DOMAIN_KINDS(TRACE_DOMAIN_KIND_ENUM) DK_N } trace_domain_kind_t;
#undef TRACE_DOMAIN_KIND_ENUM

/* When a value may be NaN: never; only in a launch's first record (step 0, or the checkpoint's step a
 * resumed launch starts from), which follows no update of its launch; or when the domain row's text says
 * (the schema's "not measured"). A variable marked finite in TRACE_VARS is TN_NEVER. */
typedef enum { TN_NEVER, TN_FIRST, TN_WHEN } trace_nan_t;

/* TRACE_DOMAIN(id, kind, nan, when): one row per record variable, in TRACE_VARS order. */
#define TRACE_DOMAINS(X)                                                                                           \
    X(TV_STEP, DK_STEP, TN_NEVER, NULL)                                                                            \
    X(TV_TIME, DK_NONNEG, TN_NEVER, NULL)                                                                          \
    X(TV_LOSS, DK_LOSS, TN_FIRST, NULL)                                                                            \
    X(TV_VAL_LOSS, DK_LOSS, TN_WHEN, "not evaluated at this step")                                                 \
    X(TV_LR_SCHEDULE, DK_NONNEG, TN_FIRST, NULL)                                                                   \
    X(TV_GRAD_NORM, DK_NONNEG, TN_FIRST, NULL)                                                                     \
    X(TV_TOKENS_PER_S, DK_NONNEG, TN_FIRST, NULL)                                                                  \
    X(TV_STEP_TIME, DK_NONNEG, TN_FIRST, NULL)                                                                     \
    X(TV_WNORM_EMBED, DK_NORM, TN_NEVER, NULL)                                                                     \
    X(TV_WNORM_ATTN, DK_NORM, TN_NEVER, NULL)                                                                      \
    X(TV_WNORM_MLP, DK_NORM, TN_NEVER, NULL)                                                                       \
    X(TV_WNORM_LN, DK_NORM, TN_NEVER, NULL)                                                                        \
    X(TV_NORM, DK_NORM, TN_NEVER, NULL)                                                                            \
    X(TV_UPDATE, DK_NORM, TN_NEVER, NULL)                                                                          \
    X(TV_UPDATE_ATTN, DK_NORM, TN_NEVER, NULL)                                                                     \
    X(TV_UPDATE_MLP, DK_NORM, TN_NEVER, NULL)                                                                      \
    X(TV_COS, DK_UNIT, TN_NEVER, NULL)                                                                             \
    X(TV_COS_LOCAL, DK_UNIT, TN_WHEN, "trace.local off, or no lens token in the group")                           \
    X(TV_COS_POS, DK_UNIT, TN_NEVER, NULL)                                                                         \
    X(TV_COS_ATTN_POS, DK_UNIT, TN_NEVER, NULL)                                                                    \
    X(TV_COS_MLP_POS, DK_UNIT, TN_NEVER, NULL)                                                                     \
    X(TV_COS_LOCAL_POS, DK_UNIT, TN_WHEN, "trace.local off, or a position the lens skips")                        \
    X(TV_ETA, DK_REAL, TN_WHEN, "the gradient at the block is exactly zero")                                       \
    X(TV_ETA_ATTN, DK_REAL, TN_WHEN, "the gradient at the block is exactly zero")                                  \
    X(TV_ETA_MLP, DK_REAL, TN_WHEN, "the gradient at the MLP half is exactly zero")                                \
    X(TV_LENS, DK_LOSS, TN_WHEN, "trace.lens and trace.local off, or no lens token in the group")                 \
    X(TV_LENS_GENRE, DK_LOSS, TN_WHEN, "the lens off, or no lens token of the genre on this rank")                 \
    X(TV_COS_LOCAL_GENRE, DK_UNIT, TN_WHEN, "trace.local off, or no lens token of the genre on this rank")         \
    X(TV_NORM_BUCKET, DK_NORM, TN_WHEN, "no probe token of the bucket on this rank")                               \
    X(TV_RHO_FREQ, DK_UNIT, TN_WHEN, "undefined: fewer than 3 probe tokens, or no spread to rank")                 \
    X(TV_RHO_FREQ_JK, DK_UNIT, TN_WHEN, "undefined: fewer than 3 probe tokens, or no spread to rank")              \
    X(TV_GRAD0, DK_NORM, TN_NEVER, NULL)                                                                           \
    X(TV_SINK, DK_PROB, TN_WHEN, "no query position t >= 1 (seq_len 1)")                                           \
    X(TV_SINGULAR_VALUE, DK_NORM, TN_WHEN, "trace.spectrum off, or below the matrix's rank")                       \
    X(TV_ERANK, DK_ERANK, TN_WHEN, "trace.spectrum off")

/* Fixed variables besides the coordinates of `depth`, `layer`, `position`, `sv` and `genre` (indices) and
 * the parameters: TRACE_FIXED(id, name, type, dimension, long_name, source). The source (tracewrite.c) is a
 * field of the probe set (PROBE) or of the signals (SIG). What the run's probe set is, and the merge
 * weights: it never changes during a run, so neither do they. */
#define TRACE_FIXED(X)                                                                                             \
    X(TF_BUCKET, "bucket", NC_INT64, TD_BUCKET, NULL, SIG(bucket_lo))                                              \
    X(TF_BUCKET_IDS, "bucket_ids", NC_INT64, TD_BUCKET, "vocabulary ids in the frequency bucket", SIG(bucket_ids)) \
    X(TF_BUCKET_TOKENS, "bucket_tokens", NC_INT64, TD_BUCKET,                                                      \
      "this rank's probe tokens in each frequency bucket (merge weight of norm_bucket)", SIG(bucket_tokens))      \
    X(TF_GROUP, "group", NC_INT64, TD_GROUP, NULL, PROBE(slot_group))                                              \
    X(TF_GROUP_WINDOWS, "group_windows", NC_INT64, TD_GROUP, "probe windows in the group (merge weight)",          \
      PROBE(slot_windows))                                                                                        \
    X(TF_GENRE_TOKENS, "genre_tokens", NC_INT64, TD_GENRE,                                                         \
      "this rank's lens tokens of the genre (merge weight of the per-genre signals)", SIG(genre_tokens))          \
    X(TF_WINDOW, "window", NC_INT64, TD_WINDOW, NULL, PROBE(index))                                                \
    X(TF_WINDOW_OFFSET, "window_offset", NC_INT64, TD_WINDOW,                                                      \
      "token offset of the window in the probe shard: inputs are tokens [offset, offset+T)", PROBE(offset))       \
    X(TF_WINDOW_GENRE, "window_genre", NC_INT64, TD_WINDOW, "genre of the window's document", PROBE(genre))        \
    X(TF_WINDOW_GROUP, "window_group", NC_INT64, TD_WINDOW, "probe group of the window", PROBE(group))             \
    X(TF_WINDOWS, "windows", NC_INT64, TD_NONE, "probe windows this rank traces (merge weight)", PROBE(n))

#define TRACE_FIXED_ENUM(id, name, type, dim, long_name, src) id,
enum { TRACE_FIXED(TRACE_FIXED_ENUM) TF_N };
#undef TRACE_FIXED_ENUM

/* The string variable naming the genres. */
#define TRACE_GENRE_NAME "genre_name"

/* Tokenizer kinds: the values of the `tokenizer` parameter, which are the kind field of tokenizer.bin
 * (docs/formats.md; TOKENIZER_BYTE etc. of src/data/tokenizer.h), and their names, which are il-prepare's
 * --tokenizer names. 0: not known (no tokenizer.bin beside the training shard, or a trace of schema 3).
 * TRACE_TOKENIZER(id, value, name). */
#define TRACE_TOKENIZERS(X)                                                                                        \
    X(TRACE_TOK_UNKNOWN, 0, "unknown")                                                                             \
    X(TRACE_TOK_BYTE, 1, "byte")                                                                                   \
    X(TRACE_TOK_BPE, 2, "bpe")                                                                                     \
    X(TRACE_TOK_GPT2, 3, "gpt2")

#define TRACE_TOKENIZER_ENUM(id, value, name) id = value,
enum { TRACE_TOKENIZERS(TRACE_TOKENIZER_ENUM) };
#undef TRACE_TOKENIZER_ENUM
#define TRACE_TOKENIZER_COUNT(id, value, name) +1
enum { TRACE_TOK_N = 0 TRACE_TOKENIZERS(TRACE_TOKENIZER_COUNT) };
#undef TRACE_TOKENIZER_COUNT

/* The name of tokenizer kind k, NULL for a value that is no kind. */
const char *trace_tokenizer_name(int64_t k);
/* The kinds as CF flags on variable varid: flag_values 0, 1, ... and flag_meanings "unknown byte ...".
 * Returns a NetCDF status. */
int trace_tokenizer_flags(int ncid, int varid);

/* Sweep parameters, scalar variables of every file so that files stack along a run dimension:
 * TRACE_PARAM(id, name, type, long_name, value). The value is an expression over the run's config c
 * (config_t), the model's dims d (gpt_dims_t, the vocabulary as trained), its world size w and the kind tok
 * of the tokenizer of its training data (TRACE_TOKENIZERS); only tracer_params (src/trace/params.c), which
 * knows those types, expands it. The tokenizer varies independently of the model's shape, and the claims
 * are made per tokenizer (docs/aggregate.md). */
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
    X(TP_GRAD_CLIP, "grad_clip", NC_DOUBLE, "global gradient-norm clip threshold (0: none)", c->grad_clip)        \
    X(TP_PROBE_WINDOWS, "probe_windows", NC_INT64, "windows in the probe set of the run", c->trace_probe_windows)   \
    X(TP_PROBE_GROUPS, "probe_groups", NC_INT64, "groups the probe set is dealt into", c->trace_probe_groups)       \
    X(TP_TOKENIZER, "tokenizer", NC_INT64, "kind of the tokenizer of the training data (flag_meanings)", tok)

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
    nc_type type;
    int dim;               /* TD_NONE for a scalar */
    const char *long_name; /* NULL for a coordinate: its dimension's long_name */
} trace_fixed_t;

typedef struct {
    trace_domain_kind_t kind;
    trace_nan_t nan;
    const char *when; /* TN_WHEN: when a value is NaN */
} trace_domain_t;

typedef struct {
    const char *name;
    nc_type type; /* NC_INT64 or NC_DOUBLE */
    const char *long_name;
} trace_param_t;

typedef struct {
    const char *name, *long_name;
} trace_dim_t;

extern const trace_var_t trace_vars[TV_N];
extern const trace_fixed_t trace_fixed[TF_N];
extern const trace_param_t trace_params[TP_N];
extern const trace_domain_t trace_domains[TV_N];
extern const trace_dim_t trace_dims[TD_N];
/* The dimensions of each shape after `step` (TD_NONE where there are fewer than three). */
extern const int trace_shape_dims[SH_N][3];

/* A parameter's value: int64 parameters in i (and, converted, in d), double ones in d; NaN in d when unknown. */
typedef struct {
    int64_t i;
    double d;
} trace_value_t;

/* Lengths of the dimensions after `step` in one file (extent[TD_STEP] unused). */
typedef struct {
    size_t n[TD_N];
} trace_extent_t;

/* Elements of one record of a variable of this shape. */
size_t trace_shape_len(trace_shape_t shape, const trace_extent_t *e);

/* The range [lo, hi] of a domain kind in a run with these parameters. */
void trace_domain_range(trace_domain_kind_t kind, const trace_value_t param[TP_N], double *lo, double *hi);
/* Whether x may be variable k's value in a record of a run with these parameters; `first`: the record may
 * be its launch's first. */
int trace_in_domain(int k, double x, int first, const trace_value_t param[TP_N]);
/* The domain of variable k as docs/trace-schema.md states it, e.g. "[-1, 1]". */
const char *trace_domain_text(int k);

/* The early trace steps besides every interval-th (trace.log_spaced): none; ten per decade at any step; or
 * the powers of two below the interval, so that the schedule is dense early, when the signals move fastest,
 * and then a fixed stride (the default). */
enum { TRACE_EARLY_NONE = 0, TRACE_EARLY_LOG = 1, TRACE_EARLY_POW2 = 2 };

/* Whether step `step` (0..max_steps) is traced: step 0, the last step max_steps, every interval-th step
 * (interval <= 0: none besides), and the early steps of `log_spaced`: with TRACE_EARLY_LOG the steps
 * round(10^(j/10)) for j = 0, 1, 2, ...: 1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 32, 40, 50, 63, 79, 100,
 * 126, ... (ten per decade, at every scale); with TRACE_EARLY_POW2 the powers of two below the interval
 * (1, 2, 4, ..., 2^k < interval), after which only the stride is left. The trainer traces these steps; a
 * reader knows from them which steps a finished run's files hold. */
int tracer_due(int64_t step, int64_t max_steps, int interval, int log_spaced);
/* The number of trace steps before step `step` of that schedule: the ordinal of a traced step (0 for step 0);
 * for a step past max_steps, the number of trace steps of the run. */
int64_t tracer_ordinal(int64_t step, int64_t max_steps, int interval, int log_spaced);

/* The sparse sub-schedule: the expensive variables (S9's decomposition, H4's statistic and its jackknife
 * replicates, the per-genre splits) are measured only at the full trace steps, every full_every-th trace step
 * by ordinal (step 0 among them) and the last step max_steps; at the other trace steps the trainer skips their
 * computation and their records hold the fill value, NaN. TRACE_SPARSE lists them; trace_sparse[k] is 1 for
 * each. Schema 5 introduced it: every record of an older file is full. */
#define TRACE_SPARSE(X) X(TV_LENS_GENRE) X(TV_COS_LOCAL_GENRE) X(TV_RHO_FREQ) X(TV_RHO_FREQ_JK) X(TV_SINGULAR_VALUE) X(TV_ERANK)
extern const unsigned char trace_sparse[TV_N];
/* Whether the trace step of this ordinal, at step `step`, is full (full_every <= 1: every one). */
int tracer_full(int64_t ordinal, int64_t step, int64_t max_steps, int full_every);

/* docs/trace-schema.md's generated tables (dimensions, record variables, parameters) as Markdown. */
void trace_schema_markdown(FILE *f);

#endif
