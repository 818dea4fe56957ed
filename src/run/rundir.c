#include "run/rundir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/afile.h"
#include "core/err.h"

/* The holder line of an open lock file, without its newline. */
static void read_holder(int fd, char *holder, size_t n)
{
    ssize_t got = pread(fd, holder, n - 1, 0);
    holder[got > 0 ? got : 0] = '\0';
    holder[strcspn(holder, "\n")] = '\0';
}

int rundir_lock(rundir_t *d, const char *dir)
{
    memset(d, 0, sizeof *d);
    d->fd = -1;
    snprintf(d->dir, sizeof d->dir, "%s", dir);
    struct stat st;
    d->created = stat(dir, &st) != 0;
    if (afile_mkdirs(dir)) return -1;
    char path[4200];
    snprintf(path, sizeof path, "%s/lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return err_set("%s: cannot open the run's lock file: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        char holder[256];
        read_holder(fd, holder, sizeof holder);
        close(fd);
        if (err != EWOULDBLOCK) return err_set("%s: cannot lock: %s", path, strerror(err));
        return err_set("%s: run directory in use by another il-train (%s); one writer per run directory", dir,
                       *holder ? holder : "holder unknown");
    }
    char host[256] = "?", line[400];
    gethostname(host, sizeof host - 1);
    int len = snprintf(line, sizeof line, "host %s, pid %ld\n", host, (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)len, 0) != len) {
        int err = errno;
        close(fd);
        return err_set("%s: cannot write: %s", path, strerror(err));
    }
    d->fd = fd;
    return 0;
}

int rundir_held(const char *dir, char *holder, size_t n)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/lock", dir);
    *holder = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return 0;
    int held = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    if (held) read_holder(fd, holder, n);
    close(fd); /* releases the shared lock, if it was taken */
    return held;
}

/* afile's temporary names end in ".tmp.<digits>". */
static int is_tmp(const char *name)
{
    const char *t = strstr(name, ".tmp.");
    if (!t || !t[5]) return 0;
    for (t += 5; *t; t++)
        if (*t < '0' || *t > '9') return 0;
    return 1;
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
        } else if (S_ISREG(st.st_mode) && is_tmp(e->d_name) && unlink(path) == 0) {
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

/* rm -r of a directory of regular files and directories (what a run directory holds). */
static void remove_tree(const char *dir)
{
    DIR *dp = opendir(dir);
    for (struct dirent *e; dp && (e = readdir(dp));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char path[4200];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) remove_tree(path);
        else unlink(path);
    }
    if (dp) closedir(dp);
    rmdir(dir);
}

void rundir_release(rundir_t *d, int discard)
{
    if (d->fd >= 0) close(d->fd); /* closing the last descriptor releases the flock */
    d->fd = -1;
    /* only what this launch created, and it never held a started run: nothing of the user's is inside */
    if (discard && d->created) remove_tree(d->dir);
    d->created = 0;
}
