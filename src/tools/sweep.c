/* il-sweep: runs a sweep spec as Slurm job arrays, and reports on it (docs/sweeps.md).
 *   il-sweep submit SPEC [--dry-run | --local] [--out DIR]
 *   il-sweep status DIR [--state LIST] [--format table|json] [--watch [SECONDS]]
 *   il-sweep resubmit DIR --failed [--dry-run]
 *   il-sweep summary DIR
 *   il-sweep cancel DIR [--dry-run]
 * Each command reads its own options (`il-sweep COMMAND --help`). The work is the sweep library's
 * (src/sweep/, its command table in commands.c): this main only reads the command line. */
#include <stdio.h>
#include <string.h>

#include "core/cli.h"
#include "core/err.h"
#include "sweep/commands.h"
#include "sweep/spec.h"
#include "sweep/status.h"
#include "sweep/sweepdir.h"
#include "sweep/watch.h"

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

/* Reads the command's options into a. 0, or -1 when the tool is to exit with cli->exit_code: after --help,
 * --version or a mistake, said. */
static int read_options(cli_t *cli, int argc, char **argv, commands_args_t *a)
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
        case OPT_WATCH:
            /* "--watch 5" as well as "--watch=5": a number right after --watch is its interval */
            if (!cli->arg && optind < argc && strspn(argv[optind], "0123456789.") == strlen(argv[optind]) &&
                *argv[optind])
                cli->arg = argv[optind++];
            a->watch = WATCH_DEFAULT_S;
            if (cli->arg && cli_double(cli, WATCH_MIN_S, WATCH_MAX_S, &a->watch)) return -1;
            break;
        default: return -1;
        }
    }
    return 0;
}

/* The sweep library's verdict (0, or SWEEPDIR_EINPUT or SWEEPDIR_ERUN with err_set) as the exit code, its
 * message said a line at a time: cancel reports each job it could not cancel. */
static int outcome(int rc)
{
    if (rc == 0) return IL_EXIT_OK;
    for (const char *m = err_msg(), *end; *m; m = *end ? end + 1 : end) {
        end = m + strcspn(m, "\n");
        fprintf(stderr, "il-sweep: %.*s\n", (int)(end - m), m);
    }
    return rc == SWEEPDIR_EINPUT ? IL_EXIT_INPUT : IL_EXIT_FAIL;
}

int main(int argc, char **argv)
{
    cli_t cli;
    if (argc < 2 || argv[1][0] == '-') {
        cli_init(&cli, "il-sweep", commands_usage, commands_top, 0);
        int o = cli_next(&cli, argc, argv);
        if (o == OPT_KEYS) {
            spec_print_keys_markdown(stdout);
            return IL_EXIT_OK;
        }
        if (o != CLI_END) return cli.exit_code; /* --help, --version or a mistake, said */
        cli_usage(&cli, stderr);
        return IL_EXIT_INPUT;
    }
    const commands_t *c = commands_find(argv[1]);
    if (c) {
        char tool[64];
        snprintf(tool, sizeof tool, "il-sweep %s", c->name);
        /* the command's own command line: its name in place of the program's */
        int sub_argc = argc - 1;
        char **sub_argv = argv + 1;
        commands_args_t a = {.want = ~0u, .format = STATUS_TABLE};
        cli_init(&cli, tool, c->usage, c->options, 0);
        if (read_options(&cli, sub_argc, sub_argv, &a)) return cli.exit_code;
        const char *what = operand(&cli, sub_argc, sub_argv, c->operand);
        if (!what) return IL_EXIT_INPUT;
        const char *mistake = c->check ? c->check(&a) : NULL;
        return mistake ? cli_fail(&cli, "%s", mistake) : outcome(c->run(what, &a));
    }
    cli_init(&cli, "il-sweep", commands_usage, commands_top, 0);
    return cli_fail(&cli, "unknown command '%s'", argv[1]);
}
