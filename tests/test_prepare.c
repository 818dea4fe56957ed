/* The streaming side of il-prepare: the shard writer that takes documents as they come writes the file
 * shard_write writes for the same shard; textsrc cuts a long document into pieces at line starts that put
 * it back together byte for byte, and reads gzip and zstd as their text. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/err.h"
#include "data/shard.h"
#include "data/textsrc.h"

#include "tests/tmpdir.h"

/* 3 documents over 100,000 tokens: several checksum blocks, the last one part full, a document across
 * block boundaries and one longer than the writer's buffer. */
static void test_writer_matches_shard_write(void **state)
{
    (void)state;
    enum { N = 100000 };
    static uint16_t tokens[N];
    for (int i = 0; i < N; i++) tokens[i] = (uint16_t)((i * 7919u) % 1000);
    shard_doc_t docs[3] = {{0, 5, 1}, {5, 70000, 0}, {70005, N - 70005, 1}};
    char cats[2][SHARD_CAT_LEN] = {"news", "fiction"};
    shard_t s = {.tokenizer_id = 77, .vocab_size = 1000, .n_tokens = N, .tokens = tokens, .n_docs = 3, .docs = docs,
                 .n_cats = 2, .cats = cats};
    assert_int_equal(shard_write(&s, tmpdir_path("whole.bin")), 0);
    shard_writer_t w;
    assert_int_equal(shard_writer_open(&w, tmpdir_path("stream.bin"), 77, 1000), 0);
    for (int d = 0; d < 3; d++)
        assert_int_equal(shard_writer_doc(&w, tokens + docs[d].start, docs[d].len, docs[d].category), 0);
    assert_int_equal(shard_writer_close(&w, (const char(*)[SHARD_CAT_LEN])cats, 2), 0);
    uint8_t *a, *b;
    size_t na, nb;
    assert_int_equal(bytes_read_file(tmpdir_path("whole.bin"), &a, &na), 0);
    assert_int_equal(bytes_read_file(tmpdir_path("stream.bin"), &b, &nb), 0);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    free(a);
    free(b);
    /* an existing file is not written over */
    assert_int_equal(shard_writer_open(&w, tmpdir_path("stream.bin"), 77, 1000), -1);
    assert_non_null(strstr(err_msg(), "stream.bin: cannot create"));
}

/* Reads every piece of the inputs; returns the text put back together (malloc'd) and the piece count. */
static uint8_t *read_all(char **paths, int n, size_t *len, int *pieces, int *ends)
{
    textsrc_opts_t o = {.paths = paths, .n_paths = n, .max_line = 1 << 20};
    textsrc_t *s = textsrc_open(&o);
    assert_non_null(s);
    uint8_t *all = NULL;
    *len = 0;
    *pieces = *ends = 0;
    textsrc_piece_t p;
    int rc;
    while ((rc = textsrc_next(s, &p)) == 1) {
        assert_true(p.len <= TEXTSRC_PIECE);
        /* each piece but a document's last ends just after a lone newline, between two visible characters */
        if (!p.ends_doc) {
            assert_int_equal(p.text[p.len - 1], '\n');
            assert_true(p.len > 1 && p.text[p.len - 2] > ' ' && p.text[p.len - 2] < 0x7f);
        }
        if (*pieces > *ends) assert_true(p.text[0] > ' ' && p.text[0] < 0x7f);
        all = realloc(all, *len + p.len);
        memcpy(all + *len, p.text, p.len);
        *len += p.len;
        ++*pieces;
        *ends += p.ends_doc;
        free(p.text);
    }
    assert_int_equal(rc, 0);
    textsrc_close(s);
    return all;
}

static void test_pieces(void **state)
{
    (void)state;
    /* 10 MiB of lines, some starting or ending with spaces (no cut next to those) */
    size_t n = 10u << 20;
    uint8_t *text = malloc(n);
    for (size_t i = 0; i < n; i++) text[i] = i % 61 == 60 ? '\n' : (i % 61 == 0 && i % 7) || (i % 61 == 59 && i % 3) ? ' ' : (uint8_t)('a' + i % 26);
    FILE *f = fopen(tmpdir_path("long.txt"), "wb");
    assert_int_equal(fwrite(text, 1, n, f), n);
    fclose(f);
    char *paths[] = {(char *)tmpdir_path("long.txt")};
    size_t len;
    int pieces, ends;
    uint8_t *all = read_all(paths, 1, &len, &pieces, &ends);
    assert_int_equal(len, n);
    assert_memory_equal(all, text, n);
    assert_int_equal(pieces, 3);
    assert_int_equal(ends, 1);
    free(all);
    free(text);
}

static void test_compressed(void **state)
{
    (void)state;
    const char *plain = tmpdir_write("p.txt", "one line\nand another\n");
    char cmd[40000];
    snprintf(cmd, sizeof cmd, "gzip -c '%s' >'%s' && zstd -q -c '%s' >'%s'", plain, tmpdir_path("g.dat"), plain, tmpdir_path("z.dat"));
    assert_int_equal(system(cmd), 0);
    char *paths[] = {(char *)tmpdir_path("g.dat"), (char *)tmpdir_path("z.dat")};
    size_t len;
    int pieces, ends;
    uint8_t *all = read_all(paths, 2, &len, &pieces, &ends);
    assert_int_equal(pieces, 2);
    assert_int_equal(ends, 2);
    assert_int_equal(len, 42);
    assert_memory_equal(all, "one line\nand another\none line\nand another\n", 42);
    free(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_matches_shard_write),
        cmocka_unit_test(test_pieces),
        cmocka_unit_test(test_compressed),
    };
    return cmocka_run_group_tests(tests, tmpdir_make, tmpdir_remove);
}
