/* il-eval: score a checkpoint on a token shard, overall and per document category. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/loader.h"
#include "core/cli.h"
#include "core/dist.h"
#include "core/err.h"
#include "data/shard.h"
#include "run/snapshot.h"
#include "run/trainer.h"

#define TOOL "il-eval" /* begins every line it says */

static const char usage[] =
    "usage: il-eval --checkpoint CKPT --data SHARD [--windows N] [--batch B]\n"
    "       il-eval --unigram COUNTS --data SHARD   (the add-one unigram baseline)\n"
    "  CKPT: a checkpoint directory (runs/NAME/ckpt/step_N) or its state.ckpt\n"
    "  SHARD: a shard file, or a shard manifest (innerloop-shards 1) of several\n"
    "  --windows N   score N windows of the model's context length spread evenly over the shard\n"
    "                (default 0: as many as fit side by side, covering it once)\n"
    "  --batch B     windows per forward pass, 1..4096 (default 8)\n"
    "  -h, --help    print this and exit; --version: print the version and commit and exit\n";

/* Scoring runs on one process; MPI is up only because trainer_eval speaks it, and ends with the tool
 * (dist_exit). */
static int fail(const char *msg) { return dist_exit(TOOL, IL_EXIT_INPUT, msg); }

/* The add-one unigram baseline of shard_unigram_loss. */
static int unigram(const char *counts_path, const char *data)
{
    double loss;
    uint64_t n;
    if (shard_unigram_loss(counts_path, data, &loss, &n)) return fail(err_msg());
    printf("unigram baseline of %s on %s: %llu tokens, loss %.4f nats/token\n", counts_path, data,
           (unsigned long long)n, loss);
    return dist_exit(TOOL, IL_EXIT_OK, NULL);
}

enum { OPT_CHECKPOINT = CLI_OPT_FIRST, OPT_DATA, OPT_UNIGRAM, OPT_WINDOWS, OPT_BATCH };

static const struct option options[] = {
    {"checkpoint", required_argument, NULL, OPT_CHECKPOINT},
    {"data", required_argument, NULL, OPT_DATA},
    {"unigram", required_argument, NULL, OPT_UNIGRAM},
    {"windows", required_argument, NULL, OPT_WINDOWS},
    {"batch", required_argument, NULL, OPT_BATCH},
    CLI_COMMON_OPTIONS,
    {0},
};

int main(int argc, char **argv)
{
    dist_t dist;
    if (dist_init(&dist, &argc, &argv)) return fail(err_msg());
    const char *ckpt = NULL, *data = NULL, *counts = NULL;
    int windows = 0, batch = 8;
    cli_t cli;
    cli_init(&cli, TOOL, usage, options, dist.rank != 0);
    for (int o; (o = cli_next(&cli, argc, argv)) != CLI_END;) {
        switch (o) {
        case OPT_CHECKPOINT: ckpt = cli.arg; break;
        case OPT_DATA: data = cli.arg; break;
        case OPT_UNIGRAM: counts = cli.arg; break;
        case OPT_WINDOWS:
            if (cli_int(&cli, 0, 1 << 30, &windows)) return dist_exit(TOOL, IL_EXIT_INPUT, NULL);
            break;
        case OPT_BATCH:
            if (cli_int(&cli, 1, 4096, &batch)) return dist_exit(TOOL, IL_EXIT_INPUT, NULL);
            break;
        default: return dist_exit(TOOL, cli.exit_code, NULL); /* CLI_EXIT: said already */
        }
    }
    if (cli_no_operands(&cli, argc, argv)) return dist_exit(TOOL, IL_EXIT_INPUT, NULL);
    if (counts && data && !ckpt) return unigram(counts, data);
    if (!ckpt || !data || counts)
        return dist_exit(TOOL, cli_fail(&cli, "give --data with either --checkpoint or --unigram"), NULL);
    gpt_t m;
    uint32_t tok_id;
    if (snapshot_load_model(ckpt, &m, batch, &tok_id)) return fail(err_msg());
    shard_t s;
    int T = m.d.T;
    /* the whole shard or set is checked at once, every block (shard_read), as before a score is trusted */
    if (shard_read_expect(&s, data, tok_id, (uint32_t)m.d.V) ||
        (s.n_tokens < (uint64_t)T + 1 && err_set("%s: %llu tokens, fewer than one window of %d", data,
                                                  (unsigned long long)s.n_tokens, T + 1))) {
        gpt_destroy(&m);
        return fail(err_msg());
    }
    if (windows == 0) windows = (int)((s.n_tokens - 1) / (uint64_t)T);
    double *cat = calloc(s.n_cats + 1, sizeof *cat);
    CHECK(cat, "out of memory");
    double loss;
    if (trainer_eval(&m, &s, batch, windows, &loss, cat)) {
        free(cat);
        shard_free(&s);
        gpt_destroy(&m);
        return fail(err_msg());
    }
    printf("%s on %s: %d windows x %d tokens, loss %.4f nats/token (perplexity %.2f)\n", ckpt, data, windows, T,
           loss, exp(loss));
    for (uint32_t k = 0; k < s.n_cats && s.n_cats > 1; k++)
        if (!isnan(cat[k])) printf("  %-24s %.4f\n", s.cats[k], cat[k]);
    free(cat);
    shard_free(&s);
    gpt_destroy(&m);
    return dist_exit(TOOL, IL_EXIT_OK, NULL);
}
