/* ckpt: a checkpoint file as a list of named, checksummed sections.
 * The trainer decides what goes in (config text, parameters, AdamW moments, RNG, data cursor, step);
 * this module only makes the file safe: written to a temporary name, fsync'd, renamed; on reading,
 * every section's size and CRC32 is verified so a truncated or corrupted file is an error, never data.
 * The byte layout is documented in docs/formats.md. */
#ifndef IL_CKPT_H
#define IL_CKPT_H

#include <stddef.h>
#include <stdint.h>
#include "core/atomicfile.h"

#define CKPT_TAG_LEN 24

typedef struct {
    atomicfile_t af;
    int failed;                 /* a ckpt_add() failed: ckpt_commit() must not produce a file */
    size_t n_sections;
    uint32_t header_crc;        /* CRC32 of the section headers written so far, for the end marker */
    char (*tags)[CKPT_TAG_LEN]; /* tags written so far, to refuse a duplicate */
    size_t tags_cap;
} ckpt_writer_t;

/* Tags are 1 to CKPT_TAG_LEN-1 characters from [A-Za-z0-9._-], unique within a file. */
int ckpt_begin(ckpt_writer_t *w, const char *path); /* refuses to overwrite; nothing to clean up on failure */
int ckpt_add(ckpt_writer_t *w, const char *tag, const void *data, size_t bytes);
int ckpt_commit(ckpt_writer_t *w); /* appends the end marker, fsyncs, renames; on failure leaves no file */
void ckpt_abort(ckpt_writer_t *w);

typedef struct {
    char tag[CKPT_TAG_LEN];
    uint64_t offset; /* in the file */
    uint64_t bytes;
} ckpt_section_t;

typedef struct {
    char path[4096];
    uint8_t *buf; /* whole file */
    size_t size;
    int n_sections;
    ckpt_section_t *sections;
} ckpt_reader_t;

/* Reads and verifies the whole file. */
int ckpt_open(ckpt_reader_t *r, const char *path);
/* Copies section `tag` into dst; fails unless it exists with exactly `bytes` bytes. */
int ckpt_get(const ckpt_reader_t *r, const char *tag, void *dst, size_t bytes);
/* Points *data at section `tag` (valid until ckpt_close); for variable-size sections such as text. */
int ckpt_view(const ckpt_reader_t *r, const char *tag, const void **data, size_t *bytes);
void ckpt_close(ckpt_reader_t *r);

#endif
