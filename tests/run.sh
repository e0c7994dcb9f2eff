#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The whole test suite on Debian 12, as root: installs the packages braid
# builds and tests with, builds, runs unit and namespace integration tests,
# then runs the unit tests again under AddressSanitizer + UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
	echo "tests/run.sh: needs root (apt packages, TUN devices, network" \
	     "namespaces): sudo tests/run.sh" >&2
	exit 1
fi

PKGS=(meson ninja-build pkg-config gcc libc6-dev libev-dev libmnl-dev
      libconfig-dev libsodium-dev libcap-dev libjson-c-dev libmicrohttpd-dev
      libsystemd-dev libncurses-dev check iproute2 iperf3 socat tcpdump
      iputils-ping procps python3 dante-server microsocks openssl nftables
      tmux man-db groff-base clang libclang-rt-dev)
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "== installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

setup() { # DIR [meson options]
	local dir=$1; shift
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi
	ninja -C "$dir"
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "== build"
setup build
echo "== unit and integration tests"
status=0
meson test -C build --print-errorlogs 2>&1 | tee -a "$log" || status=1

echo "== unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
setup build-asan -Db_sanitize=address,undefined -Db_lundef=false
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1
meson test -C build-asan --suite unit --print-errorlogs 2>&1 |
	tee -a "$log" || status=1

echo "== fuzzing: every libFuzzer target for ${FUZZ_SECONDS:-15} s (tests/fuzz/run.sh)"
fuzz_out=$(bash tests/fuzz/run.sh "${FUZZ_SECONDS:-15}" 2>&1) || status=1
echo "$fuzz_out"
# one line per target: "fuzz_x: N execs, cov C, no crash" or "FAILED"
echo "Ok: $(grep -c 'no crash' <<<"$fuzz_out")" >>"$log"
echo "Fail: $(grep -c 'FAILED' <<<"$fuzz_out")" >>"$log"

passed=$(awk '/^Ok:/ { n += $2 } END { print n + 0 }' "$log")
failed=$(awk '/^(Fail|Timeout|Unexpected Pass):/ { n += $NF } END { print n + 0 }' "$log")
echo
echo "tests: $passed passed, $failed failed"
[ "$status" = 0 ] && [ "$failed" = 0 ]
