#!/bin/bash
# unbound-enrich.sh - dmarcwatchd's enrichment pass end to end against a private unbound (make check).
#
# A private unbound on 127.0.0.1:<free port> serves test zones:
#   192.0.2.10   PTR o1.ptr1234.sendgrid.net, whose A is 192.0.2.10     -> confirmed
#   198.51.100.7 PTR mail.mailchimp-fake.example, whose A is elsewhere   -> unconfirmed
#   198.51.100.8 PTR o2.ptr9999.sendgrid.net, whose A is elsewhere      -> unconfirmed (under a
#                catalog suffix: recorded, but it must not name SendGrid)
#   203.0.113.5  no PTR                                                  -> none
#   example.com  SPF include:sendgrid.net ~all; sendgrid.net include:u1.sendgrid.net -all;
#                u1.sendgrid.net ip4:192.0.2.0/25 -all (nested); DMARC p=quarantine pct=25 rua
#   example.org  SPF ip4:203.0.113.5 -all; no DMARC record
# Two reports (example.com: 192.0.2.10, 198.51.100.7; example.org: 203.0.113.5, 198.51.100.7)
# are ingested with dmarcwatch, `dmarcwatchd -c CONF --once` runs one pass with Resolver
# 127.0.0.1@PORT and the shipped catalog, and `dmarcwatch db enrichment --json` must show:
# the PTR states above; SPF pass (include sendgrid.net, the catalog's), softfail, pass, fail
# per domain and IP; the live policy of example.com (p, pct, rua, its text, whose it is) and
# none for example.org; the live SPF records, their look-up counts (2 through the nested
# includes, 0) and no error.
# With GeoIPAsn (a test MMDB made by contrib/geoip/csv-to-mmdb.py) 192.0.2.10 is AS11377.
# Then `dmarcwatch sources --json` names from that evidence: 192.0.2.10 SendGrid by confirmed
# PTR, the exclusive SPF include and the AS (confidence 3, high), known-not-authorized;
# 198.51.100.8 nobody (its PTR does not resolve back).
# A second pass finds nothing due; db verify decodes the new tables; a report for
# mail.example.com (no _dmarc record of its own) gets example.com's DMARC record and SPF
# "none"; run as a daemon it
# passes every --interval and SIGTERM ends it at once with status 0.
# Prints TAP-ish lines and "N passed, M failed".  Exit 77 (skip) without an unbound binary
# (t/lib/unbound-private.sh says where it looks) or python3.  Processes: only the PIDs this
# script starts.
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILDDIR=${BUILDDIR:-$SRCDIR}
DMARCWATCH=${DMARCWATCH:-$BUILDDIR/collector/cli/dmarcwatch}
DMARCWATCHD=${DMARCWATCHD:-$BUILDDIR/collector/daemon/dmarcwatchd}
. "$SRCDIR/t/lib/common.sh"
. "$SRCDIR/t/lib/unbound-private.sh"

unbound_binary > /dev/null || { echo "# no unbound binary (./setup.sh check fetches one): skipped"; exit 77; }
command -v python3 > /dev/null || { echo "# no python3: skipped"; exit 77; }
[ -x "$DMARCWATCH" ] && [ -x "$DMARCWATCHD" ] || { echo "Bail out! dmarcwatch or dmarcwatchd not built"; exit 99; }

enrich_workspace dw-enrich

# Step 1: the test zones and the server.
cat > "$TMP/zones" <<'EOF2'
local-zone: "example.com." static
local-zone: "example.org." static
local-zone: "sendgrid.net." static
local-zone: "mailchimp-fake.example." static
local-zone: "2.0.192.in-addr.arpa." static
local-zone: "100.51.198.in-addr.arpa." static
local-zone: "113.0.203.in-addr.arpa." static
local-data: 'example.com. 300 IN TXT "v=spf1 include:sendgrid.net ~all"'
local-data: '_dmarc.example.com. 300 IN TXT "v=DMARC1; p=quarantine; pct=25; rua=mailto:dmarc@example.com"'
local-data: 'sendgrid.net. 300 IN TXT "v=spf1 include:u1.sendgrid.net -all"'
local-data: 'u1.sendgrid.net. 300 IN TXT "v=spf1 ip4:192.0.2.0/25 -all"'
local-data: 'o1.ptr1234.sendgrid.net. 300 IN A 192.0.2.10'
local-data: 'mail.mailchimp-fake.example. 300 IN A 203.0.113.99'
local-data: 'o2.ptr9999.sendgrid.net. 300 IN A 192.0.2.99'
local-data: 'example.org. 300 IN TXT "v=spf1 ip4:203.0.113.5 -all"'
local-data-ptr: "192.0.2.10 300 o1.ptr1234.sendgrid.net."
local-data-ptr: "198.51.100.7 300 mail.mailchimp-fake.example."
local-data-ptr: "198.51.100.8 300 o2.ptr9999.sendgrid.net."
EOF2
enrich_setup "$TMP/zones" || { echo "Bail out! unbound did not start"; exit 99; }
pass "unbound answers on 127.0.0.1:$PORT"

# Step 2: the store and its reports.
report() { # DOMAIN ID IP...
  local domain=$1 id=$2 ip
  shift 2
  printf '<?xml version="1.0"?>\n<feedback><report_metadata><org_name>google.com</org_name>'
  printf '<email>noreply@google.com</email><report_id>%s</report_id>' "$id"
  printf '<date_range><begin>%s</begin><end>%s</end></date_range></report_metadata>' \
    "$(( $(date +%s) - 86400 ))" "$(date +%s)"
  printf '<policy_published><domain>%s</domain><p>none</p></policy_published>' "$domain"
  for ip in "$@"; do
    printf '<record><row><source_ip>%s</source_ip><count>5</count><policy_evaluated>' "$ip"
    printf '<disposition>none</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated></row>'
    printf '<identifiers><header_from>%s</header_from></identifiers>' "$domain"
    printf '<auth_results><spf><domain>%s</domain><result>fail</result></spf></auth_results></record>' "$domain"
  done
  printf '</feedback>\n'
}
report example.com enrich-1 192.0.2.10 198.51.100.7 198.51.100.8 > "$TMP/r1.xml"
# GeoIP: AS11377 (SendGrid's) for 192.0.2.0/25, made into an MMDB as fetch-geoip.sh does.
printf '192.0.2.0,192.0.2.127,11377,SendGrid Inc\n' > "$TMP/asn.csv"
if python3 "$SRCDIR/contrib/geoip/csv-to-mmdb.py" --layout asn "$TMP/asn.mmdb" "$TMP/asn.csv" 2> "$TMP/mmdb.err"; then
  echo "GeoIPAsn $TMP/asn.mmdb" >> "$TMP/dmarcwatch.conf"
else
  fail "csv-to-mmdb.py makes the test ASN file"; sed 's/^/# /' "$TMP/mmdb.err"
fi
report example.org enrich-2 203.0.113.5 198.51.100.7 > "$TMP/r2.xml"
check "dmarcwatch ingests two reports" "$DMARCWATCH" -c "$TMP/dmarcwatch.conf" ingest "$TMP/r1.xml" "$TMP/r2.xml"

# Step 3: one pass.
if "$DMARCWATCHD" -c "$TMP/dmarcwatch.conf" -f --once > "$TMP/pass1.out" 2> "$TMP/pass1.err"; then
  pass "dmarcwatchd --once exits 0: $(cat "$TMP/pass1.out")"
else
  fail "dmarcwatchd --once exits 0"; sed 's/^/# /' "$TMP/pass1.err"
fi
check "the first pass checked 5 sources" grep -q '^sources 5, enriched 5, unknown 0,' "$TMP/pass1.out"
"$DMARCWATCH" -c "$TMP/dmarcwatch.conf" db enrichment --json > "$TMP/enrichment.json" 2> "$TMP/dump.err" ||
  sed 's/^/# /' "$TMP/dump.err"

# Step 4: what the store holds.
python3 - "$TMP/enrichment.json" > "$TMP/checks" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
ips = {e["ip"]: e for e in d["ips"]}
spf = {(e["domain"], e["ip"]): e for e in d["spf"]}
pol = {e["domain"]: e for e in d["policies"]}
def check(name, got, want):
    print(("ok" if got == want else "not ok") + f" {name}: got {got!r}" + ("" if got == want else f", want {want!r}"))
check("192.0.2.10 PTR", (ips.get("192.0.2.10", {}).get("ptr_state"), ips.get("192.0.2.10", {}).get("ptr_name")),
      ("confirmed", "o1.ptr1234.sendgrid.net"))
check("198.51.100.7 PTR", (ips.get("198.51.100.7", {}).get("ptr_state"), ips.get("198.51.100.7", {}).get("ptr_name")),
      ("unconfirmed", "mail.mailchimp-fake.example"))
check("203.0.113.5 PTR", ips.get("203.0.113.5", {}).get("ptr_state"), "none")
check("SPF example.com 192.0.2.10", (spf.get(("example.com", "192.0.2.10"), {}).get("result"),
      spf.get(("example.com", "192.0.2.10"), {}).get("include")), ("pass", "sendgrid.net"))
check("SPF example.com 198.51.100.7", (spf.get(("example.com", "198.51.100.7"), {}).get("result"),
      spf.get(("example.com", "198.51.100.7"), {}).get("include")), ("softfail", ""))
check("SPF example.org 203.0.113.5", spf.get(("example.org", "203.0.113.5"), {}).get("result"), "pass")
check("SPF example.org 198.51.100.7", spf.get(("example.org", "198.51.100.7"), {}).get("result"), "fail")
p = pol.get("example.com", {})
check("DMARC example.com", (p.get("state"), p.get("p"), p.get("pct"), p.get("rua")),
      ("found", "quarantine", 25, ["mailto:dmarc@example.com"]))
check("DMARC example.com text and domain", (p.get("record"), p.get("record_domain")),
      ("v=DMARC1; p=quarantine; pct=25; rua=mailto:dmarc@example.com", "example.com"))
check("SPF record example.com", (p.get("spf_record"), p.get("spf_lookups"), p.get("spf_error")),
      ("v=spf1 include:sendgrid.net ~all", 2, ""))
check("DMARC example.org", (pol.get("example.org", {}).get("state"), pol.get("example.org", {}).get("record_domain")),
      ("none", ""))
o = pol.get("example.org", {})
check("SPF record example.org", (o.get("spf_record"), o.get("spf_lookups"), o.get("spf_error")),
      ("v=spf1 ip4:203.0.113.5 -all", 0, ""))
check("198.51.100.8 PTR", ips.get("198.51.100.8", {}).get("ptr_state"), "unconfirmed")
check("192.0.2.10 AS (GeoIP hook)", ips.get("192.0.2.10", {}).get("asn"), 11377)
check("entries", (len(d["ips"]), len(d["spf"]), len(d["policies"])), (4, 5, 2))
PY
while read -r status rest; do
  if [ "$status" = ok ]; then pass "$rest"; else fail "${rest#ok }"; fi
done < "$TMP/checks"
[ -s "$TMP/checks" ] || fail "the enrichment dump parses as JSON"

# Step 4b: naming from that evidence, through the command.
"$DMARCWATCH" -c "$TMP/dmarcwatch.conf" sources --json example.com > "$TMP/sources.json" 2> "$TMP/sources.err" ||
  sed 's/^/# /' "$TMP/sources.err"
python3 - "$TMP/sources.json" > "$TMP/named" <<'PY'
import json, sys
src = {s["ip"]: s for s in json.load(open(sys.argv[1]))["sources"]}
def check(name, got, want):
    print(("ok" if got == want else "not ok") + f" {name}: got {got!r}" + ("" if got == want else f", want {want!r}"))
sg = src.get("192.0.2.10", {})
kinds = sorted(e["kind"] for e in sg.get("evidence", []) if e.get("service") == "sendgrid")
check("192.0.2.10 named SendGrid by PTR, SPF include and AS", (sg.get("service_id"), kinds, sg.get("confidence_level")),
      ("sendgrid", ["asn", "ptr", "spf-include"], "high"))
check("192.0.2.10 class", sg.get("class"), "known-not-authorized")
check("192.0.2.10 SPF and AS shown", (sg.get("spf"), sg.get("asn"), sg.get("ptr_confirmed")), ("pass", 11377, True))
fake = src.get("198.51.100.8", {})
check("198.51.100.8: an unconfirmed sendgrid.net PTR names nobody", (fake.get("service_id"), fake.get("ptr_confirmed")),
      ("", False))
check("... and says why", any("does not resolve back" in e["detail"] for e in fake.get("evidence", [])), True)
PY
while read -r status rest; do
  if [ "$status" = ok ]; then pass "$rest"; else fail "${rest#ok }"; fi
done < "$TMP/named"
[ -s "$TMP/named" ] || fail "sources --json parses"
# A wide table: the columns at their full width (at 80 the class and the AS give way).
COLUMNS=200 "$DMARCWATCH" -c "$TMP/dmarcwatch.conf" sources example.com > "$TMP/sources.txt" 2>&1
check "the sources table shows SendGrid and its AS" grep -Eq '^  192\.0\.2\.10 +Twilio SendGrid +known-not-authorized +AS11377 ' "$TMP/sources.txt"

# Step 5: a second pass has nothing due; the store verifies.
"$DMARCWATCHD" -c "$TMP/dmarcwatch.conf" -f --once > "$TMP/pass2.out" 2> "$TMP/pass2.err"
check "a second pass finds nothing due: $(cat "$TMP/pass2.out")" grep -q '^sources 5, enriched 0, ' "$TMP/pass2.out"
check "db verify decodes the enrichment tables" "$DMARCWATCH" -c "$TMP/dmarcwatch.conf" db verify

# Step 5b: a report whose policy domain is no DNS name (300 characters: too long for a name
# and for the store's keys) must not stop the pass: its source still gets its PTR.
long=$(printf 'a%.0s' $(seq 1 60)); long="$long.$long.$long.$long.$long.example"
report "$long" enrich-3 203.0.113.77 > "$TMP/r3.xml"
check "a report for a 300-character domain is stored" "$DMARCWATCH" -c "$TMP/dmarcwatch.conf" ingest "$TMP/r3.xml"
check "dmarcwatchd --once still exits 0" "$DMARCWATCHD" -c "$TMP/dmarcwatch.conf" -f --once
"$DMARCWATCH" -c "$TMP/dmarcwatch.conf" db enrichment --json > "$TMP/enrichment3.json" 2>&1
check "... and enriched its source's address" python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if any(e["ip"] == "203.0.113.77" for e in d["ips"]) else 1)' "$TMP/enrichment3.json"

# Step 5c: a subdomain without a _dmarc record: its organizational domain's record.
report mail.example.com enrich-4 192.0.2.10 > "$TMP/r4.xml"
check "a report for mail.example.com is stored" "$DMARCWATCH" -c "$TMP/dmarcwatch.conf" ingest "$TMP/r4.xml"
check "dmarcwatchd --once enriches it" "$DMARCWATCHD" -c "$TMP/dmarcwatch.conf" -f --once
"$DMARCWATCH" -c "$TMP/dmarcwatch.conf" db enrichment --json > "$TMP/enrichment4.json" 2>&1
python3 - "$TMP/enrichment4.json" > "$TMP/checks4" <<'PY'
import json, sys
pol = {e["domain"]: e for e in json.load(open(sys.argv[1]))["policies"]}
def check(name, got, want):
    print(("ok" if got == want else "not ok") + f" {name}: got {got!r}" + ("" if got == want else f", want {want!r}"))
m = pol.get("mail.example.com", {})
check("mail.example.com has example.com's DMARC record", (m.get("state"), m.get("p"), m.get("record_domain")),
      ("found", "quarantine", "example.com"))
check("mail.example.com has no SPF record", (m.get("spf_record"), m.get("spf_lookups"), m.get("spf_error")),
      ("", None, "none"))
PY
while read -r status rest; do
  if [ "$status" = ok ]; then pass "$rest"; else fail "${rest#ok }"; fi
done < "$TMP/checks4"
[ -s "$TMP/checks4" ] || fail "the enrichment dump parses as JSON"
"$DMARCWATCH" -c "$TMP/dmarcwatch.conf" db enrichment > "$TMP/enrichment4.txt" 2>&1
check "db enrichment says whose record it is" grep -q '^dmarc mail\.example\.com found from example\.com "v=DMARC1; p=quarantine' "$TMP/enrichment4.txt"
check "... and the SPF look-ups" grep -q '^spf-record example\.com lookups 2 "v=spf1 include:sendgrid\.net ~all"$' "$TMP/enrichment4.txt"

# Step 6: as a daemon: passes every second, SIGTERM ends it at once with status 0.
"$DMARCWATCHD" -c "$TMP/dmarcwatch.conf" -f --interval 1 > /dev/null 2> "$TMP/daemon.err" &
DPID=$!
two_passes() { # (the background shell may not have opened daemon.err yet)
  local n
  n=$(grep -sc 'info: pass trigger=' "$TMP/daemon.err")
  [ "${n:-0}" -ge 2 ]
}
if wait_for 10 two_passes; then
  pass "the daemon runs a pass every --interval"
else
  fail "the daemon runs a pass every --interval"; sed 's/^/# /' "$TMP/daemon.err"
fi
stopped_at=$(now_ms)
kill -TERM "$DPID"
wait "$DPID"
status=$?
check "SIGTERM stops the daemon with status 0 (got $status)" test "$status" -eq 0
check "... within 2 s" test $(( $(now_ms) - stopped_at )) -lt 2000
check "... saying so" grep -q 'stopped' "$TMP/daemon.err"
summary
