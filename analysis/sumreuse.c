#include "analysis/sumreuse.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>
#include <netcdf.h>
#include <zlib.h>

#include "analysis/summary.h"
#include "analysis/traceread.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/runlog.h"

/* One run's chunk of one curve variable, as the old file stores it (compressed), for row `row` of the new. */
typedef struct {
    size_t row;
    int var;
    uint32_t filters;
    hsize_t n;
    void *b;
} chunk_t;

typedef struct {
    uint64_t key;
    size_t row;
} keyrow_t;

struct sumreuse {
    hid_t file, *dset; /* the old file and its curve datasets */
    hsize_t file_size; /* no chunk of it is larger */
    int n_curves;
    char (*name)[NC_MAX_NAME + 1];
    size_t *raw;       /* (n_curves) the bytes of one chunk of each, uncompressed */
    void *scratch;     /* the largest of them, to inflate into */
    keyrow_t *keys; /* (n_keys) by key: the old rows whose key is set and unique */
    size_t n_keys;
    chunk_t *chunk;
    size_t n_chunks, cap;
};

static int cmp_key(const void *a, const void *b)
{
    uint64_t x = ((const keyrow_t *)a)->key, y = ((const keyrow_t *)b)->key;
    return (x > y) - (x < y);
}

/* Whether the text attribute `att` of the file is `want`. */
static int att_is(int ncid, const char *att, const char *want)
{
    size_t n;
    char v[256];
    return nc_inq_attlen(ncid, NC_GLOBAL, att, &n) == NC_NOERR && n == strlen(want) && n < sizeof v &&
           nc_get_att_text(ncid, NC_GLOBAL, att, v) == NC_NOERR && !memcmp(v, want, n);
}

/* Whether the coordinate values of dimension `name` (its length n, of type long long in the new file) are
 * the same in both files: the step axis, and the index axes. */
static int same_coordinate(int old, int new, const char *name, size_t n)
{
    int vo, vn, same = 0;
    if (nc_inq_varid(new, name, &vn) != NC_NOERR) return nc_inq_varid(old, name, &vo) != NC_NOERR;
    long long *a = err_calloc(2 * n + 1, sizeof *a);
    same = nc_inq_varid(old, name, &vo) == NC_NOERR && nc_get_var_longlong(old, vo, a) == NC_NOERR &&
           nc_get_var_longlong(new, vn, a + n) == NC_NOERR && !memcmp(a, a + n, n * sizeof *a);
    free(a);
    return same;
}

/* The byte order of variable v: a file being written says "native", one read back says which. */
static int endian(int ncid, int v)
{
    const uint16_t one = 1;
    int e;
    if (nc_inq_var_endian(ncid, v, &e) != NC_NOERR) return -1;
    return e != NC_ENDIAN_NATIVE ? e : *(const unsigned char *)&one ? NC_ENDIAN_LITTLE : NC_ENDIAN_BIG;
}

/* Whether the old file's variable of this name stores its chunks as the new file's variable vn does: type,
 * dimensions (the first, run, aside) and their coordinates, chunk shape, filters and byte order. */
static int same_variable(int old, int new, int vn, const char *name)
{
    int vo, dn[NC_MAX_VAR_DIMS], dov[NC_MAX_VAR_DIMS], nd, ndo, sn, so, dfn, dfo, ln, lo, fn, fo, cn, co;
    nc_type tn, to;
    size_t chn[NC_MAX_VAR_DIMS], cho[NC_MAX_VAR_DIMS];
    if (nc_inq_varid(old, name, &vo) != NC_NOERR || nc_inq_var(new, vn, NULL, &tn, &nd, dn, NULL) != NC_NOERR ||
        nc_inq_var(old, vo, NULL, &to, &ndo, dov, NULL) != NC_NOERR || tn != to || nd != ndo || nd < 2)
        return 0;
    for (int d = 1; d < nd; d++) {
        char a[NC_MAX_NAME + 1], b[NC_MAX_NAME + 1];
        size_t la, lb;
        if (nc_inq_dim(new, dn[d], a, &la) != NC_NOERR || nc_inq_dim(old, dov[d], b, &lb) != NC_NOERR || strcmp(a, b) ||
            la != lb || !same_coordinate(old, new, a, la))
            return 0;
    }
    return nc_inq_var_chunking(new, vn, &cn, chn) == NC_NOERR && nc_inq_var_chunking(old, vo, &co, cho) == NC_NOERR &&
           cn == NC_CHUNKED && co == NC_CHUNKED && !memcmp(chn, cho, (size_t)nd * sizeof *chn) && chn[0] == 1 &&
           nc_inq_var_deflate(new, vn, &sn, &dfn, &ln) == NC_NOERR &&
           nc_inq_var_deflate(old, vo, &so, &dfo, &lo) == NC_NOERR && sn == so && dfn == dfo && ln == lo &&
           nc_inq_var_fletcher32(new, vn, &fn) == NC_NOERR && nc_inq_var_fletcher32(old, vo, &fo) == NC_NOERR &&
           fn == fo && endian(new, vn) >= 0 && endian(new, vn) == endian(old, vo);
}

/* The old file's rows by key: run_key along run, the zero keys (no run cache) and any key held twice left
 * out. Returns 0, or -1 when there is no such variable. */
static int read_keys(sumreuse_t *r, int old)
{
    int v, nd, dim;
    size_t n;
    if (nc_inq_varid(old, SUMMARY_RUN_KEY, &v) != NC_NOERR || nc_inq_varndims(old, v, &nd) != NC_NOERR || nd != 1 ||
        nc_inq_vardimid(old, v, &dim) != NC_NOERR || nc_inq_dimlen(old, dim, &n) != NC_NOERR)
        return -1;
    /* calloc, not err_calloc: a damaged file's length must not end the process */
    unsigned long long *k = n < (size_t)1 << 32 ? calloc(n + 1, sizeof *k) : NULL;
    if (!k) return -1;
    if (n && nc_get_var_ulonglong(old, v, k) != NC_NOERR) {
        free(k);
        return -1;
    }
    keyrow_t *all = err_calloc(n + 1, sizeof *all);
    for (size_t i = 0; i < n; i++) all[i] = (keyrow_t){k[i], i};
    free(k);
    qsort(all, n, sizeof *all, cmp_key);
    r->keys = err_calloc(n + 1, sizeof *r->keys);
    for (size_t i = 0; i < n; i++)
        if (all[i].key && (!i || all[i - 1].key != all[i].key) && (i + 1 == n || all[i + 1].key != all[i].key))
            r->keys[r->n_keys++] = all[i];
    free(all);
    return 0;
}

/* The bytes of one chunk of variable v of the new file: its chunk's shape times its type's size. */
static int chunk_bytes(int ncid, int v, size_t *n)
{
    int nd, storage;
    nc_type type;
    size_t shape[NC_MAX_VAR_DIMS], size;
    if (nc_inq_varndims(ncid, v, &nd) != NC_NOERR || nc_inq_var_chunking(ncid, v, &storage, shape) != NC_NOERR ||
        storage != NC_CHUNKED || nc_inq_vartype(ncid, v, &type) != NC_NOERR ||
        nc_inq_type(ncid, type, NULL, &size) != NC_NOERR)
        return -1;
    *n = size;
    for (int d = 0; d < nd; d++) *n *= shape[d];
    return 0;
}

static sumreuse_t *open_checked(const char *old_path, int ncid, const int *varid, int n_curves)
{
    int old, fmt = 0;
    /* HDF5 prints its error stack by default: a damaged old file is not the user's concern here */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (!old_path || nc_open(old_path, NC_NOWRITE, &old) != NC_NOERR) return NULL;
    sumreuse_t *r = err_calloc(1, sizeof *r);
    r->n_curves = n_curves;
    r->name = err_calloc((size_t)n_curves, sizeof *r->name);
    r->dset = err_calloc((size_t)n_curves, sizeof *r->dset);
    r->raw = err_calloc((size_t)n_curves, sizeof *r->raw);
    r->file = H5I_INVALID_HID;
    /* another format or another build may write other bytes for the same curves */
    int ok = nc_get_att_int(old, NC_GLOBAL, SUMREUSE_FORMAT_ATT, &fmt) == NC_NOERR && fmt == SUMREUSE_FORMAT &&
             att_is(old, "product_version", runlog_git_commit()) && read_keys(r, old) == 0;
    for (int i = 0; ok && i < n_curves; i++)
        ok = nc_inq_varname(ncid, varid[i], r->name[i]) == NC_NOERR && same_variable(old, ncid, varid[i], r->name[i]) &&
             chunk_bytes(ncid, varid[i], &r->raw[i]) == 0;
    size_t largest = 0;
    for (int i = 0; ok && i < n_curves; i++) largest = r->raw[i] > largest ? r->raw[i] : largest;
    if (ok) r->scratch = err_calloc(largest, 1);
    nc_close(old);
    /* netCDF gives no access to a file's chunks: HDF5 itself reads them (a netCDF variable is the dataset of
     * its name) */
    if (ok)
        ok = (r->file = H5Fopen(old_path, H5F_ACC_RDONLY, H5P_DEFAULT)) >= 0 &&
             H5Fget_filesize(r->file, &r->file_size) >= 0;
    for (int i = 0; i < n_curves; i++) r->dset[i] = ok ? H5Dopen2(r->file, r->name[i], H5P_DEFAULT) : H5I_INVALID_HID;
    for (int i = 0; ok && i < n_curves; i++) ok = r->dset[i] >= 0;
    if (ok && r->n_keys) return r;
    sumreuse_free(r);
    return NULL;
}

/* Whether a held chunk inflates to exactly its variable's chunk (zlib's Adler-32 checks the bytes): a
 * chunk damaged on disk would otherwise be copied into every later summary.nc, and fail whatever reads it.
 * Inflating costs a small part of the compression it saves. A chunk whose deflate was skipped (HDF5 may
 * store one that did not shrink as it came) is not checked and not taken. */
static int intact(const sumreuse_t *r, const chunk_t *c)
{
    uLongf n = (uLongf)r->raw[c->var];
    return c->filters == 0 && uncompress(r->scratch, &n, c->b, (uLong)c->n) == Z_OK && n == r->raw[c->var];
}

/* Drops the held chunks from `from` on. */
static void drop(sumreuse_t *r, size_t from)
{
    for (size_t i = from; i < r->n_chunks; i++) free(r->chunk[i].b);
    r->n_chunks = from;
}

int sumreuse_take(sumreuse_t *r, uint64_t key, size_t row)
{
    if (!r || !key) return 0;
    keyrow_t want = {key, 0}, *at = bsearch(&want, r->keys, r->n_keys, sizeof *r->keys, cmp_key);
    if (!at) return 0;
    size_t first = r->n_chunks;
    for (int i = 0; i < r->n_curves; i++) {
        hsize_t off[NC_MAX_VAR_DIMS] = {at->row}, n = 0;
        if (r->n_chunks == r->cap) {
            r->cap = r->cap ? 2 * r->cap : 256;
            r->chunk = realloc(r->chunk, r->cap * sizeof *r->chunk);
            CHECK(r->chunk, "out of memory");
        }
        chunk_t *c = &r->chunk[r->n_chunks];
        /* a chunk that is missing (size 0) or whose index cannot be read: the run is compressed again. The
         * chunk is read now, while the run's values are at hand to write instead */
        if (H5Dget_chunk_storage_size(r->dset[i], off, &n) < 0 || !n || n > r->file_size) break;
        *c = (chunk_t){row, i, 0, n, err_calloc(n, 1)};
        r->n_chunks++;
        if (H5Dread_chunk(r->dset[i], H5P_DEFAULT, off, &c->filters, c->b) < 0 || !intact(r, c)) break;
    }
    if (r->n_chunks - first == (size_t)r->n_curves) return 1;
    drop(r, first);
    return 0;
}

int sumreuse_finish(sumreuse_t *r, const char *path, size_t n_rows)
{
    if (!r) return 0;
    int rc = 0;
    hid_t f = r->n_chunks ? H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT) : H5I_INVALID_HID;
    if (r->n_chunks && f < 0) rc = -1;
    for (int i = 0; !rc && r->n_chunks && i < r->n_curves; i++) {
        hid_t d = H5Dopen2(f, r->name[i], H5P_DEFAULT), sp = d >= 0 ? H5Dget_space(d) : H5I_INVALID_HID;
        hsize_t dims[NC_MAX_VAR_DIMS];
        int nd = sp >= 0 ? H5Sget_simple_extent_dims(sp, dims, NULL) : -1;
        /* netCDF extended a curve's dataset only as far as the last row it wrote itself */
        if (nd < 1 || (dims[0] < n_rows && (dims[0] = n_rows, H5Dset_extent(d, dims) < 0))) rc = -1;
        for (size_t k = 0; !rc && k < r->n_chunks; k++) {
            const chunk_t *c = &r->chunk[k];
            hsize_t off[NC_MAX_VAR_DIMS] = {c->row};
            if (c->var == i && H5Dwrite_chunk(d, H5P_DEFAULT, c->filters, off, (size_t)c->n, c->b) < 0) rc = -1;
        }
        if (sp >= 0) H5Sclose(sp);
        if (d >= 0) H5Dclose(d);
    }
    if (f >= 0 && H5Fclose(f) < 0) rc = -1;
    sumreuse_free(r);
    return rc ? err_set("%s: write failed: HDF5 could not copy the unchanged runs' curves into it", path) : 0;
}

void sumreuse_free(sumreuse_t *r)
{
    if (!r) return;
    drop(r, 0);
    for (int i = 0; i < r->n_curves; i++)
        if (r->dset[i] >= 0) H5Dclose(r->dset[i]);
    if (r->file >= 0) H5Fclose(r->file);
    free(r->dset), free(r->name), free(r->raw), free(r->scratch), free(r->keys), free(r->chunk), free(r);
}

/* Whether the old file's metadata reads whole, tried first in a throwaway child: HDF5 has faults of its own
 * on damaged files (an invalid free inside nc_open was seen on traces, docs/aggregate.md), and a crash or a
 * hang in summary.nc's writing process would take the aggregation with it. The child makes the same calls
 * (the checks, then the chunk index entry of every kept row) and writes nothing; the file's bytes do not
 * change in between, the output directory being locked. The chunks themselves are left to the copy: a
 * read at an address and length the index gave, within the file, each checked by inflating it (reading
 * them all here cost a warm aggregation 0.8 s of its 2.75). */
static int survives(const char *old_path, int ncid, const int *varid, int n_curves)
{
    struct stat st;
    if (stat(old_path, &st)) return 0;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return 0;
    if (pid == 0) {
        sumreuse_t *r = open_checked(old_path, ncid, varid, n_curves);
        for (size_t i = 0; r && i < r->n_keys; i++)
            for (int v = 0; v < r->n_curves; v++) {
                hsize_t off[NC_MAX_VAR_DIMS] = {r->keys[i].row}, n;
                H5Dget_chunk_storage_size(r->dset[v], off, &n);
            }
        _exit(0); /* nothing of the new file, open here too, is to be flushed */
    }
    double deadline = clock_seconds() + traceread_limit_s((double)st.st_size);
    int status = 0;
    pid_t w;
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 || (w < 0 && errno == EINTR)) {
        if (clock_seconds() > deadline) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
            break;
        }
        nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
    }
    if (w == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0) return 1;
    fprintf(stderr, "il-aggregate: note: %s: reading it %s: every run's curves compressed anew\n", old_path,
            w == pid && WIFSIGNALED(status) ? "crashed the netCDF library" : "did not finish");
    return 0;
}

sumreuse_t *sumreuse_open(const char *old_path, int ncid, const int *varid, int n_curves)
{
    return old_path && survives(old_path, ncid, varid, n_curves) ? open_checked(old_path, ncid, varid, n_curves)
                                                                   : NULL;
}
