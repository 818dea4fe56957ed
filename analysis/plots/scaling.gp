# Scaling: the final validation loss against parameters on log-log axes, each run a point, the range over
# seeds as an error bar at each size, and the fitted power law L(N) = a (N/1e6)^-alpha + c when there is one;
# without a fit, a label says why.
# Set by il-aggregate: term, outfile, datafile (block 0: n_params val_loss per run; block 1: n_params mean
# low high per size), plotsdir, fitted (0/1), fa, falpha, fc, fitlabel (the fit, or "no fit: <reason>"),
# xlo, xhi, ylo, yhi (the ranges), xt, yt (words: the tick values), ydec (decimals of the y ticks). The
# ranges and ticks are il-aggregate's (analysis/ticks.h): widened around a few points, or one, so that
# each axis has several labelled ticks.
set terminal @term size 1000,700 font ",12"
set output outfile
load plotsdir.'/palette.gp'
set title "Final validation loss against model size"
set xlabel "parameters N (log scale)"
set ylabel "final validation loss (nats, log scale)"
set logscale x
set logscale y
set xrange [xlo:xhi]
set yrange [ylo:yhi]
set xtics ()
set for [w in xt] xtics add (real(w))
set ytics ()
set for [w in yt] ytics add (real(w))
set format x "%.0s%c"
set format y sprintf("%%.%df", ydec)
set mxtics 10
set grid
set key top right noenhanced
f(x) = fa * (x / 1e6) ** (-falpha) + fc
if (fitted) {
    plot datafile index 0 using 1:2 with points lt 1 pt 7 title "runs", \
         datafile index 1 using 1:2:3:4 with yerrorbars lt 2 pt 5 title "seed range", \
         f(x) with lines lt 3 title fitlabel
} else {
    set label 1 fitlabel at graph 0.02, graph 0.05 left front noenhanced
    plot datafile index 0 using 1:2 with points lt 1 pt 7 title "runs", \
         datafile index 1 using 1:2:3:4 with yerrorbars lt 2 pt 5 title "seed range"
}
