#include "analysis/outdir.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analysis/figures.h"
#include "core/atomicfile.h"
#include "core/err.h"

/* What il-aggregate writes into its directory: these, and figures/ of PNGs and gnuplot's log. */
static const char *const outputs[] = {"runs.csv",   "runs.md",    "genres.csv",  "genres.md",  "norms.csv",   "norms.md",   "inner.csv",
                                      "inner.md",   "skipped.csv", "skipped.md", "claims.csv", "claims.md",
                                      "scaling.csv", "scaling.md", "summary.nc"};

/* Whether s is "<word>.<digits>". */
static int word_pid(const char *s, const char *word)
{
    size_t n = strlen(word);
    if (strncmp(s, word, n) || s[n] != '.' || !s[n + 1]) return 0;
    for (s += n + 1; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}

static int is_output(const char *name)
{
    for (size_t i = 0; i < sizeof outputs / sizeof *outputs; i++)
        if (!strcmp(name, outputs[i])) return 1;
    return 0;
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n > m && !strcmp(s + n - m, tail);
}

/* figures.c's data file for gnuplot: ".plot.<pid>.dat". */
static int is_plot_data(const char *name)
{
    size_t n = strlen(name);
    if (n <= 10 || strncmp(name, ".plot.", 6) || !ends_with(name, ".dat")) return 0;
    for (size_t i = 6; i < n - 4; i++)
        if (name[i] < '0' || name[i] > '9') return 0;
    return 1;
}

/* A file that a writer of the outputs leaves when it dies: an output's temporary ("<output>.tmp.<pid>"), and in
 * figures/ a figure's ("<name>.png.tmp.<pid>") or the plot data. Nothing else, so that no file of the user's
 * is taken for one. */
static int is_debris(const char *name, int figures)
{
    const char *t = strstr(name, ".tmp.");
    char stem[300];
    if (t && atomicfile_is_tmp(name) && snprintf(stem, sizeof stem, "%.*s", (int)(t - name), name) < (int)sizeof stem)
        return figures ? ends_with(stem, ".png") : is_output(stem);
    return figures && is_plot_data(name);
}

/* Removes the debris of dead writers in dir (figures/ with `figures`); counts them into *removed and names the
 * first in first (n bytes). */
static void clean_files(const char *dir, int figures, int *removed, char *first, size_t n)
{
    DIR *dp = opendir(dir);
    for (struct dirent *e; dp && (e = readdir(dp));) {
        char path[8400];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (!is_debris(e->d_name, figures) || lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (unlink(path) == 0 && !(*removed)++) snprintf(first, n, "%s", path);
    }
    if (dp) closedir(dp);
}

/* The first entry of out that il-aggregate did not write, into name (n bytes): 1; 0 when there is none; -1
 * with err_set() when out cannot be read. */
static int foreign(const char *out, char *name, size_t n)
{
    DIR *dp = opendir(out);
    if (!dp) return err_set("%s: cannot read: %s", out, strerror(errno));
    int found = 0;
    for (struct dirent *e; !found && (e = readdir(dp));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char path[8400];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", out, e->d_name);
        if (lstat(path, &st) != 0) continue;
        if (S_ISREG(st.st_mode) && (is_output(e->d_name) || is_debris(e->d_name, 0))) continue;
        if (S_ISDIR(st.st_mode) && !strcmp(e->d_name, "figures")) {
            DIR *fp = opendir(path);
            for (struct dirent *f; !found && fp && (f = readdir(fp));) {
                char png[8700];
                snprintf(png, sizeof png, "%s/%s", path, f->d_name);
                if (strcmp(f->d_name, ".") && strcmp(f->d_name, "..") &&
                    (lstat(png, &st) != 0 || !S_ISREG(st.st_mode) ||
                     !(ends_with(f->d_name, ".png") || !strcmp(f->d_name, FIGURES_LOG) || is_debris(f->d_name, 1))))
                    found = snprintf(name, n, "figures/%s", f->d_name) >= 0;
            }
            if (fp) closedir(fp);
            continue;
        }
        found = snprintf(name, n, "%s", e->d_name) >= 0;
    }
    closedir(dp);
    return found;
}

/* Removes what writers that died left beside out: their temporary directories. Returns how many it removed
 * (the first named in first, n bytes); puts back an old directory whose writer died before the new one went
 * in. */
static int clean_beside(const outdir_t *o, const char *parent, const char *base, char *first, size_t n)
{
    char tmp_word[4200], old_word[4200];
    snprintf(tmp_word, sizeof tmp_word, ".%s.tmp", base);
    snprintf(old_word, sizeof old_word, ".%s.old", base);
    int removed = 0;
    struct stat st;
    DIR *dp = opendir(parent);
    for (struct dirent *e; dp && (e = readdir(dp));) {
        char path[8400];
        snprintf(path, sizeof path, "%s/%s", parent, e->d_name);
        if (word_pid(e->d_name, old_word) && lstat(o->out, &st) != 0 && rename(path, o->out) == 0) {
            printf("il-aggregate: %s: put back the outputs that a writer that died had moved aside\n", o->out);
        } else if (word_pid(e->d_name, old_word) || word_pid(e->d_name, tmp_word)) {
            atomicfile_remove_tree(path);
            if (!removed++) snprintf(first, n, "%s", path);
        }
    }
    if (dp) closedir(dp);
    return removed;
}

int outdir_open(outdir_t *o, const char *out)
{
    memset(o, 0, sizeof *o);
    o->fd = -1;
    if (snprintf(o->out, sizeof o->out, "%s", out) >= (int)sizeof o->out)
        return err_set("%s: path too long", out), IL_EXIT_INPUT;
    for (size_t n = strlen(o->out); n > 1 && o->out[n - 1] == '/';) o->out[--n] = '\0';
    char parent[4096], *slash = strrchr(o->out, '/');
    const char *base = slash ? slash + 1 : o->out;
    if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
        return err_set("--out %s: name a directory of its own (it is replaced as a whole)", out), IL_EXIT_INPUT;
    if (!slash) snprintf(parent, sizeof parent, ".");
    else snprintf(parent, sizeof parent, "%.*s", slash == o->out ? 1 : (int)(slash - o->out), o->out);
    if (atomicfile_mkdirs(parent)) return IL_EXIT_FAIL;
    struct stat st;
    if (lstat(o->out, &st) == 0 && S_ISLNK(st.st_mode))
        return err_set("%s: a symbolic link; give --out the directory it points to", o->out), IL_EXIT_INPUT;
    if (lstat(o->out, &st) == 0 && !S_ISDIR(st.st_mode)) return err_set("%s: not a directory", o->out), IL_EXIT_INPUT;
    char lock[8300], holder[256];
    snprintf(lock, sizeof lock, "%s/.%s.lock", parent, base);
    o->fd = atomicfile_lock(lock, holder, sizeof holder);
    if (o->fd == ATOMICFILE_LOCKED)
        return err_set("%s: in use by another il-aggregate (%s); one writer per output directory", o->out, holder),
               IL_EXIT_INPUT;
    if (o->fd < 0) return IL_EXIT_FAIL;
    char first[8400] = "", name[4200], figures[4200];
    int stale = clean_beside(o, parent, base, first, sizeof first);
    int alien = lstat(o->out, &st) == 0 ? foreign(o->out, name, sizeof name) : 0;
    if (alien < 0) return IL_EXIT_FAIL;
    if (alien)
        return err_set("%s: holds %s, which il-aggregate did not write; it replaces its output directory as a "
                       "whole, so give --out a directory of its own", o->out, name),
               IL_EXIT_INPUT;
    snprintf(figures, sizeof figures, "%s/figures", o->out);
    clean_files(o->out, 0, &stale, first, sizeof first);
    clean_files(figures, 1, &stale, first, sizeof first);
    if (stale)
        printf("il-aggregate: removed %d temporary output%s left by writers that died (%s%s)\n", stale,
               stale == 1 ? "" : "s", first, stale > 1 ? ", ..." : "");
    snprintf(o->work, sizeof o->work, "%s/.%s.tmp.%ld", parent, base, (long)getpid());
    snprintf(o->old, sizeof o->old, "%s/.%s.old.%ld", parent, base, (long)getpid());
    if (mkdir(o->work, 0777) != 0) {
        err_set("%s: cannot create: %s", o->work, strerror(errno));
        o->work[0] = '\0';
        return IL_EXIT_FAIL;
    }
    return IL_EXIT_OK;
}

int outdir_commit(outdir_t *o)
{
    struct stat st;
    int had = lstat(o->out, &st) == 0;
    if (had && rename(o->out, o->old) != 0)
        return err_set("%s: cannot move the old outputs aside: %s", o->out, strerror(errno));
    if (rename(o->work, o->out) != 0) {
        int err = errno;
        if (had) rename(o->old, o->out);
        return err_set("%s: cannot rename into place: %s", o->out, strerror(err));
    }
    o->work[0] = '\0';
    if (had) atomicfile_remove_tree(o->old);
    atomicfile_sync_dir_of(o->out);
    return 0;
}

void outdir_close(outdir_t *o)
{
    if (o->work[0]) atomicfile_remove_tree(o->work);
    o->work[0] = '\0';
    if (o->fd >= 0) close(o->fd); /* closing the last descriptor releases the flock */
    o->fd = -1;
}
