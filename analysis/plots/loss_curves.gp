# Every run's training loss at every logged step (lines) and validation loss (points), seeds of one size in
# one colour; below, the gradient norm before clipping and the learning rate. The y ranges follow the data,
# warmup spikes included.
# Set by il-aggregate: term, outfile, datafile (one block per run: step loss lr grad_norm; then one block per
# run of validations: step val_loss), plotsdir, nrun, colours (words: the size index of each run), titles
# (words: the legend of each run, "-" for none).
set terminal @term size 1100,1000 font ",12"
set output outfile
load plotsdir.'/palette.gp'
set multiplot layout 2,1 title "Loss curves (x: optimizer updates done, log scale)"
set logscale x
set grid
set key outside right
set ylabel "loss (nats)"
lc(i) = int(word(colours, i + 1)) + 1
tt(i) = word(titles, i + 1) eq "-" ? "" : word(titles, i + 1)
plot for [i=0:nrun-1] datafile index i using 1:2 with lines lt lc(i) title tt(i), \
     for [i=0:nrun-1] datafile index nrun+i using 1:2 with points lt lc(i) pt 7 ps 0.8 \
         title (i == 0 ? "validation (points)" : "")
set ylabel "gradient norm (log scale)"
set y2label "learning rate"
set logscale y
set ytics nomirror
set y2tics
set xlabel "step"
plot for [i=0:nrun-1] datafile index i using 1:4 with lines lt lc(i) title (i == 0 ? "gradient norm (lines)" : ""), \
     for [i=0:nrun-1] datafile index i using 1:3 axes x1y2 with lines lt lc(i) dt 2 \
         title (i == 0 ? "learning rate (dashed)" : "")
unset multiplot
