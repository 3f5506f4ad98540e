#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Sets up and builds (scripts/setup.sh), then runs the test suites: 'unit'
# (Criterion) and 'e2e' (record, replay with the inputs gone, compare).
# The 'slow' suite (stress variants, tens of minutes) runs with --slow.
# Other arguments go to `meson test`, e.g. scripts/test.sh --suite e2e.
set -euo pipefail

cd "$(dirname "$0")/.."

slow=0
args=()
for a in "$@"; do
	case "$a" in
	--slow) slow=1 ;;
	*) args+=("$a") ;;
	esac
done

scripts/setup.sh

if [ $slow -eq 0 ]; then
	args=(--no-suite slow "${args[@]+"${args[@]}"}")
fi
exec meson test -C build --print-errorlogs "${args[@]}"
