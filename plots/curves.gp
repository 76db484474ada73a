# curves.gp: learning curves, one panel per row: test top-1 error after each epoch, mean over
# the seeds (line) and the min-max range over seeds (band). Same axes in every panel.
load datadir."/data.gp"
cols = 4
rows = int((nrows + cols - 1) / cols)
W = 1200; H = 60 + 300 * rows
load scriptdir."/common.gp"
datafile = datadir."/curves.tsv"
stats datafile using 4 nooutput
ymax = STATS_max
stats datafile using 3 nooutput
ymin = STATS_min
stats datafile using 1 nooutput
xmax = STATS_max
set yrange [(ymin > 2 ? ymin - 2 : 0):ymax + 2]
set xrange [0:xmax < 1 ? 1 : xmax]
set xlabel "epoch" offset 0,0.5
set ylabel "test top-1 error (%)" offset 1,0
set key bottom left samplen 1.5 font ",9"
set multiplot layout rows, cols title sprintf("%s: learning curves, test top-1 error per epoch (line = mean, band = min-max over seeds)\n{/*0.85 %s, %s}", experiment, scale, metric) font ",12"
do for [i = 1:nrows] {
  set title sprintf("%d %s", i, rowname[i]) font ",11"
  if (rowpoints[i] > 0) {
    plot datafile index (i - 1) using 1:3:4 with filledcurves fc rgb "#1f77b4" fs transparent solid 0.25 noborder title "min-max", \
         '' index (i - 1) using 1:2 with linespoints lw 2 pt 7 ps 0.5 lc rgb "#1f77b4" title "mean"
  } else {
    set label 1 "no evaluations yet" at graph 0.5, 0.5 center
    plot -1000 notitle
    unset label 1
  }
}
unset multiplot
