#!/bin/bash
# syslog-ng-alerts.sh - dmarcwatchd's alerts through a real syslog-ng running the shipped
# contrib/syslog-ng/dmarcwatch.conf (make check).
#
# A private syslog-ng (t/lib/syslog-ng-private.sh) listens on a unix datagram socket,
# 127.0.0.1:UDP and 127.0.0.1:TCP as the snippet says and writes one JSON object per alert.
# t/e2e/alert-send sends alerts through AlertEmitter over each transport, with awkward values:
# quotes, backslashes, ']', a newline, valid and invalid UTF-8.  Each alert must arrive once,
# with PROGRAM, MSGID, PRIORITY, FACILITY, the message, and every structured-data value
# decoded exactly as sent (a newline and invalid UTF-8 as '?', as formatAlert makes them);
# an RFC 5424 line of another program on the same socket must be filtered out; a send to a
# port where nobody listens must report failure.
# Prints TAP-ish lines and "N passed, M failed".  Exit 77 (skip) without syslog-ng or
# python3.  Processes: only the syslog-ng this script starts, stopped by its PID.
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILDDIR=${BUILDDIR:-$SRCDIR}
ALERT_SEND=${ALERT_SEND:-$BUILDDIR/t/e2e/alert-send}
. "$SRCDIR/t/lib/common.sh"
. "$SRCDIR/t/lib/syslog-ng-private.sh"

syslogng_binary > /dev/null || { echo "# no syslog-ng (Debian: syslog-ng-core): skipped"; exit 77; }
command -v python3 > /dev/null || { echo "# no python3: skipped"; exit 77; }
[ -x "$ALERT_SEND" ] || { echo "Bail out! $ALERT_SEND not built"; exit 99; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dw-syslog-ng.XXXXXX")
chmod 755 "$TMP"
SYSLOGNG_PID=
trap 'syslogng_stop; rm -rf "$TMP"' EXIT
JSON=$TMP/alerts.jsonl

# Step 1: syslog-ng with the shipped snippet.
read -r UDP TCP < <(free_ports 2 | tr '\n' ' ')
syslogng_start "$TMP" "$UDP" "$TCP" || { echo "Bail out! syslog-ng did not start"; exit 99; }
pass "syslog-ng runs contrib/syslog-ng/dmarcwatch.conf on $TMP/alerts.sock, udp $UDP, tcp $TCP"

# Step 2: the alerts, one per transport and one with invalid UTF-8; then a line of another
# program (no dmarcwatch app name) on the snippet's socket, which its filter must drop.
check "alert over udp handed over" "$ALERT_SEND" "udp:127.0.0.1:$UDP" 00000000000000a1 spoofing example.com err \
  '310 messages from unknown sources fail DMARC for example.com' \
  service=SendGrid messages=310 pass_pct=0 'note=say "hi" \ back]slash'
check "alert over tcp handed over" "$ALERT_SEND" "tcp:127.0.0.1:$TCP" 00000000000000b2 unknown-sender \
  $'ex\xc3\xa4mple.org' warning $'new sender "Mail ]Chimp"\nsecond line' \
  'service=Mail "Chimp"' messages=20 $'note=line1\nline2 ] \\ end' $'city=Z\xc3\xbcrich \xe2\x9c\x93'
check "alert over the unix socket handed over" "$ALERT_SEND" "unix:$TMP/alerts.sock" 00000000000000c3 report-gap \
  example.net notice 'no report from google.com for 3 days' reporter=google.com 'hours=72'
check "alert with invalid UTF-8 handed over" "$ALERT_SEND" "udp:127.0.0.1:$UDP" 00000000000000d4 dns-change \
  example.com info 'DMARC record changed' $'old=v=DMARC1; p=none\xff' $'new=\xc3(\xe2\x9c'
python3 - "$TMP/alerts.sock" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b'<22>1 2026-01-01T00:00:00Z h other 1 spoofing [dmarcwatch@32473 rule="spoofing" id="00000000000000e5"] not ours',
         sys.argv[1])
PY
"$ALERT_SEND" "tcp:127.0.0.1:$(free_ports 1)" 00000000000000f6 spoofing example.com err 'nobody listens' 2> /dev/null
check "alert-send reports a port where nobody listens (status 1)" test $? = 1

# Step 3: syslog-ng's JSON.  The other program's line may be written after ours: wait for
# ours, then a moment for anything that should not come.
count_lines() { [ -f "$JSON" ] && [ "$(wc -l < "$JSON")" -ge "$1" ]; }
if wait_for 10 count_lines 4; then pass "4 alerts written as JSON"; else fail "4 alerts written as JSON"; fi
sleep 0.3
check "exactly 4 (the other program's line filtered out)" test "$(wc -l < "$JSON" 2>/dev/null)" = 4

# field ID PATH: the value at PATH (dot-separated keys) of the alert whose id is ID,
# "<missing>" when absent, "<N records>" unless exactly one record has that id
field() {
  python3 - "$JSON" "$1" "$2" <<'PY'
import json, sys
path, want_id, keys = sys.argv[1], sys.argv[2], sys.argv[3].split(".")
records = [json.loads(line) for line in open(path, encoding="utf-8")]
hits = [r for r in records if r.get("SDATA", {}).get("dmarcwatch@32473", {}).get("id") == want_id]
if len(hits) != 1:
    print("<%d records>" % len(hits)); sys.exit()
value = hits[0]
for key in keys:
    if not isinstance(value, dict) or key not in value:
        print("<missing>"); sys.exit()
    value = value[key]
sys.stdout.write(value + "\n")
PY
}
# expect ID PATH WANT: one check, got and want shown when they differ
expect() {
  local got
  got=$(field "$1" "$2")
  if [ "$got" = "$3" ]; then
    pass "$1 $2 = $(printf %q "$3")"
  else
    fail "$1 $2: got $(printf %q "$got"), want $(printf %q "$3")"
  fi
}
SD=SDATA.dmarcwatch@32473

expect 00000000000000a1 PROGRAM dmarcwatch
expect 00000000000000a1 MSGID spoofing
expect 00000000000000a1 FACILITY mail
expect 00000000000000a1 PRIORITY err
expect 00000000000000a1 MESSAGE '310 messages from unknown sources fail DMARC for example.com'
expect 00000000000000a1 $SD.rule spoofing
expect 00000000000000a1 $SD.domain example.com
expect 00000000000000a1 $SD.severity err
expect 00000000000000a1 $SD.service SendGrid
expect 00000000000000a1 $SD.messages 310
expect 00000000000000a1 $SD.pass_pct 0
expect 00000000000000a1 $SD.note 'say "hi" \ back]slash'

expect 00000000000000b2 PRIORITY warning
expect 00000000000000b2 MSGID unknown-sender
expect 00000000000000b2 MESSAGE 'new sender "Mail ]Chimp"?second line'
expect 00000000000000b2 $SD.rule unknown-sender
expect 00000000000000b2 $SD.domain $'ex\xc3\xa4mple.org'
expect 00000000000000b2 $SD.severity warning
expect 00000000000000b2 $SD.service 'Mail "Chimp"'
expect 00000000000000b2 $SD.messages 20
expect 00000000000000b2 $SD.note 'line1?line2 ] \ end'
expect 00000000000000b2 $SD.city $'Z\xc3\xbcrich \xe2\x9c\x93'

expect 00000000000000c3 PRIORITY notice
expect 00000000000000c3 MSGID report-gap
expect 00000000000000c3 MESSAGE 'no report from google.com for 3 days'
expect 00000000000000c3 $SD.domain example.net
expect 00000000000000c3 $SD.reporter google.com
expect 00000000000000c3 $SD.hours 72

expect 00000000000000d4 PRIORITY info
expect 00000000000000d4 $SD.rule dns-change
expect 00000000000000d4 $SD.old 'v=DMARC1; p=none?'
expect 00000000000000d4 $SD.new '?(??'
expect 00000000000000e5 $SD.rule '<0 records>'

if [ "$FAILED" -gt 0 ]; then
  echo "# $JSON:"
  sed 's/^/#   /' "$JSON" 2> /dev/null
  sed 's/^/#   internal: /' "$TMP/internal.log" 2> /dev/null | tail -n 20
fi
summary
