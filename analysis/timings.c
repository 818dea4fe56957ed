#include "analysis/timings.h"

#include <stdio.h>

#include "analysis/runcache.h"
#include "core/clock.h"
#include "core/dist.h"
#include "core/err.h"

static double spent[TM_N];

double timings_lap(int phase, double since)
{
    double now = clock_seconds();
    spent[phase] += now - since;
    return now;
}

void timings_report(double total)
{
    int rank, size;
    CHECK_RC(MPI_Comm_rank(MPI_COMM_WORLD, &rank), dist_strerror);
    CHECK_RC(MPI_Comm_size(MPI_COMM_WORLD, &size), dist_strerror);
    double sum[TM_N];
    CHECK_RC(MPI_Reduce(spent, sum, TM_N, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD), dist_strerror);
    runcache_counts_t c = runcache_counts(), all;
    CHECK_RC(MPI_Reduce(c.n, all.n, RC_N, MPI_LONG, MPI_SUM, 0, MPI_COMM_WORLD), dist_strerror);
    if (rank) return;
    printf("il-aggregate: timings: reading %.2f s, reducing %.2f s, run caches %.2f s (summed over %d rank%s); "
           "writing tables and summary.nc %.2f s, figures %.2f s; %.2f s in all; runs: %ld read, %ld from their "
           "caches, %ld caches written\n",
           sum[TM_READ], sum[TM_REDUCE], sum[TM_CACHE], size, size == 1 ? "" : "s", sum[TM_WRITE], sum[TM_FIGURES],
           total, all.n[RC_READ], all.n[RC_HIT], all.n[RC_WRITTEN]);
}
