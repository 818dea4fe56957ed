/* il-train: train a model from a config file. Everything happens in the library (train.c); this only
 * reads the command line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/afile.h"
#include "core/config.h"
#include "core/dist.h"
#include "core/err.h"
#include "run/train.h"
#include "trace/schema.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: il-train [--config FILE] [--set section.key=value ...] [--resume] [--print-config]\n"
               "       il-train --keys | --trace-schema\n"
               "  --config FILE    INI config; keys not given keep their defaults (il-train --keys lists them)\n"
               "  --set K=V        override one key, after the file (repeatable)\n"
               "  --resume         continue <run.out_dir>/<run.name> from its newest checkpoint\n"
               "  --print-config   print the effective config and exit\n"
               "  --keys           print the table of config keys (Markdown) and exit\n"
               "  --trace-schema   print the tables of the trace files' variables (Markdown) and exit\n"
               "Run it as one process, or as `mpirun -n P` / `srun --mpi=pmix` for P data-parallel ranks.\n"
               "SIGTERM, SIGUSR2, SIGHUP or SIGINT (Ctrl-C): finish the step, write a checkpoint, exit 75; a\n"
               "second Ctrl-C stops at once. IL_EXIT_STATUS_FILE=FILE: rank 0 writes its exit code there.\n"
               "exit codes: 0 done, 1 runtime failure (diverged, I/O), 2 bad command line, config or data,\n"
               "            75 stopped by a signal after a checkpoint: requeue and run again with --resume\n");
}

static int rank;

/* Ends the process's MPI and returns the exit code; msg (if any) is said once, by rank 0: every rank
 * reaches the same verdict (dist_agree). With IL_EXIT_STATUS_FILE set, rank 0 also writes the code there:
 * mpirun ends the job as soon as one rank exits non-zero and then reports its own failure instead of the
 * ranks' 75, and jobs/il-step.sh needs to know that the ranks stopped with a checkpoint. The barrier
 * keeps every rank alive until the file is written. */
static int finish(int code, const char *msg)
{
    if (msg && rank == 0) fprintf(stderr, "il-train: %s\n", msg);
    const char *status = getenv("IL_EXIT_STATUS_FILE");
    if (rank == 0 && status && *status) {
        afile_t af;
        if (afile_open(&af, status, AFILE_REPLACE) == 0) {
            fprintf(af.f, "%d\n", code);
            if (afile_commit(&af)) fprintf(stderr, "il-train: %s\n", err_msg());
        } else {
            fprintf(stderr, "il-train: %s\n", err_msg());
        }
    }
    CHECK_RC(MPI_Barrier(MPI_COMM_WORLD), dist_strerror);
    dist_finalize();
    return code;
}

int main(int argc, char **argv)
{
    dist_t dist;
    int rc = dist_init(&dist, &argc, &argv);
    rank = dist.rank;
    if (dist_agree(rc)) return finish(IL_EXIT_INPUT, err_msg());
    config_t cfg;
    config_defaults(&cfg);
    int resume = 0, print_config = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--config") && i + 1 < argc) {
            if (config_load(&cfg, argv[++i])) return finish(IL_EXIT_INPUT, err_msg());
        } else if (!strcmp(a, "--set") && i + 1 < argc) {
            if (config_set(&cfg, argv[++i])) return finish(IL_EXIT_INPUT, err_msg());
        } else if (!strcmp(a, "--resume")) {
            resume = 1;
        } else if (!strcmp(a, "--print-config")) {
            print_config = 1;
        } else if (!strcmp(a, "--keys")) {
            if (rank == 0) config_print_keys_markdown(stdout);
            return finish(IL_EXIT_OK, NULL);
        } else if (!strcmp(a, "--trace-schema")) {
            if (rank == 0) trace_schema_markdown(stdout);
            return finish(IL_EXIT_OK, NULL);
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            if (rank == 0) usage(stdout);
            return finish(IL_EXIT_OK, NULL);
        } else {
            if (rank == 0) usage(stderr);
            char msg[300];
            snprintf(msg, sizeof msg, "unknown or incomplete argument '%s'", a);
            return finish(IL_EXIT_INPUT, msg);
        }
    }
    if (config_validate(&cfg, dist.size)) return finish(IL_EXIT_INPUT, err_msg());
    if (print_config) {
        if (rank == 0 && config_write(&cfg, stdout)) return finish(IL_EXIT_INPUT, err_msg());
        return finish(IL_EXIT_OK, NULL);
    }
    trainer_t tr;
    if (train_open(&tr, &cfg, &dist, resume, argc, argv)) {
        train_close(&tr);
        return finish(IL_EXIT_INPUT, err_msg());
    }
    rc = train_run(&tr);
    train_close(&tr);
    if (rc == TRAIN_FAILED) return finish(IL_EXIT_FAIL, err_msg());
    return finish(rc == TRAIN_PREEMPTED ? IL_EXIT_PREEMPTED : IL_EXIT_OK, NULL);
}
