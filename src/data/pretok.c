#define PCRE2_CODE_UNIT_WIDTH 8
#include "data/pretok.h"

#include <pcre2.h>
#include <stdlib.h>

#include "core/err.h"

/* JavaScript's \s (ECMA-262 WhiteSpace and LineTerminator: Zs, tab, VT, FF, U+FEFF, LF, CR, U+2028,
 * U+2029), spelt out because PCRE2's \s differs from it: PCRE2 counts U+0085 (NEL) and U+180E and not
 * U+FEFF. The reference encoder, npm's gpt-3-encoder, runs the pattern in JavaScript, and the test
 * (tests/t_gpt2.sh) holds us to its ids. */
#define JS_SPACE "\\t\\n\\x{0B}\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}"
static const char gpt2_pattern[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" JS_SPACE "\\p{L}\\p{N}]+"
                                   "|[" JS_SPACE "]+(?![^" JS_SPACE "])|[" JS_SPACE "]+";

struct pretok {
    pcre2_code *code;
};

pretok_t *pretok_new_gpt2(void)
{
    int code;
    PCRE2_SIZE at;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)gpt2_pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &code, &at, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        err_set("GPT-2 pre-tokeniser: PCRE2 rejects the pattern at offset %zu: %s", (size_t)at, (char *)msg);
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* the interpreter matches the same where JIT is missing */
    pretok_t *p = err_calloc(1, sizeof *p);
    p->code = re;
    return p;
}

void pretok_free(pretok_t *p)
{
    if (!p) return;
    pcre2_code_free(p->code);
    free(p);
}

/* Length of the valid UTF-8 sequence at s (n > 0 bytes left), or 0: no overlong forms, no surrogates,
 * nothing above U+10FFFF, as PCRE2 requires of its subject. */
static size_t utf8_len(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    if (c < 0x80) return 1;
    size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (len == 0 || n < len) return 0;
    uint8_t lo = 0x80, hi = 0xBF; /* the second byte's range */
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return len;
}

/* Cuts one valid UTF-8 stretch with the pattern. Every code point matches one of its branches, so each
 * match starts where the last ended (anchored) and is never empty. */
static int split_valid(const pretok_t *p, pcre2_match_data *md, const uint8_t *s, size_t n,
                       int (*piece)(const uint8_t *, size_t, void *), void *arg)
{
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    for (size_t at = 0; at < n;) {
        int rc = pcre2_match(p->code, s, n, at, PCRE2_ANCHORED | PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc < 0 || ov[1] <= at) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc < 0 ? rc : PCRE2_ERROR_INTERNAL, msg, sizeof msg);
            return err_set("GPT-2 pre-tokeniser: no match at byte %zu: %s", at, (char *)msg);
        }
        int r = piece(s + at, ov[1] - at, arg);
        if (r) return r;
        at = ov[1];
    }
    return 0;
}

int pretok_split(const pretok_t *p, const uint8_t *text, size_t n, int (*piece)(const uint8_t *s, size_t len, void *arg),
                 void *arg)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(p->code, NULL);
    CHECK(md, "out of memory for PCRE2 match data");
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0;) {
        size_t start = i, len;
        while (i < n && (len = utf8_len(text + i, n - i)) > 0) i += len;
        if (i > start) rc = split_valid(p, md, text + start, i - start, piece, arg);
        else rc = piece(text + i++, 1, arg); /* a byte that starts no valid sequence: a piece alone */
    }
    pcre2_match_data_free(md);
    return rc;
}
