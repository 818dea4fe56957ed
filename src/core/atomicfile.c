#include "core/atomicfile.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <libgen.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "core/err.h"

int atomicfile_open(atomicfile_t *af, const char *path, int mode)
{
    memset(af, 0, sizeof *af);
    if (strlen(path) >= sizeof af->path) return err_set("%s: path too long", path);
    if (!(mode & ATOMICFILE_REPLACE) && access(path, F_OK) == 0)
        return err_set("%s: already exists; refusing to overwrite it", path);
    snprintf(af->path, sizeof af->path, "%s", path);
    snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld", path, (long)getpid());
    af->no_sync = !!(mode & ATOMICFILE_NO_SYNC);
    af->f = fopen(af->tmp, "wb");
    if (!af->f) return err_set("%s: cannot create: %s", af->tmp, strerror(errno));
    return 0;
}

int atomicfile_write(atomicfile_t *af, const void *data, size_t n)
{
    if (n && fwrite(data, 1, n, af->f) != n) return err_set("%s: write failed: %s", af->tmp, strerror(errno));
    return 0;
}

void atomicfile_sync_dir_of(const char *path)
{
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int atomicfile_commit(atomicfile_t *af)
{
    int bad = fflush(af->f) != 0 || (!af->no_sync && fsync(fileno(af->f)) != 0);
    int err = errno;
    bad |= fclose(af->f) != 0;
    af->f = NULL;
    if (bad) {
        unlink(af->tmp);
        return err_set("%s: write failed: %s", af->path, strerror(err));
    }
    if (rename(af->tmp, af->path) != 0) {
        err = errno;
        unlink(af->tmp);
        return err_set("%s: cannot rename into place: %s", af->path, strerror(err));
    }
    if (!af->no_sync) atomicfile_sync_dir_of(af->path);
    return 0;
}

void atomicfile_abort(atomicfile_t *af)
{
    if (af->f) fclose(af->f);
    af->f = NULL;
    if (af->tmp[0]) unlink(af->tmp);
}

const char *atomicfile_why(const char *path, int err)
{
    if (err == ENOSPC || err == EDQUOT || err == EROFS || err == EIO || err == EFBIG) return strerror(err);
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", path);
    struct statvfs v;
    if (statvfs(dirname(copy), &v) != 0) return NULL;
    if (v.f_flag & ST_RDONLY) return strerror(EROFS);
    if (v.f_bavail == 0 || (v.f_files && v.f_favail == 0)) return strerror(ENOSPC);
    return NULL;
}

int atomicfile_mkdirs(const char *dir)
{
    char p[4096];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) return err_set("%s: path too long", dir);
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0777) != 0 && errno != EEXIST) return err_set("%s: cannot create directory: %s", p, strerror(errno));
            *s = c;
            if (!c) break;
        }
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return err_set("%s: not a directory", dir);
    return 0;
}

int atomicfile_is_tmp(const char *name)
{
    const char *t = strstr(name, ".tmp.");
    if (!t || !t[5]) return 0;
    for (t += 5; *t; t++)
        if (*t < '0' || *t > '9') return 0;
    return 1;
}

void atomicfile_remove_tree(const char *dir)
{
    DIR *dp = opendir(dir);
    for (struct dirent *e; dp && (e = readdir(dp));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char path[4200];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) atomicfile_remove_tree(path);
        else unlink(path);
    }
    if (dp) closedir(dp);
    rmdir(dir);
}

/* The holder line of an open lock file, without its newline. */
static void read_holder(int fd, char *holder, size_t n)
{
    ssize_t got = pread(fd, holder, n - 1, 0);
    holder[got > 0 ? got : 0] = '\0';
    holder[strcspn(holder, "\n")] = '\0';
    if (!*holder) snprintf(holder, n, "holder unknown");
}

int atomicfile_lock(const char *path, char *holder, size_t n)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return err_set("%s: cannot open the lock file: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        read_holder(fd, holder, n);
        close(fd);
        if (err != EWOULDBLOCK) return err_set("%s: cannot lock: %s", path, strerror(err));
        return ATOMICFILE_LOCKED;
    }
    char host[256] = "?", line[400];
    gethostname(host, sizeof host - 1);
    int len = snprintf(line, sizeof line, "host %s, pid %ld\n", host, (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)len, 0) != len) {
        int err = errno;
        close(fd);
        return err_set("%s: cannot write: %s", path, strerror(err));
    }
    return fd;
}

int atomicfile_held(const char *path, char *holder, size_t n)
{
    *holder = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return 0;
    int held = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    if (held) read_holder(fd, holder, n);
    close(fd); /* releases the shared lock, if it was taken */
    return held;
}
