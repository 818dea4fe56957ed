/* tmpdir: a suite's scratch directory `dir`, made fresh under $TMPDIR (or /tmp) by the cmocka group setup
 * tmpdir_make and removed with everything in it by tmpdir_remove. */
#ifndef IL_TESTS_TMPDIR_H
#define IL_TESTS_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>

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

#endif
