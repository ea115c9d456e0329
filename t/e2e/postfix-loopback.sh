#!/bin/bash
# postfix-loopback.sh - end-to-end: a private Postfix on loopback, the real
# dmarcwatch-milter, report mail through SMTP, the store checked with
# `dmarcwatch status --json` / `reports --json`.
#
#   1. real report mails (corpus via $CORPUS, t/data) and generated ones,
#      plus plain mail, sent to the milter port: delivery, headers, totals;
#      Postfix agrees to SMFIP_HDR_LEADSPC and the bytes the milter's checks
#      get (--dump-messages) are the mail as submitted, "Subject:no-space"
#      and "Subject:<tab>tab" included, with the SMTP envelope
#   2. reports queued by Postfix; the milter is SIGKILLed while they flow and
#      restarted; Postfix retries (milter_default_action = tempfail); every
#      report is counted exactly once
#   3. load: 1,000 report mails from 10 concurrent SMTP clients, with plain
#      mail to other recipients in the same run delivered unchanged
#   3b. the pipe transport: report mails to pipe-rua@example.test go to
#      `dmarcwatch deliver` (stored, a copy a duplicate, plain mail bounced)
#   4. SIGTERM: the milter exits 0, quickly
# Exit 77 unless root with postfix and python3.  TAP-ish output ending in
# "N passed, M failed"; on failure the maillog and milter log are dumped.
# Everything lives under one mktemp dir; every process started here is
# stopped by PID from the EXIT trap.
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILDDIR=${BUILDDIR:-$SRCDIR}
MILTER=$BUILDDIR/milter/dmarcwatch-milter
DMARCWATCH=$BUILDDIR/collector/cli/dmarcwatch
LOAD=${E2E_LOAD:-1000}
PATH=$PATH:/usr/sbin

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (private Postfix)"; exit 77; }
command -v postfix >/dev/null || { echo "SKIP: postfix not installed"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 not found"; exit 77; }
[ -x "$MILTER" ] && [ -x "$DMARCWATCH" ] || { echo "Bail out! programs not built"; exit 99; }

. "$SRCDIR/t/lib/common.sh"
LIB=$SRCDIR/t/lib
. "$LIB/e2e-checks.sh"
T0=$(now_ms)

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dw-e2e.XXXXXX")
chmod 755 "$TMP"
MPID=
cleanup() {
  local rc=$?
  [ -n "$MPID" ] && stop_pid "$MPID" 5
  "$LIB/postfix-private.sh" stop "$TMP" 2>/dev/null
  if [ "$FAILED" -gt 0 ] || [ $rc -ne 0 ]; then
    echo "# --- maillog (last 60 lines) ---"; tail -n 60 "$TMP/postfix/maillog" 2>/dev/null | sed 's/^/#   /'
    echo "# --- milter log (last 60 lines) ---"; tail -n 60 "$TMP/milter.log" 2>/dev/null | sed 's/^/#   /'
  fi
  [ -n "${E2E_KEEP:-}" ] && echo "# kept $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

read -r DIRECT QUEUED MPORT < <(free_ports 3 | tr '\n' ' ')

# --- the milter: runs as nobody after opening its socket ---
# UserID must own the store, the temp dir and the PidFile's directory (to remove it at exit).
mkdir -p "$TMP/db" "$TMP/spool" "$TMP/run" "$TMP/dump"
chown 65534:65534 "$TMP/db" "$TMP/spool" "$TMP/run" "$TMP/dump"
cat > "$TMP/milter.conf" <<EOF
Socket inet:$MPORT@127.0.0.1
ReportAddress rua@example.test
Database $TMP/db
MapSize 512M
TempDirectory $TMP/spool
UserID nobody
PidFile $TMP/run/milter.pid
EOF
start_milter() { # [ARGS...]: more options (--dump-messages)
  "$MILTER" -c "$TMP/milter.conf" -f "$@" >> "$TMP/milter.log" 2>&1 &
  MPID=$!
  wait_tcp "$MPORT" 10
}
# Phase 1 runs with --dump-messages (the report mails as the milter's checks get them).
check "milter starts and listens on inet:$MPORT@127.0.0.1" start_milter --dump-messages "$TMP/dump"
# The socket listens before the pid file is written (start-up steps 2 and 3): wait for it.
pidfile_names() { [ "$(cat "$TMP/run/milter.pid" 2>/dev/null)" = "$1" ]; }
check "milter wrote its PidFile" wait_for 10 pidfile_names "$MPID"
check "milter dropped privileges to nobody" test "$(ps -o user= -p "$MPID" | tr -d ' ')" = nobody

# --- Postfix ---
DW_DELIVER="$DMARCWATCH $TMP/pipedb" "$LIB/postfix-private.sh" setup "$TMP" "$DIRECT" "$QUEUED" "$MPORT" \
  || { fail "postfix setup"; exit 1; }
PFPID=$("$LIB/postfix-private.sh" start "$TMP") && wait_tcp "$DIRECT" 10 && wait_tcp "$QUEUED" 10 \
  && pass "private postfix started (master $PFPID)" || { fail "postfix start"; exit 1; }

RUA=$TMP/mail/example.test/rua
delivered() { find "$1/new" "$1/cur" -type f 2>/dev/null | wc -l; }
# at_least DIR N: DIR holds N delivered mails or more (re-evaluated by wait_for)
at_least() { [ "$(delivered "$1")" -ge "$2" ]; }

# ===== 1. real and generated reports, straight to the milter port =====
t1=$(now_ms)
python3 "$LIB/make-reports.py" "$TMP/gen1" --count 20 --prefix p1 --domain p1.test --specials >/dev/null
: > "$TMP/spec1"; : > "$TMP/expect1"
n=0
add1() { # PATH RCPTS EXPECT-LINES...
  local path=$1 rcpts=$2; shift 2
  n=$((n + 1)); printf '%s\t%s\n' "$path" "$rcpts" >> "$TMP/spec1"
  local e; for e in "$@"; do printf 'p1:%d:%s\t%s\n' "$n" "$(basename "$path")" "$e" >> "$TMP/expect1"; done
}
for i in $(seq 1 20); do
  add1 "$TMP/gen1/report-$i.eml" rua@example.test \
    "$(printf 'example.test/rua\t^stored; reports=1; records=2; messages=%d; auth=unauthenticated(; auth-reason="[^"]*")?$\t-' $((i + 1)))"
done
add1 "$TMP/gen1/multi.eml" rua@example.test $'example.test/rua\t^stored; reports=2; records=5; messages=35; auth=unauthenticated(; auth-reason="[^"]*")?$\t-'
# Header bytes: two fields a rebuilt "Name: value" would get wrong, in front of a report (a
# copy of report-3: stored or duplicate, whichever goes first).
printf 'Subject:no-space\r\nSubject:\ttab\r\nX-Bytes-Marker: e2e-leadspc\r\n' > "$TMP/gen1/header-bytes.eml"
cat "$TMP/gen1/report-3.eml" >> "$TMP/gen1/header-bytes.eml"
add1 "$TMP/gen1/header-bytes.eml" rua@example.test \
  $'example.test/rua\t^(stored|duplicate); reports=1; records=2; messages=4; auth=unauthenticated(; auth-reason="[^"]*")?$\t-'
add1 "$TMP/gen1/corrupt.eml" rua@example.test $'example.test/rua\t^error; \t-'
add1 "$TMP/gen1/plain.eml" bob@other.test "other.test/catchall"$'\t^$\t'"$TMP/gen1/plain.eml"
# keep mode with a second recipient: both get the copy with the header
add1 "$TMP/gen1/report-1.eml" rua@example.test,carol@other.test \
  $'example.test/rua\t^duplicate; reports=1; records=2; messages=2; auth=unauthenticated(; auth-reason="[^"]*")?$\t-' \
  $'other.test/catchall\t^duplicate; reports=1; records=2; messages=2; auth=unauthenticated(; auth-reason="[^"]*")?$\t-'
for f in "$SRCDIR"/t/data/mime-*.eml; do
  [ -f "$f" ] && add1 "$f" rua@example.test $'example.test/rua\t^(stored|duplicate|error); \t-'
done
# Corpus mails: what the milter must say is what `dmarcwatch ingest` says about
# the same file (parse quality is the corpus test's business, not this one's).
corpus_n=0
if [ -n "${CORPUS:-}" ] && [ -f "$CORPUS/MANIFEST.tsv" ]; then
  awk -F'\t' 'NR > 1 && $5 == "eml" { print $1 "\t" $8 "\t" $9 }' "$CORPUS/MANIFEST.tsv" |
    while IFS=$'\t' read -r path records messages; do
      f="$CORPUS/files/$path"
      [ -f "$f" ] && [ "$(stat -c %s "$f")" -lt 15000000 ] && printf '%s\t%s\t%s\n' "$f" "$records" "$messages"
    done > "$TMP/corpus.list"
  while IFS=$'\t' read -r f records messages; do
    # A copy named .eml: the CLI tells formats apart partly by the name.
    cp "$f" "$TMP/corpus-copy.eml"
    "$DMARCWATCH" --db "$TMP/cli-db" ingest --json "$TMP/corpus-copy.eml" 2>/dev/null | python3 -c '
import json, sys
d = json.loads(sys.stdin.readline() or "{}")
r = d.get("reports") or []
# Two corpus copies of one report with other records are a conflict (kept, not counted); the
# mails go out in parallel, so which copy is stored and which conflicts is not fixed.
if r and any(x["status"] == "conflict" for x in r):
    d["error"] = None
if (d.get("error") or not r) and int(sys.argv[1]) > 0:
    # The CLI could not read it but the manifest knows the report: the milter may do better.
    print("^(error; |(stored|duplicate); reports=1; records=%s; messages=%s; auth=unauthenticated(; auth-reason=\"[^\"]*\")?$)" % (sys.argv[1], sys.argv[2]))
elif d.get("error") or not r:
    print("^error; ")
else:
    print("^(stored|duplicate|conflict); reports=%d; records=%d; messages=%d; auth=unauthenticated(; auth-reason=\"[^\"]*\")?$" % (
        len(r), sum(x["records"] for x in r), sum(x["messages"] for x in r)))' "$records" "$messages" > "$TMP/want"
    add1 "$f" rua@example.test "example.test/rua"$'\t'"$(cat "$TMP/want")"$'\t-'
    corpus_n=$((corpus_n + 1))
  done < "$TMP/corpus.list"
  pass "corpus: $corpus_n report mails from $CORPUS (expected result from dmarcwatch ingest)"
else
  echo "# CORPUS not set or absent: corpus mails skipped"
fi
python3 "$LIB/smtp-send.py" --port "$DIRECT" --threads 4 --tag p1 "$TMP/spec1" > "$TMP/sent1" 2>&1 \
  && pass "phase 1: $n mails accepted over SMTP through the milter" \
  || { fail "phase 1: SMTP answers"; grep -v $'\t250\t' "$TMP/sent1" | head -5 | sed 's/^/#   /'; }
want_rua=$(grep -c $'\texample.test/rua\t' "$TMP/expect1")
check "phase 1: $want_rua copies delivered to rua@" wait_for 30 at_least "$RUA" "$want_rua"
wait_for 10 at_least "$TMP/mail/other.test/catchall" 2
verify "phase 1" "$TMP/expect1"
got=$(status_messages p1.test); want=$(( $(gen_total 1 20) + 35 ))   # + multi.eml
check "phase 1: status --json p1.test messages=$got (want $want)" test "$got" = "$want"
check "phase 1: reports --json has p1-* once each" test "$(report_count p1-)" = "22 22"
# The bytes: smtp-send.py puts "X-Test-Id: ..." in front of the file; Postfix hides its own
# Received: header from milters and sends body lines with CRLF (the file has CRLF already).
dumped=$(grep -l '^X-Bytes-Marker: e2e-leadspc' "$TMP"/dump/*.eml 2>/dev/null | head -1)
check "phase 1: the milter's checks got the header-bytes mail (--dump-messages)" test -n "$dumped"
if [ -n "$dumped" ]; then
  check "phase 1: Postfix agreed to SMFIP_HDR_LEADSPC (headers not approximate)" \
    grep -qx 'headers_approximate=0' "${dumped%.eml}.envelope"
  check "phase 1: first field is smtp-send's X-Test-Id" grep -q $'^X-Test-Id: p1:[0-9]*:header-bytes.eml\r$' <(head -n 1 "$dumped")
  check "phase 1: the buffered mail is the submitted one byte for byte ($(stat -c %s "$dumped") bytes)" \
    cmp -s <(tail -n +2 "$dumped") "$TMP/gen1/header-bytes.eml"
  check "phase 1: envelope client=127.0.0.1 helo=client.test mail_from=noreply-dmarc-support@google.com" \
    test "$(head -n 3 "${dumped%.eml}.envelope" | tr '\n' ' ')" = \
    "client=127.0.0.1 helo=client.test mail_from=noreply-dmarc-support@google.com "
fi
echo "# phase 1: $(( $(now_ms) - t1 )) ms"

# ===== 2. SIGKILL while reports are in flight; Postfix retries =====
t2=$(now_ms)
K=${E2E_KILL:-150}
python3 "$LIB/make-reports.py" "$TMP/gen2" --count "$K" --prefix p2 --domain p2.test >/dev/null
: > "$TMP/spec2"; : > "$TMP/expect2"
for i in $(seq 1 "$K"); do
  printf '%s\trua@example.test\n' "$TMP/gen2/report-$i.eml" >> "$TMP/spec2"
  printf 'p2:%d:report-%d.eml\texample.test/rua\t^(stored|duplicate); reports=1; records=2; messages=%d; auth=unauthenticated(; auth-reason="[^"]*")?$\t-\n' \
    "$i" "$i" $((i + 1)) >> "$TMP/expect2"
done
before=$(delivered "$RUA")
python3 "$LIB/smtp-send.py" --port "$QUEUED" --threads 5 --tag p2 "$TMP/spec2" > "$TMP/sent2" 2>&1 &
SENDER=$!
# Kill once the milter has stored a few of them, i.e. in the middle of the flow.
for ((w = 0; w < 3000; w++)); do
  [ "$(grep -c 'report_id=p2-' "$TMP/milter.log")" -ge 10 ] && break
  sleep 0.01
done
stored_at_kill=$(grep -c 'report_id=p2-' "$TMP/milter.log")
kill -KILL "$MPID"; wait "$MPID" 2>/dev/null; MPID=
pass "milter SIGKILLed after $stored_at_kill of $K queued reports"
sleep 1.5
check "milter restarts" start_milter
wait "$SENDER" && pass "phase 2: $K mails queued by Postfix" || fail "phase 2: queueing"
# Postfix retries on its own (1-2 s backoff, but a destination that failed is
# throttled for a while); a queue flush makes it retry now.
postqueue -c "$TMP/postfix/etc" -f
check "phase 2: all $K delivered after the restart" wait_for 90 at_least "$RUA" $((before + K))
deferred=$(grep -c 'status=deferred' "$TMP/postfix/maillog")
check "phase 2: Postfix deferred and retried while the milter was down ($deferred deferrals)" test "$deferred" -gt 0
verify "phase 2" "$TMP/expect2"
got=$(status_messages p2.test); want=$(gen_total 1 "$K")
check "phase 2: each report counted once: status --json p2.test messages=$got (want $want)" test "$got" = "$want"
check "phase 2: reports --json has p2-* once each" test "$(report_count p2-)" = "$K $K"
echo "# phase 2: $(( $(now_ms) - t2 )) ms"

# ===== 3. load: $LOAD reports from 10 concurrent clients, plain mail mixed in =====
t3=$(now_ms)
python3 "$LIB/make-reports.py" "$TMP/gen3" --count "$LOAD" --prefix p3 --domain p3.test >/dev/null
: > "$TMP/spec3"; : > "$TMP/expect3"
n=0
for i in $(seq 1 "$LOAD"); do
  n=$((n + 1)); printf '%s\trua@example.test\n' "$TMP/gen3/report-$i.eml" >> "$TMP/spec3"
  printf 'p3:%d:report-%d.eml\texample.test/rua\t^stored; reports=1; records=2; messages=%d; auth=unauthenticated(; auth-reason="[^"]*")?$\t-\n' \
    "$n" "$i" $((i + 1)) >> "$TMP/expect3"
  if [ $((i % 10)) -eq 0 ]; then
    n=$((n + 1)); printf '%s\tdave@other.test\n' "$TMP/gen1/plain.eml" >> "$TMP/spec3"
    printf 'p3:%d:plain.eml\tother.test/catchall\t^$\t%s\n' "$n" "$TMP/gen1/plain.eml" >> "$TMP/expect3"
  fi
done
before=$(delivered "$RUA")
ts=$(now_ms)
python3 "$LIB/smtp-send.py" --port "$DIRECT" --threads 10 --tag p3 "$TMP/spec3" > "$TMP/sent3" 2>&1 \
  && pass "phase 3: $n mails accepted from 10 concurrent clients in $(( $(now_ms) - ts )) ms" \
  || { fail "phase 3: SMTP answers"; grep -v $'\t250\t' "$TMP/sent3" | head -5 | sed 's/^/#   /'; }
check "phase 3: all $LOAD delivered to rua@" wait_for 120 at_least "$RUA" $((before + LOAD))
wait_for 20 at_least "$TMP/mail/other.test/catchall" $((2 + LOAD / 10))
verify "phase 3" "$TMP/expect3"
got=$(status_messages p3.test); want=$(gen_total 1 "$LOAD")
check "phase 3: status --json p3.test messages=$got (want $want)" test "$got" = "$want"
check "phase 3: reports --json has p3-* once each" test "$(report_count p3-)" = "$LOAD $LOAD"
echo "# phase 3: $(( $(now_ms) - t3 )) ms"

# ===== 3b. the pipe transport: dmarcwatch deliver for pipe-rua@example.test only =====
# Not a ReportAddress of the milter: it passes the milter untouched, and Postfix hands it to
# `dmarcwatch deliver` (a store of its own).  A second copy is a duplicate (exit 0); a mail
# without a report is refused (exit 65) and stored nowhere.
python3 "$LIB/make-reports.py" "$TMP/gen4" --count 3 --prefix p4 --domain p4.test >/dev/null
send_to_pipe() {
  python3 - "$DIRECT" "$@" <<'PY'
import smtplib, sys
port, files = int(sys.argv[1]), sys.argv[2:]
with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
    for f in files:
        s.sendmail("reporter@sender.test", ["pipe-rua@example.test"], open(f, "rb").read())
PY
}
pipe_count() {
  "$DMARCWATCH" --db "$TMP/pipedb" reports --json 2>/dev/null | python3 -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin)["reports"] if r["report_id"].startswith("p4")))' 2>/dev/null || echo 0
}
printf 'From: someone@sender.test\r\nTo: pipe-rua@example.test\r\nSubject: hello\r\n\r\nno report here\r\n' > "$TMP/plain4.eml"
pipe_has() { [ "$(pipe_count)" = "$1" ]; }
check "phase 3b: mail for the pipe accepted by Postfix" send_to_pipe "$TMP"/gen4/report-*.eml "$TMP/gen4/report-1.eml" "$TMP/plain4.eml"
check "phase 3b: dmarcwatch deliver stored the 3 reports" wait_for 60 pipe_has 3
check "phase 3b: the milter did not (not its address)" test "$(report_count p4)" = "0 0"
check "phase 3b: the copy was a duplicate, the plain mail refused (status=bounced, 65)" \
  wait_for 30 grep -q "pipe-rua@example.test.*relay=dwdeliver.*status=bounced" "$TMP/postfix/maillog"
check "phase 3b: the pipe's deliveries (3 reports and the copy) were sent" \
  test "$(grep -c "pipe-rua@example.test.*relay=dwdeliver.*status=sent" "$TMP/postfix/maillog")" = 4
check "phase 3b: the copy was taken as a duplicate" grep -q "relay=dwdeliver.*status=sent.*duplicate report p4-1 " \
  "$TMP/postfix/maillog"

# ===== 4. clean, quick stop =====
ts=$(now_ms)
kill -TERM "$MPID"; wait "$MPID"; rc=$?; MPID=
ms=$(( $(now_ms) - ts ))
check "SIGTERM: milter exit status $rc after $ms ms" test "$rc" -eq 0 -a "$ms" -lt 2000
check "PidFile removed at exit" test ! -e "$TMP/run/milter.pid"
check "no temp files left in TempDirectory" test -z "$(ls -A "$TMP/spool")"
echo "# total $(( $(now_ms) - T0 )) ms"
summary
