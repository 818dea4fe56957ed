/* tracewrite: the trace file writer. One NetCDF-4 file per rank per launch holding the signals of every trace
 * step, readable by ncdump, NCO and xarray; its variables are the rows of schema.h, its reader
 * analysis/traceread.c. The writer knows the signals it writes (signals_t) and nothing of the trainer: the
 * run's identity and sweep parameters arrive in tracewrite_meta_t, built by tracer.c.
 *
 * Files are <dir>/rankRRRR.segSSSS.nc. Each launch (a resume included) writes a new segment and never
 * reopens or overwrites a file: a crash may have left the last segment damaged past its last sync.
 * Records are appended along the unlimited `step` dimension and each is written whole, once;
 * tracewrite_sync() (nc_sync) makes everything so far durable against the process being killed, so a SIGKILL
 * loses at most the records since the last sync. A resumed run replays the steps after its checkpoint, so
 * a step can appear in two segments: the later segment's record is the one that counts (segrule.h).
 *
 * The file is private to its rank, so it is written with the ordinary (non-collective) netCDF API; the
 * build uses the MPI netCDF library and headers all the same (see the Makefile). */
#ifndef IL_TRACEWRITE_H
#define IL_TRACEWRITE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "trace/probe.h"
#include "innerloop/schema.h"
#include "trace/signals.h"

/* What a trace file records about its run and launch. */
typedef struct {
    const char *dir;         /* trace directory; must exist */
    int segment, rank, world_size;
    int64_t start_step;      /* the step this launch starts from (0, or the checkpoint's step on resume) */
    int sync_every;          /* records between automatic syncs, >= 1 */
    int interval, log_spaced, full_every; /* the trace schedule, recorded as attributes */
    const char *run_name;
    uint64_t seed;
    const char *config_text; /* the run's effective config, as config_write() spells it */
    const char *command;     /* command line for the history attribute; may be NULL */
    const char *probe_path;  /* the shard the probe windows come from */
    trace_value_t param[TP_N]; /* the sweep parameters */
} tracewrite_meta_t;

/* The training record of one trace step; see tracewrite_record for what `step` means. */
typedef struct {
    int64_t step;        /* updates applied to the traced weights */
    double loss;         /* mean training loss of update `step` over the global batch; NaN at step 0 */
    double lr;           /* learning rate the update used */
    double grad_norm;    /* global gradient norm before clipping */
    double tokens_per_s; /* global training throughput of the step */
    double step_time;    /* seconds the update took */
    double val_loss;     /* validation loss of the same weights, NaN when none was computed */
    int thin;            /* 1: a trace step off the sparse sub-schedule: its TRACE_SPARSE variables keep the fill */
} tracewrite_rec_t;

typedef struct {
    int ncid;
    char path[4096];
    size_t n_records;     /* records written */
    size_t n_synced;      /* records made durable by the last sync */
    int sync_every, since_sync;
    int fd;               /* the file, for reserving disk space ahead of HDF5; -1: the filesystem cannot */
    size_t record_bytes;  /* the raw size of one record */
    off_t reserved;       /* the most bytes reserved past the end of the file */
    trace_extent_t extent; /* of every dimension in this file */
    int varid[TV_N];
} tracewrite_t;

/* tracewrite_open's failure to write the file (a full disk), a runtime failure rather than bad input. */
enum { TRACEWRITE_IO = -2 };

/* Creates this rank's file for meta->segment, with the dimensions, buckets and options of sig and the
 * windows of this rank's probe share p, and writes the fixed variables and attributes. Returns 0, -1 with
 * err_set() when the file exists already, or TRACEWRITE_IO with err_set() naming the file and the system's
 * reason when it cannot be created or written (nothing is left of it then). */
int tracewrite_open(tracewrite_t *tw, const tracewrite_meta_t *meta, const signals_t *sig, const probe_t *p);

/* Appends one record: the training record and the signals of sig (signals_end, signals_spectrum and
 * signals_freq_rho done). rec->step is the number of optimizer updates applied to the traced weights; the
 * training record describes update number rec->step (NaN at step 0). With rec->thin the sparse variables
 * (TRACE_SPARSE) are not written: their record holds the fill value, NaN. Syncs after every sync_every records.
 * Before it writes, it reserves the disk space that this record, the records not yet synced and a close
 * need (fallocate; the free space where the filesystem cannot reserve): a full disk then fails here,
 * before HDF5 has written anything, returning -1 with err_set() naming the file and the system's reason,
 * and tracewrite_close() still writes every record so far. A write that fails inside HDF5 anyway returns -1
 * the same way; the file is then of no further use. */
int tracewrite_record(tracewrite_t *tw, const tracewrite_rec_t *rec, const signals_t *sig);

/* nc_sync: every record written so far survives the process being killed. Call it at checkpoints. Returns
 * 0, or -1 with err_set() as tracewrite_record. */
int tracewrite_sync(tracewrite_t *tw);
/* Closes the file; 0, or -1 with err_set() when its last data could not be written. */
int tracewrite_close(tracewrite_t *tw);

#endif
