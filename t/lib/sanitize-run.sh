#!/bin/sh
# sanitize-run.sh - the pieces of `make check-sanitize` (t/Makefile.inc, issue 14): the unit,
# milter and fuzz-replay suites in a tree built with --enable-asan --enable-ubsan.
#
#   sanitize-run.sh --environment       print the sanitizer settings as shell assignments (eval them)
#   sanitize-run.sh PROGRAM [ARG...]    the suites' LOG_COMPILER: run one test under timeout(1),
#                                       append "SECONDS EXIT TEST" to $SANITIZE_LOGS/times
#   sanitize-run.sh --findings [LOG...] print every sanitizer report in $SANITIZE_LOGS and in the
#                                       tests' LOGs, and the times; exit 1 when there is a report
#
# Environment: SANITIZE_LOGS (an absolute directory, made by the caller), SANITIZE_TIMEOUT
# (seconds per test, default 1200), and for --environment CXX and SANITIZER_FLAGS (to probe
# LeakSanitizer).
#
# Every finding is fatal: UBSan is built with -fno-sanitize-recover, ASan halts on the first
# error, and each report is also written to a file of its own (log_path), because a daemonized
# milter's stderr goes nowhere and a test script may not look at the exit status of every
# process it starts: --findings fails the run on any such file, whatever the tests said.
# GCC's separate libubsan was seen to print to stderr despite log_path, so --findings also
# looks for reports in the tests' logs (a UBSan report also ends its process: exit 1).
# Leak detection is on where LeakSanitizer works: it needs to stop the process's threads
# (ptrace-like), which some containers and debuggers forbid; a probe program tells, and when it
# cannot, leaks are not checked and this says so.
set -u
logs=${SANITIZE_LOGS:?SANITIZE_LOGS must name a directory}
limit=${SANITIZE_TIMEOUT:-1200}

case ${1:-} in
--environment)
  # Step: does LeakSanitizer work here?  A program that leaks must be reported as leaking.
  leaks=0
  case " ${SANITIZER_FLAGS:-} " in
  *" -fsanitize=address "*)
    probe=$(mktemp -d "${TMPDIR:-/tmp}/dw-lsan-probe.XXXXXX") || exit 1
    printf 'int main() { int* volatile p = new int[4]; p = nullptr; return 0; }\n' >"$probe/leak.cc"
    if ${CXX:-c++} ${SANITIZER_FLAGS:-} -o "$probe/leak" "$probe/leak.cc" 2>"$probe/log" &&
      ! ASAN_OPTIONS=detect_leaks=1 "$probe/leak" >"$probe/log" 2>&1 &&
      grep -q 'ERROR: LeakSanitizer: detected memory leaks' "$probe/log"; then
      leaks=1
    else
      echo "sanitize-run: LeakSanitizer does not work here ($(tail -n 1 "$probe/log")): leaks are not checked" >&2
    fi
    rm -rf "$probe"
    ;;
  esac
  # verify_asan_link_order=0: t/milter/loop-failures.sh preloads its (unsanitized) shim ahead of
  # the ASan runtime.
  echo "ASAN_OPTIONS='halt_on_error=1:detect_leaks=$leaks:verify_asan_link_order=0:log_path=$logs/asan'"
  echo "LSAN_OPTIONS='suppressions=$(cd "$(dirname "$0")" && pwd)/lsan.supp:print_suppressions=0'"
  echo "UBSAN_OPTIONS='halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan'"
  echo "export ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS"
  ;;
--findings)
  status=0
  shift
  for report in "$logs"/asan.* "$logs"/ubsan.*; do
    [ -f "$report" ] || continue
    status=1
    echo "=== sanitizer finding: $report"
    cat "$report"
  done
  for log in "$@"; do
    [ -f "$log" ] && grep -q -E 'runtime error:|ERROR: (Address|Leak|UndefinedBehavior)Sanitizer' "$log" || continue
    status=1
    echo "=== sanitizer finding in $log:"
    grep -E -A 12 'runtime error:|ERROR: (Address|Leak|UndefinedBehavior)Sanitizer' "$log" | head -n 60
  done
  if [ -f "$logs/times" ]; then
    echo "sanitize: seconds per test (exit status):"
    sort -rn "$logs/times" | sed 's/^/  /'
  fi
  [ $status -eq 0 ] && echo "sanitize: no sanitizer finding" || echo "sanitize: SANITIZER FINDINGS (above)"
  exit $status
  ;;
'')
  echo "usage: $0 --environment | --findings | PROGRAM [ARG...]" >&2
  exit 2
  ;;
*)
  start=$(date +%s)
  rc=0
  timeout "$limit" "$@" || rc=$?
  [ $rc -eq 124 ] && echo "sanitize-run: $1 killed after ${limit}s (timeout)" >&2
  echo "$(($(date +%s) - start)) $rc $1" >>"$logs/times"
  exit $rc
  ;;
esac
