/* il-synth-traces: writes synthetic run directories for the aggregation's tests and benchmark.
 *   il-synth-traces --out DIR [--runs N] [--ranks R] [--steps S] [--layers L] [--seq T] [--width C]
 *                   [--vary] [--h1 1|-1] [--restart]
 * Runs are DIR/runNNNN. --vary cycles the model size over the runs (L 2/4/6, C 32/64/128, T 32/64) so that
 * the claims have size groups to split by. Values are those of analysis/synth_run.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "synth_run.h"

static int usage(void)
{
    fprintf(stderr, "usage: il-synth-traces --out DIR [--runs N] [--ranks R] [--steps S] [--layers L] [--seq T] "
                    "[--width C] [--vary] [--h1 1|-1] [--restart]\n");
    return IL_EXIT_INPUT;
}

int main(int argc, char **argv)
{
    const char *out = NULL;
    int runs = 1, vary = 0;
    synth_spec_t base = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int *field = !strcmp(a, "--runs") ? &runs : !strcmp(a, "--ranks") ? &base.ranks
                   : !strcmp(a, "--steps") ? &base.n_trace : !strcmp(a, "--layers") ? &base.L
                   : !strcmp(a, "--seq") ? &base.T : !strcmp(a, "--width") ? &base.C : !strcmp(a, "--h1") ? &base.h1 : NULL;
        if (!strcmp(a, "--out") && v) out = argv[++i];
        else if (!strcmp(a, "--vary")) vary = 1;
        else if (!strcmp(a, "--restart")) base.restart = 1;
        else if (field && v) *field = atoi(argv[++i]);
        else return usage();
    }
    if (!out || runs < 1) return usage();
    synth_defaults(&base);
    if (base.n_trace < 2 || base.L < 1 || base.T < 1 || base.C < base.NH || base.ranks < 1) return usage();
    for (int i = 0; i < runs; i++) {
        synth_spec_t sp = base;
        char dir[4200], name[32];
        snprintf(name, sizeof name, "run%04d", i);
        snprintf(dir, sizeof dir, "%s/%s", out, name);
        sp.dir = dir, sp.name = name, sp.seed = (uint64_t)i + 1, sp.run_files = 1;
        if (vary) sp.L = 2 + 2 * (i % 3), sp.C = 32 << (i / 3 % 3), sp.T = 32 << (i / 9 % 2);
        if (synth_run(&sp)) {
            fprintf(stderr, "il-synth-traces: %s\n", err_msg());
            return IL_EXIT_FAIL;
        }
    }
    printf("il-synth-traces: wrote %d runs into %s\n", runs, out);
    return IL_EXIT_OK;
}
