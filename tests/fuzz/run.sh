#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every libFuzzer target (or the ones named) for SECONDS each on a
# scratch copy of its corpus; one line per target, non-zero if any found a
# crash, leak or hang (the reproducer is kept in tests/fuzz/crash-*).
# Installs nothing: needs clang and libclang-rt-dev.
#
#   tests/fuzz/run.sh [-j JOBS] [-m] SECONDS [TARGET...]
#     -j JOBS  targets run at once (default 1)
#     -m       afterwards, merge what was found into tests/fuzz/corpus/,
#              minimized (for long runs whose corpus is to be committed)
#   FUZZ_BUILD  build directory (default build-fuzz)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
fz=tests/fuzz
build=${FUZZ_BUILD:-build-fuzz}

# The lines of a finding worth showing, less stack frames of libFuzzer,
# libc and the signal path.
report='^(==[0-9]+==|    #[0-9]|fuzz check|SUMMARY)|runtime error:'
noise='in (fuzzer::|main |_start|__libc_|__sanitizer_|__pthread_kill'
noise+='|raise |abort )|\(/lib/.*libc\.so'

usage() {
	echo "usage: $fz/run.sh [-j JOBS] [-m] SECONDS [TARGET...]" >&2
	exit 2
}

# Sets up (if needed) and builds $build; the log only when it fails.
build_all() {
	if [ ! -f "$build/build.ninja" ] &&
	   ! CC=${CC:-clang} meson setup "$build" -Dfuzz=true \
		-Db_sanitize=address,undefined -Db_lundef=false \
		>"$work/build.log" 2>&1; then
		cat "$work/build.log" >&2
		echo "fuzz: meson setup $build failed (clang and" \
		     "libclang-rt-dev installed?)" >&2
		return 1
	fi
	if ! ninja -C "$build" >"$work/build.log" 2>&1; then
		tail -n 40 "$work/build.log" >&2
		echo "fuzz: build of $build failed" >&2
		return 1
	fi
}

# One target: fuzz, then report from libFuzzer's final stats into
# $work/$t/result; returns non-zero on a finding.
fuzz_one() {
	local t=$1
	local exe=$root/$build/$fz/fuzz_$t dir=$work/$t
	local log=$work/$t/fuzz.log opts=() rc=0 d execs cov art

	mkdir -p "$dir/corpus"
	for d in corpus regress; do
		if [ -d "$fz/$d/$t" ]; then
			cp -R "$fz/$d/$t/." "$dir/corpus/"
		fi
	done
	if [ -f "$fz/$t.dict" ]; then
		opts+=("-dict=$root/$fz/$t.dict")
	fi
	# from the scratch directory: libFuzzer's own files land there
	(cd "$dir" && TMPDIR=$dir timeout -k 10 $((secs * 2 + 120)) "$exe" \
		-max_total_time="$secs" -timeout=25 -print_final_stats=1 \
		-artifact_prefix="$root/$fz/crash-$t-" "${opts[@]}" corpus \
		</dev/null >"$log" 2>&1) || rc=$?

	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
		tail -n 1)
	cov=$(sed -n 's/.* cov: \([0-9]*\) .*/\1/p' "$log" | tail -n 1)
	if [ "$rc" = 0 ]; then
		echo "fuzz_$t: ${execs:-?} execs, cov ${cov:-?}, no crash" \
			>"$dir/result"
		if [ "$merge" = 1 ]; then
			merge_one "$t"
		fi
		return 0
	fi
	art=$(sed -n 's/.*Test unit written to //p' "$log" | tail -n 1)
	{
		if [ -n "$art" ]; then
			art=${art#"$root/"}
			cp "$log" "$art.log"
			echo "fuzz_$t: CRASH after ${execs:-?} execs, cov" \
			     "${cov:-?}; reproducer: $art (log: $art.log)"
			echo "  reproduce: $build/$fz/fuzz_$t $art"
			grep -E "$report" "$log" | grep -v -E "$noise" |
				head -n 30 | sed 's/^/  /' || true
		else
			echo "fuzz_$t: FAILED (exit $rc) without a reproducer;" \
			     "last lines:"
			tail -n 15 "$log" | sed 's/^/  /'
		fi
	} >"$dir/result"
	return 1
}

# Replaces the committed corpus with a minimal one covering the same as
# it and everything this run found.
merge_one() {
	local t=$1
	local exe=$root/$build/$fz/fuzz_$t dir=$work/$t

	mkdir -p "$dir/merged" "$fz/corpus/$t"
	if (cd "$dir" && TMPDIR=$dir "$exe" -merge=1 -timeout=25 merged \
		"$root/$fz/corpus/$t" corpus </dev/null >merge.log 2>&1); then
		rm -rf "${fz:?}/corpus/$t"
		cp -R "$dir/merged" "$fz/corpus/$t"
		echo "  corpus/$t: $(find "$fz/corpus/$t" -type f | wc -l)" \
		     "files, $(du -sh --apparent-size "$fz/corpus/$t" | cut -f1)" \
			>>"$dir/result"
	else
		echo "  corpus/$t: merge failed, left as it was" >>"$dir/result"
	fi
}

main() {
	local opt t f status=0 running=0
	local -a targets=()

	jobs=1 merge=0
	while getopts j:m opt; do
		case $opt in
		j) jobs=$OPTARG ;;
		m) merge=1 ;;
		*) usage ;;
		esac
	done
	shift $((OPTIND - 1))
	if [ $# -lt 1 ] ||
	   ! [[ $1 =~ ^[0-9]+$ && $jobs =~ ^[1-9][0-9]*$ ]]; then
		usage
	fi
	secs=$1
	shift
	if [ $# -gt 0 ]; then
		targets=("$@")
	else
		for f in "$fz"/fuzz_*.c; do
			f=${f##*/fuzz_}
			targets+=("${f%.c}")
		done
	fi

	work=$(mktemp -d /tmp/braid-fuzz-XXXXXX)
	trap 'rm -rf "$work"' EXIT
	build_all
	for t in "${targets[@]}"; do
		if [ ! -x "$build/$fz/fuzz_$t" ]; then
			echo "fuzz: no $build/$fz/fuzz_$t (configured with" \
			     "-Dfuzz=true? listed in $fz/meson.build?)" >&2
			return 1
		fi
	done

	for t in "${targets[@]}"; do
		fuzz_one "$t" &
		running=$((running + 1))
		if [ "$running" -ge "$jobs" ]; then
			wait -n || status=1
			running=$((running - 1))
		fi
	done
	while [ "$running" -gt 0 ]; do
		wait -n || status=1
		running=$((running - 1))
	done
	for t in "${targets[@]}"; do
		if ! cat "$work/$t/result" 2>/dev/null; then
			echo "fuzz_$t: no result"
			status=1
		fi
	done
	return "$status"
}

# On one line, so that editing this file while it runs cannot derail it.
main "$@"; exit
