#include "core/cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/runlog.h"
#include "innerloop/version.h"

void cli_init(cli_t *c, const char *tool, const char *usage, const struct option *options, int quiet)
{
    memset(c, 0, sizeof *c);
    c->tool = tool, c->usage = usage, c->options = options, c->quiet = quiet;
    /* ':' first: a missing value comes back as ':', told apart from an unknown option */
    size_t n = 0;
    c->shortopts[n++] = ':';
    for (const struct option *o = options; o->name; o++) {
        if (o->val > 0x7f || !isalnum(o->val)) continue;
        CHECK(n + 2 < sizeof c->shortopts, "%s: too many one-letter options", tool);
        c->shortopts[n++] = (char)o->val;
        if (o->has_arg == required_argument) c->shortopts[n++] = ':';
    }
    optind = 0; /* glibc: start afresh, on a new command line */
    opterr = 0; /* getopt's own message would be a second line, unlike every other mistake's */
}

int cli_fail(const cli_t *c, const char *fmt, ...)
{
    if (c->quiet) return IL_EXIT_INPUT;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s (see %s --help)\n", c->tool, msg, c->tool);
    fflush(stderr);
    return IL_EXIT_INPUT;
}

int cli_no_operands(const cli_t *c, int argc, char **argv)
{
    return c->rest < argc ? cli_fail(c, "unexpected argument '%s'", argv[c->rest]) : 0;
}

void cli_usage(const cli_t *c, FILE *f)
{
    if (c->quiet) return;
    fputs(c->usage, f);
    fflush(f);
}

/* A mistake getopt_long found. A long option's word is argv[optind - 1] once getopt has stepped past it;
 * a one-letter option may sit inside a group ("-xh"), where optind has not moved, and is named by optopt.
 * getopt sets optopt to 0 for a long option it does not know, to the option's code when it knows it. */
static int mistake(cli_t *c, int code, int before, char **argv)
{
    const char *word = optind > before ? argv[optind - 1] : "";
    int is_long = strncmp(word, "--", 2) == 0;
    if (is_long) snprintf(c->name, sizeof c->name, "%.*s", (int)strcspn(word, "="), word);
    else snprintf(c->name, sizeof c->name, "-%c", optopt);
    c->exit_code = IL_EXIT_INPUT;
    if (code == ':') cli_fail(c, "option '%s' needs a value", c->name);
    else if (is_long && optopt) cli_fail(c, "option '%s' takes no value", c->name);
    else cli_fail(c, "unknown option '%s'", c->name);
    return CLI_EXIT;
}

int cli_next(cli_t *c, int argc, char **argv)
{
    int before = optind ? optind : 1, index = -1; /* optind 0 (cli_init) stands for 1 */
    int code = getopt_long(argc, argv, c->shortopts, c->options, &index);
    c->arg = optarg;
    if (code == -1) {
        c->rest = optind;
        return CLI_END;
    }
    if (code == '?' || code == ':') return mistake(c, code, before, argv);
    if (index >= 0) snprintf(c->name, sizeof c->name, "--%s", c->options[index].name);
    else snprintf(c->name, sizeof c->name, "-%c", code);
    if (code == 'h') {
        cli_usage(c, stdout);
    } else if (code == CLI_OPT_VERSION) {
        if (!c->quiet) printf("%s (innerloop %s, commit %s)\n", c->tool, il_version(), runlog_git_commit());
    } else {
        return code;
    }
    c->exit_code = IL_EXIT_OK;
    return CLI_EXIT;
}

/* Reports the current option's value as not what it should be; returns -1. */
static int bad_value(cli_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad_value(cli_t *c, const char *fmt, ...)
{
    char want[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(want, sizeof want, fmt, ap);
    va_end(ap);
    cli_fail(c, "%s: expected %s, not '%s'", c->name, want, c->arg);
    c->exit_code = IL_EXIT_INPUT;
    return -1;
}

int cli_int(cli_t *c, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(c->arg, &end, 10);
    if (!*c->arg || isspace((unsigned char)*c->arg) || *end || errno || v < lo || v > hi)
        return bad_value(c, "an integer in [%d, %d]", lo, hi);
    *out = (int)v;
    return 0;
}

int cli_double(cli_t *c, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(c->arg, &end);
    if (!*c->arg || isspace((unsigned char)*c->arg) || *end || errno || !(v >= lo && v <= hi))
        return bad_value(c, "a number in [%g, %g]", lo, hi);
    *out = v;
    return 0;
}

int cli_u64(cli_t *c, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(c->arg, &end, 10);
    /* strtoull would take "-1" as the largest value */
    if (!isdigit((unsigned char)*c->arg) || *end || errno) return bad_value(c, "an unsigned 64-bit integer");
    *out = v;
    return 0;
}

int cli_choice(cli_t *c, const char *const *words, int n, int *out)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(c->arg, words[i])) {
            *out = i;
            return 0;
        }
    char list[256] = "";
    for (int i = 0, len = 0; i < n && len < (int)sizeof list; i++)
        len += snprintf(list + len, sizeof list - (size_t)len, "%s%s", i ? (i + 1 < n ? ", " : " or ") : "", words[i]);
    return bad_value(c, "%s", list);
}
