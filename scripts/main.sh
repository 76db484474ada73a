#!/usr/bin/env bash
# The main job: installs dependencies (Debian 12, as root), builds the release configuration,
# runs the quick Table 3 sweep on the embedded Fashion-MNIST, and writes its table and plots.
#   results/table3-quick/{table.md,table.csv,table.json,table.tex,plots/*.png,*.svg}
#   results/costs.txt: the exact cost of every network preset at its paper scale
# scripts/publish.sh then copies the table and the cumulative-error plot to
# results/reference/table3-quick/ and the table into README.md (between the table3-quick
# markers), so the README shows what this command produced. Run it again to continue an
# interrupted sweep (finished runs are kept).
# `bash scripts/main.sh table3` does the same for the overnight experiments/table3.yaml
# (about 4 hours on 2 cores) and publishes it to results/reference/table3/.
# Usage: bash scripts/main.sh [table3-quick|table3]
set -euo pipefail
cd "$(dirname "$0")/.."
exp=${1:-table3-quick}
case $exp in table3-quick|table3) ;; *) echo "usage: bash scripts/main.sh [table3-quick|table3]" >&2; exit 2;; esac
jobs=$(nproc 2>/dev/null || echo 2)
# OpenMP threads sleep instead of spinning while they wait: the loader's prefetch thread and
# parallel sweep workers share the cores with them, and spinning waiters then cost several-fold
# (measured: 13 vs 95 images/s at 2 threads with other jobs on the machine).
export OMP_WAIT_POLICY=passive

bash scripts/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$jobs"
lab=build/release/bin/lab
mkdir -p results

echo "== exact costs of every network preset"
for f in experiments/networks/*.yaml; do "$lab" cost "$f"; echo; done > results/costs.txt
echo "written results/costs.txt"

echo "== $exp sweep on Fashion-MNIST ($jobs workers)"
start=$(date +%s)
"$lab" sweep "experiments/$exp.yaml" --jobs "$jobs"
"$lab" report "results/$exp" --print
"$lab" plot "results/$exp"
echo "== sweep, report and plots took $(( $(date +%s) - start )) s"

bash scripts/publish.sh "results/$exp" "$exp"
