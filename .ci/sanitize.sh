#!/usr/bin/env bash
# .ci/sanitize.sh - issue 14's sanitizer and fuzzing part of CI, runnable alone:
#
#   .ci/sanitize.sh [suites|fuzz|all]      (default all)
#
# suites: a second build tree, $SANITIZE_BUILDDIR (default ./build-sanitize), configured
#   --enable-asan --enable-ubsan --enable-werror (CXXFLAGS -g -O1), in which only what the unit,
#   milter and fuzz-replay suites run is built (make sanitize-programs), and those suites run with
#   every sanitizer finding fatal and each test under timeout(1) (make check-sanitize).
# fuzz: each libFuzzer target for FUZZ_SECONDS (default 40) with clang (make fuzz, its own clang
#   tree under the sanitized one); without clang or libFuzzer it says so and skips.
# Each step is timed ("sanitize: STEP took N s").  Exit 1 when a step fails or finds anything.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
what=${1:-all}
case $what in suites|fuzz|all) ;; *) echo "usage: $0 [suites|fuzz|all]" >&2; exit 2 ;; esac
builddir=${SANITIZE_BUILDDIR:-$top/build-sanitize}
jobs=$(nproc)
status=0

# timed STEP COMMAND...: run and say how long it took; a failure is remembered, not fatal.
timed() {
  local step=$1 start rc=0
  shift
  start=$(date +%s)
  "$@" || rc=$?
  echo "sanitize: $step took $(($(date +%s) - start)) s (exit $rc)"
  [ $rc -eq 0 ] || status=1
  return 0
}

if [ ! -x configure ] || [ configure.ac -nt configure ]; then
  autoreconf -fi
fi
mkdir -p "$builddir"
cd "$builddir"
if [ ! -f config.status ]; then
  timed configure "$top/configure" --enable-asan --enable-ubsan --enable-werror CXXFLAGS="-g -O1" >configure.log
fi

if [ "$what" != fuzz ]; then
  timed "sanitized build" make -j"$jobs" sanitize-programs
  [ $status -eq 0 ] && timed "sanitized suites" make -j"$jobs" check-sanitize
fi

if [ "$what" != suites ]; then
  # Without clang or libFuzzer, make fuzz says so and succeeds.
  timed "libFuzzer targets" make fuzz FUZZ_ARGS="-t ${FUZZ_SECONDS:-40}"
fi
exit $status
