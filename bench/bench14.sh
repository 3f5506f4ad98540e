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
#                         [-r REQUESTS] [-L REQUESTS]
#                         [-R RECORD_ARG]... [-l] [NAME...]
#   -t  cap on each recorded or replayed run (default 120); a run cut there
#       shows as "> T s", and the workload's other runs are skipped
#   -c  syscalls per kind in the syscall microbenchmark (default 100000)
#   -r  requests per redis-benchmark test (default 10000)
#   -L  requests per one-client latency run (default 2000)
#   -R  an option for `uprr record` (e.g. -R --no-syscall-buffer)
#   NAME  only these workloads (default: all; -l lists them)
# Build first (scripts/setup.sh). Progress goes to stderr, the tables to
# stdout; BENCH_DEBUG=1 shows the stderr of every timed command;
# BENCH_KEEP=DIR keeps the last recording of each workload in DIR/NAME (for
# bench/syscall-share.py); BENCH_NGINX_SENDFILE=off serves nginx_wrk's page
# with read and writev instead of sendfile. The servers need Debian's
# redis-server, redis-tools, nginx and wrk; a workload whose package is
# missing says so in its row.
set -euo pipefail

cd "$(dirname "$0")/.."

runs=3
build=build
cap=120
calls=100000
requests=10000
lat_requests=2000
record_args=()
list=0
while getopts n:B:t:c:r:L:R:l opt; do
	case $opt in
	n) runs=$OPTARG ;;
	B) build=$OPTARG ;;
	t) cap=$OPTARG ;;
	c) calls=$OPTARG ;;
	r) requests=$OPTARG ;;
	L) lat_requests=$OPTARG ;;
	R) record_args+=("$OPTARG") ;;
	l) list=1 ;;
	*) sed -n '/^# usage/,/^# Build/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))

# One table per kind of figure; a workload belongs to one.
programs=(cp_include find_usr python_json sort spin_wait spin_flag spsc_ring signal_loop)
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
progs=$(realpath "$build/tests/progs")
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
server=
note=
cleanup() {
	local pid
	# each a server's process group (start_server)
	for pid in "${pids[@]}"; do
		kill -KILL -- "-$pid" 2>/dev/null || true
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

# seconds LIMIT CMD...: runs CMD quietly (stdout to $out, default
# /dev/null), prints the wall-clock seconds it took; fails with CMD's
# status, 124 if LIMIT (0: none) cut it
seconds() {
	local limit=$1 t0 t1 st=0
	shift
	t0=$EPOCHREALTIME
	if [ "$limit" = 0 ]; then
		"$@" >"${out:-/dev/null}" 2>"$work/last.err" || st=$?
	else
		timeout --foreground -k 10 "$limit" "$@" >"${out:-/dev/null}" 2>"$work/last.err" || st=$?
	fi
	t1=$EPOCHREALTIME
	[ -z "${BENCH_DEBUG:-}" ] || cat "$work/last.err" >&2
	calc "printf \"%.4f\n\", $t1 - $t0"
	return $st
}

# keep_trace TRACE NAME: moves TRACE to $BENCH_KEEP/NAME (the last run's is
# kept: bench/syscall-share.py counts its syscalls) or removes it
keep_trace() {
	if [ -n "${BENCH_KEEP:-}" ] && [ -d "$1" ]; then
		mkdir -p "$BENCH_KEEP"
		rm -rf "${BENCH_KEEP:?}/$2"
		mv "$1" "$BENCH_KEEP/$2"
	else
		rm -rf "$1"
	fi
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
	python_json) cmd=("$py" -c 'import json') ;;
	sort) cmd=(/usr/bin/sort -S 256M -T "$work/sort-tmp" "$work/input-50M.txt") ;;
	spin_wait | signal_loop) cmd=("$bprogs/$1") ;;
	spsc_ring) cmd=("$progs/ring_small") ;;
	spin_flag) cmd=("$progs/spin_flag") ;;
	esac
}

program_row() {
	local name=$1 r t st st_native trace native=() record=() replay=() note= cut=
	local -a cmd
	program_cmd "$name"
	[ "$name" != sort ] || make_inputs
	# the first find or cp reads the disk; every timed run finds it cached
	case $name in
	find_usr | cp_include) "${cmd[@]}" >/dev/null 2>&1 || true ;;
	esac
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
		keep_trace "$trace" "$name"
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
	echo "cp_include: \`cp -r /usr/include\` ($(find /usr/include | wc -l) files) into tmpfs; find_usr: \`find /usr -name x\`; python_json: \`python3 -c 'import json'\`; sort: \`sort\` of 50 MB of text; spin_wait: one thread spins on a flag until another's computation ends; spin_flag: tests/progs/spin_flag, the same wait for a short computation, then 8 rounds of ping-pong (fixed costs dominate: issue 14's 33×); spsc_ring: tests/progs/ring_small, 400,000 items through a lock-free ring of 64 slots between two threads. signal_loop: 20,000 signals raised and handled (tgkill, delivery, the handler's rt_sigreturn). The spinning programs need both CPUs free natively: on a loaded machine their native time, the ratios' denominator, grows (spin_flag 0.005 s idle, 0.12 s loaded)."
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

# --- servers: a recorded server, a client outside the recording ------------

# need PACKAGE PROGRAM...: whether every PROGRAM is installed; if not, $note
# names the Debian package to install
need() {
	local pkg=$1 prog
	shift
	for prog in "$@"; do
		if ! command -v "$prog" >/dev/null 2>&1; then
			note="$prog is missing: apt-get install $pkg"
			echo "bench14: $note" >&2
			return 1
		fi
	done
}

free_port() {
	"$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server MODE CMD...: starts CMD natively or under `uprr record` (into
# $work/trace-server) in the background, in a process group of its own (a
# background job of this script is no group leader: setsid(1) execs without
# forking), its output in $work/server.out; $server is its pid (or uprr's)
# and its group's
start_server() {
	local mode=$1
	shift
	rm -rf "$work/trace-server"
	if [ "$mode" = native ]; then
		setsid "$@" >"$work/server.out" 2>&1 &
	else
		setsid "$uprr" record "${record_args[@]}" -o "$work/trace-server" -- "$@" \
			>"$work/server.out" 2>&1 &
	fi
	server=$!
	pids+=("$server")
}

# wait_port PORT: waits (60 s at most) until the server accepts on PORT
wait_port() {
	local i
	for i in $(seq 1 1200); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			return 0
		fi
		kill -0 "$server" 2>/dev/null || break
		sleep 0.05
	done
	note="the server did not listen on port $1: $(head -c 200 "$work/server.out" | tr '\n' ' ')"
	return 1
}

# stop_server: SIGTERM to the server (uprr record forwards it to the
# program; nginx's master stops its workers), SIGKILL to its whole group
# after 20 s and to what is left of it then
stop_server() {
	local i
	kill -TERM "$server" 2>/dev/null || true
	for i in $(seq 1 200); do
		kill -0 "$server" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$server" 2>/dev/null || true
	wait "$server" 2>/dev/null || true
	server=
	pids=()
}

# client LIMIT CMD...: runs the client CMD (stdout in $work/client.out);
# fails with its status, 124 if LIMIT seconds cut it
client() {
	local limit=$1
	shift
	timeout --foreground -k 5 "$limit" "$@" >"$work/client.out" 2>"$work/client.err"
}

redis_server_cmd() { # PORT
	cmd=(/usr/bin/redis-server --port "$1" --bind 127.0.0.1 --save '' --appendonly no
		--daemonize no --protected-mode no --dir "$work" --logfile '')
}

write_nginx_conf() { # PORT
	mkdir -p "$work/www" "$work/nginx"
	printf '%611s\n' 'hello from nginx' >"$work/www/index.html"
	# the workers run as nobody: they must reach the page
	chmod 755 "$work" "$work/www"
	chmod 644 "$work/www/index.html"
	cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 256; }
http {
  access_log off;
  sendfile ${BENCH_NGINX_SENDFILE:-on};
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server { listen 127.0.0.1:$1; root $work/www; }
}
EOF
}

# throughput NAME MODE: one run of a throughput workload; appends its
# requests/s to $work/rps-MODE, one line per test ("SET 98000.5"); fails
# with a $note
throughput() {
	local name=$1 mode=$2 port st=0
	local -a cmd
	port=$(free_port)
	case $name in
	redis_benchmark)
		redis_server_cmd "$port"
		start_server "$mode" "${cmd[@]}"
		wait_port "$port" || return 1
		client "$cap" redis-benchmark -h 127.0.0.1 -p "$port" -c 10 -n "$requests" \
			-t set,get --csv || st=$?
		stop_server
		[ "$mode" = native ] || keep_trace "$work/trace-server" "$name"
		[ $st -ne 124 ] || { note="cut at $cap s"; return 1; }
		[ $st -eq 0 ] || { note="redis-benchmark failed (status $st): $(head -c 200 "$work/client.err")"; return 1; }
		awk -F'"' '$2 == "SET" || $2 == "GET" { print $2, $4 }' "$work/client.out" \
			>>"$work/rps-$mode" ;;
	nginx_wrk)
		write_nginx_conf "$port"
		start_server "$mode" /usr/sbin/nginx -p "$work/nginx" -c "$work/nginx/nginx.conf"
		wait_port "$port" || return 1
		client 60 wrk -t 2 -c 10 -d 5s "http://127.0.0.1:$port/index.html" || st=$?
		stop_server
		[ "$mode" = native ] || keep_trace "$work/trace-server" "$name"
		[ $st -eq 0 ] || { note="wrk failed (status $st): $(head -c 200 "$work/client.err")"; return 1; }
		if grep -q 'Non-2xx' "$work/client.out"; then
			note="nginx answered with errors: $(grep Non-2xx "$work/client.out")"
			return 1
		fi
		awk '/^Requests\/sec:/ { print "GET", $2 }' "$work/client.out" >>"$work/rps-$mode" ;;
	esac
}

throughput_rows() {
	local name=$1 r mode test n rc
	note=
	case $name in
	redis_benchmark) need redis-server /usr/bin/redis-server && need redis-tools redis-benchmark || true ;;
	nginx_wrk) need nginx /usr/sbin/nginx && need wrk wrk || true ;;
	esac
	if [ -n "$note" ]; then
		echo "| $name | | | | $note |"
		return
	fi
	: >"$work/rps-native"
	: >"$work/rps-record"
	for r in $(seq 1 "$runs"); do
		for mode in native record; do
			echo "bench14: $name $mode run $r" >&2
			throughput "$name" "$mode" || { echo "| $name | | | | $mode: $note |"; return; }
		done
	done
	for test in $(awk '{ print $1 }' "$work/rps-native" | sort -u); do
		n=$(max $(awk -v t="$test" '$1 == t { print $2 }' "$work/rps-native"))
		rc=$(max $(awk -v t="$test" '$1 == t { print $2 }' "$work/rps-record"))
		calc "printf \"| $name, $test | %.0f | %.0f | %.1f %% | |\n\", $n, $rc, 100 * $rc / $n"
	done
}

servers_table() {
	echo "### Servers under load: requests/s recorded vs native (best of $runs)"
	echo
	echo "redis_benchmark: redis-server under \`redis-benchmark -c 10 -n $requests -t set,get\`; nginx_wrk: nginx (master + 2 workers) serving a 612-byte page under \`wrk -t 2 -c 10 -d 5s\` (sendfile ${BENCH_NGINX_SENDFILE:-on}). The server is recorded, the client runs outside."
	echo
	echo "| server, test | native req/s | record req/s | record ÷ native | note |"
	echo "|---|---:|---:|---:|---|"
	local name
	for name in "${servers[@]}"; do
		if printf '%s\n' "${selected[@]}" | grep -qx -- "$name"; then
			throughput_rows "$name"
		fi
	done
	echo
}

# latency NAME MODE: one run of a one-client latency workload; appends
# rtt_client's line to $work/lat-MODE; fails with a $note
latency() {
	local name=$1 mode=$2 port st=0 i
	local -a cmd
	port=$(free_port)
	case $name in
	redis_latency)
		redis_server_cmd "$port"
		start_server "$mode" "${cmd[@]}"
		wait_port "$port" || return 1
		client "$cap" "$bprogs/rtt_client" redis "$port" "$lat_requests" || st=$?
		stop_server ;;
	echo_latency)
		# a probe would be the server's one connection: it says when it listens
		start_server "$mode" "$py" -B bench/echo_server.py "$port" "$cap"
		for i in $(seq 1 1200); do
			! grep -q listening "$work/server.out" || break
			kill -0 "$server" 2>/dev/null || break
			sleep 0.05
		done
		client "$cap" "$bprogs/rtt_client" echo "$port" "$lat_requests" || st=$?
		stop_server ;;
	esac
	[ "$mode" = native ] || keep_trace "$work/trace-server" "$name"
	[ $st -ne 124 ] || { note="cut at $cap s"; return 1; }
	[ $st -eq 0 ] || { note="rtt_client failed (status $st): $(head -c 200 "$work/client.err") $(head -c 200 "$work/server.out" | tr '\n' ' ')"; return 1; }
	cat "$work/client.out" >>"$work/lat-$mode"
}

# field MODE KEY: the values of KEY=value in $work/lat-MODE
field() { tr ' ' '\n' <"$work/lat-$1" | awk -F= -v k="$2" '$1 == k { print $2 }'; }

latency_row() {
	local name=$1 r mode
	note=
	[ "$name" != redis_latency ] || need redis-server /usr/bin/redis-server || true
	if [ -n "$note" ]; then
		echo "| $name | | | | | | | | $note |"
		return
	fi
	: >"$work/lat-native"
	: >"$work/lat-record"
	for r in $(seq 1 "$runs"); do
		for mode in native record; do
			echo "bench14: $name $mode run $r" >&2
			latency "$name" "$mode" || { echo "| $name | | | | | | | | $mode: $note |"; return; }
		done
	done
	local n50 r50 n99 r99 rps
	n50=$(min $(field native p50_us)) r50=$(min $(field record p50_us))
	n99=$(min $(field native p99_us)) r99=$(min $(field record p99_us))
	rps=$(max $(field record rps))
	calc "printf \"| $name | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.0f | |\n\", $n50, $r50, $r50 - $n50, $n99, $r99, $r99 - $n99, $rps"
}

latency_table() {
	echo "### One client: latency per request, recorded vs native (best of $runs)"
	echo
	echo "bench/progs/rtt_client: one connection, $lat_requests sequential requests, each timed. redis_latency: GET of a 5-byte value from redis-server; echo_latency: 64 bytes to bench/echo_server.py (Python, single-threaded, blocking recv). The server is recorded, the client runs outside."
	echo
	echo "| server | native p50 µs | record p50 µs | added p50 µs | native p99 µs | record p99 µs | added p99 µs | record req/s | note |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
	local name
	for name in "${latency[@]}"; do
		if printf '%s\n' "${selected[@]}" | grep -qx -- "$name"; then
			latency_row "$name"
		fi
	done
	echo
}

# --- one syscall -----------------------------------------------------------

# syscall_ns OUTPUT_FILE KIND: the ns per call syscall_cost printed
syscall_ns() { awk -v k="$2" '$1 == k { print $3 }' "$1"; }

syscall_table() {
	local kind r t t0 st native record replay trace base note out="$work/last.out"
	echo "### One syscall: ns per call, $calls calls (best of $runs)"
	echo
	echo "Timed inside the program (syscall instruction, not the vDSO); replay: wall-clock time of replaying $calls calls less that of replaying none, per call. getppid is not in issue 14's buffered list: the unbuffered path. getpid_unpatched: getpid from a syscall instruction uprr cannot patch, redirected into the buffer from its seccomp stop."
	echo
	echo "| syscall | native ns | record ns | record − native ns | replay ns | note |"
	echo "|---|---:|---:|---:|---:|---|"
	for kind in getpid read clock_gettime getppid getpid_unpatched; do
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
! selected_in "${servers[@]}" || servers_table
! selected_in "${latency[@]}" || latency_table
! selected_in "${syscalls[@]}" || syscall_table
