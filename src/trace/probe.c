#include "trace/probe.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/rng.h"
#include "data/loader.h"

/* The offset of one window of genre c: inside a document of the genre that holds T+1 tokens, picked in
 * proportion to the room it has; or, when no document does, anywhere a window starting in the genre fits. */
static uint64_t draw(const shard_t *s, uint32_t c, int T, rng_t *g)
{
    uint64_t room = 0, span = 0;
    for (uint32_t d = 0; d < s->n_docs; d++) {
        if (s->docs[d].category != c) continue;
        if (s->docs[d].len >= (uint64_t)T + 1) room += s->docs[d].len - (uint64_t)T;
        span += s->docs[d].len;
    }
    uint64_t k = (uint64_t)(rng_uniform(g) * (double)(room ? room : span)), last = s->n_tokens - (uint64_t)T - 1;
    for (uint32_t d = 0; d < s->n_docs; d++) {
        const shard_doc_t *doc = &s->docs[d];
        if (doc->category != c) continue;
        uint64_t here = room ? (doc->len >= (uint64_t)T + 1 ? doc->len - (uint64_t)T : 0) : doc->len;
        if (k < here) return doc->start + k < last ? doc->start + k : last;
        k -= here;
    }
    return 0; /* a genre without documents gets no windows (see probe_select) */
}

void probe_deal(probe_t *p, int W, int G, int rank, int P)
{
    /* this rank's groups g = rank, rank + P, ... and their windows, in window order */
    p->total = W, p->groups = G;
    p->n_slots = (G - rank + P - 1) / P;
    p->slot_group = err_calloc((size_t)p->n_slots, sizeof *p->slot_group);
    p->slot_windows = err_calloc((size_t)p->n_slots, sizeof *p->slot_windows);
    for (int k = 0; k < p->n_slots; k++) p->slot_group[k] = rank + (int64_t)k * P;
    p->n = 0;
    for (int w = 0; w < W; w++)
        if (w % G % P == rank) p->n++, p->slot_windows[w % G / P]++;
    size_t n = (size_t)p->n;
    p->index = err_calloc(n, sizeof *p->index), p->offset = err_calloc(n, sizeof *p->offset);
    p->genre = err_calloc(n, sizeof *p->genre), p->group = err_calloc(n, sizeof *p->group);
    p->slot = err_calloc(n, sizeof *p->slot);
    for (int w = 0, i = 0; w < W; w++) {
        if (w % G % P != rank) continue;
        p->index[i] = w, p->group[i] = w % G, p->slot[i] = w % G / P;
        i++;
    }
}

int probe_select(probe_t *p, const shard_t *s, int W, int G, uint64_t seed, int rank, int P, int T)
{
    memset(p, 0, sizeof *p);
    p->T = T, p->total = W, p->groups = G;
    if (s->n_tokens < (uint64_t)T + 1)
        return err_set("the probe shard's %llu tokens hold no window of %d", (unsigned long long)s->n_tokens, T + 1);
    if (G < P || G > W) return err_set("probe groups %d must be within [world size %d, probe windows %d]", G, P, W);
    /* genres with documents, and each one's share of the W windows */
    p->n_genre = (int)s->n_cats;
    p->genre_name = err_calloc((size_t)(p->n_genre ? p->n_genre : 1), sizeof *p->genre_name);
    memcpy(p->genre_name, s->cats, (size_t)p->n_genre * sizeof *p->genre_name);
    int *has = err_calloc((size_t)p->n_genre + 1, sizeof *has), active = 0;
    for (uint32_t d = 0; d < s->n_docs; d++)
        if (s->docs[d].len && !has[s->docs[d].category]++) active++;
    if (!active) {
        free(has);
        probe_free(p);
        return err_set("the probe shard has no document");
    }
    int64_t *all_offset = err_calloc((size_t)W, sizeof *all_offset), *all_genre = err_calloc((size_t)W, sizeof *all_genre);
    rng_t g;
    rng_seed(&g, seed ^ 0x70726F6265ull); /* "probe": its own stream, apart from init and data order */
    for (int c = 0, w = 0, k = 0; c < p->n_genre; c++) {
        if (!has[c]) continue;
        int share = W / active + (k++ < W % active);
        for (int j = 0; j < share; j++, w++) all_offset[w] = (int64_t)draw(s, (uint32_t)c, T, &g), all_genre[w] = c;
    }
    free(has);
    probe_deal(p, W, G, rank, P);
    size_t nT = (size_t)p->n * (size_t)T;
    p->inputs = err_calloc(nT, sizeof *p->inputs), p->targets = err_calloc(nT, sizeof *p->targets);
    p->cats = err_calloc(nT, sizeof *p->cats);
    int rc = 0;
    for (int64_t i = 0; i < p->n && rc == 0; i++) {
        int64_t w = p->index[i];
        p->offset[i] = all_offset[w], p->genre[i] = all_genre[w];
        rc = loader_window(s, (uint64_t)all_offset[w], T, p->inputs + (size_t)i * T, p->targets + (size_t)i * T,
                           p->cats + (size_t)i * T);
    }
    free(all_offset);
    free(all_genre);
    if (rc) probe_free(p);
    return rc;
}

void probe_free(probe_t *p)
{
    void *bufs[] = {p->index, p->offset, p->genre, p->group, p->slot, p->slot_group, p->slot_windows, p->genre_name,
                    p->inputs, p->targets, p->cats};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
    memset(p, 0, sizeof *p);
}
