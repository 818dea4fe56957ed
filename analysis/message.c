#include "analysis/message.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

static void put(message_t *w, const void *x, size_t n)
{
    if (!n) return; /* an empty array may be NULL, which memcpy must not be given */
    if (w->n + n > w->cap) {
        w->cap = 2 * (w->n + n);
        w->b = realloc(w->b, w->cap);
        CHECK(w->b, "out of memory");
    }
    memcpy(w->b + w->n, x, n);
    w->n += n;
}

static void put_size(message_t *w, size_t n)
{
    uint64_t v = n;
    put(w, &v, sizeof v);
}

/* An array of n elements of `size` bytes, after its length. */
static void put_array(message_t *w, const void *x, size_t n, size_t size)
{
    put_size(w, n);
    put(w, x, n * size);
}

static void put_str(message_t *w, const char *s) { put_array(w, s, strlen(s) + 1, 1); }

/* A message being read: every read is checked against its length. */
typedef struct {
    const unsigned char *b;
    size_t n, at;
} reader_t;

static void get(reader_t *r, void *x, size_t n)
{
    CHECK(n <= r->n - r->at, "wire: message of %zu bytes ends before byte %zu", r->n, r->at + n);
    memcpy(x, r->b + r->at, n);
    r->at += n;
}

static size_t get_size(reader_t *r)
{
    uint64_t v;
    get(r, &v, sizeof v);
    CHECK(v <= r->n, "wire: length %llu in a message of %zu bytes", (unsigned long long)v, r->n);
    return (size_t)v;
}

/* An array written by put_array, in new memory; its length in *n when n is not NULL. */
static void *get_array(reader_t *r, size_t size, size_t *n)
{
    size_t len = get_size(r);
    void *x = err_calloc(len, size);
    get(r, x, len * size);
    if (n) *n = len;
    return x;
}

static char *get_str(reader_t *r)
{
    size_t n;
    char *s = get_array(r, 1, &n);
    CHECK(n && !s[n - 1], "wire: string without its end");
    return s;
}

static void put_row(message_t *w, const run_row_t *r)
{
    put_str(w, r->name);
    put_str(w, r->dir);
    put(w, r->param, sizeof r->param);
    const double num[] = {r->ranks, r->steps, r->tokens, r->train_loss, r->val_loss, r->tokens_per_s, r->baseline};
    put(w, num, sizeof num);
    put(w, &r->n_genre, sizeof r->n_genre);
    /* genre names as strings: the bytes after a name's end in its fixed-size slot are never set */
    for (int g = 0; g < r->n_genre; g++) put_str(w, r->genre[g]);
    put_array(w, r->genre_loss, (size_t)r->n_genre, sizeof *r->genre_loss);
    put_array(w, r->probe_genre, (size_t)r->n_probe_genre, sizeof *r->probe_genre);
    put_array(w, r->genre_lens, (size_t)r->n_probe_genre, sizeof *r->genre_lens);
    put_array(w, r->genre_cos, (size_t)r->n_probe_genre, sizeof *r->genre_cos);
    put_str(w, r->source ? r->source : ""); /* "": trained here */
}

static void get_row(reader_t *rd, run_row_t *r)
{
    memset(r, 0, sizeof *r);
    r->name = get_str(rd);
    r->dir = get_str(rd);
    get(rd, r->param, sizeof r->param);
    double num[7];
    get(rd, num, sizeof num);
    r->ranks = num[0], r->steps = num[1], r->tokens = num[2], r->train_loss = num[3], r->val_loss = num[4];
    r->tokens_per_s = num[5], r->baseline = num[6];
    int n_genre;
    get(rd, &n_genre, sizeof n_genre);
    CHECK(n_genre >= 0 && (size_t)n_genre <= rd->n, "wire: %d genres", n_genre);
    r->genre = err_calloc((size_t)n_genre, sizeof *r->genre);
    for (int g = 0; g < n_genre; g++) {
        char *name = get_str(rd);
        snprintf(r->genre[g], sizeof *r->genre, "%s", name);
        free(name);
    }
    size_t n;
    r->genre_loss = get_array(rd, sizeof *r->genre_loss, &n);
    CHECK(n == (size_t)n_genre, "wire: %zu genre losses for %d genres", n, n_genre);
    r->n_genre = n_genre;
    size_t k, k1, k2;
    r->probe_genre = get_array(rd, sizeof *r->probe_genre, &k);
    r->genre_lens = get_array(rd, sizeof *r->genre_lens, &k1);
    r->genre_cos = get_array(rd, sizeof *r->genre_cos, &k2);
    CHECK(k1 == k && k2 == k, "wire: %zu probe genres, %zu and %zu values", k, k1, k2);
    for (size_t g = 0; g < k; g++) r->probe_genre[g][sizeof *r->probe_genre - 1] = '\0';
    r->n_probe_genre = (int)k;
    r->sum_index = -1;
    r->source = get_str(rd);
    if (!*r->source) free(r->source), r->source = NULL;
}

static void put_skips(message_t *w, const skips_t *s)
{
    put_size(w, (size_t)s->n);
    for (int i = 0; i < s->n; i++) put_str(w, s->e[i].path), put_str(w, s->e[i].reason);
    put_size(w, (size_t)s->warnings);
    put_array(w, s->held ? s->held : "", s->held_len + 1, 1);
}

static void get_skips(reader_t *rd, skips_t *s)
{
    memset(s, 0, sizeof *s);
    s->hold = 1;
    s->n = s->cap = (int)get_size(rd);
    s->e = err_calloc((size_t)s->n, sizeof *s->e);
    for (int i = 0; i < s->n; i++) s->e[i].path = get_str(rd), s->e[i].reason = get_str(rd);
    s->warnings = (int)get_size(rd);
    s->held = get_str(rd);
    s->held_len = strlen(s->held), s->held_cap = s->held_len + 1;
}

enum { N_STAT_COLS = 7 + 2 * IN_N };

/* The per-depth columns of runstats_t, in one order for both directions. */
static void stat_columns(runstats_t *s, double **col[N_STAT_COLS])
{
    double **fixed[] = {&s->rho_pos, &s->first_ratio, &s->mean_norm, &s->growth, &s->rho_freq, &s->rho_bucket,
                        &s->spread};
    enum { N_FIXED = sizeof fixed / sizeof *fixed };
    _Static_assert(N_FIXED == N_STAT_COLS - 2 * IN_N, "N_STAT_COLS counts runstats_t's columns");
    memcpy(col, fixed, sizeof fixed);
    for (int k = 0; k < IN_N; k++) col[N_FIXED + 2 * k] = &s->inner_end[k], col[N_FIXED + 1 + 2 * k] = &s->inner_slope[k];
}

static void put_stat(message_t *w, const runstats_t *s)
{
    double **col[N_STAT_COLS];
    stat_columns((runstats_t *)s, col); /* only read here */
    put(w, &s->L, sizeof s->L);
    for (int i = 0; i < N_STAT_COLS; i++) put_array(w, *col[i], (size_t)s->L + 1, sizeof **col[i]);
    put(w, s->hyp, sizeof s->hyp);
}

static void get_stat(reader_t *r, runstats_t *s)
{
    double **col[N_STAT_COLS];
    memset(s, 0, sizeof *s);
    stat_columns(s, col);
    get(r, &s->L, sizeof s->L);
    for (int i = 0; i < N_STAT_COLS; i++) *col[i] = get_array(r, sizeof **col[i], NULL);
    get(r, s->hyp, sizeof s->hyp);
}

static void put_sum(message_t *w, const summary_run_t *s)
{
    const int dims[] = {s->n_rec, s->L, s->T};
    put(w, dims, sizeof dims);
    put_array(w, s->step, (size_t)s->n_rec, sizeof *s->step);
    put(w, s->param, sizeof s->param);
    for (int k = 0; k < summary_n_curves(); k++) put_array(w, s->v[k], s->len[k], sizeof *s->v[k]);
    put(w, &s->key, sizeof s->key);
    put(w, &s->cached, sizeof s->cached);
}

static void get_sum(reader_t *r, summary_run_t *s)
{
    int dims[3];
    memset(s, 0, sizeof *s);
    get(r, dims, sizeof dims);
    s->n_rec = dims[0], s->L = dims[1], s->T = dims[2];
    s->step = get_array(r, sizeof *s->step, NULL);
    get(r, s->param, sizeof s->param);
    for (int k = 0; k < summary_n_curves(); k++) s->v[k] = get_array(r, sizeof *s->v[k], &s->len[k]);
    get(r, &s->key, sizeof s->key);
    get(r, &s->cached, sizeof s->cached);
}

void message_pack(message_t *w, const onerun_t *p)
{
    put_row(w, &p->row);
    put_skips(w, &p->skips);
    put(w, &p->has_stats, sizeof p->has_stats);
    if (!p->has_stats) return;
    put_stat(w, &p->stat);
    put_sum(w, &p->sum);
}

void message_unpack(onerun_t *p, const void *b, size_t n)
{
    reader_t r = {b, n, 0};
    memset(p, 0, sizeof *p);
    get_row(&r, &p->row);
    get_skips(&r, &p->skips);
    get(&r, &p->has_stats, sizeof p->has_stats);
    if (p->has_stats) {
        get_stat(&r, &p->stat);
        get_sum(&r, &p->sum);
    }
    CHECK(r.at == n, "wire: %zu bytes left over in a message of %zu", n - r.at, n);
}

void message_pack_sum(message_t *w, const char *name, const char *dir, const summary_run_t *s)
{
    put_str(w, name);
    put_str(w, dir);
    put_sum(w, s);
}

void message_unpack_sum(char **name, char **dir, summary_run_t *s, const void *b, size_t n)
{
    reader_t r = {b, n, 0};
    *name = get_str(&r);
    *dir = get_str(&r);
    get_sum(&r, s);
    CHECK(r.at == n, "wire: %zu bytes left over in a message of %zu", n - r.at, n);
}

void message_free(message_t *w)
{
    free(w->b);
    *w = (message_t){0};
}
