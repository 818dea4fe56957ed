# Scaling: the final validation loss against parameters on log-log axes, each run a point, the range over
# seeds as an error bar at each size, and the fitted power law L(N) = a (N/1e6)^-alpha + c when there is one.
# Set by il-aggregate: term, outfile, datafile (block 0: n_params val_loss per run; block 1: n_params mean
# low high per size), plotsdir, fitted (0/1), fa, falpha, fc, fitlabel.
set terminal @term size 1000,700 font ",12"
set output outfile
load plotsdir.'/palette.gp'
set title "Final validation loss against model size"
set xlabel "parameters N (log scale)"
set ylabel "final validation loss (nats, log scale)"
set logscale x
# base 1.1: a labelled tic every 10%, where base 10 would label none of a narrow range of losses
set logscale y 1.1
set format y "%.2f"
set format x "%.0s%c"
set mxtics 10
# the ranges on the data, not on whole decades
set autoscale fix
set offsets graph 0.08, graph 0.08, graph 0.1, graph 0.1
set grid
set key top right noenhanced
f(x) = fa * (x / 1e6) ** (-falpha) + fc
if (fitted) {
    plot datafile index 0 using 1:2 with points lt 1 pt 7 title "runs", \
         datafile index 1 using 1:2:3:4 with yerrorbars lt 2 pt 5 title "seed range", \
         f(x) with lines lt 3 title fitlabel
} else {
    plot datafile index 0 using 1:2 with points lt 1 pt 7 title "runs", \
         datafile index 1 using 1:2:3:4 with yerrorbars lt 2 pt 5 title "seed range"
}
