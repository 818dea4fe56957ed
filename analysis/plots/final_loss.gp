# Final training and validation loss against parameter count, one point per run of the sweep.
# Set by il-aggregate: term, outfile, datafile (n_params train_loss val_loss).
set terminal @term size 1000,700 font ",12"
set output outfile
set title "Final loss against model size"
set xlabel "parameters"
set ylabel "final loss (nats)"
set logscale x
set key top right
set grid
plot datafile using 1:2 with points pointtype 7 title "train", \
     datafile using 1:3 with points pointtype 5 title "validation"
