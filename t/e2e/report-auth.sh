#!/bin/bash
# report-auth.sh - authenticity of report mail end to end (issue 14; make check): signed and
# forged report mails through a private Postfix on loopback and the real dmarcwatch-milter,
# whose DNS (SPF, DKIM keys, DMARC) comes from a private unbound serving a test zone.
#
# Set-up: two 2048-bit RSA keys made now with openssl; unbound (t/lib/report-auth.sh) serves
#   reporter.test  SPF "v=spf1 ip4:127.0.0.1 -all", _dmarc "v=DMARC1; p=reject", its key at
#                  dw2026._domainkey (TXT split into 255-byte strings)
#   evil.test      the same with a key of its own
#   plain.test     no SPF, no DMARC record, no key
# and a second unbound drops every question about test. (local-zone deny: a DNS server that
# never answers).  Mails are signed by t/e2e/dkim-sign (libopendkim) and sent with
# t/lib/smtp-send.py; each mail's verdict is read from the X-DMARCwatch header of its
# delivered copy (Maildir), from `dmarcwatch reports --json` (authenticity, auth_reason, state)
# and from `dmarcwatch status --json` (the totals).
#
#   phase R  UntrustedReports reject
#     a   From dmarc@reporter.test, signed by reporter.test (relaxed), report by reporter.test
#         -> auth=authenticated in the header, "authenticity":"authenticated"
#     a2  the same signed c=simple/simple with "Subject:  Report  ..." (two spaces): the milter
#         must verify the header bytes as sent (leading space kept) -> authenticated
#     b   a's mail with another report put in the body after signing, sent from 127.0.0.66
#         (not in reporter.test's SPF) -> forged: 550 5.7.1, milter-reject in the maillog,
#         no delivered copy, not stored
#     c   signed by evil.test and DMARC-passing as evil.test, but the report names
#         reporter.test (org_name, email) -> forged: 550, not stored
#     d   unsigned, From dmarc@plain.test (no DMARC record) -> unauthenticated, accepted
#   phase Q  UntrustedReports quarantine: a and b for q.test -> b stored, forged,
#         "state":"quarantined", its 700 messages not in status (q.test: a's 3)
#   phase F  UntrustedReports flag: a, b and c for f.test -> all stored and counted (753),
#         b and c forged
#   phase T  Resolver = the unbound that never answers, AuthTimeout 1s: a -> unauthenticated,
#         accepted; the time it took next to phase F's a (bounded: at most ~AuthTimeout more)
#   phase S  `dmarcwatch ingest --milter-spf` of an unsigned mail carrying our header's
#         spf=pass for reporter.test with its MAC under the store's key -> authenticated;
#         without the option, without the MAC, with two headers or no key -> not
#
# Until the milter judges report mail (issue 14) the verdict checks fail; the set-up checks (the
# zone's records, signatures verified by the signer's own library, delivery) pass on their own.
# Exit 77 unless root with postfix, unbound, openssl, python3 and a C++ compiler with
# libopendkim (for dkim-sign, unless the build made it).  TAP-ish output ending in
# "N passed, M failed"; on failure the logs are dumped.  Every process is started here and
# stopped by its PID from the EXIT trap; everything lives in one mktemp dir.
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILDDIR=${BUILDDIR:-$SRCDIR}
MILTER=$BUILDDIR/milter/dmarcwatch-milter
DMARCWATCH=$BUILDDIR/collector/cli/dmarcwatch
PATH=$PATH:/usr/sbin
LIB=$SRCDIR/t/lib

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (private Postfix)"; exit 77; }
command -v postfix > /dev/null || { echo "SKIP: postfix not installed"; exit 77; }
command -v python3 > /dev/null || { echo "SKIP: python3 not found"; exit 77; }
command -v openssl > /dev/null || { echo "SKIP: openssl not installed (test keys)"; exit 77; }
. "$LIB/common.sh"
. "$LIB/unbound-private.sh"
. "$LIB/report-auth.sh"
. "$LIB/e2e-checks.sh"
unbound_binary > /dev/null || { echo "SKIP: no unbound binary"; exit 77; }
[ -x "$MILTER" ] && [ -x "$DMARCWATCH" ] || { echo "Bail out! programs not built"; exit 99; }
T0=$(now_ms)

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dw-auth.XXXXXX")
chmod 755 "$TMP"
MPID= UNBOUND_PID= DNS_PID= DROP_PID=
cleanup() {
  local rc=$?
  [ -n "$MPID" ] && stop_pid "$MPID" 5
  "$LIB/postfix-private.sh" stop "$TMP" 2> /dev/null
  [ -n "$DNS_PID" ] && stop_pid "$DNS_PID" 5
  [ -n "$DROP_PID" ] && stop_pid "$DROP_PID" 5
  if [ "$FAILED" -gt 0 ] || [ $rc -ne 0 ]; then
    echo "# --- maillog (last 40 lines) ---"; tail -n 40 "$TMP/postfix/maillog" 2> /dev/null | sed 's/^/#   /'
    echo "# --- milter log (last 40 lines) ---"; tail -n 40 "$TMP/milter.log" 2> /dev/null | sed 's/^/#   /'
  fi
  [ -n "${E2E_KEEP:-}" ] && echo "# kept $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Step: the signer and an independent verifier (libopendkim with a key file): the build's,
# else compiled now.
tool() {
  local out=$BUILDDIR/t/e2e/$1
  if [ ! -x "$out" ]; then
    out=$TMP/$1
    ${CXX:-c++} -std=c++20 -O1 -o "$out" "$SRCDIR/t/e2e/$1.cc" -lopendkim 2> "$TMP/cc.err" || {
      echo "SKIP: cannot build t/e2e/$1.cc (libopendkim-dev?): $(head -n 1 "$TMP/cc.err")" >&2; exit 77; }
  fi
  echo "$out"
}
# shellcheck disable=SC2034 # read by auth_sign (t/lib/report-auth.sh)
DKIM_SIGN=$(tool dkim-sign) || exit 77
DKIM_CHECK=$(tool dkim-verify-check) || exit 77

# Step: keys, the zone and the two DNS servers.
read -r DIRECT QUEUED MPORT DNSPORT DROPPORT < <(free_ports 5 | tr '\n' ' ')
mkdir -p "$TMP/dns" "$TMP/drop"
auth_keys "$TMP/dns" && auth_zone "$TMP/dns" || { echo "Bail out! openssl could not make the test keys"; exit 99; }
unbound_start "$TMP/dns" "$DNSPORT" "$TMP/dns/zone" && DNS_PID=$UNBOUND_PID || { echo "Bail out! unbound did not start"; exit 99; }
echo 'local-zone: "test." deny' > "$TMP/drop/zone"
unbound_start "$TMP/drop" "$DROPPORT" "$TMP/drop/zone" && DROP_PID=$UNBOUND_PID || { echo "Bail out! the second unbound did not start"; exit 99; }
pass "unbound serves the test zone on 127.0.0.1:$DNSPORT, drops it on :$DROPPORT"

# The zone as served: each key record whole (its strings joined) and the policy records.
: > "$TMP/keys"
for d in reporter.test evil.test; do
  want="v=DKIM1; k=rsa; p=$(openssl rsa -in "$TMP/dns/$d.pem" -pubout -outform DER 2> /dev/null | base64 -w0)"
  python3 "$LIB/auth-mail.py" --dkim-key "$DNSPORT" "$AUTH_SELECTOR._domainkey.$d" >> "$TMP/keys"
  check "DNS: $AUTH_SELECTOR._domainkey.$d TXT is the public key (${#want} bytes in strings of <= 255)" \
    test "$(tail -n 1 "$TMP/keys")" = "$AUTH_SELECTOR._domainkey.$d $want"
  check "DNS: _dmarc.$d and $d TXT answer" \
    all test "$(dns_query "$DNSPORT" "_dmarc.$d" TXT)" = "0 1" -- test "$(dns_query "$DNSPORT" "$d" TXT)" = "0 1"
done
check "DNS: plain.test has no TXT, _dmarc.plain.test is NXDOMAIN" \
  all test "$(dns_query "$DNSPORT" plain.test TXT)" = "0 0" -- test "$(dns_query "$DNSPORT" _dmarc.plain.test TXT)" = "3 0"
check "DNS: the dropping server does not answer" not dns_query "$DROPPORT" _dmarc.reporter.test TXT

# Step: the mails.  mk NAME FROM ORG EMAIL ID DOMAIN MESSAGES [SIGNER-DOMAIN [simple]]
mkdir -p "$TMP/m"
mk() {
  local name=$1 from=$2 org=$3 email=$4 id=$5 domain=$6 n=$7 signer=${8:-} canon=${9:-relaxed} extra=()
  [ "$canon" = simple ] && extra=(--simple-subject)
  python3 "$LIB/auth-mail.py" "$TMP/m/$name.plain" --from "$from" --org "$org" --email "$email" --id "$id" \
    --domain "$domain" --messages "$n" "${extra[@]}" || return 1
  if [ -z "$signer" ]; then
    cp "$TMP/m/$name.plain" "$TMP/m/$name.eml"
  else
    auth_sign "$TMP/dns/$signer.pem" "$signer" "$TMP/m/$name.plain" "$TMP/m/$name.eml" "$canon"
  fi
}
# forge NAME FROM-SIGNED OTHER-PLAIN: the signed mail's header with another mail's body
forge() {
  local head
  head=$(grep -m1 -n -x $'\r' "$TMP/m/$2.eml" | cut -d: -f1)
  { head -n "$head" "$TMP/m/$2.eml"; tail -n +"$(( $(grep -m1 -n -x $'\r' "$TMP/m/$3.plain" | cut -d: -f1) + 1 ))" "$TMP/m/$3.plain"; } > "$TMP/m/$1.eml"
}
R=reporter.test
made=0
for ph in r q f t; do
  mk "a-$ph" "dmarc@$R" "$R" "dmarc@$R" "auth-a-$ph" "$ph.dom.test" 3 "$R" &&
    mk "b-$ph-src" "dmarc@$R" "$R" "dmarc@$R" "auth-b-$ph" "$ph.dom.test" 7 "$R" &&
    mk "b-$ph-new" "dmarc@$R" "$R" "dmarc@$R" "auth-b-$ph" "$ph.dom.test" 700 &&
    forge "b-$ph" "b-$ph-src" "b-$ph-new" &&
    mk "c-$ph" "dmarc@evil.test" "$R" "dmarc@$R" "auth-c-$ph" "$ph.dom.test" 50 evil.test &&
    mk "d-$ph" "dmarc@plain.test" plain.test "dmarc@plain.test" "auth-d-$ph" "$ph.dom.test" 5 &&
    made=$((made + 1))
done
mk a2-r "dmarc@$R" "$R" "dmarc@$R" auth-a2-r r.dom.test 4 "$R" simple && made=$((made + 1))
check "mails made and signed ($made of 5 sets)" test "$made" = 5
# The signatures checked apart from the milter: libopendkim with the keys as unbound served
# them (so a verdict below that is wrong is the milter's, not the set-up's).
# dkim_ok FILE: a signature of FILE verifies; dkim_bh_bad FILE: one fails by its body hash
dkim_ok() { "$DKIM_CHECK" "$TMP/keys" < "$1" > /dev/null; }
dkim_bh_bad() { "$DKIM_CHECK" "$TMP/keys" < "$1" | grep -q ' fail .*bh=mismatch'; }
for m in a-r a2-r c-r; do check "signature of $m verifies" dkim_ok "$TMP/m/$m.eml"; done
check "signature of b-r does not (body hash mismatch)" dkim_bh_bad "$TMP/m/b-r.eml"
# The corpus survey's body hash (t/corpus/dkim-survey.py) agrees with libopendkim on these.
check "dkim-survey.py: body hash match for a-r (relaxed), a2-r (simple), c-r; mismatch for b-r" \
  test "$(cd "$TMP/m" && python3 "$SRCDIR/t/corpus/dkim-survey.py" --files a-r.eml a2-r.eml c-r.eml b-r.eml d-r.eml | tr '\n' ' ')" \
  = "a-r.eml reporter.test match a2-r.eml reporter.test match c-r.eml evil.test match b-r.eml reporter.test mismatch d-r.eml unsigned "
check "a2-r is signed c=simple/simple with a two-space Subject" \
  all grep -q 'c=simple/simple' "$TMP/m/a2-r.eml" -- grep -q '^Subject:  Report  ' "$TMP/m/a2-r.eml"

# Step: the milter (as nobody) and Postfix.
# start_milter UNTRUSTED RESOLVER-PORT: (re)start the milter with these settings, one store
start_milter() {
  [ -n "$MPID" ] && stop_pid "$MPID" 5
  MPID=
  auth_milter_conf "$TMP/milter.conf" "$MPORT" "$TMP" "127.0.0.1@$2" "$1"
  echo "# --- milter: UntrustedReports $1, Resolver port $2" >> "$TMP/milter.log"
  "$MILTER" -c "$TMP/milter.conf" -f "${MILTER_ARGS[@]}" >> "$TMP/milter.log" 2>&1 &
  MPID=$!
  wait_tcp "$MPORT" 10
}
# With --dump-messages (a milter that has it) phase R keeps each report mail as the checks get
# it: its signatures must verify apart from the milter too (header bytes kept as sent).
MILTER_ARGS=()
if "$MILTER" --help 2>&1 | grep -q -- --dump-messages; then
  mkdir -p "$TMP/dump" && chown 65534:65534 "$TMP/dump"
  MILTER_ARGS=(--dump-messages "$TMP/dump")
fi
"$LIB/postfix-private.sh" setup "$TMP" "$DIRECT" "$QUEUED" "$MPORT" || { fail "postfix setup"; exit 1; }
PFPID=$("$LIB/postfix-private.sh" start "$TMP") && wait_tcp "$DIRECT" 10 \
  && pass "private postfix started (master $PFPID)" || { fail "postfix start"; exit 1; }

# send NAME ENVELOPE-SENDER [SOURCE-IP]: one mail to rua@ on the milter's port; SENT_CODE and
# SENT_MS (MAIL FROM to the answer to the end of data, whole milliseconds)
send() {
  local name=$1 sender=$2 src=${3:-} extra=()
  [ -n "$src" ] && extra=(--source "$src")
  printf '%s\trua@example.test\n' "$TMP/m/$name.eml" > "$TMP/spec-$name"
  python3 "$LIB/smtp-send.py" --port "$DIRECT" --tag "$name" --sender "$sender" --times "${extra[@]}" \
    "$TMP/spec-$name" > "$TMP/sent-$name" 2>&1
  SENT_CODE=$(cut -f2 "$TMP/sent-$name" | head -n 1)
  SENT_MS=$(cut -f4 "$TMP/sent-$name" | head -n 1 | cut -d. -f1)
  SENT_MS=${SENT_MS:-0}
  echo "# $name: $SENT_CODE in $SENT_MS ms: $(cut -f3 "$TMP/sent-$name" | head -n 1)"
}
# header NAME: the X-DMARCwatch value of NAME's delivered copy; "NONE" without the header,
# "ABSENT" when not delivered (waits up to 10 s for it)
copy_of() {
  python3 - "$LIB/maildir-check.py" "$TMP/mail" "$1" <<'PY'
import importlib.util, sys
spec = importlib.util.spec_from_file_location("mc", sys.argv[1]); mc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mc)
for box, raw in mc.maildir_copies(sys.argv[2]):
    head, _ = mc.split(raw)
    if any(v.startswith(sys.argv[3] + ":") for v in mc.header_values(head, "X-Test-Id")):
        h = mc.header_values(head, "X-DMARCwatch")
        print(h[0] if h else "NONE")
        sys.exit(0)
print("ABSENT")
PY
}
header() {
  local h i
  for ((i = 0; i < 50; i++)); do
    h=$(copy_of "$1")
    [ "$h" != ABSENT ] && break
    sleep 0.2
  done
  echo "$h"
}
# report ID: "AUTHENTICITY STATE REASON" of the stored report ID, "ABSENT" when not stored
report() {
  "$DMARCWATCH" --db "$TMP/db" reports --json 2> /dev/null | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("reports", []):
    if r.get("report_id") == sys.argv[1]:
        print(r.get("authenticity", "-"), r.get("state", "-"), r.get("auth_reason", "-") or "-")
        sys.exit(0)
print("ABSENT")' "$1" 2> /dev/null || echo "ERROR"
}
# expect_auth NAME ID VERDICT: delivered with auth=VERDICT in the header, stored with it
expect_auth() {
  local h r
  h=$(header "$1")
  check "$1: header auth=$3 (X-DMARCwatch: $h)" grep -Eq "(^|[;[:space:]])auth=$3([^a-z]|$)" <<< "$h"
  r=$(report "$2")
  check "$1: reports --json authenticity $3 ($r)" test "${r%% *}" = "$3"
}

# ===== phase R: UntrustedReports reject =====
check "phase R: milter started (UntrustedReports reject)" start_milter reject "$DNSPORT"
send a-r "dmarc@$R"
check "a (authenticated): accepted (250)" test "$SENT_CODE" = 250
expect_auth a-r auth-a-r authenticated
# Our header as Postfix wrote it (LEADSPC agreed: the milter gives the space after the colon).
check "a: delivered with 'X-DMARCwatch: stored' (a space after the colon)" \
  sh -c 'grep -rlq "^X-DMARCwatch: stored" "$1"' _ "$TMP/mail"
send a2-r "dmarc@$R"
check "a2 (c=simple, two-space Subject): accepted (250)" test "$SENT_CODE" = 250
expect_auth a2-r auth-a2-r authenticated
send b-r "dmarc@$R" 127.0.0.66
check "b (body changed after signing, SPF fail): 550 5.7.1 (got $SENT_CODE $(cut -f3 "$TMP/sent-b-r"))" \
  all test "$SENT_CODE" = 550 -- grep -q '5\.7\.1' "$TMP/sent-b-r"
send c-r "dmarc@evil.test"
check "c (evil.test signs for reporter.test's report): 550 5.7.1 (got $SENT_CODE)" \
  all test "$SENT_CODE" = 550 -- grep -q '5\.7\.1' "$TMP/sent-c-r"
send d-r "dmarc@plain.test"
check "d (unsigned, no DMARC record): accepted (250)" test "$SENT_CODE" = 250
expect_auth d-r auth-d-r unauthenticated
# (Postfix logs the enhanced status code and text of a milter's 550, not the 550: the client saw it.)
check "b and c: Postfix logged two milter rejects with 5.7.1 forged report" \
  wait_for 10 test "$(grep -c 'milter-reject: END-OF-MESSAGE.* 5\.7\.1 dmarcwatch: forged report' "$TMP/postfix/maillog")" = 2
check "b and c: not delivered" all test "$(copy_of b-r)" = ABSENT -- test "$(copy_of c-r)" = ABSENT
check "b and c: not stored" all test "$(report auth-b-r)" = ABSENT -- test "$(report auth-c-r)" = ABSENT
got=$(status_messages r.dom.test)
check "phase R: status r.dom.test messages=$got (a 3 + a2 4 + d 5 = 12)" test "$got" = 12
# dumped NAME: the mail the checks got for NAME (by its Message-ID), "" when none
dumped() { grep -l -m1 -i "^Message-ID: <auth-$1@" "$TMP"/dump/*.eml 2> /dev/null | head -n 1; }
if [ ${#MILTER_ARGS[@]} -gt 0 ]; then
  for m in a-r a2-r c-r; do
    f=$(dumped "$m")
    check "the checks got $m with its signature intact (verifies as sent)" all test -n "$f" -- dkim_ok "${f:-/dev/null}"
  done
  f=$(dumped b-r)
  check "the checks got b-r with its body hash mismatch" all test -n "$f" -- dkim_bh_bad "${f:-/dev/null}"
  MILTER_ARGS=()
else
  echo "# the milter has no --dump-messages: the mails as its checks get them not checked"
fi

# ===== phase Q: UntrustedReports quarantine =====
check "phase Q: milter restarted (UntrustedReports quarantine)" start_milter quarantine "$DNSPORT"
send a-q "dmarc@$R"
expect_auth a-q auth-a-q authenticated
send b-q "dmarc@$R" 127.0.0.66
check "b under quarantine: accepted (250)" test "$SENT_CODE" = 250
expect_auth b-q auth-b-q forged
r=$(report auth-b-q)
check "b under quarantine: stored with state quarantined ($r)" test "$(cut -d' ' -f2 <<< "$r")" = quarantined
check "b under quarantine: a reason is given ($r)" test "$(cut -d' ' -f3- <<< "$r")" != "-"
got=$(status_messages q.dom.test)
check "phase Q: status q.dom.test messages=$got (a's 3; b's 700 quarantined)" test "$got" = 3

# ===== phase F: UntrustedReports flag =====
check "phase F: milter restarted (UntrustedReports flag)" start_milter flag "$DNSPORT"
send a-f "dmarc@$R"
A_MS=$SENT_MS
expect_auth a-f auth-a-f authenticated
send b-f "dmarc@$R" 127.0.0.66
check "b under flag: accepted (250)" test "$SENT_CODE" = 250
expect_auth b-f auth-b-f forged
send c-f "dmarc@evil.test"
check "c under flag: accepted (250)" test "$SENT_CODE" = 250
expect_auth c-f auth-c-f forged
r=$(report auth-c-f)
check "c under flag: not quarantined ($r)" test "$(cut -d' ' -f2 <<< "$r")" != quarantined
got=$(status_messages f.dom.test)
check "phase F: status f.dom.test messages=$got (3 + 700 + 50: flagged reports count)" test "$got" = 753

# ===== phase T: DNS that never answers, AuthTimeout 1s =====
check "phase T: milter restarted (Resolver: the server that drops)" start_milter reject "$DROPPORT"
send a-t "dmarc@$R"
check "a with DNS timing out: accepted (250), never blocked" test "$SENT_CODE" = 250
expect_auth a-t auth-a-t unauthenticated
added=$((SENT_MS - A_MS))
echo "# DNS timeout: $SENT_MS ms for the mail against $A_MS ms with DNS answering: +$added ms (AuthTimeout 1s)"
check "a with DNS timing out: at most AuthTimeout + 1 s longer than with DNS (+$added ms)" test "$added" -lt 2000
got=$(status_messages t.dom.test)
check "phase T: status t.dom.test messages=$got (unauthenticated counts: 3)" test "$got" = 3

ts=$(now_ms)
kill -TERM "$MPID"; wait "$MPID"; rc=$?; MPID=
check "SIGTERM: milter exit status $rc after $(( $(now_ms) - ts )) ms" test "$rc" -eq 0

# ===== phase S: `dmarcwatch ingest --milter-spf` reads back the SPF the milter recorded =====
# The milter records spf= only for a client it checked, never a loopback one (the unit tests
# show it writing and signing it: test-recorded-spf.cc, test-session.cc), so the mail here is a
# file as the rua mailbox would hold it: unsigned, From reporter.test, our header saying SPF
# passed for reporter.test, with spf-mac= under the store's header key (made here as the milter
# makes it).  With the option and the right MAC that is DMARC pass (aligned SPF): authenticated;
# without the option, without a MAC (anyone's header), with two headers or without the key:
# SPF is none and nothing proves the mail.
head -c 32 /dev/urandom > "$TMP/header-key"
# cli_verdict NAME [nokey] [OPTION]: "AUTHENTICITY | REASON" of ingesting m/NAME.eml into a fresh store
cli_verdict() {
  local name=$1
  shift
  rm -rf "$TMP/cli-db" && mkdir "$TMP/cli-db"
  if [ "${1:-}" = nokey ]; then shift; else cp "$TMP/header-key" "$TMP/cli-db/header-key"; fi
  printf 'Database %s\nResolver 127.0.0.1@%s\nAuthTimeout 2s\n' "$TMP/cli-db" "$DNSPORT" > "$TMP/cli.conf"
  "$DMARCWATCH" -c "$TMP/cli.conf" ingest --json "$@" "$TMP/m/$name.eml" 2> "$TMP/cli.err" |
    python3 -c 'import json, sys; r = json.load(sys.stdin)["reports"][0]; print(r["authenticity"], "|", r.get("auth_reason", ""))'
}
# ours FILE [nomac]: our header for the mail in FILE, signed as recorded-spf.cc signs it
ours() {
  python3 - "$TMP/header-key" "$1" "${2:-}" <<'PY'
import hashlib, hmac, re, sys
key = open(sys.argv[1], "rb").read()
head = open(sys.argv[2], "rb").read().decode("latin-1").replace("\r\n", "\n").split("\n\n", 1)[0]
mid = ""
for field in re.split(r"\n(?![ \t])", head):
    name, _, value = field.partition(":")
    if name.strip().lower() == "message-id":
        mid = value.replace("\n", "").strip()
        break
text = "spf=pass smtp.mailfrom=reporter.test"
mac = hmac.new(key, ("dmarcwatch-spf-1\n" + text + "\n" + mid).encode(), hashlib.sha256).hexdigest()[:32]
print("X-DMARCwatch: stored; reports=1; records=1; messages=9; auth=unauthenticated; " + text +
      ("" if sys.argv[3] == "nomac" else "; spf-mac=" + mac))
PY
}
if mk s-plain "dmarc@$R" "$R" "dmarc@$R" auth-s s.dom.test 9; then
  h=$(ours "$TMP/m/s-plain.eml") && hx=$(ours "$TMP/m/s-plain.eml" nomac)
  { printf '%s\r\n' "$h"; cat "$TMP/m/s-plain.eml"; } > "$TMP/m/s.eml"
  { printf '%s\r\n%s\r\n' "$h" "$h"; cat "$TMP/m/s-plain.eml"; } > "$TMP/m/s2.eml"
  { printf '%s\r\n' "$hx"; cat "$TMP/m/s-plain.eml"; } > "$TMP/m/sx.eml"
  got=$(cli_verdict s --milter-spf)
  check "S: ingest --milter-spf of the mailbox copy (MAC under the store's key): authenticated ($got)" \
    test "${got%% *}" = authenticated
  got=$(cli_verdict s)
  check "S: the same without --milter-spf: not authenticated, SPF none ($got)" \
    all test "${got%% *}" != authenticated -- grep -q 'spf=none' <<< "$got"
  got=$(cli_verdict sx --milter-spf)
  check "S: a header without spf-mac (anyone can write one), --milter-spf: not authenticated ($got)" \
    all test "${got%% *}" != authenticated -- grep -q 'spf=none' <<< "$got"
  got=$(cli_verdict s2 --milter-spf)
  check "S: two X-DMARCwatch headers, --milter-spf: not authenticated ($got)" test "${got%% *}" != authenticated
  got=$(cli_verdict s nokey --milter-spf)
  check "S: no header key in the store: not authenticated, and ingest says so ($got; $(head -c 200 "$TMP/cli.err"))" \
    all test "${got%% *}" != authenticated -- grep -q 'header-key' "$TMP/cli.err"
else
  fail "S: the mail could not be made"
fi
echo "# total $(( $(now_ms) - T0 )) ms"
summary
