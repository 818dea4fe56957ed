/* il-train: train a model from a config file. Everything happens in the library (run/trainer.c); this only
 * reads the command line. */
#include <stdio.h>
#include <stdlib.h>

#include "core/atomicfile.h"
#include "core/cli.h"
#include "core/config.h"
#include "core/dist.h"
#include "core/err.h"
#include "run/trainer.h"
#include "innerloop/schema.h"

static const char usage[] =
    "usage: il-train --config FILE [--config FILE ...] [--set section.key=value ...] [--resume] [--init-from CKPT]\n"
    "                [--print-config]\n"
    "       il-train --keys | --trace-schema | --help | --version\n"
    "  --config FILE    INI config, read in turn when repeated; keys not given keep their defaults\n"
    "                   (il-train --keys lists them)\n"
    "  --set K=V        override one key (repeatable); applied after every --config, wherever it stands\n"
    "  --resume         continue <run.out_dir>/<run.name> from its newest checkpoint\n"
    "  --init-from CKPT start a new run (step 0, fresh optimizer) from the parameters of checkpoint CKPT (a\n"
    "                   step directory or its state.ckpt, trained or imported with --tokenizer); its dims\n"
    "                   must be the config's model keys (model.vocab_size = 0 takes the checkpoint's) and\n"
    "                   its tokenizer the training data's. With --resume, a run that has a checkpoint\n"
    "                   continues from it and --init-from is ignored\n"
    "  --print-config   print the effective config and exit\n"
    "  --keys           print the table of config keys (Markdown) and exit\n"
    "  --trace-schema   print the tables of the trace files' variables (Markdown) and exit\n"
    "  -h, --help       print this and exit; --version: print the version and commit and exit\n"
    "Run it as one process, or as `mpirun -n P` / `srun --mpi=pmix` for P data-parallel ranks.\n"
    "On a terminal a progress line is redrawn in place; elsewhere (a file, a Slurm batch step) every line\n"
    "starts with a UTC timestamp. IL_PROGRESS=1 or 0 forces the one or the other.\n"
    "SIGTERM, SIGUSR2, SIGHUP or SIGINT (Ctrl-C): finish the step, write a checkpoint, exit 75; a\n"
    "second Ctrl-C stops at once. IL_EXIT_STATUS_FILE=FILE: rank 0 writes its exit code there.\n"
    "exit codes: 0 done, 1 runtime failure (diverged, I/O), 2 bad command line, config or data,\n"
    "            75 stopped by a signal after a checkpoint: requeue and run again with --resume\n";

static int rank;

/* Ends the process's MPI and returns the exit code; msg (if any) is said once, by rank 0: every rank
 * reaches the same verdict (dist_agree). With IL_EXIT_STATUS_FILE set, rank 0 also writes the code there:
 * mpirun ends the job as soon as one rank exits non-zero and then reports its own failure instead of the
 * ranks' 75, and jobs/il-step.sh needs to know that the ranks stopped with a checkpoint. The barrier
 * keeps every rank alive until the file is written. */
static int finish(int code, const char *msg)
{
    const char *status = getenv("IL_EXIT_STATUS_FILE");
    if (rank == 0 && status && *status) {
        atomicfile_t af;
        if (atomicfile_open(&af, status, ATOMICFILE_REPLACE) == 0) {
            fprintf(af.f, "%d\n", code);
            if (atomicfile_commit(&af)) fprintf(stderr, "il-train: %s\n", err_msg());
        } else {
            fprintf(stderr, "il-train: %s\n", err_msg());
        }
    }
    CHECK_RC(MPI_Barrier(MPI_COMM_WORLD), dist_strerror);
    return dist_exit("il-train", code, msg);
}

enum { OPT_CONFIG = CLI_OPT_FIRST, OPT_SET, OPT_RESUME, OPT_INIT_FROM, OPT_PRINT_CONFIG, OPT_KEYS, OPT_TRACE_SCHEMA };

static const struct option options[] = {
    {"config", required_argument, NULL, OPT_CONFIG},
    {"set", required_argument, NULL, OPT_SET},
    {"resume", no_argument, NULL, OPT_RESUME},
    {"init-from", required_argument, NULL, OPT_INIT_FROM},
    {"print-config", no_argument, NULL, OPT_PRINT_CONFIG},
    {"keys", no_argument, NULL, OPT_KEYS},
    {"trace-schema", no_argument, NULL, OPT_TRACE_SCHEMA},
    CLI_COMMON_OPTIONS,
    {0},
};

int main(int argc, char **argv)
{
    dist_t dist;
    int rc = dist_init(&dist, &argc, &argv);
    rank = dist.rank;
    if (dist_agree(rc)) return finish(IL_EXIT_INPUT, err_msg());
    cli_t cli;
    cli_init(&cli, "il-train", usage, options, rank != 0);
    if (argc < 2) { /* a run in the current directory with every default is never what was meant */
        cli_usage(&cli, stderr);
        return finish(IL_EXIT_INPUT, NULL);
    }
    config_t cfg;
    config_defaults(&cfg);
    int resume = 0, print_config = 0;
    const char *init_from = NULL;
    for (int o; (o = cli_next(&cli, argc, argv)) != CLI_END;) {
        switch (o) {
        case OPT_CONFIG:
            if (config_load(&cfg, cli.arg)) return finish(IL_EXIT_INPUT, err_msg());
            break;
        case OPT_SET: break; /* below */
        case OPT_RESUME: resume = 1; break;
        case OPT_INIT_FROM: init_from = cli.arg; break;
        case OPT_PRINT_CONFIG: print_config = 1; break;
        case OPT_KEYS:
            if (rank == 0) config_print_keys_markdown(stdout);
            return finish(IL_EXIT_OK, NULL);
        case OPT_TRACE_SCHEMA:
            if (rank == 0) trace_schema_markdown(stdout);
            return finish(IL_EXIT_OK, NULL);
        default: return finish(cli.exit_code, NULL); /* CLI_EXIT: said already */
        }
    }
    if (cli_no_operands(&cli, argc, argv)) return finish(IL_EXIT_INPUT, NULL);
    /* A second pass applies the overrides, so that they win over every file wherever they stand. */
    cli_init(&cli, "il-train", usage, options, rank != 0);
    for (int o; (o = cli_next(&cli, argc, argv)) != CLI_END;)
        if (o == OPT_SET && config_set(&cfg, cli.arg)) return finish(IL_EXIT_INPUT, err_msg());
    if (config_validate(&cfg, dist.size)) return finish(IL_EXIT_INPUT, err_msg());
    if (print_config) {
        if (rank == 0 && config_write(&cfg, stdout)) return finish(IL_EXIT_INPUT, err_msg());
        return finish(IL_EXIT_OK, NULL);
    }
    trainer_t tr;
    if ((rc = trainer_open(&tr, &cfg, &dist, resume, init_from, argc, argv))) {
        trainer_close(&tr);
        return finish(rc == TRAINER_IO ? IL_EXIT_FAIL : IL_EXIT_INPUT, err_msg());
    }
    rc = trainer_run(&tr);
    trainer_close(&tr);
    if (rc == TRAINER_FAILED || rc == TRAINER_BAD_DATA)
        return finish(rc == TRAINER_FAILED ? IL_EXIT_FAIL : IL_EXIT_INPUT, err_msg());
    return finish(rc == TRAINER_PREEMPTED ? IL_EXIT_PREEMPTED : IL_EXIT_OK, NULL);
}
