# cumulative.gp: Table 3 row by row, in two panels that share the rows: above, our top-1 error
# (mean over seeds, error bar = sample std over seeds); below, the paper's ImageNet top-1
# error. The data sets and scales differ, so each panel has its own error axis: compare the
# steps from row to row, not the levels.
W = 1100; H = 760
load scriptdir."/common.gp"
datafile = datadir."/rows.tsv"
set multiplot title sprintf("%s: cumulative ablation (Table 3), top-1 error per row", experiment)
set lmargin at screen 0.09; set rmargin at screen 0.97
set xrange [0.5:nrows + 0.5]
set offsets 0, 0, graph 0.18, graph 0.12
set ylabel "top-1 error (%)"
set key top right box opaque
set pointsize 1.4

# above: ours
set tmargin at screen 0.90; set bmargin at screen 0.60
set title sprintf("{/*0.85 ours: %s, %s, mean ± std over %d seeds}", scale, metric, nseeds) offset 0, -0.4
set format x ""
set xtics 1 nomirror
plot datafile using 1:3 with lines lc rgb "#1f77b4" lw 1.5 dt 2 notitle, \
     datafile using 1:3:4 with yerrorbars pt 7 lc rgb "#1f77b4" lw 1.5 title "ours (small scale, mean ± std)", \
     datafile using 1:3:(sprintf("%.2f", $3)) with labels left offset char 1.2, 0.6 font ",10" tc rgb "#1f77b4" notitle

# below: the paper
set tmargin at screen 0.52; set bmargin at screen 0.20
set title "{/*0.85 paper: ImageNet single-crop, Szegedy et al. 2016, Table 3}" offset 0, -0.4
set format x "%g"
set xtics rotate by 20 right nomirror
plot datafile using 1:6 with lines lc rgb "#ff7f0e" lw 1.5 dt 2 notitle, \
     datafile using 1:6:xticlabels(2) with points pt 5 lc rgb "#ff7f0e" title "paper (ImageNet, Table 3)", \
     datafile using 1:6:(sprintf("%.1f", $6)) with labels left offset char 1.2, 0.6 font ",10" tc rgb "#ff7f0e" notitle
unset multiplot
