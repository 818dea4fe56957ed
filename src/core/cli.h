/* cli: the command line every il-* tool shares. Options are read with getopt_long, so `--opt value` and
 * `--opt=value` both work and operands may come anywhere; every tool answers -h/--help (its usage on
 * stdout, exit 0) and --version (one line, exit 0); and every mistake, an unknown option, a missing or
 * bad value, is one line on stderr naming the option, then exit IL_EXIT_INPUT.
 *
 * A tool lists its options, ending the table with CLI_COMMON_OPTIONS and {0}, and reads them in a loop:
 *
 *     enum { OPT_DATA = CLI_OPT_FIRST, OPT_BATCH };
 *     static const struct option opts[] = {{"data", required_argument, NULL, OPT_DATA},
 *                                          {"batch", required_argument, NULL, OPT_BATCH},
 *                                          CLI_COMMON_OPTIONS, {0}};
 *     cli_t cli;
 *     cli_init(&cli, "il-eval", usage, opts, rank != 0);
 *     for (int o; (o = cli_next(&cli, argc, argv)) != CLI_END;) {
 *         switch (o) {
 *         case OPT_DATA: data = cli.arg; break;
 *         case OPT_BATCH: if (cli_int(&cli, 1, 4096, &batch)) return IL_EXIT_INPUT; break;
 *         default: return cli.exit_code; // CLI_EXIT: --help, --version or a mistake, already reported
 *         }
 *     }
 *     // the operands are argv[cli.rest] .. argv[argc - 1]
 *
 * A table entry whose code is a letter or digit is also that one-letter option (`-h` is); the codes
 * from CLI_OPT_FIRST up are long options only. cli_next keeps its place in getopt's global state, which
 * cli_init resets: one command line is read at a time. */
#ifndef IL_CLI_H
#define IL_CLI_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

enum {
    CLI_END = -1,           /* cli_next: no more options */
    CLI_EXIT = -2,          /* cli_next: the tool is to exit now with cli.exit_code */
    CLI_OPT_VERSION = 0x100, /* the code of --version */
    CLI_OPT_FIRST,          /* the first code of a tool's long-only options */
};

/* --help (-h) and --version, the last entries of every tool's table before {0}. */
#define CLI_COMMON_OPTIONS {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, CLI_OPT_VERSION}

typedef struct {
    const char *tool;              /* "il-eval": begins every line said */
    const char *usage;             /* the --help text, starting "usage: " and ending with a newline */
    const struct option *options;  /* the tool's table, ended by CLI_COMMON_OPTIONS and {0} */
    int quiet;                     /* say nothing: the MPI ranks but 0, which reach the same verdict */
    /* set by cli_next */
    const char *arg;               /* the value of the option just read; NULL for a flag */
    char name[72];                 /* that option as the messages name it: "--data" or "-h" */
    int exit_code;                 /* after CLI_EXIT: IL_EXIT_OK after --help or --version, else IL_EXIT_INPUT */
    int rest;                      /* after CLI_END: argv[rest] .. argv[argc - 1] are the operands */
    char shortopts[64];            /* getopt's spelling of the table's one-letter options */
} cli_t;

void cli_init(cli_t *c, const char *tool, const char *usage, const struct option *options, int quiet);

/* The code of the next option on the command line, with its value in c->arg; CLI_END after the last one
 * (c->rest then indexes the operands, which getopt_long has moved behind the options); or CLI_EXIT when
 * the tool must stop: after --help (the usage printed on stdout) or --version (its line printed) with
 * c->exit_code IL_EXIT_OK, or after a mistake, reported in one line on stderr ("il-eval: unknown option
 * '--foo' (see il-eval --help)"), with IL_EXIT_INPUT. */
int cli_next(cli_t *c, int argc, char **argv);

/* The value of the option just read as an integer in [lo, hi], a number, an unsigned 64-bit integer,
 * or the index of one of n words. 0, or -1 after reporting the bad value in one line naming the option
 * ("il-eval: --batch: expected an integer in [1, 4096], not 'x' (see il-eval --help)"). */
int cli_int(cli_t *c, int lo, int hi, int *out);
int cli_double(cli_t *c, double lo, double hi, double *out);
int cli_u64(cli_t *c, uint64_t *out);
int cli_choice(cli_t *c, const char *const *words, int n, int *out);

/* Reports a mistake on the command line the table cannot see (a required option missing, options that
 * exclude each other) as one line, "TOOL: MESSAGE (see TOOL --help)". Returns IL_EXIT_INPUT. */
int cli_fail(const cli_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* After CLI_END, for a tool that takes no operands: 0 when there are none, else IL_EXIT_INPUT after
 * naming the first ("il-eval: unexpected argument 'x' (see il-eval --help)"). */
int cli_no_operands(const cli_t *c, int argc, char **argv);

/* Prints the usage text on f (for a command line with nothing to do). */
void cli_usage(const cli_t *c, FILE *f);

#endif
