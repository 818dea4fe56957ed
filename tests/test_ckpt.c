#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "run/ckptfile.h"
#include "core/err.h"

#include "tests/tmpdir.h"

static char *path_of(const char *name)
{
    static char bufs[4][8192];
    static int next;
    char *p = bufs[next++ % 4];
    snprintf(p, sizeof bufs[0], "%s/%s", dir, name);
    return p;
}

static void write_raw(const char *path, const void *data, size_t n)
{
    unlink(path);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static uint8_t *read_raw(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    uint8_t *b = malloc(*n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static int count_temp_files(void)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

typedef struct {
    const char *tag;
    const void *data;
    size_t bytes;
} sec_t;

static void write_ckpt(const char *path, const sec_t *s, int n)
{
    ckptfile_writer_t w;
    if (ckptfile_begin(&w, path)) fail_msg("%s", err_msg());
    for (int i = 0; i < n; i++)
        if (ckptfile_add(&w, s[i].tag, s[i].data, s[i].bytes)) fail_msg("%s", err_msg());
    if (ckptfile_commit(&w)) fail_msg("%s", err_msg());
}

static void expect_open_error(const char *path, const char *part)
{
    ckptfile_reader_t r;
    assert_int_equal(ckptfile_open(&r, path), -1);
    assert_msg_has(path);
    assert_msg_has(part);
    assert_null(r.buf); /* nothing left to free */
}

/* A small checkpoint with an empty section and sizes that are not multiples of 8. */
static const char small_text[] = "[model]\nd_model = 64\n";
static const uint64_t small_step = 1234567;
static const uint8_t small_odd[13] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};
static const sec_t small[] = {
    {"config", small_text, sizeof small_text - 1},
    {"empty", NULL, 0},
    {"odd", small_odd, sizeof small_odd},
    {"step", &small_step, sizeof small_step},
};
#define N_SMALL (int)(sizeof small / sizeof small[0])

static void test_roundtrip(void **state)
{
    (void)state;
    size_t n_params = 2 * 1024 * 1024; /* 8 MB of floats */
    float *params = malloc(n_params * sizeof *params);
    assert_non_null(params);
    for (size_t i = 0; i < n_params; i++) params[i] = (float)i * 0.5f - 3.0f;
    uint8_t rng[33];
    for (size_t i = 0; i < sizeof rng; i++) rng[i] = (uint8_t)(i * 37 + 1);
    const sec_t s[] = {
        {"config", small_text, sizeof small_text - 1}, {"params", params, n_params * sizeof *params},
        {"empty", NULL, 0},                             {"rng.rank-0_A", rng, sizeof rng},
        {"step", &small_step, sizeof small_step},
    };
    const char *path = path_of("round.ckpt");
    write_ckpt(path, s, 5);
    assert_int_equal(count_temp_files(), 0);

    ckptfile_reader_t r;
    if (ckptfile_open(&r, path)) fail_msg("%s", err_msg());
    assert_int_equal(r.n_sections, 5);
    for (int i = 0; i < 5; i++) {
        assert_string_equal(r.sections[i].tag, s[i].tag);
        const void *data;
        size_t bytes;
        assert_int_equal(ckptfile_view(&r, s[i].tag, &data, &bytes), 0);
        assert_int_equal(bytes, s[i].bytes);
        assert_int_equal((uintptr_t)data % 8, 0); /* float arrays can be used in place */
        if (bytes) assert_memory_equal(data, s[i].data, bytes);
    }
    float *back = malloc(n_params * sizeof *back);
    assert_non_null(back);
    assert_int_equal(ckptfile_get(&r, "params", back, n_params * sizeof *back), 0);
    assert_memory_equal(back, params, n_params * sizeof *back);
    uint64_t step = 0;
    assert_int_equal(ckptfile_get(&r, "step", &step, sizeof step), 0);
    assert_true(step == small_step);
    assert_int_equal(ckptfile_get(&r, "empty", NULL, 0), 0);

    assert_int_equal(ckptfile_get(&r, "adam_m", back, 16), -1);
    assert_msg_has(path);
    assert_msg_has("no section 'adam_m'");
    assert_int_equal(ckptfile_get(&r, "params", back, 4 * 1000), -1);
    char want[128];
    snprintf(want, sizeof want, "section 'params' holds %zu bytes, expected 4000", n_params * sizeof *params);
    assert_msg_has(want);
    ckptfile_close(&r);
    free(back);
    free(params);
    unlink(path);
}

/* Every proper prefix of a checkpoint must be rejected as truncated, never read as a shorter checkpoint. */
static void test_truncated(void **state)
{
    (void)state;
    const char *path = path_of("full.ckpt"), *cut = path_of("cut.ckpt");
    write_ckpt(path, small, N_SMALL);
    size_t n;
    uint8_t *b = read_raw(path, &n);
    for (size_t len = 0; len < n; len++) {
        write_raw(cut, b, len);
        expect_open_error(cut, "truncated");
    }
    write_raw(cut, b, n - 40 - 16); /* everything but the end marker */
    expect_open_error(cut, "no end marker");
    free(b);
    unlink(cut);
    unlink(path);
}

/* Every single-byte change anywhere in the file is detected; a change in a section's data is reported as a
 * CRC mismatch naming that section. */
static void test_corruption(void **state)
{
    (void)state;
    const char *path = path_of("good.ckpt"), *bad = path_of("bad.ckpt");
    write_ckpt(path, small, N_SMALL);
    size_t n;
    uint8_t *b = read_raw(path, &n);
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit += 7) {
            b[i] ^= (uint8_t)(1u << bit);
            write_raw(bad, b, n);
            b[i] ^= (uint8_t)(1u << bit);
            ckptfile_reader_t r;
            if (ckptfile_open(&r, bad) == 0) fail_msg("flipping bit %d of byte %zu went unnoticed", bit, i);
        }
    }
    ckptfile_reader_t r;
    assert_int_equal(ckptfile_open(&r, path), 0);
    for (int i = 0; i < r.n_sections; i++) {
        if (!r.sections[i].bytes) continue;
        size_t at = (size_t)(r.sections[i].offset + r.sections[i].bytes / 2);
        b[at] ^= 0x10;
        write_raw(bad, b, n);
        b[at] ^= 0x10;
        char want[64];
        snprintf(want, sizeof want, "CRC mismatch in section '%s'", r.sections[i].tag);
        expect_open_error(bad, want);
    }
    ckptfile_close(&r);

    memcpy(b, "ILCKPX", 6);
    write_raw(bad, b, n);
    expect_open_error(bad, "not a checkpoint");
    write_raw(bad, "hello, world\n", 13);
    expect_open_error(bad, "not a checkpoint");
    expect_open_error(path_of("missing.ckpt"), "No such file");
    free(b);
    unlink(bad);
    unlink(path);
}

/* Builds a file by hand from the layout in docs/formats.md, independently of the writer. */
typedef struct {
    uint8_t buf[1024];
    size_t n;
    uint32_t header_crc;
    int count;
} raw_t;

static void le(raw_t *f, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) f->buf[f->n++] = (uint8_t)(v >> (8 * i));
}

static void raw_section(raw_t *f, const char *tag, const void *data, size_t bytes, int is_end)
{
    size_t h = f->n;
    memset(f->buf + f->n, 0, 24);
    memcpy(f->buf + f->n, tag, strlen(tag));
    f->n += 24;
    le(f, bytes, 8);
    le(f, crc32(0, data, (uInt)bytes), 4);
    le(f, 0, 4);
    if (!is_end) {
        f->header_crc = (uint32_t)crc32(f->header_crc, f->buf + h, 40);
        f->count++;
    }
    memcpy(f->buf + f->n, data, bytes);
    f->n += bytes;
    while (f->n % 8) f->buf[f->n++] = 0;
}

static void raw_begin(raw_t *f, unsigned version)
{
    memset(f, 0, sizeof *f);
    memcpy(f->buf, "ILCKPT", 6);
    f->n = 6;
    le(f, version, 2);
}

static void raw_end(raw_t *f)
{
    raw_t e = {.n = 0};
    le(&e, (uint64_t)f->count, 8);
    le(&e, f->header_crc, 4);
    le(&e, 0, 4);
    raw_section(f, "(end)", e.buf, e.n, 1);
}

static void test_documented_layout(void **state)
{
    (void)state;
    const char *path = path_of("hand.ckpt");
    raw_t f;
    raw_begin(&f, 1);
    raw_section(&f, "a", "xyz", 3, 0);
    raw_section(&f, "b", "0123456789", 10, 0);
    raw_end(&f);
    write_raw(path, f.buf, f.n);
    ckptfile_reader_t r;
    if (ckptfile_open(&r, path)) fail_msg("%s", err_msg());
    char b[10];
    assert_int_equal(ckptfile_get(&r, "b", b, 10), 0);
    assert_memory_equal(b, "0123456789", 10);
    ckptfile_close(&r);

    /* The writer produces exactly these bytes. */
    const char *mine = path_of("mine.ckpt");
    const sec_t s[] = {{"a", "xyz", 3}, {"b", "0123456789", 10}};
    write_ckpt(mine, s, 2);
    size_t n;
    uint8_t *m = read_raw(mine, &n);
    assert_int_equal(n, f.n);
    assert_memory_equal(m, f.buf, n);
    free(m);
    unlink(mine);

    raw_begin(&f, 1);
    raw_section(&f, "a", "xyz", 3, 0);
    raw_section(&f, "a", "uvw", 3, 0);
    raw_end(&f);
    write_raw(path, f.buf, f.n);
    expect_open_error(path, "duplicate section 'a'");

    raw_begin(&f, 1);
    raw_section(&f, "a", "xyz", 3, 0);
    f.count++; /* an end marker claiming a section that is not there */
    raw_end(&f);
    write_raw(path, f.buf, f.n);
    expect_open_error(path, "end marker does not match");

    raw_begin(&f, 2);
    raw_section(&f, "a", "xyz", 3, 0);
    raw_end(&f);
    write_raw(path, f.buf, f.n);
    expect_open_error(path, "unsupported checkpoint format version 2");

    raw_begin(&f, 1);
    raw_section(&f, "a", "xyz", 3, 0);
    raw_end(&f);
    f.buf[f.n++] = 0;
    write_raw(path, f.buf, f.n);
    expect_open_error(path, "after the end marker");
    unlink(path);
}

static void test_no_overwrite(void **state)
{
    (void)state;
    const char *path = path_of("precious.ckpt");
    write_raw(path, "precious", 8);
    ckptfile_writer_t w;
    assert_int_equal(ckptfile_begin(&w, path), -1);
    assert_msg_has(path);
    assert_msg_has("exists");
    size_t n;
    uint8_t *b = read_raw(path, &n);
    assert_int_equal(n, 8);
    assert_memory_equal(b, "precious", 8);
    free(b);
    assert_int_equal(count_temp_files(), 0);
    unlink(path);
}

static void test_abort_and_bad_adds(void **state)
{
    (void)state;
    const char *path = path_of("aborted.ckpt");
    ckptfile_writer_t w;
    assert_int_equal(ckptfile_begin(&w, path), 0);
    assert_int_equal(ckptfile_add(&w, "config", small_text, sizeof small_text), 0);
    assert_int_equal(count_temp_files(), 1);
    ckptfile_abort(&w);
    assert_int_equal(count_temp_files(), 0);
    assert_int_equal(access(path, F_OK), -1);

    /* A rejected section spoils the file: commit must not produce a checkpoint lacking it. */
    const char *bad_tags[] = {"", "abcdefghijklmnopqrstuvwx", "with space", "(end)", "config"};
    for (size_t i = 0; i < sizeof bad_tags / sizeof bad_tags[0]; i++) {
        assert_int_equal(ckptfile_begin(&w, path), 0);
        assert_int_equal(ckptfile_add(&w, "config", small_text, sizeof small_text), 0);
        assert_int_equal(ckptfile_add(&w, bad_tags[i], "x", 1), -1);
        assert_msg_has(path);
        if (i == 4) assert_msg_has("duplicate section 'config'");
        assert_int_equal(ckptfile_add(&w, "later", "y", 1), -1);
        assert_int_equal(ckptfile_commit(&w), -1);
        assert_int_equal(access(path, F_OK), -1);
        assert_int_equal(count_temp_files(), 0);
    }
    /* 23 characters is the longest tag. */
    const sec_t s[] = {{"abcdefghijklmnopqrstuvw", "z", 1}};
    write_ckpt(path, s, 1);
    ckptfile_reader_t r;
    assert_int_equal(ckptfile_open(&r, path), 0);
    assert_int_equal(ckptfile_get(&r, "abcdefghijklmnopqrstuvw", (char[1]){0}, 1), 0);
    ckptfile_close(&r);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),   cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_corruption),  cmocka_unit_test(test_documented_layout),
        cmocka_unit_test(test_no_overwrite), cmocka_unit_test(test_abort_and_bad_adds),
    };
    return cmocka_run_group_tests(tests, tmpdir_make, tmpdir_remove);
}
