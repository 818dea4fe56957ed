#include "sweep/local.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/err.h"
#include "sweep/argv.h"

/* Without Slurm: the runs one after another on this machine, each as `mpirun -n RANKS il-train --resume`
 * (il-probe's arguments for a probe sweep) under il-step.sh, which records its exit code where `status` looks for it, exactly as a task would. */
int local_run(const sweepdir_t *w, const int *idx, int n)
{
    int failed = 0;
    for (int k = 0; k < n; k++) {
        const char *name = sweepdir_run_name(w, idx[k]);
        argv_t a = {0};
        argv_add(&a, "%s/jobs/il-step.sh", w->dir);
        argv_add(&a, "%s/runs/%s/exit_code", w->dir, name);
        argv_add(&a, "mpirun");
        argv_add(&a, "-n");
        argv_add(&a, "%d", w->spec.ranks);
        argv_add(&a, "--oversubscribe");
        argv_add(&a, "%s", sweepdir_program(w));
        char log[PATH_MAX + 64];
        if (sweepdir_task_argv(w, name, &a)) {
            printf("  %s: %s\n", name, err_msg());
            argv_free(&a);
            failed++;
            continue;
        }
        snprintf(log, sizeof log, "%s/logs/local_%s.out", w->dir, name);
        printf("run %d/%d: %s on %d rank(s), log %s\n", k + 1, n, name, w->spec.ranks, log);
        fflush(stdout);
        pid_t pid = fork();
        CHECK(pid >= 0, "fork: %s", strerror(errno));
        if (pid == 0) {
            int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                dup2(fd, STDOUT_FILENO);
                dup2(fd, STDERR_FILENO);
            }
            /* the log is a file, but mpirun hands rank 0 a pseudo-terminal: ask for timestamped lines */
            setenv("IL_PROGRESS", "0", 1);
            execv(a.v[0], a.v);
            _exit(127);
        }
        argv_free(&a);
        int status;
        while (waitpid(pid, &status, 0) < 0) CHECK(errno == EINTR, "waitpid: %s", strerror(errno));
        int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (rc) {
            printf("  %s ended with exit code %d (see its log)\n", name, rc);
            failed++;
        }
    }
    return failed;
}
