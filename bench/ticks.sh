#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Cost of soft ticks (bench/ticks_loop.c): the CPU time of a branch-heavy loop
# per thread, natively and under `uprr record`, where uprr installed counting
# code in it (two threads contend, so uprr preempts them at counted points)
# and where it did not (one thread alone). Prints a markdown table; best of N.
# Also prints the rollbacks and code patches uprr needed. Not a test.
#
# usage: bench/ticks.sh [-n RUNS] [-B BUILD_DIR] [ITERATIONS]
set -euo pipefail

cd "$(dirname "$0")/.."

runs=3
build=build
while getopts n:B: opt; do
	case $opt in
	n) runs=$OPTARG ;;
	B) build=$OPTARG ;;
	*) echo "usage: $0 [-n RUNS] [-B BUILD_DIR] [ITERATIONS]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
iterations=${1:-100000000}

uprr=$(realpath "$build/cli/uprr")
work=$(mktemp -d /tmp/uprr-ticks.XXXXXX)
trap 'rm -rf "$work"' EXIT
cc -O2 -pthread -o "$work/ticks_loop" bench/ticks_loop.c

best() { sort -n | head -1; }
for i in $(seq 1 "$runs"); do
	"$work/ticks_loop" "$iterations" >"$work/native-$i"
	rm -rf "$work/trace"
	"$uprr" record -v -o "$work/trace" -- "$work/ticks_loop" "$iterations" \
		>"$work/record-$i" 2>"$work/stats-$i"
done
get() { awk -v k="$1" '$1 == k { print $2 }' "$work"/"$2"-*; }
na=$(get alone native | best); nc=$(get contended native | best)
ra=$(get alone record | best); rc=$(get contended record | best)
stats=$(grep -h preemptions "$work"/stats-* | tail -1 | sed 's/^uprr: record: //')
echo "| loop | native ms | record ms | record ÷ native |"
echo "|---|---:|---:|---:|"
awk -v n="$na" -v r="$ra" 'BEGIN { printf "| alone (no counting code) | %.1f | %.1f | %.2f |\n", n / 1e6, r / 1e6, r / n }'
awk -v n="$nc" -v r="$rc" 'BEGIN { printf "| contended (counting code installed) | %.1f | %.1f | %.2f |\n", n / 1e6, r / 1e6, r / n }'
echo
echo "last recording: $stats"
