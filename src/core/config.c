#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomicfile.h"
#include "core/bytes.h"
#include "core/inifile.h"
#include "core/keys.h"
#include "core/err.h"
#include "innerloop/config.h"

/* Strings fill their field (CONFIG_STR bytes with the NUL); inifile reads lines of any length. */
#define STR_MAX (CONFIG_STR - 1)

#define FIELD(f) offsetof(config_t, f), sizeof(((config_t *)0)->f)
#define K(sec, field, type, def, lo, hi, flags, help) { #sec, #field, type, FIELD(field), def, lo, hi, flags, NULL, NULL, help }
/* for keys whose field carries its section's name: trace.interval is trace_interval */
#define KS(sec, name, type, def, lo, hi, flags, help) \
    { #sec, #name, type, FIELD(sec##_##name), def, lo, hi, flags, NULL, NULL, help }

/* The warmup when none is given, and its text in the table. */
#define WARMUP_DEFAULT 100
#define WARMUP_TEXT "100"

static const keydef_t keys[] = {
    K(model, vocab_size, KEY_INT, "0", 0, CONFIG_MAX_VOCAB, 0, "vocabulary size; 0 takes it from the training shard"),
    K(model, seq_len, KEY_INT, "64", 1, CONFIG_MAX_SEQ, 0, "context length T in tokens"),
    K(model, n_layer, KEY_INT, "4", 1, CONFIG_MAX_LAYER, 0, "number of transformer blocks"),
    K(model, n_head, KEY_INT, "4", 1, 1024, 0, "attention heads per block; must divide d_model"),
    K(model, d_model, KEY_INT, "128", 1, CONFIG_MAX_WIDTH, 0, "embedding width C"),
    K(data, train_path, KEY_STR, "data/brown/train.bin", 1, STR_MAX, KEY_PATH, "training token shard, or a manifest of a shard set"),
    K(data, val_path, KEY_STR, "data/brown/val.bin", 0, STR_MAX, KEY_PATH,
      "validation token shard, or a manifest of a shard set; empty: no validation"),
    K(data, counts_path, KEY_STR, "", 0, STR_MAX, KEY_PATH,
      "unigram counts of the training shard (trace frequency buckets); empty: train.counts beside train_path"),
    K(train, global_batch, KEY_INT, "8", 1, 1 << 24, 0,
      "sequences per optimizer step over all ranks; a multiple of micro_batch x ranks"),
    K(train, micro_batch, KEY_INT, "8", 1, 1 << 20, 0, "sequences per rank per forward/backward pass"),
    K(train, max_steps, KEY_INT, "1000", 1, INT_MAX, 0, "optimizer steps to train for"),
    K(train, seed, KEY_U64, "1337", 0, 0, 0, "seed for initialization and data order"),
    K(train, threads, KEY_INT, "0", 0, 4096, 0,
      "threads per rank; 0: Slurm's --cpus-per-task, else all cores for one rank and one per rank for several"),
    K(train, bucket_kb, KEY_INT, "1024", 1, 1 << 24, 0,
      "KiB of gradients per all-reduce bucket, reduced as soon as backward completes it (train.allreduce = overlap)"),
    K(train, allreduce, KEY_STR, "auto", 0, 16, 0,
      "overlap: reduce gradient buckets on a communication thread during backward, on core time it leaves "
      "idle (none with one thread a rank and no spare core: then as blocking); blocking: one all-reduce "
      "after it; auto: time both at the start of each launch and keep the faster"),
    K(train, check_interval, KEY_INT, "100", 0, INT_MAX, 0,
      "steps between cross-rank parameter checksums; 0 disables"),
    KS(train, order, KEY_STR, "shuffle", 0, 16, 0,
      "shuffle: every epoch a seeded permutation of the shard's windows; lanes: global_batch contiguous lanes"),
    K(optim, lr, KEY_FLOAT, "1e-3", 0, 10, KEY_LO_OPEN, "peak learning rate, reached after warmup"),
    K(optim, min_lr, KEY_FLOAT, "1e-4", 0, 10, 0, "learning rate at the end of the cosine decay; at most lr"),
    K(optim, warmup_steps, KEY_INT, WARMUP_TEXT, 0, INT_MAX, 0,
      "steps of linear warmup, at most max_steps; when not given, a run of fewer than " WARMUP_TEXT
      " steps warms up for a tenth of them"),
    K(optim, weight_decay, KEY_FLOAT, "0.1", 0, 10, 0, "AdamW decoupled weight decay"),
    K(optim, beta1, KEY_FLOAT, "0.9", 0, 1, KEY_HI_OPEN, "AdamW first-moment decay"),
    K(optim, beta2, KEY_FLOAT, "0.95", 0, 1, KEY_HI_OPEN, "AdamW second-moment decay"),
    K(optim, eps, KEY_FLOAT, "1e-8", 0, 1, KEY_LO_OPEN, "AdamW denominator epsilon"),
    K(optim, grad_clip, KEY_FLOAT, "1.0", 0, 1e6, 0, "global gradient-norm clip threshold; 0 disables"),
    KS(eval, interval, KEY_INT, "100", 0, INT_MAX, 0, "steps between validation passes; 0 disables"),
    KS(eval, batches, KEY_INT, "8", 0, 1 << 20, 0, "global batches of windows per validation pass, spread over the validation shard"),
    KS(trace, interval, KEY_INT, "50", 0, INT_MAX, 0,
      "steps between trace records (plus the first and last step); 0: no tracing"),
    KS(trace, log_spaced, KEY_INT, "2", 0, 2, 0,
      "early steps traced besides every interval-th: 2 the powers of two below trace.interval (1, 2, 4, ..., then the stride alone); 1 ten log-spaced steps per decade at every scale (1, 2, 3, 4, 5, 6, 8, 10, 13, ...); 0 none"),
    KS(trace, full_every, KEY_INT, "4", 1, INT_MAX, 0,
      "S9, H4 and the per-genre signals only at every full_every-th trace step and the last (NaN at the others); 1: at every trace step"),
    KS(trace, lens, KEY_INT, "1", 0, 1, 0, "1: record the logit-lens loss per depth (S5)"),
    KS(trace, local, KEY_INT, "1", 0, 1, 0, "1: record the local descent cosine (S3b; needs the logit lens)"),
    KS(trace, lens_stride, KEY_INT, "1", 1, 65536, 0, "logit lens on every lens_stride-th position, to make it cheaper"),
    KS(trace, n_sv, KEY_INT, "8", 1, 65536, 0, "singular values kept per depth (S9)"),
    KS(trace, spectrum, KEY_STR, "scalapack", 0, 16, 0,
      "S9 route: scalapack (distributed QR, then the SVD of its C x C triangle), gram (C x C Gram matrix, cheaper, squares the condition number) or off"),
    KS(trace, sync_every, KEY_INT, "5", 1, INT_MAX, 0, "trace records between syncs to disk (and at every checkpoint)"),
    KS(trace, probe_windows, KEY_INT, "64", 1, 65536, 0,
      "held-out windows every trace step measures, drawn once from the validation shard, spread over its genres"),
    KS(trace, probe_groups, KEY_INT, "8", 1, 4096, 0,
      "groups the probe windows are dealt into, each traced whole by one rank: the units of the intervals"),
    K(run, name, KEY_STR, "run", 1, STR_MAX, 0,
      "run name of letters, digits, '.', '_', '-'; the run directory is out_dir/name"),
    K(run, out_dir, KEY_STR, "runs", 1, STR_MAX, KEY_PATH, "directory holding run directories"),
    K(run, log_interval, KEY_INT, "10", 1, INT_MAX, 0, "steps between log lines"),
    K(run, ckpt_interval, KEY_INT, "0", 0, INT_MAX, 0, "steps between checkpoints; 0: only at the end"),
    K(run, tensorboard, KEY_INT, "1", 0, 1, 0,
      "1: write TensorBoard scalar event files into the run directory's tb/ (rank 0)"),
    K(run, keep_ckpts, KEY_INT, "3", 0, 1 << 20, 0, "newest checkpoints kept; 0 keeps all"),
};
#undef K
#undef KS
#undef FIELD

#define N_KEYS (sizeof keys / sizeof keys[0])

/* Keys renamed since a release: configs and specs written under the old name still read. */
static const char *const renamed[][3] = {{"eval", "eval_interval", "interval"}, {"eval", "eval_batches", "batches"}};
/* Switches replaced by a key of named values: section, old name, new name, the values for 0 and 1. Saved
 * configs hold train.overlap_comm = 1 from before train.allreduce. */
static const char *const retired[][5] = {{"train", "overlap_comm", "allreduce", "blocking", "overlap"}};

/* The name and value an old switch stands for; other keys and values pass unchanged. */
static void translate(const char *section, const char **name, const char **value)
{
    for (size_t r = 0; r < sizeof retired / sizeof *retired; r++)
        if (!strcmp(retired[r][0], section) && !strcmp(retired[r][1], *name)) {
            *name = retired[r][2];
            if (!strcmp(*value, "0") || !strcmp(*value, "1")) *value = retired[r][3 + (**value - '0')];
        }
}

static const keydef_t *find_key(const char *section, const char *name)
{
    for (size_t r = 0; r < sizeof renamed / sizeof *renamed; r++)
        if (!strcmp(renamed[r][0], section) && !strcmp(renamed[r][1], name)) name = renamed[r][2];
    for (size_t i = 0; i < N_KEYS; i++)
        if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, name)) return &keys[i];
    return NULL;
}

void config_suggest_key(char *buf, size_t n, const char *section, const char *name)
{
    key_suggest(buf, n, keys, N_KEYS, section, name);
}

static int unknown_key(const char *section, const char *name, const char *pre)
{
    char near[160];
    config_suggest_key(near, sizeof near, section, name);
    if (!*section) return err_set("%skey '%s' is outside any [section]%s", pre, name, near);
    for (size_t i = 0; i < N_KEYS; i++)
        if (!strcmp(keys[i].section, section)) return err_set("%sunknown key '%s.%s'%s", pre, section, name, near);
    return err_set("%sunknown key '%s.%s' (no section [%s])%s", pre, section, name, section, near);
}

void config_defaults(config_t *c)
{
    memset(c, 0, sizeof *c);
    key_defaults(keys, N_KEYS, c);
}

/* After key k was read into c: a warmup given stays as given; one not given follows train.max_steps, so
 * that a short trial run (--set train.max_steps=30) is not refused for a warmup longer than the run, and
 * every run that was valid before keeps its warmup. */
static void after_key(config_t *c, const keydef_t *k)
{
    if (k->off == offsetof(config_t, warmup_steps)) c->warmup_given = 1;
    if (k->off == offsetof(config_t, max_steps) && !c->warmup_given)
        c->warmup_steps = c->max_steps < WARMUP_DEFAULT ? c->max_steps / 10 : WARMUP_DEFAULT;
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
    translate(section, &name, &value);
    const keydef_t *k = find_key(section, name);
    if (!k) return unknown_key(section, name, pre);
    CALL(key_parse(k, &x->cfg, value, pre, 1));
    after_key(&x->cfg, k);
    return 0;
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

int config_load_text(config_t *c, const void *text, size_t len, const char *name)
{
    FILE *f = fmemopen((void *)text, len, "r");
    if (!f) return err_set("%s: fmemopen failed: %s", name, strerror(errno));
    int rc = config_load_stream(c, f, name);
    fclose(f);
    return rc;
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
    const char *new_name = name;
    translate(sec, &new_name, &value);
    const keydef_t *k = find_key(sec, new_name);
    if (!k) return unknown_key(sec, name, "");
    config_t tmp = *c;
    CALL(key_parse(k, &tmp, value, "", 1));
    after_key(&tmp, k);
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
        CALL(key_check(&keys[i], c));
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
        return err_set("optim.warmup_steps (%d) is above train.max_steps (%d): set optim.warmup_steps to at most %d "
                       "(e.g. optim.warmup_steps=%d, a tenth of the run)",
                       c->warmup_steps, c->max_steps, c->max_steps, c->max_steps / 10);
    if (c->eval_interval > 0 && c->val_path[0] && c->eval_batches == 0)
        return err_set("eval.batches is 0 while eval.interval (%d) and data.val_path are set",
                       c->eval_interval);
    if (strcmp(c->train_order, "shuffle") && strcmp(c->train_order, "lanes"))
        return err_set("train.order '%s': use shuffle or lanes", c->train_order);
    if (strcmp(c->allreduce, "auto") && strcmp(c->allreduce, "overlap") && strcmp(c->allreduce, "blocking"))
        return err_set("train.allreduce '%s': use auto, overlap or blocking", c->allreduce);
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
        key_format(value, sizeof value, k, c);
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
            key_format(buf, n, &keys[i], c);
            return 0;
        }
    }
    return -1;
}

int config_save(const config_t *c, const char *path, int mode)
{
    atomicfile_t af;
    CALL(atomicfile_open(&af, path, mode));
    if (config_write(c, af.f)) {
        atomicfile_abort(&af);
        return -1;
    }
    return atomicfile_commit(&af);
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
        key_format(value, sizeof value, k, c);
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
        key_format(va, sizeof va, k, a);
        key_format(vb, sizeof vb, k, b);
        if (!skip && strcmp(va, vb)) {
            snprintf(key, n, "%s (%s, not %s)", name, vb, va);
            return 1;
        }
    }
    return 0;
}

void config_print_keys_markdown(FILE *f) { key_markdown(f, keys, N_KEYS); }

int il_config_key(size_t i, il_key_t *k)
{
    if (i >= N_KEYS) return -1;
    *k = (il_key_t){keys[i].section, keys[i].name, key_type_name(keys[i].type), keys[i].def ? keys[i].def : "",
                    keys[i].help};
    return 0;
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
