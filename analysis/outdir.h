/* outdir: il-aggregate's output directory, replaced as a whole.
 *
 * One writer at a time: the writer holds an exclusive lock (flock on "<parent>/.<name>.lock", which names
 * its host and PID) from start to end; the lock file stays beside the directory, since the directory itself
 * is replaced. The outputs are written into a sibling "<parent>/.<name>.tmp.<pid>", and only when all of
 * them are complete is it swapped into place: the old directory is renamed aside to ".<name>.old.<pid>",
 * the new one renamed to <name>, the old one removed. A reader sees the old outputs or the new ones, never a
 * mix, and nothing of an earlier aggregation (a figure of a run that is gone) survives into a later one. A
 * failed aggregation removes its sibling and leaves the old outputs as they were.
 *
 * Holding the lock, the writer knows that any such sibling, and any temporary file of an output (atomicfile's
 * "<output>.tmp.<pid>", figures/.plot.<pid>.dat), was left by a writer that died, and removes it; an old
 * directory whose writer died between its two renames is put back in place. The directory is only ever
 * replaced (or cleaned) when it holds nothing but il-aggregate's outputs and their temporary files, so that
 * a --out pointing at the user's own files is refused, naming one, instead of emptied. */
#ifndef IL_AGG_OUTDIR_H
#define IL_AGG_OUTDIR_H

typedef struct {
    int fd;          /* the lock file; -1: none */
    char out[4096];  /* the output directory as given, without trailing slashes */
    char work[8300]; /* where this aggregation writes: the temporary sibling */
    char old[8300];  /* where the old outputs go while the new ones move in */
} outdir_t;

/* Locks out, removes dead writers' debris (saying what it removed on stdout), and creates the temporary
 * sibling. Returns IL_EXIT_OK; IL_EXIT_INPUT (err_set) when another process holds the lock or out is not a
 * directory of il-aggregate's outputs; IL_EXIT_FAIL (err_set) when a file system call fails. */
int outdir_open(outdir_t *o, const char *out);
/* Swaps the complete outputs into place and removes the old ones. Returns 0, or -1 with err_set() (the old
 * outputs are then still in place). */
int outdir_commit(outdir_t *o);
/* Removes the temporary sibling (after a failure; no-op after a commit) and releases the lock. */
void outdir_close(outdir_t *o);

#endif
