/* message: a processed run (onerun_t) as bytes, for the message a rank sends to rank 0. Numbers travel as their
 * native bytes (every rank runs on the same machine type, as MPI_BYTE requires), so doubles arrive
 * bit-identical and the outputs do not depend on which rank read a run. Layout: the row, the held skips, then,
 * for a run with statistics, the statistics and the summary.nc curves, each array preceded by its length. */
#ifndef IL_AGG_MESSAGE_H
#define IL_AGG_MESSAGE_H

#include <stddef.h>

#include "analysis/onerun.h"

typedef struct {
    unsigned char *b;
    size_t n, cap;
} message_t;

/* Appends p to w (w zeroed to start). */
void message_pack(message_t *w, const onerun_t *p);
/* Rebuilds p from the n bytes at b; a message that does not parse is an internal failure (CHECK). */
void message_unpack(onerun_t *p, const void *b, size_t n);
void message_free(message_t *w);

/* One run's part of summary.nc with its name and directory, for the process that writes summary.nc. */
void message_pack_sum(message_t *w, const char *name, const char *dir, const summary_run_t *s);
/* Rebuilds what message_pack_sum packed; name and dir in new memory. */
void message_unpack_sum(char **name, char **dir, summary_run_t *s, const void *b, size_t n);

#endif
