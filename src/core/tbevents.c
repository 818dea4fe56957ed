#include "core/tbevents.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/atomicfile.h"
#include "core/err.h"

/* ---- CRC32C: the reflected Castagnoli polynomial, a byte at a time ---- */

static uint32_t crc_table[256];

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t tb_crc32c(const void *data, size_t n)
{
    if (!crc_table[1]) crc_init();
    const uint8_t *p = data;
    uint32_t c = 0xffffffffu;
    while (n--) c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

uint32_t tb_mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

/* ---- protobuf wire format: varints, 64- and 32-bit fixed fields, length-delimited fields ---- */

typedef struct {
    uint8_t *p;
    size_t n, cap;
    int full; /* something did not fit */
} pb_t;

static void put(pb_t *b, const void *src, size_t n)
{
    if (b->full || n > b->cap - b->n) {
        b->full = 1;
        return;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void put_varint(pb_t *b, uint64_t v)
{
    uint8_t x[10];
    size_t n = 0;
    do {
        x[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    put(b, x, n);
}

static void put_le(pb_t *b, uint64_t v, size_t bytes)
{
    uint8_t x[8];
    for (size_t i = 0; i < bytes; i++) x[i] = (uint8_t)(v >> (8 * i));
    put(b, x, bytes);
}

enum { WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_I32 = 5 };

static void put_key(pb_t *b, int field, int wire) { put_varint(b, (uint64_t)field << 3 | (uint64_t)wire); }

static void put_bytes(pb_t *b, int field, const void *data, size_t n)
{
    put_key(b, field, WIRE_LEN);
    put_varint(b, n);
    put(b, data, n);
}

/* Event fields (event.proto), Summary and Summary.Value fields (summary.proto), SessionLog's status */
enum { EV_WALL_TIME = 1, EV_STEP = 2, EV_FILE_VERSION = 3, EV_SUMMARY = 5, EV_SESSION_LOG = 7 };
enum { SUM_VALUE = 1, VAL_TAG = 1, VAL_SIMPLE_VALUE = 2, SL_STATUS = 1, SL_START = 1 };

/* An Event of wall_time and step whose one other field is `field` holding the n bytes of body. */
static size_t encode_event(uint8_t *buf, size_t cap, double wall_time, int64_t step, int field, const void *body,
                           size_t n)
{
    pb_t b = {buf, 0, cap, 0};
    uint64_t bits;
    memcpy(&bits, &wall_time, sizeof bits);
    put_key(&b, EV_WALL_TIME, WIRE_I64);
    put_le(&b, bits, 8);
    put_key(&b, EV_STEP, WIRE_VARINT);
    put_varint(&b, (uint64_t)step);
    put_bytes(&b, field, body, n);
    return b.full ? 0 : b.n;
}

size_t tb_encode_scalars(uint8_t *buf, size_t cap, double wall_time, int64_t step, const tb_scalar_t *v, int n)
{
    uint8_t *summary = err_calloc(cap ? cap : 1, 1), *value = err_calloc(cap ? cap : 1, 1);
    pb_t s = {summary, 0, cap, 0};
    for (int i = 0; i < n; i++) {
        if (!isfinite(v[i].value)) continue;
        pb_t b = {value, 0, cap, 0};
        float f = (float)v[i].value;
        uint32_t bits;
        memcpy(&bits, &f, sizeof bits);
        put_bytes(&b, VAL_TAG, v[i].tag, strlen(v[i].tag));
        put_key(&b, VAL_SIMPLE_VALUE, WIRE_I32);
        put_le(&b, bits, 4);
        if (b.full) s.full = 1;
        else put_bytes(&s, SUM_VALUE, value, b.n);
    }
    size_t len = s.full ? 0 : encode_event(buf, cap, wall_time, step, EV_SUMMARY, summary, s.n);
    free(summary);
    free(value);
    return len;
}

/* ---- the file ---- */

static double wall_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + 1e-6 * (double)tv.tv_usec;
}

/* One TFRecord of the n bytes of data, flushed. */
static void write_record(tb_t *t, const uint8_t *data, size_t n)
{
    if (t->failed_errno) return;
    uint8_t head[12], tail[4];
    pb_t h = {head, 0, sizeof head, 0}, c = {tail, 0, sizeof tail, 0};
    put_le(&h, n, 8);
    put_le(&h, tb_mask(tb_crc32c(head, 8)), 4);
    put_le(&c, tb_mask(tb_crc32c(data, n)), 4);
    errno = 0;
    if (fwrite(head, 1, sizeof head, t->f) != sizeof head || fwrite(data, 1, n, t->f) != n ||
        fwrite(tail, 1, sizeof tail, t->f) != sizeof tail || fflush(t->f) != 0)
        t->failed_errno = errno ? errno : EIO;
}

int tb_open(tb_t *t, const char *dir, int64_t start_step)
{
    memset(t, 0, sizeof *t);
    CALL(atomicfile_mkdirs(dir));
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    for (char *h = host; *h; h++)
        if (*h == '/') *h = '_';
    double now = wall_now();
    /* never over an earlier launch's file: one of the same second and process (a library caller's) takes
     * the next counter, and sorts after it as TensorBoard reads the files, by name */
    for (int k = 0; !t->f; k++) {
        int len = snprintf(t->path, sizeof t->path, "%s/events.out.tfevents.%010lld.%s.%ld", dir, (long long)now,
                           host, (long)getpid());
        if (k) snprintf(t->path + len, sizeof t->path - (size_t)len, ".%04d", k);
        if (!(t->f = fopen(t->path, "wbx")) && (errno != EEXIST || k == 9999))
            return err_set("%s: cannot create: %s", t->path, strerror(errno));
    }
    static const char version[] = "brain.Event:2";
    uint8_t buf[64];
    write_record(t, buf, encode_event(buf, sizeof buf, now, start_step, EV_FILE_VERSION, version, strlen(version)));
    t->from = start_step > 0 ? start_step + 1 : 0;
    const uint8_t start[] = {SL_STATUS << 3 | WIRE_VARINT, SL_START};
    write_record(t, buf, encode_event(buf, sizeof buf, now, t->from, EV_SESSION_LOG, start, sizeof start));
    return tb_status(t);
}

void tb_scalars(tb_t *t, int64_t step, const tb_scalar_t *v, int n)
{
    int any = 0;
    for (int i = 0; i < n; i++) any |= isfinite(v[i].value) != 0;
    if (!any || step < t->from) return;
    size_t cap = 64;
    for (int i = 0; i < n; i++) cap += strlen(v[i].tag) + 24;
    uint8_t *buf = err_calloc(cap, 1);
    size_t len = tb_encode_scalars(buf, cap, wall_now(), step, v, n);
    if (len) write_record(t, buf, len);
    free(buf);
}

int tb_status(const tb_t *t)
{
    return t->failed_errno ? err_set("%s: write failed: %s", t->path, strerror(t->failed_errno)) : 0;
}

void tb_close(tb_t *t)
{
    if (t->f) fclose(t->f);
    memset(t, 0, sizeof *t);
}
