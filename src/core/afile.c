#include "core/afile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"

int afile_open(afile_t *af, const char *path, int mode)
{
    memset(af, 0, sizeof *af);
    if (strlen(path) >= sizeof af->path) return err_set("%s: path too long", path);
    if (mode == AFILE_KEEP && access(path, F_OK) == 0)
        return err_set("%s: already exists; refusing to overwrite it", path);
    snprintf(af->path, sizeof af->path, "%s", path);
    snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld", path, (long)getpid());
    af->f = fopen(af->tmp, "wb");
    if (!af->f) return err_set("%s: cannot create: %s", af->tmp, strerror(errno));
    return 0;
}

int afile_write(afile_t *af, const void *data, size_t n)
{
    if (n && fwrite(data, 1, n, af->f) != n) return err_set("%s: write failed: %s", af->tmp, strerror(errno));
    return 0;
}

static void fsync_dir_of(const char *path)
{
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int afile_commit(afile_t *af)
{
    int bad = fflush(af->f) != 0 || fsync(fileno(af->f)) != 0;
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
    fsync_dir_of(af->path);
    return 0;
}

void afile_abort(afile_t *af)
{
    if (af->f) fclose(af->f);
    af->f = NULL;
    if (af->tmp[0]) unlink(af->tmp);
}

int afile_mkdirs(const char *dir)
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
