#!/bin/bash
# run-libfuzzer.sh - opt-in coverage-guided fuzzing of the t/fuzz/ targets
# with clang's libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer
# (`make fuzz`, or by hand).  Not part of make check: it needs clang and
# libFuzzer (Debian: clang-14 libclang-rt-14-dev) and takes minutes.
#
# It configures a separate out-of-tree build (FUZZ_BUILDDIR) with
#   CC=clang CXX=clang++ --enable-asan --enable-ubsan
#   CXXFLAGS="-g -O1 -fsanitize=fuzzer-no-link"
# so the collector libraries are instrumented for coverage, then builds the on-demand
# programs t/fuzz/libfuzzer-<target> (only they link -fsanitize=fuzzer) and
# runs each for SECONDS over a work corpus seeded from t/fuzz/corpus-<target>/.
# The seed corpora in the source tree are never written to.
#
# Usage: run-libfuzzer.sh [-t SECONDS] [-j JOBS] [TARGET...]
#   TARGET: report-parser, unpack, mime, milter-protocol, zip, config (default: every
#   t/fuzz/fuzz-<target>.cc, one after another)
#   -t: seconds per target (default 60; FUZZ_SECONDS)   -j: parallel processes per target (libFuzzer -fork; default 1)
# Environment: SRCDIR (default: this script's ../..), FUZZ_BUILDDIR (default
# ./fuzz-clang), CLANG_SUFFIX (e.g. -14; default: clang++ if installed, else the newest clang++-N).
# Output per target under $FUZZ_BUILDDIR/t/fuzz/work-<target>/: corpus/ (new
# inputs), crash-*/leak-*/timeout-* reproducers and fuzz.log.  To keep a
# reproducer, minimize it (libfuzzer-<target> -minimize_crash=1 FILE) and copy
# it to t/fuzz/corpus-<target>/, so make check replays it from then on.
# Exit status: 0 when no target found anything, 1 when one did, 2 on setup errors,
# 77 when clang or libFuzzer is missing (with a message saying what to install).
set -u -o pipefail

seconds=${FUZZ_SECONDS:-60}
jobs=1
while getopts "t:j:h" opt; do
  case $opt in
  t) seconds=$OPTARG ;;
  j) jobs=$OPTARG ;;
  *) sed -n '2,26s/^# \{0,1\}//p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
targets=("$@")

srcdir=$(cd "${SRCDIR:-$(dirname "$0")/../..}" && pwd) || exit 2
if [ ${#targets[@]} -eq 0 ]; then
  for source in "$srcdir"/t/fuzz/fuzz-*.cc; do
    name=${source##*/fuzz-}
    targets+=("${name%.cc}")
  done
fi
builddir=${FUZZ_BUILDDIR:-$PWD/fuzz-clang}
# Without CLANG_SUFFIX: plain clang++ if there is one, else the newest clang++-N on PATH.
if [ -n "${CLANG_SUFFIX+set}" ]; then
  suffix=$CLANG_SUFFIX
elif command -v clang++ >/dev/null 2>&1; then
  suffix=
else
  suffix=$(compgen -c clang++- | sed -n 's/^clang++\(-[0-9][0-9]*\)$/\1/p' | sort -t- -k2 -n | tail -n 1)
fi

# Step: tools (missing ones skip, exit 77).  An in-tree configured source directory refuses a
# second, out-of-tree build.
for tool in "clang$suffix" "clang++$suffix"; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "run-libfuzzer: SKIP: $tool not found (apt-get install clang-14 libclang-rt-14-dev, CLANG_SUFFIX=-14)" >&2; exit 77; }
done
probe=$(mktemp -d "${TMPDIR:-/tmp}/dw-libfuzzer.XXXXXX") || exit 2
printf '#include <cstddef>\n#include <cstdint>\nextern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }\n' \
  >"$probe/probe.cc"
if ! "clang++$suffix" -fsanitize=fuzzer,address -o "$probe/probe" "$probe/probe.cc" >"$probe/log" 2>&1; then
  echo "run-libfuzzer: SKIP: clang++$suffix cannot link libFuzzer (apt-get install libclang-rt-14-dev): $(head -n 3 "$probe/log" | tr '\n' ' ')" >&2
  rm -rf "$probe"
  exit 77
fi
rm -rf "$probe"
if [ -f "$srcdir/config.status" ]; then
  echo "run-libfuzzer: $srcdir is configured in-tree; run 'make distclean' there first" >&2
  exit 2
fi

# Step: configure once; later runs reuse the build and only rebuild what changed.
mkdir -p "$builddir" || exit 2
if [ ! -f "$builddir/config.status" ]; then
  echo "run-libfuzzer: configuring $builddir"
  (cd "$builddir" && "$srcdir/configure" CC="clang$suffix" CXX="clang++$suffix" \
    CXXFLAGS="-g -O1 -fsanitize=fuzzer-no-link" --enable-asan --enable-ubsan \
    >configure.log 2>&1) || { echo "run-libfuzzer: configure failed, see $builddir/configure.log" >&2; exit 2; }
fi

# Step: build the fuzzers (and the collector libraries under them).
programs=()
for target in "${targets[@]}"; do
  [ -f "$srcdir/t/fuzz/fuzz-$target.cc" ] || { echo "run-libfuzzer: unknown target $target" >&2; exit 2; }
  programs+=("t/fuzz/libfuzzer-$target")
done
built=$(date +%s)
make -C "$builddir" -j"$(nproc 2>/dev/null || echo 2)" "${programs[@]}" || { echo "run-libfuzzer: build failed" >&2; exit 2; }
echo "run-libfuzzer: build took $(($(date +%s) - built)) s"

# Step: fuzz each target in turn.  Caps per input: 10 s, 2 GiB, 1 MiB of input.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for target in "${targets[@]}"; do
  work="$builddir/t/fuzz/work-$target"
  mkdir -p "$work/corpus"
  case $target in
  mime) dict="$srcdir/t/fuzz/mime.dict" ;;
  config) dict="$srcdir/t/fuzz/config.dict" ;;
  *) dict="$srcdir/t/fuzz/report.dict" ;;
  esac
  parallel=()
  [ "$jobs" -gt 1 ] && parallel=(-fork="$jobs")
  echo "run-libfuzzer: $target for ${seconds}s (log: $work/fuzz.log)"
  (cd "$work" && "$builddir/t/fuzz/libfuzzer-$target" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -max_len=$((1 << 20)) -dict="$dict" -print_final_stats=1 \
    "${parallel[@]}" -artifact_prefix="$work/" \
    corpus "$srcdir/t/fuzz/corpus-$target" >fuzz.log 2>&1)
  rc=$?
  grep -E '^(stat::|#[0-9]+ +DONE|#[0-9]+: )' "$work/fuzz.log" | tail -n 6
  found=$(find "$work" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | sort)
  if [ $rc -ne 0 ] || [ -n "$found" ]; then
    status=1
    echo "run-libfuzzer: $target FOUND PROBLEMS (exit $rc):"
    [ -n "$found" ] && echo "$found"
    grep -m 5 -E 'ERROR: |runtime error:|fuzz contract broken|terminate called' "$work/fuzz.log"
  else
    echo "run-libfuzzer: $target clean"
  fi
done
exit $status
