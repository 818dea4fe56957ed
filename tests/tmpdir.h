/* tmpdir: a suite's scratch directory `dir`, made fresh under $TMPDIR (or /tmp) by the cmocka group setup
 * tmpdir_make and removed with everything in it by tmpdir_remove; and what the input-checking suites
 * share: writing a test file there, and checking the message of an expected error. Include after
 * <cmocka.h>. */
#ifndef IL_TESTS_TMPDIR_H
#define IL_TESTS_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

static char dir[4096];

static inline int tmpdir_make(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/il_test_XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

static inline int tmpdir_remove(void **state)
{
    (void)state;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* <dir>/<name>, in one of 4 static buffers used in turn: a call can take a few paths at once. */
static inline const char *tmpdir_path(const char *name)
{
    static char p[4][4200];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

/* Writes `text` to <dir>/<name> and returns the path (static buffer: one file at a time). */
static inline const char *tmpdir_write(const char *name, const char *text)
{
    static char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    return path;
}

/* The last error message (err_msg) must contain s. */
#define assert_msg_has(s)                                                                                 \
    do {                                                                                                  \
        if (!strstr(err_msg(), (s))) fail_msg("message \"%s\" lacks \"%s\"", err_msg(), (s));              \
    } while (0)

#endif
