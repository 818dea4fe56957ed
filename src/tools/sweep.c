/* il-sweep: runs a sweep spec as Slurm job arrays, and reports on it (docs/sweeps.md).
 *   il-sweep submit SPEC [--dry-run | --local] [--out DIR]
 *   il-sweep status DIR [--state LIST] [--format table|json]
 *   il-sweep resubmit DIR --failed [--dry-run]
 *   il-sweep summary DIR
 *   il-sweep cancel DIR [--dry-run]
 * Each command reads its own options (`il-sweep COMMAND --help`). The work is the sweep library's
 * (sweep/): this main only reads the command line. */
#include <stdio.h>
#include <string.h>

#include "core/cli.h"
#include "core/err.h"
#include "sweep/cancel.h"
#include "sweep/status.h"
#include "sweep/submit.h"

static const char usage_main[] =
    "usage: il-sweep submit SPEC [--dry-run | --local] [--out DIR]\n"
    "       il-sweep status DIR [--state LIST] [--format table|json]\n"
    "       il-sweep resubmit DIR --failed [--dry-run]\n"
    "       il-sweep summary DIR\n"
    "       il-sweep cancel DIR [--dry-run]\n"
    "  submit     expand SPEC into DIR (default sweeps/<name>), submit its unfinished runs as job\n"
    "             arrays and an aggregation job after them; --dry-run prints what it would submit;\n"
    "             --local runs them here instead, one after another with mpirun, then summary\n"
    "  status     table of runs: new, pending, running, requeued, done, failed, preempted; steps,\n"
    "             losses, speed, time, node, exit code and attempt of each\n"
    "  resubmit   submit the failed and preempted runs again (done runs never rerun)\n"
    "  summary    write DIR/summary.tsv and DIR/summary.md (the aggregation job runs this)\n"
    "  cancel     scancel the sweep's array and aggregation jobs recorded in DIR/jobs.tsv\n"
    "  il-sweep COMMAND --help describes a command; il-sweep --version prints the version\n"
    "exit codes: 0 done, 1 a Slurm command failed, 2 bad command line, spec or sweep directory\n";

static const char usage_submit[] =
    "usage: il-sweep submit SPEC [--dry-run | --local] [--out DIR]\n"
    "  expands the sweep spec SPEC into DIR (default sweeps/<name>) and submits its unfinished runs as Slurm\n"
    "  job arrays, with an aggregation job after them\n"
    "  --out DIR    the sweep directory\n"
    "  --dry-run    print the sbatch command lines instead of submitting\n"
    "  --local      run the runs here, one after another with mpirun, then write the summary\n"
    "  -h, --help   this text\n";

static const char usage_status[] =
    "usage: il-sweep status DIR [--state LIST] [--format table|json]\n"
    "  prints the sweep's runs: index, run, state, Slurm task, step/max_steps, train and validation loss,\n"
    "  tokens/s, time used/time limit, node, exit code, attempt, and what Slurm says ('-': not known)\n"
    "  --state LIST      only the runs in these states, comma-separated: new, pending, running, requeued,\n"
    "                    done, failed, preempted\n"
    "  --format FORMAT   table (default) or json: an array of one object per run, null where not known\n"
    "  -h, --help        this text\n";

static const char usage_resubmit[] =
    "usage: il-sweep resubmit DIR --failed [--dry-run]\n"
    "  submits the failed and preempted runs of the sweep in DIR again; done runs never rerun\n"
    "  --failed     required: what to resubmit\n"
    "  --dry-run    print the sbatch command lines instead of submitting\n"
    "  -h, --help   this text\n";

static const char usage_cancel[] =
    "usage: il-sweep cancel DIR [--dry-run]\n"
    "  cancels (scancel) the sweep's jobs recorded in DIR/jobs.tsv that are still queued: its job arrays and\n"
    "  its aggregation job, the latest first\n"
    "  --dry-run    print what would be cancelled, cancel nothing\n"
    "  -h, --help   this text\n";

static const char usage_summary[] =
    "usage: il-sweep summary DIR\n"
    "  writes DIR/summary.tsv and DIR/summary.md (the aggregation job runs this)\n"
    "  -h, --help   this text\n";

enum { OPT_DRY = CLI_OPT_FIRST, OPT_LOCAL, OPT_OUT, OPT_FAILED, OPT_STATE, OPT_FORMAT };

/* The one operand a command takes, after its options; NULL after saying why. */
static const char *operand(const cli_t *cli, int argc, char **argv, const char *what)
{
    if (cli->rest == argc) {
        cli_fail(cli, "no %s given", what);
        return NULL;
    }
    if (cli->rest + 1 < argc) {
        cli_fail(cli, "unexpected argument '%s'", argv[cli->rest + 1]);
        return NULL;
    }
    return argv[cli->rest];
}

int main(int argc, char **argv)
{
    static const struct option top[] = {CLI_COMMON_OPTIONS, {0}};
    static const struct option submit_opts[] = {{"dry-run", no_argument, NULL, OPT_DRY},
                                                {"local", no_argument, NULL, OPT_LOCAL},
                                                {"out", required_argument, NULL, OPT_OUT}, CLI_COMMON_OPTIONS, {0}};
    static const struct option resubmit_opts[] = {{"dry-run", no_argument, NULL, OPT_DRY},
                                                  {"failed", no_argument, NULL, OPT_FAILED}, CLI_COMMON_OPTIONS, {0}};
    static const struct option status_opts[] = {{"state", required_argument, NULL, OPT_STATE},
                                                {"format", required_argument, NULL, OPT_FORMAT}, CLI_COMMON_OPTIONS, {0}};
    static const struct option cancel_opts[] = {{"dry-run", no_argument, NULL, OPT_DRY}, CLI_COMMON_OPTIONS, {0}};
    cli_t cli;
    if (argc < 2 || argv[1][0] == '-') {
        cli_init(&cli, "il-sweep", usage_main, top, 0);
        int o = cli_next(&cli, argc, argv);
        if (o != CLI_END) return cli.exit_code; /* --help, --version or a mistake, said */
        cli_usage(&cli, stderr);
        return IL_EXIT_INPUT;
    }
    const char *cmd = argv[1];
    char tool[64];
    snprintf(tool, sizeof tool, "il-sweep %.20s", cmd);
    /* the command's own command line: its name in place of the program's */
    int sub_argc = argc - 1;
    char **sub_argv = argv + 1;
    if (!strcmp(cmd, "submit")) {
        const char *out = NULL;
        int dry = 0, local = 0;
        cli_init(&cli, tool, usage_submit, submit_opts, 0);
        for (int o; (o = cli_next(&cli, sub_argc, sub_argv)) != CLI_END;) {
            if (o == OPT_DRY) dry = 1;
            else if (o == OPT_LOCAL) local = 1;
            else if (o == OPT_OUT) out = cli.arg;
            else return cli.exit_code;
        }
        const char *spec = operand(&cli, sub_argc, sub_argv, "SPEC");
        if (!spec) return IL_EXIT_INPUT;
        if (dry && local) return cli_fail(&cli, "--dry-run and --local exclude each other");
        return submit_spec(spec, out, dry, local);
    }
    if (!strcmp(cmd, "resubmit")) {
        int dry = 0, failed = 0;
        cli_init(&cli, tool, usage_resubmit, resubmit_opts, 0);
        for (int o; (o = cli_next(&cli, sub_argc, sub_argv)) != CLI_END;) {
            if (o == OPT_DRY) dry = 1;
            else if (o == OPT_FAILED) failed = 1;
            else return cli.exit_code;
        }
        const char *dir = operand(&cli, sub_argc, sub_argv, "DIR");
        if (!dir) return IL_EXIT_INPUT;
        if (!failed) return cli_fail(&cli, "say what to resubmit: --failed");
        return submit_failed(dir, dry);
    }
    if (!strcmp(cmd, "status")) {
        static const char *const formats[] = {"table", "json"}; /* STATUS_TABLE, STATUS_JSON */
        unsigned want = ~0u;
        int format = STATUS_TABLE;
        char bad[64];
        cli_init(&cli, tool, usage_status, status_opts, 0);
        for (int o; (o = cli_next(&cli, sub_argc, sub_argv)) != CLI_END;) {
            if (o == OPT_STATE && status_parse_states(cli.arg, &want, bad, sizeof bad))
                return cli_fail(&cli, "--state: unknown state '%s'", bad);
            else if (o == OPT_FORMAT && cli_choice(&cli, formats, 2, &format)) return IL_EXIT_INPUT;
            else if (o != OPT_STATE && o != OPT_FORMAT) return cli.exit_code;
        }
        const char *dir = operand(&cli, sub_argc, sub_argv, "DIR");
        if (!dir) return IL_EXIT_INPUT;
        return status_print(dir, want, format);
    }
    if (!strcmp(cmd, "summary")) {
        cli_init(&cli, tool, usage_summary, top, 0);
        if (cli_next(&cli, sub_argc, sub_argv) != CLI_END) return cli.exit_code;
        const char *dir = operand(&cli, sub_argc, sub_argv, "DIR");
        if (!dir) return IL_EXIT_INPUT;
        return status_summary(dir);
    }
    if (!strcmp(cmd, "cancel")) {
        int dry = 0;
        cli_init(&cli, tool, usage_cancel, cancel_opts, 0);
        for (int o; (o = cli_next(&cli, sub_argc, sub_argv)) != CLI_END;) {
            if (o == OPT_DRY) dry = 1;
            else return cli.exit_code;
        }
        const char *dir = operand(&cli, sub_argc, sub_argv, "DIR");
        if (!dir) return IL_EXIT_INPUT;
        return cancel_sweep(dir, dry);
    }
    cli_init(&cli, "il-sweep", usage_main, top, 0);
    return cli_fail(&cli, "unknown command '%s'", cmd);
}
