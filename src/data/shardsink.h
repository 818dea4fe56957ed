/* shardsink: one split of a data set written as a shard set (docs/formats.md, "Shard sets"): shards of
 * at most max_tokens tokens each (a document is never cut in two, so a document longer than that makes a
 * shard of its own), each a valid shard on its own, and the manifest <split>.shards that lists them with
 * their token counts. The shards are written under temporary names and renamed only by
 * shardsink_commit: <split>.bin when there is one, else <split>-00000.bin, <split>-00001.bin, ... Each
 * shard carries the categories known when it was closed; categories are only ever appended, so an index
 * means the same name in every shard of the data set. */
#ifndef IL_SHARDSINK_H
#define IL_SHARDSINK_H

#include <stdint.h>

#include "data/shard.h"

#define SHARDSINK_MAGIC "innerloop-shards 1" /* the manifest's first line */
enum { SHARDSINK_MAX = 100000 };              /* shards in a set: numbered 00000 to 99999 */

typedef struct {
    char dir[4096], split[16];
    uint64_t max_tokens;
    uint32_t tokenizer_id, vocab_size;
    shard_writer_t w;
    int open;              /* w is being written */
    uint32_t n_shards;     /* opened so far */
    uint64_t *tokens;      /* [n_shards] */
    uint64_t n_tokens, n_docs;
    uint32_t n_renamed;    /* shards shardsink_commit has renamed */
    int manifest_written;
} shardsink_t;

void shardsink_init(shardsink_t *s, const char *dir, const char *split, uint64_t max_tokens, uint32_t tokenizer_id,
                    uint32_t vocab_size);
/* Appends a document (n > 0 tokens); cats are the categories known so far, written into a shard it closes. */
int shardsink_doc(shardsink_t *s, const uint16_t *ids, uint64_t n, uint32_t category, const char (*cats)[SHARD_CAT_LEN],
                  uint32_t n_cats);
/* Closes the last shard with the final category table. */
int shardsink_close(shardsink_t *s, const char (*cats)[SHARD_CAT_LEN], uint32_t n_cats);
/* Renames the shards to their names and writes the manifest, refusing to overwrite anything. */
int shardsink_commit(shardsink_t *s);
/* The final name of shard i (in a buffer of 4096 + 32 bytes), relative or in dir. */
void shardsink_name(const shardsink_t *s, uint32_t i, int in_dir, char *out, size_t n);
/* Removes everything this set wrote, temporary or renamed, and frees the set. */
void shardsink_abort(shardsink_t *s);
/* Frees a committed set. */
void shardsink_free(shardsink_t *s);

#endif
