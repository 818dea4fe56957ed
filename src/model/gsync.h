/* gsync: averaging the gradient buffer over ranks, overlapped with backward.
 *
 * The buffer is cut at block boundaries into buckets of at least `bucket_bytes`. Backward finishes the
 * blocks from the top down, so the top bucket (the last blocks and the final LayerNorm) is complete
 * first. Overlapped, gsync_block_done, called from the model's backward hook, hands every bucket that
 * backward has just completed to a communication thread, which sums it over ranks with the blocking
 * MPI_Allreduce (the tuned algorithm) while the calling thread computes the blocks below, on core time
 * that backward leaves idle (the thread is in the idle scheduling class; where backward leaves none,
 * after_backward, the blocking call is made instead); gsync_finish
 * hands over the last one (the embeddings, whose gradient is final only after the encoder's backward) and
 * waits until the thread has reduced them all. The calling thread makes no MPI call between gsync_arm and
 * gsync_finish, and touches no bucket it has handed over until gsync_finish returns, so MPI need only
 * give MPI_THREAD_SERIALIZED. Blocking, gsync_finish sums the whole buffer in one call instead. Each rank
 * scales its loss by 1/(ranks x accumulation steps), so the sum is the global mean gradient.
 *
 * Why a thread: Open MPI moves a non-blocking collective forward only inside MPI calls, so MPI_Iallreduce
 * started during backward did nearly all its work in the final wait, through libnbc's schedule, slower
 * than the blocking algorithm (docs/scaling.md). */
#ifndef IL_GSYNC_H
#define IL_GSYNC_H

#include <mpi.h>
#include <pthread.h>
#include <stddef.h>

#include "model/gpt.h"

typedef struct {
    MPI_Comm comm;
    float *grads;
    size_t n;
    int overlap;         /* 1: the next step reduces its buckets during backward; only where threaded */
    int threaded;        /* the communication thread runs: overlap was asked for and MPI allows it */
    int thread_level;    /* what MPI_Query_thread said */
    int idle_class;      /* the thread runs in SCHED_IDLE: little more than core time no other thread wants */
    int after_backward;  /* overlapped, the gradients are summed as blocking does, in one call once backward
                          * has ended: each rank computes on one thread and the node has no core beyond its
                          * ranks, so backward leaves the thread no core time, and waking it only costs */
    int n_buckets;
    size_t *begin;       /* [n_buckets] first float of bucket b; buckets in launch order, top first */
    size_t *end;         /* [n_buckets] */
    int *start_layer;    /* [n_buckets] the block whose completion starts bucket b; -1: the last bucket */
    /* the hand-over, guarded by mu: buckets [reduced, posted) wait for the thread, in order */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work, done; /* the thread waits on work for a bucket, gsync_finish on done for the last */
    int posted, reduced, stop;
    double wait_s;       /* seconds spent waiting in gsync_finish, summed since the last reset */
} gsync_t;

/* Buckets of m's gradients summed over comm. With overlap, starts the communication thread, where MPI gives
 * at least MPI_THREAD_SERIALIZED (else, and without overlap, every step is blocking). */
void gsync_init(gsync_t *s, const gpt_t *m, size_t bucket_bytes, MPI_Comm comm, int overlap);
/* Stops and joins the thread. */
void gsync_free(gsync_t *s);
/* Installs the backward hook on m for the next backward only (the last micro-step of a step); none where
 * the buckets wait for the end of backward (after_backward). */
void gsync_arm(gsync_t *s, gpt_t *m);
void gsync_block_done(void *ctx, int layer);
/* Hands over what is left, waits until every bucket is summed, and removes the hook from m. */
void gsync_finish(gsync_t *s, gpt_t *m);
/* Buckets the thread has summed so far in this step (for tests: progress while backward runs). */
int gsync_reduced(gsync_t *s);

/* Whether the i-th of a series of timed passes comparing the two modes runs overlapped: overlapped,
 * blocking, blocking, overlapped, and again. Pass i + 1 runs measurably faster than pass i of the same
 * mode (blocking against blocking on 2 ranks: 0.991 and 0.999 in two runs of 20 pairs), so a plain
 * alternation would charge that to whichever mode comes first in each pair; in this order each mode comes
 * first in every other pair. */
int gsync_overlap_turn(int i);

/* One training pass for gsync_autotune: forward, gsync_arm, backward, gsync_finish. */
typedef void (*gsync_pass_fn)(void *ctx);
/* Collective over s->comm: runs pass once to warm up, then `trials` times in each mode, in
 * gsync_overlap_turn's order, and keeps the faster mode in s->overlap on every rank (the sums of the
 * slowest rank's times decide). Sets
 * secs[0] and secs[1] to the mean seconds of an overlapped and a blocking pass; without the thread it
 * times nothing, keeps blocking and sets both to NaN. */
void gsync_autotune(gsync_t *s, gsync_pass_fn pass, void *ctx, int trials, double secs[2]);

#endif
