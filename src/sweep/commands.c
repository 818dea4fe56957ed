#include "sweep/commands.h"

#include <string.h>

#include "sweep/cancel.h"
#include "sweep/status.h"
#include "sweep/submit.h"
#include "sweep/watch.h"

const char commands_usage[] =
    "usage: il-sweep submit SPEC [--dry-run | --local] [--out DIR]\n"
    "       il-sweep status DIR [--state LIST] [--format table|json] [--watch [SECONDS]]\n"
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
    "  job arrays, with an aggregation job after them; a spec with a [probe] section runs il-probe over its\n"
    "  checkpoints instead of training (docs/sweeps.md)\n"
    "  --out DIR    the sweep directory\n"
    "  --dry-run    print the sbatch command lines instead of submitting\n"
    "  --local      run the runs here, one after another with mpirun, then write the summary\n"
    "  -h, --help   this text\n";

static const char usage_status[] =
    "usage: il-sweep status DIR [--state LIST] [--format table|json] [--watch [SECONDS]]\n"
    "  prints the sweep's runs: index, run, state, Slurm task, step/max_steps, train and validation loss,\n"
    "  tokens/s, time used/time limit, node, exit code, attempt, and what Slurm says ('-': not known)\n"
    "  --state LIST      only the runs in these states, comma-separated: new, pending, running, requeued,\n"
    "                    done, failed, preempted\n"
    "  --format FORMAT   table (default) or json: an array of one object per run, null where not known\n"
    "  --watch [SECONDS] redraw the table in place every SECONDS (default 3), fitted to the terminal, with a\n"
    "                    sparkline of each run's recent training loss; ends when every run has ended\n"
    "                    (done, failed or preempted) or on Ctrl-C\n"
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

static const char *check_submit(const commands_args_t *a)
{
    return a->dry && a->local ? "--dry-run and --local exclude each other" : NULL;
}

static const char *check_resubmit(const commands_args_t *a)
{
    return a->failed ? NULL : "say what to resubmit: --failed";
}

static int run_submit(const char *spec, const commands_args_t *a) { return submit_spec(spec, a->out, a->dry, a->local); }

static int run_resubmit(const char *dir, const commands_args_t *a) { return submit_failed(dir, a->dry); }

static const char *check_status(const commands_args_t *a)
{
    return a->watch > 0 && a->format == STATUS_JSON ? "--watch draws the table: it does not go with --format json"
                                                    : NULL;
}

static int run_status(const char *dir, const commands_args_t *a)
{
    return a->watch > 0 ? watch_sweep(dir, a->want, a->watch) : status_print(dir, a->want, a->format);
}

static int run_summary(const char *dir, const commands_args_t *a)
{
    (void)a;
    return status_summary(dir);
}

static int run_cancel(const char *dir, const commands_args_t *a) { return cancel_sweep(dir, a->dry); }

#define DRY_RUN {"dry-run", no_argument, NULL, OPT_DRY}
const struct option commands_top[] = {{"keys", no_argument, NULL, OPT_KEYS}, CLI_COMMON_OPTIONS, {0}};
static const struct option summary_opts[] = {CLI_COMMON_OPTIONS, {0}};
static const struct option submit_opts[] = {
    DRY_RUN, {"local", no_argument, NULL, OPT_LOCAL}, {"out", required_argument, NULL, OPT_OUT}, CLI_COMMON_OPTIONS, {0}};
static const struct option resubmit_opts[] = {DRY_RUN, {"failed", no_argument, NULL, OPT_FAILED}, CLI_COMMON_OPTIONS, {0}};
static const struct option status_opts[] = {{"state", required_argument, NULL, OPT_STATE},
                                            {"format", required_argument, NULL, OPT_FORMAT},
                                            {"watch", optional_argument, NULL, OPT_WATCH}, CLI_COMMON_OPTIONS, {0}};
static const struct option cancel_opts[] = {DRY_RUN, CLI_COMMON_OPTIONS, {0}};

static const commands_t commands[] = {
    {"submit", usage_submit, submit_opts, "SPEC", check_submit, run_submit},
    {"resubmit", usage_resubmit, resubmit_opts, "DIR", check_resubmit, run_resubmit},
    {"status", usage_status, status_opts, "DIR", check_status, run_status},
    {"summary", usage_summary, summary_opts, "DIR", NULL, run_summary},
    {"cancel", usage_cancel, cancel_opts, "DIR", NULL, run_cancel},
};

const commands_t *commands_find(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(name, commands[i].name)) return &commands[i];
    return NULL;
}
