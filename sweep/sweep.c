#include "sweep/sweep.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/err.h"
#include "core/inifile.h"

/* ---- reading the spec ---- */

typedef struct {
    sweep_spec_t *s;
    int lineno;        /* of the key being handled */
    int fixed_line[SWEEP_MAX_AXES * 8]; /* unused slots are 0 */
    char fixed_key[SWEEP_MAX_AXES * 8][SWEEP_KEY];
    int n_fixed;
    int seen_sweep_line[16]; /* line of each [sweep] key, for duplicates */
} spec_ctx_t;

/* config_set() reports "--set <assignment>: <problem>"; in a spec the location is the file and line. */
static int apply_key(config_t *c, const char *key, const char *value, const char *path, int line)
{
    char assignment[CONFIG_STR + SWEEP_KEY + 2];
    snprintf(assignment, sizeof assignment, "%s=%s", key, value);
    if (!strchr(key, '.')) return err_set("%s:%d: '%s': expected a trainer key as section.key", path, line, key);
    if (config_set(c, assignment) == 0) return 0;
    size_t skip = strlen("--set ") + strlen(assignment) + strlen(": ");
    const char *m = err_msg();
    char problem[1024];
    snprintf(problem, sizeof problem, "%s", strlen(m) > skip ? m + skip : m);
    return err_set("%s:%d: %s", path, line, problem);
}

static int only_chars(const char *v, const char *extra)
{
    for (; *v; v++)
        if (!isalnum((unsigned char)*v) && !strchr(extra, *v)) return 0;
    return 1;
}

static int parse_int(const char *v, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (end == v || *end || errno || x < lo || x > hi) return -1;
    *out = (int)x;
    return 0;
}

/* The [sweep] keys. Strings go into sbatch's argv, never a shell, but a strict charset still catches typos
 * and keeps the values harmless wherever a user copies them. */
typedef struct {
    const char *name;
    int is_int, lo, hi;
    size_t off, size;  /* int: offset of the int; string: offset and capacity of the buffer */
    const char *chars; /* allowed besides letters and digits, for strings */
} sweep_key_t;

#define SI(f, lo, hi) {#f, 1, lo, hi, offsetof(sweep_spec_t, f), 0, NULL}
#define SS(f, chars) {#f, 0, 0, 0, offsetof(sweep_spec_t, f), sizeof(((sweep_spec_t *)0)->f), chars}
static const sweep_key_t sweep_keys[] = {
    SS(name, "._-"),           SI(ranks, 1, 65536),  SI(cpus_per_task, 1, 4096), SI(throttle, 0, 1000000),
    SI(signal_seconds, 0, 65535), SI(requeue, 0, 1), SS(time, ":-"),             SS(partition, "._,-"),
    SS(account, "._-"),        SS(qos, "._-"),       SS(launcher, ""),
};
#undef SI
#undef SS
#define N_SWEEP_KEYS (sizeof sweep_keys / sizeof sweep_keys[0])

static int on_sweep_key(spec_ctx_t *x, const char *name, const char *value)
{
    sweep_spec_t *s = x->s;
    for (size_t i = 0; i < N_SWEEP_KEYS; i++) {
        const sweep_key_t *k = &sweep_keys[i];
        if (strcmp(k->name, name)) continue;
        if (x->seen_sweep_line[i])
            return err_set("%s:%d: sweep.%s given twice (first at line %d)", s->path, x->lineno, name,
                           x->seen_sweep_line[i]);
        x->seen_sweep_line[i] = x->lineno;
        if (k->is_int) {
            /* requeue reads as yes/no; the others are plain integers */
            const char *v = !strcmp(name, "requeue") ? (!strcmp(value, "yes") ? "1" : !strcmp(value, "no") ? "0" : "x")
                                                     : value;
            if (parse_int(v, k->lo, k->hi, (int *)((char *)s + k->off)) == 0) return 0;
            if (!strcmp(name, "requeue")) return err_set("%s:%d: sweep.requeue: '%s': use yes or no", s->path, x->lineno, value);
            return err_set("%s:%d: sweep.%s: '%s' is not an integer in [%d, %d]", s->path, x->lineno, name, value,
                           k->lo, k->hi);
        }
        if (strlen(value) >= k->size || !only_chars(value, k->chars))
            return err_set("%s:%d: sweep.%s: '%s': use at most %zu letters, digits or '%s'", s->path, x->lineno,
                           name, value, k->size - 1, k->chars);
        strcpy((char *)s + k->off, value);
        if (!strcmp(name, "launcher") && strcmp(value, "srun") && strcmp(value, "mpirun"))
            return err_set("%s:%d: sweep.launcher: '%s': use srun or mpirun", s->path, x->lineno, value);
        return 0;
    }
    return err_set("%s:%d: unknown key 'sweep.%s'", s->path, x->lineno, name);
}

/* The line where `key` was first given in [fixed], [grid] or [list]; 0 if not yet. */
static int key_line(const spec_ctx_t *x, const char *key)
{
    for (int i = 0; i < x->n_fixed; i++)
        if (!strcmp(x->fixed_key[i], key)) return x->fixed_line[i];
    for (int i = 0; i < x->s->n_axes; i++)
        if (!strcmp(x->s->axes[i].key, key)) return x->s->axes[i].line;
    return 0;
}

static char *trim(char *t)
{
    while (isspace((unsigned char)*t)) t++;
    size_t n = strlen(t);
    while (n && isspace((unsigned char)t[n - 1])) t[--n] = '\0';
    return t;
}

/* "64, 128,256" into an axis; every value must set the key on its own (types and bounds). */
static int on_axis_key(spec_ctx_t *x, const char *key, const char *value, int list)
{
    sweep_spec_t *s = x->s;
    if (s->n_axes == SWEEP_MAX_AXES)
        return err_set("%s:%d: more than %d grid and list keys", s->path, x->lineno, SWEEP_MAX_AXES);
    sweep_axis_t *a = &s->axes[s->n_axes];
    if (!*value) return err_set("%s:%d: %s: empty list of values", s->path, x->lineno, key);
    char *copy = err_strdup(value);
    snprintf(a->key, sizeof a->key, "%s", key);
    a->line = x->lineno;
    a->list = list;
    s->n_axes++; /* counted at once, so that sweep_free() also frees a partly read axis */
    int rc = 0;
    for (char *p = copy, *item; rc == 0 && (item = strsep(&p, ","));) {
        item = trim(item);
        config_t scratch;
        config_defaults(&scratch);
        if (!*item) rc = err_set("%s:%d: %s: empty value in the list", s->path, x->lineno, key);
        else rc = apply_key(&scratch, key, item, s->path, x->lineno);
        if (rc) break;
        a->values = realloc(a->values, (size_t)(a->n + 1) * sizeof *a->values);
        CHECK(a->values, "out of memory");
        a->values[a->n] = err_strdup(item);
        a->n++;
    }
    free(copy);
    return rc;
}

static int on_key(void *user, const char *section, const char *name, const char *value, int line)
{
    spec_ctx_t *x = user;
    sweep_spec_t *s = x->s;
    x->lineno = line;
    int rc = 0;
    if (!strcmp(section, "sweep")) {
        rc = on_sweep_key(x, name, value);
    } else if (strcmp(section, "fixed") && strcmp(section, "grid") && strcmp(section, "list")) {
        rc = *section ? err_set("%s:%d: unknown section [%s]; use [sweep], [fixed], [grid] or [list]", s->path,
                                x->lineno, section)
                      : err_set("%s:%d: key '%s' is outside any section", s->path, x->lineno, name);
    } else if (strlen(name) >= SWEEP_KEY) {
        rc = err_set("%s:%d: unknown key '%s'", s->path, x->lineno, name);
    } else if (!strcmp(name, "run.name") || !strcmp(name, "run.out_dir")) {
        rc = err_set("%s:%d: %s is set by il-sweep for every run; leave it out", s->path, x->lineno, name);
    } else if (key_line(x, name)) {
        rc = err_set("%s:%d: %s given twice (first at line %d)", s->path, x->lineno, name, key_line(x, name));
    } else if (!strcmp(section, "fixed")) {
        CHECK(x->n_fixed < (int)(sizeof x->fixed_line / sizeof x->fixed_line[0]), "too many fixed keys");
        snprintf(x->fixed_key[x->n_fixed], SWEEP_KEY, "%s", name);
        x->fixed_line[x->n_fixed++] = x->lineno;
        rc = apply_key(&s->base, name, value, s->path, x->lineno);
    } else {
        rc = on_axis_key(x, name, value, !strcmp(section, "list"));
    }
    return rc;
}

static void spec_defaults(sweep_spec_t *s, const char *path)
{
    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "%s", path);
    s->ranks = 1;
    s->cpus_per_task = 1;
    s->signal_seconds = 60;
    s->requeue = 1;
    snprintf(s->time, sizeof s->time, "01:00:00");
    snprintf(s->launcher, sizeof s->launcher, "srun");
    config_defaults(&s->base);
}

/* Checks that need the whole file: a name, and [list] keys of equal length. */
static int spec_check(const sweep_spec_t *s)
{
    if (!*s->name) return err_set("%s: [sweep] has no name", s->path);
    const sweep_axis_t *first = NULL;
    for (int i = 0; i < s->n_axes; i++) {
        const sweep_axis_t *a = &s->axes[i];
        if (!a->list) continue;
        if (first && a->n != first->n)
            return err_set("%s:%d: %s has %d values, but the list key %s (line %d) has %d", s->path, a->line, a->key,
                           a->n, first->key, first->line, first->n);
        first = first ? first : a;
    }
    return 0;
}

int sweep_load(sweep_spec_t *s, const char *path)
{
    spec_defaults(s, path);
    FILE *f = bytes_fopen_regular(path);
    if (!f) return -1;
    spec_ctx_t *x = err_calloc(1, sizeof *x);
    x->s = s;
    int rc = inifile_parse(f, path, on_key, x);
    fclose(f);
    free(x);
    if (rc || spec_check(s)) {
        sweep_free(s);
        return -1;
    }
    return 0;
}

void sweep_free(sweep_spec_t *s)
{
    for (int i = 0; i < s->n_axes; i++) {
        for (int j = 0; j < s->axes[i].n; j++) free(s->axes[i].values[j]);
        free(s->axes[i].values);
    }
    s->n_axes = 0;
}

/* ---- expansion and run names ---- */

/* The experiment's identity: every key but where the run is written and what it is called. */
static uint64_t config_hash(const config_t *c)
{
    config_t anon = *c;
    config_t d;
    config_defaults(&d);
    memcpy(anon.name, d.name, sizeof anon.name);
    memcpy(anon.out_dir, d.out_dir, sizeof anon.out_dir);
    char *text = config_string(&anon);
    uint64_t h = bytes_fnv1a64(BYTES_FNV64_INIT, text, strlen(text));
    free(text);
    return h;
}

/* Short names for the keys sweeps vary most; any other key goes by its name without the section. */
static const char *abbrev(const char *key)
{
    static const char *const table[][2] = {
        {"model.d_model", "d"},   {"model.n_layer", "l"},      {"model.n_head", "h"},  {"model.seq_len", "t"},
        {"optim.lr", "lr"},       {"train.seed", "s"},         {"train.global_batch", "b"},
        {"optim.weight_decay", "wd"}, {"train.max_steps", "steps"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (!strcmp(table[i][0], key)) return table[i][1];
    const char *dot = strchr(key, '.');
    return dot ? dot + 1 : key;
}

void sweep_run_name(const sweep_spec_t *s, const sweep_run_t *r, char *name, size_t n)
{
    /* run.name allows letters, digits, '.', '_', '-'; '-' separates the parts, so values map other bytes
     * (and their own '-') to '_'. Each value is cut to 24 bytes and the readable part to 120: the hash
     * keeps names unique. */
    char readable[128] = "";
    size_t len = 0;
    for (int i = 0; i < s->n_axes; i++) {
        char part[64];
        snprintf(part, sizeof part, "%s%.24s", abbrev(s->axes[i].key), r->values[i]);
        for (char *p = part; *p; p++)
            if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_') *p = '_';
        len += (size_t)snprintf(readable + len, sizeof readable - len, "%s-", part);
        if (len >= 120) {
            len = 120;
            readable[len++] = '-';
            readable[len] = '\0';
            break;
        }
    }
    snprintf(name, n, "%s%08x", readable, (unsigned)(config_hash(&r->cfg) >> 32));
}

/* "model.d_model=64 model.n_layer=2", naming a run in messages. */
static void describe_run(const sweep_spec_t *s, const sweep_run_t *r, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < s->n_axes && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s%s=%s", i ? " " : "", s->axes[i].key, r->values[i]);
}

int sweep_expand(const sweep_spec_t *s, const char *out_dir, sweep_run_t **runs, int *n)
{
    long total = 1;
    int list_n = 0;
    for (int i = 0; i < s->n_axes && total <= SWEEP_MAX_RUNS; i++) {
        if (s->axes[i].list) list_n = s->axes[i].n;
        else total *= s->axes[i].n;
    }
    if (list_n) total *= list_n;
    if (total > SWEEP_MAX_RUNS) return err_set("%s: more than %d runs", s->path, SWEEP_MAX_RUNS);
    sweep_run_t *r = err_calloc((size_t)total, sizeof *r);
    for (long k = 0; k < total; k++) {
        sweep_run_t *run = &r[k];
        run->index = (int)k;
        run->cfg = s->base;
        /* mixed radix: the list is the fastest digit, then the grid keys from the last written to the first */
        long rest = k, list_pos = list_n ? k % list_n : 0;
        if (list_n) rest /= list_n;
        for (int i = s->n_axes - 1; i >= 0; i--) {
            const sweep_axis_t *a = &s->axes[i];
            long pos = a->list ? list_pos : rest % a->n;
            if (!a->list) rest /= a->n;
            CHECK(apply_key(&run->cfg, a->key, a->values[pos], s->path, a->line) == 0, "checked at load: %s",
                  err_msg());
        }
        for (int i = 0; i < s->n_axes; i++)
            CHECK(config_get(&run->cfg, s->axes[i].key, run->values[i], sizeof run->values[i]) == 0,
                  "key checked at load: %s", s->axes[i].key);
        char what[2048];
        describe_run(s, run, what, sizeof what);
        /* validated twice: the experiment itself, then with the name and directory il-sweep gives it */
        for (int pass = 0; pass < 2; pass++) {
            if (pass) {
                char name[CONFIG_STR];
                sweep_run_name(s, run, name, sizeof name);
                snprintf(run->cfg.name, sizeof run->cfg.name, "%s", name);
                snprintf(run->cfg.out_dir, sizeof run->cfg.out_dir, "%s", out_dir);
            }
            if (config_validate(&run->cfg, s->ranks) == 0) continue;
            char problem[1024];
            snprintf(problem, sizeof problem, "%s", err_msg()); /* err_set() reuses err_msg()'s buffer */
            err_set("%s: run %ld%s%s%s on %d rank(s): %s", s->path, k, *what ? " (" : "", what, *what ? ")" : "",
                    s->ranks, problem);
            free(r);
            return -1;
        }
        for (long j = 0; j < k; j++)
            if (!strcmp(r[j].cfg.name, run->cfg.name)) {
                char other[2048];
                describe_run(s, &r[j], other, sizeof other);
                err_set("%s: runs %ld (%s) and %ld (%s) are the same experiment; drop one of the values", s->path, j,
                        other, k, what);
                free(r);
                return -1;
            }
    }
    *runs = r;
    *n = (int)total;
    return 0;
}

int sweep_manifest_write(const sweep_spec_t *s, const sweep_run_t *runs, int n, FILE *f)
{
    fprintf(f, "index\trun");
    for (int i = 0; i < s->n_axes; i++) fprintf(f, "\t%s", s->axes[i].key);
    fputc('\n', f);
    for (int k = 0; k < n; k++) {
        fprintf(f, "%d\t%s", runs[k].index, runs[k].cfg.name);
        for (int i = 0; i < s->n_axes; i++) fprintf(f, "\t%s", runs[k].values[i]);
        fputc('\n', f);
    }
    if (fflush(f) || ferror(f)) return err_set("manifest: write failed: %s", strerror(errno));
    return 0;
}
