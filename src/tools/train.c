/* il-train: train a model from a config file. Everything happens in the library (train.c); this only
 * reads the command line. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "err.h"
#include "train.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: il-train [--config FILE] [--set section.key=value ...] [--resume] [--print-config]\n"
               "       il-train --keys\n"
               "  --config FILE    INI config; keys not given keep their defaults (il-train --keys lists them)\n"
               "  --set K=V        override one key, after the file (repeatable)\n"
               "  --resume         continue <run.out_dir>/<run.name> from its newest checkpoint\n"
               "  --print-config   print the effective config and exit\n"
               "  --keys           print the table of config keys (Markdown) and exit\n"
               "exit codes: 0 done, 1 runtime failure (diverged, I/O), 2 bad command line, config or data\n");
}

static int fail(const char *msg)
{
    fprintf(stderr, "il-train: %s\n", msg);
    return IL_EXIT_INPUT;
}

int main(int argc, char **argv)
{
    config_t cfg;
    config_defaults(&cfg);
    int resume = 0, print_config = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--config") && i + 1 < argc) {
            if (config_load(&cfg, argv[++i])) return fail(err_msg());
        } else if (!strcmp(a, "--set") && i + 1 < argc) {
            if (config_set(&cfg, argv[++i])) return fail(err_msg());
        } else if (!strcmp(a, "--resume")) {
            resume = 1;
        } else if (!strcmp(a, "--print-config")) {
            print_config = 1;
        } else if (!strcmp(a, "--keys")) {
            config_print_keys_markdown(stdout);
            return IL_EXIT_OK;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return IL_EXIT_OK;
        } else {
            fprintf(stderr, "il-train: unknown or incomplete argument '%s'\n", a);
            usage(stderr);
            return IL_EXIT_INPUT;
        }
    }
    if (config_validate(&cfg, 1)) return fail(err_msg());
    if (print_config) return config_write(&cfg, stdout) ? fail(err_msg()) : IL_EXIT_OK;

    trainer_t tr;
    if (train_open(&tr, &cfg, resume, argc, argv)) {
        fail(err_msg());
        train_close(&tr);
        return IL_EXIT_INPUT;
    }
    int rc = train_run(&tr);
    if (rc) fprintf(stderr, "il-train: %s\n", err_msg());
    train_close(&tr);
    return rc ? IL_EXIT_FAIL : IL_EXIT_OK;
}
