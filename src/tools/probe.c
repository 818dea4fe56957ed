/* il-probe: measure models without training them. The trace's probe set runs over checkpoints (imported
 * ones, or a training run's) and each model gets a run directory that il-aggregate reads like a trained
 * run's (run/probing.h). */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/config.h"
#include "core/dist.h"
#include "core/err.h"
#include "run/probing.h"

#define TOOL "il-probe" /* begins every line it says */

static const char usage[] =
    "usage: il-probe (--ckpt CKPT ... | --run RUNDIR ...) --data SHARD --out DIR [--name NAME] [--windows W]\n"
    "                [--groups G] [--seed S] [--set trace.KEY=V ...]\n"
    "  --ckpt CKPT   a checkpoint (an imported one, or runs/NAME/ckpt/step_N): the run DIR/<CKPT's name>\n"
    "                with one record, of its step (repeatable: one run each)\n"
    "  --run RUNDIR  every complete checkpoint of a training run: the run DIR/<RUNDIR's name> with one\n"
    "                record per checkpoint (repeatable)\n"
    "  --data SHARD  the probe windows' shard or shard manifest, of the checkpoints' tokenizer; its unigram\n"
    "                counts (beside it, or data.counts_path) give the frequency buckets\n"
    "  --out DIR     where the run directories go; none of them may exist yet (but as il-step.sh made it,\n"
    "                holding only its exit_code: il-sweep's probe sweeps)\n"
    "  --name NAME   the run directory DIR/NAME, in place of the checkpoint's or run's name (one --ckpt or --run)\n"
    "  --windows W, --groups G, --seed S: trace.probe_windows, trace.probe_groups, train.seed\n"
    "  --set K=V     override one key (repeatable) of the checkpoint's config (defaults for an imported one)\n"
    "  -h, --help    print this and exit; --version: print the version and commit and exit\n"
    "  Run it under mpirun: the probe groups are dealt over the ranks as il-train's trace step deals them.\n";

static int fail(const char *msg) { return dist_exit(TOOL, IL_EXIT_INPUT, msg); }

enum { OPT_CKPT = CLI_OPT_FIRST, OPT_RUN, OPT_DATA, OPT_OUT, OPT_NAME, OPT_WINDOWS, OPT_GROUPS, OPT_SEED, OPT_SET };

static const struct option options[] = {
    {"ckpt", required_argument, NULL, OPT_CKPT},
    {"run", required_argument, NULL, OPT_RUN},
    {"data", required_argument, NULL, OPT_DATA},
    {"out", required_argument, NULL, OPT_OUT},
    {"name", required_argument, NULL, OPT_NAME},
    {"windows", required_argument, NULL, OPT_WINDOWS},
    {"groups", required_argument, NULL, OPT_GROUPS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"set", required_argument, NULL, OPT_SET},
    CLI_COMMON_OPTIONS,
    {0},
};

/* The run directory's name: --name, else the last component of path. */
static const char *name_of(const char *given, const char *path, char *buf, size_t n)
{
    snprintf(buf, n, "%s", given ? given : path);
    return given ? buf : basename(buf);
}

int main(int argc, char **argv)
{
    dist_t dist;
    if (dist_init(&dist, &argc, &argv)) return fail(err_msg());
    /* every source and --set in argument order: each is one of argc's words at most */
    const char **ckpts = err_calloc((size_t)argc, sizeof *ckpts), **runs = err_calloc((size_t)argc, sizeof *runs);
    char **sets = err_calloc((size_t)argc, sizeof *sets);
    int n_ckpts = 0, n_runs = 0, n_sets = 0;
    probing_opts_t o = {0};
    const char *run_name = NULL;
    cli_t cli;
    cli_init(&cli, TOOL, usage, options, dist.rank != 0);
    static const char *const keys[] = {"trace.probe_windows", "trace.probe_groups", "train.seed"};
    for (int opt; (opt = cli_next(&cli, argc, argv)) != CLI_END;) {
        switch (opt) {
        case OPT_CKPT: ckpts[n_ckpts++] = cli.arg; break;
        case OPT_RUN: runs[n_runs++] = cli.arg; break;
        case OPT_DATA: o.data = cli.arg; break;
        case OPT_OUT: o.out = cli.arg; break;
        case OPT_NAME: run_name = cli.arg; break;
        case OPT_WINDOWS:
        case OPT_GROUPS:
        case OPT_SEED: { /* checked by config_set, naming the key */
            size_t n = strlen(keys[opt - OPT_WINDOWS]) + strlen(cli.arg) + 2;
            sets[n_sets] = err_calloc(n, 1);
            snprintf(sets[n_sets++], n, "%s=%s", keys[opt - OPT_WINDOWS], cli.arg);
            break;
        }
        case OPT_SET: sets[n_sets++] = err_strdup(cli.arg); break;
        default: return dist_exit(TOOL, cli.exit_code, NULL); /* CLI_EXIT: said already */
        }
    }
    if (cli_no_operands(&cli, argc, argv)) return dist_exit(TOOL, IL_EXIT_INPUT, NULL);
    /* a bad key or value is refused before any checkpoint is read */
    config_t check;
    config_defaults(&check);
    int rc = 0;
    for (int i = 0; !rc && i < n_sets; i++) rc = config_set(&check, sets[i]);
    /* a usage error: what is missing, said with the usage hint, after the arguments are freed */
    const char *usage_error = !o.data || !o.out || n_ckpts + n_runs == 0
                                  ? "give --data, --out and at least one --ckpt or --run"
                              : run_name && n_ckpts + n_runs > 1
                                  ? "--name names one run directory: give one --ckpt or --run with it"
                                  : NULL;
    int usage_code = 0;
    if (!rc && usage_error) {
        usage_code = cli_fail(&cli, "%s", usage_error);
        rc = -1;
    }
    if (!rc && run_name && !config_run_name_ok(run_name))
        rc = err_set("--name: '%s': use letters, digits, '.', '_' or '-' (not . or ..)", run_name);
    o.sets = (const char *const *)sets;
    o.n_sets = n_sets;
    char name[4096];
    for (int i = 0; !rc && i < n_ckpts; i++)
        rc = probing_run(&o, name_of(run_name, ckpts[i], name, sizeof name), (char *const *)&ckpts[i], 1, argc, argv);
    for (int i = 0; !rc && i < n_runs; i++) {
        char **paths;
        int n;
        rc = dist_agree(probing_run_ckpts(runs[i], &paths, &n));
        if (!rc) rc = probing_run(&o, name_of(run_name, runs[i], name, sizeof name), paths, n, argc, argv);
        for (int k = 0; k < n; k++) free(paths[k]);
        free(paths);
    }
    for (int i = 0; i < n_sets; i++) free(sets[i]);
    free(sets);
    free(ckpts);
    free(runs);
    if (usage_code) return dist_exit(TOOL, usage_code, NULL);
    return rc ? fail(err_msg()) : dist_exit(TOOL, IL_EXIT_OK, NULL);
}
