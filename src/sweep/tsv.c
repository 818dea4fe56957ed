#include "sweep/tsv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

int tsv_read(tsv_t *t, const char *path)
{
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "r");
    if (!f) return err_set("%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0, used = 0;
    ssize_t len;
    int rc = 0;
    while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
        if (len && line[len - 1] == '\n') line[--len] = '\0';
        int cols = 1;
        for (char *p = line; *p; p++) cols += *p == '\t';
        if (t->rows == 0) t->cols = cols;
        if (cols != t->cols) {
            rc = err_set("%s:%d: %d cells, but the header has %d", path, t->rows + 1, cols, t->cols);
            break;
        }
        t->cell = realloc(t->cell, (used + (size_t)cols) * sizeof *t->cell);
        CHECK(t->cell, "out of memory");
        for (char *p = line, *c; (c = strsep(&p, "\t"));) t->cell[used++] = err_strdup(c);
        t->rows++;
    }
    free(line);
    fclose(f);
    if (rc == 0 && t->rows == 0) rc = err_set("%s: empty", path);
    if (rc) tsv_free(t);
    return rc;
}

void tsv_free(tsv_t *t)
{
    for (int i = 0; i < t->rows * t->cols; i++) free(t->cell[i]);
    free(t->cell);
    memset(t, 0, sizeof *t);
}
