#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Times each end-to-end test program natively, under `uprr record` and under
# `uprr replay`, in the same run, and prints a markdown table of the times
# (best of N), the ratios to native, the trace size and the trace bytes
# written per second of recording. Not a test: nothing here asserts a time.
#
# usage: bench/bench.sh [-n RUNS] [-B BUILD_DIR] [NAME...]
#   NAME  only these benchmarks (default: all; -l lists them)
# Build first (scripts/setup.sh). Progress goes to stderr, the table to stdout;
# BENCH_DEBUG=1 shows the stderr of every timed command.
set -euo pipefail

cd "$(dirname "$0")/.."

runs=3
build=build
list=0
while getopts n:B:l opt; do
	case $opt in
	n) runs=$OPTARG ;;
	B) build=$OPTARG ;;
	l) list=1 ;;
	*) echo "usage: $0 [-n RUNS] [-B BUILD_DIR] [-l] [NAME...]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))

all=(threads_mutex pipe_threads rdtsc time_random signal_async mmap_file
	sqlite3 python3 pigz sort od date memcached
	sh_pipeline make_j2 multiprocessing forks fork_execs)
# forks: sh forks 500 subshells that exit; fork_execs: 500 forks that exec
# /bin/true. Their difference to native / 500 is the cost of one.
loops=500
if [ $list -eq 1 ]; then
	printf '%s\n' "${all[@]}"
	exit 0
fi
selected=("${@:-${all[@]}}")

uprr=$(realpath "$build/cli/uprr")
progs=$(realpath "$build/tests/progs")
py=/usr/bin/python3
if [ ! -x "$uprr" ] || [ ! -d "$progs" ]; then
	echo "bench: build first (scripts/setup.sh); no $build/cli/uprr" >&2
	exit 1
fi

work=$(mktemp -d /tmp/uprr-bench.XXXXXX)
server=
cleanup() {
	if [ -n "$server" ]; then
		kill -KILL "$server" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

echo "bench: making inputs in $work" >&2
"$py" - "$work" <<'PY'
import os, sys
sys.path.insert(0, 'tests/e2e')
import e2e
w = sys.argv[1]
e2e.make_text(f'{w}/input-20M.txt', 20 << 20, e2e.WORDS_SEED)
e2e.make_text(f'{w}/input-10M.txt', 10 << 20, e2e.WORDS_SEED + 1)
e2e.make_text(f'{w}/mapped.txt', 2 << 20, 99)
open(f'{w}/script.sql', 'w').write(e2e.SQLITE_SCRIPT)
open(f'{w}/threads.py', 'w').write(e2e.PY_SCRIPT)
open(f'{w}/pool.py', 'w').write(e2e.MP_SCRIPT)
open(f'{w}/pipeline.sh', 'w').write(e2e.SH_PIPELINE)
os.mkdir(f'{w}/project')
for name, text in e2e.MAKE_FILES.items():
    open(f'{w}/project/{name}', 'w').write(text)
PY
mkdir "$work/sort-tmp"

# run MODE TRACE ARGV...: MODE native runs ARGV, record records it into TRACE
run() {
	local mode=$1 trace=$2
	shift 2
	if [ "$mode" = native ]; then
		"$@"
	else
		"$uprr" record -o "$trace" -- "$@"
	fi
}

free_port() {
	"$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# memcached under 10,000 set/get requests from a client outside the recording
bench_memcached() {
	local mode=$1 trace=$2 port pid i
	local args=(-t 2 -l 127.0.0.1 -U 0 -c 64 -m 64)
	[ "$(id -u)" -ne 0 ] || args+=(-u root)
	port=$(free_port)
	# not through run(): $! must be memcached's or uprr's pid, not a subshell's
	if [ "$mode" = native ]; then
		/usr/bin/memcached "${args[@]}" -p "$port" &
	else
		"$uprr" record -o "$trace" -- /usr/bin/memcached "${args[@]}" -p "$port" &
	fi
	server=$!
	for i in $(seq 1 1200); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			break
		fi
		sleep 0.05
	done
	local t0=$EPOCHREALTIME
	"$py" tests/e2e/e2e.py memcached-client "$port" "$work/mc.out" --requests 10000
	awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.4f\n", b - a }' \
		>>"$work/memcached-client-$mode"
	if [ "$mode" = native ]; then
		pid=$server
	else
		pid=$(pgrep -P "$server" -x memcached || true)
	fi
	kill -TERM "${pid:-$server}"
	wait "$server"
	server=
}

bench_one() {
	local name=$1 mode=$2 trace=$3
	case $name in
	threads_mutex | pipe_threads | rdtsc | time_random | signal_async)
		run "$mode" "$trace" "$progs/$name" ;;
	mmap_file) run "$mode" "$trace" "$progs/mmap_file" "$work/mapped.txt" ;;
	sqlite3)
		rm -f "$work/bench.db"
		run "$mode" "$trace" /usr/bin/sqlite3 -batch -bail "$work/bench.db" ".read $work/script.sql" ;;
	python3) run "$mode" "$trace" /usr/bin/python3 -B -I "$work/threads.py" ;;
	pigz) run "$mode" "$trace" /usr/bin/pigz -p 2 -c "$work/input-20M.txt" ;;
	sort)
		LC_ALL=C run "$mode" "$trace" /usr/bin/sort --parallel=2 -S 64M -T "$work/sort-tmp" \
			"$work/input-10M.txt" ;;
	od) run "$mode" "$trace" /usr/bin/od -An -N16 -tx1 /dev/urandom ;;
	date) run "$mode" "$trace" /usr/bin/date +%s%N ;;
	memcached) bench_memcached "$mode" "$trace" ;;
	sh_pipeline) LC_ALL=C run "$mode" "$trace" /bin/sh "$work/pipeline.sh" ;;
	make_j2)
		(unset MAKEFLAGS MFLAGS MAKELEVEL
		 LC_ALL=C TMPDIR="$work/sort-tmp" run "$mode" "$trace" /usr/bin/make -B -j2 -C "$work/project") ;;
	multiprocessing) run "$mode" "$trace" /usr/bin/python3 -B -I "$work/pool.py" ;;
	forks) run "$mode" "$trace" /bin/sh -c "i=0; while [ \$i -lt $loops ]; do (:); i=\$((i+1)); done" ;;
	fork_execs) run "$mode" "$trace" /bin/sh -c "i=0; while [ \$i -lt $loops ]; do /bin/true; i=\$((i+1)); done" ;;
	*) echo "bench: unknown benchmark $name (-l lists them)" >&2; return 2 ;;
	esac
}

# seconds CMD...: runs CMD quietly, prints the wall-clock seconds it took;
# fails with CMD's status
seconds() {
	local t0 t1 st=0
	t0=$EPOCHREALTIME
	"$@" >/dev/null 2>"$work/last.err" || st=$?
	[ -z "${BENCH_DEBUG:-}" ] || cat "$work/last.err" >&2
	t1=$EPOCHREALTIME
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", b - a }'
	return $st
}

min() {
	printf '%s\n' "$@" | sort -g | head -n1
}

echo "## uprr record and replay, best of $runs runs"
echo
echo "$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), Linux $(uname -r), $(date -u +%Y-%m-%d)."
echo
echo "| program | native s | record s | replay s | record ÷ native | replay ÷ native | trace bytes | trace MB/s |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"

for name in "${selected[@]}"; do
	native=() record=() replay=() sizes=() note=
	for r in $(seq 1 "$runs"); do
		trace="$work/trace-$name-$r"
		echo "bench: $name run $r" >&2
		st=0
		t=$(seconds bench_one "$name" native "$trace") || st=$?
		native+=("$t")
		st_native=$st
		st=0
		t=$(seconds bench_one "$name" record "$trace") || st=$?
		if [ $st -ne "$st_native" ] || [ ! -d "$trace" ]; then
			note="record failed (status $st): $(head -c 200 "$work/last.err" | tr '\n' ' ')"
			break
		fi
		record+=("$t")
		sizes+=("$(du -sb "$trace" | cut -f1)")
		st=0
		t=$(seconds "$uprr" replay -q "$trace") || st=$?
		if [ $st -ne "$st_native" ]; then
			note="replay failed (status $st): $(head -c 200 "$work/last.err" | tr '\n' ' ')"
			break
		fi
		replay+=("$t")
		rm -rf "$trace"
	done
	if [ -n "$note" ]; then
		echo "| $name | $(min "${native[@]}") | | | | | | $note |"
		continue
	fi
	n=$(min "${native[@]}")
	rc=$(min "${record[@]}")
	rp=$(min "${replay[@]}")
	size=$(min "${sizes[@]}")
	awk -v name="$name" -v n="$n" -v rc="$rc" -v rp="$rp" -v size="$size" 'BEGIN {
		printf "| %s | %.3f | %.3f | %.3f | %.1f | %.1f | %d | %.1f |\n",
			name, n, rc, rp, rc / (n > 0 ? n : 1e-9), rp / (n > 0 ? n : 1e-9),
			size, size / 1e6 / (rc > 0 ? rc : 1e-9)
	}'
	if [ "$name" = forks ] || [ "$name" = fork_execs ]; then
		awk -v name="$name" -v n="$n" -v rc="$rc" -v rp="$rp" -v k="$loops" 'BEGIN {
			printf "| %s: one, over native | %.3f ms | %.3f ms | %.3f ms | | | | |\n",
				name, 1000 * n / k, 1000 * (rc - n) / k, 1000 * (rp - n) / k
		}'
	fi
	if [ "$name" = memcached ]; then
		# The whole run includes memcached's shutdown (~1 s: it checks for
		# SIGTERM once a second); the client's share is the server's speed.
		n=$(min $(cat "$work/memcached-client-native"))
		rc=$(min $(cat "$work/memcached-client-record"))
		awk -v n="$n" -v rc="$rc" 'BEGIN {
			printf "| memcached, client phase (10,000 requests) | %.3f | %.3f | | %.1f | | | |\n",
				n, rc, rc / (n > 0 ? n : 1e-9)
		}'
	fi
done
