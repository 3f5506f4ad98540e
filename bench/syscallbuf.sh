#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The cost of one getpid(2) natively, recorded through ptrace
# (--no-syscall-buffer), recorded through the syscall buffer
# (--syscall-buffer), and replayed: wall time of N calls minus that of 0
# calls, over N; best of RUNS. Not a test.
#
# usage: bench/syscallbuf.sh [-n RUNS] [-B BUILD_DIR] [N]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3
build=build
while getopts n:B: opt; do
	case $opt in
	n) runs=$OPTARG ;;
	B) build=$OPTARG ;;
	*) echo "usage: $0 [-n RUNS] [-B BUILD_DIR] [N]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
n=${1:-200000}
uprr=$build/cli/uprr
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -O2 -I. -o "$work/loop" bench/syscallbuf_loop.c

now() { date +%s%N; }

# record into a fresh directory: rec DIR MODE ARGS...
rec() {
	local dir=$1 mode=$2
	shift 2
	rm -rf "$dir"
	"$uprr" record -o "$dir" --"$mode" -- "$@"
}

# best wall time (ns) of "$@" over $runs runs
best() {
	local b=0 t0 t1
	for _ in $(seq "$runs"); do
		t0=$(now)
		"$@" >/dev/null 2>&1
		t1=$(now)
		if [ $b -eq 0 ] || [ $((t1 - t0)) -lt $b ]; then b=$((t1 - t0)); fi
	done
	echo $b
}

per_call() { # name, time of N, time of 0
	awk -v n="$n" -v a="$2" -v b="$3" -v name="$1" \
		'BEGIN { printf "| %s | %.0f |\n", name, (a - b) / n }'
}

echo "| getpid, $n calls | ns per call |"
echo "|---|---:|"
per_call native "$(best "$work/loop" "$n")" "$(best "$work/loop" 0)"
for mode in no-syscall-buffer syscall-buffer; do
	a=$(best rec "$work/t-$mode-n" "$mode" "$work/loop" "$n")
	b=$(best rec "$work/t-$mode-0" "$mode" "$work/loop" 0)
	per_call "record, --$mode" "$a" "$b"
	a=$(best "$uprr" replay "$work/t-$mode-n")
	b=$(best "$uprr" replay "$work/t-$mode-0")
	per_call "replay, --$mode" "$a" "$b"
done
