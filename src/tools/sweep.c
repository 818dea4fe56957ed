/* il-sweep: runs a sweep spec as Slurm job arrays, and reports on it (docs/sweeps.md).
 *   il-sweep submit SPEC [--dry-run] [--out DIR]
 *   il-sweep status DIR
 *   il-sweep resubmit DIR --failed [--dry-run]
 *   il-sweep summary DIR
 * The work is the sweep library's (sweep/): this main only reads the command line. */
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "sweep/status.h"
#include "sweep/submit.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: il-sweep submit SPEC [--dry-run | --local] [--out DIR]\n"
               "       il-sweep status DIR\n"
               "       il-sweep resubmit DIR --failed [--dry-run]\n"
               "       il-sweep summary DIR\n"
               "  submit     expand SPEC into DIR (default sweeps/<name>), submit its unfinished runs as job\n"
               "             arrays and an aggregation job after them; --dry-run prints what it would submit;\n"
               "             --local runs them here instead, one after another with mpirun, then summary\n"
               "  status     table of runs: new, pending, running, requeued, done, failed, preempted\n"
               "  resubmit   submit the failed and preempted runs again (done runs never rerun)\n"
               "  summary    write DIR/summary.tsv and DIR/summary.md (the aggregation job runs this)\n"
               "exit codes: 0 done, 1 a Slurm command failed, 2 bad command line, spec or sweep directory\n");
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "", *target = NULL, *out = NULL;
    int dry = 0, failed = 0, local = 0;
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return IL_EXIT_OK;
    }
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--dry-run")) dry = 1;
        else if (!strcmp(argv[i], "--failed")) failed = 1;
        else if (!strcmp(argv[i], "--local")) local = 1;
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (argv[i][0] != '-' && !target) target = argv[i];
        else {
            fprintf(stderr, "il-sweep: unknown or incomplete argument '%s'\n", argv[i]);
            return IL_EXIT_INPUT;
        }
    }
    int submit = !strcmp(cmd, "submit"), resubmit = !strcmp(cmd, "resubmit");
    int report = !strcmp(cmd, "status") || !strcmp(cmd, "summary");
    if (!target || !(submit || resubmit || report) || (out && !submit) || (dry && report) ||
        (failed != resubmit) || (local && (!submit || dry))) {
        fprintf(stderr, "il-sweep: expected submit SPEC [--dry-run | --local] [--out DIR], status DIR, "
                        "resubmit DIR --failed [--dry-run] or summary DIR (il-sweep --help)\n");
        return IL_EXIT_INPUT;
    }
    if (submit) return submit_spec(target, out, dry, local);
    if (resubmit) return submit_failed(target, dry);
    return !strcmp(cmd, "status") ? status_print(target) : status_summary(target);
}
