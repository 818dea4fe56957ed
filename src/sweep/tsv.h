/* tsv: a tab-separated table (a sweep's manifest, its summary) read into cells: `cols` cells per row, row 0
 * the header. */
#ifndef IL_SWEEP_TSV_H
#define IL_SWEEP_TSV_H

typedef struct {
    int rows, cols;
    char **cell; /* cell[r * cols + c] */
} tsv_t;

/* Reads a TSV file whose rows all have the header's number of cells; -1 with err_set() naming the line. */
int tsv_read(tsv_t *t, const char *path);
void tsv_free(tsv_t *t);

#endif
