# S1 representation norm against position, one line per depth, at the last trace step of one run. Each depth's
# curve is divided by its own mean over positions (the key gives that mean): depth 0, the embedding, is an
# order of magnitude below the rest, and one absolute axis for all would flatten the trend along t that the
# figure exists to show.
# Set by il-aggregate: term, outfile, datafile (one block per depth: position norm/mean), plotsdir, ndepth, T,
# runname, step, means (words: each depth's mean norm).
set terminal @term size 1000,700 font ",12"
set output outfile
load plotsdir.'/palette.gp'
set title sprintf("Representation norm by position at the end of training (run %s, step %s)", runname, step) noenhanced
set xlabel "position t"
set ylabel "||h^l_t|| / its mean over t  (S1, each depth divided by its own mean)"
set xrange [0:T > 1 ? T-1 : 1]
set key outside right title "depth l (mean)"
set grid
plot for [i=0:ndepth-1] datafile index i using 1:2 with linespoints pointsize 0.5 \
     title sprintf("%d (%s)", i, word(means, i + 1))
