/* afile: files that appear whole or not at all.
 * Data is written to "<path>.tmp.<pid>", flushed, fsync'd, then renamed over <path> and the directory
 * fsync'd. Unless overwriting is asked for, an existing <path> is an error, so that nothing a user already
 * has is lost. */
#ifndef IL_AFILE_H
#define IL_AFILE_H

#include <stdio.h>
#include <stddef.h>

typedef struct {
    FILE *f;            /* write through this between open and commit */
    char path[4096];
    char tmp[4160];
} afile_t;

enum { AFILE_KEEP = 0, AFILE_REPLACE = 1 };

int afile_open(afile_t *af, const char *path, int mode);   /* -1 with err_set() on failure */
int afile_write(afile_t *af, const void *data, size_t n);  /* -1 with err_set() on failure */
int afile_commit(afile_t *af);                              /* flush, fsync, rename, fsync dir */
void afile_abort(afile_t *af);                              /* drop the temporary file */

/* Creates a directory and its parents (like mkdir -p); -1 with err_set() on failure. */
int afile_mkdirs(const char *dir);

#endif
