#!/bin/bash
# SPDX-License-Identifier: MIT
#
# uprr under valgrind's memcheck (not run by CI: the sanitized build is;
# this is the second opinion, with no rebuild). Installs valgrind if
# missing, then:
#  - the unit tests that can run under it (`meson test --setup valgrind`,
#    meson.build): unit-trace, unit-sched, unit-checkpoint;
#  - `uprr info`, `ps` and `dump` on two real traces, and `uprr replay` and
#    `info` on damaged ones (bad checksum, cut mid-frame).
# Fails on any memcheck error or definite leak (--error-exitcode).
#
# What cannot run under valgrind 3.19: recording and replaying a program
# (the child between fork and exec runs under valgrind and must load the
# seccomp filter, a syscall valgrind does not implement), and the unit tests
# that ptrace a forked child (unit-recorder, unit-syscalls, unit-patch,
# unit-ticks: the child runs valgrind's translation, not its own code).
set -euo pipefail

cd "$(dirname "$0")/.."

scripts/setup.sh valgrind >/dev/null

meson test -C build --setup valgrind --print-errorlogs unit-trace unit-sched unit-checkpoint

vg=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
	--show-leak-kinds=definite)
work=$(mktemp -d /tmp/uprr-valgrind-XXXXXX)
trap 'rm -rf "$work"' EXIT
uprr=build/cli/uprr

"$uprr" record -o "$work/true" -- /bin/true
"$uprr" record -o "$work/sh" -- sh -c 'seq 1 1000 | sort -r | head -1' >/dev/null
for t in true sh; do
	for cmd in info ps dump; do
		"${vg[@]}" "$uprr" "$cmd" "$work/$t" >/dev/null
	done
done

# damaged copies: a flipped byte in the events payload, and events cut mid-frame
cp -r "$work/sh" "$work/bad-checksum"
printf '\xff' | dd of="$work/bad-checksum/events" bs=1 seek=40 conv=notrunc status=none
cp -r "$work/sh" "$work/cut"
truncate -s -10 "$work/cut/events"
for t in bad-checksum cut; do
	for cmd in replay info; do
		status=0
		"${vg[@]}" "$uprr" "$cmd" "$work/$t" >/dev/null 2>"$work/err" || status=$?
		if [ $status -eq 99 ]; then
			cat "$work/err" >&2
			echo "valgrind: errors in uprr $cmd on a $t trace" >&2
			exit 1
		fi
	done
done
echo "valgrind: no memcheck error, no definite leak"
