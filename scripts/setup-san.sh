#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Sets up (scripts/setup.sh) and builds build-san/: the supervisor, its
# static libraries and the unit tests with clang's AddressSanitizer and
# UndefinedBehaviorSanitizer, plus the trace reader's libFuzzer target
# (tests/fuzz). The programs the tests record (tests/progs) are built
# without sanitizers: they are tracees. Idempotent, like setup.sh.
#
# Environment: CI  when set, the build uses -Dwerror=true
set -euo pipefail

cd "$(dirname "$0")/.."

scripts/setup.sh

if [ ! -f build-san/build.ninja ]; then
	args=()
	if [ -n "${CI:-}" ]; then
		args+=(-Dwerror=true)
	fi
	wipe=()
	if [ -f build-san/meson-private/coredata.dat ]; then
		wipe=(--wipe)
	fi
	# b_lundef=false: the sanitizer runtimes are linked into executables
	# only, so static libraries have undefined sanitizer symbols
	CC=clang meson setup "${wipe[@]}" "${args[@]+"${args[@]}"}" \
		-Db_sanitize=address,undefined -Db_lundef=false -Dfuzz=true build-san .
fi
ninja -C build-san -j2
