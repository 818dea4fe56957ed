/* shard: a file of token ids with its documents, and the unigram-count sidecar.
 * The byte layout is documented in docs/formats.md. A shard is loaded whole; Brown-sized corpora are a
 * few MB. */
#ifndef IL_SHARD_H
#define IL_SHARD_H

#include <stddef.h>
#include <stdint.h>

#define SHARD_CAT_LEN 32 /* bytes per category name, NUL-padded */

typedef struct {
    uint64_t start;    /* first token of the document */
    uint64_t len;      /* tokens */
    uint32_t category; /* index into the shard's category names */
} shard_doc_t;

typedef struct {
    uint32_t tokenizer_id;
    uint32_t vocab_size;
    uint64_t n_tokens;
    uint16_t *tokens;       /* [n_tokens] */
    uint32_t n_docs;
    shard_doc_t *docs;      /* [n_docs] */
    uint32_t n_cats;
    char (*cats)[SHARD_CAT_LEN]; /* [n_cats] */
} shard_t;

/* Atomic; refuses to overwrite an existing file. */
int shard_write(const shard_t *s, const char *path);
/* Validates magic, version, sizes, token range and document table; errors name the file and the
 * problem ("truncated: header says 1000 tokens, file holds 612"). */
int shard_read(shard_t *s, const char *path);
/* Like shard_read, and also fails unless the shard was made by this tokenizer id and vocab size. */
int shard_read_expect(shard_t *s, const char *path, uint32_t tokenizer_id, uint32_t vocab_size);
void shard_free(shard_t *s);

/* Unigram sidecar: counts[v] = occurrences of token v in the training shard. */
int shard_counts_write(const char *path, uint32_t tokenizer_id, uint32_t vocab_size, const uint64_t *counts);
int shard_counts_read(const char *path, uint32_t *tokenizer_id, uint32_t *vocab_size, uint64_t **counts);

/* Cross-entropy (nats per token) of the shard at shard_path under the unigram model of the counts, add-one
 * smoothed so that a token never seen in training costs log(N + V) rather than infinity: the baseline a
 * language model has to beat by using context at all. The shard must be of the counts' tokenizer. Returns
 * 0, or -1 with err_set(). */
int shard_unigram_loss(const char *counts_path, const char *shard_path, double *loss, uint64_t *n_tokens);

#endif
