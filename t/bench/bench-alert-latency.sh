#!/bin/bash
# bench-alert-latency.sh - how long from a report stored by the milter to its alert in
# syslog-ng (make bench, part 5; target < 2 s).
#
# A private syslog-ng running contrib/syslog-ng/dmarcwatch.conf (t/lib/syslog-ng-private.sh),
# dmarcwatch-milter on a unix socket fed directly by t/lib/milter-client.py (no Postfix: the
# client plays Postfix and takes the time the milter accepted the end of message, after the
# report was committed), and dmarcwatchd -f sending its alerts over UDP to syslog-ng
# (Resolver none: no DNS in the figure; PollInterval 60 s: only the store's notification
# wakes it).  N report mails (BENCH_ALERT_N, default 20), one after the other, each for a new
# domain with 25 DMARC-failing messages from one source: one spoofing alert each.  After each
# mail the JSON file syslog-ng writes is polled (every 2 ms) until that domain's alert is in
# it; latency = that moment - the milter's answer.  Prints Markdown (min, median, max against
# the target) to stdout, diagnostics to stderr.
#
# Needs root (the milter and the daemon switch to nobody), syslog-ng and python3: exit 77
# (skip) without them; 1 when an alert does not arrive within 10 s.  Every process started
# here is stopped by its PID from the EXIT trap; everything lives in one mktemp dir.
set -u
here=$(cd "$(dirname "$0")" && pwd)
SRCDIR=${SRCDIR:-$(cd "$here/../.." && pwd)}
BUILDDIR=${BUILDDIR:-$PWD}
MILTER=${DMARCWATCH_MILTER:-$BUILDDIR/milter/dmarcwatch-milter}
DMARCWATCHD=${DMARCWATCHD:-$BUILDDIR/collector/daemon/dmarcwatchd}
N=${BENCH_ALERT_N:-20}
LIB=$SRCDIR/t/lib
. "$LIB/common.sh"
. "$LIB/syslog-ng-private.sh"

[ "$(id -u)" -eq 0 ] || { echo "alert latency: needs root" >&2; exit 77; }
command -v python3 > /dev/null || { echo "alert latency: no python3" >&2; exit 77; }
syslogng_binary > /dev/null || { echo "alert latency: no syslog-ng" >&2; exit 77; }
for prog in "$MILTER" "$DMARCWATCHD"; do
  [ -x "$prog" ] || { echo "alert latency: $prog not built" >&2; exit 1; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dw-bench-alerts.XXXXXX")
chmod 755 "$TMP"
MPID= DPID= SYSLOGNG_PID=
trap 'stop_pid "$DPID" 5; stop_pid "$MPID" 5; syslogng_stop; rm -rf "$TMP"' EXIT

# Step 1: syslog-ng, the milter, the daemon.
read -r UDP TCP < <(free_ports 2 | tr '\n' ' ')
syslogng_start "$TMP" "$UDP" "$TCP" || { echo "alert latency: syslog-ng did not start" >&2; exit 1; }
mkdir -p "$TMP/db" "$TMP/spool"
chown 65534:65534 "$TMP/db" "$TMP/spool"
cat > "$TMP/dmarcwatch.conf" <<EOF
Socket unix:$TMP/milter.sock
ReportAddress rua@example.test
Database $TMP/db
TempDirectory $TMP/spool
UserID nobody
Resolver none
ServiceCatalog $SRCDIR/contrib/services
SyslogTarget udp:127.0.0.1:$UDP
PollInterval 60s
EOF
"$MILTER" -c "$TMP/dmarcwatch.conf" -f > "$TMP/milter.log" 2>&1 &
MPID=$!
wait_file "$TMP/milter.sock" 10 || { echo "alert latency: the milter did not start" >&2; exit 1; }
"$DMARCWATCHD" -c "$TMP/dmarcwatch.conf" -f > "$TMP/daemon.log" 2>&1 &
DPID=$!
started() { grep -q 'trigger=start' "$TMP/daemon.log"; }
wait_for 20 started || { echo "alert latency: dmarcwatchd did not run its start pass" >&2; cat "$TMP/daemon.log" >&2; exit 1; }

# Step 2: the mails, one spoofing alert each.
mkdir -p "$TMP/mail"
for ((i = 1; i <= N; i++)); do
  printf 'lat-%d.eml example.net lat-%d lat-%d.test none 1-0 gz 203.0.113.%d:25:fail:dw1\n' "$i" "$i" "$i" "$i"
done > "$TMP/spec"
python3 "$LIB/alert-mail.py" "$TMP/mail" "$TMP/spec" > /dev/null || exit 1

# Step 3: each mail through the milter, then the JSON polled for its domain's alert.
python3 - "$LIB/milter-client.py" "$TMP/milter.sock" "$TMP/mail" "$TMP/alerts.jsonl" "$N" > "$TMP/latencies" <<'PY' || {
import json, os, re, subprocess, sys, time
client, sock, maildir, jsonl, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
offset = 0
for i in range(1, n + 1):
    out = subprocess.run([sys.executable, client, sock, "report", "--mail", "%s/lat-%d.eml" % (maildir, i),
                          "--id", "LAT%d" % i, "--timeout", "10"], capture_output=True, text=True).stdout
    m = re.search(r" ok .*answered_ms=(\d+)", out)
    if not m:
        sys.exit("mail %d: %s" % (i, out.strip()))
    answered = int(m.group(1)) / 1000
    domain, deadline, seen = "lat-%d.test" % i, time.time() + 10, None
    while seen is None and time.time() < deadline:
        if os.path.exists(jsonl):
            with open(jsonl, encoding="utf-8") as f:
                f.seek(offset)
                for line in f:
                    if not line.endswith("\n"):
                        break
                    offset += len(line.encode())
                    sd = json.loads(line).get("SDATA", {}).get("dmarcwatch@32473", {})
                    if sd.get("domain") == domain and sd.get("rule") == "spoofing":
                        seen = time.time()
        if seen is None:
            time.sleep(0.002)
    if seen is None:
        sys.exit("mail %d: no spoofing alert for %s within 10 s" % (i, domain))
    print("%.4f" % (seen - answered))
    time.sleep(0.2)  # one pass per mail
PY
  echo "alert latency: $(tail -n 1 "$TMP/latencies")" >&2
  tail -n 5 "$TMP/daemon.log" >&2
  exit 1
}

# Step 4: the figures.
read -r lmin lmed lmax < <(sort -n "$TMP/latencies" | awk '{ v[NR] = $1 } END {
  m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print v[1], m, v[NR] }')
verdict=$(awk -v m="$lmax" 'BEGIN { print (m < 2) ? "target < 2 s ok (max)" : "target < 2 s MISSED (max)" }')
echo "| measurement | min | median | max | note |"
echo "|---|--:|--:|--:|---|"
printf '| report stored (milter accepts end of message) -> spoofing alert in syslog-ng JSON, %d mails | %.0f ms | %.0f ms | %.0f ms | %s |\n' \
  "$N" "$(awk -v x="$lmin" 'BEGIN { print x * 1000 }')" "$(awk -v x="$lmed" 'BEGIN { print x * 1000 }')" \
  "$(awk -v x="$lmax" 'BEGIN { print x * 1000 }')" "$verdict"
echo
echo "Fed by t/lib/milter-client.py on the milter's unix socket (no Postfix); dmarcwatchd -f woken by the store's notification, Resolver none, alerts over UDP to syslog-ng running contrib/syslog-ng/dmarcwatch.conf; arrival = the JSON line seen by a 2 ms poll of its file."
