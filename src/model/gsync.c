#include "model/gsync.h"

#include <stdlib.h>

#include "core/dist.h"
#include "core/err.h"

void gsync_init(gsync_t *s, const gpt_t *m, size_t bucket_bytes, int overlap)
{
    *s = (gsync_t){.comm = MPI_COMM_WORLD, .grads = m->grads, .n = m->n_params, .overlap = overlap};
    int L = m->d.L;
    s->begin = err_calloc((size_t)L + 1, sizeof *s->begin);
    s->end = err_calloc((size_t)L + 1, sizeof *s->end);
    s->start_layer = err_calloc((size_t)L + 1, sizeof *s->start_layer);
    s->req = err_calloc((size_t)L + 1, sizeof *s->req);
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
}

void gsync_free(gsync_t *s)
{
    free(s->begin);
    free(s->end);
    free(s->start_layer);
    free(s->req);
}

static void launch(gsync_t *s, int b)
{
    CHECK_RC(MPI_Iallreduce(MPI_IN_PLACE, s->grads + s->begin[b], (int)(s->end[b] - s->begin[b]), MPI_FLOAT, MPI_SUM, s->comm,
                            &s->req[b]),
             dist_strerror);
    s->launched++;
}

void gsync_arm(gsync_t *s, gpt_t *m)
{
    s->launched = 0;
    if (!s->overlap) return;
    m->on_block_done = gsync_block_done;
    m->hook_ctx = s;
}

void gsync_block_done(void *ctx, int layer)
{
    gsync_t *s = ctx;
    if (s->launched < s->n_buckets && s->start_layer[s->launched] == layer) launch(s, s->launched);
    /* Open MPI advances non-blocking collectives only inside MPI calls: poke it while backward runs */
    int done;
    if (s->launched) CHECK_RC(MPI_Testall(s->launched, s->req, &done, MPI_STATUSES_IGNORE), dist_strerror);
}

void gsync_finish(gsync_t *s, gpt_t *m)
{
    m->on_block_done = NULL;
    m->hook_ctx = NULL;
    double t0 = MPI_Wtime();
    if (s->overlap) {
        while (s->launched < s->n_buckets) launch(s, s->launched);
        CHECK_RC(MPI_Waitall(s->n_buckets, s->req, MPI_STATUSES_IGNORE), dist_strerror);
    } else {
        CHECK_RC(MPI_Allreduce(MPI_IN_PLACE, s->grads, (int)s->n, MPI_FLOAT, MPI_SUM, s->comm), dist_strerror);
    }
    s->wait_s += MPI_Wtime() - t0;
}
