/* atomicfile: files that appear whole or not at all.
 * Data is written to "<path>.tmp.<pid>", flushed, fsync'd, then renamed over <path> and the directory
 * fsync'd. Unless overwriting is asked for, an existing <path> is an error, so that nothing a user already
 * has is lost. */
#ifndef IL_ATOMICFILE_H
#define IL_ATOMICFILE_H

#include <stdio.h>
#include <stddef.h>

typedef struct {
    FILE *f;            /* write through this between open and commit */
    char path[4096];
    char tmp[4160];
    int no_sync;
} atomicfile_t;

/* ATOMICFILE_NO_SYNC (with REPLACE): no fsync, for a cache whose own checksum catches a file torn by a crash
 * and which is rebuilt then: durability is not worth a disk flush per file. */
enum { ATOMICFILE_KEEP = 0, ATOMICFILE_REPLACE = 1, ATOMICFILE_NO_SYNC = 2 };

int atomicfile_open(atomicfile_t *af, const char *path, int mode);   /* -1 with err_set() on failure */
int atomicfile_write(atomicfile_t *af, const void *data, size_t n);  /* -1 with err_set() on failure */
int atomicfile_commit(atomicfile_t *af);                              /* flush, fsync, rename, fsync dir */
void atomicfile_abort(atomicfile_t *af);                              /* drop the temporary file */
/* fsync of the directory that holds path, so that a rename there is durable. */
void atomicfile_sync_dir_of(const char *path);

/* The system's reason why writing path failed, for a library that reports only its own (HDF5's "HDF error")
 * or none (gnuplot): err (the errno the failure left, 0 for none) when it is one a write fails for, else a
 * full or read-only file system as statvfs sees it; NULL when neither says. */
const char *atomicfile_why(const char *path, int err);

/* Creates a directory and its parents (like mkdir -p); -1 with err_set() on failure. */
int atomicfile_mkdirs(const char *dir);

/* Whether a file name is one of atomicfile's temporary names ("<name>.tmp.<digits>"). */
int atomicfile_is_tmp(const char *name);
/* rm -r of a directory of regular files and directories; symbolic links inside are removed, not followed. */
void atomicfile_remove_tree(const char *dir);
/* One writer at a time: takes an exclusive flock on the file at path (created if needed) and writes the
 * holder's "host H, pid P" into it. Returns the descriptor to keep open (closing it releases the lock);
 * ATOMICFILE_LOCKED when another process holds it, its line in holder (n bytes); -1 with err_set() on failure. */
enum { ATOMICFILE_LOCKED = -2 };
int atomicfile_lock(const char *path, char *holder, size_t n);
/* Whether another process holds the lock file at path (its line in holder): a shared flock tried and
 * released at once. 0 when the file is missing or free. */
int atomicfile_held(const char *path, char *holder, size_t n);

#endif
