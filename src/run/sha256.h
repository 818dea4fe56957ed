/* sha256: the SHA-256 of a file (FIPS 180-4), so that a checkpoint records exactly which published weights it
 * was made from, in the digest their publishers list. */
#ifndef IL_SHA256_H
#define IL_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* The digest of n bytes as 64 lowercase hex digits and a NUL. */
void sha256_hex(const uint8_t *data, size_t n, char hex[65]);

#endif
