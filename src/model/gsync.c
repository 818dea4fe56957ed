#define _GNU_SOURCE /* SCHED_IDLE */
#include "model/gsync.h"

#include <math.h>
#include <omp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/dist.h"
#include "core/err.h"

static void reduce(gsync_t *s, size_t begin, size_t end)
{
    CHECK_RC(MPI_Allreduce(MPI_IN_PLACE, s->grads + begin, (int)(end - begin), MPI_FLOAT, MPI_SUM, s->comm),
             dist_strerror);
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
        reduce(s, s->begin[b], s->end[b]);
        CHECK(pthread_mutex_lock(&s->mu) == 0, "pthread_mutex_lock failed");
        s->reduced++;
        CHECK(pthread_cond_signal(&s->done) == 0, "pthread_cond_signal failed");
    }
    CHECK(pthread_mutex_unlock(&s->mu) == 0, "pthread_mutex_unlock failed");
    return NULL;
}

/* Whether backward leaves the thread no core time on any rank: one compute thread a rank, and no more
 * cores than ranks on each node (counting every core that any of the node's ranks may run on). The same
 * answer everywhere, since it decides which collective calls every rank makes. A rank that cannot read
 * its cores (more CPUs than a cpu_set_t holds) says there are spare ones. */
static int no_spare_core(MPI_Comm comm)
{
    MPI_Comm node;
    int ranks, none, everywhere;
    cpu_set_t mine, all;
    int known = sched_getaffinity(0, sizeof mine, &mine) == 0;
    if (!known) memset(&mine, 0xff, sizeof mine);
    CHECK_RC(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node), dist_strerror);
    CHECK_RC(MPI_Comm_size(node, &ranks), dist_strerror);
    CHECK_RC(MPI_Allreduce(&mine, &all, (int)sizeof mine, MPI_BYTE, MPI_BOR, node), dist_strerror);
    CHECK_RC(MPI_Comm_free(&node), dist_strerror);
    none = known && omp_get_max_threads() == 1 && ranks >= CPU_COUNT(&all);
    CHECK_RC(MPI_Allreduce(&none, &everywhere, 1, MPI_INT, MPI_MIN, comm), dist_strerror);
    return everywhere;
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
    s->after_backward = no_spare_core(comm);
    CHECK(pthread_mutex_init(&s->mu, NULL) == 0 && pthread_cond_init(&s->work, NULL) == 0 &&
              pthread_cond_init(&s->done, NULL) == 0,
          "pthread_mutex_init/cond_init failed");
    CHECK(pthread_create(&s->thread, NULL, comm_main, s) == 0, "pthread_create failed: no communication thread");
    /* Open MPI's blocking calls wait by spinning, and a bucket's all-reduce waits for the slowest rank's
     * backward to hand the same bucket over. In the idle class the thread gets a core's time only where
     * no thread of normal priority wants it, and otherwise a very small share (weight 3 against 1,024),
     * so it hardly slows this rank's backward: on cores left idle (a spare core, OpenMP threads asleep, a
     * rank waiting) it overlaps. Where backward keeps every core busy (after_backward), the calling
     * thread makes the blocking call instead (docs/scaling.md). Any thread may enter the idle class;
     * where a system refuses, the thread keeps normal priority. */
    s->idle_class = pthread_setschedparam(s->thread, SCHED_IDLE, &(struct sched_param){0}) == 0;
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
    if (!s->overlap || s->after_backward) return;
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
    if (s->overlap && !s->after_backward) {
        while (s->posted < s->n_buckets) post(s);
        CHECK(pthread_mutex_lock(&s->mu) == 0, "pthread_mutex_lock failed");
        while (s->reduced < s->n_buckets) CHECK(pthread_cond_wait(&s->done, &s->mu) == 0, "pthread_cond_wait failed");
        s->posted = s->reduced = 0; /* the thread is idle: the next step starts from the top bucket */
        CHECK(pthread_mutex_unlock(&s->mu) == 0, "pthread_mutex_unlock failed");
    } else { /* blocking, or overlapped where backward leaves the thread no core: the same one call */
        reduce(s, 0, s->n);
    }
    s->wait_s += clock_seconds() - t0;
}

int gsync_overlap_turn(int i)
{
    return i % 4 == 0 || i % 4 == 3;
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
        s->overlap = gsync_overlap_turn(i);
        double t0 = clock_seconds();
        pass(ctx);
        sum[!s->overlap] += clock_seconds() - t0;
    }
    /* every rank must keep the same mode: the max over ranks is one number everywhere */
    CHECK_RC(MPI_Allreduce(sum, slowest, 2, MPI_DOUBLE, MPI_MAX, s->comm), dist_strerror);
    s->overlap = slowest[0] <= slowest[1];
    secs[0] = slowest[0] / trials;
    secs[1] = slowest[1] / trials;
}
