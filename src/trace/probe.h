/* probe: the fixed set of held-out windows that every trace step measures, so that a curve over training
 * follows the same tokens, and intervals can rest on more than one micro-batch.
 *
 * W windows of T+1 tokens are drawn once per run, seeded, from the probe shard (the validation shard),
 * spread evenly over its genres: genre c gets W / n_genres windows (the first W mod n_genres genres one
 * more), each inside one of the genre's documents long enough to hold it, chosen in proportion to length
 * (a genre without such a document lends windows that start in it). Window w, numbered genre by genre, is
 * in group w mod G, and group g is traced by rank g mod P: a group never straddles ranks, so the per-group
 * values a rank writes are final, and the groups are the units the aggregator's intervals resample. */
#ifndef IL_PROBE_H
#define IL_PROBE_H

#include <stdint.h>

#include "data/shard.h"

typedef struct {
    int T, total, groups; /* window length, W and G of the run */
    int64_t n;            /* windows on this rank */
    int64_t *index;       /* (n) window number in the run's probe set */
    int64_t *offset;      /* (n) token offset in the shard (a set's global position, shard.h) */
    int64_t *genre;       /* (n) the window's genre */
    int64_t *group;       /* (n) its group */
    int *slot;            /* (n) its group's place among this rank's groups */
    int n_slots;
    int64_t *slot_group;   /* (n_slots) the group of each place, ascending */
    int64_t *slot_windows; /* (n_slots) windows in it */
    int n_genre;
    char (*genre_name)[SHARD_CAT_LEN]; /* (n_genre) */
    int32_t *inputs, *targets, *cats;  /* (n, T) the windows' tokens, and each target's genre */
} probe_t;

/* Rank `rank` of P's share of the W windows in G groups drawn from s with seed. Fails (err_set) when the
 * shard holds no window of T+1 tokens, G is not within [P, W], or a block its windows read fails its check
 * (shard_get). */
int probe_select(probe_t *p, const shard_t *s, int W, int G, uint64_t seed, int rank, int P, int T);
/* The dealing alone: rank's groups and its windows' index, group and slot (offset and genre zero, no
 * tokens), for W windows in G groups over P ranks. probe_select uses it; so do synthetic traces. */
void probe_deal(probe_t *p, int W, int G, int rank, int P);
void probe_free(probe_t *p);

#endif
