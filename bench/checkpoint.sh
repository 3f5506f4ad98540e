#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Issue 15's checkpoint pause: what a process copy (checkpoint/process.h)
# stops a program for, per 100 MB of resident memory (goal: <= 1 ms), for
# memory in 4 KiB pages and in transparent huge pages, and for more threads.
# Not a test: nothing here asserts a time. The machine's load is in the
# header: with other work running the medians are noisy, the bests less so.
#
# usage: bench/checkpoint.sh [-B BUILD_DIR] [-n ROUNDS]
# Build first (scripts/setup.sh).
set -euo pipefail

cd "$(dirname "$0")/.."

build=build
rounds=20
while getopts B:n: o; do
	case $o in
	B) build=$OPTARG ;;
	n) rounds=$OPTARG ;;
	*) exit 2 ;;
	esac
done
bin=$build/bench/checkpoint_pause
[ -x "$bin" ] || { echo "no $bin: build first" >&2; exit 1; }

echo "# $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), THP $(cat /sys/kernel/mm/transparent_hugepage/enabled)"
for mb in 0 100 400 1000; do
	"$bin" "$mb" 4 "$rounds" 4k
done
for mb in 100 400 1000; do
	"$bin" "$mb" 4 "$rounds" thp
done
for threads in 1 16 64; do
	"$bin" 100 "$threads" "$rounds" 4k
done
