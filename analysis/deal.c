#include "analysis/deal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/dist.h"
#include "core/err.h"
#include "analysis/message.h"
#include "analysis/runcache.h"

enum { TAG_RUN = 1 };
/* MPI counts are int: a large message goes in pieces of at most this many bytes */
static const size_t piece = (size_t)1 << 30;

static int rank_of(void)
{
    int r;
    CHECK_RC(MPI_Comm_rank(MPI_COMM_WORLD, &r), dist_strerror);
    return r;
}

enum { BCAST, SEND, RECV };

/* n bytes at b in pieces that MPI's int counts can hold: broadcast from rank 0, sent to rank 0, or received
 * from rank `from`. */
static void move(int how, int from, void *b, size_t n)
{
    for (size_t off = 0; off < n; off += piece) {
        int k = (int)(n - off < piece ? n - off : piece);
        char *at = (char *)b + off;
        int rc = how == BCAST ? MPI_Bcast(at, k, MPI_BYTE, 0, MPI_COMM_WORLD)
                 : how == SEND ? MPI_Send(at, k, MPI_BYTE, 0, TAG_RUN, MPI_COMM_WORLD)
                               : MPI_Recv(at, k, MPI_BYTE, from, TAG_RUN, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        CHECK_RC(rc, dist_strerror);
    }
}

void deal_list(runlist_t *l)
{
    int root = rank_of() == 0;
    uint64_t len[2] = {(uint64_t)l->n, 0}; /* runs, bytes of their NUL-terminated names */
    for (int i = 0; root && i < l->n; i++) len[1] += strlen(l->dir[i]) + 1;
    move(BCAST, 0, len, sizeof len);
    char *names = err_calloc((size_t)len[1], 1), *at = names;
    for (int i = 0; root && i < l->n; i++) at = stpcpy(at, l->dir[i]) + 1;
    move(BCAST, 0, names, (size_t)len[1]);
    if (!root) {
        l->n = l->cap = (int)len[0];
        l->dir = err_calloc((size_t)l->n, sizeof *l->dir);
        for (int i = 0; i < l->n; i++, at += strlen(at) + 1) {
            l->dir[i] = err_calloc(strlen(at) + 1, 1);
            strcpy(l->dir[i], at);
        }
    }
    free(names);
}

/* One run's result to rank 0: its size, synchronously (rank 0 has then reached this run), then its bytes. */
static void send(const onerun_t *p)
{
    message_t w = {0};
    message_pack(&w, p);
    uint64_t n = w.n;
    CHECK_RC(MPI_Ssend(&n, 1, MPI_UINT64_T, 0, TAG_RUN, MPI_COMM_WORLD), dist_strerror);
    move(SEND, 0, w.b, w.n);
    message_free(&w);
}

static void receive(int from, onerun_t *p)
{
    uint64_t n;
    CHECK_RC(MPI_Recv(&n, 1, MPI_UINT64_T, from, TAG_RUN, MPI_COMM_WORLD, MPI_STATUS_IGNORE), dist_strerror);
    unsigned char *b = err_calloc((size_t)n, 1);
    move(RECV, from, b, (size_t)n);
    message_unpack(p, b, (size_t)n);
    free(b);
}

void deal_runs(const runlist_t *l, deal_take_fn take, void *user)
{
    int rank = rank_of(), size;
    CHECK_RC(MPI_Comm_size(MPI_COMM_WORLD, &size), dist_strerror);
    for (int i = 0; i < l->n; i++) {
        int owner = i % size;
        if (rank != owner && rank != 0) continue;
        onerun_t p;
        if (owner == rank) runcache_process(&p, l->dir[i]);
        else receive(owner, &p);
        if (rank == 0) take(user, i, &p);
        else send(&p);
        onerun_free(&p);
    }
}
