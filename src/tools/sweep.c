/* il-sweep: runs a sweep spec as Slurm job arrays, and reports on it (docs/sweeps.md).
 *   il-sweep submit SPEC [--dry-run | --local] [--out DIR]
 *   il-sweep status DIR [--state LIST] [--format table|json]
 *   il-sweep resubmit DIR --failed [--dry-run]
 *   il-sweep summary DIR
 *   il-sweep cancel DIR [--dry-run]
 * Each command reads its own options (`il-sweep COMMAND --help`). The work is the sweep library's
 * (src/sweep/): this main only reads the command line. */
#include <stdio.h>
#include <string.h>

#include "core/cli.h"
#include "core/err.h"
#include "sweep/sweepdir.h"
#include "sweep/cancel.h"
#include "sweep/status.h"
#include "sweep/submit.h"
#include "sweep/spec.h"

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
    "  il-sweep COMMAND --help describes a command; il-sweep --version prints the version; il-sweep --keys\n"
    "  prints the spec's [sweep] keys as a Markdown table\n"
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

enum { OPT_DRY = CLI_OPT_FIRST, OPT_LOCAL, OPT_OUT, OPT_FAILED, OPT_STATE, OPT_FORMAT, OPT_KEYS };

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

/* A command's options, read into one place; the flags are 0 or 1. */
typedef struct {
    int dry, local, failed, format;
    unsigned want;
    const char *out;
} args_t;

/* Reads the command's options into a. 0, or -1 when the tool is to exit with cli->exit_code: after --help,
 * --version or a mistake, said. */
static int read_options(cli_t *cli, int argc, char **argv, args_t *a)
{
    static const char *const formats[] = {"table", "json"}; /* STATUS_TABLE, STATUS_JSON */
    char bad[64];
    for (int o; (o = cli_next(cli, argc, argv)) != CLI_END;) {
        switch (o) {
        case OPT_DRY: a->dry = 1; break;
        case OPT_LOCAL: a->local = 1; break;
        case OPT_OUT: a->out = cli->arg; break;
        case OPT_FAILED: a->failed = 1; break;
        case OPT_STATE:
            if (status_parse_states(cli->arg, &a->want, bad, sizeof bad)) {
                cli->exit_code = cli_fail(cli, "--state: unknown state '%s'", bad);
                return -1;
            }
            break;
        case OPT_FORMAT:
            if (cli_choice(cli, formats, 2, &a->format)) return -1;
            break;
        default: return -1;
        }
    }
    return 0;
}

/* The sweep library's verdict (0, or SWEEPDIR_EINPUT or SWEEPDIR_ERUN with err_set) as the exit code, its message
 * said a line at a time: cancel reports each job it could not cancel. */
static int outcome(int rc)
{
    if (rc == 0) return IL_EXIT_OK;
    for (const char *m = err_msg(), *end; *m; m = *end ? end + 1 : end) {
        end = m + strcspn(m, "\n");
        fprintf(stderr, "il-sweep: %.*s\n", (int)(end - m), m);
    }
    return rc == SWEEPDIR_EINPUT ? IL_EXIT_INPUT : IL_EXIT_FAIL;
}

static int run_submit(const cli_t *cli, const char *spec, const args_t *a)
{
    if (a->dry && a->local) return cli_fail(cli, "--dry-run and --local exclude each other");
    return outcome(submit_spec(spec, a->out, a->dry, a->local));
}

static int run_resubmit(const cli_t *cli, const char *dir, const args_t *a)
{
    if (!a->failed) return cli_fail(cli, "say what to resubmit: --failed");
    return outcome(submit_failed(dir, a->dry));
}

static int run_status(const cli_t *cli, const char *dir, const args_t *a)
{
    (void)cli;
    return outcome(status_print(dir, a->want, a->format));
}

static int run_summary(const cli_t *cli, const char *dir, const args_t *a)
{
    (void)cli, (void)a;
    return outcome(status_summary(dir));
}

static int run_cancel(const cli_t *cli, const char *dir, const args_t *a)
{
    (void)cli;
    return outcome(cancel_sweep(dir, a->dry));
}

#define DRY_RUN {"dry-run", no_argument, NULL, OPT_DRY}
static const struct option top[] = {{"keys", no_argument, NULL, OPT_KEYS}, CLI_COMMON_OPTIONS, {0}};
static const struct option summary_opts[] = {CLI_COMMON_OPTIONS, {0}};
static const struct option submit_opts[] = {
    DRY_RUN, {"local", no_argument, NULL, OPT_LOCAL}, {"out", required_argument, NULL, OPT_OUT}, CLI_COMMON_OPTIONS, {0}};
static const struct option resubmit_opts[] = {DRY_RUN, {"failed", no_argument, NULL, OPT_FAILED}, CLI_COMMON_OPTIONS, {0}};
static const struct option status_opts[] = {{"state", required_argument, NULL, OPT_STATE},
                                            {"format", required_argument, NULL, OPT_FORMAT}, CLI_COMMON_OPTIONS, {0}};
static const struct option cancel_opts[] = {DRY_RUN, CLI_COMMON_OPTIONS, {0}};

static const struct {
    const char *name, *usage;
    const struct option *options;
    const char *operand; /* what its one operand is, for "no SPEC given" */
    int (*run)(const cli_t *cli, const char *operand, const args_t *a);
} commands[] = {
    {"submit", usage_submit, submit_opts, "SPEC", run_submit},
    {"resubmit", usage_resubmit, resubmit_opts, "DIR", run_resubmit},
    {"status", usage_status, status_opts, "DIR", run_status},
    {"summary", usage_summary, summary_opts, "DIR", run_summary},
    {"cancel", usage_cancel, cancel_opts, "DIR", run_cancel},
};

int main(int argc, char **argv)
{
    cli_t cli;
    if (argc < 2 || argv[1][0] == '-') {
        cli_init(&cli, "il-sweep", usage_main, top, 0);
        int o = cli_next(&cli, argc, argv);
        if (o == OPT_KEYS) {
            spec_print_keys_markdown(stdout);
            return IL_EXIT_OK;
        }
        if (o != CLI_END) return cli.exit_code; /* --help, --version or a mistake, said */
        cli_usage(&cli, stderr);
        return IL_EXIT_INPUT;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        if (strcmp(argv[1], commands[i].name)) continue;
        char tool[64];
        snprintf(tool, sizeof tool, "il-sweep %s", commands[i].name);
        /* the command's own command line: its name in place of the program's */
        int sub_argc = argc - 1;
        char **sub_argv = argv + 1;
        args_t a = {.want = ~0u, .format = STATUS_TABLE};
        cli_init(&cli, tool, commands[i].usage, commands[i].options, 0);
        if (read_options(&cli, sub_argc, sub_argv, &a)) return cli.exit_code;
        const char *what = operand(&cli, sub_argc, sub_argv, commands[i].operand);
        return what ? commands[i].run(&cli, what, &a) : IL_EXIT_INPUT;
    }
    cli_init(&cli, "il-sweep", usage_main, top, 0);
    return cli_fail(&cli, "unknown command '%s'", argv[1]);
}
