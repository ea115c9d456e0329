# shellcheck shell=bash
# report-auth.sh - the DNS and keys of the report authenticity tests (issue 14): source it after
# common.sh and unbound-private.sh (bash).  Used by t/e2e/report-auth.sh and
# t/bench/bench-report-auth.sh.
#
#   auth_keys DIR            a 2048-bit RSA key per signing domain, made now with openssl:
#                            DIR/reporter.test.pem and DIR/evil.test.pem
#   auth_zone DIR            DIR/zone: unbound local-data lines for
#                              reporter.test  SPF ip4:127.0.0.1 -all, DMARC p=reject, its key at
#                                             AUTH_SELECTOR._domainkey (TXT strings of <= 255 bytes)
#                              evil.test      the same with its own key
#                              plain.test     nothing (no SPF, no DMARC record, no key)
#   auth_key_txt PEM         the key record's TXT strings, quoted for unbound: "v=DKIM1; k=rsa; " "p=..."
#   auth_sign PEM DOMAIN IN OUT [simple|relaxed]
#                            OUT = IN signed by DOMAIN (selector AUTH_SELECTOR) with DKIM_SIGN
#
# DKIM_SIGN: the signer (t/e2e/dkim-sign KEY.pem SELECTOR DOMAIN [canon] < in > out).

AUTH_SELECTOR=dw2026

auth_keys() {
  local d
  for d in reporter.test evil.test; do
    openssl genrsa -out "$1/$d.pem" 2048 2> /dev/null || return 1
  done
}

auth_key_txt() {
  local p chunk out='"v=DKIM1; k=rsa; "'
  p="p=$(openssl rsa -in "$1" -pubout -outform DER 2> /dev/null | base64 -w0)" || return 1
  while [ -n "$p" ]; do
    chunk=${p:0:255}
    p=${p:255}
    out="$out \"$chunk\""
  done
  echo "$out"
}

auth_zone() {
  local dir=$1 d
  {
    echo 'local-zone: "test." static'
    for d in reporter.test evil.test; do
      echo "local-data: '$d. 300 IN TXT \"v=spf1 ip4:127.0.0.1 -all\"'"
      echo "local-data: '_dmarc.$d. 300 IN TXT \"v=DMARC1; p=reject\"'"
      echo "local-data: '$AUTH_SELECTOR._domainkey.$d. 300 IN TXT $(auth_key_txt "$dir/$d.pem")'"
    done
    echo "local-data: 'plain.test. 300 IN A 192.0.2.99'"
  } > "$dir/zone"
}

auth_sign() {
  "$DKIM_SIGN" "$1" "$AUTH_SELECTOR" "$2" "${5:-relaxed}" < "$3" > "$4"
}

# auth_milter_conf FILE MILTER_PORT DIR RESOLVER UNTRUSTED: a milter configuration for
# rua@example.test with its store in DIR/db and temp files in DIR/spool (both made here, owned
# by nobody, whom it runs as), Resolver RESOLVER (127.0.0.1@PORT or none), UntrustedReports
# UNTRUSTED, unauthenticated reports counted, AuthTimeout 1s
auth_milter_conf() {
  mkdir -p "$3/db" "$3/spool"
  chown 65534:65534 "$3/db" "$3/spool"
  cat > "$1" <<EOF2
Socket inet:$2@127.0.0.1
ReportAddress rua@example.test
Database $3/db
MapSize 256M
TempDirectory $3/spool
UserID nobody
Resolver $4
UntrustedReports $5
UnauthenticatedReports count
AuthTimeout 1s
EOF2
}
