/* il-bench: training-step speed of named model configs, against this machine's SGEMM rate measured in
 * the same run (the machines are shared and noisy, so only the ratio travels). Prints the median of
 * several steps and where the time goes, kernel by kernel. The measurements are src/run/benchmark.c's; this
 * main reads the command line. */
#include <omp.h>
#include <stdio.h>

#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/dist.h"
#include "core/err.h"
#include "core/share.h"
#include "run/benchmark.h"
#include "sweep/spec.h"

#define TOOL "il-bench" /* begins every line it says */

static const char usage[] =
    "usage: il-bench [--config A|D|G] [--steps N] [--probe [--windows W]]\n"
    "                                                    training-step speed against this machine's SGEMM\n"
    "                 (G: GPT-2 small's shape, run only when named; pass --steps 1 on a small machine)\n"
    "  --probe        also time one probe pass of il-probe over the default probe set (always with G)\n"
    "  --windows W    time the probe pass over W windows only, and scale it to the default set (G's pass over\n"
    "                 64 windows of 1,024 tokens is most of an hour on 2 cores)\n"
    "       il-bench --trace [--steps N] [SPEC...]       tracing cost, as a share of training time on one rank, and\n"
    "                 trace file size, of each model of the sweep specs (default: jobs/examples/science.ini and\n"
    "                 demo-sweep.ini, the research sweep and the demo), at their [fixed] keys\n"
    "       mpirun -n P --bind-to none il-bench --scaling [--config A|D] [--steps N] [--cores N]\n"
    "                                                    ranks x threads layouts of a node (config D by default)\n"
    "  --steps N      steps timed per measurement, 1..1000 (default 20); --trace: per round, of up to 5\n"
    "  --cores N      cores of the node the layouts share, 1..4096 (default: SLURM_CPUS_ON_NODE, else the\n"
    "                 online CPUs); launch as many ranks to time every layout\n"
    "  -h, --help     print this and exit; --version: print the version and commit and exit\n";

enum { OPT_CONFIG = CLI_OPT_FIRST, OPT_STEPS, OPT_SCALING, OPT_TRACE, OPT_PROBE, OPT_CORES, OPT_WINDOWS };

static const struct option options[] = {
    {"config", required_argument, NULL, OPT_CONFIG},
    {"steps", required_argument, NULL, OPT_STEPS},
    {"scaling", no_argument, NULL, OPT_SCALING},
    {"trace", no_argument, NULL, OPT_TRACE},
    {"probe", no_argument, NULL, OPT_PROBE},
    {"cores", required_argument, NULL, OPT_CORES},
    {"windows", required_argument, NULL, OPT_WINDOWS},
    CLI_COMMON_OPTIONS,
    {0},
};

/* The vocabulary of the specs' data when a config leaves it to the shard (model.vocab_size = 0): the Brown
 * Corpus's BPE tokenizer of make corpus. */
enum { SPEC_VOCAB = 512 };

/* The trace cost of every model of a sweep spec (its runs, one per setting besides the seed), one rank each.
 * Returns 0, or -1 with err_set(). */
static int trace_spec(const char *path, int steps)
{
    spec_t s;
    spec_run_t *runs;
    int n;
    if (spec_load(&s, path, SPEC_LOAD_ALL)) return -1;
    int rc = spec_expand(&s, s.out_dir, &runs, &n);
    spec_free(&s);
    if (rc) return -1;
    static const char *const not_the_model[] = {"train.seed", "run.name", "run.out_dir", NULL};
    char **seen = err_calloc((size_t)n + 1, sizeof *seen);
    for (int i = 0; i < n; i++) {
        seen[i] = config_canonical(&runs[i].cfg, not_the_model);
        int again = 0;
        for (int j = 0; j < i && !again; j++) again = !strcmp(seen[i], seen[j]);
        if (again) continue;
        config_t c = runs[i].cfg;
        if (!c.vocab_size) c.vocab_size = SPEC_VOCAB;
        char label[4400];
        snprintf(label, sizeof label, "%s, d_model %d, n_layer %d", path, c.d_model, c.n_layer);
        benchmark_trace_cost(&c, label, steps, steps < 5 ? steps : 5, TOOL);
    }
    for (int i = 0; i < n; i++) free(seen[i]);
    free(seen);
    free(runs);
    return 0;
}

int main(int argc, char **argv)
{
    static const char *const names[] = {"A", "D", "G"}; /* of cfgs, for --config */
    static const benchmark_cfg_t cfgs[] = {
        {"A", {256, 64, 4, 4, 128}, 4},
        {"D", {512, 256, 4, 4, 256}, 8},
        {"G", {50257, 1024, 12, 12, 768}, 1}, /* GPT-2 small, micro-batch 1 */
    };
    enum { N_DEFAULT = 2 }; /* the configs run when none is named: not G, minutes a step on a few cores */
    dist_t dist;
    if (dist_init(&dist, &argc, &argv)) return dist_exit(TOOL, IL_EXIT_INPUT, err_msg());
    int steps = 20, scaling = 0, trace = 0, probe = 0, windows = 0, only = -1, cores = benchmark_node_cores();
    cli_t cli;
    cli_init(&cli, TOOL, usage, options, dist.rank != 0);
    for (int o; (o = cli_next(&cli, argc, argv)) != CLI_END;) {
        switch (o) {
        case OPT_CONFIG:
            if (cli_choice(&cli, names, 3, &only)) return dist_exit(TOOL, IL_EXIT_INPUT, NULL);
            break;
        case OPT_STEPS:
            if (cli_int(&cli, 1, 1000, &steps)) return dist_exit(TOOL, IL_EXIT_INPUT, NULL);
            break;
        case OPT_CORES:
            if (cli_int(&cli, 1, 4096, &cores)) return dist_exit(TOOL, IL_EXIT_INPUT, NULL);
            break;
        case OPT_SCALING: scaling = 1; break;
        case OPT_TRACE: trace = 1; break;
        case OPT_PROBE: probe = 1; break;
        case OPT_WINDOWS:
            if (cli_int(&cli, 1, 65536, &windows)) return dist_exit(TOOL, IL_EXIT_INPUT, NULL);
            break;
        default: return dist_exit(TOOL, cli.exit_code, NULL); /* CLI_EXIT: said already */
        }
    }
    if (!trace && cli_no_operands(&cli, argc, argv)) return dist_exit(TOOL, IL_EXIT_INPUT, NULL);
    if (probe && (scaling || trace))
        return dist_exit(TOOL, cli_fail(&cli, "--probe goes with the step speed, not --scaling or --trace"), NULL);
    if (windows && !probe && only != 2)
        return dist_exit(TOOL, cli_fail(&cli, "--windows sizes the probe pass: give --probe or --config G"), NULL);
    if (trace) {
        if (only >= 0) return dist_exit(TOOL, cli_fail(&cli, "--trace measures the specs' models, not --config"), NULL);
        static const char *const examples[] = {"science.ini", "demo-sweep.ini"};
        char dir[4096], found[2][4200];
        int n = argc - cli.rest;
        for (int i = 0; !n && i < 2; i++) {
            if (share_find("jobs/examples", "jobs/examples", examples[i], dir, sizeof dir))
                return dist_exit(TOOL, IL_EXIT_INPUT, err_msg());
            snprintf(found[i], sizeof found[i], "%s/%s", dir, examples[i]);
        }
        for (int i = 0; i < (n ? n : 2); i++)
            if (trace_spec(n ? argv[cli.rest + i] : found[i], steps)) return dist_exit(TOOL, IL_EXIT_INPUT, err_msg());
    } else if (scaling) {
        benchmark_scaling(&cfgs[only >= 0 ? only : 1], steps, cores, &dist); /* config D unless another is named */
    } else if (dist.rank == 0) {
        double sgemm = benchmark_sgemm_gflops(2048, 5);
        printf("reference: OpenBLAS SGEMM 2048^3 on %d threads: %.1f GFLOP/s (median of 5)\n", omp_get_max_threads(),
               sgemm);
        for (int c = 0; c < 3; c++)
            if (only < 0 ? c < N_DEFAULT : only == c) benchmark_model(&cfgs[c], steps, sgemm, probe || c == 2, windows);
    }
    return dist_exit(TOOL, IL_EXIT_OK, NULL);
}
