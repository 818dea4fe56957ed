#include "analysis/runcache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "analysis/message.h"
#include "analysis/runstats.h"
#include "analysis/timings.h"
#include "core/atomicfile.h"
#include "core/bytes.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/err.h"
#include "innerloop/schema.h"
#include "run/rundir.h"

static int use = 1;
static runcache_counts_t counts;

void runcache_use(int on) { use = on; }
runcache_counts_t runcache_counts(void) { return counts; }

/* The file: a header of HEADER bytes (the magic, padded with NULs; then little-endian u32 version, u32 0,
 * u64 key length, u64 payload length, u32 CRC-32 of key and payload, u32 0), the key, the payload. The
 * checksum is zlib's CRC-32, as shards and checkpoints are checked: the payload is the megabytes of a run's
 * curves, over which a byte-wise FNV-1a costs several times more. */
static const char magic[16] = "il-runcache";
enum { HEADER = 48 };

/* ---- the key ---- */

/* FNV-1a 64 of the first and last RUNCACHE_BLOCK bytes of fd (size bytes), or of all of it when it is no
 * longer than two blocks: the header and the end of a NetCDF-4 file, where HDF5 keeps what it rewrites. */
static int ends_hash(int fd, off_t size, uint64_t *h)
{
    static unsigned char buf[2 * RUNCACHE_BLOCK];
    size_t whole = size <= 2 * RUNCACHE_BLOCK, head = whole ? (size_t)size : RUNCACHE_BLOCK;
    size_t tail = whole ? 0 : RUNCACHE_BLOCK;
    if (pread(fd, buf, head, 0) != (ssize_t)head) return -1;
    if (tail && pread(fd, buf + head, tail, size - (off_t)tail) != (ssize_t)tail) return -1;
    *h = bytes_fnv1a64(BYTES_FNV64_INIT, buf, head + tail);
    return 0;
}

/* One line of the key: `label`, then the file's size, modification time and ends_hash, or why there is
 * none. A file of a run's data (shared by the runs of a sweep) is hashed once while its size and time stay
 * the same: `memo` is its slot, -1 for a run's own file. */
static void fingerprint(FILE *key, const char *label, const char *path, int memo)
{
    static struct {
        char path[4200];
        off_t size;
        struct timespec mtime;
        uint64_t hash;
    } seen[2];
    struct stat st;
    uint64_t h = 0;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* never blocks on a FIFO in a file's place */
    if (fd < 0) {
        fprintf(key, "%s %s\n", label, errno == ENOENT ? "absent" : "unreadable");
        return;
    }
    int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if (ok && memo >= 0 && !strcmp(seen[memo].path, path) && seen[memo].size == st.st_size &&
        seen[memo].mtime.tv_sec == st.st_mtim.tv_sec && seen[memo].mtime.tv_nsec == st.st_mtim.tv_nsec) {
        h = seen[memo].hash;
    } else if (ok && (ok = ends_hash(fd, st.st_size, &h) == 0) && memo >= 0) {
        snprintf(seen[memo].path, sizeof seen[memo].path, "%s", path);
        seen[memo].size = st.st_size, seen[memo].mtime = st.st_mtim, seen[memo].hash = h;
    }
    close(fd);
    if (!ok) fprintf(key, "%s not a readable regular file\n", label);
    else fprintf(key, "%s %lld bytes, modified %lld.%09ld, ends %016llx\n", label, (long long)st.st_size,
                 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (unsigned long long)h);
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Adds a line per trace file (every name curves.c would read) in name order. Returns whether the run is
 * finished as far as its files say: at least one file, all of them consolidated (no segment). */
static int trace_lines(FILE *key, const char *dir)
{
    char tdir[4200], path[4500], label[600];
    snprintf(tdir, sizeof tdir, "%s/trace", dir);
    DIR *d = opendir(tdir);
    if (!d) return 0;
    char **names = NULL;
    int n = 0, finished = 1;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, "rank", 4) || len < 7 || strcmp(e->d_name + len - 3, ".nc")) continue;
        names = realloc(names, (size_t)(n + 1) * sizeof *names);
        CHECK(names, "out of memory");
        names[n++] = err_strdup(e->d_name);
        finished &= !strstr(e->d_name, ".seg");
    }
    closedir(d);
    if (n) qsort(names, (size_t)n, sizeof *names, cmp_name);
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", tdir, names[i]);
        snprintf(label, sizeof label, "trace/%s", names[i]);
        if (finished) fingerprint(key, label, path, -1);
        free(names[i]);
    }
    free(names);
    return finished && n;
}

/* The run's key (malloc'd text, its length in *n), or NULL when the run is not to be cached: not finished,
 * or training (its lock held). */
static char *make_key(const char *dir, size_t *n)
{
    char holder[256], path[4200];
    if (rundir_held(dir, holder, sizeof holder)) return NULL;
    char *text = NULL;
    FILE *key = open_memstream(&text, n);
    CHECK(key, "open_memstream: %s", strerror(errno));
    const uint16_t one = 1;
    fprintf(key, "version %d, trace schema %d, %s-endian, layout %d %d %d %d %d %d %zu\nrun %s\n", RUNCACHE_VERSION,
            TRACE_SCHEMA_VERSION, *(const unsigned char *)&one ? "little" : "big", TV_N, TP_N, H_N, PH_N, IN_N,
            summary_n_curves(), sizeof(onerun_t), dir);
    int finished = trace_lines(key, dir);
    static const char *const own[] = {"config.ini", "metrics.jsonl", "launches.jsonl"};
    for (size_t i = 0; finished && i < sizeof own / sizeof *own; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, own[i]);
        fingerprint(key, own[i], path, -1);
    }
    /* the unigram baseline reads the validation shard and the training counts the config names */
    config_t cfg;
    config_defaults(&cfg);
    config_mark_absent(&cfg);
    snprintf(path, sizeof path, "%s/config.ini", dir);
    if (finished && access(path, F_OK) == 0 && config_load(&cfg, path) == 0 && cfg.val_path[0]) {
        char counts_path[4200], label[4300];
        config_counts_path(&cfg, counts_path, sizeof counts_path);
        snprintf(label, sizeof label, "data %s", cfg.val_path);
        fingerprint(key, label, cfg.val_path, 0);
        snprintf(label, sizeof label, "data %s", counts_path);
        fingerprint(key, label, counts_path, 1);
    }
    CHECK(fclose(key) == 0, "open_memstream: %s", strerror(errno));
    if (finished) return text;
    free(text);
    return NULL;
}

/* ---- the file ---- */

/* The cache at path into p when it holds this key. 1: taken; 0: absent or stale, silently; -1: corrupt or
 * unreadable, with err_set() the reason. */
static int load(onerun_t *p, const char *path, const char *key, size_t key_n)
{
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT) return 0;
    uint8_t *b;
    size_t n;
    if (bytes_read_file(path, &b, &n)) return -1;
    int rc = 0;
    uint64_t kn = n >= HEADER ? bytes_get_u64(b + 24) : 0, pn = n >= HEADER ? bytes_get_u64(b + 32) : 0;
    if (n < HEADER || memcmp(b, magic, sizeof magic)) rc = err_set("not a run cache");
    else if (bytes_get_u32(b + 16) != RUNCACHE_VERSION) rc = 0; /* another version's: rebuilt */
    else if (kn > n - HEADER || pn != n - HEADER - kn) rc = err_set("%zu bytes where its header says %llu", n,
                                                                    (unsigned long long)(HEADER + kn + pn));
    else if (crc32_z(0, b + HEADER, n - HEADER) != bytes_get_u32(b + 40))
        rc = err_set("bad checksum");
    else if (kn == key_n && !memcmp(b + HEADER, key, key_n)) {
        message_unpack(p, b + HEADER + kn, (size_t)pn); /* the checksum vouches for what this program wrote */
        rc = 1;
    }
    free(b);
    return rc;
}

static int store(const onerun_t *p, const char *path, const char *key, size_t key_n)
{
    message_t w = {0};
    message_pack(&w, p);
    uint8_t h[HEADER] = {0};
    memcpy(h, magic, sizeof magic);
    bytes_put_u32(h + 16, RUNCACHE_VERSION);
    bytes_put_u64(h + 24, key_n);
    bytes_put_u64(h + 32, w.n);
    bytes_put_u32(h + 40, (uint32_t)crc32_z(crc32_z(0, (const Bytef *)key, key_n), w.b, w.n));
    atomicfile_t af;
    int rc = atomicfile_open(&af, path, ATOMICFILE_REPLACE | ATOMICFILE_NO_SYNC);
    rc = rc || atomicfile_write(&af, h, sizeof h) || atomicfile_write(&af, key, key_n) ||
         atomicfile_write(&af, w.b, w.n);
    if (rc) atomicfile_abort(&af);
    else rc = atomicfile_commit(&af);
    message_free(&w);
    return rc;
}

void runcache_process(onerun_t *p, const char *dir)
{
    static int said_unwritable;
    double t = clock_seconds();
    size_t key_n = 0;
    /* made also under --no-cache: summary.nc records its hash whichever way the run was read */
    char *key = make_key(dir, &key_n), path[4200];
    uint64_t hash = key ? bytes_fnv1a64(BYTES_FNV64_INIT, key, key_n) : 0;
    snprintf(path, sizeof path, "%s/%s", dir, RUNCACHE_NAME);
    int got = key && use ? load(p, path, key, key_n) : 0;
    if (got < 0) fprintf(stderr, "il-aggregate: note: %s: %s; rebuilt\n", path, err_msg());
    timings_lap(TM_CACHE, t);
    if (got > 0) {
        counts.n[RC_HIT]++;
        p->sum.key = hash, p->sum.cached = 1;
        free(key);
        return;
    }
    onerun_process(p, dir);
    counts.n[RC_READ]++;
    t = clock_seconds();
    if (p->has_stats) p->sum.key = hash;
    if (key && use && !p->skips.n) {
        if (store(p, path, key, key_n) == 0) counts.n[RC_WRITTEN]++;
        else if (!said_unwritable++)
            fprintf(stderr, "il-aggregate: note: no run cache written (%s); such runs are read whole each time\n",
                    err_msg());
    }
    free(key);
    timings_lap(TM_CACHE, t);
}
