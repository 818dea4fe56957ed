/* dist: the MPI world the trainer runs in. One process started without a launcher is a world of one.
 *
 * Every MPI, NetCDF and BLACS/ScaLAPACK return code goes through CHECK_RC (err.h) with the library's
 * describer (dist_strerror for MPI), so a failure names the call, the source line and the library's
 * message, and err_fatal then ends every rank through MPI_Abort instead of leaving the others hanging. */
#ifndef IL_DIST_H
#define IL_DIST_H

#include <mpi.h>

typedef struct {
    int rank, size;
} dist_t;

/* MPI_Init_thread (asking for MPI_THREAD_SERIALIZED, gsync.h), and points err_fatal's abort hook at MPI_Abort. Under Slurm, fails (err_set) when the world
 * is smaller than SLURM_NTASKS: the launcher then started separate one-rank jobs. */
int dist_init(dist_t *d, int *argc, char ***argv);
/* Collective: every rank passes its own result (0, or a negative code with err_set). Returns 0 when all
 * succeeded; otherwise the code of the lowest failing rank on every rank, with err_msg() set everywhere to
 * that rank's message, so rank 0 can report the one line that matters. */
int dist_agree(int rc);
void dist_finalize(void);
/* A tool's way out: ends this process's MPI and returns code, for main to return. msg (if any) is said once,
 * by rank 0, as "TOOL: MSG": every rank reaches the same verdict (dist_agree). */
int dist_exit(const char *tool, int code, const char *msg);
/* Collective: the bytes of memory this rank may use, the node's budget shared out over the ranks on the
 * node. The budget is the physical memory, lowered by a cgroup limit or Slurm's --mem when they are
 * smaller; `how` receives it in words for messages ("23.4 GB of physical memory on this node over 2 ranks"). */
double dist_memory_share(char *how, size_t n);
const char *dist_strerror(int mpi_rc);

#endif
