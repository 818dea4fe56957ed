#include "run/ckptfile.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/bytes.h"
#include "core/err.h"

/* Byte layout, documented in docs/formats.md. */
#define MAGIC "ILCKPT"
#define MAGIC_LEN 6
#define VERSION 1
#define FILE_HDR 8  /* magic, u16 version */
#define SEC_HDR 40  /* tag[24], u64 bytes, u32 crc, u32 reserved */
#define ALIGN 8     /* section data starts at a multiple of 8, so ckptfile_view() can hand out float arrays */
#define END_TAG "(end)" /* not a valid user tag, so it cannot collide */
#define END_BYTES 16 /* u64 section count, u32 CRC of the section headers, u32 reserved */

/* zlib's crc32() takes a 32-bit length; a parameter section can be larger. */
static uint32_t crc_of(uint32_t crc, const void *data, size_t n)
{
    const Bytef *p = data;
    while (n) {
        uInt chunk = n > (1u << 30) ? 1u << 30 : (uInt)n;
        crc = (uint32_t)crc32(crc, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return crc;
}

static size_t padding(uint64_t bytes) { return (size_t)((ALIGN - bytes % ALIGN) % ALIGN); }

static int valid_tag(const char *tag)
{
    size_t len = strlen(tag);
    if (len == 0 || len >= CKPTFILE_TAG_LEN) return 0;
    for (; *tag; tag++)
        if (!isalnum((unsigned char)*tag) && !strchr("._-", *tag)) return 0;
    return 1;
}

/* Writes data straight from the caller's buffer: a multi-GB parameter section is never copied. */
static int write_section(ckptfile_writer_t *w, const char *tag, const void *data, size_t bytes)
{
    static const uint8_t zeros[ALIGN];
    uint8_t h[SEC_HDR] = {0};
    memcpy(h, tag, strlen(tag));
    bytes_put_u64(h + CKPTFILE_TAG_LEN, bytes);
    bytes_put_u32(h + CKPTFILE_TAG_LEN + 8, crc_of(0, data, bytes));
    w->header_crc = crc_of(w->header_crc, h, sizeof h);
    CALL(atomicfile_write(&w->af, h, sizeof h));
    CALL(atomicfile_write(&w->af, data, bytes));
    CALL(atomicfile_write(&w->af, zeros, padding(bytes)));
    return 0;
}

static void drop_tags(ckptfile_writer_t *w)
{
    free(w->tags);
    w->tags = NULL;
    w->tags_cap = 0;
}

int ckptfile_begin(ckptfile_writer_t *w, const char *path)
{
    memset(w, 0, sizeof *w);
    CALL(atomicfile_open(&w->af, path, ATOMICFILE_KEEP));
    uint8_t h[FILE_HDR] = {0};
    memcpy(h, MAGIC, MAGIC_LEN);
    bytes_put_u16(h + MAGIC_LEN, VERSION);
    if (atomicfile_write(&w->af, h, sizeof h)) {
        atomicfile_abort(&w->af);
        return -1;
    }
    return 0;
}

int ckptfile_add(ckptfile_writer_t *w, const char *tag, const void *data, size_t bytes)
{
    if (w->failed) return err_set("%s: an earlier section failed; not adding '%s'", w->af.path, tag);
    int rc = 0;
    if (!valid_tag(tag))
        rc = err_set("%s: bad section tag '%s': use 1 to %d characters from [A-Za-z0-9._-]", w->af.path, tag,
                     CKPTFILE_TAG_LEN - 1);
    for (size_t i = 0; !rc && i < w->n_sections; i++)
        if (!strcmp(w->tags[i], tag)) rc = err_set("%s: duplicate section '%s'", w->af.path, tag);
    if (!rc) rc = write_section(w, tag, data, bytes);
    if (rc) {
        w->failed = 1;
        return -1;
    }
    if (w->n_sections == w->tags_cap) {
        w->tags_cap = w->tags_cap ? 2 * w->tags_cap : 16;
        w->tags = realloc(w->tags, w->tags_cap * sizeof *w->tags);
        CHECK(w->tags, "out of memory for %zu checkpoint tags", w->tags_cap);
    }
    snprintf(w->tags[w->n_sections++], CKPTFILE_TAG_LEN, "%s", tag);
    return 0;
}

int ckptfile_commit(ckptfile_writer_t *w)
{
    if (w->failed) {
        ckptfile_abort(w);
        return err_set("%s: not written because a section failed", w->af.path);
    }
    uint8_t end[END_BYTES] = {0};
    bytes_put_u64(end, w->n_sections);
    bytes_put_u32(end + 8, w->header_crc);
    drop_tags(w);
    if (write_section(w, END_TAG, end, sizeof end)) {
        atomicfile_abort(&w->af);
        return -1;
    }
    return atomicfile_commit(&w->af);
}

void ckptfile_abort(ckptfile_writer_t *w)
{
    atomicfile_abort(&w->af);
    drop_tags(w);
}

static const ckptfile_section_t *find(const ckptfile_reader_t *r, const char *tag)
{
    for (int i = 0; i < r->n_sections; i++)
        if (!strcmp(r->sections[i].tag, tag)) return &r->sections[i];
    return NULL;
}

static int check_end_marker(const ckptfile_reader_t *r, const uint8_t *data, uint64_t bytes, uint32_t header_crc,
                            size_t end_pos)
{
    if (bytes != END_BYTES || bytes_get_u64(data) != (uint64_t)r->n_sections ||
        bytes_get_u32(data + 8) != header_crc || bytes_get_u32(data + 12) != 0)
        return err_set("%s: corrupt: the end marker does not match the %d section headers before it", r->path,
                       r->n_sections);
    if (end_pos != r->size)
        return err_set("%s: corrupt: %zu bytes after the end marker", r->path, r->size - end_pos);
    return 0;
}

/* Walks the sections, verifying each one, until the end marker. */
static int parse(ckptfile_reader_t *r)
{
    const uint8_t *b = r->buf;
    if (r->size < FILE_HDR) {
        if (memcmp(b, MAGIC, r->size < MAGIC_LEN ? r->size : MAGIC_LEN) == 0)
            return err_set("%s: truncated: %zu bytes, shorter than the file header", r->path, r->size);
        return err_set("%s: not a checkpoint (bad magic)", r->path);
    }
    if (memcmp(b, MAGIC, MAGIC_LEN)) return err_set("%s: not a checkpoint (bad magic)", r->path);
    unsigned version = bytes_get_u16(b + MAGIC_LEN);
    if (version != VERSION)
        return err_set("%s: unsupported checkpoint format version %u (this build reads %d)", r->path, version,
                       VERSION);
    uint32_t header_crc = 0;
    size_t cap = 0;
    for (size_t pos = FILE_HDR;;) {
        if (pos == r->size)
            return err_set("%s: truncated: no end marker after %d sections", r->path, r->n_sections);
        if (r->size - pos < SEC_HDR)
            return err_set("%s: truncated: section header at offset %zu runs past end of file", r->path, pos);
        const uint8_t *h = b + pos, *data = h + SEC_HDR;
        char tag[CKPTFILE_TAG_LEN];
        memcpy(tag, h, sizeof tag);
        uint64_t bytes = bytes_get_u64(h + CKPTFILE_TAG_LEN);
        uint32_t crc = bytes_get_u32(h + CKPTFILE_TAG_LEN + 8);
        /* The end marker's own header is outside the header CRC, so every header byte is checked here. */
        size_t len = strnlen(tag, CKPTFILE_TAG_LEN);
        int bad_tag = len == CKPTFILE_TAG_LEN || (strcmp(tag, END_TAG) && !valid_tag(tag));
        for (size_t i = len; i < CKPTFILE_TAG_LEN; i++) bad_tag |= tag[i] != 0;
        if (bad_tag || bytes_get_u32(h + CKPTFILE_TAG_LEN + 12) != 0)
            return err_set("%s: corrupt section header at offset %zu", r->path, pos);
        size_t avail = r->size - pos - SEC_HDR;
        if (bytes > avail || bytes + padding(bytes) > avail)
            return err_set("%s: truncated: section '%s' (%llu bytes at offset %zu) runs past end of file", r->path,
                           tag, (unsigned long long)bytes, pos + SEC_HDR);
        if (crc_of(0, data, bytes) != crc) return err_set("%s: CRC mismatch in section '%s'", r->path, tag);
        for (size_t i = 0; i < padding(bytes); i++)
            if (data[bytes + i]) return err_set("%s: corrupt padding after section '%s'", r->path, tag);
        size_t next = pos + SEC_HDR + bytes + padding(bytes);
        if (!strcmp(tag, END_TAG)) return check_end_marker(r, data, bytes, header_crc, next);
        if (find(r, tag)) return err_set("%s: duplicate section '%s'", r->path, tag);
        if ((size_t)r->n_sections == cap) {
            cap = cap ? 2 * cap : 16;
            r->sections = realloc(r->sections, cap * sizeof *r->sections);
            CHECK(r->sections, "out of memory for %zu checkpoint sections", cap);
        }
        ckptfile_section_t *s = &r->sections[r->n_sections++];
        memcpy(s->tag, tag, sizeof tag);
        s->offset = pos + SEC_HDR;
        s->bytes = bytes;
        header_crc = crc_of(header_crc, h, SEC_HDR);
        pos = next;
    }
}

int ckptfile_open(ckptfile_reader_t *r, const char *path)
{
    memset(r, 0, sizeof *r);
    if (strlen(path) >= sizeof r->path) return err_set("%s: path too long", path);
    strcpy(r->path, path);
    if (bytes_read_file(path, &r->buf, &r->size) || parse(r)) {
        ckptfile_close(r);
        return -1;
    }
    return 0;
}

int ckptfile_view(const ckptfile_reader_t *r, const char *tag, const void **data, size_t *bytes)
{
    const ckptfile_section_t *s = find(r, tag);
    if (!s) return err_set("%s: no section '%s'", r->path, tag);
    *data = r->buf + s->offset;
    *bytes = (size_t)s->bytes;
    return 0;
}

int ckptfile_get(const ckptfile_reader_t *r, const char *tag, void *dst, size_t bytes)
{
    const void *data = NULL;
    size_t have = 0;
    CALL(ckptfile_view(r, tag, &data, &have));
    if (have != bytes)
        return err_set("%s: section '%s' holds %zu bytes, expected %zu", r->path, tag, have, bytes);
    if (bytes) memcpy(dst, data, bytes);
    return 0;
}

void ckptfile_close(ckptfile_reader_t *r)
{
    free(r->buf);
    free(r->sections);
    memset(r, 0, sizeof *r);
}
