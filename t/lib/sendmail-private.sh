# shellcheck shell=bash
# sendmail-private.sh - private Sendmail 8.17 instances on loopback for the e2e test and the
# bench (source it after common.sh; bash, root).
#
# Debian's sendmail package would replace Postfix, so setup.sh fetches the three .debs
# (apt-get download sendmail-bin sendmail-base sendmail-cf) into SM_CACHE and unpacks them
# there (dpkg -x, SM_CACHE/tree): nothing is installed, nothing under /etc changes.
#
#   sm_available             true when SM_CACHE has the tree or the .debs (else SM_WHY says why)
#   sm_enter_namespace SCRIPT ARGS...
#                            re-run SCRIPT as PID 1 of new mount, UTS and pid namespaces
#                            (unless already there); every process started in them dies
#                            with it
#   sm_private_host DIR      (in the namespaces) host name mx.example.test in a private
#                            /etc/hosts, a resolv.conf that fails at once, and /dev/log a
#                            socket of devlog-sink.py writing DIR/syslog (private_devlog)
#   sm_find_tree DIR         SM_BIN, SM_CF_DIR, SM_VERSION (unpacks the .debs into DIR when
#                            SM_CACHE has no tree)
#   sm_instance NAME DIR PORT NEXT_PORT [MILTER [HOST]]
#                            DIR/NAME.mc, and DIR/NAME.cf built from it with m4 and
#                            sendmail-cf: listens on 127.0.0.1:PORT, relays everything to
#                            127.0.0.1:NEXT_PORT; MILTER (inet:PORT@127.0.0.1 or
#                            local:PATH) through contrib/sendmail.mc's INPUT_MAIL_FILTER line
#   sm_start NAME DIR PORT [ARGS...]
#                            sendmail -bD (a daemon in the foreground): SM_PID; waits for PORT
#   sm_sent NAME DIR         deliveries instance NAME logged as sent (stat=Sent)
#
# Pitfalls met on the way (each handled below):
#  - An unqualified host name makes Sendmail sleep 60 s at start ("My unqualified host name
#    unknown; sleeping for retry"), and a name it must look up in DNS waits for the resolver:
#    the UTS namespace has its own qualified name, listed in its private /etc/hosts.
#  - SMART_HOST [127.0.0.1] is silently dropped: 127.0.0.1 is one of our own addresses
#    (class w), so the mail goes to the recipient domain's MX instead (host name lookup
#    failure).  relay:[127.0.0.1] names the mailer and is kept.
#  - Sendmail refuses a next hop that greets with its own name ("mail loops back to me"):
#    each instance has its own $j (confDOMAIN_NAME), the sink another (smtp-sink -h).
#  - Port 587 (the default MSA) would be shared by every instance: no_default_msa.
#  - QueueLA/RefuseLA default to 8 and 12 x CPUs: a shared machine's load average makes
#    Sendmail queue or refuse mail; both set out of reach.
#  - A unix milter socket whose path crosses a world-writable directory (/tmp) makes
#    Sendmail refuse its configuration and exit ("SYSERR(root): ...cf: line N: Xdmarcwatch:
#    local socket name ... unsafe: World writable directory") unless DontBlameSendmail has
#    TrustStickyBit (or the socket lives under root-owned directories none can write to).
#  - Sendmail refuses bare LF line ends in SMTP: the test clients send CRLF (smtplib with
#    CRLF messages).
#  - smtp-sink refuses to run as root without -u.

SM_CACHE=${DW_SENDMAIL_CACHE:-/var/cache/dmarcwatch-test/sendmail}
SM_PACKAGES="sendmail-bin sendmail-base sendmail-cf"
SM_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SM_LOG_LEVEL=${SM_LOG_LEVEL:-9}

sm_available() {
  local pkg
  [ -e "$SM_CACHE/tree/.complete" ] && return 0
  for pkg in $SM_PACKAGES; do
    compgen -G "$SM_CACHE/${pkg}_*.deb" >/dev/null || {
      SM_WHY="neither $SM_CACHE/tree nor a $pkg .deb there (./setup.sh fetches them)"
      return 1
    }
  done
}

sm_enter_namespace() {
  [ "${DW_SM_NAMESPACE:-}" = 1 ] && return 0
  if ! unshare --mount --uts --pid --fork --mount-proc true 2>/dev/null; then
    SM_WHY="unshare --mount --uts --pid does not work here"
    return 1
  fi
  DW_SM_NAMESPACE=1 exec unshare --mount --uts --pid --fork --kill-child --mount-proc --propagation private -- bash "$@"
}

# shellcheck disable=SC2034 # SM_LOG_PID is for the caller to stop
sm_private_host() {
  local dir=$1
  hostname mx.example.test
  printf '127.0.0.1\tmx.example.test mx\n127.0.0.1\tlocalhost\n::1\tlocalhost\n' >"$dir/hosts"
  # No name server: a lookup fails at once (port unreachable) instead of timing out.
  printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$dir/resolv.conf"
  mount --bind "$dir/hosts" /etc/hosts || return 1
  if [ -e /etc/resolv.conf ]; then mount --bind "$dir/resolv.conf" /etc/resolv.conf || return 1; fi
  private_devlog "$dir" || return 1
  SM_LOG_PID=$DEVLOG_PID
}

sm_find_tree() {
  local tree=$SM_CACHE/tree pkg deb
  if [ ! -e "$tree/.complete" ]; then
    tree=$1/sendmail-tree
    for pkg in $SM_PACKAGES; do
      deb=$(compgen -G "$SM_CACHE/${pkg}_*.deb" | sort | tail -n1)
      if [ -z "$deb" ] || ! dpkg -x "$deb" "$tree"; then
        SM_WHY="cannot unpack $pkg from $SM_CACHE"
        return 1
      fi
    done
  fi
  SM_BIN=$tree/usr/libexec/sendmail/sendmail
  SM_CF_DIR=$tree/usr/share/sendmail/cf
  if [ ! -x "$SM_BIN" ] || [ ! -f "$SM_CF_DIR/m4/cf.m4" ]; then
    SM_WHY="no sendmail binary or sendmail-cf in $tree"
    return 1
  fi
  # -bt without a .cf prints the version, then fails: not an error here (pipefail callers).
  SM_VERSION=$({ "$SM_BIN" -d0.1 -bt </dev/null 2>/dev/null || true; } | sed -n 's/^Version //p')
}

sm_instance() {
  local name=$1 dir=$2 port=$3 next=$4 milter=${5:-} host=${6:-$1.example.test}
  mkdir -p "$dir/$name/queue"
  chmod 700 "$dir/$name/queue"
  : >"$dir/$name/sendmail.st"
  # Host names from /etc/hosts only (the ServiceSwitchFile is Sendmail's own nsswitch).
  printf 'hosts files\naliases files\n' >"$dir/service.switch"
  sed -e "s|@NAME@|$name|g" -e "s|@DIR@|$dir|g" -e "s|@PORT@|$port|g" -e "s|@NEXT@|$next|g" \
    -e "s|@HOST@|$host|g" -e "s|@LOGLEVEL@|$SM_LOG_LEVEL|g" >"$dir/$name.mc" <<'EOF'
divert(-1)
# @NAME@: a private Sendmail for dmarcwatch's tests (t/lib/sendmail-private.sh)
divert(0)dnl
VERSIONID(`dmarcwatch test @NAME@')dnl
OSTYPE(`linux')dnl
FEATURE(`no_default_msa')dnl
FEATURE(`nocanonify')dnl
FEATURE(`accept_unresolvable_domains')dnl
define(`confDOMAIN_NAME', `@HOST@')dnl
define(`QUEUE_DIR', `@DIR@/@NAME@/queue')dnl
define(`STATUS_FILE', `@DIR@/@NAME@/sendmail.st')dnl
define(`confPID_FILE', `@DIR@/@NAME@/sendmail.pid')dnl
define(`confSERVICE_SWITCH_FILE', `@DIR@/service.switch')dnl
define(`ALIAS_FILE', `')dnl
define(`confDONT_BLAME_SENDMAIL', `TrustStickyBit')dnl
define(`confDEF_USER_ID', `65534:65534')dnl
define(`confQUEUE_LA', `1000')dnl
define(`confREFUSE_LA', `1000')dnl
define(`confTO_IDENT', `0')dnl
define(`confBIND_OPTS', `-DNSRCH -DEFNAMES')dnl
define(`confLOG_LEVEL', `@LOGLEVEL@')dnl
define(`SMART_HOST', `relay:[127.0.0.1]')dnl
define(`RELAY_MAILER_ARGS', `TCP $h @NEXT@')dnl
RELAY_DOMAIN(`example.test other.test')dnl
DAEMON_OPTIONS(`Port=@PORT@, Addr=127.0.0.1, Name=MTA-@NAME@, M=A')dnl
MAILER(`smtp')dnl
EOF
  if [ -n "$milter" ]; then
    # The recipe users copy, with this test's socket.
    sed "s|S=inet:8895@127.0.0.1|S=$milter|" "$SM_LIB_DIR/../../contrib/sendmail.mc" >>"$dir/$name.mc"
    grep -q "S=$milter" "$dir/$name.mc" || { echo "sm_instance: no INPUT_MAIL_FILTER in contrib/sendmail.mc" >&2; return 1; }
  fi
  m4 -D_CF_DIR_="$SM_CF_DIR/" "$SM_CF_DIR/m4/cf.m4" "$dir/$name.mc" >"$dir/$name.cf"
}

sm_start() {
  local name=$1 dir=$2 port=$3
  shift 3
  "$SM_BIN" -C "$dir/$name.cf" -bD -L "sm-$name" "$@" >>"$dir/$name.out" 2>&1 &
  SM_PID=$!
  wait_tcp "$port" 10
}

sm_sent() { grep -c "sm-$1\[[0-9]*\]: .*stat=Sent" "$2/syslog" 2>/dev/null || true; }
