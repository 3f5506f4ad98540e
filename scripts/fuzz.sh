#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Fuzzes the trace reader (tests/fuzz/fuzz-trace, libFuzzer + ASan + UBSan)
# for SECONDS (default 60; CI runs the default through scripts/test.sh).
#
#   scripts/fuzz.sh [SECONDS] [LIBFUZZER-OPTION...]
#   scripts/fuzz.sh 3600                   a longer run
#   scripts/fuzz.sh 600 -jobs=2 -workers=2 two processes
#
# Seeds are made fresh from real recordings (/bin/true, sqlite3, a shell
# pipeline, a spin-wait that gets preempted) with tests/fuzz/fuzz-seed; the
# corpus the fuzzer grows is kept in build-san/fuzz/corpus for the next run.
# Fails (exit 1) on any crash, sanitizer report, leak or timeout; the input
# that caused it is saved as build-san/fuzz/crash-* (or leak-*, timeout-*),
# and `build-san/tests/fuzz/fuzz-trace FILE` replays it with its report.
# Prints the executions per second and the total at the end.
set -euo pipefail

cd "$(dirname "$0")/.."

seconds=60
if [ $# -gt 0 ] && [[ "$1" =~ ^[0-9]+$ ]]; then
	seconds=$1
	shift
fi

scripts/setup-san.sh >/dev/null

work=build-san/fuzz
rm -rf "$work/seeds" "$work/traces"
mkdir -p "$work/seeds" "$work/traces" "$work/corpus"

# Record the seed traces with the plain build (the sanitized uprr is for the tests).
uprr=build/cli/uprr
echo "select random(), datetime('now'), hex(randomblob(8));" >"$work/traces/q.sql"
record() {
	local name=$1
	shift
	if ! "$uprr" record -o "$work/traces/$name" -- "$@" >/dev/null 2>"$work/traces/$name.log"; then
		# a program's own exit status is fine; a trace is what is needed
		[ -f "$work/traces/$name/header" ] || {
			cat "$work/traces/$name.log" >&2
			echo "fuzz: cannot record $name" >&2
			exit 1
		}
	fi
	build-san/tests/fuzz/fuzz-seed "$work/traces/$name" "$work/seeds/$name"
}
record true /bin/true
record sqlite3 sqlite3 :memory: ".read $work/traces/q.sql"
record sh sh -c 'seq 1 2000 | sort -r | head -2'
record spin_flag build/tests/progs/spin_flag
rm -rf "$work/traces"

# -close_fd_mask=3: the target's stdout and stderr (uprr info/ps/dump
# output, the CLI's one-line messages) are not findings; libFuzzer and the
# sanitizers still report on a duplicate of stderr.
log=$work/fuzz.log
status=0
build-san/tests/fuzz/fuzz-trace -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	-close_fd_mask=3 -print_final_stats=1 -dict=tests/fuzz/trace.dict \
	-artifact_prefix="$work/" "$@" "$work/corpus" "$work/seeds" >"$log" 2>&1 || status=$?

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
if [ $status -ne 0 ] || grep -qE '^==[0-9]+==ERROR|runtime error:|deadly signal|fuzz-trace: ' "$log"; then
	grep -vE '^#[0-9]+' "$log" | tail -60 >&2
	echo "fuzz: FAILED after ${execs:-?} executions (exit $status); input saved under $work/" >&2
	exit 1
fi
echo "fuzz: ${execs} executions in ${seconds} s (${rate}/s), $(ls "$work/corpus" | wc -l) corpus inputs, no crash, no sanitizer report"
