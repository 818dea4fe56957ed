#include "core/share.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"

int share_find(const char *tree, const char *installed, const char *file, char *out, size_t n)
{
    char exe[PATH_MAX], dir[PATH_MAX], candidate[PATH_MAX + 512];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len < 0) return err_set("/proc/self/exe: %s", strerror(errno));
    exe[len] = '\0';
    memcpy(dir, exe, (size_t)len + 1);
    for (int up = 0; up < 5; up++) {
        char *slash = strrchr(dir, '/');
        if (!slash) break;
        *slash = '\0';
        for (int i = 0; i < 2; i++) {
            int k = snprintf(candidate, sizeof candidate, "%s/%s%s", dir, i ? "share/innerloop/" : "",
                             i ? installed : tree);
            if ((size_t)k >= n || (size_t)k + strlen(file) + 2 > sizeof candidate) continue;
            snprintf(candidate + k, sizeof candidate - (size_t)k, "/%s", file);
            if (access(candidate, R_OK) == 0) {
                snprintf(out, n, "%.*s", k, candidate);
                return 0;
            }
        }
    }
    return err_set("cannot find %s/%s or share/innerloop/%s/%s above %s", tree, file, installed, file, exe);
}
