#include "run/rundir.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomicfile.h"
#include "core/err.h"

int rundir_lock(rundir_t *d, const char *dir)
{
    memset(d, 0, sizeof *d);
    d->fd = -1;
    snprintf(d->dir, sizeof d->dir, "%s", dir);
    struct stat st;
    d->created = stat(dir, &st) != 0;
    CALL(atomicfile_mkdirs(dir));
    char path[4200], holder[256];
    snprintf(path, sizeof path, "%s/lock", dir);
    int fd = atomicfile_lock(path, holder, sizeof holder);
    if (fd == ATOMICFILE_LOCKED)
        return err_set("%s: run directory in use by another il-train (%s); one writer per run directory", dir, holder);
    if (fd < 0) return -1;
    d->fd = fd;
    return 0;
}

int rundir_held(const char *dir, char *holder, size_t n)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/lock", dir);
    return atomicfile_held(path, holder, n);
}

/* Removes the temporary files in dir and, to `depth` levels, in its subdirectories. */
static int clean(const char *dir, int depth, char *first, size_t n)
{
    DIR *dp = opendir(dir);
    if (!dp) return 0;
    int removed = 0;
    for (struct dirent *e; (e = readdir(dp));) {
        if (e->d_name[0] == '.') continue;
        char path[4200];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (lstat(path, &st) != 0) continue;
        if (S_ISDIR(st.st_mode) && depth > 0) {
            removed += clean(path, depth - 1, first, n);
        } else if (S_ISREG(st.st_mode) && atomicfile_is_tmp(e->d_name) && unlink(path) == 0) {
            if (!removed && !*first) snprintf(first, n, "%s", path);
            removed++;
        }
    }
    closedir(dp);
    return removed;
}

int rundir_clean(const rundir_t *d, char *first, size_t n)
{
    first[0] = '\0';
    return clean(d->dir, 2, first, n); /* the run directory, ckpt/ and trace/, and ckpt/step_N/ */
}

void rundir_release(rundir_t *d, int discard)
{
    if (d->fd >= 0) close(d->fd); /* closing the last descriptor releases the flock */
    d->fd = -1;
    /* only what this launch created, and it never held a started run: nothing of the user's is inside */
    if (discard && d->created) atomicfile_remove_tree(d->dir);
    d->created = 0;
}
