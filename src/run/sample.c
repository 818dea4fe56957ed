#include "run/sample.h"

#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "core/config.h"
#include "core/err.h"
#include "run/ckptfile.h"
#include "run/snapshot.h"

int sample_check(double temperature, int top_k, int V)
{
    if (!(temperature >= 0) || !isfinite(temperature))
        return err_set("--temperature %g: must be a finite number >= 0 (0: greedy)", temperature);
    if (top_k < 0 || top_k > V) return err_set("--top-k %d: must be 0 (all) to the vocabulary size %d", top_k, V);
    return 0;
}

int sample_prompt(const tokenizer_t *t, const uint8_t *text, size_t len, const char *what, uint16_t **ids, size_t *n)
{
    if (len == 0) {
        int end = tokenizer_doc_end(t);
        if (end < 0) return err_set("%s: empty prompt (only GPT-2's tokenizer can start from <|endoftext|>)", what);
        *ids = malloc(sizeof **ids);
        CHECK(*ids, "out of memory");
        (*ids)[0] = (uint16_t)end;
        *n = 1;
        return 0;
    }
    CALL_CTX(tokenizer_encode(t, text, len, ids, n), "%s", what);
    return 0;
}

static const float *sort_logits; /* qsort has no context argument; sampling is single-threaded */

/* larger logit first, then lower id */
static int by_logit(const void *a, const void *b)
{
    int i = *(const int *)a, j = *(const int *)b;
    float x = sort_logits[i], y = sort_logits[j];
    return x > y ? -1 : x < y ? 1 : (i > j) - (i < j);
}

int sample_pick(const float *logits, int V, double temperature, int top_k, rng_t *rng, int *scratch)
{
    if (temperature == 0) {
        int best = 0;
        for (int v = 1; v < V; v++)
            if (logits[v] > logits[best]) best = v;
        return best;
    }
    int n = top_k > 0 ? top_k : V;
    for (int v = 0; v < V; v++) scratch[v] = v;
    if (n < V) {
        sort_logits = logits;
        qsort(scratch, (size_t)V, sizeof *scratch, by_logit);
    }
    /* the candidates are scratch[0..n); softmax in double from their maximum, so no exp overflows */
    float maxv = logits[scratch[0]];
    for (int i = 1; i < n; i++) maxv = logits[scratch[i]] > maxv ? logits[scratch[i]] : maxv;
    double sum = 0;
    for (int i = 0; i < n; i++) sum += exp((logits[scratch[i]] - maxv) / temperature);
    double u = rng_uniform(rng) * sum, acc = 0;
    for (int i = 0; i < n; i++) {
        acc += exp((logits[scratch[i]] - maxv) / temperature);
        if (u < acc) return scratch[i];
    }
    return scratch[n - 1]; /* u within rounding of the sum */
}

void sample_generate(gpt_t *m, uint16_t *ids, size_t n, int n_new, double temperature, int top_k, rng_t *rng)
{
    int V = m->d.V, C = m->d.C;
    int32_t *in = malloc((size_t)m->d.T * sizeof *in), *targets = calloc((size_t)m->d.T, sizeof *targets);
    float *logits = malloc((size_t)V * sizeof *logits);
    int *scratch = malloc((size_t)V * sizeof *scratch);
    CHECK(in && targets && logits && scratch, "out of memory");
    for (int i = 0; i < n_new; i++, n++) {
        int T = n < (size_t)m->d.T ? (int)n : m->d.T;
        for (int t = 0; t < T; t++) in[t] = ids[n - (size_t)T + (size_t)t];
        gpt_forward(m, in, targets, 1, T); /* the loss against targets 0 is not used */
        /* the logits of the last position, before the forward's softmax overwrote them: lnf times wte */
        m->k->matmul_forward(logits, m->a.lnf + (size_t)(T - 1) * C, m->p.wte, NULL, 1, C, V, 0);
        ids[n] = (uint16_t)sample_pick(logits, V, temperature, top_k, rng, scratch);
    }
    free(in);
    free(targets);
    free(logits);
    free(scratch);
}

/* The tokenizer.bin beside the data.train_path of the checkpoint's config. */
static int default_tokenizer_path(const char *ckpt, char *out, size_t n)
{
    ckptfile_reader_t r;
    CALL(snapshot_open(&r, ckpt));
    const void *text;
    size_t len;
    config_t c;
    config_defaults(&c);
    int rc = ckptfile_view(&r, "config", &text, &len);
    if (!rc) rc = config_load_text(&c, text, len, r.path);
    ckptfile_close(&r);
    if (rc) return -1;
    char dir[CONFIG_STR];
    snprintf(dir, sizeof dir, "%s", c.train_path);
    snprintf(out, n, "%s/tokenizer.bin", dirname(dir));
    return 0;
}

int sample_tokenizer(const char *ckpt, const char *path, uint32_t id, int V, tokenizer_t *t)
{
    char def[4200];
    struct stat st;
    if (!path) {
        CALL(default_tokenizer_path(ckpt, def, sizeof def));
        path = def;
        if (stat(path, &st) && errno == ENOENT) {
            CALL(tokenizer_init_byte(t));
            path = "the byte tokenizer";
        } else {
            CALL(tokenizer_load(t, path));
        }
    } else {
        CALL(tokenizer_load(t, path));
    }
    if (t->vocab_size != V || t->id != id) {
        err_set("%s: tokenizer %08x with vocab %d, but the model of %s has vocab %d and was trained with tokenizer %08x",
                path, t->id, t->vocab_size, ckpt, V, id);
        tokenizer_free(t);
        return -1;
    }
    return 0;
}
