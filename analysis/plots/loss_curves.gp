# Every run's training loss at every logged step (lines) and validation loss (large points on top), a colour
# per run (past the palette's 8 colours, a dash pattern too), the key naming each run and its size; in a
# sweep too large for such a key (bysize), a colour and a key entry per size. Below, the gradient norm before
# clipping and the learning rate. The x axis ends at the last step; the y ranges follow the data, warmup
# spikes included.
# Set by il-aggregate: term, outfile, datafile (one block per run: step loss lr grad_norm; then one block per
# run of validations: step val_loss), plotsdir, nrun, xmax (the last step), bysize (0/1), colours (words,
# with bysize: each run's size index), title1..title<nrun> (each run's key, its name and size; with bysize
# only the first run of each size has one).
set terminal @term size 1100,1000 font ",12"
set output outfile
load plotsdir.'/palette.gp'
set multiplot layout 2,1 title "Loss curves (x: optimizer updates done, log scale)"
# the same plot width in both panels, whichever has a right axis
set lmargin at screen 0.08
set rmargin at screen 0.66
set logscale x
set xrange [1:xmax > 1 ? xmax : 2]
set grid
set key outside right noenhanced
set ylabel "loss (nats)"
dash(i) = bysize ? 1 : 1 + int(i / 8) % 5
lc(i) = bysize ? int(word(colours, i + 1)) + 1 : i + 1
rt(i) = exists(sprintf("title%d", i + 1)) ? value(sprintf("title%d", i + 1)) : ""
plot for [i=0:nrun-1] datafile index i using 1:2 with lines lt lc(i) dt dash(i) title rt(i), \
     for [i=0:nrun-1] datafile index nrun+i using 1:2 with points lt lc(i) pt 7 ps 1.6 notitle, \
     for [i=0:nrun-1] datafile index nrun+i using 1:2 with points lc rgb "black" pt 6 ps 1.6 lw 1 \
         title (i == 0 ? "validation (circles)" : "")
set ylabel "gradient norm (log scale)"
set y2label "learning rate"
set logscale y
set ytics nomirror
set y2tics
set xlabel "step"
plot for [i=0:nrun-1] datafile index i using 1:4 with lines lt lc(i) dt dash(i) title (i == 0 ? "gradient norm (lines)" : ""), \
     for [i=0:nrun-1] datafile index i using 1:3 axes x1y2 with lines lt lc(i) dt 1+dash(i) lw 1 \
         title (i == 0 ? "learning rate (thin, dashed)" : "")
unset multiplot
