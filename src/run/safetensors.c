#include "run/safetensors.h"

#include <ctype.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomicfile.h"
#include "core/bytes.h"
#include "core/err.h"

/* A header larger than this is not a model's but a damaged length field; the reference reader's limit. */
#define MAX_HEADER (100u << 20)

static const struct {
    const char *name;
    int bytes;
} dtypes[] = {{"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4}, {"I16", 2}, {"I8", 1},
              {"U64", 8}, {"U32", 4}, {"U16", 2}, {"U8", 1},  {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};

static int dtype_bytes(const char *name)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof *dtypes; i++)
        if (!strcmp(dtypes[i].name, name)) return dtypes[i].bytes;
    return 0;
}

uint64_t st_numel(const st_tensor_t *t)
{
    uint64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= (uint64_t)t->shape[i];
    return n;
}

static int get_u64(json_object *v, uint64_t *out)
{
    if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0) return -1;
    *out = (uint64_t)json_object_get_int64(v);
    return 0;
}

/* One header entry into t; the caller names the file. */
static int parse_entry(st_tensor_t *t, const char *name, json_object *v, uint64_t data_size)
{
    json_object *dt, *shape, *off;
    if (!json_object_is_type(v, json_type_object) || !json_object_object_get_ex(v, "dtype", &dt) ||
        !json_object_object_get_ex(v, "shape", &shape) || !json_object_object_get_ex(v, "data_offsets", &off))
        return err_set("tensor '%s': not an object with dtype, shape and data_offsets", name);
    const char *dts = json_object_get_string(dt);
    int eb = json_object_is_type(dt, json_type_string) ? dtype_bytes(dts) : 0;
    if (!eb) return err_set("tensor '%s': unknown dtype %s", name, json_object_to_json_string(dt));
    snprintf(t->dtype, sizeof t->dtype, "%s", dts);
    if (!json_object_is_type(shape, json_type_array) || json_object_array_length(shape) > ST_MAX_DIMS)
        return err_set("tensor '%s': shape is not an array of at most %d sizes", name, ST_MAX_DIMS);
    t->ndim = (int)json_object_array_length(shape);
    uint64_t bytes = (uint64_t)eb;
    for (int i = 0; i < t->ndim; i++) {
        uint64_t n;
        if (get_u64(json_object_array_get_idx(shape, (size_t)i), &n) || n > (1ull << 40))
            return err_set("tensor '%s': shape[%d] is not a size", name, i);
        t->shape[i] = (int64_t)n;
        bytes *= n;
        if (bytes > data_size) return err_set("tensor '%s': its shape needs more bytes than the file holds", name);
    }
    if (!json_object_is_type(off, json_type_array) || json_object_array_length(off) != 2 ||
        get_u64(json_object_array_get_idx(off, 0), &t->begin) || get_u64(json_object_array_get_idx(off, 1), &t->end))
        return err_set("tensor '%s': data_offsets is not [begin, end]", name);
    if (t->begin > t->end || t->end > data_size)
        return err_set("tensor '%s': data_offsets [%llu, %llu] outside the %llu data bytes", name,
                       (unsigned long long)t->begin, (unsigned long long)t->end, (unsigned long long)data_size);
    if (t->end - t->begin != bytes)
        return err_set("tensor '%s': data_offsets span %llu bytes, but %s of its shape is %llu", name,
                       (unsigned long long)(t->end - t->begin), t->dtype, (unsigned long long)bytes);
    CHECK(t->name = strdup(name), "out of memory");
    return 0;
}

static int by_begin(const void *a, const void *b)
{
    const st_tensor_t *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

static int parse(safetensors_t *s)
{
    if (s->size < 8) return err_set("%s: not a safetensors file: %zu bytes, no header length", s->path, s->size);
    uint64_t n = bytes_get_u64(s->buf);
    if (n < 2 || n > MAX_HEADER || n > s->size - 8)
        return err_set("%s: header length %llu does not fit the %zu-byte file", s->path, (unsigned long long)n,
                       s->size);
    const char *text = (const char *)s->buf + 8;
    uint64_t data_size = s->size - 8 - n;
    s->data = s->buf + 8 + n;
    json_tokener *tok = json_tokener_new();
    CHECK(tok, "out of memory");
    json_object *h = json_tokener_parse_ex(tok, text, (int)n);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    int rc = 0;
    if (!h || !json_object_is_type(h, json_type_object))
        rc = err_set("%s: the header is not a JSON object", s->path);
    for (size_t i = end; !rc && i < n; i++) /* the writer may pad the header with spaces */
        if (!isspace((unsigned char)text[i])) rc = err_set("%s: bytes after the JSON header", s->path);
    if (!rc) {
        s->t = calloc((size_t)json_object_object_length(h) + 1, sizeof *s->t);
        CHECK(s->t, "out of memory");
    }
    if (!rc) {
        json_object_object_foreach(h, key, val)
        {
            if (!strcmp(key, "__metadata__")) {
                if (!json_object_is_type(val, json_type_object)) rc = err_set("%s: __metadata__ is not an object", s->path);
            } else if (parse_entry(&s->t[s->n], key, val, data_size)) rc = err_prefix("%s", s->path);
            else s->n++;
            if (rc) break;
        }
    }
    json_object_put(h);
    if (rc) return -1;
    /* The data must be indexed whole, each byte by one tensor: sorted by offset, each begins where the last
     * ended. Overlaps first, as they are the graver fault (with sizes that add up, one makes a gap too). */
    st_tensor_t *sorted = malloc((size_t)s->n * sizeof *sorted + 1);
    CHECK(sorted, "out of memory");
    memcpy(sorted, s->t, (size_t)s->n * sizeof *sorted);
    qsort(sorted, (size_t)s->n, sizeof *sorted, by_begin);
    for (int i = 1; !rc && i < s->n; i++)
        if (sorted[i].begin < sorted[i - 1].end)
            rc = err_set("%s: tensor '%s' overlaps tensor '%s'", s->path, sorted[i].name, sorted[i - 1].name);
    uint64_t at = 0;
    for (int i = 0; !rc && i <= s->n; i++) {
        uint64_t begin = i < s->n ? sorted[i].begin : data_size;
        if (begin > at)
            rc = err_set("%s: %llu data bytes at offset %llu belong to no tensor", s->path,
                         (unsigned long long)(begin - at), (unsigned long long)at);
        if (i < s->n) at = sorted[i].end;
    }
    free(sorted);
    return rc;
}

int st_open(safetensors_t *s, const char *path)
{
    memset(s, 0, sizeof *s);
    if (strlen(path) >= sizeof s->path) return err_set("%s: path too long", path);
    strcpy(s->path, path);
    if (bytes_read_file(path, &s->buf, &s->size) || parse(s)) {
        st_close(s);
        return -1;
    }
    return 0;
}

void st_close(safetensors_t *s)
{
    for (int i = 0; s->t && i < s->n; i++) free(s->t[i].name);
    free(s->t);
    free(s->buf);
    memset(s, 0, sizeof *s);
}

const st_tensor_t *st_find(const safetensors_t *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->t[i].name, name)) return &s->t[i];
    return NULL;
}

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float st_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    if (exp == 0) { /* zero or subnormal: mant * 2^-24, exact in F32 */
        float v = ldexpf((float)mant, -24);
        return sign ? -v : v;
    }
    if (exp == 31) return from_bits(sign | 0x7f800000u | mant << 13); /* inf, or NaN keeping its payload */
    return from_bits(sign | (exp - 15 + 127) << 23 | mant << 13);
}

float st_bf16_to_f32(uint16_t h) { return from_bits((uint32_t)h << 16); }

int st_read_f32(const safetensors_t *s, const st_tensor_t *t, float *dst)
{
    const uint8_t *p = s->data + t->begin;
    uint64_t n = st_numel(t);
    if (!strcmp(t->dtype, "F32"))
        for (uint64_t i = 0; i < n; i++) dst[i] = from_bits(bytes_get_u32(p + 4 * i));
    else if (!strcmp(t->dtype, "F16"))
        for (uint64_t i = 0; i < n; i++) dst[i] = st_f16_to_f32(bytes_get_u16(p + 2 * i));
    else if (!strcmp(t->dtype, "BF16"))
        for (uint64_t i = 0; i < n; i++) dst[i] = st_bf16_to_f32(bytes_get_u16(p + 2 * i));
    else return err_set("%s: tensor '%s': dtype %s is not supported (F32, F16, BF16)", s->path, t->name, t->dtype);
    return 0;
}

int st_write_f32(const char *path, const st_out_t *t, int n)
{
    json_object *h = json_object_new_object();
    uint64_t at = 0;
    for (int i = 0; i < n; i++) {
        json_object *e = json_object_new_object(), *shape = json_object_new_array(), *off = json_object_new_array();
        uint64_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) {
            json_object_array_add(shape, json_object_new_int64(t[i].shape[d]));
            numel *= (uint64_t)t[i].shape[d];
        }
        json_object_array_add(off, json_object_new_int64((int64_t)at));
        json_object_array_add(off, json_object_new_int64((int64_t)(at += 4 * numel)));
        json_object_object_add(e, "dtype", json_object_new_string("F32"));
        json_object_object_add(e, "shape", shape);
        json_object_object_add(e, "data_offsets", off);
        json_object_object_add(h, t[i].name, e);
    }
    json_object *meta = json_object_new_object();
    json_object_object_add(meta, "format", json_object_new_string("pt"));
    json_object_object_add(h, "__metadata__", meta);
    const char *text = json_object_to_json_string_ext(h, JSON_C_TO_STRING_PLAIN);
    size_t len = strlen(text), padded = (len + 7) / 8 * 8; /* spaces keep the data 8-byte aligned */
    uint8_t *hdr = malloc(8 + padded);
    CHECK(hdr, "out of memory");
    bytes_put_u64(hdr, padded);
    memcpy(hdr + 8, text, len);
    memset(hdr + 8 + len, ' ', padded - len);
    json_object_put(h);
    atomicfile_t af;
    int rc = atomicfile_open(&af, path, ATOMICFILE_KEEP);
    if (!rc) rc = atomicfile_write(&af, hdr, 8 + padded);
    for (int i = 0; !rc && i < n; i++) {
        uint64_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) numel *= (uint64_t)t[i].shape[d];
        uint8_t buf[4096];
        for (uint64_t j = 0; !rc && j < numel; j += sizeof buf / 4) {
            size_t k = numel - j < sizeof buf / 4 ? (size_t)(numel - j) : sizeof buf / 4;
            for (size_t q = 0; q < k; q++) {
                uint32_t u;
                memcpy(&u, &t[i].data[j + q], 4);
                bytes_put_u32(buf + 4 * q, u);
            }
            rc = atomicfile_write(&af, buf, 4 * k);
        }
    }
    free(hdr);
    if (rc) {
        atomicfile_abort(&af);
        return -1;
    }
    return atomicfile_commit(&af);
}
