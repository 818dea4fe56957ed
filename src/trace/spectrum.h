/* spectrum: signal S9, the top singular values of the centred matrix of all representations h^l_t of the
 * global batch, and its effective rank exp(H(p)), p_i = s_i^2 / sum_j s_j^2 over *all* singular values.
 *
 * The rows (one per token, C columns) are spread over the ranks of a communicator and never move: each
 * rank centres its own rows with the global column mean (one MPI_Allreduce) and places them into the
 * block-cyclic row slots it owns on a P x 1 BLACS grid with square 64 x 64 blocks (pdgesvd_ rejects
 * non-square blocks: with MB != NB it fails with "PDGEBRD parameter number 606 had an illegal value" yet
 * returns info 0 and zero singular values); the slots left over are zero rows, which add only zero
 * singular values. When the matrix has more rows than columns (the usual case), ScaLAPACK's pdgeqrf_
 * reduces it to its C x C triangle R, which has the same singular values; R is summed onto every rank (one
 * MPI_Allreduce of C^2 doubles) and serial LAPACK dgesvd_ takes its values there. Otherwise pdgesvd_ takes
 * the values (no vectors) of the matrix itself, replicated on every rank.
 *
 * A cheaper route for small C forms the C x C Gram matrix of the centred rows (local dsyrk, one
 * MPI_Allreduce) and takes square roots of its eigenvalues (dsyev_). It squares the condition number, so
 * singular values below ~1e-8 of the largest lose their relative accuracy; top-k values and the
 * effective rank are unaffected in practice. spectrum_reference() is the serial LAPACK answer the tests
 * compare both routes with. */
#ifndef IL_SPECTRUM_H
#define IL_SPECTRUM_H

#include <mpi.h>

typedef enum { SPECTRUM_SCALAPACK = 0, SPECTRUM_GRAM = 1 } spectrum_method_t;

enum { SPECTRUM_BLOCK = 64 }; /* MB = NB of the block-cyclic layout */

typedef struct {
    MPI_Comm comm;
    int rank, size;
    spectrum_method_t method;
    int C;           /* columns */
    int k;           /* singular values kept */
    int max_rows;    /* most rows this rank may pass to spectrum_compute */
    int m_global;    /* rows of the padded global matrix: size * local_rows */
    int local_rows;  /* rows this rank holds in the block-cyclic layout (a multiple of 64, >= max_rows) */
    int blacs_sys;   /* BLACS system handle of comm */
    int ctx;         /* BLACS grid context, created once and reused */
    int desc[9];     /* ScaLAPACK descriptor of the distributed matrix */
    double *a;       /* (local_rows, C) column-major, lld = local_rows: this rank's block rows */
    double *mean;    /* (C) global column mean */
    double *sv;      /* (min(m_global, C)) all singular values, descending */
    double *work;    /* [lwork] pdgesvd_ / dsyev_ workspace */
    int lwork;
    double *gram;    /* (C, C) Gram route only */
    double *tau;     /* (C) Householder scalars of the QR step of the ScaLAPACK route, for tall matrices */
    double *r;       /* (C, C) column-major: the R of that QR step, replicated */
} spectrum_t;

/* Collective over comm. Every rank passes its own max_rows (they may differ); k >= 1 values are kept. */
void spectrum_create(spectrum_t *sp, MPI_Comm comm, int C, int max_rows, int k, spectrum_method_t method);
void spectrum_destroy(spectrum_t *sp);

/* Collective over comm: x (n_rows, C) row-major are this rank's rows, 0 <= n_rows <= max_rows. Writes the
 * k largest singular values of the centred global matrix to sv_top (k, descending; zeros past the matrix
 * rank) and the effective rank to *erank (NaN when the centred matrix is zero). Same result on every rank. */
void spectrum_compute(spectrum_t *sp, const float *x, int n_rows, double *sv_top, double *erank);

/* exp of the Shannon entropy (nats) of s_i^2 / sum s^2 over n values; NaN when all are zero. */
double spectrum_effective_rank(const double *sv, int n);

/* Serial reference: all min(n_rows, C) singular values (descending) of x (n_rows, C) row-major after
 * subtracting its column mean, through LAPACK dgesvd_. */
void spectrum_reference(const double *x, int n_rows, int C, double *sv);

/* Describes a BLACS/ScaLAPACK/LAPACK info code for CHECK_RC. */
const char *spectrum_strinfo(int info);

#endif
