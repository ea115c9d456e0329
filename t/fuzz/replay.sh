#!/bin/sh
# replay.sh - make check: feed every file of t/fuzz/corpus-<target>/ to the
# standalone build of fuzz-<target> (standalone-runner.cc), one process per
# input so a crash is counted and named rather than ending the run.
#
# Environment (set by TESTS_ENVIRONMENT in t/Makefile.inc): SRCDIR, BUILDDIR.
# Optional: FUZZ_TARGETS (default: every target with a seed corpus t/fuzz/corpus-<target>/),
# FUZZ_INPUT_TIMEOUT seconds per input (default 60; a hang is a failure).
# Prints "<target>: N passed, M failed" per target; exit 1 if anything failed.
set -u

srcdir=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${BUILDDIR:-.}
targets=${FUZZ_TARGETS:-$(for dir in "$srcdir"/t/fuzz/corpus-*/; do basename "$dir" | sed 's/^corpus-//'; done)}
per_input=${FUZZ_INPUT_TIMEOUT:-60}

# A hang must fail, not stall make check: use timeout(1) where coreutils has it.
if command -v timeout >/dev/null 2>&1; then
  limit="timeout $per_input"
else
  limit=""
fi

log=$(mktemp "${TMPDIR:-/tmp}/fuzz-replay.XXXXXX") || exit 1
trap 'rm -f "$log"' EXIT INT TERM

status=0
for target in $targets; do
  bin="$builddir/t/fuzz/fuzz-$target"
  corpus="$srcdir/t/fuzz/corpus-$target"
  if [ ! -x "$bin" ]; then
    echo "$target: $bin not built" >&2
    status=1
    continue
  fi
  passed=0
  failed=0
  for input in "$corpus"/*; do
    [ -f "$input" ] || continue
    if $limit "$bin" "$input" >"$log" 2>&1; then
      passed=$((passed + 1))
    else
      rc=$?
      failed=$((failed + 1))
      echo "FAIL $target $input (exit $rc)"
      tail -n 30 "$log"
    fi
  done
  echo "$target: $passed passed, $failed failed"
  if [ "$passed" -eq 0 ] || [ "$failed" -ne 0 ]; then
    status=1
  fi
done
exit $status
