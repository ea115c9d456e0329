#!/bin/bash
# socket-safety.sh - a second dmarcwatch-milter never takes over a live one's socket or pid
# file; a stale socket (a crash) is replaced; inet:PORT without a host listens on loopback only;
# as root with UserID, the socket is that user's with SocketMode (make check).
#
# The real binary, each instance in the foreground (-f) with its own log, under one temp dir;
# processes stopped by PID.  Prints TAP-ish lines and "N passed, M failed".
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILDDIR=${BUILDDIR:-$SRCDIR}
. "$SRCDIR/t/lib/common.sh"
need_milter

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dw-socket.XXXXXX")
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid" 5; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# config NAME SOCKET: a config file for an instance.
config() {
  mkdir -p "$TMP/$1/db" "$TMP/$1/tmp"
  cat >"$TMP/$1.conf" <<EOF
Socket $2
PidFile $TMP/milter.pid
ReportAddress rua@example.test
Database $TMP/$1/db
TempDirectory $TMP/$1/tmp
Resolver none
EOF
}

# answers SOCKETPATH: a milter accepts a connection on the unix socket.
answers() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
s.connect(sys.argv[1])
PY
}

# expect_refused NAME CONF MESSAGE: an instance with CONF.conf exits 1 at once, saying MESSAGE.
expect_refused() {
  local name=$1 log=$TMP/$1.log pid rc
  "$MILTER" -c "$TMP/$2.conf" -f >"$log" 2>&1 &
  pid=$!
  if wait_for 5 bash -c "! kill -0 $pid 2>/dev/null"; then
    wait "$pid"
    rc=$?
    [ "$rc" = 1 ] && pass "$name exits 1" || fail "$name exit status $rc, want 1"
  else
    fail "$name is still running: it took over what another milter holds"
    PIDS+=("$pid")
  fi
  grep -qF "$3" "$log" && pass "$name says: $3" || { fail "$name's message"; sed 's/^/#   /' "$log"; }
}

# Step 1: A runs; B with the same socket and pid file exits 1 at once, A is untouched.
config a "unix:$TMP/milter.sock"
"$MILTER" -c "$TMP/a.conf" -f >"$TMP/a.log" 2>&1 &
A=$!
PIDS+=("$A")
wait_file "$TMP/milter.sock" 10 || { fail "instance A did not start"; cat "$TMP/a.log"; summary; exit 1; }
check "A answers on its socket" answers "$TMP/milter.sock"
expect_refused B a "Address already in use (another milter is listening on it; not taken over)"
check "A still answers" answers "$TMP/milter.sock"
check "A is alive" pid_alive "$A"
[ "$(cat "$TMP/milter.pid" 2>/dev/null)" = "$A" ] && pass "the pid file still names A" || fail "pid file changed"

# Step 2: the pid file of a live process is not overwritten (another socket this time).
config c "unix:$TMP/other.sock"
expect_refused C c "names running process $A"

# Step 3: A dies without cleaning up (SIGKILL): its socket and pid file are stale; D replaces them.
kill -KILL "$A"
wait "$A" 2>/dev/null
[ -S "$TMP/milter.sock" ] && pass "a crashed milter's socket is left" || fail "no stale socket to test with"
"$MILTER" -c "$TMP/a.conf" -f >"$TMP/d.log" 2>&1 &
D=$!
PIDS+=("$D")
if wait_for 10 answers "$TMP/milter.sock" && pid_alive "$D"; then
  pass "D replaces the stale socket and answers"
else
  fail "D did not take the stale socket"; sed 's/^/#   /' "$TMP/d.log"
fi
wait_for 5 bash -c "[ \"\$(cat '$TMP/milter.pid' 2>/dev/null)\" = $D ]" && pass "the stale pid file names D now" \
  || fail "pid file: $(cat "$TMP/milter.pid" 2>/dev/null)"
stop_pid "$D" 5

# Step 4: inet:PORT without a host listens on 127.0.0.1 only.
port=$(free_ports 1)
config e "inet:$port"
"$MILTER" -c "$TMP/e.conf" -f >"$TMP/e.log" 2>&1 &
E=$!
PIDS+=("$E")
if wait_tcp "$port" 10; then
  hexPort=$(printf '%04X' "$port")
  bound=$(awk -v p=":$hexPort" '$2 ~ p"$" && $4 == "0A" { print $2 }' /proc/net/tcp)
  [ "$bound" = "0100007F:$hexPort" ] && pass "inet:$port listens on 127.0.0.1 only" \
    || fail "inet:$port listens on $bound, want 0100007F:$hexPort"
else
  fail "inet:$port: nothing listening"; sed 's/^/#   /' "$TMP/e.log"
fi
stop_pid "$E" 5

# Step 5 (root with a user "nobody" only): UserID: the socket is handed to that user (lchown,
# never a symbolic link's target) with SocketMode as bind made it.
if [ "$(id -u)" = 0 ] && getent passwd nobody > /dev/null; then
  chmod 755 "$TMP"
  mkdir -p "$TMP/f/db" "$TMP/f/tmp" "$TMP/f/run"
  chown nobody "$TMP/f/db" "$TMP/f/tmp" "$TMP/f/run"
  cat >"$TMP/f.conf" <<EOF
Socket unix:$TMP/f/run/milter.sock
SocketMode 0640
UserID nobody
PidFile $TMP/f/run/milter.pid
ReportAddress rua@example.test
Database $TMP/f/db
TempDirectory $TMP/f/tmp
Resolver none
EOF
  "$MILTER" -c "$TMP/f.conf" -f >"$TMP/f.log" 2>&1 &
  F=$!
  PIDS+=("$F")
  if wait_for 10 answers "$TMP/f/run/milter.sock"; then
    check "UserID: the socket is owned by nobody with SocketMode 0640" \
      test "$(stat -c %U:%a "$TMP/f/run/milter.sock")" = nobody:640
  else
    fail "F (UserID nobody) did not answer"; sed 's/^/#   /' "$TMP/f.log"
  fi
  stop_pid "$F" 5
else
  echo "# skipped step 5: not root, or no user nobody"
fi

summary
