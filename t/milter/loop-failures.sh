#!/bin/bash
# loop-failures.sh - the failures the event loop meets on a loaded machine close at most the
# one MTA connection they hit, never the loop (make check).
#
# The real dmarcwatch-milter runs with t/milter/fault-inject.so preloaded, which makes
#   - every 5th epoll_ctl ADD/MOD on a connection fail with ENOMEM (taking a new connection,
#     waiting to write a reply, re-arming a connection after its report's worker finished),
#   - every 7th accept4 fail with EMFILE (the milter pauses accepting for a second),
#   - every 3rd send say EAGAIN (a full socket buffer: the reply waits for EPOLLOUT),
# until 60 failures were injected.  Plain and report messages go through meanwhile
# (t/lib/milter-client.py); some of those connections fail, as they must.  Then:
#   1. the milter is still running and was never restarted;
#   2. no more connections failed than failures were injected, and each class was hit
#      (its log line names it);
#   3. afterwards every plain and report message is answered and each report stored once;
#   4. SIGTERM ends it with exit status 0.
# TAP-ish lines, "N passed, M failed".  Processes: only the PIDs this script starts.
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILDDIR=${BUILDDIR:-$SRCDIR}
. "$SRCDIR/t/lib/common.sh"
need_milter
DMARCWATCH=${DMARCWATCH:-$BUILDDIR/collector/cli/dmarcwatch}
SHIM=${SHIM:-$BUILDDIR/t/milter/fault-inject.so}
CLIENT="python3 $SRCDIR/t/lib/milter-client.py"
[ -f "$SHIM" ] || { echo "Bail out! $SHIM not built (make check builds it)"; exit 99; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dw-loop-failures.XXXXXX")
MPID=
cleanup() {
  [ -n "$MPID" ] && stop_pid "$MPID" 5
  [ -n "${KEEP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$TMP/db" "$TMP/tmp"
cat >"$TMP/milter.conf" <<EOF
Socket unix:$TMP/milter.sock
ReportAddress rua@example.test
Database $TMP/db
TempDirectory $TMP/tmp
MemoryBufferSize 64K
EOF
SOCK=$TMP/milter.sock

LD_PRELOAD=$SHIM DW_FAULT_EPOLL=5 DW_FAULT_ACCEPT=7 DW_FAULT_SEND=3 DW_FAULT_LIMIT=60 \
  "$MILTER" -c "$TMP/milter.conf" -f 2>"$TMP/milter.log" &
MPID=$!
wait_for 10 test -S "$SOCK" || { echo "Bail out! the milter did not listen"; cat "$TMP/milter.log"; exit 99; }

# Step 1: traffic while failures are injected: 60 plain and 20 report messages (the reports
# spill to the temp file: their body steps run on a worker too).
failed=0
for i in $(seq 1 80); do
  if [ $((i % 4)) -eq 0 ]; then
    out=$($CLIENT "$SOCK" report --timeout 5 --id "4QFAULT$i" --pad 100000)
  else
    out=$($CLIENT "$SOCK" plain --timeout 5 --id "4QFAULT$i")
  fi || { failed=$((failed + 1)); echo "# $out"; }
done
injected=$(grep -c -E 'closing an MTA connection|cannot take an MTA connection|cannot accept MTA connections' \
  "$TMP/milter.log")
echo "# $failed of 80 connections failed; $injected failure lines in the log"
check "the milter survived every injected failure" pid_alive "$MPID"
check "no more connections failed ($failed) than the 60 failures injected" test "$failed" -le 60
check "a refused epoll_ctl closed a connection (logged with its qid)" \
  grep -q -E 'closing an MTA connection qid=(conn-[0-9]+|4QFAULT[0-9]+) error="?epoll_ctl' "$TMP/milter.log"
check "a refused epoll_ctl on a new connection is logged and survived" \
  grep -q 'cannot take an MTA connection' "$TMP/milter.log"
check "accept out of descriptors pauses accepting, logged" \
  grep -q 'cannot accept MTA connections for now error="Too many open files"' "$TMP/milter.log"

# Step 2: the failures are used up: everything is answered again.
ok=0
for i in $(seq 1 10); do
  $CLIENT "$SOCK" plain --timeout 5 --id "4QAFTER$i" >/dev/null && ok=$((ok + 1))
done
check "after the failures, 10 of 10 plain messages accepted (got $ok)" test "$ok" -eq 10
ok=0
for i in 1 2 3; do
  $CLIENT "$SOCK" report --timeout 5 --id "4QLATE$i" --pad 100000 >/dev/null && ok=$((ok + 1))
done
check "after the failures, 3 of 3 report messages stored and answered (got $ok)" test "$ok" -eq 3
kill -TERM "$MPID"
wait "$MPID"
rc=$?
MPID=
check "SIGTERM ends the milter with exit status 0 (got $rc)" test "$rc" -eq 0
printf 'Database %s\n' "$TMP/db" >"$TMP/cli.conf"
late=$("$DMARCWATCH" -c "$TMP/cli.conf" reports --json | grep -o '"4QLATE[0-9]-1"' | sort -u | wc -l)
check "the 3 late reports are in the store (got $late)" test "$late" -eq 3
summary
