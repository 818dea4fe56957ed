/* grow: a spec submitted again over its sweep directory. The runs the directory has keep their numbers and
 * names (their array tasks may still be queued, and finished runs are never rerun); the runs the spec gained
 * (another seed, another width) are appended after them; a spec that would change or drop one of them is
 * refused, naming the run and the key. */
#ifndef IL_SWEEP_GROW_H
#define IL_SWEEP_GROW_H

#include "sweep/sweepdir.h"

typedef struct {
    int existing; /* runs the directory has, now runs[0 .. existing) at their indices */
    int renamed;  /* of those, runs found by their config rather than their name (an older build named them) */
} grow_t;

/* Puts the runs of the sweep directory's manifest (w->dir/manifest.tsv, already known to exist) first in
 * runs[0..n), the spec's expansion, each at its index and under its name; then the others in expansion order,
 * numbered on from there. A run of the directory is found by its name, else by an identical config
 * (configs/<name>.ini, run.name and run.out_dir aside). Returns 0, or -1 with err_set() naming the manifest,
 * the run and, for a changed run, the first key that differs. */
int grow_merge(const sweepdir_t *w, const char *spec_path, spec_run_t *runs, int n, grow_t *g);

#endif
