/* shard: a file of token ids with its documents, shard sets, and the unigram-count sidecar.
 * The byte layouts are documented in docs/formats.md.
 *
 * Readers map shards read-only (mmap, MAP_SHARED) instead of copying them: the ranks of a node share the
 * page cache, and a shard larger than memory still trains. shard_open checks at open everything but the
 * tokens themselves (header, sizes, the CRC32 of the tables, the document table, category names) without
 * touching the token pages; each block of block_tokens tokens is checked (its CRC32 and every id below the
 * vocab size) the first time shard_get reads it, once per process: a bitmap of checked blocks, set with
 * atomics so that threads may read at once. shard_read checks every block at open, as a reader that
 * verifies whole files wants (il-eval --data). The tokens are little-endian u16, used in place: a
 * big-endian host is refused.
 *
 * A data path names either one shard file or a manifest of several (told apart by the first bytes):
 * `innerloop-shards 1`, then `NAME<TAB>N_TOKENS` per shard, NAME relative to the manifest's directory. A
 * set is one shard to its readers: its tokens, documents and windows are the files' in manifest order at
 * global positions (file k's token i is token first_k + i), a window may span a file boundary (shard_get
 * gathers it), a document never does, and categories are merged by name. */
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

typedef struct shard_file shard_file_t; /* one mapped file of a shard or set (shard.c) */

typedef struct {
    uint32_t tokenizer_id;
    uint32_t vocab_size;
    uint64_t n_tokens;
    uint16_t *tokens;       /* [n_tokens]: a shard built in memory; of one mapped file, its tokens in the read-only
                               mapping; NULL for a set of several files. Readers use shard_get. */
    uint32_t n_docs;
    shard_doc_t *docs;      /* [n_docs] */
    uint32_t n_cats;
    char (*cats)[SHARD_CAT_LEN]; /* [n_cats] */
    uint32_t block_tokens;  /* tokens per checksum block: as read (the first file's); shard_write's, or
                               SHARD_BLOCK_TOKENS if 0 */
    uint32_t n_files;       /* files mapped by shard_open; 0 for a shard built in memory */
    shard_file_t *files;    /* [n_files] */
} shard_t;

/* Atomic; refuses to overwrite an existing file. */
int shard_write(const shard_t *s, const char *path);
/* Maps the shard file or the manifest's set at path. Validates magic, version, sizes, the tables' checksum,
 * the document table and category names; errors name the file and the problem ("truncated: header says
 * 1000 tokens, file holds 612"), or the manifest and its line ("train.shards:3: ..."): a missing file, a bad
 * line, a count other than the shard's, a shard of another tokenizer than the set's first (both named), an
 * absolute or `..` name, no shard at all. A shard of an older version, which has no checksums, is refused
 * with a line saying to re-run il-prepare. The tokens are checked as shard_get reads them. */
int shard_open(shard_t *s, const char *path);
/* Like shard_open, and also fails unless the shard was made by this tokenizer id and vocab size. */
int shard_open_expect(shard_t *s, const char *path, uint32_t tokenizer_id, uint32_t vocab_size);
/* shard_open (shard_open_expect), then every block checked (shard_check_all): the whole of a shard or set
 * verified at once. */
int shard_read(shard_t *s, const char *path);
int shard_read_expect(shard_t *s, const char *path, uint32_t tokenizer_id, uint32_t vocab_size);
/* Checks every block of every file not checked yet. Returns 0, or -1 with err_set() naming the first bad
 * file and block. */
int shard_check_all(const shard_t *s);
/* Copies tokens [pos, pos + n) of the shard or set, which must lie within it, into out, checking each
 * block it touches the first time. Returns 0, or -1 with err_set() naming the file and the block that
 * fails (its checksum, or an id not below the vocab size), out left unfilled. Safe from several threads. */
int shard_get(const shard_t *s, uint64_t pos, uint64_t n, int32_t *out);
/* Checks block b of a shard's tokens: the 2 x block_tokens bytes (fewer in the last block) from
 * token_bytes + 2 x b x block_tokens, as stored in the file at SHARD_TOKENS_AT, against crc[b] of the file's
 * block table. shard_read checks every block; shard_get calls it when it first touches block b. Returns 0,
 * or -1 with err_set() naming path, the block, its tokens and its bytes in the file. */
int shard_block_check(const char *path, const uint8_t *token_bytes, uint64_t n_tokens, uint32_t block_tokens,
                      const uint32_t *crc, uint64_t b);
/* Unmaps the files, or frees a shard built in memory (its tokens, documents and names). */
void shard_free(shard_t *s);

/* Unigram sidecar: counts[v] = occurrences of token v in the training shard, with their sum (the shard's token
 * count) and a CRC32. The writer fails if the counts overflow 64 bits. The reader checks the CRC, that no
 * count exceeds the sum and that they add up to it without overflow, and sets *total to it; errors name the
 * file. */
int shard_counts_write(const char *path, uint32_t tokenizer_id, uint32_t vocab_size, const uint64_t *counts);
int shard_counts_read(const char *path, uint32_t *tokenizer_id, uint32_t *vocab_size, uint64_t **counts,
                      uint64_t *total);
/* shard_counts_read, refused unless the counts are of this tokenizer id and vocab size and count n_tokens
 * tokens: those of the training shard or set named shard_path in messages. counts may be NULL (a check only);
 * else *counts holds vocab_size counts. */
int shard_counts_expect(const char *path, uint32_t tokenizer_id, uint32_t vocab_size, uint64_t n_tokens,
                        const char *shard_path, uint64_t **counts);

/* Cross-entropy (nats per token) of the shard or set at shard_path under the unigram model of the counts, add-one
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
