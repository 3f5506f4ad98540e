#!/bin/sh
# SPDX-License-Identifier: MIT
# The cost per pthread_mutex_lock + unlock pair of the synchronization-order
# log (doc/sync-order.md): bench/sync_lock natively, under libuprr-sync.so in
# LOG mode, and following that log (FOLLOW), with 1 and 2 threads; the best
# of 5 runs each (3 under the log); then a malloc + free pair, with and
# without --heap.   bench/sync.sh [BUILD_DIR] [ITERATIONS]
set -eu
build=${1:-build}
iters=${2:-1000000}
prog=$build/bench/sync_lock
sync=$build/tp/uprr-sync
# the log in memory (tmpfs), as the recorder will keep it (a memfd)
tmp=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
trap 'rm -rf "$tmp"' EXIT
recs=$((2 * iters + 16))
best() { sort -n | head -1; }
for threads in 1 2; do
	native=$(for i in 1 2 3 4 5; do "$prog" "$iters" "$threads" | cut -d' ' -f1; done | best)
	logged=$(for i in 1 2 3 4 5; do
		"$sync" --recs "$recs" log "$tmp/log$i" -- "$prog" "$iters" "$threads" | cut -d' ' -f1
	done | best)
	"$sync" check "$tmp/log1" >/dev/null
	follow=$(for i in 1 2 3; do "$sync" follow "$tmp/log$i" -- "$prog" "$iters" "$threads" | cut -d' ' -f1; done | best)
	echo "$threads thread(s) x $iters: native $native ns, LOG $logged ns, FOLLOW $follow ns per lock+unlock"
done
# --heap: a malloc(64) + free pair
for threads in 1 2; do
	native=$(for i in 1 2 3 4 5; do "$prog" "$iters" "$threads" malloc | cut -d' ' -f1; done | best)
	plain=$(for i in 1 2 3; do
		"$sync" --recs 16 log "$tmp/m$i" -- "$prog" "$iters" "$threads" malloc | cut -d' ' -f1
	done | best)
	logged=$(for i in 1 2 3; do
		"$sync" --heap --recs "$recs" log "$tmp/h$i" -- "$prog" "$iters" "$threads" malloc | cut -d' ' -f1
	done | best)
	follow=$(for i in 1 2 3; do "$sync" follow "$tmp/h$i" -- "$prog" "$iters" "$threads" malloc | cut -d' ' -f1; done | best)
	echo "$threads thread(s) x $iters: native $native ns, LOG $plain ns, LOG --heap $logged ns, FOLLOW $follow ns per malloc+free"
done
