#!/bin/bash
# bench-postfix.sh - mail throughput through a private Postfix, with and without the milter.
#
# Starts, all on 127.0.0.1 and under one mktemp dir (removed at exit):
#   - smtp-sink, standing in for the next hop;
#   - Postfix instance "plain" with no milter, and instance "milter" with
#     smtpd_milters = our dmarcwatch-milter (milter_default_action = tempfail,
#     so a broken milter shows up as failures, not as speed);
#   - milter/dmarcwatch-milter -f with its own config (Socket, ReportAddress,
#     Database, ReportAction keep, Resolver none) and a fresh store.
# Both instances relay everything to the sink.  Then it measures, alternating
# the instances round by round so drift hits both alike:
#   1. non-report mail: smtp-source -s SESSIONS -m COUNT (2 KiB bodies, one
#      connection per message) -> accepted msg/s (smtp-source wall) and
#      delivered msg/s (until maillog shows every status=sent); the ratio
#      milter/plain is the issue 4 target (>= 95 %);
#   2. report mail: distinct generated reports (gzip attachments, ~100 records
#      each) sent to the rua address over parallel connections -> reports/s
#      through the milter (each stored before the SMTP reply), checked with
#      `dmarcwatch reports --json`; the same mail through "plain" for reference.
# Prints Markdown to stdout; diagnostics to stderr.
#
# Needs root (postfix -c DIR start), postfix, smtp-source/smtp-sink (package
# postfix), /usr/bin/python3, the built milter.  Exit 77 (skip) when one is
# missing, 1 on a failure, 0 otherwise.  Every process started here is
# stopped by PID from the EXIT trap.  Pitfalls followed from
# shared/reference/e2e/REPORT.md: back-dated main.cf (P1), no `postfix check`
# (P2), maillog_file + postlog (P5), SIGTERM master ourselves (P6), chroot n,
# milter wake-up connect on stop.
#
# Environment: BENCH_SMTP_COUNT (2000), BENCH_SMTP_SESSIONS (10),
# BENCH_SMTP_ROUNDS (3), BENCH_SMTP_REPORTS (300), BENCH_SMTP_REPORT_SESSIONS (4),
# SRCDIR/BUILDDIR as for run-bench.sh, DMARCWATCH_MILTER (milter binary).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench-lib.sh source-path=SCRIPTDIR
. "$here/bench-lib.sh"

BUILDDIR=${BUILDDIR:-$PWD}
GEN=$BUILDDIR/t/bench/generate-report
DW=${DMARCWATCH:-$BUILDDIR/collector/dmarcwatch}
MILTER=${DMARCWATCH_MILTER:-$BUILDDIR/milter/dmarcwatch-milter}
COUNT=${BENCH_SMTP_COUNT:-2000}
SESSIONS=${BENCH_SMTP_SESSIONS:-10}
ROUNDS=${BENCH_SMTP_ROUNDS:-3}
REPORTS=${BENCH_SMTP_REPORTS:-300}
REPORT_SESSIONS=${BENCH_SMTP_REPORT_SESSIONS:-4}
PATH=$PATH:/usr/sbin

skip() { echo "bench-postfix: skipped: $*" >&2; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root for a private Postfix"
for tool in postfix postconf smtp-source smtp-sink; do
  command -v "$tool" >/dev/null || skip "$tool not installed (apt-get install postfix)"
done
[ -x "$PYTHON" ] || skip "$PYTHON not installed"
[ -x "$MILTER" ] || skip "milter not built ($MILTER)"
if [ ! -x "$GEN" ] || [ ! -x "$DW" ]; then skip "generate-report or dmarcwatch not built"; fi

BASE=$(mktemp -d "${TMPDIR:-/tmp}/dmarcwatch-pfbench.XXXXXX")
chmod 755 "$BASE"
PIDS_SINK="" PID_MILTER=""
cleanup() {
  local inst
  for inst in plain milter; do
    if [ -s "$BASE/$inst/queue/pid/master.pid" ]; then
      stop_pid "$(tr -d ' ' <"$BASE/$inst/queue/pid/master.pid")"
    fi
  done
  stop_pid "$PID_MILTER"
  stop_pid "$PIDS_SINK"
  rm -rf "$BASE"
}
trap cleanup EXIT

read -r SINK_PORT PLAIN_PORT MILTER_SMTP_PORT MILTER_PORT <<<"$(free_ports 4 | tr '\n' ' ')"

# pf_setup NAME PORT MILTERS: write one private instance relaying to the sink.
pf_setup() {
  local name=$1 port=$2 milters=$3 dir=$BASE/$1
  mkdir -p "$dir/etc" "$dir/queue" "$dir/data"
  chmod 755 "$dir" "$dir/queue"
  chown postfix:postfix "$dir/data"
  chmod 700 "$dir/data"
  cat >"$dir/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
meta_directory = /etc/postfix
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
syslog_name = pfbench-$name
maillog_file = $dir/maillog
maillog_file_prefixes = $BASE
myhostname = mx-$name.example.test
mydomain = example.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
relay_domains = example.test
local_recipient_maps =
alias_maps =
alias_database =
local_transport = error:5.1.1 no local delivery in the bench
default_transport = smtp
relay_transport = smtp
relayhost = [127.0.0.1]:$SINK_PORT
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
biff = no
smtputf8_enable = no
smtpd_milters = $milters
milter_default_action = tempfail
milter_protocol = 6
EOF
  cat >"$dir/etc/master.cf" <<EOF
127.0.0.1:$port inet n - n - - smtpd
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
relay     unix  -       -       n       -       -       smtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
  # Postfix re-reads config files younger than ~2 s, stalling each start.
  touch -d '-10 seconds' "$dir/etc/main.cf" "$dir/etc/master.cf"
  postconf -c "$dir/etc" -n >/dev/null
}

# pf_start NAME PORT: start an instance and wait for its SMTP port.
pf_start() {
  local dir=$BASE/$1
  if ! postfix -c "$dir/etc" start >"$dir/start.log" 2>&1; then
    # Errors before postlogd runs go to syslog only; script(1) makes them visible.
    script -qec "postfix -c '$dir/etc' start" /dev/null >&2 || true
    echo "bench-postfix: postfix $1 did not start" >&2
    return 1
  fi
  wait_tcp "$2" 10
}

# sent_since NAME OFFSET: deliveries logged after byte OFFSET of the instance's maillog.
# Reading only the new part keeps the poll's own CPU small and the same in every round.
sent_since() { tail -c +$(($2 + 1)) "$BASE/$1/maillog" 2>/dev/null | grep -c 'status=sent' || true; }
log_size() { stat -c %s "$BASE/$1/maillog" 2>/dev/null || echo 0; }

# Step: the sink, the milter, the two instances.
smtp-sink -u nobody "127.0.0.1:$SINK_PORT" 256 >"$BASE/sink.log" 2>&1 &
PIDS_SINK=$!
wait_tcp "$SINK_PORT" 10
cat >"$BASE/milter.conf" <<EOF
# dmarcwatch-milter, bench instance
Socket inet:$MILTER_PORT@127.0.0.1
ReportAddress dmarc@example.test
Database $BASE/store
ReportAction keep
Resolver none
EOF
"$MILTER" -c "$BASE/milter.conf" -f >"$BASE/milter.log" 2>&1 &
PID_MILTER=$!
if ! wait_tcp "$MILTER_PORT" 10; then
  echo "bench-postfix: milter did not start:" >&2
  tail -n 20 "$BASE/milter.log" >&2
  exit 1
fi
pf_setup plain "$PLAIN_PORT" ""
pf_setup milter "$MILTER_SMTP_PORT" "inet:127.0.0.1:$MILTER_PORT"
pf_start plain "$PLAIN_PORT"
pf_start milter "$MILTER_SMTP_PORT"

# busy_jiffies: CPU time this machine spent busy so far (user, nice, system, irq, softirq),
# in USER_HZ ticks.  Unlike wall time it leaves out what the hypervisor steals, which on
# this shared host swings throughput by +-30 % from one round to the next.
busy_jiffies() {
  awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8; exit }' /proc/stat
}

# run_source NAME PORT N: N non-report messages; sets R_ACC and R_DEL (msg/s) and
# R_CPU (machine-wide busy CPU per message, ms, from submission to the last delivery).
run_source() {
  local name=$1 port=$2 n=$3 before t0 t1 t2 i j0 j1
  before=$(log_size "$name")
  j0=$(busy_jiffies)
  t0=$(date +%s%N)
  if ! smtp-source -s "$SESSIONS" -m "$n" -l 2048 -M client.example.test -f sender@other.test \
    -t user@example.test "127.0.0.1:$port" 2>"$BASE/source.err"; then
    echo "bench-postfix: smtp-source into $name failed: $(head -c 300 "$BASE/source.err")" >&2
    return 1
  fi
  t1=$(date +%s%N)
  for ((i = 0; i < 6000; i++)); do # up to 120 s for the queue to drain
    [ "$(sent_since "$name" "$before")" -ge "$n" ] && break
    sleep 0.05
  done
  t2=$(date +%s%N)
  j1=$(busy_jiffies)
  if [ "$(sent_since "$name" "$before")" -lt "$n" ]; then
    echo "bench-postfix: $name delivered $(sent_since "$name" "$before") of $n" >&2
    grep -v 'status=sent' "$BASE/$name/maillog" | tail -n 5 >&2
    return 1
  fi
  R_ACC=$(awk -v n="$n" -v ns=$((t1 - t0)) 'BEGIN { printf "%.1f", n / (ns / 1e9) }')
  R_DEL=$(awk -v n="$n" -v ns=$((t2 - t0)) 'BEGIN { printf "%.1f", n / (ns / 1e9) }')
  R_CPU=$(awk -v n="$n" -v j=$((j1 - j0)) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f", j * 1000 / hz / n }')
}

# Step: warm up both (spawns smtpd/cleanup/smtp processes), then the rounds.
run_source plain "$PLAIN_PORT" 100
run_source milter "$MILTER_SMTP_PORT" 100
acc_plain=() del_plain=() acc_milter=() del_milter=() cpu_plain=() cpu_milter=()
for ((r = 1; r <= ROUNDS; r++)); do
  order="plain milter"
  ((r % 2 == 0)) && order="milter plain"
  for inst in $order; do
    port=$PLAIN_PORT
    [ "$inst" = milter ] && port=$MILTER_SMTP_PORT
    run_source "$inst" "$port" "$COUNT"
    if [ "$inst" = plain ]; then
      acc_plain+=("$R_ACC") del_plain+=("$R_DEL") cpu_plain+=("$R_CPU")
    else
      acc_milter+=("$R_ACC") del_milter+=("$R_DEL") cpu_milter+=("$R_CPU")
    fi
    echo "bench-postfix: round $r $inst: accepted $R_ACC msg/s, delivered $R_DEL msg/s, CPU $R_CPU ms/msg" >&2
  done
done

# Step: report mail.  Distinct reports, so none is a duplicate.
"$GEN" --batch-dir "$BASE/reports" --domains 10 --days $(((REPORTS + 9) / 10)) --records 100 --seed 3 --gzip \
  --totals "$BASE/reports.totals" 2>/dev/null
send_reports() {
  "$PYTHON" - "$BASE/reports" "$1" "$REPORT_SESSIONS" "$REPORTS" <<'EOF'
import os, queue, smtplib, sys, threading, time
from email.message import EmailMessage
folder, port, sessions, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
messages = []
for name in sorted(os.listdir(folder))[:limit]:
    msg = EmailMessage()
    msg["From"] = "noreply-dmarc-support@google.com"
    msg["To"] = "dmarc@example.test"
    msg["Subject"] = f"Report domain: example.test Submitter: google.com Report-ID: {name}"
    msg.set_content("This is an aggregate report from google.com.")
    with open(os.path.join(folder, name), "rb") as f:
        msg.add_attachment(f.read(), maintype="application", subtype="gzip", filename="google.com!" + name)
    messages.append(msg.as_bytes())
work = queue.Queue()
for m in messages:
    work.put(m)
errors = []
def sender():
    while True:
        try:
            m = work.get_nowait()
        except queue.Empty:
            return
        try:
            with smtplib.SMTP("127.0.0.1", port, local_hostname="mx.google.test") as s:
                s.sendmail("noreply-dmarc-support@google.com", ["dmarc@example.test"], m)
        except Exception as e:  # counted, reported below
            errors.append(str(e))
start = time.monotonic()
threads = [threading.Thread(target=sender) for _ in range(sessions)]
for t in threads: t.start()
for t in threads: t.join()
wall = time.monotonic() - start
print(f"{len(messages)} {len(errors)} {wall:.3f}")
if errors:
    print(errors[0], file=sys.stderr)
EOF
}
read -r nrep nerr rwall <<<"$(send_reports "$MILTER_SMTP_PORT")"
read -r _ perr pwall <<<"$(send_reports "$PLAIN_PORT")"
stored=$("$DW" --db "$BASE/store" reports --json | "$PYTHON" -c 'import json,sys; print(len(json.load(sys.stdin)["reports"]))') || stored="?"
[ "$nerr" = 0 ] && [ "$stored" = "$nrep" ] || echo "bench-postfix: report mail: $nerr errors, $stored of $nrep stored" >&2

# Step: the table.
read -r ap _ _ <<<"$(stats "${acc_plain[@]}")"
read -r am _ _ <<<"$(stats "${acc_milter[@]}")"
read -r dp _ _ <<<"$(stats "${del_plain[@]}")"
read -r dm _ _ <<<"$(stats "${del_milter[@]}")"
read -r cp _ _ <<<"$(stats "${cpu_plain[@]}")"
read -r cm _ _ <<<"$(stats "${cpu_milter[@]}")"
range() { read -r med lo hi <<<"$(stats "$@")"; printf '%.0f (%.0f-%.0f)' "$med" "$lo" "$hi"; }
rangef() { read -r med lo hi <<<"$(stats "$@")"; printf '%.2f (%.2f-%.2f)' "$med" "$lo" "$hi"; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f %%", 100 * a / b }'; }
echo "Non-report mail: smtp-source -s $SESSIONS -m $COUNT -l 2048 (one connection per message), $ROUNDS rounds alternating the instances, medians (min-max). Postfix relays to smtp-sink."
echo
echo "| instance | accepted msg/s | delivered msg/s | busy CPU per message (ms, all processes) |"
echo "|---|--:|--:|--:|"
echo "| without milter | $(range "${acc_plain[@]}") | $(range "${del_plain[@]}") | $(rangef "${cpu_plain[@]}") |"
echo "| with dmarcwatch-milter | $(range "${acc_milter[@]}") | $(range "${del_milter[@]}") | $(rangef "${cpu_milter[@]}") |"
echo "| with / without (target >= 95 %) | $(pct "$am" "$ap") | $(pct "$dm" "$dp") | $(pct "$cp" "$cm") (capacity: CPU without / with) |"
echo
echo "Report mail: $nrep distinct reports (~100 records, gzip attachment, one connection each, $REPORT_SESSIONS in parallel) to the rua address."
echo
echo "| instance | wall | reports/s | note |"
echo "|---|--:|--:|---|"
echo "| with dmarcwatch-milter | $(fmt_s "$rwall") | $(awk -v n="$nrep" -v s="$rwall" 'BEGIN { printf "%.0f", n / s }') | $stored of $nrep stored, $nerr SMTP errors |"
echo "| without milter (reference) | $(fmt_s "$pwall") | $(awk -v n="$nrep" -v s="$pwall" 'BEGIN { printf "%.0f", n / s }') | $perr SMTP errors |"
[ "$nerr" = 0 ] && [ "$stored" = "$nrep" ]
