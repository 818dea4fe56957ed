#include "sweep/slurm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/err.h"

int slurm_capture(char *const argv[], char *out, size_t n, int quiet)
{
    int fd[2];
    if (pipe(fd)) return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fd[1], STDOUT_FILENO);
        if (quiet == SLURM_STDERR_TOO) dup2(fd[1], STDERR_FILENO);
        close(fd[0]);
        close(fd[1]);
        if (quiet == 1) {
            int null = open("/dev/null", O_WRONLY);
            if (null >= 0) dup2(null, STDERR_FILENO);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fd[1]);
    size_t used = 0;
    for (ssize_t got; (got = read(fd[0], out + used, n - 1 - used)) != 0;) {
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) break;
        used += (size_t)got;
        if (used == n - 1) { /* drain, keeping what fits */
            char sink[4096];
            while (read(fd[0], sink, sizeof sink) > 0) continue;
            break;
        }
    }
    out[used] = '\0';
    close(fd[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 127) return -1;
    return WEXITSTATUS(status);
}

int slurm_max_array_size(int *from_cluster)
{
    static char out[1 << 16];
    char *argv[] = {"scontrol", "show", "config", NULL};
    *from_cluster = 0;
    if (slurm_capture(argv, out, sizeof out, 1) != 0) return 1001; /* Slurm's default */
    const char *p = strstr(out, "MaxArraySize");
    int v;
    if (!p || sscanf(p, "MaxArraySize = %d", &v) != 1 || v < 1) return 1001;
    *from_cluster = 1;
    return v;
}

int slurm_sbatch(const argv_t *a, int dry, const char *placeholder, char *job, size_t n)
{
    if (dry) {
        argv_print(a);
        snprintf(job, n, "%s", placeholder);
        return 0;
    }
    char out[64];
    int rc = slurm_capture(a->v, out, sizeof out, 0);
    if (rc != 0) return err_set("sbatch %s", rc < 0 ? "could not be run (is Slurm installed and on PATH?)" : "failed");
    out[strcspn(out, ";\n")] = '\0';
    char *end;
    if (!*out || (strtol(out, &end, 10), *end)) return err_set("sbatch printed '%s', not a job id", out);
    snprintf(job, n, "%s", out);
    return 0;
}

int slurm_chunks(const int *idx, int n, int max_array, slurm_chunk_t **chunks)
{
    slurm_chunk_t *c = NULL;
    int nc = 0;
    for (int i = 0; i < n;) {
        c = realloc(c, (size_t)(nc + 1) * sizeof *c);
        CHECK(c, "out of memory");
        slurm_chunk_t *ch = &c[nc++];
        ch->offset = idx[i] / max_array * max_array;
        size_t len = 0;
        ch->spec[0] = '\0';
        /* consecutive ids within this chunk become one range "a-b" */
        while (i < n && idx[i] < ch->offset + max_array) {
            int j = i;
            while (j + 1 < n && idx[j + 1] == idx[j] + 1 && idx[j + 1] < ch->offset + max_array) j++;
            int a = idx[i] - ch->offset, b = idx[j] - ch->offset;
            len += (size_t)(a == b ? snprintf(ch->spec + len, sizeof ch->spec - len, "%s%d", len ? "," : "", a)
                                   : snprintf(ch->spec + len, sizeof ch->spec - len, "%s%d-%d", len ? "," : "", a, b));
            if (len >= sizeof ch->spec) {
                int offset = ch->offset;
                free(c);
                return err_set("array of run indices from %d is too long for one sbatch --array", offset);
            }
            i = j + 1;
        }
    }
    *chunks = c;
    return nc;
}

int slurm_parse_ids(const char *spec, int *ids, int max)
{
    int n = 0;
    const char *p = spec;
    while (*p) {
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (end == p || a < 0) return -1;
        p = end;
        if (*p == '-') {
            b = strtol(p + 1, &end, 10);
            if (end == p + 1 || b < a) return -1;
            p = end;
        }
        for (long v = a; v <= b; v++) {
            if (n == max) return -1;
            ids[n++] = (int)v;
        }
        if (*p == ',') p++;
        else if (*p) return -1;
    }
    return n;
}
