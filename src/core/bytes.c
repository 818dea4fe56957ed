#include "core/bytes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomicfile.h"
#include "core/err.h"

uint32_t bytes_fnv1a(uint32_t h, const void *data, size_t n)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

uint64_t bytes_fnv1a64(uint64_t h, const void *data, size_t n)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

FILE *bytes_fopen_regular(const char *path)
{
    /* O_NONBLOCK: opening a FIFO without a writer would otherwise wait forever */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        err_set("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        err_set("%s: not a regular file", path);
        return NULL;
    }
    FILE *f = fcntl(fd, F_SETFL, 0) == 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        err_set("%s: cannot open: %s", path, strerror(errno));
        close(fd);
    }
    return f;
}

int bytes_read_file(const char *path, uint8_t **buf, size_t *n)
{
    *buf = NULL;
    *n = 0;
    FILE *f = bytes_fopen_regular(path);
    if (!f) return -1;
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        fclose(f);
        return err_set("%s: cannot stat: %s", path, strerror(errno));
    }
    size_t size = (size_t)st.st_size;
    uint8_t *b = err_calloc(size + 1, 1);
    size_t got = fread(b, 1, size, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != size) {
        free(b);
        return err_set("%s: read failed", path);
    }
    *buf = b;
    *n = size;
    return 0;
}

int bytes_parse_file(const char *path, int (*parse)(const char *path, const uint8_t *b, size_t n, void *out),
                     void *out)
{
    uint8_t *b;
    size_t n;
    CALL(bytes_read_file(path, &b, &n));
    int rc = parse(path, b, n, out);
    free(b);
    return rc;
}

int bytes_write_file(const char *path, const uint8_t *buf, size_t n)
{
    atomicfile_t af;
    CALL(atomicfile_open(&af, path, ATOMICFILE_KEEP));
    if (atomicfile_write(&af, buf, n) != 0) {
        atomicfile_abort(&af);
        return -1;
    }
    return atomicfile_commit(&af);
}
