/* il-ckpt: look inside checkpoints. `info` lists a checkpoint's sections and what it holds; `diff`
 * compares the parameters of two checkpoints of the same model (used by the tests to check that two ways
 * of training give the same model, and by users to see how far two runs drifted) and, as cmp and diff do,
 * exits 0 when they are the same, 1 when they differ, 2 on bad input. `import` and `export` convert GPT-2
 * checkpoints of Hugging Face and llm.c (run/hfgpt2.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/err.h"
#include "run/ckptfile.h"
#include "run/hfgpt2.h"
#include "run/snapshot.h"

enum { IL_EXIT_DIFFER = 1 };

static int fail(const char *msg)
{
    fprintf(stderr, "il-ckpt: %s\n", msg);
    return IL_EXIT_INPUT;
}

static int info(const char *path)
{
    ckptfile_reader_t r;
    if (snapshot_open(&r, path)) return fail(err_msg());
    int32_t dims[5], world = 0;
    int64_t step = -1;
    printf("%s\n", r.path);
    if (!ckptfile_get(&r, "dims", dims, sizeof dims))
        printf("  model: V=%d T=%d L=%d NH=%d C=%d\n", dims[0], dims[1], dims[2], dims[3], dims[4]);
    if (!ckptfile_get(&r, "step", &step, sizeof step)) printf("  step: %lld\n", (long long)step);
    if (!ckptfile_get(&r, "world", &world, sizeof world)) printf("  written by %d rank%s\n", world, world == 1 ? "" : "s");
    const void *source;
    size_t source_len;
    if (!ckptfile_view(&r, "source", &source, &source_len))
        printf("  imported from %.*s\n", (int)source_len, (const char *)source);
    for (int i = 0; i < r.n_sections; i++)
        printf("  section %-12s %12llu bytes\n", r.sections[i].tag, (unsigned long long)r.sections[i].bytes);
    ckptfile_close(&r);
    return IL_EXIT_OK;
}

static int diff(const char *pa, const char *pb)
{
    ckptfile_reader_t a, b;
    if (snapshot_open(&a, pa)) return fail(err_msg());
    if (snapshot_open(&b, pb)) {
        ckptfile_close(&a);
        return fail(err_msg());
    }
    const void *va, *vb;
    size_t na, nb;
    int rc = IL_EXIT_OK;
    if (ckptfile_view(&a, "params", &va, &na) || ckptfile_view(&b, "params", &vb, &nb)) rc = fail(err_msg());
    else if (na != nb) rc = fail("the checkpoints hold models of different sizes");
    if (rc == IL_EXIT_OK) {
        const float *x = va, *y = vb;
        size_t n = na / sizeof(float), differ = 0;
        double max_abs = 0, max_rel = 0;
        for (size_t i = 0; i < n; i++) {
            double d = fabs((double)x[i] - y[i]);
            differ += memcmp(&x[i], &y[i], sizeof *x) != 0;
            if (d > max_abs) max_abs = d;
            if (d / (fabs((double)x[i]) + 1e-12) > max_rel && fabs((double)x[i]) > 1e-3) max_rel = d / fabs((double)x[i]);
        }
        printf("%zu parameters, %zu differ in their bits; max |a-b| %.3g, max relative %.3g (|a| > 1e-3)\n", n,
               differ, max_abs, max_rel);
        if (differ) rc = IL_EXIT_DIFFER;
    }
    ckptfile_close(&a);
    ckptfile_close(&b);
    return rc;
}

static const char usage[] =
    "usage: il-ckpt info CKPT\n"
    "       il-ckpt diff CKPT_A CKPT_B\n"
    "       il-ckpt import (--hf DIR | --llmc FILE) --out CKPT_DIR [--tokenizer TOKENIZER]\n"
    "       il-ckpt export CKPT --hf OUT_DIR\n"
    "  CKPT: a checkpoint directory (runs/NAME/ckpt/step_N) or its state.ckpt\n"
    "  info: the model, step, rank count and sections of a checkpoint\n"
    "  diff: how far two checkpoints' parameters differ; exit 0 the same, 1 different, 2 bad input\n"
    "  import: a GPT-2 of Hugging Face (DIR/config.json and DIR/model.safetensors) or llm.c (gpt2_124M.bin)\n"
    "          as a new checkpoint directory; --tokenizer: the tokenizer.bin of its vocabulary (such as\n"
    "          il-prepare --tokenizer gpt2's), so that il-eval takes that tokenizer's shards\n"
    "  export: a checkpoint's model as a new Hugging Face GPT-2 directory (config.json, model.safetensors)\n"
    "  -h, --help    print this and exit; --version: print the version and commit and exit\n";

enum { OPT_HF = CLI_OPT_FIRST, OPT_LLMC, OPT_OUT, OPT_TOKENIZER };
static const struct option options[] = {{"hf", required_argument, NULL, OPT_HF},
                                        {"llmc", required_argument, NULL, OPT_LLMC},
                                        {"out", required_argument, NULL, OPT_OUT},
                                        {"tokenizer", required_argument, NULL, OPT_TOKENIZER},
                                        CLI_COMMON_OPTIONS,
                                        {0}};

static int done(int rc) { return rc ? fail(err_msg()) : IL_EXIT_OK; }

int main(int argc, char **argv)
{
    cli_t cli;
    cli_init(&cli, "il-ckpt", usage, options, 0);
    const char *hf = NULL, *llmc = NULL, *out = NULL, *tokenizer = NULL;
    for (int o; (o = cli_next(&cli, argc, argv)) != CLI_END;) {
        switch (o) {
        case OPT_HF: hf = cli.arg; break;
        case OPT_LLMC: llmc = cli.arg; break;
        case OPT_OUT: out = cli.arg; break;
        case OPT_TOKENIZER: tokenizer = cli.arg; break;
        default: return cli.exit_code; /* CLI_EXIT: said already */
        }
    }
    char **arg = argv + cli.rest;
    int n = argc - cli.rest, plain = !hf && !llmc && !out && !tokenizer;
    if (plain && n == 2 && !strcmp(arg[0], "info")) return info(arg[1]);
    if (plain && n == 3 && !strcmp(arg[0], "diff")) return diff(arg[1], arg[2]);
    if (n == 1 && !strcmp(arg[0], "import") && !hf != !llmc && out)
        return done(hf ? hfgpt2_import(hf, out, tokenizer) : hfgpt2_import_llmc(llmc, out, tokenizer));
    if (n == 2 && !strcmp(arg[0], "export") && hf && !llmc && !out && !tokenizer) return done(hfgpt2_export(arg[1], hf));
    return cli_fail(&cli, "expected `info CKPT`, `diff CKPT_A CKPT_B`, `import (--hf DIR | --llmc FILE) --out "
                          "CKPT_DIR` or `export CKPT --hf OUT_DIR`");
}
