# The inner-loop signals of one run against training step: S3b and S3 per block, the logit-lens loss per
# depth, the attention sink per block and the effective rank per depth.
# Set by il-aggregate: term, outfile, datafile (block 0: step then cos_local per block; 1: step then cos per
# block; 2: step then lens per depth; 3: step then sink per block; 4: step then erank per depth), plotsdir,
# nlayer, ndepth, runname.
set terminal @term size 1400,1000 font ",11"
set output outfile
load plotsdir.'/palette.gp'
set multiplot layout 2,3 title sprintf("Signals over training (run %s; x: optimizer updates done, log scale)", runname) noenhanced
set logscale x
set grid
set key top left font ",9"
set title "S3b local descent cosine, per block"
plot for [l=0:nlayer-1] datafile index 0 using 1:(column(l+2)) with lines lt l+1 title sprintf("block %d", l)
set title "S3 global descent cosine, per block"
plot for [l=0:nlayer-1] datafile index 1 using 1:(column(l+2)) with lines lt l+1 title sprintf("block %d", l)
set title "S5 logit-lens loss (nats), per depth"
plot for [l=0:ndepth-1] datafile index 2 using 1:(column(l+2)) with lines lt l+1 title sprintf("depth %d", l)
set title "S8 attention on position 0, per block"
plot for [l=0:nlayer-1] datafile index 3 using 1:(column(l+2)) with lines lt l+1 title sprintf("block %d", l)
set title "S9 effective rank, per depth"
plot for [l=0:ndepth-1] datafile index 4 using 1:(column(l+2)) with lines lt l+1 title sprintf("depth %d", l)
unset multiplot
