/* gsync: averaging the gradient buffer over ranks, overlapped with backward.
 *
 * The buffer is cut at block boundaries into buckets of at least `bucket_bytes`. Backward finishes the
 * blocks from the top down, so the top bucket (the last blocks and the final LayerNorm) is complete
 * first; gsync_block_done, called from the model's backward hook, starts a non-blocking sum over ranks
 * for every bucket that backward has just completed, and gsync_finish starts the last one (the
 * embeddings, whose gradient is final only after the encoder's backward) and waits for all of them.
 * Without overlap, gsync_finish sums the whole buffer in one call instead. Each rank scales its loss by
 * 1/(ranks x accumulation steps), so the sum is the global mean gradient. */
#ifndef IL_GSYNC_H
#define IL_GSYNC_H

#include <mpi.h>
#include <stddef.h>

#include "model/gpt.h"

typedef struct {
    MPI_Comm comm;       /* MPI_COMM_WORLD unless set after gsync_init */
    float *grads;
    size_t n;
    int overlap;
    int n_buckets;
    size_t *begin;       /* [n_buckets] first float of bucket b; buckets in launch order, top first */
    size_t *end;         /* [n_buckets] */
    int *start_layer;    /* [n_buckets] the block whose completion starts bucket b; -1: the last bucket */
    MPI_Request *req;    /* [n_buckets] */
    int launched;        /* buckets started in this step */
    double wait_s;       /* seconds spent waiting in gsync_finish, summed since the last reset */
} gsync_t;

void gsync_init(gsync_t *s, const gpt_t *m, size_t bucket_bytes, int overlap);
void gsync_free(gsync_t *s);
/* Installs the backward hook on m for the next backward only (the last micro-step of a step). */
void gsync_arm(gsync_t *s, gpt_t *m);
void gsync_block_done(void *ctx, int layer);
/* Starts what is left, waits for everything, and removes the hook from m. */
void gsync_finish(gsync_t *s, gpt_t *m);

#endif
