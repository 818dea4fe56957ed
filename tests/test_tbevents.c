#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/tbevents.h"

#include "tests/tmpdir.h"

/* The check value of the CRC-32C catalogue (CRC-32/ISCSI): crc32c("123456789") */
static void test_crc32c(void **state)
{
    (void)state;
    assert_int_equal(tb_crc32c("123456789", 9), 0xe3069283u);
    assert_int_equal(tb_crc32c("", 0), 0);
    /* the mask rotates right by 15 bits and adds TFRecord's constant, modulo 2^32 */
    assert_int_equal(tb_mask(0), 0xa282ead8u);
    assert_int_equal(tb_mask(0x00008000u), 0xa282ead9u);
    assert_int_equal(tb_mask(0xffffffffu), 0xa282ead7u);
}

/* An Event of one scalar, encoded by hand from the protobuf wire format: key = field << 3 | wire type. */
static void test_encode(void **state)
{
    (void)state;
    static const uint8_t want[] = {
        0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f,      /* wall_time (1, 64-bit): 1.0 */
        0x10, 0xac, 0x02,                        /* step (2, varint): 300 */
        0x2a, 0x0a,                              /* summary (5, length 10) */
        0x0a, 0x08,                              /*   value (1, length 8) */
        0x0a, 0x01, 'a',                         /*     tag (1): "a" */
        0x15, 0x00, 0x00, 0xc0, 0x3f,            /*     simple_value (2, 32-bit): 1.5f */
    };
    uint8_t buf[64];
    tb_scalar_t v[] = {{"nan", NAN}, {"a", 1.5}, {"inf", INFINITY}}; /* not finite: left out */
    size_t n = tb_encode_scalars(buf, sizeof buf, 1.0, 300, v, 3);
    assert_int_equal(n, sizeof want);
    assert_memory_equal(buf, want, sizeof want);
    assert_int_equal(tb_encode_scalars(buf, sizeof want - 1, 1.0, 300, v, 3), 0); /* does not fit */
}

/* A file: the first record's framing, and records from the launch's first step on only. */
static void test_file(void **state)
{
    (void)state;
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/tb", dir);
    tb_t t;
    assert_int_equal(tb_open(&t, sub, 5), 0);
    assert_int_equal((int)t.from, 6);
    tb_scalar_t v = {"x", 2};
    long before = ftell(t.f);
    tb_scalars(&t, 5, &v, 1); /* the earlier launch's to record */
    assert_int_equal(ftell(t.f), before);
    tb_scalars(&t, 6, &v, 1);
    assert_true(ftell(t.f) > before);
    assert_int_equal(tb_status(&t), 0);
    char path[4400];
    snprintf(path, sizeof path, "%s", t.path);
    tb_close(&t);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t rec[64];
    assert_int_equal(fread(rec, 1, 12, f), 12);
    uint64_t len = 0;
    for (int i = 7; i >= 0; i--) len = len << 8 | rec[i];
    uint32_t crc = (uint32_t)rec[8] | (uint32_t)rec[9] << 8 | (uint32_t)rec[10] << 16 | (uint32_t)rec[11] << 24;
    assert_int_equal(crc, tb_mask(tb_crc32c(rec, 8)));
    assert_true(len < sizeof rec);
    assert_int_equal(fread(rec, 1, (size_t)len + 4, f), len + 4);
    /* wall_time (9 bytes), step 5 (2 bytes), then file_version (3, length-delimited) */
    assert_int_equal(len, 9 + 2 + 2 + 13);
    assert_memory_equal(rec + 9, "\x10\x05\x1a\x0d" "brain.Event:2", 4 + 13);
    fclose(f);
    /* a second file in the same second by the same process: its own, named to sort after the first */
    assert_int_equal(tb_open(&t, sub, 0), 0);
    assert_true(strcmp(t.path, path) > 0);
    tb_close(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_crc32c), cmocka_unit_test(test_encode),
                                       cmocka_unit_test(test_file)};
    return cmocka_run_group_tests(tests, tmpdir_make, tmpdir_remove);
}
