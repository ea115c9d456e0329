#!/bin/bash
# daemon-reload.sh - SIGHUP never kills the daemonized milter (make check): a relative -c path
# still names the file after the daemon moved to /, and a new configuration that fails (a
# syntax error, a log target whose host does not resolve, no ReportAddress) keeps the old one
# running.
#
# The milter runs as a daemon (no -f) and logs over UDP (RFC 5424) to a listener of this
# script; it is found by its PidFile and stopped by that PID.  TAP-ish lines, "N passed, M
# failed".
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILDDIR=${BUILDDIR:-$SRCDIR}
. "$SRCDIR/t/lib/common.sh"
need_milter

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dw-reload.XXXXXX")
MPID=
LPID=
cleanup() {
  [ -n "$MPID" ] && stop_pid "$MPID" 5
  [ -n "$LPID" ] && stop_pid "$LPID" 5
  [ -n "${KEEP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The log listener: every datagram, one line, into log.txt.
port=$(free_ports 1)
udp_log_listener "$port" "$TMP/log.txt"
LPID=$LOG_LISTENER_PID
wait_file "$TMP/log.txt.ready" 10 || { echo "Bail out! the log listener did not start"; exit 99; }

mkdir -p "$TMP/conf" "$TMP/db" "$TMP/tmp"
good() {
  cat >"$TMP/conf/milter.conf" <<EOF
Socket unix:$TMP/milter.sock
PidFile $TMP/milter.pid
ReportAddress rua@example.test
Database $TMP/db
TempDirectory $TMP/tmp
Resolver none
SyslogTarget udp:127.0.0.1:$port
EOF
}
good

# logged TEXT N: the log has at least N lines with TEXT (within 5 s).
logged() { wait_for 5 bash -c "n=\$(grep -c -F '$1' '$TMP/log.txt' 2>/dev/null); [ \"\${n:-0}\" -ge $2 ]"; }

# Step 1: started as a daemon with a relative -c path.
(cd "$TMP/conf" && "$MILTER" -c milter.conf) || { fail "the milter did not start as a daemon"; summary; exit 1; }
wait_file "$TMP/milter.pid" 10 && MPID=$(cat "$TMP/milter.pid")
[ -n "$MPID" ] && pid_alive "$MPID" && pass "daemon running (pid $MPID)" || { fail "no daemon"; summary; exit 1; }

# Step 2: SIGHUP with the same file, named relatively at start: reloaded.
kill -HUP "$MPID"
logged "configuration reloaded" 1 && pass "SIGHUP reloads the file named by a relative -c path" \
  || { fail "no reload logged"; sed 's/^/#   /' "$TMP/log.txt"; }

# Step 3: a syntax error: the old configuration stays, the daemon runs.
echo "NoSuchKey 1" >>"$TMP/conf/milter.conf"
kill -HUP "$MPID"
logged "reload failed, keeping the old configuration" 1 && pass "a bad file: reload failed, old configuration kept" \
  || fail "bad file: no failure logged"
check "alive after a bad file" pid_alive "$MPID"

# Step 4: a log target whose host does not resolve: the same.
good
sed -i "s/^SyslogTarget .*/SyslogTarget udp:no-such-host.invalid:514/" "$TMP/conf/milter.conf"
kill -HUP "$MPID"
logged "reload failed, keeping the old configuration" 2 && pass "an unresolvable log host: reload failed, logged to the old target" \
  || fail "unresolvable log host: no failure logged"
check "alive after an unresolvable log host" pid_alive "$MPID"

# Step 4b: no ReportAddress (start-up refuses that): the old configuration stays.
good
sed -i "/^ReportAddress /d" "$TMP/conf/milter.conf"
kill -HUP "$MPID"
logged "no ReportAddress in $TMP/conf/milter.conf" 1 \
  && pass "no ReportAddress: reload refused, naming the file" || fail "no ReportAddress: no refusal logged"
check "... not reloaded (one \"configuration reloaded\" so far)" \
  test "$(grep -c -F "configuration reloaded" "$TMP/log.txt")" = 1
check "alive after a file without ReportAddress" pid_alive "$MPID"

# Step 5: the good file again, and a clean stop.
good
kill -HUP "$MPID"
logged "configuration reloaded" 2 && pass "reloads again once the file is good" || fail "no second reload"
check "the socket still answers" python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect('$TMP/milter.sock')"
stop_pid "$MPID" 5
pid_alive "$MPID" && fail "still running after SIGTERM" || pass "SIGTERM stops it"
MPID=

summary
