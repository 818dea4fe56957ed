#include "trace/spectrum.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dist.h"
#include "core/err.h"

/* BLACS, ScaLAPACK and LAPACK ship no C header. Every Fortran argument is a pointer; character arguments
 * carry a hidden length, passed explicitly at the end (gfortran's ABI) rather than left to chance. */
void Cblacs_gridinit(int *ctx, const char *order, int nprow, int npcol);
void Cblacs_gridinfo(int ctx, int *nprow, int *npcol, int *myrow, int *mycol);
void Cblacs_gridexit(int ctx);
int Csys2blacs_handle(MPI_Comm comm);
void Cfree_blacs_system_handle(int handle);
int numroc_(const int *n, const int *nb, const int *iproc, const int *isrcproc, const int *nprocs);
void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb, const int *irsrc,
               const int *icsrc, const int *ctx, const int *lld, int *info);
void pdgesvd_(const char *jobu, const char *jobvt, const int *m, const int *n, double *a, const int *ia,
              const int *ja, const int *desca, double *s, double *u, const int *iu, const int *ju,
              const int *descu, double *vt, const int *ivt, const int *jvt, const int *descvt, double *work,
              const int *lwork, int *info, size_t jobu_len, size_t jobvt_len);
void pdgeqrf_(const int *m, const int *n, double *a, const int *ia, const int *ja, const int *desca, double *tau,
              double *work, const int *lwork, int *info);
void dgesvd_(const char *jobu, const char *jobvt, const int *m, const int *n, double *a, const int *lda,
             double *s, double *u, const int *ldu, double *vt, const int *ldvt, double *work, const int *lwork,
             int *info, size_t jobu_len, size_t jobvt_len);
void dsyrk_(const char *uplo, const char *trans, const int *n, const int *k, const double *alpha, const double *a,
            const int *lda, const double *beta, double *c, const int *ldc, size_t uplo_len, size_t trans_len);
void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w, double *work,
            const int *lwork, int *info, size_t jobz_len, size_t uplo_len);

const char *spectrum_strinfo(int info)
{
    static _Thread_local char buf[96];
    if (info < 0)
        snprintf(buf, sizeof buf, "argument %d had an illegal value (info %d)", -info, info);
    else
        snprintf(buf, sizeof buf, "the decomposition did not converge (info %d)", info);
    return buf;
}

static int min_int(int a, int b) { return a < b ? a : b; }

/* Whether the ScaLAPACK route first reduces the matrix to its C x C triangle R (A = QR has A's singular
 * values) and takes R's values with serial LAPACK on every rank: for tall matrices pdgeqrf_ is blocked
 * level-3 work, while pdgesvd_'s bidiagonalisation of all m rows is largely level 2, ten times slower at
 * 16,384 x 256; and R is small enough (C x C) to replicate. */
static int tall(const spectrum_t *sp) { return sp->m_global > sp->C; }

/* Singular values (or Gram eigenvalues) the chosen route produces. */
static int n_values(const spectrum_t *sp)
{
    return sp->method == SPECTRUM_GRAM ? sp->C : min_int(sp->m_global, sp->C);
}

void spectrum_create(spectrum_t *sp, MPI_Comm comm, int C, int max_rows, int k, spectrum_method_t method)
{
    CHECK(C >= 1 && max_rows >= 0 && k >= 1, "spectrum_create: C %d, max_rows %d, k %d", C, max_rows, k);
    memset(sp, 0, sizeof *sp);
    sp->comm = comm;
    sp->method = method;
    sp->C = C;
    sp->k = k;
    sp->max_rows = max_rows;
    sp->ctx = -1;
    CHECK_RC(MPI_Comm_rank(comm, &sp->rank), dist_strerror);
    CHECK_RC(MPI_Comm_size(comm, &sp->size), dist_strerror);
    /* The same number of 64-row blocks on every rank, enough for the rank with the most rows: then the
     * block-cyclic layout gives each rank exactly local_rows rows, whatever its own count. */
    int most = 0;
    CHECK_RC(MPI_Allreduce(&max_rows, &most, 1, MPI_INT, MPI_MAX, comm), dist_strerror);
    int blocks = most > 0 ? (most + SPECTRUM_BLOCK - 1) / SPECTRUM_BLOCK : 1;
    sp->local_rows = blocks * SPECTRUM_BLOCK;
    sp->m_global = sp->size * sp->local_rows;
    sp->a = err_calloc((size_t)sp->local_rows * C, sizeof *sp->a);
    sp->mean = err_calloc((size_t)C, sizeof *sp->mean);
    sp->sv = err_calloc((size_t)C, sizeof *sp->sv);

    double query = 0;
    int info = 0, minus1 = -1;
    if (method == SPECTRUM_GRAM) {
        sp->gram = err_calloc((size_t)C * C, sizeof *sp->gram);
        dsyev_("N", "U", &C, sp->gram, &C, sp->sv, &query, &minus1, &info, 1, 1);
        CHECK_RC(info, spectrum_strinfo);
    } else {
        int nprow, npcol, myrow, mycol, nb = SPECTRUM_BLOCK, zero = 0, one = 1;
        sp->blacs_sys = Csys2blacs_handle(comm);
        sp->ctx = sp->blacs_sys;
        Cblacs_gridinit(&sp->ctx, "Row", sp->size, 1);
        Cblacs_gridinfo(sp->ctx, &nprow, &npcol, &myrow, &mycol);
        CHECK(nprow == sp->size && npcol == 1 && myrow == sp->rank,
              "BLACS grid %dx%d puts rank %d at row %d: expected %dx1 in rank order", nprow, npcol, sp->rank,
              myrow, sp->size);
        int mine = numroc_(&sp->m_global, &nb, &myrow, &zero, &sp->size);
        CHECK(mine == sp->local_rows, "numroc_ gives %d local rows, expected %d", mine, sp->local_rows);
        descinit_(sp->desc, &sp->m_global, &C, &nb, &nb, &zero, &zero, &sp->ctx, &sp->local_rows, &info);
        CHECK_RC(info, spectrum_strinfo);
        if (tall(sp)) {
            double svd = 0;
            sp->tau = err_calloc((size_t)C, sizeof *sp->tau); /* every rank holds all C columns */
            sp->r = err_calloc((size_t)C * C, sizeof *sp->r);
            pdgeqrf_(&sp->m_global, &C, sp->a, &one, &one, sp->desc, sp->tau, &query, &minus1, &info);
            CHECK_RC(info, spectrum_strinfo);
            dgesvd_("N", "N", &C, &C, sp->r, &C, sp->sv, NULL, &one, NULL, &one, &svd, &minus1, &info, 1, 1);
            CHECK_RC(info, spectrum_strinfo);
            query = fmax(query, svd);
        } else {
            pdgesvd_("N", "N", &sp->m_global, &C, sp->a, &one, &one, sp->desc, sp->sv, NULL, &one, &one, sp->desc,
                     NULL, &one, &one, sp->desc, &query, &minus1, &info, 1, 1);
            CHECK_RC(info, spectrum_strinfo);
        }
    }
    sp->lwork = (int)query;
    sp->work = err_calloc((size_t)sp->lwork, sizeof *sp->work);
}

void spectrum_destroy(spectrum_t *sp)
{
    if (sp->ctx >= 0) {
        Cblacs_gridexit(sp->ctx);
        Cfree_blacs_system_handle(sp->blacs_sys);
    }
    free(sp->a);
    free(sp->mean);
    free(sp->sv);
    free(sp->work);
    free(sp->gram);
    free(sp->tau);
    free(sp->r);
    memset(sp, 0, sizeof *sp);
}

double spectrum_effective_rank(const double *sv, int n)
{
    double total = 0, h = 0;
    for (int i = 0; i < n; i++) total += sv[i] * sv[i];
    if (!(total > 0)) return NAN;
    for (int i = 0; i < n; i++) {
        double p = sv[i] * sv[i] / total;
        if (p > 0) h -= p * log(p);
    }
    return exp(h);
}

/* Centres this rank's rows with the global column mean into sp->a (column-major, zero rows after them). */
static void centre_rows(spectrum_t *sp, const float *x, int n_rows)
{
    int C = sp->C, lr = sp->local_rows;
    /* column sums and the row count in one reduction */
    double *acc = err_calloc((size_t)C + 1, sizeof *acc);
    for (int i = 0; i < n_rows; i++)
        for (int c = 0; c < C; c++) acc[c] += x[(size_t)i * C + c];
    acc[C] = n_rows;
    CHECK_RC(MPI_Allreduce(MPI_IN_PLACE, acc, C + 1, MPI_DOUBLE, MPI_SUM, sp->comm), dist_strerror);
    for (int c = 0; c < C; c++) sp->mean[c] = acc[C] > 0 ? acc[c] / acc[C] : 0.0;
    free(acc);
    for (int c = 0; c < C; c++) {
        double *col = sp->a + (size_t)c * lr;
        for (int i = 0; i < n_rows; i++) col[i] = x[(size_t)i * C + c] - sp->mean[c];
        memset(col + n_rows, 0, (size_t)(lr - n_rows) * sizeof *col);
    }
}

/* After pdgeqrf_: R (the upper triangle of the leading C rows, whose strict lower part holds Householder
 * vectors) into sp->r on every rank, column-major: each rank places the rows it owns, one sum joins them. */
static void gather_r(spectrum_t *sp)
{
    int C = sp->C, lr = sp->local_rows, nb = SPECTRUM_BLOCK;
    memset(sp->r, 0, (size_t)C * C * sizeof *sp->r);
    for (int i = 0; i < lr; i++) {
        int row = (i / nb * sp->size + sp->rank) * nb + i % nb; /* block-cyclic over the P x 1 grid */
        if (row >= C) continue;
        for (int c = row; c < C; c++) sp->r[(size_t)c * C + row] = sp->a[(size_t)c * lr + i];
    }
    CHECK_RC(MPI_Allreduce(MPI_IN_PLACE, sp->r, C * C, MPI_DOUBLE, MPI_SUM, sp->comm), dist_strerror);
}

void spectrum_compute(spectrum_t *sp, const float *x, int n_rows, double *sv_top, double *erank)
{
    CHECK(n_rows >= 0 && n_rows <= sp->max_rows, "spectrum_compute: %d rows, capacity %d", n_rows, sp->max_rows);
    int C = sp->C, info = 0, one = 1;
    centre_rows(sp, x, n_rows);
    if (sp->method == SPECTRUM_GRAM) {
        double alpha = 1, beta = 0;
        dsyrk_("U", "T", &C, &sp->local_rows, &alpha, sp->a, &sp->local_rows, &beta, sp->gram, &C, 1, 1);
        CHECK_RC(MPI_Allreduce(MPI_IN_PLACE, sp->gram, C * C, MPI_DOUBLE, MPI_SUM, sp->comm), dist_strerror);
        dsyev_("N", "U", &C, sp->gram, &C, sp->sv, sp->work, &sp->lwork, &info, 1, 1);
        CHECK_RC(info, spectrum_strinfo);
        /* ascending eigenvalues of the Gram matrix -> descending singular values; rounding can leave the
         * smallest eigenvalues slightly negative */
        for (int i = 0, j = C - 1; i < j; i++, j--) {
            double t = sp->sv[i];
            sp->sv[i] = sp->sv[j];
            sp->sv[j] = t;
        }
        for (int i = 0; i < C; i++) sp->sv[i] = sqrt(fmax(sp->sv[i], 0.0));
    } else {
        if (tall(sp)) {
            pdgeqrf_(&sp->m_global, &C, sp->a, &one, &one, sp->desc, sp->tau, sp->work, &sp->lwork, &info);
            CHECK_RC(info, spectrum_strinfo);
            gather_r(sp);
            /* every rank decomposes the same R with the same LAPACK: the values agree bit for bit */
            dgesvd_("N", "N", &C, &C, sp->r, &C, sp->sv, NULL, &one, NULL, &one, sp->work, &sp->lwork, &info, 1, 1);
        } else {
            pdgesvd_("N", "N", &sp->m_global, &C, sp->a, &one, &one, sp->desc, sp->sv, NULL, &one, &one, sp->desc,
                     NULL, &one, &one, sp->desc, sp->work, &sp->lwork, &info, 1, 1);
        }
        CHECK_RC(info, spectrum_strinfo);
    }
    int n = n_values(sp);
    for (int i = 0; i < sp->k; i++) sv_top[i] = i < n ? sp->sv[i] : 0.0;
    *erank = spectrum_effective_rank(sp->sv, n);
}

void spectrum_reference(const double *x, int n_rows, int C, double *sv)
{
    CHECK(n_rows >= 1 && C >= 1, "spectrum_reference: %d x %d matrix", n_rows, C);
    int lda = n_rows, one = 1, info = 0, minus1 = -1;
    double *a = err_calloc((size_t)lda * C, sizeof *a), query = 0;
    for (int c = 0; c < C; c++) {
        double mean = 0;
        for (int i = 0; i < n_rows; i++) mean += x[(size_t)i * C + c];
        mean /= n_rows;
        for (int i = 0; i < n_rows; i++) a[(size_t)c * lda + i] = x[(size_t)i * C + c] - mean;
    }
    dgesvd_("N", "N", &n_rows, &C, a, &lda, sv, NULL, &one, NULL, &one, &query, &minus1, &info, 1, 1);
    CHECK_RC(info, spectrum_strinfo);
    int lwork = (int)query;
    double *work = err_calloc((size_t)lwork, sizeof *work);
    dgesvd_("N", "N", &n_rows, &C, a, &lda, sv, NULL, &one, NULL, &one, work, &lwork, &info, 1, 1);
    CHECK_RC(info, spectrum_strinfo);
    free(work);
    free(a);
}
