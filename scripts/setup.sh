#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Installs what uprr needs from Debian (only what is missing) and builds it
# into build/. Idempotent: a second run installs nothing and only rebuilds
# what changed. Runs as root (as CI does) or with sudo.
#
# Usage: scripts/setup.sh [PACKAGE...]   also install these (scripts/valgrind.sh)
#
# Environment: MESON_ARGS  extra arguments for the first `meson setup`
#              CI          when set, the build uses -Dwerror=true
set -euo pipefail

cd "$(dirname "$0")/.."

# Build tools and libraries, then the programs the end-to-end tests record.
packages=(
	build-essential meson ninja-build pkg-config
	libzstd-dev libxxhash-dev libcapstone-dev libelf-dev libdw-dev libpfm4-dev libcriterion-dev
	sqlite3 python3 pigz xz-utils memcached coreutils procps util-linux
	bsdutils nodejs # script(1), a pty user; node, which allocates protection keys
	# a Go program (e2e go-vdso: the Go runtime's use of the vDSO)
	golang-go
	nginx # e2e nginx-workers: a master and workers on a SIGIO channel
	strace gdb # e2e_real.py: debuggers inside a recording
	# programs that sandbox themselves (seccomp, namespaces): tests/e2e
	universal-ctags iproute2
	# the sanitized build and the fuzz target (scripts/setup-san.sh): clang
	# 14 and its runtimes (ASan, UBSan, libFuzzer)
	clang libclang-rt-14-dev
	"$@"
)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -eq 0 ]; then
		sudo=()
	elif command -v sudo >/dev/null; then
		sudo=(sudo)
	else
		echo "setup: missing packages ${missing[*]}; run this as root or install sudo" >&2
		exit 1
	fi
	echo "setup: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# The package lists may be absent or stale: update only if needed.
	if ! "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"; then
		"${sudo[@]}" apt-get update
		"${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
	fi
fi

if [ ! -f build/build.ninja ]; then
	args=()
	if [ -n "${CI:-}" ]; then
		args+=(-Dwerror=true)
	fi
	wipe=()
	if [ -f build/meson-private/coredata.dat ]; then
		# a build/ left by an interrupted setup: configure it afresh
		wipe=(--wipe)
	fi
	# shellcheck disable=SC2086 # MESON_ARGS is a list of words
	meson setup "${wipe[@]}" ${MESON_ARGS:-} "${args[@]}" build .
fi
# ninja re-runs meson by itself when a meson.build changed.
ninja -C build
