#!/bin/bash
# bench-peers.sh - opt-in: what users would pick instead, on our 200,000-record input.
#
# Runs each peer that is installed on the same generated report run-bench.sh
# uses (xml and gz), whole process, wall and peak RSS, one run each (they take
# minutes), with a timeout; prints a Markdown table next to dmarcwatch ingest.
# Peers (skipped when absent, noted in the table):
#   dmarc-cat FILE                         Debian dmarc-cat (prints only, no store)
#   parsedmarc --offline FILE              pip parsedmarc (no store configured)
#   dmarc_receive --file MSG               Debian libmail-dmarc-perl; SQLite store in
#                                          the work dir via its mail-dmarc.ini
#   dmarcts-report-parser -x FILE / -e MSG Debian dmarcts-report-parser; needs a
#                                          MariaDB/MySQL it can write: give its config
#                                          file in BENCH_DMARCTS_CONF, else skipped
# Peer configurations follow their manual pages; this machine has none of
# them installed, so those branches are exercised only where they are.
#
# Environment: BENCH_CACHE, SRCDIR, BUILDDIR as for run-bench.sh;
# BENCH_PEER_RECORDS (200000), BENCH_PEER_TIMEOUT seconds (900),
# BENCH_DMARCTS_CONF.  Exit 0 unless the input cannot be made.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench-lib.sh source-path=SCRIPTDIR
. "$here/bench-lib.sh"

BUILDDIR=${BUILDDIR:-$PWD}
GEN=$BUILDDIR/t/bench/generate-report
DW=${DMARCWATCH:-$BUILDDIR/collector/cli/dmarcwatch}
N=${BENCH_PEER_RECORDS:-200000}
TIMEOUT=${BENCH_PEER_TIMEOUT:-900}
CACHE=${BENCH_CACHE:-${TMPDIR:-/tmp}/dmarcwatch-bench-cache}
bench_require "$BENCH_TIME" "$PYTHON" timeout

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dmarcwatch-peers.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# Step: the input, shared with run-bench.sh's cache, and a mail around it
# for the tools that read only messages.
fp=$("$GEN" --records 64 --seed 1 2>/dev/null | cksum | cut -d' ' -f1)
IN=$CACHE/inputs-$fp
mkdir -p "$IN"
if [ ! -s "$IN/r$N.totals" ]; then
  "$GEN" --records "$N" --seed 1 --report-id "bench-$N" --out "$IN/r$N.xml" 2>/dev/null
  "$GEN" --records "$N" --seed 1 --report-id "bench-$N" --gzip --out "$IN/r$N.xml.gz" --totals "$IN/r$N.totals.tmp" 2>/dev/null
  mv "$IN/r$N.totals.tmp" "$IN/r$N.totals"
fi
"$PYTHON" - "$IN/r$N.xml.gz" "$WORK/report.eml" <<'EOF'
import sys
from email.message import EmailMessage
msg = EmailMessage()
msg["From"] = "noreply-dmarc-support@google.com"
msg["To"] = "dmarc@example.com"
msg["Subject"] = "Report domain: example.com Submitter: google.com Report-ID: bench"
msg["Date"] = "Mon, 01 Jan 2024 12:00:00 +0000"
msg["Message-ID"] = "<bench-peers@example.com>"
msg.set_content("DMARC aggregate report.")
msg.add_attachment(open(sys.argv[1], "rb").read(), maintype="application", subtype="gzip",
                   filename="google.com!example.com!1704067200!1704153599.xml.gz")
open(sys.argv[2], "wb").write(msg.as_bytes())
EOF

TABLE=$WORK/table.md
echo "| tool | input | wall | peak RSS | exit | note |" >"$TABLE"
echo "|---|---|--:|--:|--:|---|" >>"$TABLE"

# run_peer NAME INPUTLABEL CMD...: one timed run in a fresh directory.
run_peer() {
  local name=$1 label=$2 rc=0 note=""
  shift 2
  mkdir -p "$WORK/run" && rm -rf "${WORK:?}/run/"* && cd "$WORK/run"
  measure "$WORK/out" "$WORK/err" timeout "$TIMEOUT" "$@" || rc=$?
  cd "$WORK"
  [ $rc -eq 124 ] && note="killed after ${TIMEOUT} s"
  [ $rc -ne 0 ] && [ -z "$note" ] && note=$(head -c 120 "$WORK/err" | tr '|\n' '  ')
  echo "| $name | $label | $(fmt_s "$M_WALL") | $(fmt_mib "$M_RSS") | $rc | $note |" >>"$TABLE"
  echo "bench-peers: $name $label: $M_WALL s, $M_RSS KiB, exit $rc" >&2
}
absent() { echo "| $1 | - | - | - | - | not installed |" >>"$TABLE"; }

# Step: ourselves first, as the reference line.
for fmt in xml xml.gz; do
  run_peer "dmarcwatch ingest" "r$N.$fmt" "$DW" --db "$WORK/run/store" ingest "$IN/r$N.$fmt"
done

if command -v dmarc-cat >/dev/null; then
  for fmt in xml xml.gz; do run_peer dmarc-cat "r$N.$fmt" dmarc-cat "$IN/r$N.$fmt"; done
else absent dmarc-cat; fi

if command -v parsedmarc >/dev/null; then
  for fmt in xml xml.gz; do run_peer parsedmarc "r$N.$fmt" parsedmarc --offline "$IN/r$N.$fmt"; done
else absent parsedmarc; fi

if command -v dmarc_receive >/dev/null; then
  # Mail::DMARC reads mail-dmarc.ini from the working directory (or MAIL_DMARC_CONFIG_FILE).
  cat >"$WORK/mail-dmarc.ini" <<EOF
[organization]
domain             = example.com
org_name           = dmarcwatch bench
email              = postmaster@example.com

[report_store]
backend            = SQL
dsn                = dbi:SQLite:dbname=$WORK/run/mail-dmarc.sqlite
user               =
pass               =
EOF
  run_peer "Mail::DMARC dmarc_receive" "r$N.xml.gz in a mail" \
    sh -c "cp '$WORK/mail-dmarc.ini' . && MAIL_DMARC_CONFIG_FILE='$WORK/mail-dmarc.ini' dmarc_receive --file '$WORK/report.eml'"
else absent "Mail::DMARC (dmarc_receive)"; fi

if command -v dmarcts-report-parser >/dev/null || command -v dmarcts-report-parser.pl >/dev/null; then
  tool=$(command -v dmarcts-report-parser || command -v dmarcts-report-parser.pl)
  if [ -n "${BENCH_DMARCTS_CONF:-}" ]; then
    # It reads dmarcts-report-parser.conf from the working directory.
    cp "$BENCH_DMARCTS_CONF" "$WORK/dmarcts-report-parser.conf"
    cp "$IN/r$N.xml" "$WORK/r$N.xml"
    run_peer dmarcts-report-parser "r$N.xml" sh -c "cp '$WORK/dmarcts-report-parser.conf' . && '$tool' -r -x '$WORK/r$N.xml'"
    run_peer dmarcts-report-parser "r$N.xml.gz in a mail" sh -c "cp '$WORK/dmarcts-report-parser.conf' . && '$tool' -r -e '$WORK/report.eml'"
  else
    echo "| dmarcts-report-parser | - | - | - | - | installed, skipped: set BENCH_DMARCTS_CONF to a config with a writable MariaDB |" >>"$TABLE"
  fi
else absent dmarcts-report-parser; fi

echo "## Peers on the $N-record report"
echo
bench_machine
echo
echo "One run each, whole process, timeout $TIMEOUT s. See also shared/reference/peers.md."
echo
cat "$TABLE"
