#!/bin/bash
# daemon-lifecycle.sh - dmarcwatchd as a daemon (make check): started in the background with
# DaemonPidFile and with -f; `dmarcwatch ingest` of a report wakes it within a second through
# DIR/dmarcwatchd.sock (PollInterval is 60 s, so nothing else can explain that pass); SIGHUP
# with a broken file keeps it running and logs why, with a good one reloads (a key that needs
# a restart is warned about); a second daemon on the same pid file or store refuses to start;
# SIGTERM stops it within a second, also in the middle of a pass that waits on DNS (Resolver
# on a loopback UDP port where nothing answers: 5 s per question), storing nothing half done;
# `dmarcwatch reindex` swapping the store directory under it is followed (the socket bound
# again); the pid file and the socket are gone at exit; a socket left by a killed daemon is taken over;
# SIGTERM ends --once early too (exit 1);
# as root, it runs as UserID (skipped otherwise).
#
# The daemonized one logs over UDP (RFC 5424) to a listener of this script, which stamps each
# line with its arrival time; -f ones log to stderr.  Processes are stopped by their PIDs only.
# TAP-ish lines, "N passed, M failed".
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILDDIR=${BUILDDIR:-$SRCDIR}
DMARCWATCH=${DMARCWATCH:-$BUILDDIR/collector/cli/dmarcwatch}
DMARCWATCHD=${DMARCWATCHD:-$BUILDDIR/collector/daemon/dmarcwatchd}
. "$SRCDIR/t/lib/common.sh"
command -v python3 > /dev/null || { echo "SKIP: python3 not found"; exit 77; }
[ -x "$DMARCWATCH" ] && [ -x "$DMARCWATCHD" ] || { echo "Bail out! dmarcwatch or dmarcwatchd not built"; exit 99; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dw-daemon.XXXXXX")
chmod 755 "$TMP" # UserID's user must reach the store below
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid" 5; done
  [ -n "${KEEP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The log listener: every datagram one line, "ARRIVAL_MS TEXT", into log.txt.
lport=$(free_ports 1)
udp_log_listener "$lport" "$TMP/log.txt"
PIDS+=("$LOG_LISTENER_PID")
wait_file "$TMP/log.txt.ready" 10 || { echo "Bail out! the log listener did not start"; exit 99; }

# A UDP port where nothing answers: bound, never read (no ICMP refusal either).
python3 - "$TMP/hole.port" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
__import__("os").rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(3600)
PY
PIDS+=($!)
wait_file "$TMP/hole.port" 10 || { echo "Bail out! the silent UDP port did not open"; exit 99; }
hole=$(cat "$TMP/hole.port")

# Reports: mails of 5 records each, every record its own source IP.
python3 "$SRCDIR/t/lib/make-reports.py" "$TMP/reports" --count 7 --records 5 --distinct-ips --prefix lifecycle \
  > /dev/null || { echo "Bail out! make-reports.py failed"; exit 99; }

mkdir -p "$TMP/run" "$TMP/db" "$TMP/db2" "$TMP/db3"
# conf FILE DB [KEY VALUE]...: a configuration (Resolver none, PollInterval 60s, the UDP log
# listener), each KEY given replacing the default or added.
conf() {
  local file=$1 db=$2 key
  shift 2
  declare -A value=([Database]=$db [Resolver]=none [SyslogTarget]="udp:127.0.0.1:$lport"
    [ServiceCatalog]="$SRCDIR/contrib/services" [DaemonPidFile]="$TMP/run/dmarcwatchd.pid" [PollInterval]=60s)
  while [ $# -ge 2 ]; do value[$1]=$2; shift 2; done
  for key in "${!value[@]}"; do echo "$key ${value[$key]}"; done > "$file"
}
# logged TEXT N [FILE]: FILE (log.txt) has at least N lines with TEXT, within 5 s.
logged() {
  wait_for 5 bash -c "n=\$(grep -c -F -- '$1' '${3:-$TMP/log.txt}' 2>/dev/null); [ \"\${n:-0}\" -ge $2 ]"
}
count() { grep -c -F -- "$1" "${2:-$TMP/log.txt}" 2>/dev/null || true; }
# stopped_within MS PID: the process is gone (not even a zombie) within MS milliseconds.
stopped_within() {
  local limit=$1 pid=$2 start
  start=$(now_ms)
  while pid_alive "$pid"; do
    [ $(($(now_ms) - start)) -gt "$limit" ] && return 1
    sleep 0.01
  done
  STOP_MS=$(($(now_ms) - start))
}
# foreground CONF ERRFILE: dmarcwatchd -c CONF -f in the background, stderr to ERRFILE; FG_PID.
foreground() {
  "$DMARCWATCHD" -c "$1" -f 2> "$2" &
  FG_PID=$!
  PIDS+=("$FG_PID")
}
# wake_latency LOGFILE REPORT: ingest REPORT into TMP/db, then the ms from the ingest's end to the first new
# "pass trigger=notified" line (log.txt lines carry their arrival; stderr files are polled).
wake_latency() {
  local file=$1 before end line at
  before=$(count "pass trigger=notified" "$file")
  "$DMARCWATCH" -c "$TMP/cli.conf" ingest "$2" > /dev/null 2>&1 || { echo "ingest failed"; return 1; }
  end=$(now_ms)
  while [ $(($(now_ms) - end)) -lt 3000 ]; do
    if [ "$(count "pass trigger=notified" "$file")" -gt "$before" ]; then
      at=$(now_ms)
      if [ "$file" = "$TMP/log.txt" ]; then
        line=$(grep -F "pass trigger=notified" "$file" | sed -n "$((before + 1))p")
        at=${line%% *}
      fi
      echo $((at - end))
      return 0
    fi
    sleep 0.005
  done
  echo "none within 3 s"
  return 1
}

# Step 1: daemonized, with DaemonPidFile.  (The CLI has a file of its own: the daemon's is
# broken on purpose in step 4.)
CONF=$TMP/dmarcwatch.conf
conf "$CONF" "$TMP/db"
conf "$TMP/cli.conf" "$TMP/db"
if "$DMARCWATCHD" -c "$CONF" 2> "$TMP/start.err"; then pass "dmarcwatchd daemonizes with status 0"
else fail "dmarcwatchd daemonizes with status 0"; sed 's/^/#   /' "$TMP/start.err"; fi
DPID=
wait_file "$TMP/run/dmarcwatchd.pid" 5 && DPID=$(cat "$TMP/run/dmarcwatchd.pid")
if [ -n "$DPID" ] && pid_alive "$DPID"; then PIDS+=("$DPID"); pass "the pid file names the running daemon ($DPID)"
else fail "no daemon behind the pid file"; summary; exit 1; fi
check "it logs its start" logged "started database=$TMP/db" 1
check "and its first (full) pass" logged "pass trigger=start full=yes" 1
check "the store's socket exists, mode 660" test "$(stat -c %A "$TMP/db/dmarcwatchd.sock" 2>/dev/null)" = srw-rw----

# Step 2: a stored report wakes it within a second (PollInterval is 60 s).
sleep 0.5
check "no pass without a reason before the ingest" test "$(count "pass trigger=")" -eq 1
if latency=$(wake_latency "$TMP/log.txt" "$TMP/reports/report-1.eml") && [ "$latency" -lt 1000 ]; then
  pass "an ingest wakes the daemon in $latency ms (< 1000)"
else fail "an ingest wakes the daemon within a second ($latency)"; fi
check "the notified pass enriched the report's 5 sources" \
  grep -q 'pass trigger=notified full=no result="new_reports=1 sources=5 enriched=5' "$TMP/log.txt"
latency2=$(wake_latency "$TMP/log.txt" "$TMP/reports/report-2.eml")
check "a second ingest wakes it too ($latency2 ms)" test "${latency2%% *}" -lt 1000 2>/dev/null

# Step 2b: `dmarcwatch reindex` swaps the store directory under the running daemon (between
# passes it holds no store): its socket moves away with the old directory; the daemon binds
# it again in the new one within a second or so, and the next ingest wakes it as before.
before=$(count "pass trigger=notified")
if "$DMARCWATCH" -c "$TMP/cli.conf" reindex > "$TMP/reindex.out" 2>&1; then pass "reindex runs beside the daemon"
else fail "reindex runs beside the daemon"; sed 's/^/#   /' "$TMP/reindex.out"; fi
check "the daemon binds its socket in the new store directory" wait_for 3 test -S "$TMP/db/dmarcwatchd.sock"
check "... and runs a pass for the swapped store" logged "pass trigger=notified" $((before + 1))
latency_r=$(wake_latency "$TMP/log.txt" "$TMP/reports/report-3.eml")
check "after reindex an ingest wakes it too ($latency_r ms)" test "${latency_r%% *}" -lt 1000 2>/dev/null

# Step 3: a second daemon on the same pid file, or on the same store, refuses to start.
"$DMARCWATCHD" -c "$CONF" > /dev/null 2> "$TMP/second.err"
status=$?
check "a second daemon with the same DaemonPidFile exits 1 (got $status)" test "$status" -eq 1
check "... saying the pid file names a running process" grep -q "names running process $DPID" "$TMP/second.err"
conf "$TMP/other-pid.conf" "$TMP/db" DaemonPidFile "$TMP/run/other.pid"
"$DMARCWATCHD" -c "$TMP/other-pid.conf" > /dev/null 2> "$TMP/third.err"
status=$?
check "a second daemon on the same store exits 1 (got $status)" test "$status" -eq 1
check "... saying the socket has a live receiver" grep -q "live receiver" "$TMP/third.err"
check "... and leaves no pid file behind" test ! -e "$TMP/run/other.pid"
check "the first one still runs" pid_alive "$DPID"
check "its pid file is untouched" test "$(cat "$TMP/run/dmarcwatchd.pid")" = "$DPID"

# Step 4: SIGHUP with a broken file: logged, the old configuration kept; then a good one.
echo "NoSuchKey 1" >> "$CONF"
kill -HUP "$DPID"
check "SIGHUP with a broken file logs the error" logged "reload failed, keeping the old configuration" 1
check "... and the daemon runs on" pid_alive "$DPID"
latency3=$(wake_latency "$TMP/log.txt" "$TMP/reports/report-7.eml")
check "... still woken by reports ($latency3 ms)" test "${latency3%% *}" -lt 1000 2>/dev/null
conf "$CONF" "$TMP/db" PollInterval 30s
kill -HUP "$DPID"
check "SIGHUP with a good file reloads it (PollInterval 30)" logged "configuration reloaded file=$CONF poll_interval=30" 1
conf "$CONF" "$TMP/db" PollInterval 30s Resolver "127.0.0.1@$hole"
kill -HUP "$DPID"
check "a changed Resolver is warned about: it needs a restart" logged "configuration change needs a restart key=Resolver" 1
check "... and the daemon runs on" pid_alive "$DPID"

# Step 5: SIGTERM: gone within a second, pid file and socket removed.
kill -TERM "$DPID"
if stopped_within 1000 "$DPID"; then pass "SIGTERM stops the daemon in $STOP_MS ms (< 1000)"
else fail "SIGTERM stops the daemon within a second"; fi
check "it logs its stop" logged "- - stopped" 1
check "the pid file is removed at exit" test ! -e "$TMP/run/dmarcwatchd.pid"
check "the socket is removed at exit" test ! -e "$TMP/db/dmarcwatchd.sock"

# Step 6: in the foreground (-f, log on stderr), woken the same way; a SIGTERM exit is status 0.
conf "$CONF" "$TMP/db" SyslogTarget stderr
foreground "$CONF" "$TMP/fg.err"
FPID=$FG_PID
check "-f: the daemon starts and logs to stderr" logged "pass trigger=start" 1 "$TMP/fg.err"
latency4=$(wake_latency "$TMP/fg.err" "$TMP/reports/report-4.eml")
check "-f: an ingest wakes it within a second ($latency4 ms)" test "${latency4%% *}" -lt 1000 2>/dev/null
check "-f: the pid file names it" test "$(cat "$TMP/run/dmarcwatchd.pid" 2>/dev/null)" = "$FPID"
kill -TERM "$FPID"
stopped_within 1000 "$FPID" && pass "-f: SIGTERM stops it in $STOP_MS ms" || fail "-f: SIGTERM stops it within a second"
wait "$FPID"
status=$?
check "-f: exit status 0 after SIGTERM (got $status)" test "$status" -eq 0

# Step 7: a killed daemon's socket file is taken over by the next one.
foreground "$CONF" "$TMP/killed.err"
logged "pass trigger=start" 1 "$TMP/killed.err"
{ kill -KILL "$FG_PID"; wait "$FG_PID"; } 2> /dev/null
check "SIGKILL leaves the socket file behind" test -S "$TMP/db/dmarcwatchd.sock"
foreground "$CONF" "$TMP/after-kill.err"
APID=$FG_PID
check "the next daemon starts over the stale socket (and the stale pid file)" logged "pass trigger=start" 1 "$TMP/after-kill.err"
latency5=$(wake_latency "$TMP/after-kill.err" "$TMP/reports/report-5.eml")
check "... and is woken through it ($latency5 ms)" test "${latency5%% *}" -lt 1000 2>/dev/null
stop_pid "$APID" 5

# Step 8: SIGTERM in the middle of a pass that waits on DNS (5 s per question).
conf "$TMP/slow.conf" "$TMP/db2" SyslogTarget stderr Resolver "127.0.0.1@$hole"
"$DMARCWATCH" -c "$TMP/slow.conf" ingest "$TMP/reports/report-6.eml" > /dev/null 2>&1
foreground "$TMP/slow.conf" "$TMP/slow.err"
SPID=$FG_PID
logged "started" 1 "$TMP/slow.err"
sleep 1
check "the daemon is up" pid_alive "$SPID"
check "its first pass is still waiting on DNS after 1 s" test "$(count "pass " "$TMP/slow.err")" -eq 0
kill -TERM "$SPID"
if stopped_within 1000 "$SPID"; then pass "SIGTERM mid-pass stops the daemon in $STOP_MS ms (< 1000)"
else fail "SIGTERM mid-pass stops the daemon within a second"; sed 's/^/#   /' "$TMP/slow.err"; fi
wait "$SPID"
status=$?
check "... with status 0 (got $status)" test "$status" -eq 0
check "... logging the pass as stopped" grep -q "pass stopped trigger=start" "$TMP/slow.err"
"$DMARCWATCH" -c "$TMP/slow.conf" db enrichment --json > "$TMP/slow-enrichment.json" 2>&1
check "... and storing none of its unfinished look-ups" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if not d["ips"] and not d["spf"] else 1)' "$TMP/slow-enrichment.json"
"$DMARCWATCHD" -c "$TMP/slow.conf" --once > "$TMP/once.out" 2> "$TMP/once.err" &
OPID=$!
PIDS+=("$OPID")
sleep 1
check "--once is still waiting on DNS after 1 s" pid_alive "$OPID"
kill -TERM "$OPID"
stopped_within 1000 "$OPID" && pass "SIGTERM ends --once in $STOP_MS ms" || fail "SIGTERM ends --once within a second"
wait "$OPID"
status=$?
check "... with status 1: its pass did not finish (got $status)" test "$status" -eq 1
check "the store verifies" bash -c '"$1" -c "$2" db verify > /dev/null' - "$DMARCWATCH" "$TMP/slow.conf"

# Step 9: UserID (root only): the daemon runs as that user, which removes its pid file at exit.
if [ "$(id -u)" = 0 ] && id nobody > /dev/null 2>&1; then
  chown nobody "$TMP/db3" "$TMP/run"
  conf "$TMP/user.conf" "$TMP/db3" UserID nobody
  if "$DMARCWATCHD" -c "$TMP/user.conf" 2> "$TMP/user.err"; then pass "as root with UserID nobody: started"
  else fail "as root with UserID nobody: started"; sed 's/^/#   /' "$TMP/user.err"; fi
  UPID=
  wait_file "$TMP/run/dmarcwatchd.pid" 5 && UPID=$(cat "$TMP/run/dmarcwatchd.pid")
  [ -n "$UPID" ] && PIDS+=("$UPID")
  check "it runs as nobody" test "$(ps -o user= -p "${UPID:-0}" 2>/dev/null)" = nobody
  check "its socket belongs to nobody" test "$(stat -c %U "$TMP/db3/dmarcwatchd.sock" 2>/dev/null)" = nobody
  check "its pid file belongs to nobody" test "$(stat -c %U "$TMP/run/dmarcwatchd.pid" 2>/dev/null)" = nobody
  kill -TERM "${UPID:-0}" 2> /dev/null
  stopped_within 1000 "${UPID:-0}" && pass "SIGTERM stops it in $STOP_MS ms" || fail "SIGTERM stops the UserID daemon"
  check "it removed its pid file" test ! -e "$TMP/run/dmarcwatchd.pid"
else
  echo "# not root (or no user nobody): the UserID part skipped"
fi

summary
