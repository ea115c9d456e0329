#!/bin/bash
# start-identity.sh - how dmarcwatch-milter and dmarcwatchd start under systemd's User= (make check):
# the milter without a ReportAddress refuses to start (exit 2, saying so: the packaged unit stays
# down until the admin sets one); as root, both programs started as an unprivileged user (as
# User= starts them; setpriv here, PID 1 need not be systemd) run with UserID naming that user or
# unset, and stop at once with a clear message when UserID names another user.
#
# The real binaries in the foreground (-f), each with its own config under one temp dir; processes
# stopped by PID.  The identity steps skip (the rest still runs) unless root with setpriv and a
# `nobody` user that can reach the build tree.  Prints TAP-ish lines and "N passed, M failed".
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILDDIR=${BUILDDIR:-$SRCDIR}
. "$SRCDIR/t/lib/common.sh"
need_milter
DMARCWATCHD=${DMARCWATCHD:-$BUILDDIR/collector/daemon/dmarcwatchd}
[ -x "$DMARCWATCHD" ] || { echo "Bail out! $DMARCWATCHD not built"; exit 99; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dw-identity.XXXXXX")
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid" 5; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# config NAME [KEY VALUE]...: TMP/NAME.conf with its own store, socket and temp dir.
config() {
  local name=$1
  shift
  mkdir -p "$TMP/$name/db" "$TMP/$name/tmp"
  {
    echo "Socket unix:$TMP/$name/milter.sock"
    echo "Database $TMP/$name/db"
    echo "TempDirectory $TMP/$name/tmp"
    echo "Resolver none"
    echo "ServiceCatalog none"
    while [ $# -ge 2 ]; do echo "$1 $2"; shift 2; done
  } >"$TMP/$name.conf"
}

# refused NAME STATUS MESSAGE CMD...: CMD exits STATUS at once and says MESSAGE on stderr.
refused() {
  local name=$1 want=$2 message=$3 pid rc
  shift 3
  "$@" >"$TMP/$name.log" 2>&1 &
  pid=$!
  if wait_for 10 bash -c "! kill -0 $pid 2>/dev/null"; then
    wait "$pid"
    rc=$?
    [ "$rc" = "$want" ] && pass "$name exits $want" || fail "$name exit status $rc, want $want"
  else
    fail "$name is still running"
    PIDS+=("$pid")
  fi
  grep -qF "$message" "$TMP/$name.log" && pass "$name says: $message" ||
    { fail "$name's message"; sed 's/^/#   /' "$TMP/$name.log"; }
}

# started NAME READY CMD...: CMD stays up until READY (a command) succeeds; left running in PIDS.
started() {
  local name=$1 ready=$2 pid
  shift 2
  "$@" >"$TMP/$name.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  if wait_for 10 bash -c "$ready"; then
    check "$name starts and stays up" pid_alive "$pid"
  else
    fail "$name did not start"
    sed 's/^/#   /' "$TMP/$name.log"
  fi
}

# Step 1: no ReportAddress: the milter refuses, naming the file and the key; nothing listens.
config bare
refused "milter without ReportAddress" 2 "no ReportAddress configured in $TMP/bare.conf" \
  "$MILTER" -c "$TMP/bare.conf" -f
check "no socket left behind" not test -e "$TMP/bare/milter.sock"

# Step 2: as an unprivileged user, as systemd's User= starts the units.
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null || ! id nobody >/dev/null 2>&1; then
  echo "# SKIP identity steps: need root, setpriv and a nobody user"
  summary
  exit
fi
AS_NOBODY=(setpriv --reuid=nobody --regid=nogroup --init-groups --)
if ! "${AS_NOBODY[@]}" test -x "$MILTER" || ! "${AS_NOBODY[@]}" test -x "$DMARCWATCHD"; then
  echo "# SKIP identity steps: nobody cannot reach $BUILDDIR"
  summary
  exit
fi
chmod 755 "$TMP"
# UserID naming the user started as, and UserID unset: both run.
config same ReportAddress rua@example.test UserID nobody
config unset ReportAddress rua@example.test
chown -R nobody:nogroup "$TMP/same" "$TMP/unset"
started "milter as nobody, UserID nobody" "python3 -c 'import socket; socket.socket(socket.AF_UNIX).connect(\"$TMP/same/milter.sock\")'" \
  "${AS_NOBODY[@]}" "$MILTER" -c "$TMP/same.conf" -f
started "milter as nobody, UserID unset" "test -S $TMP/unset/milter.sock" \
  "${AS_NOBODY[@]}" "$MILTER" -c "$TMP/unset.conf" -f
check "the store is nobody's" test "$(stat -c %U "$TMP/same/db/data.mdb" 2>/dev/null)" = nobody
started "dmarcwatchd as nobody, UserID nobody" "test -S $TMP/same/db/dmarcwatchd.sock" \
  "${AS_NOBODY[@]}" "$DMARCWATCHD" -c "$TMP/same.conf" -f
for pid in "${PIDS[@]}"; do stop_pid "$pid" 5; done
PIDS=()

# UserID naming another user: both stop at once, naming both users.
config other ReportAddress rua@example.test UserID root
chown -R nobody:nogroup "$TMP/other"
refused "milter as nobody, UserID root" 1 "UserID root: started as user nobody, not root, so cannot switch" \
  "${AS_NOBODY[@]}" "$MILTER" -c "$TMP/other.conf" -f
check "its socket is removed" not test -e "$TMP/other/milter.sock"
refused "dmarcwatchd as nobody, UserID root" 1 "UserID root: started as user nobody, not root, so cannot switch" \
  "${AS_NOBODY[@]}" "$DMARCWATCHD" -c "$TMP/other.conf" -f

summary
