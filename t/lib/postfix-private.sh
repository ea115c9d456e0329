#!/bin/bash
# postfix-private.sh - a loopback-only Postfix living under one directory (e2e tests).
#
#   postfix-private.sh setup BASE DIRECT_PORT QUEUED_PORT MILTER_PORT [DIRECT2_PORT MILTER2_PORT]
#   postfix-private.sh start BASE     -> prints the master PID
#   postfix-private.sh stop  BASE
#
# Two SMTP services on 127.0.0.1:
#   DIRECT_PORT  smtpd with the milter: the SMTP client sees its verdict
#                (a 451 when the milter tempfails or is down).
#   QUEUED_PORT  smtpd without milter, content_filter=smtp:[127.0.0.1]:DIRECT_PORT:
#                Postfix queues the mail and its own smtp client hands it to
#                DIRECT_PORT, so when the milter is down it is Postfix that
#                retries (milter_default_action = tempfail, short backoff).
#   DIRECT2_PORT smtpd with the milter on MILTER2_PORT (optional: two milters side by side,
#                e.g. one with a setting on and one with it off, t/bench/bench-report-auth.sh).
# Delivery: virtual(8) into Maildirs BASE/mail/<domain>/<local>/ as uid 65534; with
# DW_DELIVER="BINARY STORE" in the environment, pipe-rua@example.test goes instead to a
# pipe(8) transport running `BINARY --db STORE deliver` as nobody.
# Pitfalls handled (see shared/reference/e2e/REPORT.md): back-dated config
# files (P1), no `postfix check` (P2), texthash maps (P3), uid 65534 (P4),
# maillog_file under BASE (P5), stop by PID (P6/P7), script(1) for early
# errors (P8).
set -euo pipefail
# shellcheck source=postfix-config.sh source-path=SCRIPTDIR
. "$(dirname "$0")/postfix-config.sh"
cmd=${1:?usage: postfix-private.sh setup|start|stop BASE ...}
BASE=${2:?base directory}
PF=$BASE/postfix

case $cmd in
setup)
  DIRECT=${3:?direct port}; QUEUED=${4:?queued port}; MILTER=${5:?milter port}
  DIRECT2=${6:-}; MILTER2=${7:-}
  mkdir -p "$PF/etc" "$PF/queue" "$PF/data" "$BASE/mail"
  chmod 755 "$BASE" "$PF"
  chown root:root "$PF/queue"; chmod 755 "$PF/queue"
  chown postfix:postfix "$PF/data"; chmod 700 "$PF/data"
  chown 65534:65534 "$BASE/mail"
  pf_main_cf_common "$PF/queue" "$PF/data" > "$PF/etc/main.cf"
  cat >> "$PF/etc/main.cf" <<EOF
syslog_name = dwtest-$(basename "$BASE")
maillog_file = $PF/maillog
maillog_file_prefixes = $BASE
myhostname = mx.example.test
mydomain = example.test
myorigin = \$myhostname
relay_domains =
local_transport = error:5.1.1 local delivery disabled in test instance
default_transport = error:5.4.4 no outbound mail in test instance
relay_transport = \$default_transport
smtpd_banner = \$myhostname ESMTP dwtest
message_size_limit = 20480000
default_process_limit = 40
virtual_mailbox_domains = example.test other.test
virtual_mailbox_base = $BASE/mail
virtual_mailbox_maps = texthash:$PF/etc/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
virtual_destination_concurrency_limit = 20
milter_connect_timeout = 2s
milter_command_timeout = 30s
milter_content_timeout = 60s
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
maximal_queue_lifetime = 10m
bounce_queue_lifetime = 10m
smtp_connect_timeout = 5s
EOF
  cat > "$PF/etc/vmailbox" <<'EOF'
@example.test   example.test/catchall/
rua@example.test        example.test/rua/
@other.test     other.test/catchall/
EOF
  cat > "$PF/etc/master.cf" <<EOF
127.0.0.1:$DIRECT inet n - n - - smtpd
  -o smtpd_milters=inet:127.0.0.1:$MILTER
  -o myhostname=milter-in.example.test
127.0.0.1:$QUEUED inet n - n - - smtpd
  -o content_filter=smtp:[127.0.0.1]:$DIRECT
virtual   unix  -       n       n       -       -       virtual
EOF
  if [ -n "$DIRECT2" ]; then
    printf '127.0.0.1:%s inet n - n - - smtpd\n  -o smtpd_milters=inet:127.0.0.1:%s\n' "$DIRECT2" "${MILTER2:?second milter port}" \
      >> "$PF/etc/master.cf"
  fi
  pf_master_cf_internal >> "$PF/etc/master.cf"
  settle=(main.cf master.cf vmailbox)
  if [ -n "${DW_DELIVER:-}" ]; then
    read -r dwbin dwstore <<<"$DW_DELIVER"
    mkdir -p "$dwstore"
    chown 65534:65534 "$dwstore"
    printf 'transport_maps = texthash:%s\ndwdeliver_destination_recipient_limit = 1\n' "$PF/etc/transport" >> "$PF/etc/main.cf"
    printf 'pipe-rua@example.test dwdeliver:\n' > "$PF/etc/transport"
    printf 'dwdeliver unix - n n - 2 pipe\n  user=nobody argv=%s --db %s deliver\n' "$dwbin" "$dwstore" >> "$PF/etc/master.cf"
    settle+=(transport)
  fi
  pf_settle "$PF/etc" "${settle[@]}"
  ;;
start)
  if ! postfix -c "$PF/etc" start >>"$PF/start.log" 2>&1; then
    script -qec "postfix -c '$PF/etc' start" /dev/null >&2 || true
    exit 1
  fi
  for _ in $(seq 1 100); do [ -s "$PF/queue/pid/master.pid" ] && break; sleep 0.05; done
  tr -d ' ' < "$PF/queue/pid/master.pid"
  ;;
stop)
  if [ -s "$PF/queue/pid/master.pid" ]; then
    pid=$(tr -d ' ' < "$PF/queue/pid/master.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 500); do
      st=$(ps -o stat= -p "$pid" 2>/dev/null) || break
      case $st in Z*) break ;; esac
      sleep 0.02
    done
    rm -f "$PF/queue/pid/master.pid"
  fi
  ;;
*) echo "usage: $0 setup|start|stop BASE ..." >&2; exit 2 ;;
esac
