#include "model/gsync.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "core/clock.h"
#include "core/dist.h"
#include "core/err.h"

static void reduce(gsync_t *s, size_t begin, size_t end)
{
    CHECK_RC(MPI_Allreduce(MPI_IN_PLACE, s->grads + begin, (int)(end - begin), MPI_FLOAT, MPI_SUM, s->comm),
             dist_strerror);
}

/* Sleeps until every rank's thread has reached this point. A blocking MPI call waits by spinning, and a
 * thread spinning until the slowest rank hands over its bucket would take that time from this rank's
 * backward on the same core; MPI_Ibarrier, tested between pauses of 100 us, waits without one (with
 * pauses of 20 us, the tests themselves took a third of the core). */
static void rendezvous(gsync_t *s)
{
    MPI_Request req;
    int done = 0;
    CHECK_RC(MPI_Ibarrier(s->comm, &req), dist_strerror);
    for (;;) {
        CHECK_RC(MPI_Test(&req, &done, MPI_STATUS_IGNORE), dist_strerror);
        if (done) return;
        nanosleep(&(struct timespec){.tv_nsec = 100000}, NULL);
    }
}

/* The communication thread: sums the handed-over buckets in order, one at a time. */
static void *comm_main(void *arg)
{
    gsync_t *s = arg;
    CHECK(pthread_mutex_lock(&s->mu) == 0, "pthread_mutex_lock failed");
    for (;;) {
        while (s->reduced == s->posted && !s->stop)
            CHECK(pthread_cond_wait(&s->work, &s->mu) == 0, "pthread_cond_wait failed");
        if (s->reduced == s->posted) break; /* stopped, nothing left */
        int b = s->reduced;
        CHECK(pthread_mutex_unlock(&s->mu) == 0, "pthread_mutex_unlock failed");
        /* the last bucket is handed over once backward has ended, when spinning costs this rank nothing;
         * the choice depends on b alone, so every rank makes the same collective calls */
        if (b < s->n_buckets - 1) rendezvous(s);
        reduce(s, s->begin[b], s->end[b]);
        CHECK(pthread_mutex_lock(&s->mu) == 0, "pthread_mutex_lock failed");
        s->reduced++;
        CHECK(pthread_cond_signal(&s->done) == 0, "pthread_cond_signal failed");
    }
    CHECK(pthread_mutex_unlock(&s->mu) == 0, "pthread_mutex_unlock failed");
    return NULL;
}

void gsync_init(gsync_t *s, const gpt_t *m, size_t bucket_bytes, MPI_Comm comm, int overlap)
{
    *s = (gsync_t){.comm = comm, .grads = m->grads, .n = m->n_params};
    int L = m->d.L;
    s->begin = err_calloc((size_t)L + 1, sizeof *s->begin);
    s->end = err_calloc((size_t)L + 1, sizeof *s->end);
    s->start_layer = err_calloc((size_t)L + 1, sizeof *s->start_layer);
    /* walk the blocks from the top, closing a bucket once it holds enough */
    size_t end = m->n_params;
    for (int l = L - 1; l >= 1; l--) {
        size_t block_begin = m->tensors[2 + l * GPT_TENSORS_PER_BLOCK].offset;
        if ((end - block_begin) * sizeof(float) >= bucket_bytes) {
            s->begin[s->n_buckets] = block_begin;
            s->end[s->n_buckets] = end;
            s->start_layer[s->n_buckets++] = l;
            end = block_begin;
        }
    }
    s->begin[s->n_buckets] = 0;
    s->end[s->n_buckets] = end;
    s->start_layer[s->n_buckets++] = -1;
    CHECK_RC(MPI_Query_thread(&s->thread_level), dist_strerror);
    s->threaded = overlap && s->thread_level >= MPI_THREAD_SERIALIZED;
    s->overlap = s->threaded;
    if (!s->threaded) return;
    CHECK(pthread_mutex_init(&s->mu, NULL) == 0 && pthread_cond_init(&s->work, NULL) == 0 &&
              pthread_cond_init(&s->done, NULL) == 0,
          "pthread_mutex_init/cond_init failed");
    CHECK(pthread_create(&s->thread, NULL, comm_main, s) == 0, "pthread_create failed: no communication thread");
}

void gsync_free(gsync_t *s)
{
    if (s->threaded) {
        CHECK(pthread_mutex_lock(&s->mu) == 0, "pthread_mutex_lock failed");
        s->stop = 1;
        CHECK(pthread_cond_signal(&s->work) == 0, "pthread_cond_signal failed");
        CHECK(pthread_mutex_unlock(&s->mu) == 0, "pthread_mutex_unlock failed");
        CHECK(pthread_join(s->thread, NULL) == 0, "pthread_join failed");
        pthread_cond_destroy(&s->work);
        pthread_cond_destroy(&s->done);
        pthread_mutex_destroy(&s->mu);
    }
    free(s->begin);
    free(s->end);
    free(s->start_layer);
}

/* Hands bucket s->posted to the thread: from here on only the thread touches it until gsync_finish. */
static void post(gsync_t *s)
{
    CHECK(pthread_mutex_lock(&s->mu) == 0, "pthread_mutex_lock failed");
    s->posted++;
    CHECK(pthread_cond_signal(&s->work) == 0, "pthread_cond_signal failed");
    CHECK(pthread_mutex_unlock(&s->mu) == 0, "pthread_mutex_unlock failed");
}

void gsync_arm(gsync_t *s, gpt_t *m)
{
    if (!s->overlap) return;
    m->on_block_done = gsync_block_done;
    m->hook_ctx = s;
}

void gsync_block_done(void *ctx, int layer)
{
    gsync_t *s = ctx;
    if (s->posted < s->n_buckets && s->start_layer[s->posted] == layer) post(s);
}

int gsync_reduced(gsync_t *s)
{
    if (!s->threaded) return 0;
    CHECK(pthread_mutex_lock(&s->mu) == 0, "pthread_mutex_lock failed");
    int n = s->reduced;
    CHECK(pthread_mutex_unlock(&s->mu) == 0, "pthread_mutex_unlock failed");
    return n;
}

void gsync_finish(gsync_t *s, gpt_t *m)
{
    m->on_block_done = NULL;
    m->hook_ctx = NULL;
    double t0 = clock_seconds();
    if (s->overlap) {
        while (s->posted < s->n_buckets) post(s);
        CHECK(pthread_mutex_lock(&s->mu) == 0, "pthread_mutex_lock failed");
        while (s->reduced < s->n_buckets) CHECK(pthread_cond_wait(&s->done, &s->mu) == 0, "pthread_cond_wait failed");
        s->posted = s->reduced = 0; /* the thread is idle: the next step starts from the top bucket */
        CHECK(pthread_mutex_unlock(&s->mu) == 0, "pthread_mutex_unlock failed");
    } else {
        reduce(s, 0, s->n);
    }
    s->wait_s += clock_seconds() - t0;
}

void gsync_autotune(gsync_t *s, gsync_pass_fn pass, void *ctx, int trials, double secs[2])
{
    secs[0] = secs[1] = NAN;
    s->overlap = 0;
    if (!s->threaded) return;
    double sum[2] = {0, 0}, slowest[2];
    s->overlap = 1;
    pass(ctx); /* the first pass pays for first touches, on any mode */
    for (int i = 0; i < 2 * trials; i++) {
        s->overlap = i % 2 == 0;
        double t0 = clock_seconds();
        pass(ctx);
        sum[i % 2] += clock_seconds() - t0;
    }
    /* every rank must keep the same mode: the max over ranks is one number everywhere */
    CHECK_RC(MPI_Allreduce(sum, slowest, 2, MPI_DOUBLE, MPI_MAX, s->comm), dist_strerror);
    s->overlap = slowest[0] <= slowest[1];
    secs[0] = slowest[0] / trials;
    secs[1] = slowest[1] / trials;
}
