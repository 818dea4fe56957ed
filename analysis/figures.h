/* figures: PNG figures drawn by gnuplot from the scripts in analysis/plots/ (one script per figure, given
 * its data file, output file and terminal through -e). Per-run figures are drawn for up to three runs,
 * the smallest, the median and the largest by parameter count, from the curves in summary.nc.
 *
 * gnuplot is the first `gnuplot` on PATH, or $IL_GNUPLOT when set (empty: none); the scripts are found in
 * $IL_PLOTS_DIR, else in the nearest analysis/plots/ above the executable. Without gnuplot or
 * a PNG terminal (pngcairo, else png) every figure is skipped and named as such: the tables do not depend
 * on them. */
#ifndef IL_AGG_FIGURES_H
#define IL_AGG_FIGURES_H

typedef struct {
    const char *name;
    double n_params, final_loss, final_val;
    long sum_index; /* run index in summary.nc, -1 when the run has no traces */
} figures_run_t;

/* Draws the figures into <out_dir>/figures/. Returns how many figures were skipped (messages printed). */
int figures_make(const char *out_dir, const char *summary_path, const figures_run_t *runs, int n);

#endif
