#include "analysis/table.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"

static void end_cell(table_t *t)
{
    if (++t->col == t->ncol) {
        fputc('\n', t->csv.f);
        fputs(" |\n", t->md.f);
        t->col = 0;
    } else {
        fputc(',', t->csv.f);
    }
}

static void md_sep(table_t *t) { fputs(t->col ? " | " : "| ", t->md.f); }

int table_open(table_t *t, const char *dir, const char *base, const char *title, const char *intro,
               const char *const *cols, int ncol)
{
    memset(t, 0, sizeof *t);
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.csv", dir, base);
    CALL(atomicfile_open(&t->csv, path, ATOMICFILE_REPLACE));
    snprintf(path, sizeof path, "%s/%s.md", dir, base);
    if (atomicfile_open(&t->md, path, ATOMICFILE_REPLACE)) {
        atomicfile_abort(&t->csv);
        return -1;
    }
    t->ncol = ncol;
    fprintf(t->md.f, "# %s\n\n", title);
    if (intro) fprintf(t->md.f, "%s\n\n", intro);
    for (int i = 0; i < ncol; i++) table_str(t, cols[i]);
    for (int i = 0; i < ncol; i++) fputs(i ? "---|" : "|---|", t->md.f);
    fputc('\n', t->md.f);
    return 0;
}

void table_csv_str(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (const char *p = s; *p; p++) {
        if (*p == '"') fputc('"', f); /* a quote inside a quoted field is doubled */
        fputc(*p, f);
    }
    fputc('"', f);
}

/* counts (parameters, tokens) in full; measurements to six significant digits */
static const char *num_format(double v) { return v == floor(v) && fabs(v) < 1e15 ? "%.0f" : "%.6g"; }

void table_csv_num(FILE *f, double v)
{
    if (isfinite(v)) fprintf(f, num_format(v), v);
}

void table_str(table_t *t, const char *s)
{
    table_csv_str(t->csv.f, s);
    md_sep(t);
    for (const char *p = s; *p; p++) {
        if (*p == '|') fputc('\\', t->md.f);
        fputc(*p == '\n' ? ' ' : *p, t->md.f);
    }
    end_cell(t);
}

void table_num(table_t *t, double v)
{
    md_sep(t);
    table_csv_num(t->csv.f, v);
    if (isfinite(v)) fprintf(t->md.f, num_format(v), v);
    else fputs("n/a", t->md.f);
    end_cell(t);
}

int table_commit(table_t *t)
{
    CHECK(t->col == 0, "table: incomplete row (%d of %d columns)", t->col, t->ncol);
    if (atomicfile_commit(&t->csv)) {
        atomicfile_abort(&t->md);
        return -1;
    }
    return atomicfile_commit(&t->md);
}

void table_abort(table_t *t)
{
    atomicfile_abort(&t->csv);
    atomicfile_abort(&t->md);
}
