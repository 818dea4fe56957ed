/* find: the run directories under the paths given on the command line. A run directory is one holding
 * config.ini or a trace/ directory; it is not searched further (its ckpt/ and trace/ are its own). Any
 * other directory is searched recursively, hidden entries excepted, in name order, so the order of the
 * runs, and of every table, does not depend on the file system. */
#ifndef IL_AGG_FIND_H
#define IL_AGG_FIND_H

typedef struct {
    char **dir;
    int n, cap;
} runlist_t;

/* Appends the run directories under path. Returns 0, or -1 with err_set() when path is not a directory. */
int find_runs(runlist_t *l, const char *path);
void find_free(runlist_t *l);

#endif
