# common.gp: terminal, fonts and data conventions shared by the lab plot scripts.
# Variables given by lab plot: scriptdir, datadir (DIR/plots), out (the file to write), fmt (png | svg).
set datafile separator "\t"
set datafile missing "NaN"
set datafile columnheaders
load datadir."/data.gp"
if (fmt eq "svg") {
  set terminal svg size W, H dynamic enhanced font "DejaVu Sans,12" background rgb "white"
} else {
  set terminal pngcairo size W, H enhanced font "DejaVu Sans,11" background rgb "white"
}
set output out
set border lw 1
set grid ytics lc rgb "#dddddd" lw 1
