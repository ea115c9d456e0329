# shellcheck shell=bash
# postfix-config.sh - the parts of a private, loopback-only Postfix instance's configuration
# that every one of ours shares (source it): t/lib/postfix-private.sh (e2e tests, demo) and
# t/bench/bench-postfix.sh each add their own services, transports and milters.
# Pitfalls from shared/reference/e2e/REPORT.md: back-dated config files (P1), no `postfix check` (P2).

# pf_main_cf_common QUEUE_DIR DATA_DIR: main.cf lines for an instance under its own directories,
# listening on 127.0.0.1 only, with no DNS, no local delivery and no aliases.
pf_main_cf_common() {
  cat <<EOF
compatibility_level = 3.6
queue_directory = $1
data_directory = $2
meta_directory = /etc/postfix
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
biff = no
smtputf8_enable = no
milter_default_action = tempfail
milter_protocol = 6
EOF
}

# pf_master_cf_internal: master.cf lines for Postfix's own services (no chroot), the smtp
# client included; the caller adds its smtpd listeners and delivery agents.
pf_master_cf_internal() {
  cat <<'EOF'
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
smtp      unix  -       -       n       -       -       smtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

# pf_settle ETC_DIR FILE...: back-date the config files (Postfix stalls ~2 s on files changed
# in the last 2 s, P1) and parse them once, so a syntax error shows here and not at start.
pf_settle() {
  local etc=$1
  shift
  (cd "$etc" && touch -d '-10 seconds' "$@")
  postconf -c "$etc" -n >/dev/null
}
