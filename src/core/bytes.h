/* bytes: explicit little-endian fields and whole-file reads, shared by every binary format of the data
 * stack (tokenizer, shard, counts), so that no format depends on the host's byte order or struct padding. */
#ifndef IL_BYTES_H
#define IL_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

static inline void bytes_put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void bytes_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void bytes_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t bytes_get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t bytes_get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static inline uint64_t bytes_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* FNV-1a, the project's one hash, in 32 and 64 bits: continue a hash over more bytes by passing the
 * previous value (start with BYTES_FNV_INIT or BYTES_FNV64_INIT). The 32-bit one names tokenizers inside
 * data files, so it stays as it is. */
#define BYTES_FNV_INIT 2166136261u
#define BYTES_FNV64_INIT 0xcbf29ce484222325ull
uint32_t bytes_fnv1a(uint32_t h, const void *data, size_t n);
uint64_t bytes_fnv1a64(uint64_t h, const void *data, size_t n);

/* Reads a whole file into *buf (malloc'd, one extra NUL byte past the end so text can be scanned
 * safely). -1 with err_set() naming the file if it is missing or unreadable. An empty file is not an
 * error here; callers word that message for their format. */
int bytes_read_file(const char *path, uint8_t **buf, size_t *n);
/* Reads the file at path whole and hands it to parse(path, bytes, size, out), then frees the bytes: the
 * read-parse-free of every loader of a binary format. Returns parse's result, or -1 when the file cannot be
 * read. */
int bytes_parse_file(const char *path, int (*parse)(const char *path, const uint8_t *b, size_t n, void *out),
                     void *out);

/* Opens a regular file for reading; anything else (a FIFO, a device, a directory) is refused before a read
 * can block on it. NULL with err_set() naming the file. */
FILE *bytes_fopen_regular(const char *path);

/* Writes n bytes atomically to a new file (see atomicfile.h). */
int bytes_write_file(const char *path, const uint8_t *buf, size_t n);

#endif
