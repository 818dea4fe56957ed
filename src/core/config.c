#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/afile.h"
#include "core/bytes.h"
#include "core/inifile.h"
#include "core/err.h"

/* Strings fill their field (CONFIG_STR bytes with the NUL); inifile reads lines of any length. */
#define STR_MAX (CONFIG_STR - 1)

typedef enum { KT_INT, KT_U64, KT_FLOAT, KT_STR } ktype_t;

/* Bound flags: a set flag excludes that end of [min, max]. IS_PATH marks a file or directory, whose ${VAR}s
 * are expanded when it is read. */
enum { LO_OPEN = 1, HI_OPEN = 2, IS_PATH = 4 };

typedef struct {
    const char *section, *name;
    ktype_t type;
    size_t off;
    const char *def;
    double min, max; /* value bounds for numbers, length bounds for strings; unused for uint64 */
    int flags;
    const char *help;
} keydef_t;

#define K(sec, field, type, def, lo, hi, flags, help) \
    { #sec, #field, type, offsetof(config_t, field), def, lo, hi, flags, help }
/* for keys whose field carries its section's name: trace.interval is trace_interval */
#define KS(sec, name, type, def, lo, hi, flags, help) \
    { #sec, #name, type, offsetof(config_t, sec##_##name), def, lo, hi, flags, help }

static const keydef_t keys[] = {
    K(model, vocab_size, KT_INT, "0", 0, 65536, 0, "vocabulary size; 0 takes it from the training shard"),
    K(model, seq_len, KT_INT, "64", 1, 65536, 0, "context length T in tokens"),
    K(model, n_layer, KT_INT, "4", 1, 1024, 0, "number of transformer blocks"),
    K(model, n_head, KT_INT, "4", 1, 1024, 0, "attention heads per block; must divide d_model"),
    K(model, d_model, KT_INT, "128", 1, 65536, 0, "embedding width C"),
    K(data, train_path, KT_STR, "data/brown/train.bin", 1, STR_MAX, IS_PATH, "training token shard"),
    K(data, val_path, KT_STR, "data/brown/val.bin", 0, STR_MAX, IS_PATH,
      "validation token shard; empty: no validation"),
    K(data, counts_path, KT_STR, "", 0, STR_MAX, IS_PATH,
      "unigram counts of the training shard (trace frequency buckets); empty: train.counts beside train_path"),
    K(train, global_batch, KT_INT, "8", 1, 1 << 24, 0,
      "sequences per optimizer step over all ranks; a multiple of micro_batch x ranks"),
    K(train, micro_batch, KT_INT, "8", 1, 1 << 20, 0, "sequences per rank per forward/backward pass"),
    K(train, max_steps, KT_INT, "1000", 1, INT_MAX, 0, "optimizer steps to train for"),
    K(train, seed, KT_U64, "1337", 0, 0, 0, "seed for initialization and data order"),
    K(train, threads, KT_INT, "0", 0, 4096, 0,
      "threads per rank; 0: Slurm's --cpus-per-task, else all cores for one rank and one per rank for several"),
    K(train, bucket_kb, KT_INT, "4096", 1, 1 << 24, 0,
      "KiB of gradients per all-reduce bucket, started as soon as backward completes it"),
    K(train, overlap_comm, KT_INT, "1", 0, 1, 0,
      "1: reduce gradient buckets during backward; 0: one all-reduce after it"),
    K(train, check_interval, KT_INT, "100", 0, INT_MAX, 0,
      "steps between cross-rank parameter checksums; 0 disables"),
    KS(train, order, KT_STR, "shuffle", 0, 16, 0,
      "shuffle: every epoch a seeded permutation of the shard's windows; lanes: global_batch contiguous lanes"),
    K(optim, lr, KT_FLOAT, "1e-3", 0, 10, LO_OPEN, "peak learning rate, reached after warmup"),
    K(optim, min_lr, KT_FLOAT, "1e-4", 0, 10, 0, "learning rate at the end of the cosine decay; at most lr"),
    K(optim, warmup_steps, KT_INT, "100", 0, INT_MAX, 0, "steps of linear warmup; at most max_steps"),
    K(optim, weight_decay, KT_FLOAT, "0.1", 0, 10, 0, "AdamW decoupled weight decay"),
    K(optim, beta1, KT_FLOAT, "0.9", 0, 1, HI_OPEN, "AdamW first-moment decay"),
    K(optim, beta2, KT_FLOAT, "0.95", 0, 1, HI_OPEN, "AdamW second-moment decay"),
    K(optim, eps, KT_FLOAT, "1e-8", 0, 1, LO_OPEN, "AdamW denominator epsilon"),
    K(optim, grad_clip, KT_FLOAT, "1.0", 0, 1e6, 0, "global gradient-norm clip threshold; 0 disables"),
    KS(eval, interval, KT_INT, "100", 0, INT_MAX, 0, "steps between validation passes; 0 disables"),
    KS(eval, batches, KT_INT, "8", 0, 1 << 20, 0, "global batches of windows per validation pass, spread over the validation shard"),
    KS(trace, interval, KT_INT, "50", 0, INT_MAX, 0,
      "steps between trace records (plus the first and last step); 0: no tracing"),
    KS(trace, log_spaced, KT_INT, "1", 0, 1, 0, "1: also trace ten log-spaced steps per decade (1, 2, 3, 4, 5, 6, 8, 10, 13, ...)"),
    KS(trace, lens, KT_INT, "1", 0, 1, 0, "1: record the logit-lens loss per depth (S5)"),
    KS(trace, local, KT_INT, "1", 0, 1, 0, "1: record the local descent cosine (S3b; needs the logit lens)"),
    KS(trace, lens_stride, KT_INT, "1", 1, 65536, 0, "logit lens on every lens_stride-th position, to make it cheaper"),
    KS(trace, n_sv, KT_INT, "8", 1, 65536, 0, "singular values kept per depth (S9)"),
    KS(trace, spectrum, KT_STR, "scalapack", 0, 16, 0,
      "S9 route: scalapack (distributed QR, then the SVD of its C x C triangle), gram (C x C Gram matrix, cheaper, squares the condition number) or off"),
    KS(trace, sync_every, KT_INT, "5", 1, INT_MAX, 0, "trace records between syncs to disk (and at every checkpoint)"),
    KS(trace, probe_windows, KT_INT, "64", 1, 65536, 0,
      "held-out windows every trace step measures, drawn once from the validation shard, spread over its genres"),
    KS(trace, probe_groups, KT_INT, "8", 1, 4096, 0,
      "groups the probe windows are dealt into, each traced whole by one rank: the units of the intervals"),
    K(run, name, KT_STR, "run", 1, STR_MAX, 0,
      "run name of letters, digits, '.', '_', '-'; the run directory is out_dir/name"),
    K(run, out_dir, KT_STR, "runs", 1, STR_MAX, IS_PATH, "directory holding run directories"),
    K(run, log_interval, KT_INT, "10", 1, INT_MAX, 0, "steps between log lines"),
    K(run, ckpt_interval, KT_INT, "0", 0, INT_MAX, 0, "steps between checkpoints; 0: only at the end"),
    K(run, keep_ckpts, KT_INT, "3", 0, 1 << 20, 0, "newest checkpoints kept; 0 keeps all"),
};
#undef K
#undef KS

#define N_KEYS (sizeof keys / sizeof keys[0])

static const char *type_name(ktype_t t)
{
    static const char *names[] = {"int", "uint64", "float", "string"};
    return names[t];
}

/* Shortest "%.*g" text that reads back to the same float: "0.001" rather than "0.00100000005". */
static void format_float(char *buf, size_t n, float v)
{
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        float back = strtof(buf, NULL);
        if (memcmp(&back, &v, sizeof v) == 0) return;
    }
}

static void format_value(char *buf, size_t n, const keydef_t *k, const config_t *c)
{
    const char *p = (const char *)c + k->off;
    switch (k->type) {
    case KT_INT: snprintf(buf, n, "%d", *(const int *)p); break;
    case KT_U64: snprintf(buf, n, "%" PRIu64, *(const uint64_t *)p); break;
    case KT_FLOAT: format_float(buf, n, *(const float *)p); break;
    case KT_STR: snprintf(buf, n, "%s", p); break;
    }
}

static void format_range(char *buf, size_t n, const keydef_t *k)
{
    const char *fmt = k->type == KT_FLOAT ? "%s%g, %g%s" : "%s%.0f, %.0f%s";
    snprintf(buf, n, fmt, k->flags & LO_OPEN ? "(" : "[", k->min, k->max, k->flags & HI_OPEN ? ")" : "]");
}

/* `pre` is "" or a location such as "a.ini:7: "; `text` is the value as the user wrote it. */
static int check_range(const keydef_t *k, double v, const char *text, const char *pre)
{
    int lo_ok = k->flags & LO_OPEN ? v > k->min : v >= k->min;
    int hi_ok = k->flags & HI_OPEN ? v < k->max : v <= k->max;
    if (lo_ok && hi_ok) return 0;
    char range[64];
    format_range(range, sizeof range, k);
    if (k->type == KT_STR)
        return err_set("%s%s.%s: value has %.0f characters; allowed %s", pre, k->section, k->name, v, range);
    return err_set("%s%s.%s: '%s' is out of range %s", pre, k->section, k->name, text, range);
}

/* The INI writer cannot quote, so a string must survive inih's whitespace trimming and ';' comments. */
static int check_string(const keydef_t *k, const char *s, size_t len, const char *pre)
{
    CALL(check_range(k, (double)len, s, pre));
    int bad = len && (isspace((unsigned char)s[0]) || isspace((unsigned char)s[len - 1]));
    for (size_t i = 0; i < len; i++) bad |= iscntrl((unsigned char)s[i]) || s[i] == ';';
    if (bad)
        return err_set("%s%s.%s: value contains ';', a control character or leading/trailing space", pre,
                       k->section, k->name);
    return 0;
}

/* Bounds of the value currently in `c`, for config_validate(): a struct filled in by code gets the same
 * checks as one read from a file. */
static int check_key(const keydef_t *k, const config_t *c)
{
    const char *p = (const char *)c + k->off;
    if (k->type == KT_U64) return 0;
    if (k->type == KT_STR) {
        size_t len = strnlen(p, CONFIG_STR);
        if (len == CONFIG_STR) return err_set("%s.%s: string is not terminated", k->section, k->name);
        return check_string(k, p, len, "");
    }
    char text[64];
    format_value(text, sizeof text, k, c);
    if (k->type == KT_INT) return check_range(k, *(const int *)p, text, "");
    if (!isfinite(*(const float *)p))
        return err_set("%s.%s: %s is not a finite number", k->section, k->name, text);
    return check_range(k, *(const float *)p, text, "");
}

int config_expand_env(const char *text, char *out, size_t n, const char *what)
{
    size_t len = 0;
    for (const char *p = text; *p;) {
        const char *piece = p;
        size_t piece_len = 1, name_len = p[0] == '$' && p[1] == '{' && (isalpha((unsigned char)p[2]) || p[2] == '_')
                                             ? strspn(p + 2, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
                                             : 0;
        if (name_len && p[2 + name_len] == '}') {
            char name[256];
            if (name_len >= sizeof name) return err_set("%s: a variable name of %zu characters", what, name_len);
            snprintf(name, sizeof name, "%.*s", (int)name_len, p + 2);
            if (!(piece = getenv(name))) return err_set("%s: ${%s} is not set", what, name);
            piece_len = strlen(piece);
            p += name_len + 3;
        } else {
            p++;
        }
        if (len + piece_len >= n)
            return err_set("%s: longer than %zu characters with its variables expanded", what, n - 1);
        memcpy(out + len, piece, piece_len);
        len += piece_len;
    }
    out[len] = '\0';
    return 0;
}

/* Converts `text` into the field of `c`, rejecting anything but a whole, in-range value. */
static int parse_value(const keydef_t *k, config_t *c, const char *text, const char *pre)
{
    char *p = (char *)c + k->off, *end;
    errno = 0;
    switch (k->type) {
    case KT_INT: {
        long v = strtol(text, &end, 10);
        if (end == text || *end || isspace((unsigned char)text[0]))
            return err_set("%s%s.%s: '%s' is not an integer", pre, k->section, k->name, text);
        /* On overflow strtol saturates to LONG_MIN/LONG_MAX, outside every bound in the table. */
        CALL(check_range(k, (double)v, text, pre));
        *(int *)p = (int)v;
        return 0;
    }
    case KT_U64: {
        /* strtoull would quietly wrap "-1" to 2^64-1. */
        if (!isdigit((unsigned char)text[0]))
            return err_set("%s%s.%s: '%s' is not an unsigned integer", pre, k->section, k->name, text);
        unsigned long long v = strtoull(text, &end, 10);
        if (*end) return err_set("%s%s.%s: '%s' is not an unsigned integer", pre, k->section, k->name, text);
        if (errno == ERANGE)
            return err_set("%s%s.%s: '%s' does not fit in 64 bits", pre, k->section, k->name, text);
        *(uint64_t *)p = v;
        return 0;
    }
    case KT_FLOAT: {
        float v = strtof(text, &end);
        if (end == text || *end || isspace((unsigned char)text[0]))
            return err_set("%s%s.%s: '%s' is not a number", pre, k->section, k->name, text);
        if (errno == ERANGE)
            return err_set("%s%s.%s: '%s' is beyond the range of a float", pre, k->section, k->name, text);
        if (!isfinite(v))
            return err_set("%s%s.%s: '%s' is not a finite number", pre, k->section, k->name, text);
        CALL(check_range(k, v, text, pre));
        *(float *)p = v;
        return 0;
    }
    case KT_STR: {
        /* STR_MAX < CONFIG_STR, so a string that passes fits the field; strncpy zero-fills the rest, so two
         * equal configs are equal byte for byte. */
        char expanded[CONFIG_STR], what[4400];
        if (k->flags & IS_PATH && strstr(text, "${")) {
            snprintf(what, sizeof what, "%s%s.%s", pre, k->section, k->name);
            CALL(config_expand_env(text, expanded, sizeof expanded, what));
            text = expanded;
        }
        CALL(check_string(k, text, strlen(text), pre));
        strncpy(p, text, CONFIG_STR);
        return 0;
    }
    }
    return 0;
}

/* Keys renamed since a release: configs and specs written under the old name still read. */
static const char *const renamed[][3] = {{"eval", "eval_interval", "interval"}, {"eval", "eval_batches", "batches"}};

static const keydef_t *find_key(const char *section, const char *name)
{
    for (size_t r = 0; r < sizeof renamed / sizeof *renamed; r++)
        if (!strcmp(renamed[r][0], section) && !strcmp(renamed[r][1], name)) name = renamed[r][2];
    for (size_t i = 0; i < N_KEYS; i++)
        if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, name)) return &keys[i];
    return NULL;
}

static int unknown_key(const char *section, const char *name, const char *pre)
{
    if (!*section) return err_set("%skey '%s' is outside any [section]", pre, name);
    for (size_t i = 0; i < N_KEYS; i++)
        if (!strcmp(keys[i].section, section)) return err_set("%sunknown key '%s.%s'", pre, section, name);
    return err_set("%sunknown key '%s.%s' (no section [%s])", pre, section, name, section);
}

void config_defaults(config_t *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < N_KEYS; i++)
        CHECK(parse_value(&keys[i], c, keys[i].def, "") == 0, "bad default in key table: %s", err_msg());
}

typedef struct {
    config_t cfg;
    const char *path;
} load_ctx_t;

/* Duplicate keys are applied in order, so the last one wins: appending "key = value" to a copied config
 * then overrides the earlier line, the same way --set overrides the file. */
static int on_key(void *user, const char *section, const char *name, const char *value, int line)
{
    load_ctx_t *x = user;
    char pre[4200];
    snprintf(pre, sizeof pre, "%s:%d: ", x->path, line);
    const keydef_t *k = find_key(section, name);
    return k ? parse_value(k, &x->cfg, value, pre) : unknown_key(section, name, pre);
}

int config_load(config_t *c, const char *path)
{
    FILE *f = bytes_fopen_regular(path);
    if (!f) return -1;
    int rc = config_load_stream(c, f, path);
    fclose(f);
    return rc;
}

int config_load_stream(config_t *c, FILE *f, const char *path)
{
    load_ctx_t x = {.cfg = *c, .path = path};
    CALL(inifile_parse(f, path, on_key, &x));
    *c = x.cfg;
    return 0;
}

void config_mark_absent(config_t *c) { snprintf(c->train_order, sizeof c->train_order, "lanes"); }

int config_set_key(config_t *c, const char *key, const char *value)
{
    char sec[64], name[64];
    const char *dot = strchr(key, '.');
    if (!dot) return err_set("expected section.key=value");
    if ((size_t)(dot - key) >= sizeof sec || strlen(dot + 1) >= sizeof name) return err_set("unknown key");
    snprintf(sec, sizeof sec, "%.*s", (int)(dot - key), key);
    snprintf(name, sizeof name, "%s", dot + 1);
    const keydef_t *k = find_key(sec, name);
    if (!k) return unknown_key(sec, name, "");
    config_t tmp = *c;
    CALL(parse_value(k, &tmp, value, ""));
    *c = tmp;
    return 0;
}

int config_set(config_t *c, const char *assignment)
{
    const char *eq = strchr(assignment, '=');
    char key[160];
    if (!eq) return err_set("--set %s: expected section.key=value", assignment);
    snprintf(key, sizeof key, "%.*s", (int)(eq - assignment < 159 ? eq - assignment : 159), assignment);
    CALL_CTX(config_set_key(c, key, eq + 1), "--set %s", assignment);
    return 0;
}

int config_run_name_ok(const char *s)
{
    if (!*s || !strcmp(s, ".") || !strcmp(s, "..")) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("._-", *s)) return 0;
    return 1;
}

int config_validate(const config_t *c, int world_size)
{
    for (size_t i = 0; i < N_KEYS; i++)
        CALL(check_key(&keys[i], c));
    if (world_size < 1) return err_set("world size %d: must be at least 1", world_size);
    if (c->vocab_size == 1) return err_set("model.vocab_size: 1 is too small; use 0 (from data) or at least 2");
    if (c->d_model % c->n_head)
        return err_set("model.d_model (%d) is not divisible by model.n_head (%d)", c->d_model, c->n_head);
    long long per_step = (long long)c->micro_batch * world_size;
    if (c->global_batch % per_step)
        return err_set("train.global_batch (%d) is not divisible by train.micro_batch (%d) x world size (%d) = %lld",
                       c->global_batch, c->micro_batch, world_size, per_step);
    if (c->min_lr > c->lr) return err_set("optim.min_lr (%g) is above optim.lr (%g)", c->min_lr, c->lr);
    if (c->warmup_steps > c->max_steps)
        return err_set("optim.warmup_steps (%d) is above train.max_steps (%d)", c->warmup_steps, c->max_steps);
    if (c->eval_interval > 0 && c->val_path[0] && c->eval_batches == 0)
        return err_set("eval.batches is 0 while eval.interval (%d) and data.val_path are set",
                       c->eval_interval);
    if (strcmp(c->train_order, "shuffle") && strcmp(c->train_order, "lanes"))
        return err_set("train.order '%s': use shuffle or lanes", c->train_order);
    if (strcmp(c->trace_spectrum, "scalapack") && strcmp(c->trace_spectrum, "gram") && strcmp(c->trace_spectrum, "off"))
        return err_set("trace.spectrum '%s': use scalapack, gram or off", c->trace_spectrum);
    if (c->trace_interval > 0 && c->trace_probe_groups > c->trace_probe_windows)
        return err_set("trace.probe_groups (%d) is above trace.probe_windows (%d)", c->trace_probe_groups,
                       c->trace_probe_windows);
    if (c->trace_interval > 0 && c->trace_probe_groups < world_size)
        return err_set("trace.probe_groups (%d) is below the world size (%d): every rank traces at least one group",
                       c->trace_probe_groups, world_size);
    if (c->trace_local && !c->trace_lens)
        return err_set("trace.local needs trace.lens: the local descent cosine is the logit lens's gradient");
    if (!config_run_name_ok(c->name))
        return err_set("run.name '%s': use only letters, digits, '.', '_', '-' (it names a directory)", c->name);
    return 0;
}

int config_write(const config_t *c, FILE *f)
{
    const char *section = "";
    for (size_t i = 0; i < N_KEYS; i++) {
        const keydef_t *k = &keys[i];
        if (strcmp(k->section, section)) fprintf(f, "%s[%s]\n", i ? "\n" : "", section = k->section);
        char value[CONFIG_STR];
        format_value(value, sizeof value, k, c);
        fprintf(f, "; %s\n%s = %s\n", k->help, k->name, value);
    }
    if (fflush(f) || ferror(f)) return err_set("config: write failed: %s", strerror(errno));
    return 0;
}

char *config_string(const config_t *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK(f && config_write(c, f) == 0 && fclose(f) == 0, "config_write to memory: out of memory");
    return text;
}

int config_get(const config_t *c, const char *key, char *buf, size_t n)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s.%s", keys[i].section, keys[i].name);
        if (!strcmp(name, key)) {
            format_value(buf, n, &keys[i], c);
            return 0;
        }
    }
    return -1;
}

int config_save(const config_t *c, const char *path, int mode)
{
    afile_t af;
    CALL(afile_open(&af, path, mode));
    if (config_write(c, af.f)) {
        afile_abort(&af);
        return -1;
    }
    return afile_commit(&af);
}

/* Whether key `name` ("section.key") of section `section` is in `ignore` by itself or by its section. */
static int ignored(const char *const *ignore, const char *name, const char *section)
{
    for (const char *const *g = ignore; g && *g; g++)
        if (!strcmp(*g, name) || !strcmp(*g, section)) return 1;
    return 0;
}

static int cmp_lines(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

char *config_canonical(const config_t *c, const char *const *ignore)
{
    char *lines[N_KEYS];
    size_t n = 0, total = 1;
    for (size_t i = 0; i < N_KEYS; i++) {
        const keydef_t *k = &keys[i];
        char name[64], value[CONFIG_STR];
        snprintf(name, sizeof name, "%s.%s", k->section, k->name);
        if (ignored(ignore, name, k->section)) continue;
        format_value(value, sizeof value, k, c);
        size_t len = strlen(name) + strlen(value) + 5;
        lines[n] = err_calloc(len, 1);
        total += (size_t)snprintf(lines[n++], len, "%s = %s\n", name, value);
    }
    /* sorted by key, so that the order of the table never renames a run */
    qsort(lines, n, sizeof *lines, cmp_lines);
    char *text = err_calloc(total, 1);
    for (size_t i = 0, len = 0; i < n; i++) {
        len += (size_t)snprintf(text + len, total - len, "%s", lines[i]);
        free(lines[i]);
    }
    return text;
}

int config_diff(const config_t *a, const config_t *b, const char *const *ignore, char *key, size_t n)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        const keydef_t *k = &keys[i];
        char name[64], va[CONFIG_STR], vb[CONFIG_STR];
        snprintf(name, sizeof name, "%s.%s", k->section, k->name);
        int skip = ignored(ignore, name, k->section);
        format_value(va, sizeof va, k, a);
        format_value(vb, sizeof vb, k, b);
        if (!skip && strcmp(va, vb)) {
            snprintf(key, n, "%s (%s, not %s)", name, vb, va);
            return 1;
        }
    }
    return 0;
}

void config_print_keys_markdown(FILE *f)
{
    fprintf(f, "| key | type | default | meaning |\n|---|---|---|---|\n");
    for (size_t i = 0; i < N_KEYS; i++) {
        const keydef_t *k = &keys[i];
        char range[80] = "";
        if (k->type == KT_INT || k->type == KT_FLOAT) {
            char r[64];
            format_range(r, sizeof r, k);
            snprintf(range, sizeof range, " Range %s.", r);
        } else if (k->type == KT_STR) {
            snprintf(range, sizeof range, " At most %.0f characters.", k->max);
        }
        fprintf(f, "| `%s.%s` | %s | `%s` | %s.%s |\n", k->section, k->name, type_name(k->type),
                k->def, k->help, range);
    }
}

void config_counts_path(const config_t *c, char *out, size_t n)
{
    if (c->counts_path[0]) {
        snprintf(out, n, "%s", c->counts_path);
        return;
    }
    char dir[CONFIG_STR];
    snprintf(dir, sizeof dir, "%s", c->train_path);
    snprintf(out, n, "%s/train.counts", dirname(dir));
}
