#include "trace/params.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"
#include "data/tokenizer.h"

_Static_assert((int)TRACE_TOK_BYTE == (int)TOKENIZER_BYTE && (int)TRACE_TOK_BPE == (int)TOKENIZER_BPE,
               "the tokenizer parameter's values are tokenizer.bin's kinds");

static trace_value_t value(double x) { return (trace_value_t){isfinite(x) ? (int64_t)x : 0, x}; }

void tracer_params(trace_value_t param[TP_N], const config_t *c, const gpt_dims_t *d, int w, int tok)
{
#define PARAM_VALUE(id, name, type, long_name, expr) param[id] = value((double)(expr));
    TRACE_PARAMS(PARAM_VALUE)
#undef PARAM_VALUE
    /* a 64-bit seed does not survive a double: keep its bits */
    param[TP_SEED].i = (int64_t)c->seed;
}

int tracer_tokenizer(const config_t *c, uint32_t id, int *kind)
{
    const char *slash = strrchr(c->train_path, '/');
    char path[4200];
    snprintf(path, sizeof path, "%.*stokenizer.bin", slash ? (int)(slash - c->train_path + 1) : 0, c->train_path);
    tokenizer_t t;
    struct stat st;
    if (stat(path, &st) && errno == ENOENT) {
        CALL(tokenizer_init_byte(&t));
        *kind = t.id == id ? TRACE_TOK_BYTE : TRACE_TOK_UNKNOWN;
        tokenizer_free(&t);
        return 0;
    }
    CALL(tokenizer_load(&t, path));
    *kind = t.kind;
    uint32_t got = t.id;
    tokenizer_free(&t);
    if (got != id)
        return err_set("%s: tokenizer id %08x, but the training shard %s was made by tokenizer %08x", path, got,
                       c->train_path, id);
    if (!trace_tokenizer_name(*kind)) return err_set("%s: tokenizer kind %d has no name", path, *kind);
    return 0;
}
