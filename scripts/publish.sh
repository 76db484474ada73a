#!/usr/bin/env bash
# Publishes a finished sweep's table and cumulative-error plot: copies them to
# results/reference/NAME/ (committed) and replaces README.md's generated section between
# the <!-- NAME:begin --> and <!-- NAME:end --> markers with the table, so the README shows
# what the sweep produced. Run after `lab report DIR && lab plot DIR`.
# Usage: bash scripts/publish.sh DIR NAME    e.g. bash scripts/publish.sh results/table3 table3
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: bash scripts/publish.sh DIR NAME" >&2; exit 2; }
dir=$1 name=$2
for f in "$dir/table.md" "$dir/plots/cumulative.png"; do
  [ -s "$f" ] || { echo "publish: $f is missing; run lab report $dir && lab plot $dir" >&2; exit 1; }
done
grep -q "^<!-- $name:begin -->\$" README.md && grep -q "^<!-- $name:end -->\$" README.md ||
  { echo "publish: README.md has no <!-- $name:begin --> / <!-- $name:end --> markers" >&2; exit 1; }

ref=results/reference/$name
mkdir -p "$ref"
cp "$dir/table.md" "$dir/plots/cumulative.png" "$ref"/
awk -v table="$ref/table.md" -v begin="<!-- $name:begin -->" -v end="<!-- $name:end -->" '
  $0 == begin { print; while ((getline line < table) > 0) print line; skip = 1; next }
  $0 == end { skip = 0 }
  !skip { print }' README.md > README.md.tmp && mv README.md.tmp README.md
echo "updated $ref and README.md"
