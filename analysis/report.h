/* report: norms.csv/md and inner.csv/md, one row per run and depth, streamed run by run. */
#ifndef IL_AGG_REPORT_H
#define IL_AGG_REPORT_H

#include "analysis/runstats.h"
#include "analysis/table.h"

typedef struct {
    table_t norms, inner;
} report_t;

int report_open(report_t *r, const char *out);   /* -1 with err_set() */
void report_run(report_t *r, const char *name, const runstats_t *s);
int report_commit(report_t *r);                  /* -1 with err_set() */
void report_abort(report_t *r);

#endif
