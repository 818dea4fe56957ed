/* il-sample: generate text from a checkpoint, a prompt through the model's tokenizer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/cli.h"
#include "core/dist.h"
#include "core/err.h"
#include "data/tokenizer.h"
#include "run/sample.h"
#include "run/snapshot.h"

#define TOOL "il-sample" /* begins every line it says */

static const char usage[] =
    "usage: il-sample --ckpt CKPT (--prompt TEXT | --prompt-file FILE) [--tokenizer TOK] [--tokens N]\n"
    "                 [--temperature X] [--top-k K] [--seed S] [--samples M]\n"
    "  CKPT: a checkpoint directory (runs/NAME/ckpt/step_N) or its state.ckpt\n"
    "  --tokenizer TOK   a tokenizer.bin (default: the one beside the checkpoint's data.train_path, as\n"
    "                    il-train found it; the byte tokenizer when there is none); its vocabulary and id\n"
    "                    must be the model's\n"
    "  --prompt TEXT     the text to continue; empty: refused, except with GPT-2's tokenizer, which then\n"
    "                    starts from <|endoftext|>\n"
    "  --tokens N        tokens to generate, 1..1000000 (default 64)\n"
    "  --temperature X   0 (default 1): greedy, the most probable token; otherwise softmax(logits / X)\n"
    "  --top-k K         draw among the K most probable tokens only (default 0: all)\n"
    "  --seed S          the seed of the draws (default 1): the same seed gives the same text\n"
    "  --samples M       M texts, one after another from the same draws, 1..1000 (default 1)\n"
    "  Each token runs the model over the whole window of the last seq_len tokens (no key/value cache).\n"
    "  Prints the prompt and its continuation; with M > 1 each after a line '--- sample I'.\n"
    "  -h, --help    print this and exit; --version: print the version and commit and exit\n";

static int fail(const char *msg) { return dist_exit(TOOL, IL_EXIT_INPUT, msg); }

enum { OPT_CKPT = CLI_OPT_FIRST, OPT_TOKENIZER, OPT_PROMPT, OPT_PROMPT_FILE, OPT_TOKENS, OPT_TEMPERATURE, OPT_TOP_K,
       OPT_SEED, OPT_SAMPLES };

static const struct option options[] = {
    {"ckpt", required_argument, NULL, OPT_CKPT},
    {"tokenizer", required_argument, NULL, OPT_TOKENIZER},
    {"prompt", required_argument, NULL, OPT_PROMPT},
    {"prompt-file", required_argument, NULL, OPT_PROMPT_FILE},
    {"tokens", required_argument, NULL, OPT_TOKENS},
    {"temperature", required_argument, NULL, OPT_TEMPERATURE},
    {"top-k", required_argument, NULL, OPT_TOP_K},
    {"seed", required_argument, NULL, OPT_SEED},
    {"samples", required_argument, NULL, OPT_SAMPLES},
    CLI_COMMON_OPTIONS,
    {0},
};

static int run(const char *ckpt, const char *tok_path, const uint8_t *text, size_t len, const char *what, int n_new,
               double temperature, int top_k, uint64_t seed, int samples)
{
    gpt_t m;
    uint32_t tok_id;
    CALL(snapshot_load_model(ckpt, &m, 1, &tok_id));
    tokenizer_t t;
    uint16_t *prompt = NULL, *ids = NULL;
    size_t n = 0;
    int rc = sample_tokenizer(ckpt, tok_path, tok_id, m.d.V, &t);
    if (rc) goto out_model;
    if ((rc = sample_check(temperature, top_k, m.d.V)) || (rc = sample_prompt(&t, text, len, what, &prompt, &n)))
        goto out;
    ids = malloc((n + (size_t)n_new) * sizeof *ids);
    CHECK(ids, "out of memory");
    rng_t rng;
    rng_seed(&rng, seed);
    for (int s = 0; s < samples && !rc; s++) {
        memcpy(ids, prompt, n * sizeof *ids);
        sample_generate(&m, ids, n, n_new, temperature, top_k, &rng);
        uint8_t *out;
        size_t out_len;
        if ((rc = tokenizer_decode(&t, ids, n + (size_t)n_new, &out, &out_len))) break;
        if (samples > 1) printf("--- sample %d\n", s + 1);
        fwrite(out, 1, out_len, stdout);
        putchar('\n');
        free(out);
    }
out:
    free(ids);
    free(prompt);
    tokenizer_free(&t);
out_model:
    gpt_destroy(&m);
    return rc;
}

int main(int argc, char **argv)
{
    dist_t dist;
    if (dist_init(&dist, &argc, &argv)) return fail(err_msg());
    const char *ckpt = NULL, *tok = NULL, *prompt = NULL, *prompt_file = NULL;
    int n_new = 64, top_k = 0, samples = 1;
    double temperature = 1;
    uint64_t seed = 1;
    cli_t cli;
    cli_init(&cli, TOOL, usage, options, dist.rank != 0);
    for (int o; (o = cli_next(&cli, argc, argv)) != CLI_END;) {
        int bad = 0;
        switch (o) {
        case OPT_CKPT: ckpt = cli.arg; break;
        case OPT_TOKENIZER: tok = cli.arg; break;
        case OPT_PROMPT: prompt = cli.arg; break;
        case OPT_PROMPT_FILE: prompt_file = cli.arg; break;
        case OPT_TOKENS: bad = cli_int(&cli, 1, 1000000, &n_new); break;
        case OPT_TEMPERATURE: bad = cli_double(&cli, 0, 1e6, &temperature); break;
        /* the vocabulary, top-k's upper bound, is the checkpoint's: sample_check */
        case OPT_TOP_K: bad = cli_int(&cli, 0, 1 << 30, &top_k); break;
        case OPT_SEED: bad = cli_u64(&cli, &seed); break;
        case OPT_SAMPLES: bad = cli_int(&cli, 1, 1000, &samples); break;
        default: return dist_exit(TOOL, cli.exit_code, NULL); /* CLI_EXIT: said already */
        }
        if (bad) return dist_exit(TOOL, IL_EXIT_INPUT, NULL);
    }
    if (cli_no_operands(&cli, argc, argv)) return dist_exit(TOOL, IL_EXIT_INPUT, NULL);
    if (!ckpt || !prompt == !prompt_file)
        return dist_exit(TOOL, cli_fail(&cli, "give --ckpt and one of --prompt and --prompt-file"), NULL);
    uint8_t *file_text = NULL;
    size_t len;
    if (prompt_file) {
        if (bytes_read_file(prompt_file, &file_text, &len)) return fail(err_msg());
    } else {
        len = strlen(prompt);
    }
    int rc = run(ckpt, tok, prompt_file ? file_text : (const uint8_t *)prompt, len,
                 prompt_file ? prompt_file : "--prompt", n_new, temperature, top_k, seed, samples);
    free(file_text);
    return rc ? fail(err_msg()) : dist_exit(TOOL, IL_EXIT_OK, NULL);
}
