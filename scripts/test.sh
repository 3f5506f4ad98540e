#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Sets up and builds (scripts/setup.sh), then runs the test suites: 'unit'
# (Criterion), 'e2e' (record, replay with the inputs gone, compare) and
# 'slow' (the same mechanisms recorded and replayed many more times). CI runs
# all three: together they take about a minute on the 2-vCPU machine, well
# inside the 20 minutes we allow ourselves. --quick leaves 'slow' out.
#
# Then the hardening checks (doc/hardening.md): the sanitized build
# (scripts/setup-san.sh: clang, ASan + UBSan) runs the 'unit' suite and the
# 'san' subset of 'e2e' with no sanitizer report allowed, and the trace
# reader is fuzzed for 60 s (scripts/fuzz.sh). About 2.5 more minutes;
# --no-san leaves them out.
#
# Other arguments go to `meson test` on build/ alone (no hardening checks),
# e.g. scripts/test.sh --suite e2e.
set -euo pipefail

cd "$(dirname "$0")/.."

quick=0
san=1
args=()
for a in "$@"; do
	case "$a" in
	--quick) quick=1 ;;
	--no-san) san=0 ;;
	*)
		args+=("$a")
		san=0
		;;
	esac
done

scripts/setup.sh

if [ $quick -eq 1 ]; then
	args=(--no-suite slow "${args[@]+"${args[@]}"}")
fi
meson test -C build --print-errorlogs "${args[@]+"${args[@]}"}"
[ $san -eq 1 ] || exit 0

scripts/setup-san.sh
# every sanitizer report also lands here (meson.build's test setup)
reports=build-san/meson-logs/sanitizers
rm -rf "$reports"
mkdir -p "$reports"
meson test -C build-san --print-errorlogs --suite unit --suite san
if [ -n "$(ls -A "$reports")" ]; then
	for f in "$reports"/*; do
		echo "== $f"
		cat "$f"
	done
	echo "test: sanitizer reports in the sanitized build (above)" >&2
	exit 1
fi
echo "test: sanitized build: unit and san suites passed with no sanitizer report"
scripts/fuzz.sh 60
