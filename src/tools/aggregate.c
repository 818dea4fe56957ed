/* il-aggregate: merges the traces of every run under the given paths into tables, summary.nc, claims.md
 * and figures (docs/aggregate.md).
 *   il-aggregate [--out DIR] [--consolidate] PATH...              one process
 *   mpirun -n P il-aggregate [--out DIR] [--consolidate] PATH...  runs spread over P ranks (deal.h)
 * Everything happens in the library (analysis/aggregate.h); this only reads the command line and maps the
 * outcome to an exit code.
 * Exit codes, the same on every rank: 0 everything was used; 3 results written but some inputs were skipped
 * (skipped.md says which); 2 bad command line, no run directory found, or --out in use or not an output
 * directory; 1 an output could not be written (the old outputs are then untouched). */
#include <stdlib.h>

#include "analysis/aggregate.h"
#include "core/cli.h"
#include "core/dist.h"
#include "core/err.h"
#include "core/runlog.h"

#define TOOL "il-aggregate"


static const char usage_text[] =
    "usage: [mpirun -n P] il-aggregate [--out DIR] [--consolidate] [--no-cache] [--timings] PATH...\n"
    "  Merges the traces of every run under the PATHs (run directories, or directories holding them) into\n"
    "  tables, claims.md, claims.csv, summary.nc and figures in DIR (docs/aggregate.md).\n"
    "  --out DIR        output directory (default: aggregate), replaced as a whole; one il-aggregate at a\n"
    "                   time writes it\n"
    "  --consolidate    first merge each finished run's trace segments into one file per rank\n"
    "                   (trace/rankRRRR.nc) and remove the segments, as il-train does when a run ends\n"
    "  --no-cache       neither use nor write the runs' caches (<run>/aggregate.cache): read every run\n"
    "  --timings        print the time spent reading, reducing, on run caches, writing the tables and\n"
    "                   summary.nc, and drawing figures, and how many runs came from their caches\n"
    "  -h, --help       this text\n"
    "  --version        version and git commit\n"
    "exit codes: 0 every input used; 3 results written, some inputs skipped (skipped.md says which);\n"
    "2 bad command line, no run directory found, or --out in use or holding other files; 1 an output\n"
    "could not be written (the old outputs are untouched)\n";

int main(int argc, char **argv)
{
    /* Open MPI's singleton (one process without mpirun) would start a daemon through ssh or rsh found on
     * PATH; one aggregating process needs none, and must run where PATH lacks them. No effect under a
     * launcher or another MPI. */
    setenv("OMPI_MCA_ess_singleton_isolated", "1", 0);
    /* A live run's writers hold its trace segments open, and HDF5's file locking then refuses any reader
     * ("HDF error"); their synced records read without it (trace-schema.md, "Durability"). HDF5 reads the
     * setting once, when it starts: before anything here opens a NetCDF file. */
    setenv("HDF5_USE_FILE_LOCKING", "FALSE", 1);
    dist_t d;
    if (dist_agree(dist_init(&d, &argc, &argv))) return dist_exit(TOOL, IL_EXIT_INPUT, err_msg());
    aggregate_args_t args = {.out = "aggregate"};
    enum { OPT_OUT = CLI_OPT_FIRST, OPT_CONSOLIDATE, OPT_NO_CACHE, OPT_TIMINGS };
    static const struct option opts[] = {{"out", required_argument, NULL, OPT_OUT},
                                         {"consolidate", no_argument, NULL, OPT_CONSOLIDATE},
                                         {"no-cache", no_argument, NULL, OPT_NO_CACHE},
                                         {"timings", no_argument, NULL, OPT_TIMINGS}, CLI_COMMON_OPTIONS, {0}};
    cli_t cli;
    cli_init(&cli, TOOL, usage_text, opts, d.rank != 0);
    for (int o; (o = cli_next(&cli, argc, argv)) != CLI_END;) {
        if (o == OPT_OUT) args.out = cli.arg;
        else if (o == OPT_CONSOLIDATE) args.consolidate = 1;
        else if (o == OPT_NO_CACHE) args.no_cache = 1;
        else if (o == OPT_TIMINGS) args.timings = 1;
        else return dist_exit(TOOL, cli.exit_code, NULL); /* CLI_EXIT: said already */
    }
    if (cli.rest == argc)
        return dist_exit(TOOL, d.rank == 0 ? cli_fail(&cli, "no PATH given") : IL_EXIT_INPUT, NULL);
    args.paths = argv + cli.rest;
    args.n_paths = argc - cli.rest;
    char *command = runlog_command_line(argc, argv);
    args.command = command;
    int skipped, code = aggregate_runs(&args, &skipped);
    free(command);
    if (code != IL_EXIT_OK) return dist_exit(TOOL, code, err_msg());
    return dist_exit(TOOL, skipped ? IL_EXIT_PARTIAL : IL_EXIT_OK, NULL);
}
