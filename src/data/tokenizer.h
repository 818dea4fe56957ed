/* tokenizer: byte-level, or byte-pair encoding trained on the corpus.
 *
 * Ids 0..255 are the raw bytes in both kinds, so every byte string encodes and decodes exactly. A BPE
 * tokenizer adds one id per learned merge (256, 257, ...) in the order they were learned. Text is first
 * split into chunks (a run of ASCII letters/digits with the single space before it, or any other single
 * byte) and merges never cross a chunk boundary, which keeps training fast and encoding exact. A run is
 * cut every TOKENIZER_MAX_CHUNK bytes so that encoding stays linear on pathological input (a megabyte with no
 * spaces). The file layout is documented in docs/formats.md. */
#ifndef IL_TOKENIZER_H
#define IL_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

enum { TOKENIZER_BYTE = 1, TOKENIZER_BPE = 2 };
enum { TOKENIZER_MAX_CHUNK = 64 };

typedef struct {
    int kind;
    int vocab_size;           /* 256 + n_merges */
    int n_merges;
    int32_t (*merges)[2];     /* [n_merges][2]: token 256+i is merges[i][0] followed by merges[i][1] */
    uint32_t id;              /* content hash: shards record it so a mismatched tokenizer is caught */
    /* decode table, built from the merges */
    uint8_t **piece;          /* [vocab_size] bytes of each token */
    int *piece_len;           /* [vocab_size] */
    /* encode table, built from the merges: open addressing, key (left << 16 | right), value merge rank */
    uint32_t *pair_key;
    int32_t *pair_rank;
    uint32_t pair_cap;        /* power of two, or 0 for byte-level */
} tokenizer_t;

int tokenizer_init_byte(tokenizer_t *t);
/* Learns up to vocab_size-256 merges from text; vocab_size in [256, 65536]. Stops early (smaller
 * t->vocab_size) when no adjacent pair is left to merge. Returns 0 or -1 with err_set(). */
int tokenizer_train_bpe(tokenizer_t *t, const uint8_t *text, size_t n, int vocab_size);
/* Encodes n bytes into *out (malloc'd, *n_out ids). Returns 0 or -1. */
int tokenizer_encode(const tokenizer_t *t, const uint8_t *text, size_t n, uint16_t **out, size_t *n_out);
/* Decodes ids into *out (malloc'd, *n_out bytes). Returns 0, or -1 for an id out of range. */
int tokenizer_decode(const tokenizer_t *t, const uint16_t *ids, size_t n, uint8_t **out, size_t *n_out);
int tokenizer_save(const tokenizer_t *t, const char *path); /* atomic; refuses to overwrite */
int tokenizer_load(tokenizer_t *t, const char *path);       /* -1 with err_set() naming the file on bad input */
void tokenizer_free(tokenizer_t *t);

#endif
