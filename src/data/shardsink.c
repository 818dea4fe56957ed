#include "data/shardsink.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/bytes.h"
#include "core/err.h"

void shardsink_init(shardsink_t *s, const char *dir, const char *split, uint64_t max_tokens, uint32_t tokenizer_id,
                    uint32_t vocab_size)
{
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    snprintf(s->split, sizeof s->split, "%s", split);
    s->max_tokens = max_tokens;
    s->tokenizer_id = tokenizer_id;
    s->vocab_size = vocab_size;
}

void shardsink_name(const shardsink_t *s, uint32_t i, int in_dir, char *out, size_t n)
{
    char name[64];
    if (s->n_shards == 1)
        snprintf(name, sizeof name, "%s.bin", s->split);
    else
        snprintf(name, sizeof name, "%s-%05u.bin", s->split, i);
    snprintf(out, n, "%s%s%s", in_dir ? s->dir : "", in_dir ? "/" : "", name);
}

/* The temporary name of shard i, in the manner of atomicfile's. */
static void tmp_name(const shardsink_t *s, uint32_t i, char *out, size_t n)
{
    snprintf(out, n, "%s/%s-%05u.bin.tmp.%ld", s->dir, s->split, i, (long)getpid());
}

int shardsink_close(shardsink_t *s, const char (*cats)[SHARD_CAT_LEN], uint32_t n_cats)
{
    if (!s->open) return 0;
    s->open = 0;
    s->tokens[s->n_shards - 1] = s->w.n_tokens;
    return shard_writer_close(&s->w, cats, n_cats);
}

static int open_shard(shardsink_t *s)
{
    if (s->n_shards == SHARDSINK_MAX)
        return err_set("%s/%s: more than %d shards: raise --shard-size", s->dir, s->split, SHARDSINK_MAX);
    char path[4200];
    tmp_name(s, s->n_shards, path, sizeof path);
    CALL(shard_writer_open(&s->w, path, s->tokenizer_id, s->vocab_size));
    s->tokens = realloc(s->tokens, (s->n_shards + 1) * sizeof *s->tokens);
    CHECK(s->tokens, "out of memory");
    s->tokens[s->n_shards++] = 0;
    s->open = 1;
    return 0;
}

int shardsink_doc(shardsink_t *s, const uint16_t *ids, uint64_t n, uint32_t category, const char (*cats)[SHARD_CAT_LEN],
                  uint32_t n_cats)
{
    if (s->open && (s->w.n_tokens + n > s->max_tokens || s->w.n_docs == UINT32_MAX)) CALL(shardsink_close(s, cats, n_cats));
    if (!s->open) CALL(open_shard(s));
    CALL(shard_writer_doc(&s->w, ids, n, category));
    s->n_tokens += n;
    s->n_docs++;
    return 0;
}

static int write_manifest(shardsink_t *s)
{
    char *text = NULL, path[4200];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK(f, "open_memstream failed");
    fprintf(f, "%s\n", SHARDSINK_MAGIC);
    for (uint32_t i = 0; i < s->n_shards; i++) {
        char name[4200];
        shardsink_name(s, i, 0, name, sizeof name);
        fprintf(f, "%s\t%llu\n", name, (unsigned long long)s->tokens[i]);
    }
    CHECK(fclose(f) == 0, "writing the manifest failed");
    snprintf(path, sizeof path, "%s/%s.shards", s->dir, s->split);
    int rc = bytes_write_file(path, (const uint8_t *)text, len);
    free(text);
    s->manifest_written = rc == 0;
    return rc;
}

int shardsink_commit(shardsink_t *s)
{
    for (; s->n_renamed < s->n_shards; s->n_renamed++) {
        char tmp[4200], path[4200];
        tmp_name(s, s->n_renamed, tmp, sizeof tmp);
        shardsink_name(s, s->n_renamed, 1, path, sizeof path);
        if (access(path, F_OK) == 0) return err_set("%s: already exists; refusing to overwrite it", path);
        if (rename(tmp, path) != 0) return err_set("%s: cannot rename into place: %s", path, strerror(errno));
    }
    return write_manifest(s); /* its rename syncs the directory, the shards' renames with it */
}

void shardsink_abort(shardsink_t *s)
{
    if (s->open) shard_writer_abort(&s->w);
    s->open = 0;
    for (uint32_t i = 0; i < s->n_shards; i++) {
        char path[4200];
        if (i < s->n_renamed)
            shardsink_name(s, i, 1, path, sizeof path);
        else
            tmp_name(s, i, path, sizeof path);
        unlink(path);
    }
    if (s->manifest_written) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s.shards", s->dir, s->split);
        unlink(path);
    }
    free(s->tokens);
    s->tokens = NULL;
    s->n_shards = s->n_renamed = 0;
    s->manifest_written = 0;
}

void shardsink_free(shardsink_t *s)
{
    free(s->tokens);
    s->tokens = NULL;
}
