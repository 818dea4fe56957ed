# H1 across sizes: the norm at the last depth against position at the end of training, one line per model
# size (mean over its seeds) with a band from the smallest to the largest seed.
# Set by il-aggregate: term, outfile, datafile (one block per size: position mean low high), plotsdir,
# nsize, titles (words), T.
set terminal @term size 1000,700 font ",12"
set output outfile
load plotsdir.'/palette.gp'
set title "H1: norm at the last depth by position, by model size (band: range over seeds)"
set xlabel "position t"
set ylabel "mean ||h^L_t||  (S1)"
set xrange [0:T > 1 ? T-1 : 1]
set key outside right title "parameters"
set grid
set style fill transparent solid 0.2 noborder
plot for [i=0:nsize-1] datafile index i using 1:3:4 with filledcurves lt i+1 notitle, \
     for [i=0:nsize-1] datafile index i using 1:2 with lines lt i+1 title word(titles, i + 1)
