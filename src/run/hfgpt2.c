#include "run/hfgpt2.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomicfile.h"
#include "core/bytes.h"
#include "core/err.h"
#include "data/tokenizer.h"
#include "model/gpt.h"
#include "run/safetensors.h"
#include "run/snapshot.h"
#include "run/sha256.h"

/* innerloop's tensors (gpt_layout's names) and their Hugging Face names; a block's are "h.N." + hf. cols: a
 * matrix's columns in innerloop's layout, in units of C (0: a vector); conv: a Conv1D weight, stored
 * transposed. */
static const struct {
    const char *il, *hf;
    int cols, conv;
} map[] = {
    {"wte", "wte.weight", 1, 0},           {"wpe", "wpe.weight", 1, 0},
    {"h.ln1w", "ln_1.weight", 0, 0},       {"h.ln1b", "ln_1.bias", 0, 0},
    {"h.qkvw", "attn.c_attn.weight", 1, 1}, {"h.qkvb", "attn.c_attn.bias", 0, 0},
    {"h.projw", "attn.c_proj.weight", 1, 1}, {"h.projb", "attn.c_proj.bias", 0, 0},
    {"h.ln2w", "ln_2.weight", 0, 0},       {"h.ln2b", "ln_2.bias", 0, 0},
    {"h.fcw", "mlp.c_fc.weight", 1, 1},    {"h.fcb", "mlp.c_fc.bias", 0, 0},
    {"h.fcprojw", "mlp.c_proj.weight", 4, 1}, {"h.fcprojb", "mlp.c_proj.bias", 0, 0},
    {"lnfw", "ln_f.weight", 0, 0},         {"lnfb", "ln_f.bias", 0, 0},
};
enum { N_MAP = sizeof map / sizeof *map };

/* One tensor of the layout with its Hugging Face name and shape (as stored: a Conv1D's transposed). */
typedef struct {
    const gpt_tensor_t *t;
    int m; /* index into map */
    char name[64];
    int ndim;
    int64_t shape[2]; /* HF's */
    int64_t rows, cols; /* innerloop's */
} entry_t;

static int entries(const gpt_dims_t *d, gpt_tensor_t **tensors, entry_t **out)
{
    int n = gpt_layout(d, NULL);
    *tensors = err_calloc((size_t)n, sizeof **tensors);
    *out = err_calloc((size_t)n, sizeof **out);
    gpt_layout(d, *tensors);
    for (int i = 0; i < n; i++) {
        entry_t *e = &(*out)[i];
        e->t = &(*tensors)[i];
        for (e->m = 0; strcmp(map[e->m].il, e->t->name); e->m++) CHECK(e->m + 1 < N_MAP, "unmapped %s", e->t->name);
        if (e->t->layer >= 0) snprintf(e->name, sizeof e->name, "h.%d.%s", e->t->layer, map[e->m].hf);
        else snprintf(e->name, sizeof e->name, "%s", map[e->m].hf);
        e->cols = map[e->m].cols ? (int64_t)map[e->m].cols * d->C : (int64_t)e->t->size;
        e->rows = (int64_t)e->t->size / e->cols;
        e->ndim = map[e->m].cols ? 2 : 1;
        e->shape[0] = map[e->m].conv ? e->cols : map[e->m].cols ? e->rows : e->cols;
        e->shape[1] = map[e->m].conv ? e->rows : e->cols;
    }
    return n;
}

/* (r, c) row-major src into (c, r) dst. */
static void transpose(float *dst, const float *src, int64_t r, int64_t c)
{
    for (int64_t i = 0; i < r; i++)
        for (int64_t j = 0; j < c; j++) dst[j * r + i] = src[i * c + j];
}

static void shape_str(char *buf, size_t n, int ndim, const int64_t *shape)
{
    size_t at = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && at < n; i++)
        at += (size_t)snprintf(buf + at, n - at, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (at < n) snprintf(buf + at, n - at, "]");
}

/* --- config.json --- */

static int cfg_int(json_object *cfg, const char *path, const char *key, const char *alt, int *out)
{
    json_object *v;
    if (!json_object_object_get_ex(cfg, key, &v) && !(alt && json_object_object_get_ex(cfg, alt, &v)))
        return err_set("%s: no field %s", path, key);
    if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 1 || json_object_get_int64(v) > 1 << 30)
        return err_set("%s: field %s is not a positive integer", path, key);
    *out = json_object_get_int(v);
    return 0;
}

/* A boolean field that must be `want` or absent. */
static int cfg_bool(json_object *cfg, const char *path, const char *key, int want, const char *why)
{
    json_object *v;
    if (!json_object_object_get_ex(cfg, key, &v) || json_object_is_type(v, json_type_null)) return 0;
    if (!json_object_is_type(v, json_type_boolean) || json_object_get_boolean(v) != want)
        return err_set("%s: %s = %s is not supported: %s", path, key, json_object_to_json_string(v), why);
    return 0;
}

static int read_config(const char *dir, gpt_dims_t *d)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (access(path, R_OK)) return err_set("%s: cannot read: %s", path, strerror(errno));
    json_object *cfg = json_object_from_file(path), *v;
    if (!cfg || !json_object_is_type(cfg, json_type_object)) {
        json_object_put(cfg);
        return err_set("%s: not a JSON object", path);
    }
    int rc = cfg_int(cfg, path, "vocab_size", NULL, &d->V) || cfg_int(cfg, path, "n_positions", "n_ctx", &d->T) ||
             cfg_int(cfg, path, "n_layer", NULL, &d->L) || cfg_int(cfg, path, "n_head", NULL, &d->NH) ||
             cfg_int(cfg, path, "n_embd", NULL, &d->C);
    const char *act = !rc && json_object_object_get_ex(cfg, "activation_function", &v) ? json_object_get_string(v)
                                                                                      : "gelu_new";
    if (!rc && strcmp(act, "gelu_new") && strcmp(act, "gelu_pytorch_tanh"))
        rc = err_set("%s: activation_function = \"%s\" is not supported: innerloop's GELU is the tanh form, gelu_new",
                     path, act);
    if (!rc && json_object_object_get_ex(cfg, "layer_norm_epsilon", &v) &&
        (!json_object_is_type(v, json_type_double) || fabs(json_object_get_double(v) - 1e-5) > 1e-12))
        rc = err_set("%s: layer_norm_epsilon = %s is not supported: innerloop's LayerNorm uses 1e-5", path,
                     json_object_to_json_string(v));
    if (!rc && json_object_object_get_ex(cfg, "n_inner", &v) && !json_object_is_type(v, json_type_null) &&
        json_object_get_int64(v) != 4 * (int64_t)d->C)
        rc = err_set("%s: n_inner = %s is not supported: innerloop's MLP is 4 * n_embd wide", path,
                     json_object_to_json_string(v));
    if (!rc)
        rc = cfg_bool(cfg, path, "scale_attn_by_inverse_layer_idx", 0, "innerloop scales attention by 1/sqrt(head size) only") ||
             cfg_bool(cfg, path, "scale_attn_weights", 1, "innerloop scales attention by 1/sqrt(head size)") ||
             cfg_bool(cfg, path, "tie_word_embeddings", 1, "innerloop's head is the token embedding");
    json_object_put(cfg);
    if (!rc && gpt_dims_check(d)) rc = err_prefix("%s", path);
    return rc ? -1 : 0;
}

/* --- the checkpoint --- */

static int tokenizer_of(const char *path, const gpt_dims_t *d, uint32_t *id)
{
    *id = 0;
    if (!path) return 0;
    tokenizer_t tok;
    CALL(tokenizer_load(&tok, path));
    *id = tok.id;
    int V = (int)tok.vocab_size;
    tokenizer_free(&tok);
    if (V != d->V) return err_set("%s: a vocabulary of %d tokens, but the model's is %d", path, V, d->V);
    return 0;
}

/* "FORMAT PATH sha256 HEX": where the weights came from, for the checkpoint's source section. */
static void source_of(const char *format, const char *path, const uint8_t *bytes, size_t size, char *buf, size_t n)
{
    char hex[65];
    sha256_hex(bytes, size, hex);
    snprintf(buf, n, "%s %s sha256 %s", format, path, hex);
}

/* --- Hugging Face --- */

/* The name without the save_pretrained prefix; lm_head.weight is outside the prefix. */
static int known_name(const char *name, const entry_t *e, int n)
{
    int layer, used = 0;
    char rest[32];
    if (!strcmp(name, "lm_head.weight")) return 1;
    if (!strncmp(name, "transformer.", 12)) name += 12;
    for (int i = 0; i < n; i++)
        if (!strcmp(name, e[i].name)) return 1;
    /* the causal-mask buffers of older transformers versions: constants, not weights */
    return sscanf(name, "h.%d.attn.%31[a-z_]%n", &layer, rest, &used) == 2 && !name[used] &&
           (!strcmp(rest, "bias") || !strcmp(rest, "masked_bias"));
}

static int check_shape(const safetensors_t *s, const st_tensor_t *t, int ndim, const int64_t *shape)
{
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = t->shape[i] == shape[i];
    if (ok) return 0;
    char have[128], want[128];
    shape_str(have, sizeof have, t->ndim, t->shape);
    shape_str(want, sizeof want, ndim, shape);
    return err_set("%s: tensor '%s' has shape %s, but config.json's GPT-2 needs %s", s->path, t->name, have, want);
}

static int import_tensors(const safetensors_t *s, const gpt_dims_t *d, float *params)
{
    gpt_tensor_t *tensors;
    entry_t *e;
    int n = entries(d, &tensors, &e), rc = 0;
    for (int i = 0; !rc && i < s->n; i++)
        if (!known_name(s->t[i].name, e, n))
            rc = err_set("%s: tensor '%s' is not part of a GPT-2 model", s->path, s->t[i].name);
    const char *prefix = st_find(s, "transformer.wte.weight") ? "transformer." : "";
    size_t largest = 0; /* a Conv1D weight is read here, then transposed into place; lm_head here too */
    for (int i = 0; i < n; i++) largest = e[i].t->size > largest ? e[i].t->size : largest;
    float *tmp = err_calloc(largest, sizeof *tmp);
    for (int i = 0; !rc && i < n; i++) {
        char name[96];
        snprintf(name, sizeof name, "%s%s", prefix, e[i].name);
        const st_tensor_t *t = st_find(s, name);
        if (!t) rc = err_set("%s: missing tensor '%s'", s->path, name);
        else rc = check_shape(s, t, e[i].ndim, e[i].shape) || st_read_f32(s, t, map[e[i].m].conv ? tmp : params + e[i].t->offset);
        if (!rc && map[e[i].m].conv) transpose(params + e[i].t->offset, tmp, e[i].shape[0], e[i].shape[1]);
    }
    const st_tensor_t *head = rc ? NULL : st_find(s, "lm_head.weight");
    if (head) {
        rc = check_shape(s, head, 2, e[0].shape) || st_read_f32(s, head, tmp);
        if (!rc && memcmp(tmp, params + e[0].t->offset, e[0].t->size * sizeof *tmp))
            rc = err_set("%s: tensor 'lm_head.weight' differs from '%swte.weight': an untied head is not supported "
                         "(innerloop's head is the token embedding)", s->path, prefix);
    }
    free(tmp);
    free(e);
    free(tensors);
    return rc ? -1 : 0;
}

int hfgpt2_import(const char *dir, const char *out, const char *tokenizer)
{
    gpt_dims_t d;
    uint32_t tok_id;
    CALL(read_config(dir, &d));
    CALL(tokenizer_of(tokenizer, &d, &tok_id));
    char path[4200], source[4400];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    safetensors_t s;
    CALL(st_open(&s, path));
    size_t n = gpt_param_count(&d);
    float *params = err_calloc(n, sizeof *params);
    source_of("huggingface", path, s.buf, s.size, source, sizeof source);
    int rc = import_tensors(&s, &d, params) || snapshot_save_model(out, &d, params, tok_id, source);
    free(params);
    st_close(&s);
    return rc ? -1 : 0;
}

/* --- llm.c --- */

/* gpt2_124M.bin: 256 little-endian int32 (magic, version, maxT, V, L, NH, C, Vp, zeros), then F32 tensors in
 * llm.c's order, each for all layers at once; the wte rows past V pad the vocabulary and are dropped. Its
 * matrices are (out, in), as innerloop's. */
#define LLMC_MAGIC 20240326
#define LLMC_VERSION 3
#define LLMC_HEADER 1024

static int parse_llmc(const char *path, const uint8_t *b, size_t size, gpt_dims_t *d, float **params)
{
    if (size < LLMC_HEADER || bytes_get_u32(b) != LLMC_MAGIC)
        return err_set("%s: not an llm.c model file (no magic %d)", path, LLMC_MAGIC);
    int32_t h[8];
    for (int i = 0; i < 8; i++) h[i] = (int32_t)bytes_get_u32(b + 4 * i);
    if (h[1] != LLMC_VERSION)
        return err_set("%s: llm.c model version %d is not supported (%d: F32 with a padded vocabulary)", path, h[1],
                       LLMC_VERSION);
    *d = (gpt_dims_t){h[3], h[2], h[4], h[5], h[6]};
    int Vp = h[7];
    if (gpt_dims_check(d)) return err_prefix("%s", path);
    if (Vp < d->V) return err_set("%s: padded vocabulary %d smaller than the vocabulary %d", path, Vp, d->V);
    size_t n = gpt_param_count(d), want = LLMC_HEADER + 4 * (n + (size_t)(Vp - d->V) * d->C);
    if (size != want) return err_set("%s: %zu bytes, but its header's model needs %zu", path, size, want);
    gpt_tensor_t *t = err_calloc((size_t)gpt_layout(d, NULL), sizeof *t);
    int nt = gpt_layout(d, t);
    *params = err_calloc(n, sizeof **params);
    const uint8_t *p = b + LLMC_HEADER;
    /* llm.c's order is innerloop's tensor order, each block tensor for every layer in turn */
    for (int k = 0; k < N_MAP; k++) {
        for (int i = 0; i < nt; i++) {
            if (strcmp(t[i].name, map[k].il)) continue;
            for (size_t j = 0; j < t[i].size; j++) {
                uint32_t u = bytes_get_u32(p + 4 * j);
                memcpy(&(*params)[t[i].offset + j], &u, sizeof u);
            }
            p += 4 * t[i].size;
            if (k == 0) p += 4 * (size_t)(Vp - d->V) * d->C;
        }
    }
    free(t);
    return 0;
}

int hfgpt2_import_llmc(const char *file, const char *out, const char *tokenizer)
{
    uint8_t *b;
    size_t size;
    gpt_dims_t d;
    float *params = NULL;
    uint32_t tok_id;
    char source[4400];
    CALL(bytes_read_file(file, &b, &size));
    source_of("llm.c", file, b, size, source, sizeof source);
    int rc = parse_llmc(file, b, size, &d, &params) || tokenizer_of(tokenizer, &d, &tok_id) ||
             snapshot_save_model(out, &d, params, tok_id, source);
    free(b);
    free(params);
    return rc ? -1 : 0;
}

/* --- export --- */

static int write_config(const char *path, const gpt_dims_t *d)
{
    char text[1024];
    int len = snprintf(text, sizeof text,
                       "{\n  \"architectures\": [\"GPT2LMHeadModel\"],\n  \"model_type\": \"gpt2\",\n"
                       "  \"vocab_size\": %d,\n  \"n_positions\": %d,\n  \"n_ctx\": %d,\n  \"n_embd\": %d,\n"
                       "  \"n_layer\": %d,\n  \"n_head\": %d,\n  \"n_inner\": null,\n"
                       "  \"activation_function\": \"gelu_new\",\n  \"layer_norm_epsilon\": 1e-05,\n"
                       "  \"scale_attn_weights\": true,\n  \"scale_attn_by_inverse_layer_idx\": false,\n"
                       "  \"tie_word_embeddings\": true,\n  \"resid_pdrop\": 0.0,\n  \"embd_pdrop\": 0.0,\n"
                       "  \"attn_pdrop\": 0.0\n}\n",
                       d->V, d->T, d->T, d->C, d->L, d->NH);
    return bytes_write_file(path, (const uint8_t *)text, (size_t)len);
}

static int export_files(const char *dir, const gpt_dims_t *d, const float *params)
{
    gpt_tensor_t *tensors;
    entry_t *e;
    int n = entries(d, &tensors, &e);
    st_out_t *o = err_calloc((size_t)n, sizeof *o);
    float **bufs = err_calloc((size_t)n, sizeof *bufs);
    for (int i = 0; i < n; i++) {
        o[i] = (st_out_t){e[i].name, e[i].ndim, {e[i].shape[0], e[i].shape[1]}, params + e[i].t->offset};
        if (map[e[i].m].conv) {
            bufs[i] = err_calloc(e[i].t->size, sizeof **bufs);
            transpose(bufs[i], params + e[i].t->offset, e[i].rows, e[i].cols);
            o[i].data = bufs[i];
        }
    }
    char path[4400];
    snprintf(path, sizeof path, "%s/config.json", dir);
    int rc = write_config(path, d);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (!rc) rc = st_write_f32(path, o, n);
    for (int i = 0; i < n; i++) free(bufs[i]);
    free(bufs);
    free(o);
    free(e);
    free(tensors);
    return rc;
}

int hfgpt2_export(const char *ckpt, const char *out)
{
    if (access(out, F_OK) == 0) return err_set("%s: already exists; refusing to overwrite it", out);
    gpt_dims_t d;
    float *params;
    uint32_t tok_id;
    CALL(snapshot_load_params(ckpt, &d, &params, &tok_id));
    /* made whole under a temporary name, then renamed: a dead export leaves no half directory named out */
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)getpid());
    int rc = 0;
    if (mkdir(tmp, 0777)) rc = err_set("%s: cannot create: %s", tmp, strerror(errno));
    else {
        rc = export_files(tmp, &d, params);
        if (!rc && rename(tmp, out)) rc = err_set("%s: cannot rename into place: %s", out, strerror(errno));
        if (rc) atomicfile_remove_tree(tmp);
        else atomicfile_sync_dir_of(out);
    }
    free(params);
    return rc ? -1 : 0;
}
