#include "analysis/find.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"

/* Deeper than any sweep layout; stops a symlink loop. */
enum { MAX_DEPTH = 16 };

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int has(const char *dir, const char *name, int want_dir)
{
    char p[4200];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0 && (want_dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
}

static void add(runlist_t *l, const char *dir)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->dir = realloc(l->dir, (size_t)l->cap * sizeof *l->dir);
        CHECK(l->dir, "out of memory");
    }
    size_t n = strlen(dir) + 1;
    l->dir[l->n] = err_calloc(n, 1);
    memcpy(l->dir[l->n++], dir, n);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void walk(runlist_t *l, const char *dir, int depth)
{
    if (has(dir, "config.ini", 0) || has(dir, "trace", 1)) {
        add(l, dir);
        return;
    }
    DIR *d = depth < MAX_DEPTH ? opendir(dir) : NULL;
    if (!d) return;
    runlist_t sub = {0};
    for (struct dirent *e; (e = readdir(d));) {
        char p[4200];
        if (e->d_name[0] == '.' || snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= 4096 || !is_dir(p)) continue;
        add(&sub, p);
    }
    closedir(d);
    if (sub.n) qsort(sub.dir, (size_t)sub.n, sizeof *sub.dir, cmp_str);
    for (int i = 0; i < sub.n; i++) walk(l, sub.dir[i], depth + 1);
    find_free(&sub);
}

int find_runs(runlist_t *l, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) return err_set("%s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return err_set("%s: not a directory", path);
    size_t n = strlen(path);
    char p[4096];
    /* "sweep/" and "sweep" name the same runs the same way */
    snprintf(p, sizeof p, "%.*s", (int)(n > 1 && path[n - 1] == '/' ? n - 1 : n), path);
    walk(l, p, 0);
    return 0;
}

void find_free(runlist_t *l)
{
    for (int i = 0; i < l->n; i++) free(l->dir[i]);
    free(l->dir);
    *l = (runlist_t){0};
}
