# Training loss (lines) and validation loss (points) against optimizer step for a few runs.
# Set by il-aggregate: term, outfile, datafile (one block per run: step loss val_loss), nblock, names (words).
set terminal @term size 1000,700 font ",12"
set output outfile
set title "Loss curves"
set xlabel "step: optimizer updates done (log scale; the initialisation, step 0, is left out)"
set ylabel "loss (nats)"
set logscale x
set key outside right
set grid
plot for [i=0:nblock-1] datafile index i using ($1 > 0 ? $1 : NaN):2 with lines linecolor i+1 title word(names, i+1), \
     for [i=0:nblock-1] datafile index i using ($1 > 0 ? $1 : NaN):3 with points linecolor i+1 pointtype 7 notitle
