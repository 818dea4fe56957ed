/* shard: a file of token ids with its documents, and the unigram-count sidecar.
 * The byte layout is documented in docs/formats.md. A shard is loaded whole; Brown-sized corpora are a
 * few MB. Its tokens carry a CRC32 per block of block_tokens tokens, in a table after them, and everything
 * else one CRC32, so that a reader that maps a large shard can check the small tables at open and each
 * block when it first touches it (shard_block_check), without reading every page first. */
#ifndef IL_SHARD_H
#define IL_SHARD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SHARD_CAT_LEN 32 /* bytes per category name, NUL-padded */
#define SHARD_BLOCK_TOKENS 32768u /* tokens per checksum block that shard_write uses by default: 64 KiB */
#define SHARD_TOKENS_AT 40 /* byte offset of the tokens in a shard file */

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
    uint32_t block_tokens;  /* tokens per checksum block: as read; shard_write's, or SHARD_BLOCK_TOKENS if 0 */
} shard_t;

/* Atomic; refuses to overwrite an existing file. */
int shard_write(const shard_t *s, const char *path);
/* Validates magic, version, sizes, checksums, token range and document table; errors name the file and the
 * problem ("truncated: header says 1000 tokens, file holds 612"; "block 3 ... fails its checksum"). A shard
 * of an older version, which has no checksums, is refused with a line saying to re-run il-prepare. */
int shard_read(shard_t *s, const char *path);
/* Checks block b of a shard's tokens: the 2 x block_tokens bytes (fewer in the last block) from
 * token_bytes + 2 x b x block_tokens, as stored in the file at SHARD_TOKENS_AT, against crc[b] of the file's
 * block table. shard_read checks every block; a reader that maps the file calls it when it first touches
 * block b. Returns 0, or -1 with err_set() naming path, the block, its tokens and its bytes in the file. */
int shard_block_check(const char *path, const uint8_t *token_bytes, uint64_t n_tokens, uint32_t block_tokens,
                      const uint32_t *crc, uint64_t b);
/* Like shard_read, and also fails unless the shard was made by this tokenizer id and vocab size. */
int shard_read_expect(shard_t *s, const char *path, uint32_t tokenizer_id, uint32_t vocab_size);
void shard_free(shard_t *s);

/* Unigram sidecar: counts[v] = occurrences of token v in the training shard, with their sum (the shard's token
 * count) and a CRC32. The writer fails if the counts overflow 64 bits. The reader checks the CRC, that no
 * count exceeds the sum and that they add up to it without overflow, and sets *total to it; errors name the
 * file. */
int shard_counts_write(const char *path, uint32_t tokenizer_id, uint32_t vocab_size, const uint64_t *counts);
int shard_counts_read(const char *path, uint32_t *tokenizer_id, uint32_t *vocab_size, uint64_t **counts,
                      uint64_t *total);

/* Cross-entropy (nats per token) of the shard at shard_path under the unigram model of the counts, add-one
 * smoothed so that a token never seen in training costs log(N + V) rather than infinity: the baseline a
 * language model has to beat by using context at all. The shard must be of the counts' tokenizer. Returns
 * 0, or -1 with err_set(). */
int shard_unigram_loss(const char *counts_path, const char *shard_path, double *loss, uint64_t *n_tokens);

/* A shard written as its documents come, for inputs larger than memory: tokens go to the file as they are
 * added, the document table and the block checksums stay in memory (20 bytes a document, 4 a block) until
 * shard_writer_close writes them and then the header. The file is the one shard_write would write for the
 * same documents. It is made at path, which the caller names and renames (a temporary name). */
typedef struct {
    FILE *f;
    char path[4200];
    uint32_t tokenizer_id, vocab_size;
    uint64_t n_tokens;
    shard_doc_t *docs;
    uint32_t n_docs, cap_docs;
    uint32_t *crc;           /* of each full block */
    size_t n_crc, cap_crc;
    uint32_t block_crc;      /* of the tokens of the block being filled */
    uint8_t *buf;            /* the tokens' bytes on their way to the file */
} shard_writer_t;

/* Creates path (which must not exist). -1 with err_set() naming it. */
int shard_writer_open(shard_writer_t *w, const char *path, uint32_t tokenizer_id, uint32_t vocab_size);
/* Appends one document of n tokens, every one below the vocab size. -1 with err_set() on a write failure. */
int shard_writer_doc(shard_writer_t *w, const uint16_t *ids, uint64_t n, uint32_t category);
/* Writes the tables (with these category names) and the header, flushes and syncs the file, and closes it;
 * the file stays at its path. -1 with err_set() naming it; the file is then removed. */
int shard_writer_close(shard_writer_t *w, const char (*cats)[SHARD_CAT_LEN], uint32_t n_cats);
/* Closes and removes the file. */
void shard_writer_abort(shard_writer_t *w);

#endif
