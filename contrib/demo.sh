#!/usr/bin/env bash
# demo.sh BUILDDIR - the main job on an embedded default (run by ./setup.sh demo).
#
# A private Postfix on loopback (its own config, queue and mail directories
# under one temporary directory) with dmarcwatch-milter in smtpd_milters;
# the sample report mails of t/data/samples, a few generated ones, and one
# ordinary message are sent through SMTP; then `dmarcwatch status` and
# `dmarcwatch services` show what the milter stored, named from the catalog.  Everything started here is stopped by PID at exit.
# Without root or Postfix it falls back to `dmarcwatch ingest` of the same
# samples.
set -euo pipefail
builddir=$(cd "${1:?usage: demo.sh BUILDDIR}" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
dw=$builddir/collector/cli/dmarcwatch
milter=$builddir/milter/dmarcwatch-milter
lib=$top/t/lib
PATH=$PATH:/usr/sbin

work=$(mktemp -d /tmp/dmarcwatch-demo.XXXXXX)
chmod 755 "$work"
mpid=
cleanup() {
  [ -n "$mpid" ] && stop_pid "$mpid" 5
  [ -d "$work/postfix" ] && "$lib/postfix-private.sh" stop "$work" 2>/dev/null
  rm -rf "$work"
}
. "$lib/common.sh"
trap cleanup EXIT
# The commands name services from the catalog of this tree (an installed one reads PKGDATADIR).
printf 'Database %s\nServiceCatalog %s\n' "$work/db" "$top/contrib/services" > "$work/view.conf"
show() {
  echo "== dmarcwatch status --since all (the samples are dated in the past)"
  "$dw" -c "$work/view.conf" status --since all
  echo "== dmarcwatch services --since all (every source named from its evidence)"
  "$dw" -c "$work/view.conf" services --since all
}

if [ "$(id -u)" -ne 0 ] || ! command -v postfix >/dev/null; then
  echo "== no root or no Postfix: ingesting the samples directly (store: $work/db)"
  "$dw" --db "$work/db" ingest "$top"/t/data/samples/*.eml "$top"/t/data/samples/*.xml* || true
  echo
  show
  exit 0
fi

read -r direct queued mport < <(free_ports 3 | tr '\n' ' ') || true
mkdir -p "$work/db" # the configured Database must exist
cat > "$work/dmarcwatch.conf" <<EOF
Socket inet:$mport@127.0.0.1
ReportAddress rua@example.test
Database $work/db
SyslogTarget stderr
EOF

echo "== dmarcwatch-milter on inet:$mport@127.0.0.1 (config $work/dmarcwatch.conf)"
"$milter" -c "$work/dmarcwatch.conf" -f 2> "$work/milter.log" &
mpid=$!
wait_tcp "$mport" 10 || { cat "$work/milter.log"; exit 1; }

echo "== private Postfix on 127.0.0.1:$direct, smtpd_milters = inet:127.0.0.1:$mport"
"$lib/postfix-private.sh" setup "$work" "$direct" "$queued" "$mport" >/dev/null
"$lib/postfix-private.sh" start "$work" >/dev/null
wait_tcp "$direct" 10

# The samples, five generated reports, and one ordinary message for someone else.
python3 "$lib/make-reports.py" "$work/gen" --count 5 --records 20 --to rua@example.test --specials >/dev/null
{
  for f in "$top"/t/data/samples/*.eml "$work"/gen/report-*.eml; do printf '%s\trua@example.test\n' "$f"; done
  printf '%s\tcarol@other.test\n' "$work/gen/plain.eml"
} > "$work/spec"
n=$(wc -l < "$work/spec")
echo "== sending $n messages through SMTP"
python3 "$lib/smtp-send.py" --port "$direct" --threads 2 "$work/spec" | cut -f1,2 | sed 's/^/   /'

# Delivery is asynchronous: wait until every message sits in a Maildir.
delivered() { [ "$(find "$work/mail" -path '*/new/*' -type f 2>/dev/null | wc -l)" -ge "$n" ]; }
wait_for 20 delivered || echo "   (not every message delivered yet)"

echo
echo "== what the milter logged"
grep -E 'report' "$work/milter.log" | sed 's/^/   /' | head -40
echo
echo "== the header it added to delivered reports"
grep -h '^X-DMARCwatch:' "$work"/mail/example.test/rua/new/* | sort | uniq -c | sed 's/^/   /'
echo
show
