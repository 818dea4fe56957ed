/* reader: innerloop's output files for programs of their own: a trace file (a rank's trace of one run,
 * <run>/trace/rank*.nc) and il-aggregate's summary.nc. Any variable of the file reads whole as doubles with
 * its dimensions; innerloop/schema.h names the variables and dimensions of a trace and what they mean.
 *
 * A trace file is checked as il-aggregate checks it (schema version, variables, dimensions, config, values
 * in their domains) before anything is read; summary.nc must say it is one (its title). Functions return 0,
 * or -1 with a one-line reason in il_errmsg().
 *
 *     il_file_t *f;
 *     if (il_open("runs/demo/trace/rank0000.nc", &f)) { fprintf(stderr, "%s\n", il_errmsg()); return 2; }
 *     il_dims_t d;
 *     double *norm;
 *     if (il_var(f, "norm", &d, &norm) == 0) { ... norm[i], i < d.n ...; free(norm); }
 *     il_close(f); */
#ifndef INNERLOOP_READER_H
#define INNERLOOP_READER_H

#include <stddef.h>

enum { IL_MAX_DIMS = 8, IL_NAME_MAX = 256 };

typedef enum { IL_FILE_TRACE, IL_FILE_SUMMARY } il_kind_t;

typedef struct il_file il_file_t;

/* A variable's shape: dimension names and lengths, outermost first, and the number of elements. */
typedef struct {
    int ndims;
    char name[IL_MAX_DIMS][IL_NAME_MAX + 1];
    size_t len[IL_MAX_DIMS];
    size_t n;
} il_dims_t;

/* Opens a trace file or a summary.nc read-only. */
int il_open(const char *path, il_file_t **f);
il_kind_t il_kind(const il_file_t *f);
/* The values of variable `name` (a numeric one), row-major, in a malloc'ed array for the caller to free;
 * missing values (NaN fill) read as NaN. */
int il_var(il_file_t *f, const char *name, il_dims_t *dims, double **data);
/* A trace file's config key ("model.d_model", innerloop/config.h) as the run had it, into buf. */
int il_config(const il_file_t *f, const char *key, char *buf, size_t n);
void il_close(il_file_t *f);
/* The reason the last call failed. */
const char *il_errmsg(void);

#endif
