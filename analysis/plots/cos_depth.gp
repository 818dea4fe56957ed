# S3 and S3b inner descent cosines against block at several trace steps of one run, two panels.
# Set by il-aggregate: term, outfile, datafile (one block per step: block cos cos_local), plotsdir, nblock,
# nlayer, steps, runname.
set terminal @term size 1000,900 font ",12"
set output outfile
load plotsdir.'/palette.gp'
set multiplot layout 2,1 title sprintf("Inner descent cosine by block over training (run %s)", runname) noenhanced
set xlabel "block l"
set xtics 1
set xrange [-0.2:nlayer-0.8]
set key outside right title "step"
set grid
set ylabel "S3: cos(step, -dL/dh^l)"
plot for [i=0:nblock-1] datafile index i using 1:2 with linespoints title word(steps, i+1)
set ylabel "S3b: cos(step, -d lens_l/dh^l)"
plot for [i=0:nblock-1] datafile index i using 1:3 with linespoints title word(steps, i+1)
unset multiplot
