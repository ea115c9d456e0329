#!/bin/bash
# stall.sh - nothing blocks dmarcwatch-milter's event loop: with its log target stalled and
# with its temp file system frozen, other MTA connections are still answered (make check).
#
#   stall.sh     (root only: a private mount namespace, /dev/log, a loop-mounted ext4, fsfreeze)
#
# The real binary runs as a daemon (with -f it would log to stderr, whatever SyslogTarget
# says) logging through syslog(3) to this namespace's /dev/log, a socket of devlog-sink.py.
# t/lib/milter-client.py plays Postfix.  A plain connection counts as answered when the
# milter's accept at DATA arrives within LIMIT_MS (1000) of the connect.
#   1. Log stall: the sink is SIGSTOPped, so syslog(3) blocks once the socket's queue
#      (net.unix.max_dgram_qlen datagrams) is full.  Malformed connections log from the event
#      loop, report messages from the workers: more lines than the kernel's and the milter's
#      queue (4096) hold.  Plain connections are answered, the malformed ones closed, the
#      reports stored and answered; after SIGCONT every line logged meanwhile arrives or is
#      counted in "log lines dropped count=N".
#   2. Disk stall: TempDirectory is a loop-mounted ext4, frozen (fsfreeze -f); a report larger
#      than MemoryBufferSize spills there and blocks in the kernel (a milter thread in state
#      D).  Plain connections are answered, five times over 2.5 s; after fsfreeze -u the
#      report is answered "stored" and is in the store.
#   3. The loop survives each failure class: a malformed packet, a client gone mid-message
#      (ECONNRESET), one gone while its end of message runs on a worker (the report is still
#      stored), one that never reads its replies; after each a new plain connection is
#      answered.  SIGTERM stops the milter.
# The file system is thawed in the EXIT trap (whatever touches a frozen one hangs in state D,
# unkillable) and by a watchdog after 30 s should this script be killed outright.  Every
# wait is bounded, also against a milter that blocks (MILTER=an older binary: its probes time
# out after 3 s each and a run takes about 80 s instead of 20).  Prints
# TAP-ish lines and "N passed, M failed"; exit 77 (skip) when not root or without unshare,
# a loop device or fsfreeze.  Processes: only the PIDs this script starts.
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILDDIR=${BUILDDIR:-$SRCDIR}
DMARCWATCH=${DMARCWATCH:-$BUILDDIR/collector/cli/dmarcwatch}
LIMIT_MS=${LIMIT_MS:-1000}

# Run again in a private mount namespace (the mounts, and the /dev/log, are nobody else's
# and go away with us).
. "$SRCDIR/t/lib/common.sh"
export SRCDIR BUILDDIR DMARCWATCH LIMIT_MS MILTER
private_mount_ns "stall.sh needs root (mounts, /dev/log, fsfreeze)" \
  unshare mount umount mountpoint mkfs.ext4 fsfreeze python3 -- "$0" "$@"
[ -x "$DMARCWATCH" ] || { echo "Bail out! $DMARCWATCH not built"; exit 99; }
need_milter

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dw-stall.XXXXXX")
SPILL=$TMP/spill
MPID=
DEVLOG_PID=
FROZEN=
THAW_PID=
cleanup() {
  if [ -n "$FROZEN" ]; then fsfreeze -u "$SPILL"; fi
  if [ -n "$THAW_PID" ]; then kill "$THAW_PID" 2>/dev/null; wait "$THAW_PID" 2>/dev/null; fi
  if [ -n "$DEVLOG_PID" ]; then kill -CONT "$DEVLOG_PID" 2>/dev/null; fi
  if [ -n "$MPID" ]; then stop_pid "$MPID" 10; fi
  if [ -n "$DEVLOG_PID" ]; then stop_pid "$DEVLOG_PID" 5; fi
  if mountpoint -q "$SPILL"; then umount "$SPILL"; fi
  if mountpoint -q "$TMP"; then umount "$TMP"; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Set-up: all on a tmpfs (the store's many commits cost no disk); TempDirectory is an ext4
# image on it, loop-mounted, that fsfreeze can freeze.  /dev/log comes last: without a host
# /dev/log it replaces /dev (and the loop devices with it) in this namespace.
mount -t tmpfs -o size=128m,mode=0755 dw-stall "$TMP" 2>"$TMP.err" || {
  echo "SKIP: cannot mount a tmpfs here: $(cat "$TMP.err")"; rm -f "$TMP.err"; exit 77; }
rm -f "$TMP.err"
mkdir -p "$SPILL" "$TMP/db"
{ truncate -s 16M "$TMP/spill.img" && mkfs.ext4 -q -F "$TMP/spill.img" &&
  mount -o loop "$TMP/spill.img" "$SPILL"; } >"$TMP/setup.err" 2>&1 || {
  echo "SKIP: cannot loop-mount an ext4 image here: $(tr '\n' ' ' <"$TMP/setup.err")"; exit 77; }
{ fsfreeze -f "$SPILL" && fsfreeze -u "$SPILL"; } >"$TMP/setup.err" 2>&1 || {
  echo "SKIP: fsfreeze does not work here: $(tr '\n' ' ' <"$TMP/setup.err")"; exit 77; }
private_devlog "$TMP" >"$TMP/setup.err" 2>&1 || {
  echo "SKIP: cannot give this namespace its own /dev/log: $(tr '\n' ' ' <"$TMP/setup.err")"; exit 77; }

cat >"$TMP/milter.conf" <<EOF
Socket unix:$TMP/milter.sock
PidFile $TMP/milter.pid
ReportAddress rua@example.test
Database $TMP/db
TempDirectory $SPILL
MemoryBufferSize 64K
MaxMimeParts 5000
Resolver none
SyslogTarget /dev/log
EOF

client() { python3 "$SRCDIR/t/lib/milter-client.py" "$TMP/milter.sock" "$@"; }
ms_of() { sed -n 's/.* ms=\([0-9]*\).*/\1/p' <<<"$1"; }

# answered WHAT: a plain MTA connection gets its accept within LIMIT_MS.
answered() {
  local out ms
  out=$(client plain --id "4QPLAIN$NTEST" --timeout 3)
  ms=$(ms_of "$out")
  if [ "${out#plain ok }" != "$out" ] && [ "$ms" -le "$LIMIT_MS" ]; then
    pass "$1: a plain MTA connection is answered ($ms ms)"
  else
    fail "$1: plain MTA connection: $out (limit $LIMIT_MS ms)"
  fi
}

# clients NAME N ARGS...: N clients at once, '%i' in ARGS replaced by 1..N; their lines in
# TMP/NAME.out.  Waited for by PID (never a bare wait: the stopped sink is our child too).
clients() {
  local name=$1 n=$2 i pids=()
  shift 2
  for ((i = 1; i <= n; i++)); do
    client "${@//%i/$i}" >"$TMP/$name.$i" &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i"; done
  cat "$TMP/$name".* >"$TMP/$name.out"
}

# all_ok NAME N WHAT: all N clients of NAME succeeded; the slowest one's time is named.
all_ok() {
  local ok max
  ok=$(grep -c " ok " "$TMP/$1.out")
  max=$(ms_of "$(cat "$TMP/$1.out")" | sort -n | tail -n 1)
  if [ "$ok" -eq "$2" ]; then
    pass "$3 ($2 of $2, slowest $max ms)"
  else
    fail "$3: $ok of $2"
    grep -v " ok " "$TMP/$1.out" | sort | uniq -c | sed 's/^/#   /' | head -n 5
  fi
}

# stored PREFIX: how many stored reports have an id starting with PREFIX.
stored() {
  "$DMARCWATCH" -c "$TMP/milter.conf" reports --json 2>/dev/null | python3 -c '
import json, sys
print(sum(r["report_id"].startswith(sys.argv[1]) for r in json.load(sys.stdin)["reports"]))' "$1"
}

# blocked_threads: the milter's threads in state D, with what they wait for ("TID:wchan ...").
blocked_threads() {
  local task
  for task in /proc/"$MPID"/task/*; do
    [ "$(sed 's/.*) //' "$task/stat" 2>/dev/null | cut -d' ' -f1)" = D ] &&
      printf '%s:%s ' "${task##*/}" "$(cat "$task/wchan" 2>/dev/null)"
  done
}

# Start: the daemon's pid file, then its first line through /dev/log.
"$MILTER" -c "$TMP/milter.conf" 2>"$TMP/milter.err" || {
  echo "Bail out! the milter did not start: $(cat "$TMP/milter.err")"; exit 99; }
wait_file "$TMP/milter.pid" 10 && MPID=$(cat "$TMP/milter.pid")
[ -n "$MPID" ] && wait_for 10 grep -q "dmarcwatch-milter.*: started" "$TMP/syslog" || {
  echo "Bail out! no pid file or no 'started' line through /dev/log"; exit 99; }
pass "the milter runs as a daemon (pid $MPID) and logs through this namespace's /dev/log"

# Part 1: the log target stalls.  Lines logged from here on are counted against the sink.
qlen=$(cat /proc/sys/net/unix/max_dgram_qlen 2>/dev/null || echo 512)
perMessage=$(((4096 + qlen + 600) / 3))
mark=$(wc -l <"$TMP/syslog")
kill -STOP "$DEVLOG_PID"
echo "# ${SECONDS}s: log sink stopped; kernel queue $qlen datagrams, then 3 x $perMessage report lines"
# From the event loop: 30 connections closed for a malformed packet (20 logged, the rest
# rate-limited).  Blocking syslog(3) would hold the loop from about the qlen-th on.
clients malformed 30 malformed --timeout 3
all_ok malformed 30 "log stalled: malformed connections closed at once"
answered "log stalled"
# From the workers: one "report message" line per report, while plain connections come in.
clients reports 3 report --id "4QLOG%i" --reports "$perMessage" --timeout 20 &
reportsPid=$!
for i in 1 2 3 4 5; do
  sleep 0.3
  answered "log stalled, reports in progress ($i)"
done
wait "$reportsPid"
all_ok reports 3 "log stalled: report messages stored and answered"
answered "log stalled, milter's log queue overflowed"
check "the milter is alive" pid_alive "$MPID"

# The sink reads again: every line logged while it was stopped (20 "closing" lines, the
# rate limit, and one per report) arrives or is counted as dropped.
kill -CONT "$DEVLOG_PID"
want=$((20 + 3 * perMessage))
accounted() {
  delivered=$(tail -n +"$((mark + 1))" "$TMP/syslog" | grep -c -e "closing an MTA connection" -e "report message qid=")
  dropped=$(tail -n +"$((mark + 1))" "$TMP/syslog" | sed -n 's/.*log lines dropped count=\([0-9]*\).*/\1/p' |
    awk '{ n += $1 } END { print n + 0 }')
  [ $((delivered + dropped)) -eq "$want" ]
}
if wait_for 15 accounted && [ "$dropped" -gt 0 ]; then
  pass "after SIGCONT: $delivered lines delivered + $dropped counted as dropped = the $want logged"
else
  fail "after SIGCONT: $delivered lines delivered, $dropped counted as dropped; want $want in all, some dropped"
fi
got=$(stored 4QLOG)
[ "$got" = $((3 * perMessage)) ] && pass "the store holds the $got reports" ||
  fail "the store holds $got of the $((3 * perMessage)) reports"

# Part 2: the temp file system freezes under a report that spills to it.
(sleep 30 & s=$!; trap 'kill $s; exit 0' TERM; wait $s; fsfreeze -u "$SPILL" 2>/dev/null) &
THAW_PID=$!
fsfreeze -f "$SPILL" && FROZEN=1
echo "# ${SECONDS}s: $SPILL frozen"
client report --id 4QBIG --pad 300000 --timeout 30 >"$TMP/big.out" &
bigPid=$!
blocked() { [ -n "$(blocked_threads)" ]; }
if wait_for 10 blocked; then
  pass "disk frozen: the report's spill blocks a milter thread (state D: $(blocked_threads))"
else
  fail "disk frozen: no milter thread blocked; the spill did not reach the frozen file system"
fi
for i in 1 2 3 4 5; do
  answered "disk frozen ($i)"
  sleep 0.5
done
check "disk frozen: the big report is still waiting" pid_alive "$bigPid"
fsfreeze -u "$SPILL" && FROZEN=
kill "$THAW_PID" 2>/dev/null
wait "$THAW_PID" 2>/dev/null
THAW_PID=
wait "$bigPid"
big=$(cat "$TMP/big.out")
[ "${big#report ok }" != "$big" ] && pass "thawed: the big report is answered stored + accept ($big)" ||
  fail "thawed: big report: $big"
got=$(stored 4QBIG)
[ "$got" = 1 ] && pass "the big report is in the store" || fail "the big report is not in the store ($got)"

# Part 3: after each kind of failing client the loop still serves the next MTA connection.
echo "# ${SECONDS}s: failing clients"
for action in malformed vanish-mid vanish-eom; do
  out=$(client "$action" --id "4QGONE-$action" --timeout 3)
  [ "${out#"$action" ok }" != "$out" ] && pass "client: $out" || fail "client: $out"
  answered "after $action"
done
storedGone() { [ "$(stored 4QGONE-vanish-eom)" = 1 ]; }
wait_for 5 storedGone && pass "the report whose client vanished at its end is stored" ||
  fail "the report whose client vanished at its end is not stored"
client no-read --messages 100000 --timeout 3 >"$TMP/no-read.out" &
noReadPid=$!
sleep 1
answered "a client never reads its replies"
wait "$noReadPid"
answered "after a client that never read its replies"

# The end: SIGTERM stops it, and it says so.
echo "# ${SECONDS}s: stopping"
kill -TERM "$MPID"
gone() { ! pid_alive "$MPID"; }
if wait_for 10 gone; then
  pass "SIGTERM stops the milter"
  MPID=
else
  fail "the milter is still running 10 s after SIGTERM"
fi
wait_for 5 grep -q "dmarcwatch-milter.*: stopped" "$TMP/syslog" && pass "'stopped' logged" || fail "no 'stopped' line"

if [ "$FAILED" -gt 0 ]; then
  echo "# --- last lines through /dev/log ---"
  tail -n 20 "$TMP/syslog" | cut -c1-200 | sed 's/^/#   /'
fi
summary
