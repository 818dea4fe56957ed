/* il-bench: training-step speed of named model configs, against this machine's SGEMM rate measured in
 * the same run (the machines are shared and noisy, so only the ratio travels). Prints the median of
 * several steps and where the time goes, kernel by kernel. The measurements are src/run/benchmark.c's; this
 * main reads the command line. */
#include <omp.h>
#include <stdio.h>

#include "core/cli.h"
#include "core/dist.h"
#include "core/err.h"
#include "run/benchmark.h"

#define TOOL "il-bench" /* begins every line it says */

static const char usage[] =
    "usage: il-bench [--config A|D|G] [--steps N]        training-step speed against this machine's SGEMM\n"
    "                 (G: GPT-2 small's shape, run only when named; pass --steps 1 on a small machine)\n"
    "       il-bench --trace [--config A|D] [--steps N]  tracing cost and trace file size (config D by default)\n"
    "       mpirun -n P --bind-to none il-bench --scaling [--config A|D] [--steps N] [--cores N]\n"
    "                                                    ranks x threads layouts of a node (config D by default)\n"
    "  --steps N      steps timed per measurement, 1..1000 (default 20)\n"
    "  --cores N      cores of the node the layouts share, 1..4096 (default: SLURM_CPUS_ON_NODE, else the\n"
    "                 online CPUs); launch as many ranks to time every layout\n"
    "  -h, --help     print this and exit; --version: print the version and commit and exit\n";

enum { OPT_CONFIG = CLI_OPT_FIRST, OPT_STEPS, OPT_SCALING, OPT_TRACE, OPT_CORES };

static const struct option options[] = {
    {"config", required_argument, NULL, OPT_CONFIG},
    {"steps", required_argument, NULL, OPT_STEPS},
    {"scaling", no_argument, NULL, OPT_SCALING},
    {"trace", no_argument, NULL, OPT_TRACE},
    {"cores", required_argument, NULL, OPT_CORES},
    CLI_COMMON_OPTIONS,
    {0},
};

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
    int steps = 20, scaling = 0, trace = 0, only = -1, cores = benchmark_node_cores();
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
        default: return dist_exit(TOOL, cli.exit_code, NULL); /* CLI_EXIT: said already */
        }
    }
    if (cli_no_operands(&cli, argc, argv)) return dist_exit(TOOL, IL_EXIT_INPUT, NULL);
    if (scaling || trace) {
        const benchmark_cfg_t *bc = &cfgs[only >= 0 ? only : 1]; /* config D unless another is named */
        if (scaling) benchmark_scaling(bc, steps, cores, &dist);
        else benchmark_trace(bc, steps, 50, TOOL);
    } else if (dist.rank == 0) {
        double sgemm = benchmark_sgemm_gflops(2048, 5);
        printf("reference: OpenBLAS SGEMM 2048^3 on %d threads: %.1f GFLOP/s (median of 5)\n", omp_get_max_threads(),
               sgemm);
        for (int c = 0; c < 3; c++)
            if (only < 0 ? c < N_DEFAULT : only == c) benchmark_model(&cfgs[c], steps, sgemm);
    }
    return dist_exit(TOOL, IL_EXIT_OK, NULL);
}
