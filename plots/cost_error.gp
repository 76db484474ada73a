# cost_error.gp: cost at ImageNet scale against top-1 error. Ours: our exact MACs (each network
# at its native input) vs our small-scale error, with std error bars, points labelled by row.
# Paper: its "Cost Bn Ops" vs its ImageNet error, on the right-hand axis. Labels alternate
# sides (row index mod 3) so that rows of equal cost stay readable.
W = 1000; H = 680
load scriptdir."/common.gp"
set title sprintf("%s: cost vs top-1 error\n{/*0.8 ours: %s, %s}", experiment, scale, metric)
set xlabel "cost per image at ImageNet scale (billions of multiply-adds)"
set ylabel "our top-1 error (%), small scale"
set y2label "paper top-1 error (%), ImageNet"
set ytics nomirror
set y2tics
set offsets graph 0.08, graph 0.25, graph 0.08, graph 0.08
set key bottom left box opaque
datafile = datadir."/rows.tsv"
plot datafile using 10:3:4 with yerrorbars pt 7 ps 1.3 lc rgb "#1f77b4" title "ours (MACs from our graph)", \
     datafile using 10:3:(int($1) % 3 == 1 ? sprintf("%d %s", $1, strcol(2)) : "") with labels left offset 1,0.7 font ",9" tc rgb "#1f77b4" notitle, \
     datafile using 10:3:(int($1) % 3 == 2 ? sprintf("%d %s", $1, strcol(2)) : "") with labels right offset -1,0.7 font ",9" tc rgb "#1f77b4" notitle, \
     datafile using 10:3:(int($1) % 3 == 0 ? sprintf("%d %s", $1, strcol(2)) : "") with labels left offset 1,-0.7 font ",9" tc rgb "#1f77b4" notitle, \
     datafile using 11:6 axes x1y2 with points pt 5 ps 1.2 lc rgb "#ff7f0e" title "paper (Cost Bn Ops, right axis)", \
     datafile using 11:6:(sprintf("%d", $1)) axes x1y2 with labels right offset -1,-0.6 font ",9" tc rgb "#ff7f0e" notitle
