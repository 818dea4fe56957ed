# S5 logit-lens loss against depth at several trace steps of one run.
# Set by il-aggregate: term, outfile, datafile (one block per step: depth lens), plotsdir, nblock, ndepth,
# steps (words), runname.
set terminal @term size 1000,700 font ",12"
set output outfile
load plotsdir.'/palette.gp'
set title sprintf("Logit-lens loss by depth over training (run %s)", runname) noenhanced
set xlabel "depth l (h^l; l = L is the model output)"
set ylabel "logit-lens loss (nats)  (S5)"
set xtics 1
set xrange [-0.2:ndepth-0.8]
set key outside right title "step"
set grid
plot for [i=0:nblock-1] datafile index i using 1:2 with linespoints title word(steps, i+1)
