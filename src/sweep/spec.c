#include "sweep/spec.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/err.h"
#include "core/inifile.h"
#include "core/keys.h"

/* ---- reading the spec ---- */

/* The [sweep] keys. Their values reach sbatch only in its argument vector, never a shell; still, each must
 * match a strict pattern, which catches typos at submission rather than in the queue and keeps the values
 * harmless wherever a user copies them. docs/sweeps.md's table is printed from this one (il-sweep --keys). */
#define WORD "[A-Za-z0-9._-]+"
#define WORD_WANT "letters, digits, '.', '_' or '-'"
#define MAIL_TYPE "(NONE|BEGIN|END|FAIL|REQUEUE|ALL|INVALID_DEPEND|STAGE_OUT|TIME_LIMIT(_50|_80|_90)?|ARRAY_TASKS)"
#define TIME_RE "^(([0-9]+-)?[0-9]+(:[0-9]+){0,2}|UNLIMITED|INFINITE)$"
#define TIME_WANT "minutes, MM:SS, HH:MM:SS or D-HH[:MM[:SS]]"
#define MEM_RE "^[0-9]+[KMGT]?$"
#define MEM_WANT "a size such as 4G or 4000M (digits, then K, M, G or T)"
#define F(f) offsetof(spec_t, f), sizeof(((spec_t *)0)->f)
#define SI(f, def, lo, hi, help) {"sweep", #f, KEY_INT, F(f), def, lo, hi, 0, NULL, NULL, help}
#define SY(f, def, help) {"sweep", #f, KEY_YESNO, F(f), def, 0, 1, 0, NULL, NULL, help}
#define SS(f, def, pattern, want, help) {"sweep", #f, KEY_STR, F(f), def, 0, 0, 0, pattern, want, help}
static const keydef_t sweep_keys[] = {
    SS(name, NULL, "^" WORD "$", WORD_WANT, "required: names the jobs and the sweep directory sweeps/<name>"),
    {"sweep", "out_dir", KEY_STR, F(out_dir), "sweeps", 0, 0, KEY_PATH, "^[^%[:cntrl:]]+$",
     "a directory without '%' or control characters", "where sweeps/<name> goes without --out; ${VAR}s expanded"},
    SI(ranks, "1", 1, 65536, "MPI ranks per run (sbatch --ntasks)"),
    SI(cpus_per_task, "1", 1, 4096, "cores per rank (sbatch --cpus-per-task)"),
    SS(time, "01:00:00", TIME_RE, TIME_WANT, "time limit per attempt (sbatch --time)"),
    SI(throttle, "0", 0, 1000000, "runs at once (--array=...%N); 0: no limit"),
    SI(signal_seconds, "60", 0, 65535, "warning this long before the time limit (--signal=B:USR2@N); 0: none"),
    SY(requeue, "yes", "yes: a preempted run requeues itself (--requeue); no: --no-requeue"),
    SS(launcher, "srun", "^(srun|mpirun)$", "srun or mpirun", "how a task starts its ranks inside the allocation"),
    SS(mpi, "default", "^(default|none|pmi2|pmix(_v[0-9]+)?)$", "default, none, pmi2 or pmix",
       "srun --mpi=...; default: the site's MpiDefault"),
    SS(partition, NULL, "^" WORD "(," WORD ")*$",
       "partition names of letters, digits, '.', '_', '-', separated by commas", "--partition"),
    SS(account, NULL, "^" WORD "$", WORD_WANT, "--account"),
    SS(qos, NULL, "^" WORD "$", WORD_WANT, "--qos"),
    SS(mem, NULL, MEM_RE, MEM_WANT, "--mem per node"),
    SS(gres, NULL, "^[A-Za-z0-9_:.,-]+$", "resources such as tmpdisk:100 or license:2 (letters, digits and _:.,-)",
       "--gres; il-train runs on CPUs only, so a GPU asked for here stays idle"),
    SS(constraint, NULL, "^[][A-Za-z0-9_.:,&|*()-]+$",
       "node features such as avx512&ib (letters, digits and _.:,&|*()[])", "--constraint"),
    SS(nodes, NULL, "^[1-9][0-9]*(-[1-9][0-9]*)?$", "a node count or a range such as 2 or 1-4", "--nodes"),
    SI(ntasks_per_node, NULL, 1, 65536, "--ntasks-per-node"),
    SY(exclusive, "no", "--exclusive"),
    SS(mail_type, NULL, "^" MAIL_TYPE "(," MAIL_TYPE ")*$",
       "a comma-separated list of NONE, BEGIN, END, FAIL, REQUEUE, ALL, INVALID_DEPEND, STAGE_OUT, TIME_LIMIT, "
       "TIME_LIMIT_50, TIME_LIMIT_80, TIME_LIMIT_90, ARRAY_TASKS",
       "--mail-type"),
    SS(mail_user, NULL, "^[A-Za-z0-9._%+-]+(@[A-Za-z0-9.-]+)?$", "a user name or an address such as me@example.org",
       "--mail-user"),
    {"sweep", "sbatch_args", KEY_WORDS, F(sbatch_args), NULL, 0, 0, 0,
     "^--[A-Za-z][A-Za-z0-9-]*(=[A-Za-z0-9_.,:@%+/=-]+)?$",
     "words of the form --name or --name=value (letters, digits and _.,:@%+/=- in the value)",
     "any other sbatch options, to every job of the sweep, except those il-sweep sets itself"},
    SS(aggregate_time, "00:30:00", TIME_RE, TIME_WANT, "the aggregation job's --time"),
    SI(aggregate_ntasks, "1", 1, 65536, "the aggregation job's MPI ranks (il-aggregate on several ranks)"),
    SS(aggregate_mem, NULL, MEM_RE, MEM_WANT, "the aggregation job's --mem; none: the site's default"),
    SY(check_paths, "yes",
       "yes: every run's data paths are opened at submission (shards, tokenizer, counts); no: they exist only on "
       "the compute nodes"),
};
#define PI(name, f, hi, help) {"probe", #name, KEY_INT, F(f), NULL, 1, hi, 0, NULL, NULL, help}
#define PATHS "^[^[:cntrl:]]+$"
#define PATHS_WANT "paths separated by commas, without control characters"
/* The [probe] keys. Values reach il-probe as its arguments, one a line of configs/<run>.args (hence no control
 * characters), never through a shell. */
static const keydef_t probe_keys[] = {
    {"probe", "checkpoints", KEY_WORDS, F(probes), NULL, 0, 0, KEY_PATH, PATHS, PATHS_WANT,
     "checkpoints to measure, one run each (il-probe --ckpt): imported ones or a run's ckpt/step_N; ${VAR}s expanded"},
    {"probe", "runs", KEY_WORDS, F(probes), NULL, 0, 0, KEY_PATH, PATHS, PATHS_WANT,
     "training run directories, one run each of all their complete checkpoints (il-probe --run); ${VAR}s expanded"},
    {"probe", "data", KEY_STR, F(probe_data), NULL, 0, 0, KEY_PATH, PATHS, "a path without control characters",
     "required: the probe shard of the checkpoints' tokenizer, with its unigram counts beside it (il-probe --data); "
     "${VAR}s expanded"},
    PI(windows, probe_windows, 1048576, "il-probe --windows: trace.probe_windows; none: the checkpoint's"),
    PI(groups, probe_groups, 4096, "il-probe --groups: trace.probe_groups; none: the checkpoint's"),
    {"probe", "seed", KEY_STR, F(probe_seed), NULL, 0, 0, 0, "^[0-9]{1,19}$", "digits",
     "il-probe --seed: train.seed, which draws the probe windows; none: the checkpoint's"},
    {"probe", "set", KEY_WORDS, F(probe_sets), NULL, 0, 0, 0, "^[a-z_]+\\.[a-z_0-9]+=[^[:space:][:cntrl:];]*$",
     "words of the form section.key=value", "il-probe --set: trainer keys over each checkpoint's config (trace.*, "
     "train.micro_batch, ...)"},
};
#undef PI
#undef SI
#undef SY
#undef SS
#undef F
#define N_SWEEP_KEYS (sizeof sweep_keys / sizeof sweep_keys[0])
#define N_PROBE_KEYS (sizeof probe_keys / sizeof probe_keys[0])

/* sbatch options il-sweep passes itself, with the key that sets each (NULL: none, il-sweep's own). */
static const char *const own_options[][2] = {
    {"array", NULL},     {"dependency", NULL},     {"output", NULL},
    {"error", NULL},     {"chdir", NULL},          {"parsable", NULL},
    {"open-mode", NULL}, {"wrap", NULL},           {"test-only", NULL},
    /* another cluster, or a blocking sbatch: status, cancel and resubmit could no longer see the jobs */
    {"clusters", NULL},  {"cluster", NULL},        {"wait", NULL},
    {"job-name", "name"}, {"ntasks", "ranks"},     {"cpus-per-task", "cpus_per_task"},
    {"time", "time"},    {"signal", "signal_seconds"}, {"requeue", "requeue"},
    {"no-requeue", "requeue"}, {"partition", "partition"}, {"account", "account"},
    {"qos", "qos"},      {"mem", "mem"},           {"gres", "gres"},
    {"constraint", "constraint"}, {"nodes", "nodes"}, {"ntasks-per-node", "ntasks_per_node"},
    {"exclusive", "exclusive"}, {"mail-type", "mail_type"}, {"mail-user", "mail_user"},
};

typedef struct {
    spec_t *s;
    int what;          /* SPEC_LOAD_ALL or SPEC_LOAD_RESOURCES */
    int lineno;        /* of the key being handled */
    int seen_sweep_line[N_SWEEP_KEYS]; /* line of each [sweep] key, for duplicates and later checks */
    int seen_probe_line[N_PROBE_KEYS];
} spec_ctx_t;

static int apply_key(config_t *c, const char *key, const char *value, const char *path, int line)
{
    if (!strchr(key, '.')) {
        char near[160];
        config_suggest_key(near, sizeof near, "", key);
        return err_set("%s:%d: '%s': expected a trainer key as section.key%s", path, line, key, near);
    }
    CALL_CTX(config_set_key(c, key, value), "%s:%d", path, line);
    return 0;
}

/* "--reservation=r1 --comment=x" into s->sbatch_args, each word checked. getopt_long takes any unambiguous
 * abbreviation of a long option, so a word that abbreviates one of il-sweep's own options is refused too. */
static int on_sbatch_args(const spec_ctx_t *x, const keydef_t *k, const char *value)
{
    spec_t *s = x->s;
    char *copy = err_strdup(value);
    int rc = 0;
    s->n_sbatch_args = 0;
    for (char *p = copy, *word; rc == 0 && (word = strsep(&p, " \t"));) {
        if (!*word) continue;
        if (s->n_sbatch_args == SPEC_MAX_ARGS || strlen(word) >= SPEC_ARG) {
            rc = err_set("%s:%d: sweep.sbatch_args: at most %d words of %d characters", s->path, x->lineno,
                         SPEC_MAX_ARGS, SPEC_ARG - 1);
            break;
        }
        if (!key_matches(k->pattern, word)) {
            rc = err_set("%s:%d: sweep.sbatch_args: '%s': use %s", s->path, x->lineno, word, k->want);
            break;
        }
        size_t name_len = strcspn(word + 2, "=");
        for (size_t i = 0; i < sizeof own_options / sizeof *own_options && rc == 0; i++) {
            if (strncmp(own_options[i][0], word + 2, name_len) || name_len > strlen(own_options[i][0])) continue;
            if (own_options[i][1])
                rc = err_set("%s:%d: sweep.sbatch_args: '%s': set --%s with sweep.%s", s->path, x->lineno, word,
                             own_options[i][0], own_options[i][1]);
            else
                rc = err_set("%s:%d: sweep.sbatch_args: '%s': il-sweep passes --%s itself", s->path, x->lineno,
                             word, own_options[i][0]);
        }
        if (rc == 0) snprintf(s->sbatch_args[s->n_sbatch_args++], SPEC_ARG, "%s", word);
    }
    free(copy);
    return rc;
}

/* The index of key `name` in section `sect`'s table keys[n], its line noted in seen[] (a key given twice is
 * refused); -1 with err_set() naming the line, and the nearest key for an unknown one. */
static int section_key(spec_ctx_t *x, const keydef_t *keys, size_t n, int *seen, const char *sect, const char *name)
{
    const spec_t *s = x->s;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(keys[i].name, name)) continue;
        if (seen[i])
            return err_set("%s:%d: %s.%s given twice (first at line %d)", s->path, x->lineno, sect, name, seen[i]);
        seen[i] = x->lineno;
        return (int)i;
    }
    char near[160];
    key_suggest(near, sizeof near, keys, n, sect, name);
    return err_set("%s:%d: unknown key '%s.%s'%s", s->path, x->lineno, sect, name, near);
}

/* key_parse of one value into s, its errors prefixed with the spec's file and line. */
static int parse_value(spec_ctx_t *x, const keydef_t *k, const char *value, int strict)
{
    char pre[4200];
    snprintf(pre, sizeof pre, "%s:%d: ", x->s->path, x->lineno);
    return key_parse(k, x->s, value, pre, strict);
}

static int on_sweep_key(spec_ctx_t *x, const char *name, const char *value)
{
    int i = section_key(x, sweep_keys, N_SWEEP_KEYS, x->seen_sweep_line, "sweep", name);
    if (i < 0) return -1;
    const keydef_t *k = &sweep_keys[i];
    if (k->type == KEY_WORDS) return on_sbatch_args(x, k, value);
    /* the sweep directory's copy is read only for its resources, wherever the variables are unset */
    return parse_value(x, k, value, x->what == SPEC_LOAD_ALL);
}

static char *trim(char *t)
{
    while (isspace((unsigned char)*t)) t++;
    size_t n = strlen(t);
    while (n && isspace((unsigned char)t[n - 1])) t[--n] = '\0';
    return t;
}

/* probe.checkpoints or probe.runs: "a, b" appended to s->probes, each path checked and its ${VAR}s expanded. */
static int on_probe_paths(spec_ctx_t *x, const keydef_t *k, const char *value)
{
    spec_t *s = x->s;
    char *copy = err_strdup(value), what[4200];
    snprintf(what, sizeof what, "%s:%d: probe.%s", s->path, x->lineno, k->name);
    int rc = *value ? 0 : err_set("%s: empty list of paths", what);
    for (char *p = copy, *item; rc == 0 && (item = strsep(&p, ","));) {
        char path[CONFIG_STR];
        item = trim(item);
        if (!*item) rc = err_set("%s: empty value in the list", what);
        else if (!key_matches(k->pattern, item)) rc = err_set("%s: '%s': use %s", what, item, k->want);
        else if (s->n_probes == SPEC_MAX_RUNS) rc = err_set("%s: more than %d runs", what, SPEC_MAX_RUNS);
        else rc = key_expand_env(item, path, sizeof path, what);
        if (rc) break;
        s->probes = realloc(s->probes, (size_t)(s->n_probes + 1) * sizeof *s->probes);
        CHECK(s->probes, "out of memory");
        s->probes[s->n_probes++] = (spec_probe_t){!strcmp(k->name, "runs"), x->lineno, err_strdup(path)};
    }
    free(copy);
    return rc;
}

/* probe.set: il-probe's --set words, each a trainer key and value that config_set takes; il-sweep's own keys
 * (where the run is written, what it reads) are refused. */
static int on_probe_sets(spec_ctx_t *x, const keydef_t *k, const char *value)
{
    spec_t *s = x->s;
    static const char *const own[] = {"run.name", "run.out_dir", "data.train_path", "data.val_path", "data.counts_path"};
    char *copy = err_strdup(value);
    int rc = 0;
    s->n_probe_sets = 0;
    for (char *p = copy, *word; rc == 0 && (word = strsep(&p, " \t"));) {
        if (!*word) continue;
        config_t scratch;
        config_defaults(&scratch);
        if (s->n_probe_sets == SPEC_MAX_ARGS || strlen(word) >= SPEC_ARG)
            rc = err_set("%s:%d: probe.set: at most %d words of %d characters", s->path, x->lineno, SPEC_MAX_ARGS,
                         SPEC_ARG - 1);
        else if (!key_matches(k->pattern, word))
            rc = err_set("%s:%d: probe.set: '%s': use %s", s->path, x->lineno, word, k->want);
        for (size_t i = 0; rc == 0 && i < sizeof own / sizeof *own; i++)
            if (!strncmp(word, own[i], strlen(own[i])) && word[strlen(own[i])] == '=')
                rc = err_set("%s:%d: probe.set: '%s': il-sweep sets %s (probe.data for the data)", s->path, x->lineno,
                             word, own[i]);
        if (rc == 0 && config_set(&scratch, word)) rc = err_prefix("%s:%d: probe.set", s->path, x->lineno);
        if (rc == 0) snprintf(s->probe_sets[s->n_probe_sets++], SPEC_ARG, "%s", word);
    }
    free(copy);
    return rc;
}

static int on_probe_key(spec_ctx_t *x, const char *name, const char *value)
{
    int i = section_key(x, probe_keys, N_PROBE_KEYS, x->seen_probe_line, "probe", name);
    if (i < 0) return -1;
    const keydef_t *k = &probe_keys[i];
    if (!strcmp(name, "data")) x->s->probe_data_line = x->lineno;
    if (k->off == offsetof(spec_t, probes)) return on_probe_paths(x, k, value);
    if (k->type == KEY_WORDS) return on_probe_sets(x, k, value);
    return parse_value(x, k, value, 1);
}

int spec_key_line(const spec_t *s, const char *key)
{
    for (int i = 0; i < s->n_fixed; i++)
        if (!strcmp(s->fixed_key[i], key)) return s->fixed_line[i];
    for (int i = 0; i < s->n_axes; i++)
        if (!strcmp(s->axes[i].key, key)) return s->axes[i].line;
    return 0;
}

/* "64, 128,256" into an axis; every value must set the key on its own (types and bounds). */
static int on_axis_key(spec_ctx_t *x, const char *key, const char *value, int list)
{
    spec_t *s = x->s;
    if (s->n_axes == SPEC_MAX_AXES)
        return err_set("%s:%d: more than %d grid and list keys", s->path, x->lineno, SPEC_MAX_AXES);
    spec_axis_t *a = &s->axes[s->n_axes];
    if (!*value) return err_set("%s:%d: %s: empty list of values", s->path, x->lineno, key);
    char *copy = err_strdup(value);
    snprintf(a->key, sizeof a->key, "%s", key);
    a->line = x->lineno;
    a->list = list;
    s->n_axes++; /* counted at once, so that spec_free() also frees a partly read axis */
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
    spec_t *s = x->s;
    x->lineno = line;
    int rc = 0;
    if (!strcmp(section, "sweep")) {
        rc = on_sweep_key(x, name, value);
    } else if (!strcmp(section, "probe")) {
        /* the sweep directory's copy tells its kind: its tasks run il-probe */
        if (!s->probe_line) s->probe_line = x->lineno;
        rc = x->what == SPEC_LOAD_RESOURCES ? 0 : on_probe_key(x, name, value);
    } else if (x->what == SPEC_LOAD_RESOURCES) {
        rc = 0;
    } else if (strcmp(section, "fixed") && strcmp(section, "grid") && strcmp(section, "list")) {
        rc = *section ? err_set("%s:%d: unknown section [%s]; use [sweep], [fixed], [grid], [list] or [probe]",
                                s->path, x->lineno, section)
                      : err_set("%s:%d: key '%s' is outside any section", s->path, x->lineno, name);
    } else if (strlen(name) >= SPEC_KEY) {
        rc = err_set("%s:%d: unknown key '%s'", s->path, x->lineno, name);
    } else if (!strcmp(name, "run.name") || !strcmp(name, "run.out_dir")) {
        rc = err_set("%s:%d: %s is set by il-sweep for every run; leave it out", s->path, x->lineno, name);
    } else if (spec_key_line(s, name)) {
        rc = err_set("%s:%d: %s given twice (first at line %d)", s->path, x->lineno, name, spec_key_line(s, name));
    } else if (!strcmp(section, "fixed")) {
        CHECK(s->n_fixed < (int)(sizeof s->fixed_line / sizeof s->fixed_line[0]), "too many fixed keys");
        snprintf(s->fixed_key[s->n_fixed], SPEC_KEY, "%s", name);
        s->fixed_line[s->n_fixed++] = x->lineno;
        rc = apply_key(&s->base, name, value, s->path, x->lineno);
    } else {
        rc = on_axis_key(x, name, value, !strcmp(section, "list"));
    }
    return rc;
}

static void spec_defaults(spec_t *s, const char *path)
{
    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "%s", path);
    key_defaults(sweep_keys, N_SWEEP_KEYS, s);
    config_defaults(&s->base);
}

/* The line of [sweep] key `name`; 0 when it was not given. */
static int sweep_line(const spec_ctx_t *x, const char *name)
{
    for (size_t i = 0; i < N_SWEEP_KEYS; i++)
        if (!strcmp(sweep_keys[i].name, name)) return x->seen_sweep_line[i];
    return 0;
}

/* Checks that need the whole file: a name, an MPI plugin only for srun, and [list] keys of equal length. */
static int spec_check(const spec_ctx_t *x)
{
    const spec_t *s = x->s;
    if (!*s->name) return err_set("%s: [sweep] has no name", s->path);
    if (strcmp(s->mpi, "default") && strcmp(s->launcher, "srun"))
        return err_set("%s:%d: sweep.mpi: '%s' is srun's --mpi; with launcher = %s leave it out", s->path,
                       sweep_line(x, "mpi"), s->mpi, s->launcher);
    if (s->probe_line && (s->n_fixed || s->n_axes)) {
        /* the first trainer key, wherever written: a probe sweep measures models, it trains none */
        int line = s->n_fixed ? s->fixed_line[0] : s->axes[0].line;
        const char *key = s->n_fixed ? s->fixed_key[0] : s->axes[0].key;
        for (int i = 0; i < s->n_axes; i++)
            if (s->axes[i].line < line) line = s->axes[i].line, key = s->axes[i].key;
        return err_set("%s:%d: %s: a probe sweep ([probe], line %d) trains nothing: leave out [fixed], [grid] and "
                       "[list] (trainer keys for il-probe go in probe.set)", s->path, line, key, s->probe_line);
    }
    if (s->probe_line && x->what == SPEC_LOAD_ALL) {
        if (!s->n_probes) return err_set("%s:%d: [probe] has no checkpoints or runs", s->path, s->probe_line);
        if (!*s->probe_data) return err_set("%s:%d: [probe] has no data", s->path, s->probe_line);
    }
    const spec_axis_t *first = NULL;
    for (int i = 0; i < s->n_axes; i++) {
        const spec_axis_t *a = &s->axes[i];
        if (!a->list) continue;
        if (first && a->n != first->n)
            return err_set("%s:%d: %s has %d values, but the list key %s (line %d) has %d", s->path, a->line, a->key,
                           a->n, first->key, first->line, first->n);
        first = first ? first : a;
    }
    return 0;
}

int spec_load(spec_t *s, const char *path, int what)
{
    spec_defaults(s, path);
    FILE *f = bytes_fopen_regular(path);
    if (!f) return -1;
    spec_ctx_t *x = err_calloc(1, sizeof *x);
    x->s = s;
    x->what = what;
    int rc = inifile_parse(f, path, on_key, x);
    fclose(f);
    rc = rc ? rc : spec_check(x);
    free(x);
    if (rc) {
        spec_free(s);
        return -1;
    }
    return 0;
}

void spec_free(spec_t *s)
{
    for (int i = 0; i < s->n_probes; i++) free(s->probes[i].path);
    free(s->probes);
    s->probes = NULL;
    s->n_probes = 0;
    for (int i = 0; i < s->n_axes; i++) {
        for (int j = 0; j < s->axes[i].n; j++) free(s->axes[i].values[j]);
        free(s->axes[i].values);
    }
    s->n_axes = 0;
}

void spec_print_keys_markdown(FILE *f)
{
    key_markdown(f, sweep_keys, N_SWEEP_KEYS);
    fputc('\n', f);
    key_markdown(f, probe_keys, N_PROBE_KEYS);
}

/* ---- expansion and run names ---- */

uint64_t spec_experiment_hash(const config_t *c)
{
    static const char *const place[] = {"run.name", "run.out_dir", "run.tensorboard", NULL};
    char *text = config_canonical(c, place);
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

/* What a probe run measures, as il-probe's arguments without its name and directory. */
static void probe_what(const spec_t *s, const spec_probe_t *p, argv_t *a)
{
    argv_add(a, "%s", p->is_run ? "--run" : "--ckpt");
    argv_add(a, "%s", p->path);
    argv_add(a, "--data");
    argv_add(a, "%s", s->probe_data);
    if (s->probe_windows) argv_add(a, "--windows"), argv_add(a, "%d", s->probe_windows);
    if (s->probe_groups) argv_add(a, "--groups"), argv_add(a, "%d", s->probe_groups);
    if (*s->probe_seed) argv_add(a, "--seed"), argv_add(a, "%s", s->probe_seed);
    for (int i = 0; i < s->n_probe_sets; i++) argv_add(a, "--set"), argv_add(a, "%s", s->probe_sets[i]);
}

void spec_probe_argv(const spec_t *s, const spec_run_t *r, const char *runs_dir, argv_t *a)
{
    probe_what(s, &s->probes[r->probe], a);
    argv_add(a, "--name");
    argv_add(a, "%s", r->cfg.name);
    argv_add(a, "--out");
    argv_add(a, "%s", runs_dir);
}

/* The readable part of a probe run's name: the last component of its path, RUN-step_N for RUN/ckpt/step_N,
 * in the characters of a run name. */
static void probe_label(const char *path, char *buf, size_t n)
{
    char copy[CONFIG_STR];
    snprintf(copy, sizeof copy, "%s", path);
    for (size_t len = strlen(copy); len > 1 && copy[len - 1] == '/';) copy[--len] = '\0';
    char *last = strrchr(copy, '/'), *ckpt = NULL;
    const char *base = last ? last + 1 : copy, *run = NULL;
    if (last && !strncmp(base, "step_", 5)) {
        *last = '\0';
        ckpt = strrchr(copy, '/');
        if (ckpt && !strcmp(ckpt + 1, "ckpt")) {
            *ckpt = '\0';
            run = strrchr(copy, '/') ? strrchr(copy, '/') + 1 : copy;
        }
    }
    if (run) snprintf(buf, n, "%.40s-%.24s", run, base);
    else snprintf(buf, n, "%.64s", base);
    for (char *p = buf; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-') *p = '_';
}

void spec_run_name(const spec_t *s, const spec_run_t *r, char *name, size_t n)
{
    if (s->probe_line) {
        const spec_probe_t *p = &s->probes[r->probe];
        argv_t a = {0};
        probe_what(s, p, &a);
        uint64_t h = BYTES_FNV64_INIT;
        for (int i = 0; i < a.n; i++) h = bytes_fnv1a64(h, a.v[i], strlen(a.v[i]) + 1); /* with the NUL: a separator */
        argv_free(&a);
        char label[128];
        probe_label(p->path, label, sizeof label);
        snprintf(name, n, "%s-%08x", label, (unsigned)(h >> 32));
        return;
    }
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
    snprintf(name, n, "%s%08x", readable, (unsigned)(spec_experiment_hash(&r->cfg) >> 32));
}

/* "model.d_model=64 model.n_layer=2", naming a run in messages. */
static void describe_run(const spec_t *s, const spec_run_t *r, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < s->n_axes && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s%s=%s", i ? " " : "", s->axes[i].key, r->values[i]);
}

unsigned long spec_name_probes;

/* The index of an earlier run named as run k, or -1 after entering k: an open-addressing table of run
 * indices by name (mask + 1 slots, at most half full, -1 when free), so that the check of n runs costs
 * O(n) probes rather than a scan of the runs before each, which made a 40,000-run sweep take seconds. */
static long name_seen(const spec_run_t *r, long k, long *slot, size_t mask)
{
    const char *name = r[k].cfg.name;
    for (size_t i = (size_t)bytes_fnv1a64(BYTES_FNV64_INIT, name, strlen(name)) & mask;; i = (i + 1) & mask) {
        spec_name_probes++;
        if (slot[i] < 0) {
            slot[i] = k;
            return -1;
        }
        if (!strcmp(r[slot[i]].cfg.name, name)) return slot[i];
    }
}

/* name_seen's table for total runs, every slot free. */
static long *name_table(long total, size_t *slots)
{
    *slots = 2;
    while (*slots < 2 * (size_t)total) *slots *= 2;
    long *slot = err_calloc(*slots, sizeof *slot);
    for (size_t i = 0; i < *slots; i++) slot[i] = -1;
    return slot;
}

/* A probe sweep: one run per checkpoint or run directory, in the order written. */
static int probe_expand(const spec_t *s, const char *out_dir, spec_run_t **runs, int *n)
{
    spec_run_t *r = err_calloc((size_t)s->n_probes, sizeof *r);
    size_t slots;
    long *slot = name_table(s->n_probes, &slots);
    int rc = 0;
    for (int k = 0; k < s->n_probes && rc == 0; k++) {
        r[k].index = k;
        r[k].probe = k;
        config_defaults(&r[k].cfg);
        spec_run_name(s, &r[k], r[k].cfg.name, sizeof r[k].cfg.name);
        snprintf(r[k].cfg.out_dir, sizeof r[k].cfg.out_dir, "%s", out_dir);
        long j = name_seen(r, k, slot, slots - 1);
        const spec_probe_t *p = &s->probes[k];
        if (j >= 0)
            rc = err_set("%s:%d: probe.%s: %s given twice (first at line %d)", s->path, p->line,
                         p->is_run ? "runs" : "checkpoints", p->path, s->probes[j].line);
    }
    free(slot);
    if (rc) {
        free(r);
        return -1;
    }
    *runs = r;
    *n = s->n_probes;
    return 0;
}

int spec_expand(const spec_t *s, const char *out_dir, spec_run_t **runs, int *n)
{
    if (s->probe_line) return probe_expand(s, out_dir, runs, n);
    long total = 1;
    int list_n = 0;
    for (int i = 0; i < s->n_axes && total <= SPEC_MAX_RUNS; i++) {
        if (s->axes[i].list) list_n = s->axes[i].n;
        else total *= s->axes[i].n;
    }
    if (list_n) total *= list_n;
    if (total > SPEC_MAX_RUNS) return err_set("%s: more than %d runs", s->path, SPEC_MAX_RUNS);
    spec_run_t *r = err_calloc((size_t)total, sizeof *r);
    size_t slots;
    long *slot = name_table(total, &slots);
    int rc = 0;
    for (long k = 0; k < total && rc == 0; k++) {
        spec_run_t *run = &r[k];
        run->index = (int)k;
        run->cfg = s->base;
        /* mixed radix: the list is the fastest digit, then the grid keys from the last written to the first */
        long rest = k, list_pos = list_n ? k % list_n : 0;
        if (list_n) rest /= list_n;
        for (int i = s->n_axes - 1; i >= 0; i--) {
            const spec_axis_t *a = &s->axes[i];
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
                spec_run_name(s, run, name, sizeof name);
                snprintf(run->cfg.name, sizeof run->cfg.name, "%s", name);
                snprintf(run->cfg.out_dir, sizeof run->cfg.out_dir, "%s", out_dir);
            }
            if (config_validate(&run->cfg, s->ranks) == 0) continue;
            rc = err_prefix("%s: run %ld%s%s%s on %d rank(s)", s->path, k, *what ? " (" : "", what, *what ? ")" : "",
                            s->ranks);
            break;
        }
        long j = rc ? -1 : name_seen(r, k, slot, slots - 1);
        if (j >= 0) {
            char other[2048];
            describe_run(s, &r[j], other, sizeof other);
            rc = err_set("%s: runs %ld (%s) and %ld (%s) are the same experiment; drop one of the values", s->path,
                         j, other, k, what);
        }
    }
    free(slot);
    if (rc) {
        free(r);
        return -1;
    }
    *runs = r;
    *n = (int)total;
    return 0;
}

int spec_manifest_write(const spec_t *s, const spec_run_t *runs, int n, FILE *f)
{
    fprintf(f, "index\trun");
    for (int i = 0; i < s->n_axes; i++) fprintf(f, "\t%s", s->axes[i].key);
    fprintf(f, "%s\n", s->probe_line ? "\tprobe\tpath" : "");
    for (int k = 0; k < n; k++) {
        fprintf(f, "%d\t%s", runs[k].index, runs[k].cfg.name);
        for (int i = 0; i < s->n_axes; i++) fprintf(f, "\t%s", runs[k].values[i]);
        const spec_probe_t *p = s->probe_line ? &s->probes[runs[k].probe] : NULL;
        if (p) fprintf(f, "\t%s\t%s", p->is_run ? "run" : "checkpoint", p->path);
        fputc('\n', f);
    }
    if (fflush(f) || ferror(f)) return err_set("manifest: write failed: %s", strerror(errno));
    return 0;
}
