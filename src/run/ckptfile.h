/* ckptfile: a checkpoint file as a list of named, checksummed sections.
 * This is the file FORMAT, and knows nothing of training: what goes in (config text, parameters, AdamW
 * moments, RNG, data cursor, step) and the directory a checkpoint lives in are snapshot.c's, the trainer's
 * side. This module only makes the file safe: written to a temporary name, fsync'd, renamed; on reading,
 * every section's size and CRC32 is verified so a truncated or corrupted file is an error, never data.
 * The byte layout is documented in docs/formats.md. */
#ifndef IL_CKPTFILE_H
#define IL_CKPTFILE_H

#include <stddef.h>
#include <stdint.h>
#include "core/atomicfile.h"

#define CKPTFILE_TAG_LEN 24

typedef struct {
    atomicfile_t af;
    int failed;                 /* a ckptfile_add() failed: ckptfile_commit() must not produce a file */
    size_t n_sections;
    uint32_t header_crc;        /* CRC32 of the section headers written so far, for the end marker */
    char (*tags)[CKPTFILE_TAG_LEN]; /* tags written so far, to refuse a duplicate */
    size_t tags_cap;
} ckptfile_writer_t;

/* Tags are 1 to CKPTFILE_TAG_LEN-1 characters from [A-Za-z0-9._-], unique within a file. */
int ckptfile_begin(ckptfile_writer_t *w, const char *path); /* refuses to overwrite; nothing to clean up on failure */
int ckptfile_add(ckptfile_writer_t *w, const char *tag, const void *data, size_t bytes);
int ckptfile_commit(ckptfile_writer_t *w); /* appends the end marker, fsyncs, renames; on failure leaves no file */
void ckptfile_abort(ckptfile_writer_t *w);

typedef struct {
    char tag[CKPTFILE_TAG_LEN];
    uint64_t offset; /* in the file */
    uint64_t bytes;
} ckptfile_section_t;

typedef struct {
    char path[4096];
    uint8_t *buf; /* whole file */
    size_t size;
    int n_sections;
    ckptfile_section_t *sections;
} ckptfile_reader_t;

/* Reads and verifies the whole file. */
int ckptfile_open(ckptfile_reader_t *r, const char *path);
/* Copies section `tag` into dst; fails unless it exists with exactly `bytes` bytes. */
int ckptfile_get(const ckptfile_reader_t *r, const char *tag, void *dst, size_t bytes);
/* Points *data at section `tag` (valid until ckptfile_close); for variable-size sections such as text. */
int ckptfile_view(const ckptfile_reader_t *r, const char *tag, const void **data, size_t *bytes);
void ckptfile_close(ckptfile_reader_t *r);

#endif
