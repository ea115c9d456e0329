#!/bin/bash
# bench-report-auth.sh - the milter's added time per report mail with the authenticity checks on
# against off (make bench, part 6; issue 14).
#
# The set-up of t/e2e/report-auth.sh (t/lib/report-auth.sh): a private unbound on loopback
# serving reporter.test's SPF, DMARC and DKIM key (2048-bit RSA, made now), a private Postfix
# with two smtpd listeners side by side, each with a dmarcwatch-milter of its own:
#   on   Resolver 127.0.0.1@PORT (SPF, DKIM and DMARC checked for every report mail)
#   off  Resolver none (no DNS: every report unauthenticated, no check waits on anything)
# N report mails each (BENCH_AUTH_N, default 40), signed by reporter.test (relaxed) with a
# report id of their own, sent by t/lib/smtp-send.py in alternating batches of 5 to the on
# and the off listener (one SMTP session per batch), so that machine drift hits both alike.
# The time per mail is MAIL FROM to the answer to the end of data, as the SMTP client sees it
# (Postfix and the milter together).  Prints Markdown: median, p90 and max per side, the
# added time (median on - median off) and the ratio of the medians; diagnostics on stderr.
# The on side must find every mail authenticated (its header says auth=authenticated), else
# the figure is not the checks' and the script exits 1.
#
# Needs root (Postfix; the milters switch to nobody), postfix, unbound, openssl, python3 and a
# C++ compiler with libopendkim (for t/e2e/dkim-sign.cc): exit 77 (skip) without them.  Every
# process started here is stopped by its PID from the EXIT trap; everything lives in one mktemp
# dir.
set -u
here=$(cd "$(dirname "$0")" && pwd)
SRCDIR=${SRCDIR:-$(cd "$here/../.." && pwd)}
BUILDDIR=${BUILDDIR:-$PWD}
MILTER=${DMARCWATCH_MILTER:-$BUILDDIR/milter/dmarcwatch-milter}
N=${BENCH_AUTH_N:-40}
BATCH=5
PATH=$PATH:/usr/sbin
LIB=$SRCDIR/t/lib
. "$LIB/common.sh"
. "$LIB/unbound-private.sh"
. "$LIB/report-auth.sh"

[ "$(id -u)" -eq 0 ] || { echo "report auth latency: needs root" >&2; exit 77; }
for tool in postfix openssl python3; do
  command -v "$tool" > /dev/null || { echo "report auth latency: no $tool" >&2; exit 77; }
done
unbound_binary > /dev/null || { echo "report auth latency: no unbound" >&2; exit 77; }
[ -x "$MILTER" ] || { echo "report auth latency: $MILTER not built" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dw-bench-auth.XXXXXX")
chmod 755 "$TMP"
ON_PID= OFF_PID= UNBOUND_PID=
cleanup() {
  stop_pid "$ON_PID" 5
  stop_pid "$OFF_PID" 5
  "$LIB/postfix-private.sh" stop "$TMP" 2> /dev/null
  stop_pid "$UNBOUND_PID" 5
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Step 1: the signer, the keys, unbound.
DKIM_SIGN=$BUILDDIR/t/e2e/dkim-sign
if [ ! -x "$DKIM_SIGN" ]; then
  DKIM_SIGN=$TMP/dkim-sign
  ${CXX:-c++} -std=c++20 -O1 -o "$DKIM_SIGN" "$SRCDIR/t/e2e/dkim-sign.cc" -lopendkim 2> "$TMP/cc.err" || {
    echo "report auth latency: cannot build dkim-sign (libopendkim-dev?)" >&2; exit 77; }
fi
read -r ON OFF QUEUED MON MOFF DNSPORT < <(free_ports 6 | tr '\n' ' ')
mkdir -p "$TMP/dns" "$TMP/m"
auth_keys "$TMP/dns" && auth_zone "$TMP/dns" || { echo "report auth latency: openssl failed" >&2; exit 1; }
unbound_start "$TMP/dns" "$DNSPORT" "$TMP/dns/zone" || { echo "report auth latency: unbound did not start" >&2; exit 1; }

# Step 2: the two milters and Postfix.
auth_milter_conf "$TMP/on.conf" "$MON" "$TMP/on" "127.0.0.1@$DNSPORT" flag
auth_milter_conf "$TMP/off.conf" "$MOFF" "$TMP/off" none flag
"$MILTER" -c "$TMP/on.conf" -f > "$TMP/on.log" 2>&1 &
ON_PID=$!
"$MILTER" -c "$TMP/off.conf" -f > "$TMP/off.log" 2>&1 &
OFF_PID=$!
wait_tcp "$MON" 10 && wait_tcp "$MOFF" 10 || { echo "report auth latency: a milter did not start" >&2; exit 1; }
"$LIB/postfix-private.sh" setup "$TMP" "$ON" "$QUEUED" "$MON" "$OFF" "$MOFF" > /dev/null &&
  "$LIB/postfix-private.sh" start "$TMP" > /dev/null && wait_tcp "$ON" 10 && wait_tcp "$OFF" 10 ||
  { echo "report auth latency: postfix did not start" >&2; exit 1; }

# Step 3: the mails, signed; then sent in alternating batches.
for side in on off; do
  for ((i = 1; i <= N; i++)); do
    python3 "$LIB/auth-mail.py" "$TMP/m/$side-$i.plain" --from dmarc@reporter.test --org reporter.test \
      --email dmarc@reporter.test --id "bench-$side-$i" --domain bench.test --messages "$i" &&
      auth_sign "$TMP/dns/reporter.test.pem" reporter.test "$TMP/m/$side-$i.plain" "$TMP/m/$side-$i.eml" ||
      { echo "report auth latency: mail $side-$i not made" >&2; exit 1; }
  done
done
: > "$TMP/times"
for ((first = 1; first <= N; first += BATCH)); do
  for side in on off; do
    port=$ON; [ $side = off ] && port=$OFF
    for ((i = first; i < first + BATCH && i <= N; i++)); do
      printf '%s\trua@example.test\n' "$TMP/m/$side-$i.eml"
    done > "$TMP/spec"
    python3 "$LIB/smtp-send.py" --port "$port" --tag "$side-$first" --sender dmarc@reporter.test --times "$TMP/spec" \
      > "$TMP/sent" 2>&1 || { echo "report auth latency: $side: $(grep -v $'\t250\t' "$TMP/sent" | head -n 2)" >&2; exit 1; }
    awk -F'\t' -v s=$side '{ print s, $4 }' "$TMP/sent" >> "$TMP/times"
  done
done

# Step 4: the on side's verdicts (the figure must be that of mails that were checked).
auth=$(grep -c 'outcome=stored' "$TMP/on.log")
hdr=$(grep -rl -e '^X-DMARCwatch: .*auth=authenticated' "$TMP/mail" 2> /dev/null | wc -l)
if [ "$hdr" -lt "$N" ]; then
  echo "report auth latency: only $hdr of the $N mails through the checks were authenticated ($auth stored)" >&2
  exit 1
fi

# Step 5: the figures.
stats_of() { # SIDE -> "median p90 max" in ms
  awk -v s="$1" '$1 == s { print $2 }' "$TMP/times" | sort -n | awk '{ v[NR] = $1 } END {
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    p = v[int(NR * 0.9 + 0.999)]; printf "%.1f %.1f %.1f\n", m, p, v[NR] }'
}
read -r on_med on_p90 on_max < <(stats_of on)
read -r off_med off_p90 off_max < <(stats_of off)
echo "| report mail through Postfix and the milter, $N each, alternating batches of $BATCH | median | p90 | max |"
echo "|---|--:|--:|--:|"
echo "| checks on (SPF, DKIM, DMARC against a loopback unbound) | $on_med ms | $on_p90 ms | $on_max ms |"
echo "| checks off (Resolver none) | $off_med ms | $off_p90 ms | $off_max ms |"
awk -v a="$on_med" -v b="$off_med" 'BEGIN { r = (b > 0) ? a / b : 0
  printf "| added by the checks (median on - median off; ratio on/off) | %+.1f ms (%.2fx) | | |\n", a - b, r }'
echo
echo "Time per mail: MAIL FROM to the answer to the end of data at the SMTP client (t/lib/smtp-send.py --times);" \
  "signed 2048-bit RSA, c=relaxed/relaxed, keys and records served by unbound on 127.0.0.1 (cache warm after the first mail)."
