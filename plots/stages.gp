# stages.gp: where each row's cost goes, at ImageNet scale: MACs per stage (stem, the three
# grids of Inception modules, the aux head, the classifier head), stacked.
W = 1100; H = 640
load scriptdir."/common.gp"
set title sprintf("%s: multiply-adds per stage at ImageNet scale (each network at its native input)", experiment)
set style data histograms
set style histogram rowstacked
set style fill solid 0.85 border rgb "#333333"
set boxwidth 0.7
set ylabel "billions of multiply-adds per image"
set yrange [0:*]
set xtics rotate by -25 left nomirror
set key outside right top box title "stage"
set bmargin 7
datafile = datadir."/stages.tsv"
plot datafile using 3:xticlabels(2) title "stem" lc rgb "#8c564b", \
     '' using 4 title "grid 1 (35x35 | 28x28)" lc rgb "#1f77b4", \
     '' using 5 title "grid 2 (17x17 | 14x14)" lc rgb "#2ca02c", \
     '' using 6 title "grid 3 (8x8 | 7x7)" lc rgb "#9467bd", \
     '' using 7 title "aux head" lc rgb "#ff7f0e", \
     '' using 8 title "head" lc rgb "#7f7f7f"
