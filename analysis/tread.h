/* tfile: one trace file (docs/trace-schema.md, version 1) read whole into memory, or a one-line reason why
 * it cannot be used. Files are opened read-only; nothing is ever written to them.
 *
 * Reasons, in the order they are checked (tfile_read leaves one in err_msg()):
 *   "missing", "empty file", "not a NetCDF file" (neither HDF5 nor classic signature),
 *   "truncated: N of M bytes" (an HDF5 file shorter than the end-of-file address its superblock records),
 *   "corrupt: ..." (the netCDF library cannot open it or read a variable),
 *   "foreign: ..." (a NetCDF file that is not a trace: no trace_schema_version, a missing variable or a
 *   variable with other dimensions), "trace schema version V; this aggregator reads 1". */
#ifndef IL_AGG_TFILE_H
#define IL_AGG_TFILE_H

#include <stddef.h>
#include <stdint.h>

/* Which dimensions a record variable has after `step`. */
typedef enum { SH_STEP, SH_DEPTH, SH_LAYER, SH_POS, SH_DEPTH_POS, SH_LAYER_POS, SH_DEPTH_BUCKET } tshape_t;

/* How ranks are merged (schema, "What a record is"): a global value is the same on every rank; per-position
 * means are weighted by `batch`, per-token means by `tokens`, S6 by `bucket_tokens`. */
typedef enum { W_GLOBAL, W_BATCH, W_TOKENS, W_BUCKET } tweight_t;

typedef struct {
    const char *name;
    tshape_t shape;
    tweight_t weight;
} tvar_t;

/* The record variables the aggregation uses. S2, the attention/MLP halves, lr, grad_norm and the weight norms
 * stay in the files: every variable read costs one chunk per record (a third of the time for ten fewer). */
enum { TV_LOSS, TV_VAL_LOSS, TV_TPS, TV_NORM, TV_COS, TV_COS_LOCAL, TV_ETA, TV_LENS, TV_NORM_BUCKET,
       TV_GRAD0, TV_SINK, TV_ERANK, TV_N };
extern const tvar_t tfile_vars[TV_N];

/* The scalar sweep parameters of a trace file, in file order. */
enum { TP_D_MODEL, TP_N_LAYER, TP_N_HEAD, TP_SEQ_LEN, TP_VOCAB, TP_N_PARAMS, TP_GLOBAL_BATCH, TP_MICRO_BATCH,
       TP_MAX_STEPS, TP_WARMUP, TP_SEED, TP_WORLD, TP_PEAK_LR, TP_MIN_LR, TP_WEIGHT_DECAY, TP_GRAD_CLIP, TP_N };
typedef struct {
    const char *name;
    int is_double; /* NC_DOUBLE in the file, else NC_INT64 */
    const char *long_name;
} tparam_t;
extern const tparam_t tfile_params[TP_N];

typedef struct {
    int64_t i; /* NC_INT64 parameters */
    double d;  /* NC_DOUBLE parameters, and the int64 ones converted */
} tvalue_t;

typedef struct {
    char path[4096];
    int rank, world_size, segment;
    int64_t start_step;
    char run_name[256];
    int L, T, n_bucket;
    size_t n_rec;
    tvalue_t param[TP_N];
    int64_t *bucket;        /* (n_bucket) bucket coordinate */
    int64_t *step, *batch;  /* (n_rec); `tokens` is batch * T by definition and is not read */
    int64_t *bucket_tokens; /* (n_rec, n_bucket) */
    double *v[TV_N];        /* (n_rec, shape) each */
} tfile_t;

/* Elements of one record of a variable of this shape. */
size_t tfile_shape_len(tshape_t shape, int L, int T, int n_bucket);

/* Reads the file at path. Returns 0, or -1 with err_set() holding the reason alone (no path). */
int tfile_read(tfile_t *f, const char *path);
void tfile_free(tfile_t *f);

#endif
