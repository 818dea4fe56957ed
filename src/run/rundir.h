/* rundir: the life of a run directory apart from what goes into it. One writer at a time: rank 0 holds an
 * exclusive lock (flock on <dir>/lock, which names the holder's host and PID) for the whole run. Holding
 * it, the writer knows that any temporary file in the directory (atomicfile's "<name>.tmp.<pid>") was left by a
 * writer that died, and removes it. A directory that a launch created and that never held a started run
 * is removed again, so that a refused start leaves nothing behind. */
#ifndef IL_RUNDIR_H
#define IL_RUNDIR_H

#include <stddef.h>

typedef struct {
    int fd;      /* the lock file, held open for the run; -1: none */
    int created; /* this launch created the directory */
    char dir[4096];
} rundir_t;

/* Creates dir if needed and takes its lock. Fails (err_set, naming the holder) when another process holds
 * it. */
int rundir_lock(rundir_t *d, const char *dir);
/* Removes temporary files of dead writers from the directory, its checkpoints and its traces; returns
 * how many, and names the first in `first` (n bytes). Call with the lock held. */
int rundir_clean(const rundir_t *d, char *first, size_t n);
/* Whether another process holds dir's lock, i.e. a run is training there: 1, with the lock file's "host H,
 * pid P" in holder (n bytes); 0 when none does or dir has no lock file. Never creates or writes anything. The
 * probe takes a shared lock for a moment, so an il-train starting in that instant is refused as if the
 * run were in use. */
int rundir_held(const char *dir, char *holder, size_t n);
/* Releases the lock. With `discard` and a directory this launch created, removes the directory. */
void rundir_release(rundir_t *d, int discard);

#endif
