/* pretok: GPT-2's pre-tokeniser, the regex that cuts text into the pieces BPE merges within.
 *
 * The pattern is GPT-2's 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ run by
 * PCRE2 on code points (UTF, JIT when the library has it), with \s spelt as JavaScript's, the reference
 * encoder's (see pretok.c). Bytes that are not valid UTF-8 are each a piece of their own, and the valid
 * stretches between them are cut as if each were a whole text (docs/formats.md), so the pieces always
 * cover every byte of the text in order. A pretok_t is read-only once made: several threads may split
 * with one at the same time. */
#ifndef IL_PRETOK_H
#define IL_PRETOK_H

#include <stddef.h>
#include <stdint.h>

typedef struct pretok pretok_t;

/* NULL with err_set() if PCRE2 rejects the pattern (a library built without Unicode support). */
pretok_t *pretok_new_gpt2(void);
void pretok_free(pretok_t *p);
/* Calls piece(s, len, arg) for each piece of text[0..n) in order; stops at the first non-zero return and
 * returns it. Returns 0, or -1 with err_set() if PCRE2 fails. */
int pretok_split(const pretok_t *p, const uint8_t *text, size_t n, int (*piece)(const uint8_t *s, size_t len, void *arg),
                 void *arg);

#endif
