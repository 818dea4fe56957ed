#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "run/safetensors.h"
#include "run/sha256.h"

#include "tests/tmpdir.h"

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Every one of the 65,536 F16 patterns against IEEE 754's definition, evaluated in double: subnormals
 * (exponent 0: mant * 2^-24), normals, signed zeros, infinities and NaNs. */
static void test_f16_every_value(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        int sign = h >> 15, exp = (h >> 10) & 31, mant = h & 1023;
        float got = st_f16_to_f32((uint16_t)h);
        if (exp == 31 && mant) {
            if (!isnan(got) || (bits_of(got) >> 31) != (uint32_t)sign || ((bits_of(got) >> 13) & 1023) != (uint32_t)mant)
                fail_msg("F16 %04x: %g, expected a NaN with its sign and payload", h, got);
            continue;
        }
        double want = exp == 31 ? INFINITY : exp == 0 ? ldexp(mant, -24) : ldexp(1024 + mant, exp - 25);
        if (sign) want = -want;
        if (bits_of(got) != bits_of((float)want)) fail_msg("F16 %04x: %a, expected %a", h, got, want);
    }
}

static void test_bf16(void **state)
{
    (void)state;
    assert_true(st_bf16_to_f32(0x3f80) == 1.0f);
    assert_true(st_bf16_to_f32(0xc040) == -3.0f);
    assert_true(st_bf16_to_f32(0x0001) == ldexpf(1, -133)); /* the smallest subnormal */
    assert_true(isinf(st_bf16_to_f32(0xff80)) && st_bf16_to_f32(0xff80) < 0);
    assert_true(isnan(st_bf16_to_f32(0x7fc1)));
}

/* FIPS 180-4's examples: one block, two blocks (the padding spills over), and the empty message. */
static void test_sha256(void **state)
{
    (void)state;
    char hex[65];
    sha256_hex((const uint8_t *)"abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256_hex((const uint8_t *)two, strlen(two), hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    sha256_hex((const uint8_t *)"", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_roundtrip(void **state)
{
    (void)state;
    float a[6] = {1, -2, 3.5f, INFINITY, -0.0f, 1e-40f}, b[3] = {7, 8, 9};
    st_out_t t[] = {{"a", 2, {2, 3}, a}, {"b.c", 1, {3, 0}, b}};
    const char *path = tmpdir_path("rt.safetensors");
    assert_int_equal(st_write_f32(path, t, 2), 0);
    assert_int_equal(st_write_f32(path, t, 2), -1);
    assert_msg_has("already exists");
    safetensors_t s;
    assert_int_equal(st_open(&s, path), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal((s.data - s.buf) % 8, 0); /* the header is padded so the data is aligned */
    const st_tensor_t *ta = st_find(&s, "a"), *tb = st_find(&s, "b.c");
    assert_non_null(ta);
    assert_non_null(tb);
    assert_int_equal(ta->ndim, 2);
    assert_int_equal(ta->shape[0], 2);
    assert_int_equal(ta->shape[1], 3);
    assert_string_equal(ta->dtype, "F32");
    float got[6];
    assert_int_equal(st_read_f32(&s, ta, got), 0);
    assert_memory_equal(got, a, sizeof a);
    assert_int_equal(st_read_f32(&s, tb, got), 0);
    assert_memory_equal(got, b, sizeof b);
    assert_null(st_find(&s, "__metadata__"));
    st_close(&s);
}

/* A file of the given header text followed by n_data zero bytes. */
static const char *file_with(const char *header, size_t n_data)
{
    const char *path = tmpdir_path("bad.safetensors");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint64_t n = strlen(header);
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)(n >> (8 * i));
    fwrite(len, 1, 8, f);
    fputs(header, f);
    for (size_t i = 0; i < n_data; i++) fputc(0, f);
    assert_int_equal(fclose(f), 0);
    return path;
}

static void expect_bad(const char *header, size_t n_data, const char *needle)
{
    safetensors_t s;
    if (st_open(&s, file_with(header, n_data)) == 0) fail_msg("accepted %s", header);
    assert_msg_has("bad.safetensors");
    assert_msg_has(needle);
}

static void test_refusals(void **state)
{
    (void)state;
    expect_bad("[1]", 0, "not a JSON object");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}} x", 8, "bytes after the JSON header");
    expect_bad("{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "tensor 'a': unknown dtype \"Q4\"");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 12, "span 8 bytes, but F32 of its shape is 12");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "tensor 'a'");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "shape[0] is not a size");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "outside the 8 data bytes");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "tensor 'a': not an object with dtype, shape and data_offsets");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "tensor 'b' overlaps tensor 'a'");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "4 data bytes at offset 0 belong to no tensor");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, "4 data bytes at offset 4 belong to no tensor");
    expect_bad("{\"__metadata__\":3}", 0, "__metadata__ is not an object");
    /* a known dtype that cannot be converted: an error when read, not when opened */
    safetensors_t s;
    assert_int_equal(st_open(&s, file_with("{\"m\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]},"
                                           "\"__metadata__\":{\"format\":\"pt\"}}   ", 8)), 0);
    float x;
    assert_int_equal(st_read_f32(&s, st_find(&s, "m"), &x), -1);
    assert_msg_has("tensor 'm': dtype I64 is not supported (F32, F16, BF16)");
    st_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_every_value), cmocka_unit_test(test_bf16),     cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_roundtrip),       cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, tmpdir_make, tmpdir_remove);
}
