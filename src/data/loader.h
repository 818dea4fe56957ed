/* loader: the (input, target) windows of a token shard that each optimizer step trains on.
 * A shard set (shard.h) is one shard here: its windows are at the set's global token positions, so a window
 * may span two files, and one epoch's permutation covers every file.
 *
 * A step takes G windows of T+1 tokens, G being the global batch, and rank r of P takes its share of them:
 * the windows [r G/P, (r+1) G/P) of the step. So the set of sequences in a step depends only on the global
 * batch, not on how ranks, micro-batches and accumulation divide it. Two orders:
 *   LOADER_SHUFFLE (train.order = shuffle): the shard is cut into n = (n_tokens - 1) / T windows starting
 *     at multiples of T; each epoch is a permutation of them drawn from (seed, epoch), and the steps take
 *     them in that order, G at a time, running on into the next epoch's permutation.
 *   LOADER_LANES (train.order = lanes): G lanes of n_tokens / G tokens each; at every step each lane gives
 *     the window at the same offset, which then moves on by T (wrapping). Neighbouring text in every step.
 * The cursor (windows taken, or the lanes' offset) is the whole state, the same on every rank, so it goes
 * into checkpoints unchanged by the rank count. */
#ifndef IL_LOADER_H
#define IL_LOADER_H

#include <stdint.h>

#include "data/shard.h"

typedef enum { LOADER_SHUFFLE, LOADER_LANES } loader_order_t;

typedef struct {
    const shard_t *shard;
    loader_order_t order;
    uint64_t seed;
    int G, T;
    int first, count;  /* this rank's windows of each step: [first, first + count) of G */
    int next;          /* next of this rank's windows to read in the current step, 0..count */
    uint64_t cursor;   /* LOADER_SHUFFLE: windows taken before this step; LOADER_LANES: the lanes' offset */
    uint64_t n_windows, lane_len;
    uint32_t *perm;    /* LOADER_SHUFFLE: (n_windows) the current epoch's order */
    uint64_t perm_epoch; /* the epoch perm holds */
} loader_t;

/* Windows [first, first + count) of each step of G. Fails (err_set) when the shard is too short for one
 * window of T+1 tokens (or, with lanes, for G lanes of them). */
int loader_init(loader_t *l, const shard_t *s, loader_order_t order, uint64_t seed, int G, int first, int count, int T);
void loader_free(loader_t *l);
/* Fills inputs, targets (B, T) with the next B of this rank's windows of the step; after its last one the
 * step is done and the cursor moves on. If cats is not NULL it receives (B, T) the category of the
 * document each target token belongs to. Returns 0, or -1 with err_set() naming the file and block when a
 * block of a mapped shard fails its check on first read (shard_get): that window is zeros, the cursor
 * moves on all the same, so that ranks in a collective step stay in step until they agree to stop. */
int loader_next(loader_t *l, int B, int32_t *inputs, int32_t *targets, int32_t *cats);
/* The epoch the next step reads from (LOADER_SHUFFLE; 0 for lanes). */
uint64_t loader_epoch(const loader_t *l);
/* Sets the cursor (from a checkpoint), at a step boundary. Fails if it is not a valid one. */
int loader_restore(loader_t *l, uint64_t cursor);

/* One window at token position pos of a shard or set: inputs, targets, cats (cats may be NULL), T each.
 * Returns 0, or -1 (shard_get's error) with the window zeroed. */
int loader_window(const shard_t *s, uint64_t pos, int T, int32_t *inputs, int32_t *targets, int32_t *cats);

#endif
