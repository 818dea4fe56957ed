/* figures: PNG figures drawn by gnuplot from the scripts in analysis/plots/ (one script per figure, given
 * its data file, output file and terminal through -e; palette.gp holds the colours every script loads):
 *   loss_curves      every run's training loss at every logged step (metrics.jsonl) and validation loss, a
 *                    colour per run (per size past 24 runs), with the gradient norm and learning rate below;
 *   h1_sizes         the norm at the last depth by position at the end, a line per size, a band over seeds;
 *   genres           final validation loss by genre per size; the largest run's per-genre lens and S3b;
 *   scaling          final validation loss against parameters (log-log), seed range, fitted power law
 *                    or why there is none;
 * and for the smallest, the median and the largest run by parameter count (from summary.nc):
 *   norm_position_R, lens_depth_R, cos_depth_R, signals_R (S3b, S3, S5, S8, S9 against step).
 *
 * gnuplot is the first `gnuplot` on PATH, or $IL_GNUPLOT when set (empty: none); the scripts are found in
 * $IL_PLOTS_DIR, else in the nearest analysis/plots/ above the executable or an installation's
 * share/innerloop/plots (core/share.h). Without gnuplot or a PNG
 * terminal (pngcairo, else png) every figure is skipped and named as such: the tables do not depend on
 * them. gnuplot's own messages (warnings such as "empty x range", the error of a figure it could not draw) go
 * to figures/gnuplot.log under the name of each figure, not to stderr; the log is removed when it is empty. */
#ifndef IL_AGG_FIGURES_H
#define IL_AGG_FIGURES_H

#include "analysis/runs.h"
#include "analysis/scaling.h"

/* gnuplot's messages, in figures/ */
#define FIGURES_LOG "gnuplot.log"

/* Draws the figures into <out_dir>/figures/ from the runs' rows (in summary.nc at rows[i].sum_index, -1
 * without traces) and the scaling fit; how many were skipped (messages printed) in *skipped. Returns 0, or -1
 * with err_set() when a file could not be written (a full disk): the figures are then incomplete. */
int figures_make(const char *out_dir, const char *summary_path, const run_row_t *rows, int n, const scaling_fit_t *fit,
                 int *skipped);

#endif
