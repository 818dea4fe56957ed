/* tbevents: TensorBoard scalar event files, written live, so that any TensorBoard (`tensorboard --logdir`)
 * shows a run's curves while it trains.
 *
 * A file <dir>/events.out.tfevents.<unix seconds>.<host>.<pid>[.<counter>] is a TFRecord file: each record is a uint64
 * length (little-endian), the masked CRC32C of those 8 bytes, the data, and the masked CRC32C of the data
 * (mask: ((crc >> 15) | (crc << 17)) + 0xa282ead8). Each record's data is one protobuf `Event`
 * (tensorboard/compat/proto/event.proto): wall_time (1, double), step (2, int64) and one of file_version
 * (3, string), summary (5) or session_log (7). The first record says file_version "brain.Event:2", the
 * second is a SessionLog START (status 1) at the first step this launch records, which tells TensorBoard to
 * drop the earlier launches' records of that step and later ones: a launch resumed from the checkpoint of
 * step s trains steps s+1, ... again, and records from s+1 (its new validation and trace of step s's weights
 * are those the earlier launch recorded before it wrote that checkpoint); a launch from step 0 records
 * everything. Every other record is a Summary (summary.proto) of scalars: value (1) { tag (1, string),
 * simple_value (2, float) }. Each record is flushed as soon as it is written. */
#ifndef IL_TBEVENTS_H
#define IL_TBEVENTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    FILE *f;
    char path[4352];
    int failed_errno; /* the first failed write's errno; 0 while none has failed */
    int64_t from;     /* the first step this launch records */
} tb_t;

typedef struct {
    const char *tag;
    double value;
} tb_scalar_t;

/* CRC32C (Castagnoli) of n bytes, and its masked form as TFRecord stores it. */
uint32_t tb_crc32c(const void *data, size_t n);
uint32_t tb_mask(uint32_t crc);

/* The protobuf encoding of an Event of the scalars v[0..n) at step into buf (cap bytes); values that are
 * not finite are left out. Returns the length, or 0 when it does not fit. */
size_t tb_encode_scalars(uint8_t *buf, size_t cap, double wall_time, int64_t step, const tb_scalar_t *v, int n);

/* Creates dir (and its parents) and a new events file there for a launch that starts at start_step, and
 * writes its first records. Returns 0, or -1 with err_set() naming the file. */
int tb_open(tb_t *t, const char *dir, int64_t start_step);
/* One Event of n scalars at step (non-finite values left out; nothing when none is left, or when step is
 * before the launch's first, see above). A failed write is kept for tb_status. */
void tb_scalars(tb_t *t, int64_t step, const tb_scalar_t *v, int n);
/* 0 while every write has succeeded, else -1 with err_set() naming the file and the system's reason. */
int tb_status(const tb_t *t);
void tb_close(tb_t *t);

#endif
