# cumulative.gp: Table 3 as bars, row by row: our top-1 error (mean over seeds, error bar = sample
# std over seeds) beside the paper's ImageNet top-1 error. The data sets differ: compare the
# steps from row to row, not the levels.
W = 1100; H = 640
load scriptdir."/common.gp"
set title sprintf("%s: cumulative ablation (Table 3), top-1 error per row\n{/*0.8 ours: %s, %s, mean ± std over %d seeds}", experiment, scale, metric, nseeds)
set style data histograms
set style histogram errorbars gap 1.5 lw 1.5
set style fill solid 0.85 border rgb "#333333"
set boxwidth 0.9
set ylabel "top-1 error (%)"
set yrange [0:*]
set xtics rotate by -25 left nomirror
set key top right box opaque
set bmargin 7
datafile = datadir."/rows.tsv"
plot datafile using 3:4:xticlabels(2) title "ours (small scale, mean ± std)" lc rgb "#1f77b4", \
     datafile using 6:(0) title "paper (ImageNet, Table 3)" lc rgb "#ff7f0e"
