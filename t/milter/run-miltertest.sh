#!/bin/bash
# run-miltertest.sh - run the t/milter/*.lua scripts against the real
# dmarcwatch-milter binary (make check).
#
#   run-miltertest.sh [SCRIPT.lua ...]      (default: every t/milter/*.lua but lib.lua)
#
# For each script: a fresh temp dir with a config (the script's "-- config:"
# lines are appended; a key they set replaces the base line of that key, e.g.
# "-- config: MapSize 16M"), an empty store and a unix socket; the milter is started
# in the foreground (-f, log to a file), the script is run by miltertest, and
# the milter is stopped with SIGTERM, which must end it cleanly (exit 0)
# within 2 s.  A script with a "-- dump-messages" line gets the milter started with
# --dump-messages DIR (what the checks of report mail get, DIR/N.eml and
# N.envelope) and DIR as the miltertest variable "dump".
# Prints TAP-ish lines and "N passed, M failed"; on failure
# dumps the milter log.  Exit 77 (skip) without miltertest or python3.
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILDDIR=${BUILDDIR:-$SRCDIR}
MILTER=${MILTER:-$BUILDDIR/milter/dmarcwatch-milter}
DMARCWATCH=${DMARCWATCH:-$BUILDDIR/collector/cli/dmarcwatch}
MILTERTEST=${MILTERTEST:-$(command -v miltertest || true)}
PYTHON=${PYTHON:-$(command -v python3 || true)}

if [ -z "$MILTERTEST" ] || [ ! -x "$MILTERTEST" ]; then echo "SKIP: miltertest not installed (Debian package miltertest)"; exit 77; fi
if [ -z "$PYTHON" ]; then echo "SKIP: python3 not found"; exit 77; fi
[ -x "$MILTER" ] || { echo "Bail out! $MILTER not built"; exit 99; }

. "$SRCDIR/t/lib/common.sh"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dw-milter.XXXXXX")
MPID=
cleanup() {
  [ -n "$MPID" ] && stop_pid "$MPID" 5
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Test mail, generated once for every script.
"$PYTHON" "$SRCDIR/t/lib/make-reports.py" "$TMP/data" --count 60 --specials >/dev/null || {
  echo "Bail out! make-reports.py failed"; exit 99; }

if [ $# -eq 0 ]; then
  set -- $(ls "$SRCDIR"/t/milter/*.lua | grep -v '/lib\.lua$')
fi

start=$(now_ms)
for script in "$@"; do
  name=$(basename "$script" .lua)
  dir=$TMP/$name
  failedBefore=$FAILED
  mkdir -p "$dir/db" "$dir/tmp"
  sed -n 's/^-- config: //p' "$script" > "$dir/script.conf"
  # Base lines whose key the script sets are left out (keys are case-insensitive).
  awk 'FILENAME == ARGV[1] { over[tolower($1)] = 1; next } !(tolower($1) in over)' "$dir/script.conf" - \
    > "$dir/milter.conf" <<EOF
Socket unix:$dir/milter.sock
ReportAddress rua@example.test, @reports.example.test
Database $dir/db
MapSize 64M
TempDirectory $dir/tmp
EOF
  cat "$dir/script.conf" >> "$dir/milter.conf"

  dumpArgs=()
  if grep -q '^-- dump-messages' "$script"; then
    mkdir -p "$dir/dump"
    dumpArgs=(--dump-messages "$dir/dump")
  fi
  "$MILTER" -c "$dir/milter.conf" -f "${dumpArgs[@]}" > "$dir/milter.log" 2>&1 &
  MPID=$!
  if ! wait_file "$dir/milter.sock" 10; then
    fail "$name: milter did not start"; sed 's/^/#   /' "$dir/milter.log"; MPID=; continue
  fi

  # SocketMode (default 0660) is applied to the unix socket.
  wantMode=$(awk 'tolower($1) == "socketmode" { print $2 }' "$dir/script.conf"); wantMode=${wantMode:-0660}
  gotMode=0$(stat -c %a "$dir/milter.sock")
  [ "$gotMode" = "$wantMode" ] && pass "$name: socket mode $gotMode" || fail "$name: socket mode $gotMode, want $wantMode"

  "$MILTERTEST" -D sock="unix:$dir/milter.sock" -D data="$TMP/data" -D db="$dir/db" \
    -D log="$dir/milter.log" -D dmarcwatch="$DMARCWATCH" -D lib="$SRCDIR/t/milter/lib.lua" \
    -D conf="$dir/milter.conf" -D milterpid="$MPID" -D dump="$dir/dump" \
    -s "$script" > "$dir/out.txt" 2>&1
  rc=$?
  # Fold the script's own checks into our counts.
  fold_tap "$name" "$dir/out.txt"
  [ $rc -eq 0 ] || fail "$name: miltertest exit status $rc"

  # A clean, quick SIGTERM exit.
  t0=$(now_ms)
  kill -TERM "$MPID"
  wait "$MPID"
  mrc=$?
  ms=$(( $(now_ms) - t0 ))
  MPID=
  [ $mrc -eq 0 ] && [ $ms -lt 2000 ] && pass "$name: SIGTERM exit status 0 after ${ms} ms" \
    || fail "$name: SIGTERM exit status $mrc after ${ms} ms"
  [ ! -e "$dir/milter.sock" ] && pass "$name: socket removed at exit" || fail "$name: socket left behind"
  [ -z "$(ls -A "$dir/tmp")" ] && pass "$name: no temp files left" || fail "$name: temp files left in $dir/tmp"
  if [ "$FAILED" -gt "$failedBefore" ]; then
    echo "# --- milter log ($name) ---"; sed 's/^/#   /' "$dir/milter.log"
  fi
done
echo "# total $(( $(now_ms) - start )) ms"
summary
