/* share: the files the tools read at run time, found from their own executable: in a source tree the
 * folders above build/bin (or a deeper BUILD), in an installation PREFIX/share/innerloop (make install),
 * so that neither needs a path compiled in and an installation may be moved. */
#ifndef IL_SHARE_H
#define IL_SHARE_H

#include <stddef.h>

/* The nearest folder above this executable (up to 5 levels) that is `tree` (a source tree's, as
 * "analysis/plots") or share/innerloop/`installed` (an installation's, as "plots") and holds `file`, into
 * out. Returns 0, or -1 with err_set() naming what was looked for. */
int share_find(const char *tree, const char *installed, const char *file, char *out, size_t n);

#endif
