/* il-eval: score a checkpoint on a token shard, overall and per document category. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/loader.h"
#include "core/dist.h"
#include "core/err.h"
#include "data/shard.h"
#include "run/snapshot.h"
#include "run/train.h"

static int fail(const char *msg)
{
    fprintf(stderr, "il-eval: %s\n", msg);
    dist_finalize();
    return IL_EXIT_INPUT;
}

/* The add-one unigram baseline of shard_unigram_loss. */
static int unigram(const char *counts_path, const char *data)
{
    double loss;
    uint64_t n;
    if (shard_unigram_loss(counts_path, data, &loss, &n)) return fail(err_msg());
    printf("unigram baseline of %s on %s: %llu tokens, loss %.4f nats/token\n", counts_path, data,
           (unsigned long long)n, loss);
    dist_finalize();
    return IL_EXIT_OK;
}

static int parse_count(const char *s, long max, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 0 || v > max) return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    dist_t dist; /* scoring runs on one process; MPI is up only because train_eval speaks it */
    if (dist_init(&dist, &argc, &argv)) return fail(err_msg());
    const char *ckpt = NULL, *data = NULL, *counts = NULL;
    long windows = 0, batch = 8;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--checkpoint") && i + 1 < argc) ckpt = argv[++i];
        else if (!strcmp(a, "--data") && i + 1 < argc) data = argv[++i];
        else if (!strcmp(a, "--unigram") && i + 1 < argc) counts = argv[++i];
        else if (!strcmp(a, "--windows") && i + 1 < argc) {
            if (parse_count(argv[++i], 1L << 30, &windows)) return fail("--windows: expected a count >= 0");
        } else if (!strcmp(a, "--batch") && i + 1 < argc) {
            if (parse_count(argv[++i], 4096, &batch) || batch < 1) return fail("--batch: expected 1..4096");
        } else {
            fprintf(stderr, "usage: il-eval --checkpoint CKPT --data SHARD [--windows N] [--batch B]\n"
                            "       il-eval --unigram COUNTS --data SHARD   (the add-one unigram baseline)\n"
                            "  CKPT: a checkpoint directory (runs/NAME/ckpt/step_N) or its state.ckpt\n"
                            "  scores N windows of the model's context length spread evenly over the shard\n"
                            "  (default: as many as fit side by side, covering it once)\n");
            return fail("bad arguments");
        }
    }
    if (counts && data && !ckpt) return unigram(counts, data);
    if (!ckpt || !data || counts)
        return fail("give --data with either --checkpoint or --unigram (see il-eval --help)");
    gpt_t m;
    uint32_t tok_id;
    if (snapshot_load_model(ckpt, &m, (int)batch, &tok_id)) return fail(err_msg());
    shard_t s;
    int T = m.d.T;
    if (shard_read_expect(&s, data, tok_id, (uint32_t)m.d.V) ||
        (s.n_tokens < (uint64_t)T + 1 && err_set("%s: %llu tokens, fewer than one window of %d", data,
                                                  (unsigned long long)s.n_tokens, T + 1))) {
        gpt_destroy(&m);
        return fail(err_msg());
    }
    if (windows == 0) windows = (long)((s.n_tokens - 1) / (uint64_t)T);
    double *cat = calloc(s.n_cats + 1, sizeof *cat);
    CHECK(cat, "out of memory");
    double loss = train_eval(&m, &s, (int)batch, (int)windows, cat);
    printf("%s on %s: %ld windows x %d tokens, loss %.4f nats/token (perplexity %.2f)\n", ckpt, data, windows, T,
           loss, exp(loss));
    for (uint32_t k = 0; k < s.n_cats && s.n_cats > 1; k++)
        if (!isnan(cat[k])) printf("  %-24s %.4f\n", s.cats[k], cat[k]);
    free(cat);
    shard_free(&s);
    gpt_destroy(&m);
    dist_finalize();
    return IL_EXIT_OK;
}
