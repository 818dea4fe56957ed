# By genre: the final validation loss of each size (mean over its seeds), and the largest run's logit-lens
# loss at the last depth and local descent cosine S3b over the probe tokens of each genre.
# Set by il-aggregate: term, outfile, datafile (block 0: genre-index then one column per size; block 1:
# genre-index lens cos), plotsdir, nsize, titles (words), ngenre, genre1..genre<ngenre> (the genres' names),
# runname. Names of the data are printed noenhanced: an underscore stays an underscore.
set terminal @term size 1200,1000 font ",11"
set output outfile
load plotsdir.'/palette.gp'
set multiplot layout 2,1 title "By genre of the Brown Corpus"
set grid
# the genres' names the only ticks; the same plot width in both panels, whichever has a right axis
set xtics () rotate by -35 font ",10" noenhanced
set lmargin at screen 0.08
set rmargin at screen 0.70
set for [g=1:ngenre] xtics add (value(sprintf("genre%d", g)) g - 1)
set xrange [-0.5:ngenre - 0.5]
set key outside right noenhanced
set title "final validation loss (nats) by genre, per model size"
plot for [i=0:nsize-1] datafile index 0 using 1:(column(i+2)) with linespoints lt i+1 title word(titles, i + 1)
set title sprintf("run %s at the end of training: logit-lens loss at the last depth, and S3b (right axis)", runname) noenhanced
set ytics nomirror
set y2tics
set ylabel "logit-lens loss (nats)"
set y2label "S3b cosine"
plot datafile index 1 using 1:2 with linespoints lt 1 title "logit-lens loss, last depth", \
     datafile index 1 using 1:3 axes x1y2 with linespoints lt 2 title "S3b, mean over blocks"
unset multiplot
