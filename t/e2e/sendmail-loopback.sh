#!/bin/bash
# sendmail-loopback.sh - end-to-end: private Sendmail 8.17 instances on loopback (Debian's
# binaries unpacked, not installed: t/lib/sendmail-private.sh), the real dmarcwatch-milter
# in them through contrib/sendmail.mc's INPUT_MAIL_FILTER line, report mail over SMTP, the
# store checked with `dmarcwatch status --json` / `reports --json`.
#
#   mx     milter over TCP (ReportAction keep) with F=T, relays everything to an smtp-sink
#   mxd    milter over a unix socket in a directory under /tmp (ReportAction discard),
#          the recipe as shipped (no F=: mail flows while the milter is down)
#   front  no milter; relays to mx and queues what mx refuses (as any MTA before it would)
#   sink   smtp-sink -d: one file per delivery, read by maildir-check.py --sink
#
#   1. reports, a broken report, plain mail, a report with a second recipient, straight to
#      mx: delivered once each, X-DMARCwatch on reports only, plain mail byte for byte,
#      totals in the store, the milter logged Sendmail's queue id (macro i)
#   2. reports through front; the milter is SIGKILLed while they flow (F=T: mx tempfails
#      them), restarted; front retries from its queue; every report delivered and counted
#      once
#   3. ReportAction discard: a report to the rua address only is stored and not delivered;
#      with another recipient only that one gets the mail, without our header
#   4. SIGTERM: each milter exits 0, quickly
#   5. the milter down, no F= flag: Sendmail passes mail on unfiltered (the rua mailbox gets
#      the report, without our header, for a later `dmarcwatch ingest`)
# Runs as PID 1 of its own mount, UTS and pid namespaces (the qualified host name and
# /dev/log Sendmail needs; everything started there dies with it).  Exit 77 unless root
# with the sendmail .debs fetched by setup.sh, unshare, m4, smtp-sink and python3.
# TAP-ish output ending in "N passed, M failed"; on failure the logs are dumped.
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILDDIR=${BUILDDIR:-$SRCDIR}
MILTER=$BUILDDIR/milter/dmarcwatch-milter
DMARCWATCH=$BUILDDIR/collector/cli/dmarcwatch
PATH=$PATH:/usr/sbin
LIB=$SRCDIR/t/lib
. "$LIB/common.sh"
. "$LIB/e2e-checks.sh"
. "$LIB/sendmail-private.sh"

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (private Sendmail in its own namespaces)"; exit 77; }
for tool in unshare m4 smtp-sink python3 dpkg; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not found"; exit 77; }
done
[ -x "$MILTER" ] && [ -x "$DMARCWATCH" ] || { echo "Bail out! programs not built"; exit 99; }
sm_available || { echo "SKIP: no private Sendmail: $SM_WHY"; exit 77; }
export SRCDIR BUILDDIR
sm_enter_namespace "$0" "$@" || { echo "SKIP: $SM_WHY"; exit 77; }
# From here on: PID 1 of the namespaces.

T0=$(now_ms)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/dw-sendmail.XXXXXX")
chmod 755 "$TMP"
MPID='' DPID='' SINK_PID=''
declare -A SMPID
cleanup() {
  local rc=$? name
  for name in front mx mxd; do stop_pid "${SMPID[$name]:-}" 5; done
  stop_pid "$MPID" 5
  stop_pid "$DPID" 5
  stop_pid "$SINK_PID" 5
  if [ "$FAILED" -gt 0 ] || [ $rc -ne 0 ]; then
    echo "# --- Sendmail's syslog (last 60 lines) ---"; tail -n 60 "$TMP/syslog" 2>/dev/null | sed 's/^/#   /'
    echo "# --- milter log (last 30 lines) ---"; tail -n 30 "$TMP/milter.log" 2>/dev/null | sed 's/^/#   /'
    echo "# --- discard milter log (last 20 lines) ---"; tail -n 20 "$TMP/milter-d.log" 2>/dev/null | sed 's/^/#   /'
  fi
  stop_pid "${SM_LOG_PID:-}" 5
  [ -n "${E2E_KEEP:-}" ] && echo "# kept $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

check "private host: mx.example.test, own /etc/hosts and /dev/log" sm_private_host "$TMP"
sm_find_tree "$TMP" || { fail "sendmail tree: $SM_WHY"; exit 1; }
check "Sendmail $SM_VERSION unpacked in $(dirname "$(dirname "$(dirname "$(dirname "$SM_BIN")")")")" \
  test "${SM_VERSION%.*.*}" = 8.17
read -r MX MXD FRONT SINK MPORT < <(free_ports 5 | tr '\n' ' ')

# --- two milters: keep over TCP, discard over a unix socket (each its own store) ---
mkdir -p "$TMP/db" "$TMP/spool" "$TMP/run" "$TMP/db-d" "$TMP/spool-d" "$TMP/run-d" "$TMP/sink"
chown 65534:65534 "$TMP/db" "$TMP/spool" "$TMP/run" "$TMP/db-d" "$TMP/spool-d" "$TMP/run-d" "$TMP/sink"
cat >"$TMP/milter.conf" <<EOF
Socket inet:$MPORT@127.0.0.1
ReportAddress rua@example.test
Database $TMP/db
TempDirectory $TMP/spool
UserID nobody
PidFile $TMP/run/milter.pid
Resolver none
EOF
cat >"$TMP/milter-d.conf" <<EOF
Socket unix:$TMP/run-d/milter.sock
ReportAddress rua@example.test
ReportAction discard
Database $TMP/db-d
TempDirectory $TMP/spool-d
UserID nobody
PidFile $TMP/run-d/milter.pid
Resolver none
EOF
start_milter() {
  "$MILTER" -c "$TMP/milter.conf" -f >>"$TMP/milter.log" 2>&1 &
  MPID=$!
  wait_tcp "$MPORT" 10
}
check "milter (keep) listens on inet:$MPORT@127.0.0.1" start_milter
"$MILTER" -c "$TMP/milter-d.conf" -f >>"$TMP/milter-d.log" 2>&1 &
DPID=$!
check "milter (discard) listens on unix:$TMP/run-d/milter.sock" wait_file "$TMP/run-d/milter.sock" 10

# --- the sink, then the Sendmails (next hop first) ---
smtp-sink -u nobody -h sink.example.test -d "$TMP/sink/%H%M%S." "127.0.0.1:$SINK" 64 >"$TMP/sink.log" 2>&1 &
SINK_PID=$!
check "smtp-sink listens on $SINK" wait_tcp "$SINK" 10
start_sendmail() { # NAME PORT NEXT [MILTER [-qINTERVAL]]
  sm_instance "$1" "$TMP" "$2" "$3" "${4:-}" || return 1
  sm_start "$1" "$TMP" "$2" ${5:+"$5"} || return 1
  SMPID[$1]=$SM_PID
}
check "Sendmail mx (milter inet:$MPORT, F=T) listens on $MX" start_sendmail mx "$MX" "$SINK" "inet:$MPORT@127.0.0.1, F=T"
check "Sendmail mxd (milter local:$TMP/run-d/milter.sock) listens on $MXD" \
  start_sendmail mxd "$MXD" "$SINK" "local:$TMP/run-d/milter.sock"
check "Sendmail front (no milter, queue run every 2 s) listens on $FRONT" start_sendmail front "$FRONT" "$MX" "" -q2s
banner() { (exec 3<>"/dev/tcp/127.0.0.1/$1" && IFS= read -r -t 5 line <&3 && echo "${line%$'\r'}"); }
greeting=$(banner "$MX")
check "mx greets as Sendmail 8.17: $greeting" grep -q "^220 mx.example.test ESMTP Sendmail 8.17" <<<"$greeting"

# sent_at_least NAME N: Sendmail instance NAME logged N deliveries as sent, or more
sent_at_least() { [ "$(sm_sent "$1" "$TMP")" -ge "$2" ]; }
# send PORT TAG SPEC OUT: smtp-send.py (CRLF mail over smtplib); a line per mail in OUT
send() { python3 "$LIB/smtp-send.py" --port "$1" --threads 4 --tag "$2" "$3" >"$4" 2>&1; }

# ===== 1. straight to mx: keep =====
t1=$(now_ms)
python3 "$LIB/make-reports.py" "$TMP/gen1" --count 20 --prefix s1 --domain s1.test --specials >/dev/null
: >"$TMP/spec1"
: >"$TMP/expect1"
n=0
add() { # SPEC EXPECT TAG PATH RCPTS EXPECT-LINES...
  local spec=$1 expect=$2 tag=$3 path=$4 rcpts=$5 e
  shift 5
  n=$((n + 1))
  printf '%s\t%s\n' "$path" "$rcpts" >>"$spec"
  for e in "$@"; do printf '%s:%d:%s\t%s\n' "$tag" "$n" "$(basename "$path")" "$e" >>"$expect"; done
}
for i in $(seq 1 20); do
  add "$TMP/spec1" "$TMP/expect1" s1 "$TMP/gen1/report-$i.eml" rua@example.test \
    "$(printf 'example.test/rua\t^stored; reports=1; records=2; messages=%d; auth=unauthenticated(; auth-reason="[^"]*")?$\t-' $((i + 1)))"
done
add "$TMP/spec1" "$TMP/expect1" s1 "$TMP/gen1/multi.eml" rua@example.test \
  $'example.test/rua\t^stored; reports=2; records=5; messages=35; auth=unauthenticated(; auth-reason="[^"]*")?$\t-'
add "$TMP/spec1" "$TMP/expect1" s1 "$TMP/gen1/corrupt.eml" rua@example.test $'example.test/rua\t^error; \t-'
add "$TMP/spec1" "$TMP/expect1" s1 "$TMP/gen1/plain.eml" bob@other.test \
  "other.test/bob"$'\t^$\t'"$TMP/gen1/plain.eml"
# keep mode with a second recipient: both get the copy with the header
add "$TMP/spec1" "$TMP/expect1" s1 "$TMP/gen1/report-1.eml" rua@example.test,carol@other.test \
  $'example.test/rua\t^duplicate; reports=1; records=2; messages=2; auth=unauthenticated(; auth-reason="[^"]*")?$\t-' \
  $'other.test/carol\t^duplicate; reports=1; records=2; messages=2; auth=unauthenticated(; auth-reason="[^"]*")?$\t-'
n1=$n
send "$MX" s1 "$TMP/spec1" "$TMP/sent1" && pass "phase 1: $n1 mails accepted by Sendmail through the milter" ||
  { fail "phase 1: SMTP answers"; grep -v $'\t250\t' "$TMP/sent1" | head -5 | sed 's/^/#   /'; }
check "phase 1: mx relayed all $n1 to the sink" wait_for 30 sent_at_least mx "$n1"
verify "phase 1" "$TMP/expect1" --sink "$TMP/sink"
got=$(status_messages s1.test) want=$(($(gen_total 1 20) + 35))
check "phase 1: status --json s1.test messages=$got (want $want)" test "$got" = "$want"
check "phase 1: reports --json has s1-* once each" test "$(report_count s1-)" = "22 22"
# Sendmail's queue id (macro i) reached the milter: the id Sendmail logged for report s1-3.
qid=$(sed -n 's/.*sm-mx\[[0-9]*\]: \([A-Za-z0-9]*\): from=.*msgid=<s1-3@google.com>.*/\1/p' "$TMP/syslog" | head -n1)
check "phase 1: the milter logged Sendmail's queue id ${qid:-?} for report s1-3" \
  grep -q "qid=${qid:-none} .*report_id=s1-3 .*outcome=stored" "$TMP/milter.log"
echo "# phase 1: $(($(now_ms) - t1)) ms"

# ===== 2. through front; SIGKILL of the milter while reports flow =====
t2=$(now_ms)
K=${E2E_KILL:-40}
python3 "$LIB/make-reports.py" "$TMP/gen2" --count "$K" --prefix s2 --domain s2.test >/dev/null
: >"$TMP/spec2"
: >"$TMP/expect2"
n=0
for i in $(seq 1 "$K"); do
  add "$TMP/spec2" "$TMP/expect2" s2 "$TMP/gen2/report-$i.eml" rua@example.test \
    "$(printf 'example.test/rua\t^(stored|duplicate); reports=1; records=2; messages=%d; auth=unauthenticated(; auth-reason="[^"]*")?$\t-' $((i + 1)))"
done
mx_before=$(sm_sent mx "$TMP")
send "$FRONT" s2 "$TMP/spec2" "$TMP/sent2" &
SENDER=$!
# Kill once the milter has stored a few, i.e. in the middle of the flow.
for ((w = 0; w < 3000; w++)); do
  [ "$(grep -c 'report_id=s2-' "$TMP/milter.log")" -ge 8 ] && break
  sleep 0.01
done
stored_at_kill=$(grep -c 'report_id=s2-' "$TMP/milter.log")
kill -KILL "$MPID"
wait "$MPID" 2>/dev/null
MPID=
pass "milter SIGKILLed after $stored_at_kill of $K reports"
wait "$SENDER" && pass "phase 2: front accepted all $K" ||
  { fail "phase 2: SMTP answers"; grep -v $'\t250\t' "$TMP/sent2" | head -5 | sed 's/^/#   /'; }
# Sendmail tempfails what reaches mx meanwhile (F=T); front defers it.
check "phase 2: front deferred mail while the milter was down" wait_for 20 grep -q "sm-front\[.*stat=Deferred" "$TMP/syslog"
check "milter restarts" start_milter
"$SM_BIN" -C "$TMP/front.cf" -q >/dev/null 2>&1 # a queue run now (the daemon's come every 2 s)
check "phase 2: all $K relayed to the sink after the restart" wait_for 90 sent_at_least mx $((mx_before + K))
deferred=$(grep -c "sm-front\[.*stat=Deferred" "$TMP/syslog")
milter_errors=$(grep -c "sm-mx\[.*Milter (dmarcwatch): .*\(error\|to error state\)" "$TMP/syslog")
check "phase 2: mx logged the milter's failure ($milter_errors lines) and front $deferred deferrals" \
  test "$milter_errors" -gt 0 -a "$deferred" -gt 0
verify "phase 2" "$TMP/expect2" --sink "$TMP/sink"
got=$(status_messages s2.test) want=$(gen_total 1 "$K")
check "phase 2: each report counted once: status --json s2.test messages=$got (want $want)" test "$got" = "$want"
check "phase 2: reports --json has s2-* once each" test "$(report_count s2-)" = "$K $K"
echo "# phase 2: $(($(now_ms) - t2)) ms"

# ===== 3. ReportAction discard (mxd, unix socket) =====
t3=$(now_ms)
python3 "$LIB/make-reports.py" "$TMP/gen3" --count 2 --prefix s3 --domain s3.test >/dev/null
: >"$TMP/spec3"
: >"$TMP/expect3"
n=0
add "$TMP/spec3" "$TMP/expect3" s3 "$TMP/gen3/report-1.eml" rua@example.test $'!example.test/rua\t\t-'
add "$TMP/spec3" "$TMP/expect3" s3 "$TMP/gen3/report-2.eml" rua@example.test,carol@other.test \
  $'!example.test/rua\t\t-' "other.test/carol"$'\t^$\t'"$TMP/gen3/report-2.eml"
add "$TMP/spec3" "$TMP/expect3" s3 "$TMP/gen1/plain.eml" dave@other.test \
  "other.test/dave"$'\t^$\t'"$TMP/gen1/plain.eml"
mxd_before=$(sm_sent mxd "$TMP")
send "$MXD" s3 "$TMP/spec3" "$TMP/sent3" && pass "phase 3: 3 mails accepted by Sendmail through the discard milter" ||
  { fail "phase 3: SMTP answers"; grep -v $'\t250\t' "$TMP/sent3" | head -5 | sed 's/^/#   /'; }
# Two deliveries are due (the report for carol, the plain mail); the discarded one never comes.
check "phase 3: mxd relayed 2 mails to the sink" wait_for 30 sent_at_least mxd $((mxd_before + 2))
verify "phase 3" "$TMP/expect3" --sink "$TMP/sink"
check "phase 3: Sendmail discarded the report sent to the rua address only" \
  grep -q "sm-mxd\[.*Milter: data, discard\|sm-mxd\[.*milter=dmarcwatch, .*discard" "$TMP/syslog"
check "phase 3: Sendmail removed the rua recipient of the other" \
  grep -q "sm-mxd\[.*Milter (dmarcwatch) delete: rcpt <rua@example.test>" "$TMP/syslog"
got=$(DB=$TMP/db-d status_messages s3.test) want=$(gen_total 1 2)
check "phase 3: both reports stored: status --json s3.test messages=$got (want $want)" test "$got" = "$want"
check "phase 3: the milter logged action=discard and action=delrcpt" \
  test "$(grep -c 'report_id=s3-1 .*action=discard' "$TMP/milter-d.log")/$(grep -c 'report_id=s3-2 .*action=delrcpt' "$TMP/milter-d.log")" = 1/1
echo "# phase 3: $(($(now_ms) - t3)) ms"

# ===== 4. clean, quick stop =====
for which in MPID DPID; do
  ts=$(now_ms)
  kill -TERM "${!which}"
  wait "${!which}"
  rc=$?
  printf -v "$which" ''
  ms=$(($(now_ms) - ts))
  check "SIGTERM: milter ($which) exit status $rc after $ms ms" test "$rc" -eq 0 -a "$ms" -lt 2000
done

# ===== 5. the milter down: as shipped (no F=), Sendmail passes mail on unfiltered =====
: >"$TMP/spec5"
: >"$TMP/expect5"
n=0
add "$TMP/spec5" "$TMP/expect5" s5 "$TMP/gen3/report-1.eml" rua@example.test \
  "example.test/rua"$'\t^$\t'"$TMP/gen3/report-1.eml"
mxd_before=$(sm_sent mxd "$TMP")
send "$MXD" s5 "$TMP/spec5" "$TMP/sent5" && pass "phase 5: mxd accepted a report with its milter down" ||
  { fail "phase 5: SMTP answers"; sed 's/^/#   /' "$TMP/sent5" | head -5; }
check "phase 5: mxd relayed it to the sink" wait_for 30 sent_at_least mxd $((mxd_before + 1))
verify "phase 5" "$TMP/expect5" --sink "$TMP/sink"
echo "# total $(($(now_ms) - T0)) ms"
summary
