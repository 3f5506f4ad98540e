#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Issue 14's figures: what recording costs for syscall-heavy programs,
# servers, spinning threads and one syscall. Each workload runs natively and
# under uprr in the same run; the tables give the best of N and the ratios to
# native. Not a test: nothing here asserts a time. The machine's load is in
# the header: with other work running the figures are noisy.
#
# usage: bench/bench14.sh [-n RUNS] [-B BUILD_DIR] [-t SECONDS] [-c CALLS]
#                         [-r REQUESTS] [-R RECORD_ARG]... [-l] [NAME...]
#   -t  cap on each recorded or replayed run (default 120); a run cut there
#       shows as "> T s", and the workload's other runs are skipped
#   -c  syscalls per kind in the syscall microbenchmark (default 100000)
#   -r  requests per redis-benchmark test and per one-client latency run
#       (default 10000)
#   -R  an option for `uprr record` (e.g. -R --no-syscall-buffer)
#   NAME  only these workloads (default: all; -l lists them)
# Build first (scripts/setup.sh). Progress goes to stderr, the tables to
# stdout; BENCH_DEBUG=1 shows the stderr of every timed command. The servers
# need Debian's redis-server, redis-tools, nginx and wrk; a workload whose
# package is missing says so in its row.
set -euo pipefail

cd "$(dirname "$0")/.."

runs=3
build=build
cap=120
calls=100000
requests=10000
record_args=()
list=0
while getopts n:B:t:c:r:R:l opt; do
	case $opt in
	n) runs=$OPTARG ;;
	B) build=$OPTARG ;;
	t) cap=$OPTARG ;;
	c) calls=$OPTARG ;;
	r) requests=$OPTARG ;;
	R) record_args+=("$OPTARG") ;;
	l) list=1 ;;
	*) sed -n '/^# usage/,/^# Build/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))

# One table per kind of figure; a workload belongs to one.
programs=(cp_include find_usr sort spin_wait spsc_ring)
servers=(redis_benchmark nginx_wrk)
latency=(redis_latency echo_latency)
syscalls=(syscall)
all=("${programs[@]}" "${servers[@]}" "${latency[@]}" "${syscalls[@]}")
if [ $list -eq 1 ]; then
	printf '%s\n' "${all[@]}"
	exit 0
fi
selected=("${@:-${all[@]}}")
for name in "${selected[@]}"; do
	if ! printf '%s\n' "${all[@]}" | grep -qx -- "$name"; then
		echo "bench14: unknown workload $name (-l lists them)" >&2
		exit 2
	fi
done

uprr=$(realpath "$build/cli/uprr")
bprogs=$(realpath "$build/bench/progs")
py=/usr/bin/python3
if [ ! -x "$uprr" ] || [ ! -x "$bprogs/syscall_cost" ]; then
	echo "bench14: build first (scripts/setup.sh); no $build/cli/uprr or $build/bench/progs" >&2
	exit 1
fi
export LC_ALL=C

work=$(mktemp -d /tmp/uprr-bench14.XXXXXX)
# cp -r copies into memory: the disk's speed is not what is measured
shm=$(mktemp -d /dev/shm/uprr-bench14.XXXXXX)
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	rm -rf "$work" "$shm"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

selected_in() { # GROUP...: whether a selected workload is in GROUP
	local name
	for name in "${selected[@]}"; do
		if printf '%s\n' "$@" | grep -qx -- "$name"; then
			return 0
		fi
	done
	return 1
}

min() { printf '%s\n' "$@" | sort -g | head -n1; }
max() { printf '%s\n' "$@" | sort -g | tail -n1; }
# calc EXPR: awk arithmetic on numbers, printed with %.Nf formats inside EXPR
calc() { awk "BEGIN { $1 }"; }

# seconds LIMIT CMD...: runs CMD quietly (stdout to $work/last.out), prints
# the wall-clock seconds it took; fails with CMD's status, 124 if LIMIT
# (0: none) cut it
seconds() {
	local limit=$1 t0 t1 st=0
	shift
	t0=$EPOCHREALTIME
	if [ "$limit" = 0 ]; then
		"$@" >"$work/last.out" 2>"$work/last.err" || st=$?
	else
		timeout -k 10 "$limit" "$@" >"$work/last.out" 2>"$work/last.err" || st=$?
	fi
	t1=$EPOCHREALTIME
	[ -z "${BENCH_DEBUG:-}" ] || cat "$work/last.err" >&2
	calc "printf \"%.4f\n\", $t1 - $t0"
	return $st
}

err_note() { head -c 200 "$work/last.err" | tr '\n' ' '; }

header() {
	echo "$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), Linux $(uname -r), $(date -u '+%Y-%m-%d %H:%M') UTC, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start; record options: ${record_args[*]:-none}."
	echo
}

# --- programs: cp -r, find, sort, spinning threads ------------------------

make_inputs() {
	[ -e "$work/input-50M.txt" ] && return 0
	echo "bench14: making inputs in $work" >&2
	"$py" - "$work" <<'PY'
import sys
sys.path.insert(0, 'tests/e2e')
import e2e
e2e.make_text(f'{sys.argv[1]}/input-50M.txt', 50 << 20, e2e.WORDS_SEED)
PY
	mkdir -p "$work/sort-tmp"
}

# program_cmd NAME: the command line of a program workload, in $cmd
program_cmd() {
	case $1 in
	cp_include) cmd=(/bin/cp -r /usr/include "$shm/include") ;;
	find_usr) cmd=(/usr/bin/find /usr -name x) ;;
	sort) cmd=(/usr/bin/sort -S 256M -T "$work/sort-tmp" "$work/input-50M.txt") ;;
	spin_wait | spsc_ring) cmd=("$bprogs/$1") ;;
	esac
}

program_row() {
	local name=$1 r t st st_native trace native=() record=() replay=() note= cut=
	local -a cmd
	program_cmd "$name"
	[ "$name" != sort ] || make_inputs
	# the first find or cp reads the disk; every timed run finds it cached
	[ "$name" != find_usr ] || "${cmd[@]}" >/dev/null 2>&1 || true
	for r in $(seq 1 "$runs"); do
		trace="$work/trace-$name-$r"
		echo "bench14: $name run $r" >&2
		rm -rf "$shm/include"
		st=0
		t=$(seconds 0 "${cmd[@]}") || st=$?
		native+=("$t")
		st_native=$st
		rm -rf "$shm/include"
		st=0
		t=$(seconds "$cap" "$uprr" record "${record_args[@]}" -o "$trace" -- "${cmd[@]}") || st=$?
		if [ $st -eq 124 ]; then
			cut="record"
			break
		fi
		if [ $st -ne "$st_native" ] || [ ! -d "$trace" ]; then
			note="record failed (status $st): $(err_note)"
			break
		fi
		record+=("$t")
		st=0
		t=$(seconds "$cap" "$uprr" replay -q "$trace") || st=$?
		if [ $st -eq 124 ]; then
			cut="replay"
			break
		fi
		if [ $st -ne "$st_native" ]; then
			note="replay failed (status $st): $(err_note)"
			break
		fi
		replay+=("$t")
		rm -rf "$trace"
	done
	rm -rf "$shm/include" "$work/trace-$name-"*
	local n
	n=$(min "${native[@]}")
	if [ -n "$note" ]; then
		echo "| $name | $n | | | | | $note |"
	elif [ "$cut" = record ]; then
		calc "printf \"| $name | %.3f | > $cap | | > %.0f | | recording cut at $cap s |\n\", $n, $cap / $n"
	elif [ "$cut" = replay ]; then
		calc "printf \"| $name | %.3f | %.3f | > $cap | %.1f | > %.0f | replay cut at $cap s |\n\", $n, ${record[-1]}, ${record[-1]} / $n, $cap / $n"
	else
		local rc rp
		rc=$(min "${record[@]}")
		rp=$(min "${replay[@]}")
		calc "printf \"| $name | %.3f | %.3f | %.3f | %.1f | %.1f | |\n\", $n, $rc, $rp, $rc / $n, $rp / $n"
	fi
}

programs_table() {
	echo "### Programs: record and replay ÷ native (best of $runs)"
	echo
	echo "cp_include: \`cp -r /usr/include\` ($(find /usr/include | wc -l) files) into tmpfs; find_usr: \`find /usr -name x\`; sort: \`sort\` of 50 MB of text; spin_wait: one thread spins on a flag until another's computation ends; spsc_ring: 400,000 items through a lock-free ring of 64 slots between two threads."
	echo
	echo "| workload | native s | record s | replay s | record ÷ native | replay ÷ native | note |"
	echo "|---|---:|---:|---:|---:|---:|---|"
	local name
	for name in "${programs[@]}"; do
		if printf '%s\n' "${selected[@]}" | grep -qx -- "$name"; then
			program_row "$name"
		fi
	done
	echo
}

# --- one syscall -----------------------------------------------------------

# syscall_ns OUTPUT_FILE KIND: the ns per call syscall_cost printed
syscall_ns() { awk -v k="$2" '$1 == k { print $3 }' "$1"; }

syscall_table() {
	local kind r t t0 st native record replay trace base note
	echo "### One syscall: ns per call, $calls calls (best of $runs)"
	echo
	echo "Timed inside the program (syscall instruction, not the vDSO); replay: wall-clock time of replaying $calls calls less that of replaying none, per call. getppid is not in issue 14's buffered list: the unbuffered path."
	echo
	echo "| syscall | native ns | record ns | record − native ns | replay ns | note |"
	echo "|---|---:|---:|---:|---:|---|"
	for kind in getpid read clock_gettime getppid; do
		native=() record=() replay=() note=
		for r in $(seq 1 "$runs"); do
			echo "bench14: syscall $kind run $r" >&2
			trace="$work/trace-syscall"
			base="$work/trace-syscall-0"
			rm -rf "$trace" "$base"
			seconds 0 "$bprogs/syscall_cost" "$kind" "$calls" >/dev/null
			native+=("$(syscall_ns "$work/last.out" "$kind")")
			st=0
			seconds "$cap" "$uprr" record "${record_args[@]}" -o "$trace" -- \
				"$bprogs/syscall_cost" "$kind" "$calls" >/dev/null || st=$?
			if [ $st -ne 0 ]; then
				note="record failed (status $st): $(err_note)"
				break
			fi
			record+=("$(syscall_ns "$work/last.out" "$kind")")
			st=0
			seconds "$cap" "$uprr" record "${record_args[@]}" -o "$base" -- \
				"$bprogs/syscall_cost" "$kind" 0 >/dev/null || st=$?
			[ $st -eq 0 ] || { note="record of 0 calls failed (status $st): $(err_note)"; break; }
			t=$(seconds "$cap" "$uprr" replay -q "$trace") || st=$?
			t0=$(seconds "$cap" "$uprr" replay -q "$base") || st=$?
			[ $st -eq 0 ] || { note="replay failed (status $st): $(err_note)"; break; }
			replay+=("$(calc "printf \"%.1f\n\", ($t - $t0) * 1e9 / $calls")")
		done
		rm -rf "$work/trace-syscall"*
		if [ -n "$note" ]; then
			echo "| $kind | $(min "${native[@]}") | | | | $note |"
			continue
		fi
		native=$(min "${native[@]}") record=$(min "${record[@]}") replay=$(min "${replay[@]}")
		calc "printf \"| $kind | %.1f | %.1f | %.1f | %.1f | |\n\", $native, $record, $record - $native, $replay"
	done
	echo
}

# --- main ------------------------------------------------------------------

echo "## Issue 14 benchmarks: uprr record and replay against native"
echo
header
! selected_in "${programs[@]}" || programs_table
! selected_in "${syscalls[@]}" || syscall_table
