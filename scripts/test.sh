#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Sets up and builds (scripts/setup.sh), then runs the test suites: 'unit'
# (Criterion), 'e2e' (record, replay with the inputs gone, compare) and
# 'slow' (the same mechanisms recorded and replayed many more times). CI runs
# all three: together they take about a minute on the 2-vCPU machine, well
# inside the 20 minutes we allow ourselves. --quick leaves 'slow' out.
# Other arguments go to `meson test`, e.g. scripts/test.sh --suite e2e.
set -euo pipefail

cd "$(dirname "$0")/.."

quick=0
args=()
for a in "$@"; do
	case "$a" in
	--quick) quick=1 ;;
	*) args+=("$a") ;;
	esac
done

scripts/setup.sh

if [ $quick -eq 1 ]; then
	args=(--no-suite slow "${args[@]+"${args[@]}"}")
fi
exec meson test -C build --print-errorlogs "${args[@]+"${args[@]}"}"
