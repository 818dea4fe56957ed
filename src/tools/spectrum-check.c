/* il-spectrum-check: the distributed spectrum (S9) against serial LAPACK on the gathered matrix.
 *
 * Run under mpirun with any number of ranks. Rank r makes rows + r * step rows of `cols` columns, with a
 * column mean that differs from rank to rank (so that centring with a rank's own mean instead of the
 * global one, or not centring, changes the answer), computes the spectrum with the chosen route, and
 * rank 0 compares it with dgesvd_ on all rows gathered. Prints one line per check and exits 1 on any
 * mismatch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/dist.h"
#include "core/err.h"
#include "core/rng.h"
#include "trace/spectrum.h"

static double max_rel_diff(const double *got, const double *want, int n)
{
    double worst = 0;
    for (int i = 0; i < n; i++) worst = fmax(worst, fabs(got[i] - want[i]));
    return worst / want[0];
}

static const char usage[] =
    "usage: il-spectrum-check [--rows N] [--step N] [--cols C] [--k K] [--seed S] [--method scalapack|gram]\n"
    "                         [--tol X] [--repeat N]\n"
    "  run under mpirun on any number of ranks: rank r holds rows + r * step rows of cols columns\n"
    "  (defaults 100, 37, 20), k singular values are compared (default 8) at relative tolerance X\n"
    "  (default 1e-10); --repeat times N more calls on the same matrix (default 0)\n"
    "  -h, --help     print this and exit; --version: print the version and commit and exit\n"
    "exit codes: 0 every check passed, 1 a mismatch, 2 bad command line\n";

enum { OPT_ROWS = CLI_OPT_FIRST, OPT_STEP, OPT_COLS, OPT_K, OPT_SEED, OPT_METHOD, OPT_TOL, OPT_REPEAT };

static const struct option options[] = {
    {"rows", required_argument, NULL, OPT_ROWS},
    {"step", required_argument, NULL, OPT_STEP},
    {"cols", required_argument, NULL, OPT_COLS},
    {"k", required_argument, NULL, OPT_K},
    {"seed", required_argument, NULL, OPT_SEED},
    {"method", required_argument, NULL, OPT_METHOD},
    {"tol", required_argument, NULL, OPT_TOL},
    {"repeat", required_argument, NULL, OPT_REPEAT},
    CLI_COMMON_OPTIONS,
    {0},
};

static int finish(int code)
{
    dist_finalize();
    return code;
}

int main(int argc, char **argv)
{
    static const char *const methods[] = {"scalapack", "gram"};
    dist_t d;
    if (dist_init(&d, &argc, &argv)) {
        fprintf(stderr, "il-spectrum-check: %s\n", err_msg());
        return finish(IL_EXIT_INPUT);
    }
    int rows = 100, step = 37, cols = 20, k = 8, repeat = 0, method = 0;
    uint64_t seed = 1;
    double tol = 1e-10;
    cli_t cli;
    cli_init(&cli, "il-spectrum-check", usage, options, d.rank != 0);
    for (int o; (o = cli_next(&cli, argc, argv)) != CLI_END;) {
        int bad = 0;
        switch (o) {
        case OPT_ROWS: bad = cli_int(&cli, 0, 1 << 20, &rows); break;
        case OPT_STEP: bad = cli_int(&cli, -(1 << 20), 1 << 20, &step); break;
        case OPT_COLS: bad = cli_int(&cli, 1, 1 << 16, &cols); break;
        case OPT_K: bad = cli_int(&cli, 1, 1 << 16, &k); break;
        case OPT_SEED: bad = cli_u64(&cli, &seed); break;
        case OPT_METHOD: bad = cli_choice(&cli, methods, 2, &method); break;
        case OPT_TOL: bad = cli_double(&cli, 0, 1, &tol); break;
        case OPT_REPEAT: bad = cli_int(&cli, 0, 1000000, &repeat); break;
        default: return finish(cli.exit_code); /* CLI_EXIT: said already */
        }
        if (bad) return finish(IL_EXIT_INPUT);
    }
    if (cli_no_operands(&cli, argc, argv)) return finish(IL_EXIT_INPUT);
    int mine = rows + d.rank * step;
    CHECK(mine >= 0 && cols >= 1 && k >= 1, "bad sizes: %d rows on rank %d, %d cols, k %d", mine, d.rank, cols, k);

    /* x (mine, cols): column c has scale 1/(1+c) so the spectrum is spread out, and mean 3 + rank + c/10 */
    rng_t r;
    rng_seed(&r, seed * 1000003ULL + (unsigned long long)d.rank);
    float *x = err_calloc((size_t)mine * cols, sizeof *x);
    for (int i = 0; i < mine; i++)
        for (int c = 0; c < cols; c++) x[(size_t)i * cols + c] = 3.0f + d.rank + 0.1f * c + rng_normal(&r) / (1.0f + c);

    spectrum_t sp;
    /* created twice: the BLACS context must survive a destroy and a fresh create in the same process */
    spectrum_method_t route = method ? SPECTRUM_GRAM : SPECTRUM_SCALAPACK;
    spectrum_create(&sp, MPI_COMM_WORLD, cols, mine, k, route);
    spectrum_destroy(&sp);
    spectrum_create(&sp, MPI_COMM_WORLD, cols, mine, k, route);
    double *sv = err_calloc((size_t)k, sizeof *sv), erank = 0;
    spectrum_compute(&sp, x, mine, sv, &erank);
    double t0 = MPI_Wtime();
    for (int i = 0; i < repeat; i++) spectrum_compute(&sp, x, mine, sv, &erank);
    double per_call = repeat ? (MPI_Wtime() - t0) / repeat : 0;

    /* every rank must hold the same answer */
    double *sv0 = err_calloc((size_t)k + 1, sizeof *sv0);
    memcpy(sv0, sv, (size_t)k * sizeof *sv);
    sv0[k] = erank;
    CHECK_RC(MPI_Bcast(sv0, k + 1, MPI_DOUBLE, 0, MPI_COMM_WORLD), dist_strerror);
    int same = !memcmp(sv0, sv, (size_t)k * sizeof *sv) && (sv0[k] == erank || (isnan(erank) && isnan(sv0[k])));
    int all_same = 0;
    CHECK_RC(MPI_Allreduce(&same, &all_same, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), dist_strerror);

    int *counts = err_calloc((size_t)d.size, sizeof *counts), *displs = err_calloc((size_t)d.size, sizeof *displs);
    int mine_floats = mine * cols, total = 0;
    CHECK_RC(MPI_Gather(&mine_floats, 1, MPI_INT, counts, 1, MPI_INT, 0, MPI_COMM_WORLD), dist_strerror);
    for (int i = 0; i < d.size; i++) displs[i] = total, total += counts[i];
    float *all = err_calloc((size_t)total, sizeof *all);
    CHECK_RC(MPI_Gatherv(x, mine_floats, MPI_FLOAT, all, counts, displs, MPI_FLOAT, 0, MPI_COMM_WORLD),
             dist_strerror);

    int fail = 0;
    if (d.rank == 0) {
        int n = total / cols, nv = n < cols ? n : cols;
        double *xd = err_calloc((size_t)total, sizeof *xd), *ref = err_calloc((size_t)cols, sizeof *ref);
        for (int i = 0; i < total; i++) xd[i] = all[i];
        spectrum_reference(xd, n, cols, ref);
        int kk = k < nv ? k : nv;
        double err_sv = max_rel_diff(sv, ref, kk), ref_erank = spectrum_effective_rank(ref, nv);
        double err_erank = fabs(erank - ref_erank) / ref_erank;
        for (int i = kk; i < k; i++) err_sv = fmax(err_sv, fabs(sv[i]) / ref[0]); /* past the rank: zeros */
        fail = !(err_sv <= tol) || !(err_erank <= tol) || !all_same;
        printf("spectrum %s: %d ranks, %d x %d (rows %d + %d*rank): top-%d max error %.2e, erank %.6f vs %.6f "
               "(error %.2e), %s on every rank, tolerance %.0e%s\n",
               methods[method], d.size, n, cols, rows, step, k, err_sv, erank,
               ref_erank, err_erank, all_same ? "same" : "DIFFERENT", tol, fail ? ": FAIL" : ": ok");
        /* Negative control: centring each rank's rows with its own mean must change the answer well beyond
         * the tolerance, or this data could not tell a wrongly centred spectrum from a right one. */
        int filled = 0;
        for (int q = 0; q < d.size; q++) filled += counts[q] > 0;
        if (filled > 1) { /* with rows on one rank only, its own mean is the global one */
            for (int q = 0; q < d.size; q++) {
                int nq = counts[q] / cols;
                double *blk = xd + displs[q];
                for (int c = 0; c < cols; c++) {
                    double m = 0;
                    for (int i = 0; i < nq; i++) m += blk[(size_t)i * cols + c];
                    for (int i = 0; i < nq; i++) blk[(size_t)i * cols + c] -= m / nq;
                }
            }
            spectrum_reference(xd, n, cols, ref);
            double sep = max_rel_diff(sv, ref, kk);
            int blind = !(sep > 1e3 * tol);
            printf("spectrum negative control: rank-local centring differs by %.2e%s\n", sep,
                   blind ? ": FAIL (the check could not detect it)" : ": ok");
            fail |= blind;
        }
        if (repeat) printf("spectrum timing: %.3f ms per call\n", per_call * 1e3);
        free(xd);
        free(ref);
    }
    CHECK_RC(MPI_Bcast(&fail, 1, MPI_INT, 0, MPI_COMM_WORLD), dist_strerror);
    spectrum_destroy(&sp);
    free(x);
    free(sv);
    free(sv0);
    free(counts);
    free(displs);
    free(all);
    return finish(fail ? IL_EXIT_FAIL : IL_EXIT_OK);
}
