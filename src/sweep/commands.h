/* commands: il-sweep's commands as a table (docs/sweeps.md): each command's name, usage, options, the one
 * operand it takes and the sweep library call that does its work. src/tools/sweep.c reads the command line
 * against this table and turns a command's result into the exit code; what a command does is here and in
 * the modules it calls (submit, status, cancel). */
#ifndef IL_SWEEP_COMMANDS_H
#define IL_SWEEP_COMMANDS_H

#include <stddef.h>

#include "core/cli.h"

/* The options' codes, shared by the tables below and il-sweep's reading of them. */
enum { OPT_DRY = CLI_OPT_FIRST, OPT_LOCAL, OPT_OUT, OPT_FAILED, OPT_STATE, OPT_FORMAT, OPT_KEYS, OPT_WATCH };

/* A command's options, read into one place; the flags are 0 or 1. */
typedef struct {
    int dry, local, failed, format;
    unsigned want;
    const char *out;
    double watch; /* status --watch: seconds between redraws; 0: no watch */
} commands_args_t;

typedef struct {
    const char *name, *usage;
    const struct option *options;
    const char *operand; /* what its one operand is, for "no SPEC given" */
    /* NULL when the options go together, else the one-line mistake to report */
    const char *(*check)(const commands_args_t *a);
    /* 0, or SWEEPDIR_EINPUT or SWEEPDIR_ERUN with err_set */
    int (*run)(const char *operand, const commands_args_t *a);
} commands_t;

extern const char commands_usage[];      /* il-sweep's own usage, listing the commands */
extern const struct option commands_top[]; /* il-sweep's own options: --keys, --help, --version */

/* The command called name, or NULL. */
const commands_t *commands_find(const char *name);

#endif
