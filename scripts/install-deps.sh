#!/usr/bin/env bash
# Installs every build, test and run dependency from Debian 12's own packages.
# Idempotent; run as root. Nothing is downloaded from anywhere but the Debian mirrors.
#
# BLIS: the OpenMP build (libblis-openmp-dev). Measured on the 2-core reference machine
# (shared/reference/perf-baseline.md): the openmp build holds ~196-216 GFLOP/s at 2 threads,
# the pthread build swings between 80 and 205 GFLOP/s on the same shapes.
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config
  libblis-openmp-dev
  libyaml-dev libcmocka-dev zlib1g-dev libpng-dev libjpeg62-turbo-dev
  gnuplot-nox
  libopenmpi-dev openmpi-bin
  dataset-fashion-mnist
  hyperfine
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}); run as root" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
