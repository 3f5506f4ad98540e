#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Issue 15's figures: what uniparallel recording (`uprr record --mode=tp`)
# costs for CPU-bound parallel programs, beside uniprocessor recording (UP:
# `uprr record`) and a native run, and a model of the TP record's wall time
# with more cores than this machine has. Not a test: nothing here asserts a
# time. The machine's load is in the header: with other work running the
# figures are noisy.
#
# usage: bench/tp.sh [-n RUNS] [-B BUILD_DIR] [-t SECONDS] [-e EPOCH_MS]
#                    [-R RECORD_ARG]... [-T TP_ARG]... [-l] [NAME...]
#   -n  runs of each program in each way; the tables give the best (default 3)
#   -t  cap on each run (default 300); a run cut there counts as failed
#   -e  the epoch length the model assumes for a trace of one epoch (the
#       whole program) (default 100, the TP run's default in tp-log mode)
#   -R  an option for both `uprr record` runs (e.g. -R --no-syscall-buffer)
#   -T  an option for the `uprr record --mode=tp` run only (e.g. -T --epoch=50)
#   NAME  only these programs (default: all; -l lists them)
# Build first (scripts/setup.sh). Progress goes to stderr, the tables to
# stdout; BENCH_DEBUG=1 shows the stderr of every timed command.
#
# Each program runs natively, under `uprr record` and under `uprr record
# --mode=tp`, in turn, in each of the runs. Wall time is the command's;
# CPU time is its rusage as its parent reaps it (user + system of the
# command and every process it reaped: for uprr, the recorder and the
# program's processes). Each figure is the best of the runs on its own, as
# bench/bench.sh takes them; the figures of the trace's tp-info file (TP
# run, EP run, epochs, verification, checkpoint pause) are those of the TP
# recording with the best wall time. A program whose TP (or UP) recording
# fails or differs in exit status from the native run is not recorded that
# way again in the later runs; the notes say "TP fails: <uprr's reason, one
# line> (exit N)" (or in which run, the runs' before it standing), and the
# tp-info table has that run's row.
#
# The model (model() below) of the TP record's wall time with C cores, from
# the measured figures of the best TP recording:
# - the TP run runs on as many cores as the program has busy threads (T = 2
#   for every program here: -p 2, -T2, --parallel=2, Pool(2), -j2, 2 adder
#   threads), at the wall time it took here (TP run wall in tp-info: on 2
#   cores, its 2 threads had the CPUs, apart from the machine's load);
# - EP runs run on the spare cores, C - T, one epoch's EP run to a core at
#   a time; each takes the EP CPU time of its epoch (the EP run's CPU time
#   in tp-info, divided evenly over the epochs: a dedicated core runs it at
#   its CPU time, the program's and uprr's);
# - verification keeps up while the spare cores can do the EP CPU time
#   there is per second of TP run: C - T >= EP CPU / TP wall; if not, the
#   EP runs' total CPU time over the spare cores sets the pace;
# - wall = max(TP wall, EP CPU / (C - T)) + the last epoch's EP time (it
#   starts when the TP run ends) + the checkpoint pauses (checkpoints
#   taken, or epochs where tp-info has no count, x the mean pause in
#   tp-info; none there: none counted). The measured TP wall already
#   holds the pauses its checkpoints took: the model's TP wall is the
#   measured one less those pauses, so that they count once;
# - nothing else shares the cores; a divergence's rollback and re-run is not
#   modelled (the tp-info table says how many epochs diverged);
# - a trace of one epoch (the whole program) has its last epoch's EP time as
#   long as the whole EP run: no overlap at all. The model's second row
#   assumes epochs of -e ms instead (epochs = TP wall / that), with the same
#   EP CPU time spread over them and no checkpoint pause (there was none to
#   measure).
# DoublePlay (ASPLOS 2011, spare cores, in the kernel): 15 % over native at
# 2 worker threads, 28 % at 4: 1.15x and 1.28x.
set -euo pipefail

cd "$(dirname "$0")/.."

runs=3
build=build
cap=300
epoch_ms=100
record_args=()
tp_args=()
list=0
while getopts n:B:t:e:R:T:l opt; do
	case $opt in
	n) runs=$OPTARG ;;
	B) build=$OPTARG ;;
	t) cap=$OPTARG ;;
	e) epoch_ms=$OPTARG ;;
	R) record_args+=("$OPTARG") ;;
	T) tp_args+=("$OPTARG") ;;
	l) list=1 ;;
	*) sed -n '/^# usage/,/^# stdout/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))

all=(pigz xz sort tp_fsum multiprocessing make_j2)
if [ $list -eq 1 ]; then
	printf '%s\n' "${all[@]}"
	exit 0
fi
selected=("${@:-${all[@]}}")
for name in "${selected[@]}"; do
	if ! printf '%s\n' "${all[@]}" | grep -qx -- "$name"; then
		echo "tp.sh: unknown program $name (-l lists them)" >&2
		exit 2
	fi
done
# the busy threads of each program (the model's T)
threads=2
cores=(4 8 16 32)

uprr=$(realpath "$build/cli/uprr")
progs=$(realpath "$build/tests/progs")
py=/usr/bin/python3
if [ ! -x "$uprr" ] || [ ! -x "$progs/tp_fsum" ]; then
	echo "tp.sh: build first (scripts/setup.sh); no $build/cli/uprr or $build/tests/progs/tp_fsum" >&2
	exit 1
fi
export LC_ALL=C
unset MAKEFLAGS MFLAGS MAKELEVEL

work=$(mktemp -d /tmp/uprr-tpbench.XXXXXX)
cleanup() {
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "tp.sh: making inputs in $work" >&2
mkdir "$work/tmp" "$work/project"
"$py" - "$work" <<'PY'
import os, sys
sys.path.insert(0, 'tests/e2e')
import e2e
w = sys.argv[1]
e2e.make_text(f'{w}/input-20M.txt', 20 << 20, e2e.WORDS_SEED)
# Pool(2) over CPU-bound pure-Python work: 16 tasks of ~30 ms each
open(f'{w}/pool.py', 'w').write('''\
import multiprocessing

def work(n):
    s = 0
    for i in range(n):
        s = (s * 31 + i) % 1000003
    return s

if __name__ == '__main__':
    with multiprocessing.get_context('fork').Pool(2) as pool:
        print(sum(pool.map(work, [400000] * 16, chunksize=1)))
''')
# a project of 8 C files of 40 functions each, built with -O2
units = 8
for u in range(units):
    with open(f'{w}/project/u{u}.c', 'w') as f:
        for k in range(40):
            f.write(f'long f{u}_{k}(long n) {{ long s = {k}; '
                    f'for (long i = 0; i < n; i++) s = s * {k + 3} + (i ^ (s >> {k % 13 + 1})); '
                    f'return s; }}\n')
        f.write(f'long u{u}(long n) {{ return 0')
        for k in range(40):
            f.write(f' + f{u}_{k}(n)')
        f.write('; }\n')
with open(f'{w}/project/main.c', 'w') as f:
    f.write('#include <stdio.h>\n')
    for u in range(units):
        f.write(f'long u{u}(long n);\n')
    f.write('int main(void) { printf("%ld\\n", 0L')
    for u in range(units):
        f.write(f' + u{u}(100)')
    f.write('); return 0; }\n')
objs = ' '.join(f'u{u}.o' for u in range(units))
with open(f'{w}/project/Makefile', 'w') as f:
    f.write(f'CC = gcc\nCFLAGS = -O2\nall: demo\n\t./demo\n'
            f'demo: main.o {objs}\n\t$(CC) -o $@ $^\n'
            f'%.o: %.c\n\t$(CC) $(CFLAGS) -c -o $@ $<\n.PHONY: all\n')
PY

# measure.py CAP ERRFILE ARGV...: runs ARGV (stdout to /dev/null, stderr to
# ERRFILE) in a session of its own, killed whole at CAP seconds (0: no
# cap); prints "WALL CPU STATUS": seconds, the CPU seconds of its rusage
# (wait4: it and every process it reaped), its exit status (128 + N for a
# signal N) or "cut"
cat >"$work/measure.py" <<'PY'
import os, signal, subprocess, sys, threading, time

cap, err, argv = float(sys.argv[1]), sys.argv[2], sys.argv[3:]
cut = []

with open(err, 'wb') as e:
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=e,
                         start_new_session=True)

    def kill():
        cut.append(True)
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    timer = threading.Timer(cap, kill) if cap > 0 else None
    if timer:
        timer.start()
    _, st, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if timer:
        timer.cancel()
    p.returncode = 0  # reaped here: Popen must not wait for it
code = os.waitstatus_to_exitcode(st)
print(f'{wall:.4f} {ru.ru_utime + ru.ru_stime:.4f} '
      f'{"cut" if cut else (code if code >= 0 else 128 - code)}')
PY

# cmd_of NAME: sets cmd to the program's argv
cmd_of() {
	case $1 in
	pigz) cmd=(/usr/bin/pigz -p 2 -c "$work/input-20M.txt") ;;
	# -1: blocks of 3 MiB, 7 of them for 2 threads (-6's 24 MiB blocks
	# would leave one thread with all of 20 MB)
	xz) cmd=(/usr/bin/xz -T2 -1 -c "$work/input-20M.txt") ;;
	sort) cmd=(/usr/bin/sort --parallel=2 -S 64M -T "$work/tmp" "$work/input-20M.txt") ;;
	tp_fsum) cmd=("$progs/tp_fsum") ;;
	multiprocessing) cmd=("$py" -B -I "$work/pool.py") ;;
	# gcc's temporary files in the work dir (TMPDIR below)
	make_j2) cmd=(/usr/bin/make -B -j2 -C "$work/project") ;;
	esac
}

# measure MODE TRACE: runs the program natively (native), under uprr
# record (up) or uprr record --mode=tp (tp) into TRACE; prints measure.py's
# line
measure() {
	local mode=$1 trace=$2 pre=()
	case $mode in
	up) pre=("$uprr" record -o "$trace" "${record_args[@]}" --) ;;
	tp) pre=("$uprr" record -o "$trace" --mode=tp "${record_args[@]}" "${tp_args[@]}" --) ;;
	esac
	rm -rf "$trace" "$trace.tp"
	TMPDIR="$work/tmp" "$py" "$work/measure.py" "$cap" "$work/last.err" "${pre[@]}" "${cmd[@]}"
	[ -z "${BENCH_DEBUG:-}" ] || cat "$work/last.err" >&2
}

# why STATUS: why a recording failed, in one line: uprr's last line on
# stderr, or the program's, and the exit status STATUS
why() {
	local line
	# the last line of uprr's, or the one before "no trace recorded"
	line=$(grep '^uprr' "$work/last.err" | grep -v 'no trace recorded' | tail -n1 || true)
	[ -n "$line" ] || line=$(tail -n1 "$work/last.err")
	# what tp_record() says around the reason is the same for all
	line=$(printf '%s' "$line" | sed -E \
		-e 's/^uprr: tp: the EP run diverged from the TP run \(divergence from the log: (.*)\); a whole-program epoch cannot be rolled back yet.*/EP run diverged: \1/' \
		-e 's/^uprr: record: --syscalls-from=[^ ]*: /EP run: /')
	[ ${#line} -le 200 ] || line="${line:0:200}..."
	if [ "$1" = cut ]; then
		line="cut at $cap s${line:+: $line}"
	else
		line="$line (exit $1)"
	fi
	printf '%s' "$line" | tr '|' '/'
}

min() { printf '%s\n' "$@" | sort -g | head -n1; }

# info_field FILE WHAT: a figure of a tp-info file, "-" if it has none.
# The file is read leniently (its lines grow as uprr does): WHAT is
# tp_wall, tp_cpu, ep_wall, ep_cpu, checks (seconds), epochs,
# checkpoints, verified, diverged, not_checked, rollbacks (counts),
# pause_mean, pause_max (ms).
info_field() {
	local f=$1 what=$2 v=
	num() { grep -oE '[0-9]+(\.[0-9]+)?' | head -n1; }
	# count LABEL: "N LABEL" or "LABEL: N" anywhere
	count() { grep -oiE "[0-9]+ $1|$1:? +[0-9]+" "$f" | head -n1 | num; }
	# ms: a time with its unit, in ms
	ms() {
		grep -oE '[0-9]+(\.[0-9]+)? ?(ms|us|µs|ns|s)\b' | head -n1 |
			sed -E 's/ //; s/([0-9.]+)(.*)/\1 \2/' |
			awk '{ m = $2 == "s" ? 1000 : $2 == "ms" ? 1 : $2 == "ns" ? 1e-6 : 1e-3
			       printf "%.3f\n", $1 * m }'
	}
	case $what in
	tp_wall) v=$(grep -E '^tp run' "$f" | grep -oE 'wall [0-9.]+ s' | head -n1 | num) ;;
	tp_cpu) v=$(grep -E '^tp run' "$f" | grep -oE 'cpu [0-9.]+ s' | head -n1 | num) ;;
	ep_wall) v=$(grep -E '^ep run' "$f" | grep -oE 'wall [0-9.]+ s' | head -n1 | num) ;;
	ep_cpu) v=$(grep -E '^ep run' "$f" | grep -oE 'cpu [0-9.]+ s' | head -n1 | num) ;;
	epochs) v=$(grep -E '^epochs' "$f" | grep -oE '^epochs:? *[0-9]+' | head -n1 | num) ;;
	checkpoints) v=$(grep -oE '^checkpoints:? *[0-9]+' "$f" | head -n1 | num) ;;
	# the EP runs' compares at the epochs' ends, in all
	checks) v=$(grep -E '^checks' "$f" | grep -oE '[0-9.]+ s\b' | head -n1 | num) ;;
	verified)
		v=$(count verified)
		# one epoch: "ep run verified: no divergence"
		[ -n "$v" ] || ! grep -q 'ep run verified' "$f" || v=1
		[ -n "$v" ] || ! grep -q 'ep run diverged' "$f" || v=0 ;;
	diverged)
		v=$(count diverged)
		[ -n "$v" ] || ! grep -q 'ep run diverged' "$f" || v=1
		[ -n "$v" ] || ! grep -q 'ep run verified' "$f" || v=0 ;;
	not_checked) v=$(count 'not checked') ;;
	rollbacks) v=$(count 'rollbacks?') ;;
	pause_mean)
		v=$(grep -iE 'pause' "$f" | grep -oE 'mean:? *[0-9.]+ ?(ms|us|µs|ns|s)\b' | head -n1 | ms)
		# a pause line with one time and no "mean"
		[ -n "$v" ] || v=$(grep -iE 'pause' "$f" | grep -viE 'max' | ms) ;;
	pause_max) v=$(grep -iE 'pause' "$f" | grep -oE 'max:? *[0-9.]+ ?(ms|us|µs|ns|s)\b' | head -n1 | ms) ;;
	esac
	printf '%s\n' "${v:--}"
}

# model CORES THREADS TP_WALL EP_CPU EPOCHS PAUSE_MS PAUSES: the modelled
# wall time of a TP recording with CORES cores (the header's assumptions),
# or "-" when no core is spare for EP runs. PAUSE_MS is the mean checkpoint
# pause ("-": none counted), PAUSES how many there were.
model() {
	awk -v c="$1" -v t="$2" -v tp="$3" -v ep="$4" -v k="$5" -v pause="$6" -v n="$7" 'BEGIN {
		spare = c - t
		if (spare < 1 || k < 1) { print "-"; exit }
		# the pauses, counted once below, are inside the measured TP wall
		p = pause == "-" ? 0 : n * pause / 1000
		tp = tp > p ? tp - p : 0
		# EP runs keep up with the TP run, or set the pace
		w = ep / spare > tp ? ep / spare : tp
		# the last epoch is checked after the TP run ends
		w += ep / k
		w += p
		printf "%.4f\n", w
	}'
}

fmt() { awk -v v="$1" -v f="${2:-%.3f}" 'BEGIN { if (v == "-" || v == "") print "-"; else printf f "\n", v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || a == "" || b <= 0) print "-"; else printf "%.2f\n", a / b }'; }

declare -A res
for name in "${selected[@]}"; do
	cmd_of "$name"
	nw=() nc=() uw=() uc=() tw=() tc=() best_tp=
	for r in $(seq 1 "$runs"); do
		echo "tp.sh: $name run $r" >&2
		read -r w c st < <(measure native "$work/trace")
		nw+=("$w") nc+=("$c") st_native=$st
		if [ -z "${res[$name.up_fail]:-}" ]; then
			read -r w c st < <(measure up "$work/trace-up")
			if [ "$st" != "$st_native" ] || [ "$st" = cut ] || [ ! -d "$work/trace-up" ]; then
				res[$name.up_fail]=$(why "$st") res[$name.up_fail_run]=$r
			else
				uw+=("$w") uc+=("$c")
			fi
		fi
		rm -rf "$work/trace-up"
		if [ -z "${res[$name.tp_fail]:-}" ]; then
			read -r w c st < <(measure tp "$work/trace-tp")
			if [ "$st" != "$st_native" ] || [ "$st" = cut ] || [ ! -d "$work/trace-tp" ]; then
				res[$name.tp_fail]=$(why "$st") res[$name.tp_fail_run]=$r
				# what the TP and EP runs cost up to the failure
				[ ! -f "$work/trace-tp/tp-info" ] || cp "$work/trace-tp/tp-info" "$work/info-$name-failed"
			else
				tw+=("$w") tc+=("$c")
				if [ -z "$best_tp" ] || awk -v a="$w" -v b="$best_tp" 'BEGIN { exit !(a < b) }'; then
					best_tp=$w
					if [ -f "$work/trace-tp/tp-info" ]; then
						cp "$work/trace-tp/tp-info" "$work/info-$name"
					else
						: >"$work/info-$name"
					fi
				fi
			fi
		fi
		rm -rf "$work/trace-tp" "$work/trace-tp.tp"
	done
	res[$name.nw]=$(min "${nw[@]}") res[$name.nc]=$(min "${nc[@]}")
	res[$name.uw]=- res[$name.uc]=- res[$name.tw]=- res[$name.tc]=-
	[ ${#uw[@]} -eq 0 ] || res[$name.uw]=$(min "${uw[@]}") res[$name.uc]=$(min "${uc[@]}")
	[ ${#tw[@]} -eq 0 ] || res[$name.tw]=$(min "${tw[@]}") res[$name.tc]=$(min "${tc[@]}")
done

# fail_note KIND NAME: what failed of NAME's KIND (up, tp) recordings, or
# nothing: "fails: <reason>" if the first did (and no other was made),
# else in which run, the earlier runs' figures standing
fail_note() {
	local why=${res[$2.$1_fail]:-} r=${res[$2.$1_fail_run]:-} kind=${1^^}
	[ -n "$why" ] || return 0
	if [ "$r" = 1 ]; then
		printf '%s fails: %s' "$kind" "$why"
	else
		printf '%s fails in run %s of %s (the best of the runs before it shown): %s' \
			"$kind" "$r" "$runs" "$why"
	fi
}

load=$(cut -d' ' -f1-3 /proc/loadavg)
echo "## uprr record --mode=tp (uniparallel) against native and UP recording, best of $runs runs"
echo
echo "$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), Linux $(uname -r), $(date -u '+%Y-%m-%d %H:%M UTC'), load average at the end $load (other work shares the machine: figures are noisy). Times in seconds; CPU is user + system of the command and every process it reaped; ratios to native in the same run.${record_args[*]:+ Record options: ${record_args[*]}.}${tp_args[*]:+ TP record options: ${tp_args[*]}.}"
echo
echo "| program | native wall | native CPU | UP wall | UP CPU | TP wall | TP CPU | UP ÷ native wall | TP ÷ native wall | TP ÷ native CPU | TP ÷ UP wall | notes |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
for name in "${selected[@]}"; do
	n=${res[$name.nw]} up=${res[$name.uw]} tp=${res[$name.tw]}
	upcell="$(fmt "$up") | $(fmt "${res[$name.uc]}")"
	tpcell="$(fmt "$tp") | $(fmt "${res[$name.tc]}")"
	[ "${res[$name.up_fail_run]:-}" != 1 ] || upcell="fails | "
	[ "${res[$name.tp_fail_run]:-}" != 1 ] || tpcell="fails | "
	note=$(fail_note up "$name")
	tpnote=$(fail_note tp "$name")
	note+=${note:+${tpnote:+; }}$tpnote
	echo "| $name | $(fmt "$n") | $(fmt "${res[$name.nc]}") | $upcell | $tpcell | $(ratio "$up" "$n") | $(ratio "$tp" "$n") | $(ratio "${res[$name.tc]}" "${res[$name.nc]}") | $(ratio "$tp" "$up") | $note |"
done

echo
echo "### The TP and EP runs (the trace's tp-info, of the best TP recording)"
echo
echo "| program | TP run wall | TP run CPU | EP run wall | EP run CPU | EP CPU ÷ TP CPU | epochs | verified | diverged | not checked | rollbacks | checkpoints | pause mean ms | pause max ms | checks s |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for name in "${selected[@]}"; do
	if [ ! -f "$work/info-$name" ] && [ ! -f "$work/info-$name-failed" ]; then
		echo "| $name | $(fail_note tp "$name") | | | | | | | | | | | | | |"
		continue
	fi
	for f in "$work/info-$name-failed" "$work/info-$name"; do
		[ -f "$f" ] || continue
		for w in tp_wall tp_cpu ep_wall ep_cpu checks epochs checkpoints verified diverged not_checked \
			rollbacks pause_mean pause_max; do
			res[$name.$w]=$(info_field "$f" "$w")
		done
		label=$name
		[ "$f" = "$work/info-$name" ] || label="$name (failed run)"
		echo "| $label | $(fmt "${res[$name.tp_wall]}") | $(fmt "${res[$name.tp_cpu]}") | $(fmt "${res[$name.ep_wall]}") | $(fmt "${res[$name.ep_cpu]}") | $(ratio "${res[$name.ep_cpu]}" "${res[$name.tp_cpu]}") | ${res[$name.epochs]} | ${res[$name.verified]} | ${res[$name.diverged]} | ${res[$name.not_checked]} | ${res[$name.rollbacks]} | ${res[$name.checkpoints]} | ${res[$name.pause_mean]} | ${res[$name.pause_max]} | $(fmt "${res[$name.checks]}") |"
	done
done

echo
echo "### Modelled TP record wall time ÷ native wall time, with spare cores"
echo
echo "Model (bench/tp.sh, model()): the TP run keeps its $threads threads' cores and its wall time measured here; EP runs use the C − $threads spare cores, each epoch's at the EP run's CPU time ÷ epochs; wall = max(TP wall, EP CPU ÷ spare cores) + the last epoch's EP time + checkpoints (epochs where tp-info has no count) × mean checkpoint pause (\"-\" in tp-info: none), with TP wall the measured one less those pauses (it holds them). Rollbacks are not modelled. A trace of one epoch (the whole program) overlaps nothing: its second row assumes epochs of $epoch_ms ms with the same EP CPU time, and no pause (it took no checkpoint to measure one). DoublePlay (ASPLOS 2011, spare cores): 1.15 at 2 worker threads, 1.28 at 4. Goal (issue 15): ≤ 1.2 for 2 threads with spare cores."
echo
head="| program | epochs | TP run ÷ native wall | TP run ÷ native CPU | EP CPU ÷ TP wall | cores to keep up |"
rule="|---|---|---:|---:|---:|---:|"
for c in "${cores[@]}"; do
	head+=" $c cores |"
	rule+="---:|"
done
echo "$head DoublePlay |"
echo "$rule---:|"
for name in "${selected[@]}"; do
	if [ ! -f "$work/info-$name" ]; then
		echo "| $name | $(fail_note tp "$name") | | | | | | | | | |"
		continue
	fi
	n=${res[$name.nw]} tpw=${res[$name.tp_wall]} epc=${res[$name.ep_cpu]} k=${res[$name.epochs]}
	pause=${res[$name.pause_mean]} pauses=${res[$name.checkpoints]}
	if [ "$tpw" = - ] || [ "$epc" = - ]; then
		echo "| $name | no TP or EP run figures in tp-info | | | | | | | | | |"
		continue
	fi
	[ "$k" != - ] || k=1
	[ "$pauses" != - ] || pauses=$k
	keep=$(ratio "$epc" "$tpw")
	# the TP run's cores and enough spare ones for EP CPU ÷ TP wall
	need=$(awk -v t="$threads" -v r="$keep" 'BEGIN { s = int(r); if (s < r) s++; print t + (s < 1 ? 1 : s) }')
	first="$(ratio "$tpw" "$n") | $(ratio "${res[$name.tp_cpu]}" "${res[$name.nc]}") | $keep | $need |"
	row="| $name | $k measured | $first"
	for c in "${cores[@]}"; do
		row+=" $(ratio "$(model "$c" "$threads" "$tpw" "$epc" "$k" "$pause" "$pauses")" "$n") |"
	done
	echo "$row 1.15 |"
	if [ "$k" -le 1 ]; then
		ka=$(awk -v w="$tpw" -v e="$epoch_ms" 'BEGIN { k = int(w * 1000 / e + 0.999); print k < 1 ? 1 : k }')
		row="| $name | $ka of $epoch_ms ms (assumed) | $first"
		for c in "${cores[@]}"; do
			row+=" $(ratio "$(model "$c" "$threads" "$tpw" "$epc" "$ka" "$pause" "$ka")" "$n") |"
		done
		echo "$row 1.15 |"
	fi
done

echo
echo "### tp-info of each program's best TP recording"
for name in "${selected[@]}"; do
	for f in "$work/info-$name" "$work/info-$name-failed"; do
		[ -f "$f" ] || continue
		echo
		if [ "$f" = "$work/info-$name" ]; then
			echo "$name:"
		else
			echo "$name (failed run):"
		fi
		echo
		sed 's/^/    /' "$f"
	done
done
