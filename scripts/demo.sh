#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The README's first quick start: set up and build, then record the bundled
# racy program (tests/progs/racy_crash.c) until a recording catches it
# crashing, replay that recording three times to show the same crash at the
# same instruction each time, and summarise the trace.
#
# Environment: UPRR_DEMO_DIR  where to put the trace (default: a new
#                             directory under /tmp, kept for you to replay)
#              UPRR_DEMO_TRIES  recordings to try before giving up (50)
set -euo pipefail

cd "$(dirname "$0")/.."
echo "== Setting up and building (scripts/setup.sh)"
scripts/setup.sh >/dev/null

uprr=build/cli/uprr
prog=build/tests/progs/racy_crash
tries=${UPRR_DEMO_TRIES:-50}
if [ -n "${UPRR_DEMO_DIR:-}" ]; then
	work=$UPRR_DEMO_DIR
	mkdir -p "$work"
else
	work=$(mktemp -d /tmp/uprr-demo.XXXXXX)
fi

crash_line() {
	grep -m1 '^uprr: process killed by ' "$1" || true
}

echo "== Recording $prog until it crashes (at most $tries tries)"
trace=
for i in $(seq 1 "$tries"); do
	t="$work/racy_crash-$i"
	st=0
	"$uprr" record -o "$t" -- "$prog" >"$work/record.out" 2>"$work/record.err" || st=$?
	case $st in
	0)
		echo "try $i: no crash this time ($(tail -n1 "$work/record.out"))"
		rm -rf "$t"
		;;
	139)
		echo "try $i: crashed"
		trace=$t
		break
		;;
	*)
		echo "try $i: uprr record ended with status $st:" >&2
		cat "$work/record.err" >&2
		exit 1
		;;
	esac
done
if [ -z "$trace" ]; then
	echo "racy_crash did not crash in $tries recordings; run the demo again" >&2
	exit 1
fi

recorded=$(crash_line "$work/record.err")
echo
echo "The recorded run's last lines of output:"
tail -n 4 "$work/record.out" | sed 's/^/    /'
echo "The recording ends with:"
echo "    $recorded"
# Tracees run without ASLR, so a PIE executable sits at 0x555555554000.
rip=$(sed -n 's/.* at \(0x[0-9a-f]*\) .*/\1/p' <<<"$recorded")
if [ -n "$rip" ] && command -v addr2line >/dev/null; then
	where=$(addr2line -f -s -e "$prog" "$(printf '0x%x' $((rip - 0x555555554000)))" 2>/dev/null |
		paste -sd' ' || true)
	case $where in
	*'??'* | '') ;;
	*) echo "    that is in ${where/ / at } — the worker's use of the pointer it checked earlier" ;;
	esac
fi

echo
echo "== Replaying $trace three times"
for i in 1 2 3; do
	st=0
	"$uprr" replay "$trace" >"$work/replay.out" 2>"$work/replay.err" || st=$?
	line=$(crash_line "$work/replay.err")
	same_output=no
	cmp -s "$work/record.out" "$work/replay.out" && same_output=yes
	echo "replay $i: status $st, same output as recorded: $same_output"
	echo "    $line"
	if [ "$line" != "$recorded" ] || [ $st -ne 139 ] || [ $same_output != yes ]; then
		echo "replay $i did not reproduce the recorded crash" >&2
		cat "$work/replay.err" >&2
		exit 1
	fi
done

echo
echo "== uprr info $trace"
"$uprr" info "$trace"

echo
echo "The crash was reproduced at the same instruction in every replay."
echo "Replay it again with:  $uprr replay $trace"
