#include "core/dist.h"

#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"

static void abort_all(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

const char *dist_strerror(int mpi_rc)
{
    static _Thread_local char buf[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(mpi_rc, buf, &len) != MPI_SUCCESS) snprintf(buf, sizeof buf, "MPI error %d", mpi_rc);
    return buf;
}

int dist_init(dist_t *d, int *argc, char ***argv)
{
    /* gsync's communication thread calls MPI while this thread computes, never at the same time as it:
     * SERIALIZED is enough, and a library that gives less makes gsync reduce after backward instead */
    int provided;
    CHECK_RC(MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided), dist_strerror);
    /* errors come back as codes, so CHECK_RC can report them with file and line */
    CHECK_RC(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), dist_strerror);
    err_set_abort_hook(abort_all);
    CHECK_RC(MPI_Comm_rank(MPI_COMM_WORLD, &d->rank), dist_strerror);
    CHECK_RC(MPI_Comm_size(MPI_COMM_WORLD, &d->size), dist_strerror);
    /* Only inside a job step (the batch script itself sees SLURM_NTASKS too), and only a world smaller than
     * the step: mpirun may start its ranks through a step of one daemon per node, a world larger than that. */
    const char *ntasks = getenv("SLURM_STEP_NUM_TASKS"), *step = getenv("SLURM_STEP_ID");
    if (!ntasks) ntasks = getenv("SLURM_NTASKS");
    if (ntasks && step && d->size < atoi(ntasks))
        return err_set("Slurm started %s tasks but each sees an MPI world of %d: the launcher started separate "
                       "one-rank jobs; launch with `srun --mpi=pmix` (or mpirun) so the ranks form one world",
                       ntasks, d->size);
    return 0;
}

int dist_agree(int rc)
{
    int rank, first;
    CHECK_RC(MPI_Comm_rank(MPI_COMM_WORLD, &rank), dist_strerror);
    /* the lowest failing rank tells everyone what went wrong */
    int mine = rc ? rank : INT_MAX;
    CHECK_RC(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), dist_strerror);
    if (first == INT_MAX) return 0;
    struct {
        int rc;
        char msg[1024];
    } said = {rc, ""};
    snprintf(said.msg, sizeof said.msg, "%s", err_msg());
    CHECK_RC(MPI_Bcast(&said, sizeof said, MPI_BYTE, first, MPI_COMM_WORLD), dist_strerror);
    if (first == 0) err_set("%s", said.msg);
    else err_set("rank %d: %s", first, said.msg);
    return said.rc;
}

void dist_finalize(void) { CHECK_RC(MPI_Finalize(), dist_strerror); }

int dist_exit(const char *tool, int code, const char *msg)
{
    int rank;
    CHECK_RC(MPI_Comm_rank(MPI_COMM_WORLD, &rank), dist_strerror);
    if (msg && rank == 0) {
        fprintf(stderr, "%s: %s\n", tool, msg);
        fflush(stderr);
    }
    dist_finalize();
    return code;
}

/* A limit in bytes from the first number in a file ("max" or anything unreadable: none). */
static double file_limit(const char *path)
{
    FILE *f = fopen(path, "r");
    double v = 0;
    if (f) {
        if (fscanf(f, "%lf", &v) != 1) v = 0;
        fclose(f);
    }
    return v;
}

double dist_memory_share(char *how, size_t n)
{
    double budget = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    const char *what = "physical memory";
    /* cgroup v2, then v1; an unlimited v1 group reports a number larger than any machine */
    const double cg[] = {file_limit("/sys/fs/cgroup/memory.max"), file_limit("/sys/fs/cgroup/memory/memory.limit_in_bytes")};
    for (int i = 0; i < 2; i++)
        if (cg[i] > 0 && cg[i] < budget) budget = cg[i], what = "the cgroup memory limit";
    const char *slurm = getenv("SLURM_MEM_PER_NODE");
    if (slurm && atof(slurm) > 0 && atof(slurm) * 1048576.0 < budget)
        budget = atof(slurm) * 1048576.0, what = "Slurm's --mem";
    MPI_Comm node;
    int local;
    CHECK_RC(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node), dist_strerror);
    CHECK_RC(MPI_Comm_size(node, &local), dist_strerror);
    CHECK_RC(MPI_Comm_free(&node), dist_strerror);
    snprintf(how, n, "%.1f GB of %s on this node over %d rank%s", budget / 1e9, what, local, local == 1 ? "" : "s");
    return budget / local;
}
