/* data: (input, target) windows of a token shard.
 *
 * Training reads the shard as G lanes, G being the global batch: lane j is tokens
 * [j*len, (j+1)*len) with len = n_tokens / G, and at every optimizer step each lane gives one window of
 * T+1 tokens at the same offset, which then moves on by T (wrapping). So the set of sequences in a step
 * depends only on the global batch, not on how ranks, micro-batches and accumulation divide it, and a
 * rank that owns lanes [first, first + count) reads only its own contiguous part of the shard. The offset
 * is the whole state, the same on every rank, so it goes into checkpoints unchanged by the rank count. */
#ifndef IL_DATA_H
#define IL_DATA_H

#include <stdint.h>
#include "data/shard.h"

typedef struct {
    const shard_t *shard;
    uint64_t lane_len; /* tokens per lane */
    int first, count;  /* this rank's lanes */
    int next;          /* next of this rank's lanes to read in the current step, 0..count */
    uint64_t offset;   /* window start within every lane */
} loader_t;

/* Lanes [first, first + count) of n_lanes. Fails (err_set) if a lane is shorter than T+1 tokens. */
int loader_init(loader_t *l, const shard_t *s, int n_lanes, int first, int count, int T);
/* Fills inputs, targets (B, T) from the next B of this rank's lanes; after its last lane, the step is
 * done and the offset moves on. If cats is not NULL it receives (B, T) the category of the document each
 * target token belongs to. */
void loader_next(loader_t *l, int B, int T, int32_t *inputs, int32_t *targets, int32_t *cats);
/* Sets the offset (from a checkpoint), at a step boundary. Fails if it is not a valid window start. */
int loader_restore(loader_t *l, uint64_t offset, int T);

/* One window at token position pos of a shard: inputs, targets, cats (cats may be NULL), T each. */
void loader_window(const shard_t *s, uint64_t pos, int T, int32_t *inputs, int32_t *targets, int32_t *cats);

#endif
