/* traceread: the trace file reader, tracewrite's counterpart: one trace file (the rows of innerloop/schema.h) read whole
 * into memory, or a one-line reason why it cannot be used. Files are opened read-only; nothing is ever
 * written to them. It reads the variables il-aggregate merges: those with a merge weight.
 *
 * Reasons, in the order they are checked (traceread_file leaves one in err_msg()):
 *   "missing", "empty file", "not a NetCDF file" (neither HDF5 nor classic signature),
 *   "truncated: N of M bytes" (an HDF5 file shorter than the end-of-file address its superblock records),
 *   "corrupt: ..." (the netCDF library cannot open it or read a variable),
 *   "foreign: ..." (a NetCDF file that is not a trace: no trace_schema_version, a missing variable or a
 *   variable with other dimensions; a `config` attribute that is no valid config, or that a parameter or
 *   run_name disagrees with), "trace schema version V; this aggregator reads TRACE_SCHEMA_OLDEST to
 *   TRACE_SCHEMA_VERSION". */
#ifndef IL_AGG_TRACEREAD_H
#define IL_AGG_TRACEREAD_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "innerloop/schema.h"

typedef struct {
    char path[4096];
    int rank, world_size, segment;
    int64_t start_step;
    char run_name[256];
    trace_extent_t extent; /* of every dimension but step */
    size_t n_rec;
    trace_value_t param[TP_N]; /* as the trainer's config (below) and the model's dims give them */
    config_t config;           /* the launch's effective config, its `config` attribute: valid, of run_name */
    int64_t windows;        /* probe windows this rank traces: the W_WINDOWS weight */
    int64_t *fixed[TF_N];   /* every array fixed variable (NULL for the scalar `windows`) */
    char (*genre_name)[32]; /* (genre) */
    int64_t *step;          /* (n_rec) */
    double *v[TV_N];        /* (n_rec, shape) of each variable with a merge weight; NULL for the others */
} traceread_t;

/* Elements of one record of variable k. */
size_t traceread_len(const traceread_t *f, int k);

/* Reads the file at path, in a reading process of its own (traceread.c says why), started at the first file
 * and kept for the next. Returns 0, or -1 with err_set() holding the reason alone (no path). */
int traceread_file(traceread_t *f, const char *path);
/* Ends the reading process, if one runs; the next traceread_file starts another. It also ends by itself when
 * this process ends. */
void traceread_end(void);
/* The seconds a reading process is given for a file of `size` bytes before it is taken for hung: generous,
 * a whole file reads at tens of MB/s even on a slow disk. */
double traceread_limit_s(double size);
void traceread_free(traceread_t *f);

#endif
