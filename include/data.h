/* data: batches of (input, target) token windows from a shard.
 *
 * Rank r of P reads only tokens [r*n/P, (r+1)*n/P) of the shard, front to back, wrapping around; each
 * row of a batch is T+1 consecutive tokens. The cursor is the whole state, so it goes into checkpoints. */
#ifndef IL_DATA_H
#define IL_DATA_H

#include <stdint.h>
#include "shard.h"

typedef struct {
    const shard_t *shard;
    uint64_t begin, end; /* this rank's token range */
    uint64_t cursor;     /* next window start, in [begin, end) */
} loader_t;

/* Fails (err_set) if the rank's range is shorter than T+1 tokens. */
int loader_init(loader_t *l, const shard_t *s, int rank, int n_ranks, int T);
/* Moves the cursor to `offset` tokens past the start of this rank's range (wrapping), so validation can
 * score the same windows, spread over the whole shard, every time. */
void loader_seek(loader_t *l, uint64_t offset);
/* Fills inputs, targets (B, T) with the next B windows (row stride T, so windows do not overlap), and,
 * if cats is not NULL, cats (B, T) with the category of the document each target token belongs to. */
void loader_next(loader_t *l, int B, int T, int32_t *inputs, int32_t *targets, int32_t *cats);

#endif
