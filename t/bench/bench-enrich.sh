#!/bin/bash
# bench-enrich.sh - the enrichment rate of dmarcwatchd (sources/s) against a loopback unbound.
#
#   bench-enrich.sh [N]        (default N=5000; by hand only, never in make check)
#
# A private unbound (t/lib/unbound-private.sh) serves, for N source addresses in 198.18.0.0/15
# (RFC 2544's benchmark range): a PTR each, whose A confirms it for 4 of 5 addresses and points
# elsewhere for the fifth; bench.example with SPF include:sendgrid.net ~all (sendgrid.net:
# ip4:198.18.0.0/20 -all, so the first 4096 pass and the rest softfail) and a DMARC record.  One report with the N addresses is ingested,
# then `dmarcwatchd --once` runs one pass against an empty DNS cache (every look-up goes to
# unbound: PTR, forward A, SPF) and prints its summary; this script prints the pass's own time
# and rate and the wall time of the whole process (catalog load, store open included).
# Needs python3 and an unbound binary; BUILDDIR as make sets it (else the source tree).
set -u
N=${1:-5000}
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILDDIR=${BUILDDIR:-$SRCDIR}
DMARCWATCH=${DMARCWATCH:-$BUILDDIR/collector/cli/dmarcwatch}
DMARCWATCHD=${DMARCWATCHD:-$BUILDDIR/collector/daemon/dmarcwatchd}
. "$SRCDIR/t/lib/common.sh"
. "$SRCDIR/t/lib/unbound-private.sh"
. "$SRCDIR/t/bench/bench-lib.sh"
unbound_binary > /dev/null || { echo "bench-enrich: no unbound binary (./setup.sh check fetches one)" >&2; exit 1; }
[ "$N" -ge 1 ] && [ "$N" -le 131072 ] || { echo "bench-enrich: N must be 1..131072" >&2; exit 2; }

enrich_workspace dw-bench-enrich

# Step 1: zones and the report, generated together.
python3 - "$N" "$TMP" <<'PY'
import sys, time
n, out = int(sys.argv[1]), sys.argv[2]
ips = [f"198.{18 + i // 65536}.{(i // 256) % 256}.{i % 256}" for i in range(n)]
with open(f"{out}/zones", "w") as z:
    z.write('local-zone: "bench.example." static\nlocal-zone: "sendgrid.net." static\n')
    z.write('local-zone: "18.198.in-addr.arpa." static\nlocal-zone: "19.198.in-addr.arpa." static\n')
    z.write("local-data: 'bench.example. 300 IN TXT \"v=spf1 include:sendgrid.net ~all\"'\n")
    z.write("local-data: '_dmarc.bench.example. 300 IN TXT \"v=DMARC1; p=reject; rua=mailto:d@bench.example\"'\n")
    z.write("local-data: 'sendgrid.net. 300 IN TXT \"v=spf1 ip4:198.18.0.0/20 -all\"'\n")
    for i, ip in enumerate(ips):
        host = f"h{i}.out.bench.example."
        z.write(f'local-data-ptr: "{ip} 300 {host}"\n')
        a = ip if i % 5 else "192.0.2.1"
        z.write(f"local-data: '{host} 300 IN A {a}'\n")
now = int(time.time())
with open(f"{out}/report.xml", "w") as r:
    r.write('<?xml version="1.0"?>\n<feedback><report_metadata><org_name>bench</org_name><email>b@bench</email>')
    r.write(f"<report_id>enrich-{n}</report_id><date_range><begin>{now - 86400}</begin><end>{now}</end></date_range>")
    r.write("</report_metadata><policy_published><domain>bench.example</domain><p>none</p></policy_published>\n")
    for ip in ips:
        r.write(f"<record><row><source_ip>{ip}</source_ip><count>1</count><policy_evaluated><disposition>none"
                "</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated></row><identifiers><header_from>"
                "bench.example</header_from></identifiers><auth_results><spf><domain>bench.example</domain>"
                "<result>fail</result></spf></auth_results></record>\n")
    r.write("</feedback>\n")
PY
enrich_setup "$TMP/zones" || exit 1
"$DMARCWATCH" -c "$TMP/dmarcwatch.conf" ingest "$TMP/report.xml" > /dev/null || exit 1

# Step 2: the pass.
start=$(date +%s%N)
"$DMARCWATCHD" -c "$TMP/dmarcwatch.conf" -f --once > "$TMP/pass.out" 2> "$TMP/pass.err" ||
  { cat "$TMP/pass.err" >&2; exit 1; }
end=$(date +%s%N)
bench_machine
echo "dmarcwatchd --once, N=$N sources: $(cat "$TMP/pass.out")"
awk -v n="$N" -v ns="$((end - start))" 'BEGIN { printf "whole process: %.3f s wall, %.0f sources/s\n", ns / 1e9, n / (ns / 1e9) }'
"$DMARCWATCH" -c "$TMP/dmarcwatch.conf" db enrichment --json > "$TMP/dump.json"
python3 - "$TMP/dump.json" "$N" <<'PY'
import collections, json, sys
d = json.load(open(sys.argv[1])); n = int(sys.argv[2])
ptr = collections.Counter(e["ptr_state"] for e in d["ips"])
spf = collections.Counter(e["result"] for e in d["spf"])
print(f"stored: {len(d['ips'])} IPs, PTR {dict(ptr)}, SPF {dict(spf)}")
want_confirmed = n - (n + 4) // 5
want_pass = min(n, 4096)
ok = (len(d["ips"]) == n and ptr["confirmed"] == want_confirmed and ptr["unconfirmed"] == n - want_confirmed
      and spf["pass"] == want_pass and spf["softfail"] == n - want_pass)
print("check: " + ("ok" if ok else f"NOT OK (want {want_confirmed} confirmed, {want_pass} SPF pass of {n})"))
sys.exit(0 if ok else 1)
PY
