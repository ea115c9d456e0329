#!/bin/bash
# full-disk.sh - a full file system is an error, never a crash (make check).
#
#   full-disk.sh        (root only: mounts two small tmpfs in a private mount namespace)
#
# The store directory is a small tmpfs, so filling it is quick and touches
# nothing else.  With the real binaries:
#   1. dmarcwatch ingest stores some reports; a filler file then takes all but
#      about 1.5 reports' worth of the free space;
#   2. ingesting more reports in one run ends with exit status 1, not a signal
#      (LMDB with MDB_WRITEMAP on a sparse data file died of SIGBUS here): the
#      first inputs are stored, the first failing input's JSON line names the
#      full disk, and the store holds exactly the inputs reported stored;
#   3. with the filler gone the failed inputs store, and `reports` and
#      `status` agree on the message totals of everything stored;
#      `db verify` finds the store exact after the full disk and after the retry (each
#      report's write also counts it against the per-day sender limits, issue 14: the
#      limits are set low enough to be looked at, high enough not to be reached);
#   4. dmarcwatch deliver on a full file system exits 75 (EX_TEMPFAIL: the MTA retries),
#      and the store still verifies;
#   5. dmarcwatch-milter on the refilled file system answers a report message
#      with 451 4.3.0, stays up, and stores the same message once there is
#      room again (t/e2e/full-disk.lua, through miltertest); SIGTERM still ends
#      it cleanly; `db verify` finds its store exact.
# Prints TAP-ish lines and "N passed, M failed".  Exit 77 (skip) when not
# root, without unshare/mount/python3, or when the namespace or the tmpfs
# cannot be made here.  Processes: only the PIDs this script starts.
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILDDIR=${BUILDDIR:-$SRCDIR}
DMARCWATCH=${DMARCWATCH:-$BUILDDIR/collector/cli/dmarcwatch}
MILTER=${MILTER:-$BUILDDIR/milter/dmarcwatch-milter}
MILTERTEST=${MILTERTEST:-$(command -v miltertest || true)}
FS_SIZE=12m
FS2_SIZE=16m

# Step 1: run this script again in a private mount namespace (the tmpfs is invisible to the
# rest of the system and goes away with us).
. "$SRCDIR/t/lib/common.sh"
export SRCDIR BUILDDIR DMARCWATCH MILTER MILTERTEST
private_mount_ns "full-disk.sh needs root (it mounts a tmpfs in a private mount namespace)" \
  unshare mount umount python3 -- "$0" "$@"
[ -x "$DMARCWATCH" ] || { echo "Bail out! $DMARCWATCH not built"; exit 99; }
export LC_ALL=C # sort as python3 does

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dw-full-disk.XXXXXX")
DB=$TMP/db
MPID=
cleanup() {
  [ -n "$MPID" ] && stop_pid "$MPID" 5
  mountpoint -q "$DB" && umount "$DB"
  mountpoint -q "$DB2" && umount "$DB2"
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$DB" "$TMP/tmp"
DB2=$TMP/db2
mkdir -p "$DB" "$DB2"
mount -t tmpfs -o size=$FS_SIZE,mode=0750 dw-full-disk "$DB" 2>"$TMP/mount.err" &&
  mount -t tmpfs -o size=$FS2_SIZE,mode=0750 dw-full-disk2 "$DB2" 2>>"$TMP/mount.err" || {
  echo "SKIP: cannot mount a tmpfs here: $(cat "$TMP/mount.err")"; exit 77; }

# Reports whose records all have source IPs of their own: each adds about 200 KiB to the store.
python3 "$SRCDIR/t/lib/make-reports.py" "$TMP/a" --count 4 --first 1 --records 2000 --distinct-ips >/dev/null &&
  python3 "$SRCDIR/t/lib/make-reports.py" "$TMP/b" --count 10 --first 5 --records 2000 --distinct-ips >/dev/null &&
  python3 "$SRCDIR/t/lib/make-reports.py" "$TMP/c" --count 1 --first 15 --records 20000 --distinct-ips >/dev/null || {
  echo "Bail out! make-reports.py failed"; exit 99; }
# The map starts small and doubles; the data file is allocated up to the map (no holes under
# the write map), so the file system fills when the map cannot double any more.
printf 'Database %s\nMapSize 1M\nMaxDatabaseSize 1G\nDomainReportsPerDay 1000\nReporterRecordsPerDay 10000000\n' \
  "$DB" > "$TMP/cli.conf"
dw() { "$DMARCWATCH" -c "$TMP/cli.conf" "$@"; }

# exit_ok WHAT RC WANT: the status is WANT; a death by signal is named as such.
exit_ok() {
  local what=$1 rc=$2 want=$3
  if [ "$rc" -eq "$want" ]; then pass "$what: exit status $rc"
  elif [ "$rc" -gt 128 ]; then fail "$what: killed by signal $((rc - 128)) ($(kill -l $((rc - 128)) 2>/dev/null)), want exit $want"
  else fail "$what: exit status $rc, want $want"
  fi
}
# used_kib FILE: KiB the file occupies on the file system (a sparse file counts what is allocated).
used_kib() { du -k "$1" | cut -f1; }
# fill_disk KIB_LEFT [DIR]: a filler file takes all the free space of DIR ($DB) but KIB_LEFT (0: everything).
fill_disk() {
  local avail dir=${2:-$DB}
  avail=$(df -k --output=avail "$dir" | tail -n 1 | tr -d ' ')
  if [ "$1" -eq 0 ]; then
    cat /dev/zero > "$dir/filler" 2>/dev/null
  elif [ "$avail" -gt "$1" ]; then
    head -c "$(( (avail - $1) * 1024 ))" /dev/zero > "$dir/filler"
  fi
  echo "# filler $(used_kib "$dir/filler") KiB, $(df -k --output=avail "$dir" | tail -n 1 | tr -d ' ') KiB left"
}
# ingest_lines FILE: one "path<TAB>stored|duplicate|error<TAB>report ids or error" line per JSON line.
ingest_lines() {
  python3 - "$1" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o["error"] is not None:
        print("%s\terror\t%s" % (o["path"], o["error"]))
    else:
        print("%s\t%s\t%s" % (o["path"], ",".join(r["status"] for r in o["reports"]),
                              ",".join(r["report_id"] for r in o["reports"])))
PY
}
# store_totals: "REPORTS MESSAGES STATUS_MESSAGES PASS+FAIL IDS" from `reports --json` and `status --json --since all`.
store_totals() {
  dw reports --json > "$TMP/reports.json" && dw status --json --since all > "$TMP/status.json" || return 1
  python3 - "$TMP/reports.json" "$TMP/status.json" <<'PY'
import json, sys
reports = json.load(open(sys.argv[1]))["reports"]
domains = json.load(open(sys.argv[2]))["domains"]
print(len(reports), sum(r["messages"] for r in reports), sum(d["messages"] for d in domains),
      sum(d["dmarc_pass"] + d["dmarc_fail"] for d in domains), ",".join(sorted(r["report_id"] for r in reports)))
PY
}
# expected_totals DIR...: "REPORTS MESSAGES IDS" of make-reports.py's expected.tsv files.
expected_totals() {
  cat "$@" | python3 -c '
import sys
rows = [l.split("\t") for l in sys.stdin.read().split("\n") if l]
print(len(rows), sum(int(r[3]) for r in rows), ",".join(sorted(r[1] for r in rows)))'
}

# Step 2: a few reports on the empty file system; their size sets the room left below.
dw ingest --json "$TMP"/a/report-*.eml > "$TMP/a.out" 2> "$TMP/a.err"
exit_ok "ingest of 4 reports on an empty file system" $? 0
mapKib=$(used_kib "$DB/data.mdb")
echo "# 4 reports in a map of $mapKib KiB"
# Room for one more doubling of the map (and a little): some of the next reports fit, the
# doubling after that does not.
fill_disk $(( mapKib + 64 ))

# Step 3: the disk fills up during this run.
files=$(for n in $(seq 5 14); do echo "$TMP/b/report-$n.eml"; done)
# shellcheck disable=SC2086
dw ingest --json $files > "$TMP/b.out" 2> "$TMP/b.err"
rc=$?
exit_ok "ingest until the disk is full" $rc 1
ingest_lines "$TMP/b.out" > "$TMP/b.lines" 2>/dev/null
sed 's/^/#   /' "$TMP/b.lines" "$TMP/b.err"
[ "$(wc -l < "$TMP/b.lines")" -eq 10 ] && pass "one JSON line for each of the 10 inputs" ||
  fail "$(wc -l < "$TMP/b.lines") JSON lines for 10 inputs"
firstError=$(awk -F'\t' '$2 == "error" { print NR; exit }' "$TMP/b.lines")
storedFirst=$(awk -F'\t' '$2 != "stored" { exit } { n++ } END { print n + 0 }' "$TMP/b.lines")
if [ -n "$firstError" ] && [ "$storedFirst" -ge 1 ] && [ "$storedFirst" -eq $((firstError - 1)) ]; then
  pass "the first $storedFirst inputs stored, input $firstError failed"
else
  fail "want stored inputs, then a failure (first error at '${firstError:-none}', $storedFirst stored first)"
fi
errorText=$(awk -F'\t' '$2 == "error" { print $3; exit }' "$TMP/b.lines")
if printf '%s' "$errorText" | grep -Eqi 'no space left on device|MDB_MAP_FULL|disk full'; then
  pass "the failing input's error names the full disk: $errorText"
else
  fail "the failing input's error does not name a full disk: '$errorText'"
fi
read -r nReports _ _ _ ids <<< "$(store_totals)"
wantIds=$( (ingest_lines "$TMP/a.out" | cut -f3; awk -F'\t' '$2 == "stored" { print $3 }' "$TMP/b.lines") |
  grep . | sort | paste -sd,)
[ "$ids" = "$wantIds" ] && pass "the store holds the $nReports reports reported stored" ||
  fail "store holds '$ids', want '$wantIds'"
dw db verify > "$TMP/verify1.out" 2>&1
exit_ok "db verify on the full disk" $? 0

# Step 3b: deliver (the pipe transport) on the full disk: EX_TEMPFAIL, nothing half-written.
dw deliver < "$TMP/b/report-14.eml" > "$TMP/deliver.out" 2> "$TMP/deliver.err"
drc=$?
if grep -q 'report-14' "$TMP/b.lines" && awk -F'\t' '$1 ~ /report-14/ && $2 == "stored" { f = 1 } END { exit !f }' "$TMP/b.lines"; then
  echo "# deliver skipped: report 14 fitted before the disk filled"
else
  exit_ok "deliver on the full disk" $drc 75
  dw db verify > "$TMP/verify2.out" 2>&1
  exit_ok "db verify after deliver's tempfail" $? 0
fi

# Step 4: room again; what failed stores now, and the views add up.
rm -f "$DB/filler"
failed=$(for f in $files; do awk -F'\t' -v f="$f" '$1 == f && $2 == "stored" { found = 1 } END { exit !found }' \
  "$TMP/b.lines" || echo "$f"; done)
if [ -n "$failed" ]; then
  # shellcheck disable=SC2086
  dw ingest --json $failed > "$TMP/retry.out" 2> "$TMP/retry.err"
  exit_ok "ingest of the $(echo "$failed" | wc -l) failed inputs once there is room" $? 0
  nonStored=$(ingest_lines "$TMP/retry.out" | awk -F'\t' '$2 != "stored"' | wc -l)
  [ "$nonStored" -eq 0 ] && pass "every failed input is stored now" || fail "$nonStored inputs not stored on retry"
fi
read -r wantReports wantMessages wantIds <<< "$(expected_totals "$TMP/a/expected.tsv" "$TMP/b/expected.tsv")"
read -r nReports messages statusMessages passFail ids <<< "$(store_totals)"
[ "$nReports" = "$wantReports" ] && [ "$ids" = "$wantIds" ] && pass "reports lists all $wantReports reports" ||
  fail "reports lists $nReports reports ($ids), want $wantReports ($wantIds)"
[ "$messages" = "$wantMessages" ] && pass "reports: $messages messages in all" ||
  fail "reports: $messages messages, want $wantMessages"
[ "$statusMessages" = "$wantMessages" ] && [ "$passFail" = "$wantMessages" ] &&
  pass "status --since all: $statusMessages messages = pass + fail" ||
  fail "status --since all: $statusMessages messages, pass + fail $passFail, want $wantMessages"
dw db verify > "$TMP/verify3.out" 2>&1
exit_ok "db verify after the retry" $? 0

# Step 5: the milter on a full file system.
if [ -z "$MILTERTEST" ] || [ ! -x "$MILTER" ]; then
  echo "# milter part skipped: miltertest or $MILTER missing"
else
  # Its own file system: a store whose 1 MiB map the message fills, with no room to double
  # it; then room again for the retry.
  cat > "$TMP/milter.conf" <<EOF
Socket unix:$TMP/milter.sock
ReportAddress rua@example.test
Database $DB2
MapSize 1M
MaxDatabaseSize 1G
TempDirectory $TMP/tmp
EOF
  "$MILTER" -c "$TMP/milter.conf" -f > "$TMP/milter.log" 2>&1 &
  MPID=$!
  if wait_file "$TMP/milter.sock" 10; then
    fill_disk 0 "$DB2"
    "$MILTERTEST" -D sock="unix:$TMP/milter.sock" -D data="$TMP/c" -D db="$DB2" -D log="$TMP/milter.log" \
      -D dmarcwatch="$DMARCWATCH" -D lib="$SRCDIR/t/milter/lib.lua" -D milterpid="$MPID" \
      -D filler="$DB2/filler" -s "$SRCDIR/t/e2e/full-disk.lua" > "$TMP/mt.out" 2>&1
    mtrc=$?
    fold_tap milter "$TMP/mt.out"
    [ $mtrc -eq 0 ] || fail "milter: miltertest exit status $mtrc"
    if pid_alive "$MPID"; then
      kill -TERM "$MPID"; wait "$MPID"; mrc=$?
      exit_ok "milter: SIGTERM" $mrc 0
    else
      wait "$MPID"; exit_ok "milter: still running after the full disk" $? 0
    fi
    MPID=
  else
    fail "milter did not start"
  fi
  read -r wantReports wantMessages wantIds <<< "$(expected_totals "$TMP/c/expected.tsv")"
  got=$("$DMARCWATCH" --db "$DB2" reports --json |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["reports"]; print(len(r), sum(x["messages"] for x in r))')
  [ "$got" = "$wantReports $wantMessages" ] && pass "after the milter: $got (reports, messages) in its store" ||
    fail "after the milter: $got (reports, messages); want $wantReports $wantMessages"
  "$DMARCWATCH" --db "$DB2" db verify > "$TMP/verify4.out" 2>&1
  exit_ok "db verify after the milter's tempfail and retry" $? 0
  [ "$FAILED" -gt 0 ] && { echo "# --- milter log ---"; sed 's/^/#   /' "$TMP/milter.log"; }
fi
summary
