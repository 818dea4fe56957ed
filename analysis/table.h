/* table: one table written twice, as CSV (for programs) and as a Markdown table (for people), each to a
 * temporary name renamed into place by table_commit. Rows are streamed: nothing is held in memory.
 * CSV: whole numbers in full, others in %.6g, an unknown value (NaN) as an empty field, text quoted when it holds ',' '"' or a
 * newline. Markdown: the same numbers, "n/a" for unknown values, '|' escaped. */
#ifndef IL_AGG_TABLE_H
#define IL_AGG_TABLE_H

#include <stdio.h>

#include "core/atomicfile.h"

typedef struct {
    atomicfile_t csv, md;
    int ncol, col; /* columns, and the next column of the current row */
} table_t;

/* Opens <dir>/<base>.csv and <dir>/<base>.md; the Markdown file starts with "# title" and the intro
 * paragraph (may be NULL). Returns 0, or -1 with err_set(). */
int table_open(table_t *t, const char *dir, const char *base, const char *title, const char *intro,
               const char *const *cols, int ncol);
void table_str(table_t *t, const char *s);
void table_num(table_t *t, double v);
/* One CSV field as a table writes it, without its separator: for a CSV laid out by its writer (claims.csv). */
void table_csv_str(FILE *f, const char *s);
void table_csv_num(FILE *f, double v);
/* Commits both files (after checking every row was complete); -1 with err_set() on a write error. */
int table_commit(table_t *t);
void table_abort(table_t *t);

#endif
