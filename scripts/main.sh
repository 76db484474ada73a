#!/usr/bin/env bash
# The main job: installs dependencies (Debian 12, as root), builds the release configuration,
# and runs the project's headline work on this machine. Usage: bash scripts/main.sh
set -euo pipefail
cd "$(dirname "$0")/.."
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

echo "== exact costs of every network preset at 299x299, 1000 classes"
for f in experiments/networks/*.yaml; do
  "$lab" cost "$f" --format text
done | tee results/costs.txt

echo "== convolution speed against the BLIS sgemm ceiling (this machine, $(nproc) threads)"
"$lab" bench conv --threads "$jobs" | tee results/bench-conv.txt
