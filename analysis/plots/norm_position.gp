# S1 representation norm against position, one line per depth, at the last trace step of one run. Depth 0
# (the embedding) is an order of magnitude below the rest, so the y axis is logarithmic.
# Set by il-aggregate: term, outfile, datafile (one block per depth: position norm), plotsdir, ndepth, T,
# runname, step.
set terminal @term size 1000,700 font ",12"
set output outfile
load plotsdir.'/palette.gp'
set title sprintf("Representation norm by position at the end of training (run %s, step %s)", runname, step)
set xlabel "position t"
set ylabel "mean ||h^l_t||  (S1, log scale)"
set logscale y
set xrange [0:T-1]
set key outside right title "depth l"
set grid
plot for [i=0:ndepth-1] datafile index i using 1:2 with linespoints pointsize 0.5 title sprintf("%d", i)
