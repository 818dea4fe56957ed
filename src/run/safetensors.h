/* safetensors: the tensor file of Hugging Face checkpoints (model.safetensors), read and written without
 * Python. The format: an 8-byte little-endian header length N, N bytes of JSON mapping each tensor name to
 * {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the data after the header) plus an
 * optional "__metadata__" object of strings, then the raw little-endian data. Reading checks everything a
 * damaged or hostile file could get wrong (offsets past the end, sizes that do not match the shape and
 * dtype, overlapping or unindexed bytes) before any tensor is handed out, and converts F32, F16 and BF16
 * to F32; other dtypes are understood for their sizes only. Byte layout notes in docs/formats.md. */
#ifndef IL_SAFETENSORS_H
#define IL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

enum { ST_MAX_DIMS = 8 };

typedef struct {
    char *name;
    char dtype[8];
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    uint64_t begin, end; /* bytes, relative to the data */
} st_tensor_t;

typedef struct {
    char path[4096];
    uint8_t *buf; /* whole file */
    size_t size;
    const uint8_t *data; /* after the header */
    int n;
    st_tensor_t *t;
} safetensors_t;

/* Reads and validates the whole file; -1 with err_set() naming the file (and the tensor). */
int st_open(safetensors_t *s, const char *path);
void st_close(safetensors_t *s);
const st_tensor_t *st_find(const safetensors_t *s, const char *name);
/* Number of elements of t (the product of its shape; 1 for a scalar). */
uint64_t st_numel(const st_tensor_t *t);
/* Converts t to F32 into dst (st_numel floats); -1 naming the file and tensor for another dtype. */
int st_read_f32(const safetensors_t *s, const st_tensor_t *t, float *dst);
/* F16 and BF16 bit patterns to F32, exact for every value (subnormals, infinities, NaNs). */
float st_f16_to_f32(uint16_t h);
float st_bf16_to_f32(uint16_t h);

/* One F32 tensor to write: ndim 1 or 2. */
typedef struct {
    const char *name;
    int ndim;
    int64_t shape[2];
    const float *data;
} st_out_t;

/* Writes n F32 tensors to a new file at path (atomically; an existing file is an error). */
int st_write_f32(const char *path, const st_out_t *t, int n);

#endif
