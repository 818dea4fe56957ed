#include "trace/segrule.h"

/* Whether the increasing steps[0..n) hold step. */
static int holds(const int64_t *steps, size_t n, int64_t step)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (steps[mid] < step) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && steps[lo] == step;
}

static int share_a_group(const segrule_seg_t *a, const segrule_seg_t *b)
{
    for (size_t i = 0; i < a->n_group; i++)
        for (size_t j = 0; j < b->n_group; j++)
            if (a->group[i] == b->group[j]) return 1;
    return 0;
}

int segrule_superseded(const segrule_seg_t *f, int64_t step, const segrule_seg_t *s, int n)
{
    for (int j = 0; j < n; j++)
        if (s[j].seg > f->seg && holds(s[j].step, s[j].n, step) && share_a_group(f, &s[j])) return 1;
    return 0;
}
