/* trace: one NetCDF-4 file per rank per launch holding the signals of every trace step, readable by
 * ncdump, NCO and xarray. The schema is documented in docs/trace-schema.md; TRACE_SCHEMA_VERSION changes
 * whenever a variable, dimension or meaning changes, and the aggregator checks it.
 *
 * Files are <run dir>/trace/rankRRRR.segSSSS.nc. Each launch (a resume included) writes a new segment,
 * numbered one past the highest segment already in the directory, and never reopens or overwrites a file:
 * a crash may have left the last segment damaged past its last sync. Records are appended along the
 * unlimited `step` dimension and each is written whole, once; trace_sync() (nc_sync) makes everything so
 * far durable against the process being killed, so a SIGKILL loses at most the records since the last
 * sync. A resumed run replays the steps after its checkpoint, so a step can appear in two segments: the
 * later segment's record is the one that counts (each file records its start_step for that purpose).
 *
 * The file is private to its rank, so it is written with the ordinary (non-collective) netCDF API; the
 * build uses the MPI netCDF library and headers all the same (see the Makefile). */
#ifndef IL_TRACE_H
#define IL_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include <mpi.h>

#include "core/config.h"
#include "model/gpt.h"
#include "trace/signals.h"

enum { TRACE_SCHEMA_VERSION = 1 };

/* What a trace file records about its run and launch. */
typedef struct {
    const char *dir;        /* trace directory, normally <run dir>/trace; must exist (trace_segment_agree) */
    int segment;            /* from trace_segment_agree */
    int rank, world_size;
    int64_t start_step;     /* the step this launch starts from (0, or the checkpoint's step on resume) */
    int sync_every;         /* trace steps between automatic syncs, >= 1 */
    int interval;           /* the schedule of trace_is_step, recorded as attributes */
    int log_spaced;
    const config_t *cfg;    /* effective config: its text and the sweep parameters */
    const gpt_t *model;     /* dims as trained (vocab size taken from data) and parameter count */
    const signals_t *sig;   /* buckets, singular values kept, logit-lens options */
    const char *command;    /* command line for the history attribute; may be NULL */
} trace_info_t;

/* The training record of one trace step; see trace_write for what `step` means. */
typedef struct {
    int64_t step;
    double loss;         /* mean training loss of the optimizer step over the global batch */
    double lr;           /* learning rate the update used */
    double grad_norm;    /* global gradient norm before clipping */
    double tokens_per_s; /* global training throughput of the step */
    double step_time;    /* seconds the step took, tracing included */
    double val_loss;     /* validation loss of the same weights, NaN when none was computed */
} trace_record_t;

enum { TRACE_MAX_VARS = 48 };

typedef struct {
    int ncid;
    char path[4096];
    size_t n_records;     /* records written */
    size_t n_synced;      /* records made durable by the last sync */
    int sync_every, since_sync;
    int n_vars;
    int varid[TRACE_MAX_VARS]; /* per entry of the record-variable table in trace.c */
} trace_t;

/* Collective over comm: rank 0 creates dir if needed and finds the next free segment number (one past
 * the highest rank*.seg*.nc of any rank there, 0 in an empty directory); every rank receives it.
 * Returns 0, or -1 on every rank with err_set(). */
int trace_segment_agree(const char *dir, MPI_Comm comm, int *segment);

/* Creates this rank's file for info->segment and writes the fixed variables and attributes. Returns 0,
 * or -1 with err_set() when the file exists already or cannot be created. */
int trace_open(trace_t *tr, const trace_info_t *info);

/* Appends one record: the training record and the signals of sig (signals_compute and, for S9,
 * signals_spectrum done). rec->step is the number of optimizer updates applied to the weights the traced
 * forward/backward ran on, i.e. the traced micro-batch belongs to update number rec->step (0-based).
 * Syncs after every sync_every records. */
void trace_write(trace_t *tr, const trace_record_t *rec, const signals_t *sig);

/* nc_sync: every record written so far survives the process being killed. Call it at checkpoints. */
void trace_sync(trace_t *tr);
void trace_close(trace_t *tr);

/* Whether update `step` (0-based, of max_steps) is traced: step 0, the last step max_steps-1, every
 * interval-th step (interval <= 0: none besides), and with log_spaced also the steps round(10^(j/10))
 * for j = 0, 1, 2, ...: 1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 32, 40, 50, 63, 79, 100, 126, ...
 * (ten per decade, so early training, which changes fastest, is sampled densely). */
int trace_is_step(int64_t step, int64_t max_steps, int interval, int log_spaced);

#endif
